"""Players and their money coming in: accounts, wallets, deposits.

There is no public endpoint for these yet; the demo data, the tests and the load tools
use them. A deposit is a ledger row like any bet, so the audit explains every balance.
"""
import json

from . import refusals

CREATE_USER = """
    INSERT INTO CASINO_USERS (username, email) VALUES (%s, %s)
    RETURNING id
"""

CREATE_WALLET = """
    INSERT INTO CASINO_WALLETS (user_id, currency_code) VALUES (%s, %s)
    RETURNING id
"""

RECORD_DEPOSIT = """
    INSERT INTO CASINO_TRANSACTIONS (
        provider_id, external_transaction_id, transaction_type, wallet_id, amount,
        request_fingerprint, outcome, playable_movement, redeemable_movement,
        balance_after, response_status, response_cache)
    SELECT NULL, %(reference)s, 'deposit', w.id, %(amount)s, 'deposit', 'applied',
           %(amount)s, %(amount)s, w.playable_balance + %(amount)s, 200, %(body)s
    FROM CASINO_WALLETS w
    WHERE w.id = %(wallet_id)s AND w.playable_balance + %(amount)s <= casino_balance_limit()
    ON CONFLICT (provider_id, external_transaction_id) DO NOTHING
    RETURNING id
"""

DEPOSIT_EXISTS = """
    SELECT 1 FROM CASINO_TRANSACTIONS WHERE provider_id IS NULL AND external_transaction_id = %s
"""

ADD_FUNDS = """
    UPDATE CASINO_WALLETS
    SET playable_balance = playable_balance + %(amount)s,
        redeemable_balance = redeemable_balance + %(amount)s,
        updated_at = now()
    WHERE id = %(wallet_id)s
"""


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
    """Adds cash (playable and redeemable). Keyed by reference: a repeat moves nothing and
    returns False. A deposit that would take the balance past 2^53-1 raises 422
    BALANCE_LIMIT_EXCEEDED and writes nothing."""
    cur.execute("SELECT 1 FROM CASINO_WALLETS WHERE id = %s FOR NO KEY UPDATE", (wallet_id,))
    body = json.dumps({"reference": reference, "amount": amount})
    cur.execute(RECORD_DEPOSIT, {"reference": reference, "amount": amount,
                                 "wallet_id": wallet_id, "body": body})
    if cur.fetchone() is not None:
        cur.execute(ADD_FUNDS, {"amount": amount, "wallet_id": wallet_id})
        return True
    cur.execute(DEPOSIT_EXISTS, (reference,))
    if cur.fetchone() is not None:
        return False
    raise refusals.error("BALANCE_LIMIT_EXCEEDED")
