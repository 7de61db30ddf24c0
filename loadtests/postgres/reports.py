"""How long each report takes on a large ledger: 5 million rows over 90 days by default.

    python -m loadtests.reports [--rows 5000000] [--days 90] [--runs 3] [--no-audit]

Builds a scratch database -- an embedded PostgreSQL in a temporary directory, or with
DATABASE_URL a database of its own on that server -- and removes it at the end. Players,
providers, games and sessions are made with the back office's own verbs, each wallet
funded by a deposit through the cashier's function; then the ledger is bulk-loaded in one
INSERT ... SELECT over generate_series: rounds spread evenly over the days (in time order,
as the money path appends them), each a bet, sometimes a second one, sometimes a refund
of the first, a refused bet or a tombstone, and a payout (most often 0, a few at 50 times
the stake), with the wallets' balances and every row's balance_after what those movements
make them. Foreign keys are not checked row by row during the load (session_replication_role
= replica; the rows are made to hold them); `python -m casino.audit`'s checks run on the
result instead, and must find nothing (--no-audit skips them: minutes on 5 million rows).

Then each report is timed as its handler runs it -- one function of casino/reports.py (or
casino/reconciliation.py's ledger side) in one transaction -- --runs times, and the table
gives the median, the fastest and the slowest, and the rows it answered; one line more
times the longest GGR report with its rounds count left out, which is what counting
rounds costs. Figures and what
they mean: docs/performance.md, "Reports".
"""
import argparse
import contextlib
import os
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, UTC
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

from casino import audit, catalogue, clock, players, reconciliation, reports, sessions
from db.config import database_from_environment, ensure_database
from sql.migrate import migrate

ORIGIN = "bench"
OPERATOR = players.operator_for(ORIGIN)
PROVIDERS, GAMES_PER_PROVIDER, PLAYERS, SEATS_PER_PLAYER = 5, 8, 3_000, 4
CURRENCIES = ("USD", "EUR", "JPY")
DEPOSIT = 10**9
ROWS_PER_ROUND = 2.355  # what the round mix below averages (1 + .3 + .02 + .1 + .005 + .93): rounds = rows / this

# One row per seat (a player's session on a game), numbered from 0, for the load to pick by.
SEATS = """
    CREATE UNLOGGED TABLE reports_bench_seats AS
    SELECT (row_number() OVER (ORDER BY s.id) - 1)::int AS idx, s.id AS session_id, s.wallet_id,
           g.provider_id, w.currency_code AS currency
    FROM CASINO_GAME_SESSIONS s JOIN CASINO_GAMES g ON g.id = s.game_id JOIN CASINO_WALLETS w ON w.id = s.wallet_id
    WHERE g.provider_id = ANY(%(providers)s)
"""

