"""The reports' own pool: a report, and the ledger audit over the API (GET
/casino/admin/ledger/audit), read on the reports' pool (application casino-reports,
read-only) within REPORT_TIMEOUT -- past it 503, while the back office's calls, on the
money pool, keep answering; and a report whose client goes away is cancelled, its
statement too, so it no longer holds one of the pool's connections."""
import socket
import threading
import time
from contextlib import contextmanager

import psycopg2
import pytest

from sql.migrate import migrate
from tests.databases import create_database
from tests.support import OPERATOR_KEY, Api, Ledger, ServerProcess

HEADERS = {"Authorization": f"Bearer {OPERATOR_KEY}"}


@contextmanager
def reports_bounded_by(seconds):
    """A database of its own and a server on it whose reports wait at most `seconds`, its
    money calls the default DB_CALL_TIMEOUT."""
    dsn = create_database("report_pool")
    migrate(dsn, log=lambda _: None)
    server = ServerProcess(dsn, extra_env={"REPORT_TIMEOUT": str(seconds), "RECONCILE_INTERVAL": "0"}).start()
    try:
        yield dsn, Api(server.url)
    finally:
        server.stop()


@pytest.fixture
def impatient():
    with reports_bounded_by(1) as served:
        yield served


@pytest.fixture
def patient():
    with reports_bounded_by(60) as served:
        yield served


def waiting_for_the_lock(dsn, until=bool):
    """The application names of the backends waiting on a lock, once `until(names)` holds
    (PostgreSQL gives no event for it: looked at every 20 ms, at most 5 s)."""
    watcher = psycopg2.connect(dsn)
    watcher.autocommit = True
    try:
        deadline = time.monotonic() + 5
        while True:
            with watcher.cursor() as cur:
                cur.execute("SELECT application_name FROM pg_stat_activity "
                            "WHERE wait_event_type = 'Lock' AND datname = current_database()")
                names = [name for (name,) in cur.fetchall()]
            if until(names) or time.monotonic() >= deadline:
                return names
            threading.Event().wait(0.02)
    finally:
        watcher.close()


def test_a_report_past_its_bound_is_answered_503(impatient):
    dsn, api = impatient
    user_id, _ = Ledger(dsn).player(funds=100)
    headers = HEADERS
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


# The GGR twice, as many as the pool has connections; the audit runs one at a time.
@pytest.mark.parametrize("path, count", [("/casino/admin/reports/ggr?from=2026-01-01&to=2026-01-31", 2),
                                         ("/casino/admin/ledger/audit", 1)])
def test_a_report_whose_client_goes_away_is_cancelled(patient, path, count):
    dsn, api = patient
    host, port = api.base_url.split("//")[1].split(":")
    blocker = psycopg2.connect(dsn)
    try:
        with blocker.cursor() as cur:
            cur.execute("LOCK TABLE CASINO_TRANSACTIONS IN ACCESS EXCLUSIVE MODE")
            # Reports each waiting on the ledger.
            clients = [socket.create_connection((host, int(port)), timeout=10) for _ in range(count)]
            for client in clients:
                client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {OPERATOR_KEY}"
                               "\r\n\r\n".encode())
            assert waiting_for_the_lock(dsn, until=lambda names: len(names) == count) == ["casino-reports"] * count
            began = time.monotonic()
            for client in clients:
                client.close()
            # Their statements are cancelled at once, not at REPORT_TIMEOUT (60 s).
            assert waiting_for_the_lock(dsn, until=lambda names: names == []) == []
            assert time.monotonic() - began < 5
        blocker.rollback()
    finally:
        blocker.close()
    # The pool's connections are free again: a report answers.
    answer = api.http.get(api.base_url + path, headers=HEADERS, timeout=30)
    assert answer.status_code == 200, answer.text
