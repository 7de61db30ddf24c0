"""The demo's players, made and funded with the back office's own verbs (the functions the
API calls), so nothing about a player or a balance is written by hand and the ledger audit
explains every cent. Run after sql/demo.sql (service/demo_data.py: each server start
unless --no-demo-data, and `python -m service.demo_data`); re-running it changes nothing."""
from . import backoffice

OPERATOR = "demo-data"      # the key id the back office's audit records these writes under
PLAYERS = (("alice", "alice@example.com"), ("bob", "bob@example.com"))
CURRENCIES = ("USD", "EUR")
FUNDS = 100_000

USER_BY_NAME = "SELECT id FROM CASINO_USERS WHERE username = %s"
WALLET = "SELECT 1 FROM CASINO_WALLETS WHERE user_id = %s AND currency_code = %s"


def seed(cur):
    for username, email in PLAYERS:
        cur.execute(USER_BY_NAME, (username,))
        row = cur.fetchone()
        if row is None:
            # Marked "demo": told apart from real players (and left alone by
            # `python -m casino.synthetic retire` unless asked: --demo plays with them).
            user_id = backoffice.create_player(cur, OPERATOR, {"username": username, "email": email},
                                               origin="demo").json()["userId"]
        else:
            user_id = row[0]
        for currency in CURRENCIES:
            cur.execute(WALLET, (user_id, currency))
            if cur.fetchone() is None:
                backoffice.create_wallet(cur, OPERATOR, {"userId": user_id, "currency": currency})
            # Keyed by reference: once funded, a repeat replays and moves nothing. An
            # installation funded before this module (another fingerprint) answers 409: funded.
            backoffice.cashier(cur, "deposit", None, {"userId": user_id, "currency": currency, "amount": FUNDS,
                                                      "reference": f"demo-deposit-{username}-{currency}"})