# Every round's rows, in the order the money path would have appended them. A round's
# dice are hashes of its number, so one round's rows agree with each other: a bet (10.00
# to 500.00), a second bet in 30 %, a refund of the first in 10 %, a refused bet (too big:
# INSUFFICIENT_FUNDS) in 2 %, a tombstone (the rollback of a bet never seen) in 0.5 %; a
# payout when a bet stands: 0 in 59.8 %, twice the standing stakes in 40 %, 50 times in 0.2 %
# (a return to player of 90 %).
ROUNDS = """
    CREATE UNLOGGED TABLE reports_bench_rows AS
    WITH rounds AS (
        SELECT r,
               %(start)s::timestamptz + (r - 1) * %(spacing)s::interval AS at,
               abs(hashint8(r)) %% %(seats)s AS seat,
               10 * (1 + abs(hashint8(r * 7 + 1)) %% 50) * 100 AS stake1,
               abs(hashint8(r * 7 + 2)) %% 100 < 30 AS has_bet2,
               10 * (1 + abs(hashint8(r * 7 + 3)) %% 30) * 100 AS stake2,
               abs(hashint8(r * 7 + 4)) %% 100 < 10 AS refund1,
               abs(hashint8(r * 7 + 5)) %% 100 < 2 AS refused,
               abs(hashint8(r * 7 + 6)) %% 1000 < 5 AS tombstone,
               abs(hashint8(r * 7 + 7)) %% 1000 AS luck
        FROM generate_series(1, %(rounds)s::bigint) AS r
    ), played AS (
        SELECT rounds.*, s.session_id, s.wallet_id, s.provider_id, s.currency,
               (CASE WHEN refund1 THEN 0 ELSE stake1 END) + (CASE WHEN has_bet2 THEN stake2 ELSE 0 END) AS standing
        FROM rounds JOIN reports_bench_seats s ON s.idx = rounds.seat
    )
    SELECT p.r * 10 + k.step AS ord, p.provider_id, 'b' || p.r || k.suffix AS external_transaction_id,
           k.kind AS transaction_type, p.wallet_id, p.session_id, 'rb-' || p.r AS round_id, k.amount,
           k.related, k.outcome, k.movement, k.status, p.currency, p.at + k.step * interval '1 second' AS created_at
    FROM played p
    CROSS JOIN LATERAL (VALUES
        (1, '-1', 'debit', p.stake1, NULL, 'applied', -p.stake1, 200, true),
        (2, '-2', 'debit', p.stake2, NULL, 'applied', -p.stake2, 200, p.has_bet2),
        (3, '-x', 'debit', 10 * %(deposit)s::bigint, NULL, 'refused', 0, 422, p.refused),
        (4, '-rb', 'rollback', p.stake1, 'b' || p.r || '-1', 'applied', p.stake1, 200, p.refund1),
        (5, '-t', 'rollback', 0, 'b' || p.r || '-unseen', 'tombstone', 0, 200, p.tombstone),
        (6, '-w', 'credit',
         CASE WHEN p.luck < 598 THEN 0 WHEN p.luck < 998 THEN 2 * p.standing ELSE 50 * p.standing END,
         NULL, 'applied',
         CASE WHEN p.luck < 598 THEN 0 WHEN p.luck < 998 THEN 2 * p.standing ELSE 50 * p.standing END,
         200, p.standing > 0)
    ) AS k(step, suffix, kind, amount, related, outcome, movement, status, happens)
    WHERE k.happens
"""

# The rows into the ledger in time order, each with the balance its movement left: the
# wallet's deposit plus its movements so far.
LOAD = """
    INSERT INTO CASINO_TRANSACTIONS (
        provider_id, external_transaction_id, transaction_type, wallet_id, session_id, round_id, amount,
        related_external_transaction_id, request_fingerprint, outcome, playable_movement, redeemable_movement,
        balance_after, response_status, response_cache, created_at, refunded_bet_id)
    SELECT provider_id, external_transaction_id, transaction_type, wallet_id, session_id, round_id, amount, related,
           'bench', outcome, movement, movement,
           %(deposit)s + sum(movement) OVER (PARTITION BY wallet_id ORDER BY ord), status,
           CASE WHEN status = 200
                THEN json_build_object('transactionId', external_transaction_id, 'balance', %(deposit)s,
                                       'currency', currency)
                ELSE json_build_object('error', json_build_object('code', 'INSUFFICIENT_FUNDS',
                                       'message', 'the balance does not cover the bet')) END,
           created_at, CASE WHEN transaction_type = 'rollback' AND movement > 0 THEN related END
    FROM reports_bench_rows
    ORDER BY ord
"""

BALANCES = """
    UPDATE CASINO_WALLETS w SET playable_balance = w.playable_balance + m.moved,
                                redeemable_balance = w.redeemable_balance + m.moved
    FROM (SELECT wallet_id, sum(movement) AS moved FROM reports_bench_rows GROUP BY wallet_id) m
    WHERE w.id = m.wallet_id
"""


