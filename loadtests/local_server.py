"""A deployment of its own for an HTTP load tool given no URL: `python server.py` as a
child process, on a scratch embedded PostgreSQL in a temporary directory removed at the
end, in development mode (the demo provider JAQPOT, its games imported, its key the
public development CASINO_SECRET) with a throwaway bootstrap OPERATOR_KEY. The tool then
provisions through this server's API exactly as it would through a staging one's: it is
started, never imported, since the tools speak only HTTP.
"""
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from wire.secrets_env import DEV_SECRETS

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 180     # seconds: a first start runs initdb and every migration
STOP_TIMEOUT = 30
DEMO_GAME_ID = 1        # "Jaqpot Slots" (USD, bets 10-10000): sql/demo.sql's first, imported first
# What would make the child anything but a development server on its own scratch database.
NOT_PASSED_ON = ("DATABASE_URL", "DATABASE_READ_URL", "CASINO_DATA_DIR", "CASINO_SECRET", "PROVIDER_SECRET",
                 "KEYS_ENCRYPTION_KEY", "CASINO_CODE", "OPERATOR_KEY", "HOST", "PORT", "PROCESSES")


class LocalServer:
    """with LocalServer() as server: server.url, .operator_key, .signing_key, .game_id."""

    def __init__(self):
        self.scratch = None
        self.proc = None
        self.url = None
        self.operator_key = secrets.token_urlsafe(24)
        self.signing_key = ("JAQPOT", DEV_SECRETS["CASINO_SECRET"].encode())
        self.game_id = DEMO_GAME_ID

    def start(self):
        self.scratch = Path(tempfile.mkdtemp(prefix="casino-load-"))
        env = {name: value for name, value in os.environ.items() if name not in NOT_PASSED_ON}
        env.update(OPERATOR_KEY=self.operator_key, PYTHONUNBUFFERED="1")
        log = open(self.scratch / "server.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "server.py"), "--port", "0", "--data-dir", str(self.scratch / "pg")],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        # Killed, which ends the read below, should it neither listen nor fail in time.
        timer = threading.Timer(START_TIMEOUT, self.proc.kill)
        timer.start()
        try:
            for line in self.proc.stdout:       # the banner names the address once it listens
                if line.strip().startswith("listening"):
                    self.url = line.split()[1]
                    break
        finally:
            timer.cancel()
        if self.url is None:
            said = (self.scratch / "server.log").read_text().strip().splitlines()[-1:] or ["no output"]
            self.stop()
            raise RuntimeError(f"the local server did not start: {said[0]}")
        return self

    def stop(self):
        """Ctrl-C (the server stops its embedded PostgreSQL), killed past STOP_TIMEOUT; the
        scratch directory removed."""
        if self.proc is not None:
            stop_child(self.proc, STOP_TIMEOUT)
            self.proc = None
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def stop_child(proc, grace=STOP_TIMEOUT):
    """Ctrl-C a child that prints its address on stdout (it stops cleanly), killed if it
    has not stopped within `grace` seconds. The tests' server child
    (loadtests/postgres/child_server.py) is stopped by this one too."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    proc.stdout.close()
