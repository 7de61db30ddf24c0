"""Which PostgreSQL to use: DATABASE_URL when set, else the embedded server."""
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.sql

from .embedded import DataDirectoryError, EmbeddedPostgres
from .pool import BadSetting, DatabaseUnavailable

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = "./.data/postgres"
EMBEDDED_DATABASE = "casino"


@dataclass
class DatabaseLocation:
    dsn: str
    description: str
    embedded: EmbeddedPostgres | None = None


def redact(url: str) -> str:
    """The URL without its password, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def ensure_database(server_dsn: str, name: str) -> None:
    conn = psycopg2.connect(server_dsn)
    conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                # A database name is an identifier, which cannot be a bound parameter.
                cur.execute(psycopg2.sql.SQL("CREATE DATABASE {}").format(psycopg2.sql.Identifier(name)))
    finally:
        conn.close()


class NoDatabase(RuntimeError):
    """A tool that works on an existing database found none."""


# What a command-line tool reports in one line (why_unusable) and exits 2 for: no
# database, one it cannot reach, one not migrated, a data directory it cannot use.
UNUSABLE = (NoDatabase, psycopg2.errors.UndefinedTable, psycopg2.OperationalError, DataDirectoryError)


def why_unusable(exc: BaseException) -> str:
    """One line for a command-line tool that found no database, or one not migrated."""
    if isinstance(exc, psycopg2.errors.UndefinedTable):
        return f"{str(exc).splitlines()[0]}: the schema is not migrated (python -m sql.migrate)"
    if isinstance(exc, psycopg2.OperationalError):
        return f"cannot reach the database: {' '.join(str(exc).split()) or type(exc).__name__}"
    return str(exc)


@contextlib.contextmanager
def database_from_environment(data_dir: str | None = None, attach: str | None = None, exclusive: bool = False,
                              database_url: str | None = None) -> Iterator[DatabaseLocation]:
    """Yield where the database is. The embedded server is stopped on exit by whoever holds
    its data directory's lock (db/embedded.py): the process that started it, or the one
    that took over a server left running by a process that died. Without the lock (a live
    service holds it) the server is used as it is and left running.

    attach: None creates and starts the embedded server as needed (the service, migrations,
    the bench); "existing" starts one that exists but never initialises an empty one (audit,
    reconciliation); "running" takes only a server already running (load tools acting on
    a live service). exclusive: the service's own start -- the data directory must be
    writable and nobody else's (else DataDirectoryError). database_url: the value already
    read (service/settings.py); by default DATABASE_URL."""
    url = database_url if database_url is not None else os.environ.get("DATABASE_URL")
    if url:
        yield DatabaseLocation(url, f"DATABASE_URL {redact(url)}")
        return
    data_dir = data_dir or os.environ.get("CASINO_DATA_DIR") or DEFAULT_DATA_DIR
    server = EmbeddedPostgres(data_dir)
    was_running = server.is_running()
    if attach == "running" and not was_running:
        raise NoDatabase(f"no PostgreSQL is running on {server.data_dir}: start the service first "
                         "(python server.py), or point DATABASE_URL or CASINO_DATA_DIR at the database it uses")
    if attach == "existing" and not (server.data_dir / "PG_VERSION").exists():
        raise NoDatabase(f"no database under {server.data_dir}: point --data-dir, DATABASE_URL or "
                         "CASINO_DATA_DIR at the service's database")
    if exclusive:
        server.check_writable()
    try:
        owner = server.lock()
    except OSError as exc:
        raise DataDirectoryError(f"cannot lock the data directory {server.data_dir}: {exc.strerror or exc}") from None
    if not owner:
        holder = server.lock_holder()
        by = f" (pid {holder})" if holder else ""
        if exclusive:
            raise DataDirectoryError(f"another server{by} already serves the data directory {server.data_dir}: "
                                     "stop it first, or give this one its own --data-dir")
        if not was_running:
            raise NoDatabase(f"the PostgreSQL on {server.data_dir} is starting or stopping under process{by}: "
                             "try again in a moment")
    elif was_running:
        log.warning("taking over the embedded PostgreSQL (pid %s) left running on %s by a process that did not "
                    "stop it; it is stopped when this one ends", server.pid(), server.data_dir)
    try:
        server.start()
        ensure_database(server.dsn(), EMBEDDED_DATABASE)
        yield DatabaseLocation(server.dsn(EMBEDDED_DATABASE),
                               f"embedded PostgreSQL, data in {server.data_dir}", server)
    finally:
        if owner:
            server.stop()
            server.unlock()


T = TypeVar("T")


def run_on_database(prog: str, data_dir: str | None, run: Callable[[str], Coroutine[Any, Any, T]]) -> T | None:
    """For a command-line tool: asyncio.run(run(dsn)) on the service's database and its
    result; None, once it has printed why, when there is no usable database or it cannot be
    reached, or DB_CALL_TIMEOUT (read by the Database that `run` opens) cannot be used: the
    tool then exits 2, as for its other settings."""
    try:
        with database_from_environment(data_dir, attach="existing") as database:
            return asyncio.run(run(database.dsn))
    except (*UNUSABLE, BadSetting) as exc:
        print(f"{prog}: not run: {why_unusable(exc)}", file=sys.stderr)
    except DatabaseUnavailable as exc:
        print(f"{prog}: not run: cannot reach the database: {' '.join(str(exc).split())}", file=sys.stderr)
    return None


def exit_code(prog: str, command: Callable[[], int | None], refused: tuple[type[Exception], ...] = ()) -> int:
    """For a command-line tool: run command(); the exit code. 2 when there is no usable
    database (`prog: not run: ...` printed), 1 for an exception of `refused` (`prog: ` and
    its first line printed), else command()'s answer (None: 0)."""
    try:
        return command() or 0
    except UNUSABLE as exc:
        print(f"{prog}: not run: {why_unusable(exc)}", file=sys.stderr)
        return 2
    except refused as exc:
        print(f"{prog}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1


def in_transaction(prog: str, data_dir: str | None, command: Callable[[psycopg2.extensions.cursor], object],
                   refused: tuple[type[Exception], ...]) -> int:
    """For a command-line tool: run command(cursor) in one transaction on the service's
    database; the exit code (exit_code's: 2, 1, or 0 once committed)."""
    def run() -> None:
        with database_from_environment(data_dir, attach="existing") as database:
            conn = psycopg2.connect(database.dsn)
            try:
                with conn, conn.cursor() as cur:
                    command(cur)
            finally:
                conn.close()
    return exit_code(prog, run, refused)