def provision(cur, tag, since):
    """Providers with games, players with a wallet each, seats, deposits, all stamped at
    `since` (the scratch database's test clock, casino/clock.py); returns the providers' ids and codes."""
    previous = clock.freeze(cur, since)     # for this transaction only
    providers = []
    for p in range(PROVIDERS):
        code = f"RPT-{tag}-{p}"
        answer = catalogue.create_provider(cur, OPERATOR, {"providerCode": code, "name": f"Reports {p}",
                                                           "apiEndpoint": None}, origin=ORIGIN)
        providers.append((code, [checked(catalogue.create_game(cur, OPERATOR, {
            "providerCode": code, "providerGameId": f"g{g}", "name": f"Game {p}.{g}", "currency": "USD",
            "minBet": 1, "maxBet": 10**12}))["gameId"] for g in range(GAMES_PER_PROVIDER)]))
        checked(answer)
    games = [game for _, provider_games in providers for game in provider_games]
    for n in range(PLAYERS):
        currency = CURRENCIES[n % len(CURRENCIES)]
        user_id, wallets = players.create_player(cur, f"rpt-{tag}-{n}", (currency,), origin=ORIGIN)
        players.deposit(cur, wallets[currency], DEPOSIT, f"rpt-{tag}-{n}")
        for s in range(SEATS_PER_PLAYER):
            token = sessions.create_session(cur, user_id, wallets[currency], games[(n * 7 + s * 13) % len(games)])
            sessions.activate_session(cur, token, token)
    cur.execute("SELECT id, code FROM CASINO_GAME_PROVIDERS WHERE code LIKE %s ORDER BY code", (f"RPT-{tag}-%",))
    made = cur.fetchall()
    clock.restore(cur, previous)
    return made


def checked(answer):
    if answer.status != 201:
        raise RuntimeError(f"provisioning refused: {answer.status} {answer.body}")
    return answer.body


def build(dsn, rows, days, end):
    """The scratch ledger, its days ending at `end`; returns (provider ids and codes, rows
    loaded, seconds it took)."""
    tag = uuid.uuid4().hex[:6]
    conn = psycopg2.connect(dsn)
    try:
        began = time.monotonic()
        span = timedelta(days=days)
        with conn, conn.cursor() as cur:
            providers = provision(cur, tag, end - span - timedelta(hours=1))
        with conn, conn.cursor() as cur:
            rounds = int(rows / ROWS_PER_ROUND)
            cur.execute("SET LOCAL work_mem = '512MB'")
            cur.execute("SET LOCAL session_replication_role = replica")
            cur.execute(SEATS, {"providers": [pid for pid, _ in providers]})
            cur.execute("SELECT count(*) FROM reports_bench_seats")
            seats = cur.fetchone()[0]
            cur.execute(ROUNDS, {"start": end - span, "spacing": span / rounds, "seats": seats, "rounds": rounds,
                                 "deposit": DEPOSIT})
            cur.execute(LOAD, {"deposit": DEPOSIT})
            loaded = cur.rowcount
            cur.execute(BALANCES)
            cur.execute("DROP TABLE reports_bench_rows, reports_bench_seats")
        conn.autocommit = True
        with conn.cursor() as cur:
            # What autovacuum does to a table that grew: statistics, and the BRIN summaries.
            cur.execute("VACUUM ANALYZE CASINO_TRANSACTIONS")
            cur.execute("VACUUM ANALYZE CASINO_WALLETS")
        return providers, loaded, time.monotonic() - began
    finally:
        conn.close()


def timed(dsn, runs, fn, *args):
    """(median, fastest, slowest seconds, what the last run answered) of fn(cursor, *args),
    each run in a transaction of its own, as the handlers run it."""
    conn = psycopg2.connect(dsn)
    try:
        seconds, answer = [], None
        for _ in range(runs):
            began = time.perf_counter()
            with conn, conn.cursor() as cur:
                answer = fn(cur, *args)
            seconds.append(time.perf_counter() - began)
        return statistics.median(seconds), min(seconds), max(seconds), answer
    finally:
        conn.close()


def size(answer):
    """How many rows a report answered."""
    body = getattr(answer, "body", answer)
    if isinstance(body, dict):
        for key in ("rows", "items", "currencies"):
            if key in body:
                return len(body[key])
    return len(body)


def without_rounds(cur, tz, start, end, group_by):
    """The GGR report with its rounds count left out (0): what counting them costs the
    report, measured beside it. Not a report anyone is served."""
    shipped = reports.GGR
    begin = shipped.index("t.transaction_type = 'debit' AND NOT EXISTS")
    stop = shipped.index("AS opens_round")
    cur.execute(shipped[:begin] + "false " + shipped[stop:],
                {"tz": tz, "from": start, "to": end, "kinds": reports.REPORTED_KINDS, "provider_id": None,
                 "by_day": "day" in group_by, "by_provider": "provider" in group_by, "by_game": "game" in group_by})
    return cur.fetchall()


