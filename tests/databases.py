"""The databases a test run makes on its PostgreSQL (tests/conftest.py starts it, or
TEST_DATABASE_URL names it): each named with the run's id, and dropped by the process that
made it at the end of its session (the controller checks that none is left)."""
import os
import shutil
import uuid

import psycopg2
import psycopg2.sql

from sql.migrate import MIGRATIONS_DIR
from tests.support import RUN_ID_VAR, with_database

# The DSN of the run's PostgreSQL server (its maintenance database), for every process of the run.
SERVER_DSN_VAR = "CASINO_TEST_SERVER_DSN"


# The databases this process made (create_database), dropped at the end of its session.
made_here: list[str] = []


def create_database(prefix):
    """A new empty database on the shared server, dropped at the end of the run; its DSN."""
    name = f"{prefix}_{os.environ[RUN_ID_VAR]}_{uuid.uuid4().hex[:10]}"
    server_dsn = os.environ[SERVER_DSN_VAR]
    conn = psycopg2.connect(server_dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    made_here.append(name)
    return with_database(server_dsn, name)


def migrations_before(number, into):
    """The folder `into`, made to hold a copy of sql/migrations' migrations numbered below
    `number` ("0022"): migrate(dsn, directory=into, functions_dir=None) leaves a database
    as a release before that migration did (its function files are written against the
    newest schema, and come with the migration to it). No MANIFEST: the copies are the
    committed files."""
    into.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if path.name[:4] < number:
            shutil.copy(path, into)
    return into


def drop_databases(names):
    if not names:
        return
    conn = psycopg2.connect(os.environ[SERVER_DSN_VAR])
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for name in names:
                # FORCE: a connection a test left open (a Ledger's) does not keep it.
                cur.execute(psycopg2.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    psycopg2.sql.Identifier(name)))
    finally:
        conn.close()
