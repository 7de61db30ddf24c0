"""The casino's wallet: the provider's four callbacks applied to the ledger.

Every money call (debit, credit, rollback) is one database transaction that
  1. claims its transactionId: a 'pending' ledger row, INSERT ... ON CONFLICT DO NOTHING.
     A concurrent duplicate blocks on the unique index until the first commits, then
     finds the stored answer and replays it;
  2. locks the wallet row (SELECT ... FOR NO KEY UPDATE). Every path takes the same two locks in
     the same order (its own transactionId, then the one wallet), so calls never deadlock;
  3. applies the rules, reading other ledger rows only after the lock is held;
  4. writes the new balance and the answer (status + body) into the claimed row.
A refusal by a rule is an answer like a success: stored and replayed. Errors raised as
ApiError (unknown session, idempotency conflict) roll the claim back and store nothing.

The functions take a cursor and run inside `Database.transaction`.
"""
import hashlib
import json
from dataclasses import dataclass

from wire.errors import ApiError, error_body

SESSION_BY_TOKEN = """
    SELECT s.id, s.user_id, s.wallet_id, s.is_active, g.provider_id, g.min_bet, g.max_bet,
           w.currency_code, w.playable_balance
    FROM CASINO_GAME_SESSIONS s
    JOIN CASINO_GAMES g ON g.id = s.game_id
    JOIN CASINO_WALLETS w ON w.id = s.wallet_id
    WHERE s.token = %s
"""

CLAIM_TRANSACTION = """
    INSERT INTO CASINO_TRANSACTIONS (
        provider_id, external_transaction_id, transaction_type, wallet_id, session_id,
        round_id, amount, related_external_transaction_id, request_fingerprint, outcome)
    VALUES (%(provider_id)s, %(transaction_id)s, %(kind)s, %(wallet_id)s, %(session_id)s,
            %(round_id)s, %(amount)s, %(related_id)s, %(fingerprint)s, 'pending')
    ON CONFLICT (provider_id, external_transaction_id) DO NOTHING
    RETURNING id
"""

STORED_ANSWER = """
    SELECT request_fingerprint, response_status, response_cache::text
    FROM CASINO_TRANSACTIONS
    WHERE provider_id = %s AND external_transaction_id = %s
"""

# NO KEY UPDATE, not UPDATE: the claim's foreign key to the wallet already holds a KEY SHARE
# lock on this row, and two calls each holding KEY SHARE and asking for FOR UPDATE would
# deadlock. NO KEY UPDATE coexists with KEY SHARE and still excludes every other writer.
LOCK_WALLET = """
    SELECT playable_balance, redeemable_balance
    FROM CASINO_WALLETS
    WHERE id = %s
    FOR NO KEY UPDATE
"""

# The queries below read other ledger rows. They must run as statements of their own
# after LOCK_WALLET returns: a statement that waited for the lock still reads with the
# snapshot it took before waiting, and would miss what the lock holder committed.

TOMBSTONE_FOR = """
    SELECT EXISTS (
        SELECT 1 FROM CASINO_TRANSACTIONS
        WHERE provider_id = %s AND related_external_transaction_id = %s
          AND transaction_type = 'rollback' AND outcome = 'tombstone')
"""

# A bet with everything the rules ask of it. A bet counts as rolled back once a rollback
# refunded it (moved money); a no-op rollback of a refused bet does not count.
BET = """
    SELECT b.id, b.transaction_type, b.outcome, b.wallet_id, b.round_id, b.amount,
           b.redeemable_movement,
           EXISTS (SELECT 1 FROM CASINO_TRANSACTIONS r
                   WHERE r.provider_id = b.provider_id
                     AND r.related_external_transaction_id = b.external_transaction_id
                     AND r.transaction_type = 'rollback' AND r.playable_movement > 0) AS rolled_back,
           EXISTS (SELECT 1 FROM CASINO_TRANSACTIONS c
                   WHERE c.wallet_id = b.wallet_id AND c.round_id = b.round_id
                     AND c.transaction_type = 'credit' AND c.outcome = 'applied') AS round_paid
    FROM CASINO_TRANSACTIONS b
    WHERE b.provider_id = %s AND b.external_transaction_id = %s
"""

ROUND_BETS = """
    SELECT count(*) AS accepted,
           count(*) FILTER (WHERE NOT EXISTS (
               SELECT 1 FROM CASINO_TRANSACTIONS r
               WHERE r.provider_id = b.provider_id
                 AND r.related_external_transaction_id = b.external_transaction_id
                 AND r.transaction_type = 'rollback' AND r.playable_movement > 0)) AS live
    FROM CASINO_TRANSACTIONS b
    WHERE b.wallet_id = %s AND b.round_id = %s
      AND b.transaction_type = 'debit' AND b.outcome = 'applied'
"""

