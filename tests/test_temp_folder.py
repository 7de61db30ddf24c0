"""A test run leaves nothing in the temp folder: a run of a few tests of this suite (two
workers, a server, a tmp_path, a command-line tool) under a temp folder of its own, which
must be empty when the run is over."""
import os
import subprocess
import sys

from tests.support import ROOT

TESTS = ["tests/test_backoffice.py::test_create_player_bad_input",
         "tests/test_synthetic.py::test_the_command_without_a_database_says_so_in_one_line"]


def test_a_passing_run_leaves_the_temp_folder_as_it_found_it(tmp_path):
    temp = tmp_path / "temp"
    temp.mkdir()
    # The run's own: no worker identity, no runtime directory of this run's.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "XDG_RUNTIME_DIR"}
    env["TMPDIR"] = str(temp)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", *TESTS], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert "passed" in run.stdout.splitlines()[-1], run.stdout[-2000:]
    assert sorted(p.relative_to(temp).as_posix() for p in temp.rglob("*")) == []
