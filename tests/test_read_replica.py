"""DATABASE_READ_URL: the back office's read-only views read from a streaming standby, the
wallet calls and every write from the primary.

A primary with an asynchronous standby (tests/replication.py) and a server on both: a
deposit through the back office shows in the player's view once the standby has replayed
it, and not before (replay paused: the view is behind the primary, which proves where it
reads); with the standby stopped the views answer 503 while wallet calls, deposits and
health still answer 200 from the primary.
"""
import asyncio
import json
import time

import psycopg2
import psycopg2.errors
import pytest

from db.pool import Database
from tests.replication import SyncPair, sql
from tests.support import OPERATOR_KEY, Api, Ledger, ServerProcess

CALL_TIMEOUT = 2.0


class Admin:
    def __init__(self, url):
        self.api = Api(url)

    def call(self, method, path, body=None):
        return self.api.http.request(method, f"{self.api.base_url}/casino/admin/{path}",
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {OPERATOR_KEY}"}, timeout=30)

    def balance(self, user_id):
        r = self.call("GET", f"players/{user_id}")
        assert r.status_code == 200, r.text
        return r.json()["wallets"][0]["balance"]


def replayed(standby_dsn, primary_dsn, timeout=30):
    """Bounded poll: until the standby's replay LSN reaches the primary's current LSN; the
    seconds it took."""
    lsn = sql(primary_dsn, "SELECT pg_current_wal_lsn()::text")[0][0]
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if sql(standby_dsn, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", lsn)[0][0]:
            return time.monotonic() - started
        time.sleep(0.02)
    raise TimeoutError(f"the standby did not replay {lsn} within {timeout}s")


@pytest.fixture(scope="module")
def pair():
    with SyncPair(synchronous=False) as pair:
        yield pair


def test_back_office_views_read_the_standby_and_wallet_calls_the_primary(pair):
    ledger = Ledger(pair.primary_dsn)
    game = ledger.game()
    user, wallets = ledger.player(funds=1_000)
    token = ledger.session(user, wallets["USD"], game)
    server = ServerProcess(pair.primary_dsn, extra_env={"DATABASE_READ_URL": pair.standby.dsn(),
                                                        "DB_CALL_TIMEOUT": str(CALL_TIMEOUT)}).start()
    try:
        admin = Admin(server.url)
        deposit = {"userId": user, "currency": "USD", "amount": 500, "reference": "replica-1"}
        assert admin.call("POST", "deposits", deposit).status_code == 200
        replayed(pair.standby.dsn(), pair.primary.dsn())
        assert admin.balance(user) == 1_500

        # The view's connections are on the standby, read-only, and none on the primary.
        on_standby = sql(pair.standby.dsn(), "SELECT count(*) FROM pg_stat_activity "
                                             "WHERE application_name = 'casino-read'")[0][0]
        on_primary = sql(pair.primary.dsn(), "SELECT count(*) FROM pg_stat_activity "
                                             "WHERE application_name = 'casino-read'")[0][0]
        assert (on_standby >= 1, on_primary) == (True, 0)

        # Replay paused: the primary has the next deposit, the view does not -- until replayed.
        sql(pair.standby.dsn(), "SELECT pg_wal_replay_pause()")
        try:
            deposit = {**deposit, "reference": "replica-2"}
            r = admin.call("POST", "deposits", deposit)
            assert (r.status_code, r.json()["balance"]) == (200, 2_000)
            assert ledger.balance(wallets["USD"])[0] == 2_000
            assert admin.balance(user) == 1_500
            r = admin.call("GET", f"players/{user}/transactions")
            assert [i["transactionId"] for i in r.json()["items"]][:1] == ["replica-1"], r.text
        finally:
            sql(pair.standby.dsn(), "SELECT pg_wal_replay_resume()")
        replayed(pair.standby.dsn(), pair.primary.dsn())
        assert admin.balance(user) == 2_000

        # The standby gone: its views answer 503 within the bound; the primary's calls 200.
        pair.standby.stop()
        try:
            started = time.monotonic()
            r = admin.call("GET", f"players/{user}")
            assert r.status_code == 503, (r.text, server.output()[-3000:])
            assert time.monotonic() - started < CALL_TIMEOUT + 2
            r = admin.api.casino("getBalance", {"sessionToken": token, "userId": user})
            assert (r.status_code, r.json()["balance"]) == (200, 2_000)
            assert admin.call("POST", "deposits", {**deposit, "reference": "replica-3"}).status_code == 200
            assert admin.api.http.get(f"{server.url}/health/ready", timeout=10).status_code == 200
        finally:
            pair.standby.start()
        replayed(pair.standby.dsn(), pair.primary.dsn())
        # The pool replaces its dead connections: the views recover without a restart.
        assert admin.balance(user) == 2_500
        assert ledger.violations() == []
    finally:
        server.stop()


def test_a_read_only_database_refuses_writes_and_keeps_no_session_state(pair):
    """Every call is a READ ONLY transaction, statement() included, and the connection
    goes back to the pool with nothing set for the session (safe behind PgBouncer)."""
    db = Database(pair.primary_dsn, size=1, read_only=True, call_timeout=CALL_TIMEOUT)

    def write(cur):
        cur.execute("CREATE TABLE read_only_probe (id int)")

    def settings(cur):
        cur.execute("SELECT current_setting('transaction_read_only'), "
                    "current_setting('default_transaction_read_only')")
        return cur.fetchone()

    async def calls():
        for door in (db.transaction, db.statement):
            with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
                await door(write)
            assert await door(settings) == ("on", "off")
    try:
        asyncio.run(calls())
    finally:
        db.close()


def test_the_setting_is_checked_and_never_echoed():
    from service.settings import SettingsError, read_settings
    assert read_settings([], {}).database_read_url is None
    url = "postgresql://reader:secret@replica/casino"
    settings = read_settings([], {"DATABASE_READ_URL": url})
    assert settings.database_read_url == url and "secret" not in repr(settings)
    with pytest.raises(SettingsError) as refused:
        read_settings([], {"DATABASE_READ_URL": "host='replica password=secret"})
    assert str(refused.value).startswith("DATABASE_READ_URL=<set>: malformed") and "secret" not in str(refused.value)
