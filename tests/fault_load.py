"""The load the fault tests send (tests/test_crash.py, test_failover.py, test_sync_standby.py,
and the by-hand tests/async_failover.py): per thread, a provider's calls in the order it
would send them (scripts), sent by threads that leave unanswered calls for a resend
(TimedLoad), and what a node's ledger holds of them (transaction_ids)."""
import json
import threading
import time
import uuid

import psycopg2
import requests

from tests.support import casino_headers

THREADS = 8
PLAYERS_PER_THREAD = 3
ROUNDS_PER_PLAYER = 15


def scripts(ledger):
    """Per thread, the calls of a few players, in an order a provider would send them:
    per round a bet, a second bet, a rollback of the first, a payout of the second."""
    game = ledger.game(min_bet=1, max_bet=1_000)
    per_thread = []
    for _ in range(THREADS):
        calls = []
        for _ in range(PLAYERS_PER_THREAD):
            user_id, wallets = ledger.player(funds=100_000)
            token = ledger.session(user_id, wallets["USD"], game)
            base = {"sessionToken": token, "userId": user_id}
            for r in range(ROUNDS_PER_PLAYER):
                round_id, tag = f"r{r}", uuid.uuid4().hex[:10]
                a, b = f"{tag}-a", f"{tag}-b"
                calls += [
                    ("debit", {**base, "transactionId": a, "roundId": round_id, "amount": 50, "currency": "USD"}),
                    ("debit", {**base, "transactionId": b, "roundId": round_id, "amount": 70, "currency": "USD"}),
                    ("rollback", {**base, "transactionId": f"{tag}-rb", "originalTransactionId": a,
                                  "roundId": round_id}),
                    ("credit", {**base, "transactionId": f"{tag}-c", "roundId": round_id, "amount": 140,
                                "currency": "USD", "relatedTransactionId": b}),
                ]
        per_thread.append([(kind, json.dumps(body).encode()) for kind, body in calls])
    return per_thread


class TimedLoad:
    """Threads sending their calls in order, like a provider: after a 5xx or no answer the
    call is left for a resend and the thread backs off a little before its next call."""

    def __init__(self, url, per_thread):
        self.url, self.per_thread = url, per_thread
        self.lock = threading.Lock()
        self.events = []            # (monotonic time, status or None, body)
        self.unanswered = []        # (kind, body)

    def send(self, http, kind, data):
        return http.post(f"{self.url}/casino/{kind}", data=data, headers=casino_headers(kind, data), timeout=15)

    def _thread(self, calls):
        http = requests.Session()
        for kind, data in calls:
            try:
                status = self.send(http, kind, data).status_code
            except requests.RequestException:
                status = None
            with self.lock:
                self.events.append((time.monotonic(), status, data))
                if status is None or status >= 500:
                    self.unanswered.append((kind, data))
            if status is None or status >= 500:
                time.sleep(0.2)

    def start(self):
        self.threads = [threading.Thread(target=self._thread, args=(c,)) for c in self.per_thread]
        for t in self.threads:
            t.start()

    def join(self):
        for t in self.threads:
            t.join(240)

    def answered(self):
        with self.lock:
            return len(self.events)


def transaction_ids(dsn):
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT external_transaction_id, count(*) FROM CASINO_TRANSACTIONS "
                        "WHERE transaction_type <> 'deposit' GROUP BY 1")
            return dict(cur.fetchall())
    finally:
        conn.close()
