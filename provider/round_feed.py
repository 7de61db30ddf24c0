"""The provider's round feed (POST /provider/rounds): what this provider recorded as
accepted by a casino, round by round, so the casino can compare it with its ledger
(PROTOCOL.md, "Reports and reconciliation"; the casino's side is casino/reconciliation.py).

A round is listed when it was opened within [from, to) and holds at least one call the
casino accepted; its figures are those calls only -- what the provider believes moved
money, not what it sent:

    stakes   accepted bets
    refunds  accepted bets that an accepted rollback cancelled (each bet once, however many
             rollbacks named it)
    wins     accepted payouts

A call still pending or unknown, refused, or a bet cancelled after its answer was lost
counts nowhere: that is exactly what a reconciliation is there to find.

Pages come oldest round first (by when it was opened, then by id); nextCursor names the
last round of the page, and is null on the last one.
"""
from datetime import UTC

from wire import refusals
from wire.validation import parse_instant

MAX_PAGE = 1000

# The page's rounds first (the index on (created_at, id) walks the period in order, after
# the cursor's round), then each one's figures from its own calls.
ROUNDS = """
    SELECT r.id, r.round_id, r.status, r.currency, r.created_at,
           CASE WHEN r.status <> 'open' THEN r.updated_at END,
           f.stakes, f.refunds, f.wins
    FROM PROVIDER_GAME_ROUNDS r
    JOIN PROVIDER_CUSTOMERS c ON c.id = r.player_id
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(b.amount) FILTER (WHERE b.bet_type = 'debit'), 0) AS stakes,
               coalesce(sum(b.amount) FILTER (
                   WHERE b.bet_type = 'debit' AND EXISTS (
                       SELECT 1 FROM PROVIDER_BETS x
                       WHERE x.round_id = r.id AND x.bet_type = 'rollback' AND x.status = 'accepted'
                         AND x.related_transaction_id = b.transaction_id)), 0) AS refunds,
               coalesce(sum(b.amount) FILTER (WHERE b.bet_type = 'credit'), 0) AS wins,
               count(*) AS accepted
        FROM PROVIDER_BETS b
        WHERE b.round_id = r.id AND b.status = 'accepted') f
    WHERE c.casino_code = %(casino)s
      AND r.created_at >= %(from)s AND r.created_at < %(to)s
      AND (%(cursor)s::bigint IS NULL
           OR (r.created_at, r.id) > (SELECT a.created_at, a.id FROM PROVIDER_GAME_ROUNDS a WHERE a.id = %(cursor)s))
      AND f.accepted > 0
    ORDER BY r.created_at, r.id
    LIMIT %(limit)s
"""


def _instant(moment):
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rounds(cur, casino_code, req):
    """casino_code: the casino whose key signed the call; the body must name the same (a
    casino sees its own rounds only, like its sessions)."""
    if req["casinoCode"] != casino_code:
        raise refusals.error("CASINO_MISMATCH")
    start, end = parse_instant(req["from"]), parse_instant(req["to"])
    if start >= end:
        raise refusals.error("PERIOD_INVALID", "from must be before to")
    limit = req["limit"] or MAX_PAGE
    cur.execute(ROUNDS, {"casino": casino_code, "from": start, "to": end,
                         "cursor": int(req["cursor"]) if req["cursor"] else None, "limit": limit + 1})
    found = cur.fetchall()
    page = found[:limit]
    return {"rounds": [{"roundId": round_id, "status": status, "currency": currency, "stakes": int(stakes),
                        "refunds": int(refunds), "wins": int(wins), "openedAt": _instant(opened),
                        "closedAt": _instant(closed) if closed else None}
                       for _, round_id, status, currency, opened, closed, stakes, refunds, wins in page],
            "nextCursor": str(page[-1][0]) if len(found) > limit else None}
