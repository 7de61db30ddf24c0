"""The provider's books: rounds, and every bet/payout/rollback attempt with the casino's answer.

The provider never computes a balance: it stores what the casino answered. A round's
totals are recomputed from its accepted rows, never kept by hand.
"""
import json
import secrets

OPEN_ROUND = """
    INSERT INTO PROVIDER_GAME_ROUNDS (round_id, session_id, player_id, game_id, currency)
    VALUES (%s, %s, %s, %s, %s)
    RETURNING id
"""

# A resend of the same transactionId is the same row: only its attempt count grows.
RECORD_ATTEMPT = """
    INSERT INTO PROVIDER_BETS (transaction_id, round_id, bet_type, amount, related_transaction_id, request_cache)
    VALUES (%s, %s, %s, %s, %s, %s)
    ON CONFLICT (transaction_id) DO NOTHING
"""

# Once definitive, a row's status is final: a later replay only adds attempts.
RECORD_ANSWER = """
    UPDATE PROVIDER_BETS
    SET attempts = attempts + %(attempts)s,
        status = CASE WHEN status IN ('pending', 'unknown') THEN %(status)s ELSE status END,
        casino_status = coalesce(casino_status, %(casino_status)s),
        casino_balance_after = coalesce(casino_balance_after, %(balance)s),
        response_cache = coalesce(response_cache, %(response)s::json),
        updated_at = now()
    WHERE transaction_id = %(transaction_id)s
    RETURNING status
"""

MARK_CANCELLED = """
    UPDATE PROVIDER_BETS SET status = 'cancelled', updated_at = now()
    WHERE transaction_id = %s AND status = 'unknown'
"""

SETTLE_ROUND = """
    UPDATE PROVIDER_GAME_ROUNDS r
    SET total_bet_amount = (
            SELECT coalesce(sum(b.amount), 0) FROM PROVIDER_BETS b
            WHERE b.round_id = r.id AND b.bet_type = 'debit' AND b.status = 'accepted'
              AND NOT EXISTS (SELECT 1 FROM PROVIDER_BETS x
                              WHERE x.round_id = r.id AND x.bet_type = 'rollback'
                                AND x.status = 'accepted'
                                AND x.related_transaction_id = b.transaction_id)),
        total_payout_amount = (
            SELECT coalesce(sum(c.amount), 0) FROM PROVIDER_BETS c
            WHERE c.round_id = r.id AND c.bet_type = 'credit' AND c.status = 'accepted'),
        status = %s,
        updated_at = now()
    WHERE r.id = %s
"""


def open_round(cur, session):
    round_id = "rnd-" + secrets.token_hex(12)
    cur.execute(OPEN_ROUND, (round_id, session.id, session.customer_id, session.game_id, session.currency))
    return cur.fetchone()[0], round_id


def record_attempt(cur, round_pk, kind, body, amount, related_id=None):
    """A call about to be sent: pending until the casino's answer is recorded."""
    cur.execute(RECORD_ATTEMPT, (body["transactionId"], round_pk, kind, amount, related_id,
                                 json.dumps(body, separators=(",", ":"))))


def record_answer(cur, transaction_id, answer):
    """Store the casino's answer (a CasinoAnswer); returns the row's status after it."""
    if answer.accepted:
        status = "accepted"
    elif answer.definitive:
        status = "refused"
    else:
        status = "unknown"
    body = answer.body or {}
    cur.execute(RECORD_ANSWER, {
        "transaction_id": transaction_id, "attempts": answer.attempts, "status": status,
        "casino_status": answer.status, "balance": body.get("balance") if answer.accepted else None,
        "response": json.dumps(answer.body) if answer.definitive else None,
    })
    return cur.fetchone()[0]


async def send_recorded(db, client, round_pk, kind, body, amount, related_id=None, request_id=None):
    """Record the call as pending, send it, record the casino's answer: a crash in between
    leaves a row that says "ask the casino". Returns (answer, the row's status)."""
    await db.transaction(record_attempt, round_pk, kind, body, amount, related_id)
    answer = await client.call(kind, body, request_id)
    return answer, await db.transaction(record_answer, body["transactionId"], answer)


def rollback_of(bet_body, transaction_id):
    """The rollback call for a bet, from the bet's own request."""
    return {"sessionToken": bet_body["sessionToken"], "userId": bet_body["userId"],
            "transactionId": transaction_id, "originalTransactionId": bet_body["transactionId"],
            "roundId": bet_body["roundId"]}


def mark_cancelled(cur, transaction_id):
    cur.execute(MARK_CANCELLED, (transaction_id,))


def settle_round(cur, round_pk, status="settled"):
    cur.execute(SETTLE_ROUND, (status, round_pk))