MOVE_BALANCE = """
    UPDATE CASINO_WALLETS
    SET playable_balance = playable_balance + %s,
        redeemable_balance = redeemable_balance + %s,
        updated_at = now()
    WHERE id = %s
"""

RECORD_ANSWER = """
    UPDATE CASINO_TRANSACTIONS
    SET outcome = %(outcome)s, amount = %(amount)s,
        playable_movement = %(playable)s, redeemable_movement = %(redeemable)s,
        balance_after = %(balance_after)s,
        response_status = %(status)s, response_cache = %(body)s
    WHERE id = %(id)s
"""


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    replay: bool = False


@dataclass
class Session:
    id: int
    user_id: int
    wallet_id: int
    is_active: bool
    provider_id: int
    min_bet: int
    max_bet: int
    currency: str
    balance: int


class Refusal(Exception):
    """A rule said no: stored as the transaction's answer, unlike ApiError."""

    def __init__(self, status, code, message):
        self.status, self.code, self.message = status, code, message


def _dumps(obj):
    return json.dumps(obj, separators=(",", ":"))


def _fingerprint(*fields):
    # The meaningful content of a request, so a resend serialised differently still matches.
    return hashlib.sha256(_dumps(fields).encode()).hexdigest()


def find_session(cur, token):
    cur.execute(SESSION_BY_TOKEN, (token,))
    row = cur.fetchone()
    if row is None:
        raise ApiError(404, "SESSION_NOT_FOUND", "no session with that token")
    return Session(*row)


def _check_user(session, user_id):
    if session.user_id != user_id:
        raise Refusal(403, "USER_MISMATCH", "the session belongs to another user")


def _check_currency(session, currency):
    if session.currency != currency:
        raise Refusal(422, "CURRENCY_MISMATCH",
                      f"the session's wallet is in {session.currency}, not {currency}")


def get_balance(cur, req):
    session = find_session(cur, req["sessionToken"])
    if session.user_id != req["userId"]:
        raise ApiError(403, "USER_MISMATCH", "the session belongs to another user")
    return Answer(200, _dumps({"userId": session.user_id, "balance": session.balance,
                               "currency": session.currency}))


class _Movement:
    """One money call in progress: the claimed row, the locked wallet, then the answer."""

    def __init__(self, cur, req, kind, amount, related_id):
        self.cur = cur
        self.req = req
        self.kind = kind
        self.session = find_session(cur, req["sessionToken"])
        self.fingerprint = _fingerprint(kind, req["userId"], req["roundId"], amount,
                                        req.get("currency"), related_id)
        cur.execute(CLAIM_TRANSACTION, {
            "provider_id": self.session.provider_id, "transaction_id": req["transactionId"],
            "kind": kind, "wallet_id": self.session.wallet_id, "session_id": self.session.id,
            "round_id": req["roundId"], "amount": amount, "related_id": related_id,
            "fingerprint": self.fingerprint,
        })
        row = cur.fetchone()
        self.claim_id = row[0] if row else None

    def stored_answer(self):
        """The answer already given for this transactionId, or None for a new one."""
        if self.claim_id is not None:
            return None
        self.cur.execute(STORED_ANSWER, (self.session.provider_id, self.req["transactionId"]))
        fingerprint, status, body = self.cur.fetchone()
        if fingerprint != self.fingerprint:
            raise ApiError(409, "IDEMPOTENCY_CONFLICT",
                           "transactionId was already used for a different request")
        return Answer(status, body, replay=True)

    def lock_wallet(self):
        self.cur.execute(LOCK_WALLET, (self.session.wallet_id,))
        self.playable, self.redeemable = self.cur.fetchone()

    def bet(self, transaction_id):
        self.cur.execute(BET, (self.session.provider_id, transaction_id))
        return self.cur.fetchone()

    def apply(self, amount, playable, redeemable, extra=None):
        if playable or redeemable:
            self.cur.execute(MOVE_BALANCE, (playable, redeemable, self.session.wallet_id))
        balance = self.playable + playable
        body = {"transactionId": self.req["transactionId"], "balance": balance,
                "currency": self.session.currency, **(extra or {})}
        outcome = "tombstone" if (extra or {}).get("tombstone") else "applied"
        return self._record(outcome, amount, playable, redeemable, balance, 200, _dumps(body))

    def refuse(self, refusal):
        body = error_body(refusal.code, refusal.message).decode()
        return self._record("refused", self.req.get("amount") or 0, 0, 0, self.playable,
                            refusal.status, body)

    def _record(self, outcome, amount, playable, redeemable, balance, status, body):
        self.cur.execute(RECORD_ANSWER, {
            "id": self.claim_id, "outcome": outcome, "amount": amount, "playable": playable,
            "redeemable": redeemable, "balance_after": balance, "status": status, "body": body,
        })
        return Answer(status, body)


