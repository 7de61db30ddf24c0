"""The casino's wallet: the provider's four callbacks applied to the ledger.

Every money call (debit, credit, rollback) is one call of a SQL function (casino_debit,
casino_credit, casino_rollback in sql/functions/), run in autocommit: one statement, one
database transaction that locks the session's wallet, then its transactionId (and a
rollback's original id) with transaction-scoped advisory locks; finds a stored answer for
the id (replayed) or a tombstone naming it (refused); applies the rules, reading other
ledger rows only after the locks; and inserts its one ledger row, already answered,
moving the wallet with it. sql/functions/casino_calls.sql says why in that order.

A refusal by a rule is an answer like a success: stored and replayed. An unknown session,
another provider's session or an idempotency conflict stores nothing. Every refusal is in
casino/refusals.py. This module computes the request's fingerprint, calls the function,
and turns its result into an Answer.
"""
import hashlib
import json
from dataclasses import dataclass
from datetime import timezone

from . import refusals

BALANCE = """
    SELECT s.user_id, w.playable_balance, w.currency_code, g.provider_id
    FROM CASINO_GAME_SESSIONS s
    JOIN CASINO_WALLETS w ON w.id = s.wallet_id
    JOIN CASINO_GAMES g ON g.id = s.game_id
    WHERE s.token = %s
"""

# Only the calling provider's own ids: transactionIds are unique per provider, and one
# provider must learn nothing about another's.
TRANSACTION_STATUS = """
    SELECT t.external_transaction_id, t.transaction_type, t.outcome, t.response_status,
           t.response_cache::text, t.created_at,
           t.transaction_type = 'debit' AND casino_refunded(t.provider_id, t.external_transaction_id)
    FROM CASINO_TRANSACTIONS t
    WHERE t.provider_id = %s AND t.external_transaction_id = %s
"""

DEBIT = "SELECT status, body, replay, error_code FROM casino_debit(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
CREDIT = "SELECT status, body, replay, error_code FROM casino_credit(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
ROLLBACK = "SELECT status, body, replay, error_code FROM casino_rollback(%s, %s, %s, %s, %s, %s, %s)"


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    replay: bool = False


def fingerprint(*fields):
    """The meaningful content of a request, so a resend serialised differently still matches."""
    return hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode()).hexdigest()


def get_balance(cur, provider_id, req):
    cur.execute(BALANCE, (req["sessionToken"],))
    row = cur.fetchone()
    if row is None:
        raise refusals.error("SESSION_NOT_FOUND")
    user_id, balance, currency, session_provider = row
    if session_provider != provider_id:
        raise refusals.error("PROVIDER_MISMATCH")
    if user_id != req["userId"]:
        raise refusals.error("USER_MISMATCH")
    return Answer(200, json.dumps({"userId": user_id, "balance": balance, "currency": currency},
                                  separators=(",", ":")))


def _answer(cur):
    status, body, replay, error_code = cur.fetchone()
    if error_code is not None:
        raise refusals.error(error_code)
    return Answer(status, body, replay)


def debit(cur, provider_id, req, session_idle_timeout):
    """A bet: takes `amount` from the wallet if every rule allows it. A session idle for
    longer than session_idle_timeout (a timedelta) takes no bet."""
    cur.execute(DEBIT, (provider_id, req["sessionToken"], req["userId"], req["transactionId"], req["roundId"],
                        req["amount"], req["currency"],
                        fingerprint("debit", req["userId"], req["roundId"], req["amount"], req["currency"], None),
                        session_idle_timeout))
    return _answer(cur)


def credit(cur, provider_id, req):
    """A payout for an accepted bet of the round; 0 settles a lost round."""
    related = req.get("relatedTransactionId")
    cur.execute(CREDIT, (provider_id, req["sessionToken"], req["userId"], req["transactionId"], req["roundId"],
                         req["amount"], req["currency"], related,
                         fingerprint("credit", req["userId"], req["roundId"], req["amount"], req["currency"],
                                     related)))
    return _answer(cur)


def rollback(cur, provider_id, req):
    """Cancels a bet, refunding exactly what it took."""
    original = req["originalTransactionId"]
    cur.execute(ROLLBACK, (provider_id, req["sessionToken"], req["userId"], req["transactionId"], req["roundId"], original,
                           fingerprint("rollback", req["userId"], req["roundId"], 0, None, original)))
    return _answer(cur)


def transaction_status(cur, provider_id, req):
    """What the casino recorded for one of the calling provider's transactionIds, changing
    nothing (reconciliation)."""
    cur.execute(TRANSACTION_STATUS, (provider_id, req["transactionId"]))
    row = cur.fetchone()
    if row is None:
        raise refusals.error("TRANSACTION_NOT_FOUND")
    transaction_id, kind, outcome, status, body, created_at, rolled_back = row
    return Answer(200, json.dumps({
        "transactionId": transaction_id, "kind": kind, "outcome": outcome, "rolledBack": rolled_back,
        "status": status, "response": json.loads(body),
        "createdAt": created_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
    }, separators=(",", ":")))
