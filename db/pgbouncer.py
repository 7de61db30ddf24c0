"""PgBouncer in transaction pooling mode in front of a PostgreSQL, on 127.0.0.1 and a free
port: what the tests (TEST_THROUGH_PGBOUNCER=1) and the bench use, and the documented
configuration (README, "PgBouncer").

    with PgBouncer(workdir, server_dsn) as bouncer:
        bouncer.dsn("casino")   # postgresql://postgres@127.0.0.1:<port>/casino

Every database name is passed through to the same-named database of the server (`* =`),
as the user that connects. Authentication is `trust` on loopback, for the embedded server,
which trusts local connections on its Unix socket; the user must still be listed in the
auth file, with any password. PgBouncer refuses to run as root: under root it runs as the
embedded server's system user `embedded_postgres` (`-u`), which owns the working directory.

The service works through it unchanged except for one thing: PgBouncer refuses the
`options` startup parameter (which the pool uses to set log_min_error_statement = panic),
so the pool falls back to plain connections; set it for the role instead
(ALTER ROLE ... SET log_min_error_statement = panic). Migrations take a session-level
advisory lock and must run against PostgreSQL directly.
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.sql
import psycopg2.extensions

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
SYSTEM_USER = "embedded_postgres"

CONFIG = """\
[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir =
auth_type = trust
auth_file = {directory}/userlist.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = {max_clients}
max_db_connections = {pool_size}
ignore_startup_parameters = extra_float_digits
server_reset_query =
admin_users = {user}
logfile = {directory}/pgbouncer.log
pidfile = {directory}/pgbouncer.pid
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_address(dsn: str) -> tuple[str, int]:
    """(host or socket directory, port) of a libpq DSN or URL."""
    params = psycopg2.extensions.parse_dsn(dsn)
    return params.get("host") or "/var/run/postgresql", int(params.get("port") or 5432)


# What show() may ask the admin console (a keyword, which cannot be a bound parameter).
CONSOLE_VIEWS = {"STATS", "POOLS", "CLIENTS", "SERVERS", "DATABASES", "CONFIG"}


class PgBouncer:
    def __init__(self, directory: str | Path, server_dsn: str, pool_size: int = 20, max_clients: int = 500,
                 user: str = "postgres"):
        self.directory = Path(directory)
        self.server_dsn = server_dsn
        self.pool_size = pool_size
        self.max_clients = max_clients
        self.user = user
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        host, port = server_address(self.server_dsn)
        return CONFIG.format(host=host, port=port, listen_port=self.port, directory=self.directory,
                             pool_size=self.pool_size, max_clients=self.max_clients,
                             user=self.user)

    def start(self, timeout: float = 10) -> "PgBouncer":
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        (self.directory / "pgbouncer.ini").write_text(self.config())
        (self.directory / "userlist.txt").write_text(f'"{self.user}" ""\n')
        args = [PGBOUNCER, "-q"]
        if os.geteuid() == 0:
            entry = pwd.getpwnam(SYSTEM_USER)
            for path in (self.directory, *self.directory.iterdir()):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            args += ["-u", SYSTEM_USER]
        self.proc = subprocess.Popen([*args, str(self.directory / "pgbouncer.ini")],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pgbouncer exited {self.proc.returncode}:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"pgbouncer did not listen on {self.port}:\n{self.log()}")

    def log(self) -> str:
        path = self.directory / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def show(self, what: str) -> list[dict[str, Any]]:
        """SHOW <what> on PgBouncer's admin console (e.g. STATS, POOLS, CLIENTS): dict rows."""
        conn = psycopg2.connect(self.dsn("pgbouncer"))
        conn.autocommit = True      # the console takes no BEGIN
        try:
            with conn.cursor() as cur:
                if what not in CONSOLE_VIEWS:
                    raise ValueError(f"not a PgBouncer console view: {what}")
                cur.execute(psycopg2.sql.SQL("SHOW {}").format(psycopg2.sql.SQL(what)))
                names = [column.name for column in cur.description or ()]
                return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        finally:
            conn.close()

    def stop(self) -> None:
        """SIGINT: PgBouncer's safe shutdown (waits for transactions in flight), then kill."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> "PgBouncer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
