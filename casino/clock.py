"""The clock of the casino's rules of time and of its ledger rows' instants: casino_clock()
(sql/functions/casino_calls.sql), the real clock in production. A test database may swap in
one a test can freeze (migration 0016's CASINO_TEST_CLOCK), and only a database whose
setting casino.test_clock is on; a server refuses to serve such a database unless it drives
test rounds (--test-driver). The tests and the scratch databases of the measuring tools use
it to write, through the real wallet functions, rows dated on days they script.
"""
from datetime import datetime

import psycopg2
import psycopg2.sql
from psycopg2.extensions import cursor as Cursor

FROZEN = "SELECT frozen_at FROM CASINO_TEST_CLOCK FOR UPDATE"
FREEZE = """
    INSERT INTO CASINO_TEST_CLOCK (frozen_at) VALUES (%s)
    ON CONFLICT (one) DO UPDATE SET frozen_at = EXCLUDED.frozen_at
"""
THAW = "DELETE FROM CASINO_TEST_CLOCK"


def allow_test_clock(dsn: str) -> None:
    """The database's clock becomes one a test can freeze (casino_install_test_clock(),
    which asks for the database's casino.test_clock setting first)."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_database()")
            row = cur.fetchone()
            assert row is not None
            # A database name is an identifier, which cannot be a bound parameter.
            cur.execute(psycopg2.sql.SQL("ALTER DATABASE {} SET casino.test_clock = on").format(
                psycopg2.sql.Identifier(row[0])))
    finally:
        conn.close()
    conn = psycopg2.connect(dsn)    # a new session reads the database's setting
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT casino_install_test_clock()")
    finally:
        conn.close()


def freeze(cur: Cursor, moment: datetime | None) -> datetime | None:
    """Freezes the test clock at `moment` (None: the real clock) in the caller's transaction
    and returns the instant it was frozen at before (None: not frozen), for restore(): other
    sessions keep the committed clock, and the row stays locked until the transaction ends."""
    cur.execute(FROZEN)
    row = cur.fetchone()
    if moment is None:
        cur.execute(THAW)
    else:
        cur.execute(FREEZE, (moment,))
    return row[0] if row else None


def restore(cur: Cursor, previous: datetime | None) -> None:
    """Puts back what freeze() found, before the transaction commits."""
    freeze(cur, previous)
