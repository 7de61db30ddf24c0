"""The ledger audit over the API (GET /casino/admin/ledger/audit) reads as a report does: on
the reports' own pool (application casino-reports, read-only), within REPORT_TIMEOUT --
past it 503, while the back office's calls, on the money pool, keep answering."""
import threading
import time

import psycopg2
import pytest

from sql.migrate import migrate
from tests.conftest import create_database
from tests.support import OPERATOR_KEY, Api, Ledger, ServerProcess

HEADERS = {"Authorization": f"Bearer {OPERATOR_KEY}"}


@pytest.fixture
def impatient():
    """A server whose reports wait 1 s, its money calls the default DB_CALL_TIMEOUT."""
    dsn = create_database("audit_pool")
    migrate(dsn, log=lambda _: None)
    server = ServerProcess(dsn, extra_env={"REPORT_TIMEOUT": "1", "RECONCILE_INTERVAL": "0"}).start()
    yield dsn, Api(server.url)
    server.stop()


def waiting_for_the_lock(dsn):
    """The application names of the backends waiting on a lock, once one waits (at most 5 s)."""
    watcher = psycopg2.connect(dsn)
    watcher.autocommit = True
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with watcher.cursor() as cur:
                cur.execute("SELECT application_name FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                names = [name for (name,) in cur.fetchall()]
            if names:
                return names
            threading.Event().wait(0.02)
        return []
    finally:
        watcher.close()


def test_the_audit_runs_on_the_reports_pool_within_report_timeout(impatient):
    dsn, api = impatient
    user_id, _ = Ledger(dsn).player(funds=100)
    blocker = psycopg2.connect(dsn)
    answers = []
    try:
        with blocker.cursor() as cur:
            cur.execute("LOCK TABLE CASINO_TRANSACTIONS IN ACCESS EXCLUSIVE MODE")
            began = time.monotonic()
            audit = threading.Thread(target=lambda: answers.append(api.http.get(
                f"{api.base_url}/casino/admin/ledger/audit", headers=HEADERS, timeout=30)))
            audit.start()
            # The audit's connection, waiting on the ledger, is the reports' pool's.
            assert waiting_for_the_lock(dsn) == ["casino-reports"]
            audit.join(30)
            waited = time.monotonic() - began
            [answer] = answers
            assert (answer.status_code, answer.json()["error"]["code"]) == (503, "SERVICE_UNAVAILABLE")
            assert 1 <= waited < 3, waited
            player = api.http.get(f"{api.base_url}/casino/admin/players/{user_id}", headers=HEADERS, timeout=30)
            assert player.status_code == 200 and player.json()["wallets"][0]["balance"] == 100
        blocker.rollback()
    finally:
        blocker.close()
    answer = api.http.get(f"{api.base_url}/casino/admin/ledger/audit", headers=HEADERS, timeout=30)
    assert answer.status_code == 200 and answer.json()["violations"] == []