def cases(providers, days, end):
    last = (end - timedelta(days=1)).date()
    month = date(last.year, last.month, 1)
    provider_id, provider_code = providers[0]
    tz = "UTC"
    return [
        ("GGR, 1 day by day, provider, game", reports.ggr, tz, last, last, ["day", "provider", "game"]),
        ("GGR, 30 days by day and provider", reports.ggr, tz, last - timedelta(days=29), last, ["day", "provider"]),
        (f"GGR, {days} days by provider", reports.ggr, tz, last - timedelta(days=days - 1), last, ["provider"]),
        (f"GGR, {days} days by day, provider, game", reports.ggr, tz, last - timedelta(days=days - 1), last,
         ["day", "provider", "game"]),
        ("  the same without counting rounds (what they cost)", without_rounds, tz,
         last - timedelta(days=days - 1), last, ["day", "provider", "game"]),
        ("player funds, now", reports.player_funds, None),
        ("player funds, 1 day ago", reports.player_funds, end - timedelta(days=1)),
        (f"player funds, {days // 2} days ago", reports.player_funds, end - timedelta(days=days // 2)),
        (f"invoice, 1 provider, {month:%Y-%m}", reports.invoice, tz, provider_code, month),
        ("large wins, 7 days, 20 x", reports.large_wins, tz, last - timedelta(days=6), last, "20", 200, None),
        ("reconciliation, the ledger's side of 1 day, 1 provider", reconciliation.casino_rounds, provider_id,
         end - timedelta(days=1), end, []),
    ]


@contextlib.contextmanager
def scratch_database():
    """The DSN of a database of the run's own, removed at the end: on DATABASE_URL's server,
    or an embedded PostgreSQL in a temporary directory."""
    url = os.environ.get("DATABASE_URL")
    if url:
        name = f"reports_bench_{uuid.uuid4().hex[:8]}"
        ensure_database(url, name)
        try:
            yield urlunsplit(urlsplit(url)._replace(path="/" + name))
        finally:
            conn = psycopg2.connect(url)
            conn.autocommit = True
            try:
                with conn.cursor() as cur:
                    cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            finally:
                conn.close()
        return
    scratch = tempfile.mkdtemp(prefix="casino-reports-")
    try:
        with database_from_environment(scratch + "/pg", database_url="") as database:
            yield database.dsn
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m loadtests.reports", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="ledger rows to load")
    parser.add_argument("--days", type=int, default=90, help="days they are spread over, up to today")
    parser.add_argument("--runs", type=int, default=3, help="runs of each report (the median is given)")
    parser.add_argument("--no-audit", action="store_true", help="skip the ledger audit of the loaded rows")
    args = parser.parse_args(argv)
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with scratch_database() as dsn:
        migrate(dsn, log=lambda _: None)
        clock.allow_test_clock(dsn)     # its players and deposits are dated before the ledger's first day
        providers, loaded, seconds = build(dsn, args.rows, args.days, end)
        print(f"loaded {loaded:,} ledger rows over {args.days} days in {seconds:.0f} s", flush=True)
        if not args.no_audit:
            began = time.monotonic()
            conn = psycopg2.connect(dsn)
            try:
                with conn, conn.cursor() as cur:
                    problems = audit.find_violations(cur)
            finally:
                conn.close()
            print(f"audit: {len(problems)} violation(s) in {time.monotonic() - began:.0f} s", flush=True)
            for problem in problems[:10]:
                print(f"  VIOLATION {problem}")
        print(f"\n{'report':58s} {'median ms':>10s} {'fastest':>9s} {'slowest':>9s} {'rows':>6s}")
        for label, fn, *call in cases(providers, args.days, end):
            median, fastest, slowest, answer = timed(dsn, args.runs, fn, *call)
            print(f"{label:58s} {median * 1000:10,.0f} {fastest * 1000:9,.0f} {slowest * 1000:9,.0f} "
                  f"{size(answer):6d}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
