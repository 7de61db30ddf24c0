"""The clock limits and exclusions are judged by (casino_clock()): the real one as migrated;
a test clock, which a row of CASINO_TEST_CLOCK can freeze, only in a database whose
casino.test_clock setting is on, and served only by a server that drives test rounds; the
migrations put the real one back."""
import psycopg2
import pytest

from sql.migrate import migrate
from casino.clock import allow_test_clock
from tests.support import OPERATOR_KEY, Api, ServerProcess, back_office


def clock_body(dsn):
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT prosrc FROM pg_proc WHERE oid = 'casino_clock()'::regprocedure")
            return cur.fetchone()[0].strip()
    finally:
        conn.close()


def test_a_migrated_database_runs_on_the_real_clock(fresh_dsn):
    migrate(fresh_dsn, log=lambda _: None)
    assert clock_body(fresh_dsn) == "SELECT clock_timestamp()"


def test_the_test_clock_needs_the_databases_setting(fresh_dsn):
    migrate(fresh_dsn, log=lambda _: None)
    conn = psycopg2.connect(fresh_dsn)
    try:
        with pytest.raises(psycopg2.errors.RaiseException, match="casino.test_clock setting is on"), \
                conn, conn.cursor() as cur:
            cur.execute("SELECT casino_install_test_clock()")
    finally:
        conn.close()
    assert clock_body(fresh_dsn) == "SELECT clock_timestamp()"


def test_a_frozen_test_clock_is_what_the_rules_read(ledger, clock):
    clock.set("2031-01-02T03:04:05Z")
    assert ledger.query("SELECT casino_rfc3339(casino_clock())") == [("2031-01-02T03:04:05.000000Z",)]
    clock.release()
    assert ledger.query("SELECT casino_clock() > '2031-01-01'::timestamptz") == [(False,)]


def test_only_a_test_driver_serves_a_database_on_the_test_clock(fresh_dsn):
    migrate(fresh_dsn, log=lambda _: None)
    allow_test_clock(fresh_dsn)
    production = ServerProcess(fresh_dsn, test_driver=False)
    with pytest.raises(RuntimeError, match="clock for limits and exclusions is a test clock"):
        production.start()
    driver = ServerProcess(fresh_dsn).start()
    try:
        assert back_office(Api(driver.url), "GET", "jurisdictions/GB", key=OPERATOR_KEY).status_code == 200
        assert "a test clock" in driver.output()
    finally:
        driver.stop()
    # Applying the function files again (as a release that changes them does) puts the real clock back.
    conn = psycopg2.connect(fresh_dsn)
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM schema_functions WHERE name = 'casino_calls.sql'")
    conn.close()
    migrate(fresh_dsn, log=lambda _: None)
    assert clock_body(fresh_dsn) == "SELECT clock_timestamp()"
    served = ServerProcess(fresh_dsn, test_driver=False).start()
    served.stop()
