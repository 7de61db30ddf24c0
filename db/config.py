"""Which PostgreSQL to use: DATABASE_URL when set, else the embedded server."""
import contextlib
import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.errors
import psycopg2.sql

from .embedded import EmbeddedPostgres

DEFAULT_DATA_DIR = "./.data/postgres"
EMBEDDED_DATABASE = "casino"


@dataclass
class DatabaseLocation:
    dsn: str
    description: str
    embedded: EmbeddedPostgres = None


def redact(url):
    """The URL without its password, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def ensure_database(server_dsn, name):
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


UNUSABLE = (NoDatabase, psycopg2.errors.UndefinedTable)


def why_unusable(exc):
    """One line for a command-line tool that found no database, or one not migrated."""
    if isinstance(exc, psycopg2.errors.UndefinedTable):
        return f"{str(exc).splitlines()[0]}: the schema is not migrated (python -m sql.migrate)"
    return str(exc)


@contextlib.contextmanager
def database_from_environment(data_dir=None, attach=None):
    """Yield where the database is; an embedded server started here is stopped on exit
    (one that was already running, e.g. under a live service, is left running).

    attach: None creates and starts the embedded server as needed (the service, migrations,
    the bench); "existing" starts one that exists but never initialises an empty one (audit,
    reconciliation); "running" takes only a server already running (load tools acting on
    a live service)."""
    url = os.environ.get("DATABASE_URL")
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
    server.start()
    try:
        ensure_database(server.dsn(), EMBEDDED_DATABASE)
        yield DatabaseLocation(server.dsn(EMBEDDED_DATABASE),
                               f"embedded PostgreSQL, data in {server.data_dir}", server)
    finally:
        if not was_running:
            server.stop()
