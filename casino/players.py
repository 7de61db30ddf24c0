"""Players and their money coming in, for the demo data, the tests and the load tools.

Thin wrappers of the back office's own verbs (casino/backoffice.py, the functions the API
calls): a player is created, given wallets and funded exactly as an operator's calls would
do it -- audited under the tool's name, the deposit a ledger row like any bet, so the
ledger audit explains every balance -- and marked with the tool's origin, so it can be
told apart from real players and retired when the tool is done (casino/synthetic.py).
"""

from wire.refusals import Refused

from . import backoffice

WALLET_OWNER = "SELECT user_id, currency_code FROM CASINO_WALLETS WHERE id = %s"


def operator_for(origin):
    """The name a tool's writes are audited under, where a real call names its key id."""
    return f"tool:{origin}"


def _created(answer):
    if isinstance(answer, Refused):
        raise answer
    return answer.json()


def create_player(cur, username, currencies=("USD",), origin="test", jurisdiction=None, identity=None):
    """A player marked `origin` with one empty wallet per currency; returns
    (user_id, {currency: wallet_id}). jurisdiction: a code (None: the default market);
    identity: the fields an external register is asked with (firstName, ...)."""
    operator = operator_for(origin)
    user_id = _created(backoffice.create_player(cur, operator, {
        "username": username, "email": f"{username}@example.com", "jurisdiction": jurisdiction, **(identity or {})},
        origin=origin))["userId"]
    wallets = {currency: _created(backoffice.create_wallet(cur, operator, {"userId": user_id,
                                                                         "currency": currency}))["walletId"]
               for currency in currencies}
    return user_id, wallets


def deposit(cur, wallet_id, amount, reference, operator=None):
    """Adds cash (playable and redeemable) through the cashier's own call
    (casino/backoffice.py); operator: the name the back office's audit records it under
    (None: unaudited). Keyed by reference: a repeat moves nothing and returns False. A
    deposit that would take the balance past 2^53-1 raises 422 BALANCE_LIMIT_EXCEEDED."""
    cur.execute(WALLET_OWNER, (wallet_id,))
    user_id, currency = cur.fetchone()
    answer = backoffice.cashier(cur, "deposit", operator, {"userId": user_id, "currency": currency,
                                                            "amount": amount, "reference": reference})
    if isinstance(answer, Refused):
        raise answer
    return not answer.replay
