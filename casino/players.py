"""Players and their money coming in: accounts, wallets, deposits.

The back office's API (casino/admin.py) is the operator's way in; the demo data, the
tests and the load tools use these. A deposit is the cashier's call of the back office,
a ledger row like any bet, so the audit explains every balance.
"""
import json

from . import backoffice, refusals

CREATE_USER = """
    INSERT INTO CASINO_USERS (username, email) VALUES (%s, %s)
    RETURNING id
"""

CREATE_WALLET = """
    INSERT INTO CASINO_WALLETS (user_id, currency_code) VALUES (%s, %s)
    RETURNING id
"""

WALLET_OWNER = "SELECT user_id, currency_code FROM CASINO_WALLETS WHERE id = %s"


def create_player(cur, username, currencies=("USD",)):
    """A user with one empty wallet per currency; returns (user_id, {currency: wallet_id})."""
    cur.execute(CREATE_USER, (username, f"{username}@example.com"))
    user_id = cur.fetchone()[0]
    wallets = {}
    for currency in currencies:
        cur.execute(CREATE_WALLET, (user_id, currency))
        wallets[currency] = cur.fetchone()[0]
    return user_id, wallets


def deposit(cur, wallet_id, amount, reference):
    """Adds cash (playable and redeemable) through the cashier's own call
    (casino/backoffice.py), unaudited: what fixtures and load tools fund players with.
    Keyed by reference: a repeat moves nothing and returns False. A deposit that would take
    the balance past 2^53-1 raises 422 BALANCE_LIMIT_EXCEEDED."""
    cur.execute(WALLET_OWNER, (wallet_id,))
    user_id, currency = cur.fetchone()
    answer = backoffice.cashier(cur, "deposit", None, {"userId": user_id, "currency": currency,
                                                        "amount": amount, "reference": reference})
    if answer.status != 200:
        raise refusals.error(json.loads(answer.body)["error"]["code"])
    return not answer.replay
