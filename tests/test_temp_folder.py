"""A test run leaves nothing in the temp folder: a run of a few tests of this suite (its
embedded PostgreSQL, two workers, a server, a tmp_path, a command-line tool) under a temp
folder of its own, which must be empty when the run is over."""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support import ROOT, SYSTEM_TEMP_VAR

TESTS = ["tests/test_backoffice.py::test_create_player_bad_input",
         "tests/test_synthetic.py::test_the_command_without_a_database_says_so_in_one_line"]


def test_a_passing_run_leaves_the_temp_folder_as_it_found_it():
    # Directly in the system's temp folder, not under tmp_path nor this run's own TMPDIR: the
    # run's embedded PostgreSQL puts its Unix socket in its data directory, whose path must
    # fit in 107 bytes.
    temp = Path(tempfile.mkdtemp(prefix="casino-tf-", dir=os.environ.get(SYSTEM_TEMP_VAR)))
    # The run's own: no worker identity, no runtime directory and no PostgreSQL of this
    # run's (CASINO_TEST_SERVER_DSN): it starts its own embedded one, as a plain run does,
    # whose package keeps its lock file in the runtime directory.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTEST_") and k not in ("XDG_RUNTIME_DIR", "CASINO_TEST_SERVER_DSN")}
    env["TMPDIR"] = str(temp)
    try:
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", *TESTS], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
        left = sorted(p.relative_to(temp).as_posix() for p in temp.rglob("*"))
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert "passed" in run.stdout.splitlines()[-1], run.stdout[-2000:]
    assert left == []
