"""A real `python server.py` as a child process on a port the OS picks, with a throwaway
secret set: what the tests and the load tools that start servers of their own (this
package) share. The secrets are the tests' and the tools', public in this repository, so
they live here, outside the runtime: no module of the service carries or imports them
(tests/test_runtime_secrets.py)."""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from loadtests.local_server import stop_child
from wire.secretbox import SecretBox

ROOT = Path(__file__).resolve().parents[2]
CASINO_SECRET = b"test-casino-secret"      # provider JAQPOT's key at the casino, key id JAQPOT
PROVIDER_SECRET = b"test-provider-secret"  # the casino's key at the provider, key id DEMO-CASINO
KEYS_ENCRYPTION_KEY = "11" * 32
OPERATOR_KEY = "test-operator-key"
LOOPBACK_NETWORKS = "127.0.0.0/8,::1/128"
BOX = SecretBox(bytes.fromhex(KEYS_ENCRYPTION_KEY))
DEMO_KEY = ("JAQPOT", CASINO_SECRET)
DEMO_CASINO_KEY = ("DEMO-CASINO", PROVIDER_SECRET)


class ServerProcess:
    """`python server.py` as a child process, on a port the OS picks. entry replaces
    `server.py` (e.g. `-c` and a program that patches, then calls server.main). demo_data:
    False (--no-demo-data: the tests make what they use), True (--demo-data), or None (what
    the server does in its mode without either flag)."""

    def __init__(self, dsn, extra_env=None, args=(), entry=None, test_driver=True, demo_data=False):
        self.dsn = dsn
        self.extra_env = extra_env or {}
        self.args = (list(args) + (["--test-driver"] if test_driver else [])
                     + {False: ["--no-demo-data"], True: ["--demo-data"], None: []}[demo_data])
        self.entry = list(entry) if entry else [str(ROOT / "server.py")]
        self.proc = None
        self.url = None
        self.log = None
        self._output = None     # the log's text, kept once the file is removed

    def start(self):
        """dsn None: the server starts its own embedded PostgreSQL (give it --data-dir)."""
        # extra_env over these (an empty CASINO_SECRET: development mode). The tests' and
        # the load tools' counterparts (fake providers, fault proxies) listen on loopback.
        env = {**os.environ, "CASINO_SECRET": CASINO_SECRET.decode(), "PROVIDER_SECRET": PROVIDER_SECRET.decode(),
               "KEYS_ENCRYPTION_KEY": KEYS_ENCRYPTION_KEY, "OPERATOR_KEY": OPERATOR_KEY, "PYTHONUNBUFFERED": "1",
               "OUTBOUND_ALLOWED_NETWORKS": LOOPBACK_NETWORKS,
               # The tests' clients talk plain http to a production-mode server, with no proxy
               # ending TLS in front: Secure cookies would never come back.
               "SUPPORT_COOKIE_SECURE": "off", **self.extra_env}
        env.pop("DATABASE_URL", None)
        if self.dsn is not None:
            env["DATABASE_URL"] = self.dsn
        self.log = tempfile.NamedTemporaryFile(prefix="casino-server-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, *self.entry, "--port", "0", *self.args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=self.log, text=True)
        # The server prints its address once it listens; no polling needed.
        for line in self.proc.stdout or ():
            if line.strip().startswith("listening"):
                self.url = line.split()[1]
                break
        if self.url is None:
            stop_child(self.proc)
            self._remove_log()
            raise RuntimeError(f"server did not start:\n{self.output()}")
        return self

    def proc_children(self):
        import psutil
        assert self.proc is not None, "started"
        return psutil.Process(self.proc.pid).children()

    def output(self):
        if self._output is not None:
            return self._output
        assert self.log is not None, "started"
        return Path(self.log.name).read_text()

    def stop(self, keep_log=False):
        """keep_log: leave the log file in the temp folder (a failed test run's evidence);
        otherwise it is removed and output() still answers, from memory."""
        if self.proc:
            stop_child(self.proc)
        if not keep_log:
            self._remove_log()

    def _remove_log(self):
        if self.log is None or self._output is not None:
            return
        self.log.close()
        try:
            self._output = Path(self.log.name).read_text()
            os.unlink(self.log.name)
        except FileNotFoundError:
            self._output = ""
