"""What the reconciliation's tests share (tests/test_reconciliation.py, test_feed_bounds.py):
a database and a server of their own, with a proxy that can lose the casino's answers, and
a page of a provider's round feed as a fake provider answers it."""
import json
from datetime import timedelta

from sql.migrate import migrate
from tests.databases import create_database
from tests.fault_proxy import FaultProxy
from tests.support import OPERATOR_KEY, Api, Ledger, ServerProcess


class Books:
    """A database of its own, a server on it, and a proxy between the provider and the
    casino that can lose the casino's answers."""

    def __init__(self, extra_env=None, proxy=False):
        self.dsn = create_database("reconciliation")
        migrate(self.dsn, log=lambda _: None)
        self.proxy = FaultProxy().start() if proxy else None
        env = {"RECONCILE_INTERVAL": "0", **(extra_env or {})}
        if self.proxy:
            env["CASINO_URL"] = self.proxy.url
        self.server = ServerProcess(self.dsn, extra_env=env).start()
        if self.proxy:
            self.proxy.upstream = ("127.0.0.1", int(self.server.url.rsplit(":", 1)[1]))
        self.api = Api(self.server.url)
        self.ledger = Ledger(self.dsn)
        self.game = self.ledger.launchable_game()

    def stop(self):
        self.server.stop()
        if self.proxy:
            self.proxy.stop()

    def today(self):
        return self.ledger.query("SELECT (now() AT TIME ZONE 'UTC')::date")[0][0]

    def play(self, user_id):
        answer = self.api.client("simulateRound", {"userId": user_id, "gameId": self.game})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def admin(self, method, path, body=None, key=OPERATOR_KEY):
        return self.api.http.request(method, f"{self.api.base_url}/casino/admin/{path}", timeout=60,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})

    def reconcile(self, provider="JAQPOT", start=None, end=None, status=201):
        # Yesterday too: a round opened just before midnight is still in the period.
        today = self.today()
        answer = self.admin("POST", "reconciliations", {"providerCode": provider,
                                                        "from": str(start or today - timedelta(days=1)),
                                                        "to": str(end or today)})
        assert answer.status_code == status, answer.text
        return answer.json()

    def differences(self, body, round_id):
        found, cursor = [], None
        while True:
            page = self.admin("GET", f"reconciliations/{body['reconciliationId']}?limit=1000"
                                     + (f"&cursor={cursor}" if cursor else "")).json()
            found += [d for d in page["differences"] if d["roundId"] == round_id]
            cursor = page["nextCursor"]
            if cursor is None:
                return found


def page(rounds, cursor=None):
    return (200, json.dumps({"rounds": rounds, "nextCursor": cursor}).encode(), {"Content-Type": "application/json"})
