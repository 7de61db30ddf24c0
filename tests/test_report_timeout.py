"""A report waits at most REPORT_TIMEOUT, on a pool of its own: past it, the report is
cancelled and answered 503, while the back office's other calls keep answering."""
import time

import psycopg2
import pytest

from sql.migrate import migrate
from tests.databases import create_database
from tests.support import OPERATOR_KEY, Api, Ledger, ServerProcess


@pytest.fixture
def impatient():
    dsn = create_database("report_timeout")
    migrate(dsn, log=lambda _: None)
    server = ServerProcess(dsn, extra_env={"REPORT_TIMEOUT": "1", "RECONCILE_INTERVAL": "0"}).start()
    yield dsn, Api(server.url)
    server.stop()


def test_a_report_past_its_bound_is_answered_503(impatient):
    dsn, api = impatient
    user_id, _ = Ledger(dsn).player(funds=100)
    headers = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    # A migration holding the ledger, as long as it likes.
    blocker = psycopg2.connect(dsn)
    try:
        with blocker.cursor() as cur:
            cur.execute("LOCK TABLE CASINO_TRANSACTIONS IN ACCESS EXCLUSIVE MODE")
            began = time.monotonic()
            answer = api.http.get(f"{api.base_url}/casino/admin/reports/ggr?from=2025-01-01&to=2025-01-31",
                                  headers=headers, timeout=30)
            waited = time.monotonic() - began
            assert (answer.status_code, answer.json()["error"]["code"]) == (503, "SERVICE_UNAVAILABLE")
            assert 1 <= waited < 3, waited
            # The back office's own pool was never in the report's way.
            player = api.http.get(f"{api.base_url}/casino/admin/players/{user_id}", headers=headers, timeout=30)
            assert player.status_code == 200 and player.json()["wallets"][0]["balance"] == 100
        blocker.rollback()
    finally:
        blocker.close()
    answer = api.http.get(f"{api.base_url}/casino/admin/reports/ggr?from=2025-01-01&to=2025-01-31", headers=headers,
                          timeout=30)
    assert answer.status_code == 200
