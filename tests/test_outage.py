"""The database goes away and comes back: 503 meanwhile, recovery without a restart."""
from tests.support import Api, Ledger, ServerProcess


def test_database_down_gives_503_and_service_recovers(own_postgres):
    ledger = Ledger(own_postgres.dsn("casino"))
    game = ledger.game()
    user_id, wallets = ledger.player(funds=1_000)
    token = ledger.session(user_id, wallets["USD"], game)
    server = ServerProcess(own_postgres.dsn("casino")).start()
    try:
        api = Api(server.url)
        bet = lambda tx: api.casino("debit", {"sessionToken": token, "userId": user_id,
                                               "transactionId": tx, "roundId": "r1",
                                               "amount": 100, "currency": "USD"})
        assert bet("before").status_code == 200  # the pool now holds live connections

        own_postgres.stop()
        health = api.http.get(server.url + "/health")
        assert health.status_code == 503
        assert health.json()["database"] == "down"
        during = bet("during")
        assert during.status_code == 503
        assert during.json()["error"]["code"] == "SERVICE_UNAVAILABLE"

        own_postgres.start()
        assert api.http.get(server.url + "/health").status_code == 200
        # The pool's connections died with the old server; none of that reaches a caller.
        assert bet("during").status_code == 200
        assert bet("after").status_code == 200
        assert bet("during").headers.get("Idempotent-Replay") == "true"
        ledger = Ledger(own_postgres.dsn("casino"))  # the old one's connection died too
        assert ledger.balance(wallets["USD"])[0] == 700
        assert ledger.violations() == []
        assert server.proc.poll() is None
        assert "Traceback" not in server.output()
    finally:
        server.stop()
