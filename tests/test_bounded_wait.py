"""No request waits for ever: a lock never released and a PostgreSQL that stopped answering
(its processes frozen) are each a 503 within DB_CALL_TIMEOUT (plus the cancel's grace), and
the resend settles the call once the database can finish it."""
import signal
import time

import psutil

from db.watchdog import CANCEL_GRACE
from tests.support import Api, Ledger, ServerProcess

CALL_TIMEOUT = 1.5
LONGEST_WAIT = CALL_TIMEOUT + CANCEL_GRACE + 1.0


def setup(dsn):
    ledger = Ledger(dsn)
    game = ledger.game()
    user_id, wallets = ledger.player(funds=1_000)
    token = ledger.session(user_id, wallets["USD"], game)
    server = ServerProcess(dsn, extra_env={"DB_CALL_TIMEOUT": str(CALL_TIMEOUT)}).start()
    api = Api(server.url)

    def bet(tx):
        started = time.monotonic()
        response = api.casino("debit", {"sessionToken": token, "userId": user_id, "transactionId": tx,
                                        "roundId": "r1", "amount": 100, "currency": "USD"})
        return response, time.monotonic() - started
    return ledger, wallets["USD"], server, api, bet


def test_a_lock_never_released_is_a_503_within_the_bound(own_postgres):
    dsn = own_postgres.dsn("casino")
    ledger, wallet, server, api, bet = setup(dsn)
    import psycopg2
    holder = psycopg2.connect(dsn)
    try:
        assert bet("first")[0].status_code == 200
        with holder.cursor() as cur:        # a transaction that holds the wallet and never ends
            cur.execute("SELECT 1 FROM CASINO_WALLETS WHERE id = %s FOR UPDATE", (wallet,))
        response, took = bet("blocked")
        assert response.status_code == 503 and took <= LONGEST_WAIT, (response.status_code, took)
        assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        holder.rollback()
        response, _ = bet("blocked")        # the resend: the cancelled statement moved nothing
        assert response.status_code == 200 and response.headers.get("Idempotent-Replay") is None
        assert ledger.balance(wallet)[0] == 800
        assert ledger.violations() == []
        assert "Traceback" not in server.output()
    finally:
        holder.close()
        server.stop()


def test_a_database_that_stopped_answering_is_a_503_within_the_bound(own_postgres):
    ledger, wallet, server, api, bet = setup(own_postgres.dsn("casino"))
    postmaster = psutil.Process(own_postgres.pid())
    frozen = []
    try:
        assert bet("first")[0].status_code == 200
        frozen = [postmaster, *postmaster.children()]
        for process in frozen:              # alive, connected, and silent: TCP sees nothing wrong
            process.send_signal(signal.SIGSTOP)
        for tx in ("frozen-1", "frozen-2"):
            response, took = bet(tx)
            assert response.status_code == 503 and took <= LONGEST_WAIT, (response.status_code, took)
        health_started = time.monotonic()
        assert api.http.get(server.url + "/health").status_code == 503
        assert time.monotonic() - health_started <= LONGEST_WAIT
        for process in frozen:
            process.send_signal(signal.SIGCONT)
        frozen = []
        deadline = time.monotonic() + 30
        while api.http.get(server.url + "/health").status_code != 200:
            assert time.monotonic() < deadline, "the service did not recover"
            time.sleep(0.2)
        for tx in ("frozen-1", "frozen-2", "after"):
            assert bet(tx)[0].status_code == 200
        assert ledger.balance(wallet)[0] == 600
        assert ledger.violations() == []
        assert server.proc.poll() is None
    finally:
        for process in frozen:
            process.send_signal(signal.SIGCONT)
        server.stop()

