"""The casino's wallet: the provider's four callbacks applied to the ledger.

Every money call (debit, credit, rollback) is one database transaction that
  0. locks its (provider, transactionId), and a rollback also the id it cancels, with a
     transaction-scoped advisory lock, so a tombstone and the bet it names are decided one
     after the other even on sessions of two wallets;
  1. claims its transactionId: a 'pending' ledger row, INSERT ... ON CONFLICT DO NOTHING.
     A concurrent duplicate waits (on the lock of step 0) until the first commits, then
     finds the stored answer and replays it;
  2. locks the wallet row (SELECT ... FOR NO KEY UPDATE). Every path takes its locks in
     the same order (advisory locks in key order, its own transactionId, then the one
     wallet), so calls never deadlock. NO KEY UPDATE, not UPDATE: the claim's foreign key
     already holds a KEY SHARE lock on the wallet, and two calls each holding KEY SHARE
     and asking for FOR UPDATE would deadlock;
  3. applies the rules, reading other ledger rows only in statements that start after the
     lock is held (a statement that waited for a lock still reads with the snapshot it
     took before waiting, and would miss what the lock holder committed);
  4. writes the new balance and the answer (status + body) into the claimed row.
A refusal by a rule is an answer like a success: stored and replayed. An unknown session
or an idempotency conflict stores nothing.

Steps 0-4 are the SQL functions casino_debit / casino_credit / casino_rollback
(sql/functions/*.sql), so a call is one statement and one round trip; the rules are
written there once. This module computes the request's fingerprint, calls the function,
and turns its result into an Answer.
"""
import hashlib
import json
from dataclasses import dataclass
from datetime import timezone

from wire.errors import ApiError

MESSAGES = {
    "SESSION_NOT_FOUND": "no session with that token",
    "IDEMPOTENCY_CONFLICT": "transactionId was already used for a different request",
    "PROVIDER_MISMATCH": "the session belongs to another provider's game",
}

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
           t.transaction_type = 'debit' AND EXISTS (
               SELECT 1 FROM CASINO_TRANSACTIONS r
               WHERE r.provider_id = t.provider_id
                 AND r.related_external_transaction_id = t.external_transaction_id
                 AND r.transaction_type = 'rollback' AND r.playable_movement > 0) AS rolled_back
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
        raise ApiError(404, "SESSION_NOT_FOUND", MESSAGES["SESSION_NOT_FOUND"])
    user_id, balance, currency, session_provider = row
    if session_provider != provider_id:
        raise ApiError(403, "PROVIDER_MISMATCH", MESSAGES["PROVIDER_MISMATCH"])
    if user_id != req["userId"]:
        raise ApiError(403, "USER_MISMATCH", "the session belongs to another user")
    return Answer(200, json.dumps({"userId": user_id, "balance": balance, "currency": currency},
                                  separators=(",", ":")))


def _answer(cur):
    status, body, replay, error_code = cur.fetchone()
    if error_code is not None:
        raise ApiError(status, error_code, MESSAGES[error_code])
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
        raise ApiError(404, "TRANSACTION_NOT_FOUND", "the casino has no record of that transactionId")
    transaction_id, kind, outcome, status, body, created_at, rolled_back = row
    return Answer(200, json.dumps({
        "transactionId": transaction_id, "kind": kind, "outcome": outcome, "rolledBack": rolled_back,
        "status": status, "response": json.loads(body),
        "createdAt": created_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
    }, separators=(",", ":")))
