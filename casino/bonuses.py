"""Bonus money's back-office verbs and its expiry pass (PROTOCOL.md, "Bonus money").

The rules live in SQL next to the money they move (sql/functions/casino_bonus.sql): how a
bet, a payout and a refund split into cash and bonus, completion, forfeit. Here are what an
operator does -- grant a bonus (idempotent by reference, like a deposit), list a player's
bonuses, cancel one -- and the pass that forfeits bonuses past their expiry:

    python -m casino.bonuses expire     one pass; prints how many it forfeited

The pass forfeits each due bonus in a transaction of its own (casino_forfeit_bonus, which
takes the wallet's lock and checks again under it), so it holds one wallet's lock at a
time, and two passes -- two processes, or a pass and a money call on the wallet -- forfeit
a bonus once. The server runs it every BONUS_EXPIRY_INTERVAL seconds in each process.
"""
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from psycopg2.extensions import cursor as Cursor

from db.pool import Database

from . import backoffice
from .wallet import Answer, Outcome, Request, answer_of, fingerprint

log = logging.getLogger(__name__)

GRANT = "SELECT status, body, replay, error_code FROM casino_grant_bonus(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
FORFEIT = "SELECT casino_forfeit_bonus(%s, %s)"
DUE = "SELECT casino_bonuses_due(%s)"
STATUS = "SELECT status, end_reason FROM CASINO_BONUSES WHERE id = %s"
VIEW = "SELECT casino_bonus_view(%s)::text"

# A player's bonuses newest first, a page at a time, in one currency or all.
LIST = """
    SELECT b.id, casino_bonus_view(b.id)::text
    FROM CASINO_BONUSES b
    JOIN CASINO_WALLETS w ON w.id = b.wallet_id
    WHERE w.user_id = %(user_id)s
      AND (%(currency)s::text IS NULL OR w.currency_code = %(currency)s)
      AND (%(cursor)s::bigint IS NULL OR b.id < %(cursor)s)
    ORDER BY b.id DESC
    LIMIT %(limit)s
"""

# Bonuses forfeited per round trip of the pass's listing.
BATCH = 100


def grant(cur: Cursor, operator: str | None, req: Request) -> Outcome:
    """A bonus for the player's wallet in req["currency"]: one statement, idempotent by
    req["reference"] (a resend replays the first answer, other content is 409
    IDEMPOTENCY_CONFLICT). operator None: a tool's or a test's grant, not audited."""
    expires = datetime.fromisoformat(req["expiresAt"])
    cur.execute(GRANT, (req["userId"], req["currency"], req["amount"], req["wagering"], expires, req["reference"],
                        # The instant, not its spelling: a resend with another offset is the same
                        # request. In UTC to the microsecond (a float of it would merge neighbours).
                        fingerprint("grantBonus", req["userId"], req["currency"], req["amount"], req["wagering"],
                                    expires.astimezone(UTC).isoformat()),
                        operator, json.dumps(req)))
    return answer_of(cur.fetchone())


def view(cur: Cursor, bonus_id: int) -> dict[str, Any]:
    cur.execute(VIEW, (bonus_id,))
    row = cur.fetchone()
    assert row is not None and row[0] is not None, f"bonus {bonus_id} exists"
    parsed: dict[str, Any] = json.loads(row[0])
    return parsed


def cancel(cur: Cursor, operator: str | None, bonus_id: int) -> Outcome:
    """An operator's cancel: what remains of the bonus is forfeited (cash untouched);
    audited, refusals included."""
    cur.execute(STATUS, (bonus_id,))
    found = cur.fetchone()
    answer: Outcome
    if found is None:
        answer = backoffice._refusal("BONUS_NOT_FOUND")
    else:
        cur.execute(FORFEIT, (bonus_id, "cancelled"))
        (forfeited,) = cur.fetchone() or (False,)
        if forfeited:
            answer = Answer(200, view(cur, bonus_id))
        else:
            # Ended before this cancel took the wallet's lock: say how.
            cur.execute(STATUS, (bonus_id,))
            status, reason = cur.fetchone() or found
            answer = backoffice._refusal("BONUS_NOT_ACTIVE", f"{status}: {reason}")
    return backoffice._audited(cur, operator, "cancelBonus", {"bonusId": bonus_id}, answer)


def _bonus(row: Sequence[Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(row[1])
    return parsed


def list_bonuses(cur: Cursor, user_id: int, currency: str | None = None, limit: int | None = None,
                 cursor: str | None = None) -> Outcome:
    """A player's bonuses, newest first, with wagered, remaining, status and expiry."""
    cur.execute("SELECT 1 FROM CASINO_USERS WHERE id = %s", (user_id,))
    if cur.fetchone() is None:
        return backoffice._refusal("USER_NOT_FOUND")
    return backoffice.keyset_page(cur, LIST, {"user_id": user_id, "currency": currency}, limit, cursor, _bonus)


def due(cur: Cursor, limit: int = BATCH) -> list[int]:
    """Active bonuses past their expiry (by casino_clock()), oldest expiry first."""
    cur.execute(DUE, (limit,))
    return [bonus_id for bonus_id, in cur.fetchall()]


def forfeit_expired(cur: Cursor, bonus_id: int) -> bool:
    """One statement, safe to repeat: True when it forfeited the bonus, False when it had
    ended meanwhile (another pass, a money call on its wallet, a cancel)."""
    cur.execute(FORFEIT, (bonus_id, "expired"))
    row = cur.fetchone()
    return bool(row and row[0])


async def expire_due(db: Database) -> int:
    """One pass over db: forfeits every bonus past its expiry, each in
    a transaction of its own; returns how many this pass forfeited."""
    forfeited = 0
    while True:
        ids = await db.transaction(due, BATCH)
        done = [await db.statement(forfeit_expired, bonus_id) for bonus_id in ids]
        forfeited += sum(done)
        # A short page is the last; a page of which another pass took everything is left to it.
        if len(ids) < BATCH or not any(done):
            return forfeited


async def run_periodically(db: Database, interval: float, passes: int | None = None) -> None:
    """The server's expiry pass every `interval` seconds (`passes` of them, or for ever)."""
    done = 0
    while passes is None or done < passes:
        await asyncio.sleep(interval)
        try:
            forfeited = await expire_due(db)
            if forfeited:
                log.info("bonus expiry: %d bonus(es) forfeited", forfeited)
        except Exception:   # a failed pass is retried at the next interval
            log.exception("bonus expiry pass failed")
        done += 1


def main(argv: list[str] | None = None) -> int:
    import argparse

    from db.config import run_on_database

    parser = argparse.ArgumentParser(prog="python -m casino.bonuses", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["expire"], help="expire: forfeit every bonus past its expiry, once")
    parser.add_argument("--data-dir", help="embedded server data directory (without DATABASE_URL)")
    args = parser.parse_args(argv)

    async def run(dsn: str) -> int:
        db = Database(dsn, size=1, application_name="casino-bonus-expiry")
        try:
            return await expire_due(db)
        finally:
            db.close()

    forfeited = run_on_database("bonus expiry", args.data_dir, run)
    if forfeited is None:
        return 2
    print(f"forfeited {forfeited} expired bonus(es)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
