"""Start-up that explains itself: every mistake ends in one line on stderr and a non-zero
exit, never a traceback; one server per data directory; an orphaned embedded PostgreSQL
is taken over and stopped; /health/ready turns 503 as soon as a shutdown starts; a
caller's X-Request-Id follows a round into the provider and back."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import pytest
import requests

from service import startup
from loadtests.postgres.child_server import ServerProcess
from tests.support import ROOT, logged


def start_server(*args, env=None, timeout=60):
    """`python server.py args` to its end; the environment without DATABASE_URL unless given."""
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CASINO_DATA_DIR", "PORT")}
    return subprocess.run([sys.executable, "server.py", "--no-demo-data", *args], cwd=ROOT,
                          env={**base, **(env or {})}, capture_output=True, text=True, timeout=timeout)


def one_line_error(run, code):
    """The run ended with `code` and exactly one line on stderr, an error: line."""
    lines = run.stderr.strip().splitlines()
    assert run.returncode == code, run.stdout + run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    return lines[0]


@pytest.mark.parametrize("env, expected", [
    ({"PORT": "abc"}, "error: PORT=abc: not an integer"),
    ({"PORT": "70000"}, "error: PORT=70000: must be at most 65535"),
    ({"LOG_FORMAT": "xml"}, "error: LOG_FORMAT=xml: must be one of json, text"),
    ({"LOG_LEVEL": "loud"}, "error: LOG_LEVEL=loud: must be one of debug, info, warning, error"),
    ({"DB_POOL_SIZE": "0"}, "error: DB_POOL_SIZE=0: must be at least 1"),
    ({"RECONCILE_INTERVAL": "abc"}, "error: RECONCILE_INTERVAL=abc: not a number"),
    ({"RECONCILE_INTERVAL": "-1"}, "error: RECONCILE_INTERVAL=-1: must be at least 0"),
    ({"PROCESSES": "two"}, "error: PROCESSES=two: not an integer"),
    ({"SESSION_IDLE_TIMEOUT": "0"}, "error: SESSION_IDLE_TIMEOUT=0: must be above 0"),
    ({"SIMULATE_CONCURRENCY": "1.5"}, "error: SIMULATE_CONCURRENCY=1.5: not an integer"),
    ({"MAX_CONNECTIONS": "-3"}, "error: MAX_CONNECTIONS=-3: must be at least 1"),
    ({"HEADER_TIMEOUT": "nan"}, "error: HEADER_TIMEOUT=nan: not a number"),
    ({"DB_CALL_TIMEOUT": "nan"}, "error: DB_CALL_TIMEOUT=nan: not a number"),
    ({"DB_CALL_TIMEOUT": "-1"}, "error: DB_CALL_TIMEOUT=-1: must be above 0"),
    ({"KEY_REFRESH_SECONDS": "soon"}, "error: KEY_REFRESH_SECONDS=soon: not a number"),
    ({"DATABASE_URL": "not a url"}, "error: DATABASE_URL=<set>: malformed"),
    ({"KEYS_ENCRYPTION_KEY": "short", "CASINO_SECRET": "a", "PROVIDER_SECRET": "b"}, "error: KEYS_ENCRYPTION_KEY"),
])
def test_a_bad_setting_is_one_line_and_exit_2(env, expected, tmp_path):
    run = start_server("--data-dir", str(tmp_path / "pg"), env=env)
    assert one_line_error(run, 2).startswith(expected)
    assert not (tmp_path / "pg").exists()


def test_a_bad_flag_is_one_line_too(tmp_path):
    run = start_server("--port", "x", "--data-dir", str(tmp_path / "pg"))
    assert one_line_error(run, 2) == "error: --port x: not an integer"


def test_log_format_and_level_ignore_case():
    from service.settings import read_settings
    settings = read_settings([], {"LOG_FORMAT": "JSON", "LOG_LEVEL": "Warning"})
    assert (settings.log_format, settings.log_level) == ("json", "warning")


@pytest.mark.parametrize("processes", ["1", "2"])
def test_port_in_use_is_refused_before_any_database_is_made(processes, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = start_server("--port", str(port), "--processes", processes, "--data-dir", str(tmp_path / "pg"))
    assert one_line_error(run, 1) == (f"error: port {port} is already in use on 127.0.0.1 (another server?): "
                                      "stop it, or choose another --port / PORT")
    assert not (tmp_path / "pg").exists()


def test_unreachable_database_url_names_it_without_its_password():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    run = start_server("--port", "0", env={"DATABASE_URL": f"postgresql://casino:s3cret@127.0.0.1:{port}/casino"})
    line = one_line_error(run, 1)
    assert line.startswith(f"error: cannot reach the database at postgresql://casino:***@127.0.0.1:{port}/casino: ")
    assert "s3cret" not in run.stderr + run.stdout


def test_postgresql_older_than_15_is_refused(monkeypatch):
    class Old:
        server_version = 140011

        def cursor(self):
            class Cursor:
                def __enter__(self): return self
                def __exit__(self, *exc): return False
                def execute(self, sql): pass
                def fetchone(self): return ("14.11",)
            return Cursor()

        def close(self):
            pass

    monkeypatch.setattr(startup.psycopg2, "connect", lambda *a, **k: Old())
    with pytest.raises(startup.StartupError) as refused:
        startup.check_database("postgresql://casino:pw@db.example/casino")
    assert str(refused.value) == ("the database at postgresql://casino:***@db.example/casino runs PostgreSQL 14.11; "
                                  "15 or newer is required")


def test_unwritable_data_directory_is_one_line(tmp_path):
    (tmp_path / "a-file").write_text("")
    run = start_server("--port", "0", "--data-dir", str(tmp_path / "a-file" / "pg"))
    line = one_line_error(run, 1)
    assert line.startswith(f"error: the data directory {tmp_path / 'a-file' / 'pg'} is not writable: ")


def postmaster_pid(data_dir):
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if psutil.pid_exists(pid) else None


@pytest.fixture
def own_data_dir():
    """A data directory outside pytest's tmp_path: pytest keeps its temporary root 0700
    (and another xdist worker may reset it so at any time), which the system user the
    embedded server runs as could then not traverse."""
    parent = Path(tempfile.mkdtemp(prefix="casino-startup-"))
    yield parent / "pg"
    shutil.rmtree(parent, ignore_errors=True)


def test_one_server_per_data_directory_and_no_orphaned_postgresql(own_data_dir):
    data_dir = own_data_dir
    first = ServerProcess(None, args=["--data-dir", str(data_dir)]).start()
    try:
        # A second server on the same data directory is refused; the first keeps its database.
        second = start_server("--port", "0", "--data-dir", str(data_dir))
        line = one_line_error(second, 1)
        assert line == (f"error: another server (pid {first.proc.pid}) already serves the data directory "
                        f"{data_dir}: stop it first, or give this one its own --data-dir")
        assert requests.get(first.url + "/health/ready", timeout=10).status_code == 200

        # Killed outright, it leaves its PostgreSQL running ...
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
        orphan = postmaster_pid(data_dir)
        assert orphan is not None
    finally:
        first.stop()

    # ... which the next server takes over, and stops on Ctrl-C.
    third = ServerProcess(None, args=["--data-dir", str(data_dir)]).start()
    try:
        assert postmaster_pid(data_dir) == orphan
        assert requests.get(third.url + "/health", timeout=10).json() == {"status": "ok", "database": "up"}
    finally:
        third.stop()
    assert third.proc.returncode == 0, third.output()
    assert "taking over the embedded PostgreSQL" in third.output()
    assert not psutil.pid_exists(orphan) or psutil.Process(orphan).status() == psutil.STATUS_ZOMBIE
    assert postmaster_pid(data_dir) is None


def test_ready_turns_503_as_soon_as_a_shutdown_starts_while_live_stays_200(database_dsn):
    server = ServerProcess(database_dsn, extra_env={"SHUTDOWN_DELAY": "3", "RECONCILE_INTERVAL": "0"}).start()
    try:
        http = requests.Session()
        assert http.get(server.url + "/health/ready", timeout=10).status_code == 200
        assert http.get(server.url + "/health/live", timeout=10).json() == {"status": "ok"}
        server.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 2
        while True:
            ready = requests.get(server.url + "/health/ready", timeout=10)
            if ready.status_code == 503 or time.monotonic() > deadline:
                break
        assert (ready.status_code, ready.json()) == (503, {"status": "stopping", "database": "unknown"})
        assert requests.get(server.url + "/health/live", timeout=10).status_code == 200
        assert requests.get(server.url + "/health", timeout=10).status_code == 200   # as it always answered
        assert server.proc.wait(20) == 0
    finally:
        server.stop()


def access_lines(server, request_id):
    return [record["endpoint"] for record, _ in logged(server, request_id) if record.get("logger") == "access"]


def test_a_callers_request_id_follows_the_round_into_the_provider_and_back(server, api, ledger):
    game = ledger.launchable_game()
    user_id, _ = ledger.player(funds=5_000)
    request_id = "trace-" + uuid.uuid4().hex[:12]
    r = api.raw("/casino/simulateRound", json.dumps({"userId": user_id, "gameId": game}).encode(),
                {"Content-Type": "application/json", "Authorization": "Bearer test-operator-key",
                 "X-Request-Id": request_id})
    assert r.status_code == 200, r.text
    assert r.headers["X-Request-Id"] == request_id
    endpoints = access_lines(server, request_id)
    assert {"/casino/simulateRound", "/provider/launch", "/provider/simulate", "/casino/getBalance",
            "/casino/debit", "/casino/credit", "/casino/rollback"} <= set(endpoints), endpoints

    launch_id = "trace-" + uuid.uuid4().hex[:12]
    r = api.raw("/casino/launchGame", json.dumps({"userId": user_id, "gameId": game}).encode(),
                {"Content-Type": "application/json", "Authorization": "Bearer test-operator-key",
                 "X-Request-Id": launch_id})
    assert r.status_code == 200, r.text
    assert sorted(access_lines(server, launch_id)) == ["/casino/launchGame", "/provider/launch"]


def test_audit_exits_2_with_one_line_when_the_database_cannot_be_reached():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    env = dict(os.environ, DATABASE_URL=f"postgresql://casino:pw@127.0.0.1:{port}/casino")
    for tool in ("casino.audit", "provider.reconcile"):
        run = subprocess.run([sys.executable, "-m", tool], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=60)
        lines = run.stderr.strip().splitlines()
        assert run.returncode == 2, run.stdout + run.stderr
        assert len(lines) == 1 and "cannot reach the database" in lines[0], run.stderr
        assert "Traceback" not in run.stderr


@pytest.mark.parametrize("value, said", [("nan", "not a number"), ("-1", "must be above 0"), ("0", "must be above 0")])
def test_a_command_line_tool_refuses_a_bad_db_call_timeout_in_one_line_and_exit_2(database_dsn, value, said):
    # The tools that open a Database of their own read DB_CALL_TIMEOUT by the server's rule.
    env = dict(os.environ, DATABASE_URL=database_dsn, DB_CALL_TIMEOUT=value)
    run = subprocess.run([sys.executable, "-m", "casino.bonuses", "expire"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.strip().splitlines() == [f"bonus expiry: not run: DB_CALL_TIMEOUT={value}: {said}"], run.stderr