def _run(movement, rules):
    answer = movement.stored_answer()
    if answer is not None:
        return answer
    movement.lock_wallet()
    try:
        return rules(movement)
    except Refusal as refusal:
        return movement.refuse(refusal)


def debit(cur, req):
    """A bet: takes `amount` from the wallet if every rule allows it."""
    def rules(m):
        s = m.session
        _check_user(s, req["userId"])
        if not s.is_active:
            raise Refusal(403, "SESSION_INACTIVE", "the session is not active")
        _check_currency(s, req["currency"])
        amount = req["amount"]
        if not s.min_bet <= amount <= s.max_bet:
            raise Refusal(422, "BET_LIMIT_EXCEEDED",
                          f"bets on this game are from {s.min_bet} to {s.max_bet}")
        m.cur.execute(TOMBSTONE_FOR, (s.provider_id, req["transactionId"]))
        if m.cur.fetchone()[0]:
            raise Refusal(409, "TRANSACTION_ROLLED_BACK",
                          "this bet was rolled back before it arrived")
        if amount > m.playable:
            raise Refusal(422, "INSUFFICIENT_FUNDS", "the balance does not cover the bet")
        # A bet spends playable money; what stays redeemable can never exceed what is left.
        redeemable_after = min(m.redeemable, m.playable - amount)
        return m.apply(amount, -amount, redeemable_after - m.redeemable)

    return _run(_Movement(cur, req, "debit", req["amount"], None), rules)


def credit(cur, req):
    """A payout for an accepted bet of the round; 0 settles a lost round."""
    related_id = req.get("relatedTransactionId")

    def rules(m):
        s = m.session
        _check_user(s, req["userId"])
        _check_currency(s, req["currency"])
        m.cur.execute(ROUND_BETS, (s.wallet_id, req["roundId"]))
        accepted, live = m.cur.fetchone()
        if accepted == 0:
            raise Refusal(404, "ROUND_NOT_FOUND", "the round holds no accepted bet of this wallet")
        if related_id is not None:
            bet = m.bet(related_id)
            if (bet is None or bet[1] != "debit" or bet[2] != "applied"
                    or bet[3] != s.wallet_id or bet[4] != req["roundId"]):
                raise Refusal(409, "BET_NOT_FOUND", "relatedTransactionId names no accepted bet of this round")
            if bet[7]:
                raise Refusal(409, "TRANSACTION_ROLLED_BACK", "the related bet was rolled back")
        elif live == 0:
            raise Refusal(409, "TRANSACTION_ROLLED_BACK", "every bet of the round was rolled back")
        amount = req["amount"]
        # Winnings are real money: playable and redeemable alike.
        return m.apply(amount, amount, amount)

    return _run(_Movement(cur, req, "credit", req["amount"], related_id), rules)


def rollback(cur, req):
    """Cancels a bet, refunding exactly what it took; see PROTOCOL.md's rollback rules."""
    original_id = req["originalTransactionId"]

    def rules(m):
        s = m.session
        _check_user(s, req["userId"])
        bet = m.bet(original_id)
        if bet is None:
            # Unknown original: remember it, so the bet is refused if it arrives late.
            return m.apply(0, 0, 0, {"tombstone": True})
        _, kind, outcome, wallet_id, round_id, amount, redeemable_taken, rolled_back, round_paid = bet
        if kind != "debit":
            raise Refusal(409, "ROLLBACK_NOT_ALLOWED", "only bets can be rolled back")
        if wallet_id != s.wallet_id or round_id != req["roundId"]:
            raise Refusal(409, "BET_NOT_FOUND", "originalTransactionId is not a bet of this round")
        if outcome != "applied" or rolled_back:
            return m.apply(0, 0, 0, {"tombstone": False})  # nothing was taken, or it was given back
        if round_paid:
            raise Refusal(409, "ROLLBACK_NOT_ALLOWED", "the round already has a payout")
        return m.apply(amount, amount, -redeemable_taken, {"tombstone": False})

    return _run(_Movement(cur, req, "rollback", 0, original_id), rules)
