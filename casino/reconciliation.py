"""The casino's reconciliation with a provider: its ledger against the provider's own round
feed (POST /provider/rounds, signed like every casino call to a provider), round by round,
over a period of days; the result is stored and read back
(POST /casino/admin/reconciliations, GET /casino/admin/reconciliations/{id}). Not to be
confused with provider/reconcile.py, the provider's settling of its own uncertain calls.

Which rounds: those either side opened within the period -- the casino's first applied
(or tombstone) row of the round, the provider's openedAt -- each then looked up on the
other side whenever it was opened there (the casino by the round's id; the provider's feed
is read FEED_MARGIN beyond the period on each side, for a round opened just across
midnight on one side only).

Each side's figures for a round: stakes (accepted bets), refunds (what rollbacks gave back
of them), wins (accepted payouts), and whether it is open. A round is a difference of one
kind, the first that applies:

    ROUND_MISSING_AT_CASINO    the provider recorded accepted calls of a round the ledger
                               has no applied row of
    ROUND_MISSING_AT_PROVIDER  the ledger holds a round the provider's feed does not list
    ROUND_OPEN                 either side still holds the round open (its figures may yet
                               change: not compared)
    AMOUNT_MISMATCH            stakes, refunds, wins or the currency differ

and the totals of each side (per currency, over the rounds compared) are stored with them.
A feed that cannot be read whole -- no answer, a refusal, a malformed page, a cursor given
twice, more than FEED_MAX_PAGES, more rounds than FEED_MAX_ROUNDS, longer than
FEED_DEADLINE (FeedBounds: what a hostile or broken provider could otherwise make the
process hold, or wait for, without end) -- stores the reconciliation as failed, with why,
and no round of it, and answers 502.

The server runs it every day at DAILY_RECONCILIATION (a time in REPORT_TIME_ZONE; off by
default) for the day before, for every active provider of an operator's; `python -m
casino.reconcile` runs it from the command line.
"""
import asyncio
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypedDict, cast
from zoneinfo import ZoneInfo

from psycopg2.extensions import cursor as Cursor
from psycopg2.extras import execute_values

from db.pool import Database
from wire import refusals
from wire.validation import CURRENCY, FIRST_YEAR, IDENTIFIER, INSTANT, LAST_YEAR, MAX_SAFE_INTEGER

from .backoffice import _audited, keyset_page, timestamp
from .provider_link import ProviderLink, unavailable
from .reports import _refusal, period_refusal
from .wallet import Answer, Outcome

log = logging.getLogger("casino.reconciliation")

MAX_RECONCILIATION_DAYS = 31
FEED_MAX_PAGES = 10_000
FEED_MARGIN = timedelta(hours=1)
# The instants a feed takes (its years'): the margin stops there, on the period's first and
# last days that may be named.
FEED_FIRST = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
FEED_LAST = datetime(LAST_YEAR, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
KINDS = ("ROUND_MISSING_AT_CASINO", "ROUND_MISSING_AT_PROVIDER", "ROUND_OPEN", "AMOUNT_MISMATCH")
# Who asked, besides an operator key: the server's daily run and the command line.
SCHEDULE, COMMAND_LINE = "schedule", "command-line"

PROVIDER = "SELECT id, code, api_endpoint FROM CASINO_GAME_PROVIDERS WHERE code = %s"

PERIOD = """
    SELECT (%(from)s::date)::timestamp AT TIME ZONE %(tz)s, (%(to)s::date + 1)::timestamp AT TIME ZONE %(tz)s
"""

# The casino's side: the rounds the period's rows belong to, and the provider's rounds
# (whenever the casino saw them), each with its figures from all its rows. A round is its
# provider's round id; refusals moved nothing and are left out, tombstones are kept (a
# round the provider cancelled before its bet arrived is on both sides, with nothing moved).
CASINO_ROUNDS = """
    WITH wanted AS (
        SELECT t.round_id FROM CASINO_TRANSACTIONS t
        WHERE t.provider_id = %(provider)s AND t.created_at >= %(starts)s AND t.created_at < %(ends)s
          AND t.round_id IS NOT NULL AND t.outcome IN ('applied', 'tombstone')
        UNION
        SELECT unnest(%(also)s::text[])
    )
    SELECT t.round_id, min(w.currency_code), min(t.created_at),
           coalesce(sum(t.amount) FILTER (WHERE t.transaction_type = 'debit' AND t.outcome = 'applied'), 0),
           coalesce(sum(t.playable_movement) FILTER (WHERE t.transaction_type = 'rollback'
                                                       AND t.outcome = 'applied'), 0),
           coalesce(sum(t.amount) FILTER (WHERE t.transaction_type = 'credit' AND t.outcome = 'applied'), 0),
           count(*) FILTER (WHERE t.transaction_type = 'debit' AND t.outcome = 'applied'),
           count(*) FILTER (WHERE t.transaction_type = 'debit' AND t.outcome = 'applied'
                              AND NOT casino_refunded(t.provider_id, t.external_transaction_id)),
           count(*) FILTER (WHERE t.transaction_type = 'credit' AND t.outcome = 'applied')
    FROM wanted
    JOIN CASINO_TRANSACTIONS t ON t.provider_id = %(provider)s AND t.round_id = wanted.round_id
    JOIN CASINO_WALLETS w ON w.id = t.wallet_id
    WHERE t.outcome IN ('applied', 'tombstone')
    GROUP BY t.round_id
"""

STORE = """
    INSERT INTO CASINO_RECONCILIATIONS (provider_id, period_from, period_to, time_zone, starts_at, ends_at,
                                        status, failure, rounds_compared, casino_totals, provider_totals,
                                        requested_by)
    VALUES (%(provider)s, %(from)s, %(to)s, %(tz)s, %(starts)s, %(ends)s, %(status)s, %(failure)s,
            %(compared)s, %(casino_totals)s, %(provider_totals)s, %(requested_by)s)
    RETURNING id
"""

STORE_DIFFERENCES = """
    INSERT INTO CASINO_RECONCILIATION_DIFFERENCES (reconciliation_id, kind, round_id, currency, casino, provider)
    VALUES %s
"""

COLUMNS = """r.id, p.code, r.period_from, r.period_to, r.time_zone, r.starts_at, r.ends_at, r.status, r.failure,
             r.rounds_compared, r.casino_totals, r.provider_totals, r.requested_by, r.created_at,
             (SELECT count(*) FROM CASINO_RECONCILIATION_DIFFERENCES d WHERE d.reconciliation_id = r.id)"""

FIND = f"""
    SELECT {COLUMNS} FROM CASINO_RECONCILIATIONS r JOIN CASINO_GAME_PROVIDERS p ON p.id = r.provider_id
    WHERE r.id = %s
"""

# Newest first, by id; one provider's or all.
LIST = f"""
    SELECT {COLUMNS} FROM CASINO_RECONCILIATIONS r JOIN CASINO_GAME_PROVIDERS p ON p.id = r.provider_id
    WHERE (%(provider)s::text IS NULL OR p.code = %(provider)s)
      AND (%(cursor)s::bigint IS NULL OR r.id < %(cursor)s)
    ORDER BY r.id DESC
    LIMIT %(limit)s
"""

# A reconciliation's differences in the order they were found (by round id), a page at a
# time: the cursor is the last difference's id.
DIFFERENCES = """
    SELECT id, kind, round_id, currency, casino, provider FROM CASINO_RECONCILIATION_DIFFERENCES
    WHERE reconciliation_id = %(id)s AND (%(cursor)s::bigint IS NULL OR id > %(cursor)s)
    ORDER BY id
    LIMIT %(limit)s
"""

# The providers a run compares by default: an operator's (not a tool's), active.
ACTIVE_PROVIDERS = """
    SELECT code FROM CASINO_GAME_PROVIDERS WHERE enabled AND origin = 'operator' ORDER BY code
"""

# The daily run's: those not yet reconciled by a daily run for that day (a second server on
# the same database, or a restart, skips them).
DAILY_PROVIDERS = """
    SELECT p.code FROM CASINO_GAME_PROVIDERS p
    WHERE p.enabled AND p.origin = 'operator'
      AND NOT EXISTS (SELECT 1 FROM CASINO_RECONCILIATIONS r
                      WHERE r.provider_id = p.id AND r.period_from = %(day)s AND r.period_to = %(day)s
                        AND r.requested_by = %(schedule)s AND r.status = 'complete')
    ORDER BY p.code
"""


# --- the two sides' rounds ----------------------------------------------------------------------

class RoundFigures(TypedDict):
    """A side's figures of a round, as a difference shows them."""
    stakes: int
    refunds: int
    wins: int
    state: str
    openedAt: str


class SideTotal(TypedDict):
    """A side's totals in one currency."""
    currency: str
    rounds: int
    stakes: int
    refunds: int
    wins: int


@dataclass(frozen=True)
class Round:
    """One side's figures of a round; state: the casino's (open, settled, cancelled, empty)
    or the provider's status (open, settled, cancelled)."""
    currency: str
    stakes: int
    refunds: int
    wins: int
    state: str
    opened_at: datetime

    def figures(self) -> RoundFigures:
        return {"stakes": self.stakes, "refunds": self.refunds, "wins": self.wins, "state": self.state,
                "openedAt": timestamp(self.opened_at)}


def casino_state(bets: int, standing: int, payouts: int) -> str:
    """As the back office's round view says it (backoffice.round_state)."""
    if not bets:
        return "empty"
    if payouts:
        return "settled"
    return "open" if standing else "cancelled"


def casino_rounds(cur: Cursor, provider_id: int, starts: datetime, ends: datetime,
                  also: Iterable[str]) -> dict[str, Round]:
    """{round id: Round} of the casino's rounds with rows in [starts, ends), and of the
    round ids `also` whenever their rows are."""
    cur.execute(CASINO_ROUNDS, {"provider": provider_id, "starts": starts, "ends": ends, "also": list(also)})
    return {round_id: Round(currency, int(stakes), int(refunds), int(wins), casino_state(bets, standing, payouts),
                            opened)
            for round_id, currency, opened, stakes, refunds, wins, bets, standing, payouts in cur.fetchall()}


class FeedUnavailable(Exception):
    """The provider's feed could not be read whole; the message says why."""


@dataclass(frozen=True)
class FeedBounds:
    """How much of a provider's feed one reconciliation holds (rounds), and how long it reads
    it for (seconds, every page): the settings FEED_MAX_ROUNDS and FEED_DEADLINE."""
    max_rounds: int = 1_000_000
    deadline: float = 600.0


def _amount(value: object) -> bool:
    return type(value) is int and 0 <= value <= MAX_SAFE_INTEGER


def _feed_round(item: object) -> Round | None:
    """A Round from one item of a feed page, or None when it is not the protocol's."""
    if not (isinstance(item, dict) and IDENTIFIER.check(item.get("roundId"))
            and item.get("status") in ("open", "settled", "cancelled") and CURRENCY.check(item.get("currency"))
            and all(_amount(item.get(k)) for k in ("stakes", "refunds", "wins"))
            and INSTANT.check(item.get("openedAt"))
            and (item.get("closedAt") is None or INSTANT.check(item.get("closedAt")))):
        return None
    return Round(item["currency"], item["stakes"], item["refunds"], item["wins"], item["status"],
                 datetime.fromisoformat(item["openedAt"]))


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def read_feed(link: ProviderLink, provider_code: str, endpoint: str | None, casino_code: str, starts: datetime,
                    ends: datetime, page_size: int | None = None, bounds: FeedBounds = FeedBounds()) -> dict[str, Round]:
    """{round id: Round} of every page of the provider's feed for [starts, ends), read within
    bounds.deadline and of at most bounds.max_rounds rounds, else FeedUnavailable. page_size:
    ask for pages of that many rounds (the protocol has no such field: by default the
    provider's own page size)."""
    try:
        async with asyncio.timeout(bounds.deadline):
            return await _read_pages(link, provider_code, endpoint, casino_code, starts, ends, page_size,
                                     bounds.max_rounds)
    except TimeoutError:
        raise FeedUnavailable(f"the provider's round feed was not read whole within FEED_DEADLINE "
                              f"({bounds.deadline:g} s)") from None


async def _read_pages(link: ProviderLink, provider_code: str, endpoint: str | None, casino_code: str, starts: datetime,
                      ends: datetime, page_size: int | None, max_rounds: int) -> dict[str, Round]:
    rounds: dict[str, Round] = {}
    cursor: str | None = None
    cursors: set[str] = set()
    for _ in range(FEED_MAX_PAGES):
        body: dict[str, Any] = {"casinoCode": casino_code, "from": _instant(starts), "to": _instant(ends)}
        if page_size:
            body["limit"] = page_size
        if cursor is not None:
            body["cursor"] = cursor
        reply = await link.exchange(provider_code, endpoint, "rounds", body)
        page = reply.answer
        items = page.get("rounds") if page else None
        cursor = page.get("nextCursor") if page else None
        if not isinstance(items, list) or not (cursor is None or IDENTIFIER.check(cursor)):
            raise FeedUnavailable(unavailable(reply).message if reply.status != 200
                                  else "the provider's round feed is not the protocol's answer")
        if len(rounds) + len(items) > max_rounds:
            raise FeedUnavailable(f"the provider's round feed lists more than FEED_MAX_ROUNDS ({max_rounds}) rounds")
        for item in items:
            found = _feed_round(item)
            if found is None or item["roundId"] in rounds:
                raise FeedUnavailable(f"the provider's round feed lists a malformed or repeated round: "
                                      f"{json.dumps(item)[:200]}")
            rounds[item["roundId"]] = found
        if cursor is None:
            return rounds
        if cursor in cursors:
            raise FeedUnavailable(f"the provider's round feed gives the cursor {cursor} again: it would never end")
        cursors.add(cursor)
    raise FeedUnavailable(f"the provider's round feed did not end within {FEED_MAX_PAGES} pages")


# --- the comparison -----------------------------------------------------------------------------

# (kind, round id, currency, the casino's figures, the provider's): None for a side without the round.
Difference = tuple[str, str, str, RoundFigures | None, RoundFigures | None]


@dataclass
class Result:
    compared: int = 0
    differences: list[Difference] = field(default_factory=list)
    casino_totals: dict[str, SideTotal] = field(default_factory=dict)     # by currency
    provider_totals: dict[str, SideTotal] = field(default_factory=dict)


def _add(totals: dict[str, SideTotal], found: Round) -> None:
    total = totals.setdefault(found.currency, {"currency": found.currency, "rounds": 0, "stakes": 0,
                                               "refunds": 0, "wins": 0})
    total["rounds"] += 1
    total["stakes"] += found.stakes
    total["refunds"] += found.refunds
    total["wins"] += found.wins


def difference(casino: Round | None, provider: Round | None) -> str | None:
    """The kind of difference between the two sides' figures of a round, or None."""
    if casino is None:
        return "ROUND_MISSING_AT_CASINO"
    if provider is None:
        return "ROUND_MISSING_AT_PROVIDER"
    if casino.state == "open" or provider.state == "open":
        return "ROUND_OPEN"
    if (casino.currency, casino.stakes, casino.refunds, casino.wins) != \
            (provider.currency, provider.stakes, provider.refunds, provider.wins):
        return "AMOUNT_MISMATCH"
    return None


def compare(casino: Mapping[str, Round], provider: Mapping[str, Round], starts: datetime, ends: datetime) -> Result:
    """casino, provider: {round id: Round}, each holding every round the other side opened
    in [starts, ends) that it knows of."""
    result = Result()
    opened = {round_id for side in (casino, provider) for round_id, found in side.items()
              if starts <= found.opened_at < ends}
    for round_id in sorted(opened):
        at_casino, at_provider = casino.get(round_id), provider.get(round_id)
        result.compared += 1
        for side, totals in ((at_casino, result.casino_totals), (at_provider, result.provider_totals)):
            if side is not None:
                _add(totals, side)
        kind = difference(at_casino, at_provider)
        if kind:
            either = at_casino or at_provider
            assert either is not None, "a round of `opened` is on one side at least"
            result.differences.append((kind, round_id, either.currency,
                                       at_casino.figures() if at_casino else None,
                                       at_provider.figures() if at_provider else None))
    return result


# --- running one, storing it, reading it back ---------------------------------------------------

def store(cur: Cursor, provider_id: int, start: date, end: date, tz: str, starts: datetime, ends: datetime,
          requested_by: str, result: Result | None = None, failure: str | None = None) -> int:
    """The reconciliation row and its differences, in one transaction; returns its id."""
    cur.execute(STORE, {"provider": provider_id, "from": start, "to": end, "tz": tz, "starts": starts,
                        "ends": ends, "status": "failed" if failure else "complete", "failure": failure,
                        "compared": result.compared if result else 0,
                        "casino_totals": json.dumps(sorted(result.casino_totals.values(), key=_currency)
                                                    if result else []),
                        "provider_totals": json.dumps(sorted(result.provider_totals.values(), key=_currency)
                                                      if result else []),
                        "requested_by": requested_by})
    stored = cur.fetchone()
    assert stored is not None, "INSERT ... RETURNING answers one row"
    reconciliation_id: int = stored[0]
    if result and result.differences:
        execute_values(cur, STORE_DIFFERENCES, [
            (reconciliation_id, kind, round_id, currency, json.dumps(at_casino) if at_casino else None,
             json.dumps(at_provider) if at_provider else None)
            for kind, round_id, currency, at_casino, at_provider in result.differences], page_size=1000)
    return reconciliation_id


def _currency(total: SideTotal) -> str:
    return total["currency"]


def _reconciliation(row: Sequence[Any]) -> dict[str, Any]:
    (reconciliation_id, code, start, end, tz, starts, ends, status, failure, compared, casino_totals,
     provider_totals, requested_by, created_at, differences) = row
    return {"reconciliationId": reconciliation_id, "providerCode": code, "from": start.isoformat(),
            "to": end.isoformat(), "timeZone": tz, "startsAt": timestamp(starts), "endsAt": timestamp(ends),
            "status": status, "failure": failure, "roundsCompared": compared,
            "totals": {"casino": casino_totals, "provider": provider_totals}, "requestedBy": requested_by,
            "createdAt": timestamp(created_at), "differenceCount": differences}


def _difference(row: Sequence[Any]) -> dict[str, Any]:
    _, kind, round_id, currency, at_casino, at_provider = row
    return {"kind": kind, "roundId": round_id, "currency": currency, "casino": at_casino, "provider": at_provider}


DEFAULT_DIFFERENCES = 200
MAX_DIFFERENCES = 1000


def get(cur: Cursor, reconciliation_id: int, limit: int | None = None, cursor: str | None = None) -> Outcome:
    """A stored reconciliation and a page of its differences (nextCursor: the next page)."""
    cur.execute(FIND, (reconciliation_id,))
    row = cur.fetchone()
    if row is None:
        return _refusal("RECONCILIATION_NOT_FOUND")
    limit = limit or DEFAULT_DIFFERENCES
    cur.execute(DIFFERENCES, {"id": reconciliation_id, "cursor": int(cursor) if cursor else None,
                              "limit": limit + 1})
    found = cur.fetchall()
    page = found[:limit]
    return Answer(200, {**_reconciliation(row), "differences": [_difference(d) for d in page],
                        "nextCursor": str(page[-1][0]) if len(found) > limit else None})


def list_reconciliations(cur: Cursor, provider_code: str | None = None, limit: int | None = None,
                         cursor: str | None = None) -> Outcome:
    """Reconciliations newest first (without their differences), a page at a time."""
    if provider_code is not None:
        cur.execute(PROVIDER, (provider_code,))
        if cur.fetchone() is None:
            return _refusal("PROVIDER_NOT_FOUND")
    return keyset_page(cur, LIST, {"provider": provider_code}, limit, cursor, _reconciliation)


def _find_provider(cur: Cursor, code: str) -> tuple[int, str, str | None] | None:
    """(id, code, api_endpoint) of the provider, or None."""
    cur.execute(PROVIDER, (code,))
    return cast(tuple[int, str, str | None] | None, cur.fetchone())


def _instants(cur: Cursor, tz: str, start: date, end: date) -> tuple[datetime, datetime]:
    """When the days start..end of time zone tz start and end."""
    cur.execute(PERIOD, {"tz": tz, "from": start, "to": end})
    row = cur.fetchone()
    assert row is not None, "a SELECT of two instants answers one row"
    return row[0], row[1]


async def _answered(db: Database, operator: str | None, request: dict[str, Any], answer: Outcome) -> Outcome:
    """A refusal of an operator's request, recorded like every admin write."""
    if operator is None:
        return answer
    return await db.transaction(_audited, operator, "createReconciliation", request, answer)


async def reconcile(db: Database, link: ProviderLink, casino_code: str, tz: str, provider_code: str, start: date,
                    end: date, requested_by: str, operator: str | None = None,
                    bounds: FeedBounds = FeedBounds()) -> Outcome:
    """Compares the provider's feed with the ledger over the days start..end (end included,
    in time zone tz) and stores the result; bounds: how much of the feed it holds, and for
    how long it reads it (FeedBounds). operator: the key id of an API call, whose
    request is audited with the stored result (requested_by is then that key id too).
    Answer 201 the stored reconciliation, 404 PROVIDER_NOT_FOUND, 422 PERIOD_INVALID, or
    502 PROVIDER_UNAVAILABLE (stored as failed)."""
    request = {"providerCode": provider_code, "from": start.isoformat(), "to": end.isoformat()}
    refused = period_refusal(start, end, MAX_RECONCILIATION_DAYS)
    if refused:
        return await _answered(db, operator, request, refused)
    provider = await db.transaction(_find_provider, provider_code)
    if provider is None:
        return await _answered(db, operator, request, _refusal("PROVIDER_NOT_FOUND"))
    provider_id, code, endpoint = provider
    starts, ends = await db.transaction(_instants, tz, start, end)
    failure: str | None
    result: Result | None
    try:
        feed = await read_feed(link, code, endpoint, casino_code, max(starts - FEED_MARGIN, FEED_FIRST),
                               min(ends + FEED_MARGIN, FEED_LAST), bounds=bounds)
    except FeedUnavailable as exc:
        failure = str(exc)
        result = None
    else:
        failure = None
        in_period = [round_id for round_id, found in feed.items() if starts <= found.opened_at < ends]
        casino = await db.transaction(casino_rounds, provider_id, starts, ends, in_period)
        result = compare(casino, feed, starts, ends)

    def write(cur: Cursor) -> Outcome:
        reconciliation_id = store(cur, provider_id, start, end, tz, starts, ends, requested_by, result, failure)
        answer: Answer | refusals.Refused
        if failure:
            # The catalogue's code, in words that say what failed and where it is kept.
            answer = refusals.BY_CODE["PROVIDER_UNAVAILABLE"].worded(
                f"{failure} (reconciliation {reconciliation_id}, stored as failed)")
        else:
            answer = get(cur, reconciliation_id)
            answer = Answer(201, answer.body)
        return _audited(cur, operator, "createReconciliation", request, answer) if operator else answer
    answer = await db.transaction(write)
    if failure:
        log.warning("reconciliation with %s of %s..%s failed: %s", code, start, end, failure)
    elif result is not None:
        log.info("reconciliation with %s of %s..%s: %d round(s) compared, %d difference(s)", code, start, end,
                 result.compared, len(result.differences))
    return answer


# --- every day ----------------------------------------------------------------------------------

def next_daily_run(now: datetime, at: time, tz: str) -> datetime:
    """The next instant (UTC), after now (aware), when the clock in time zone tz reads `at`
    (a time of day). On the day a time zone skips it (02:30 when clocks go from 02:00 to
    03:00), the time it would have been: 03:30."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    for day in (local.date(), local.date() + timedelta(days=1)):
        candidate = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
        if candidate > now:
            return candidate
    raise AssertionError(f"{at} in {tz} comes today or tomorrow, after {now}")


def active_providers(cur: Cursor) -> list[str]:
    cur.execute(ACTIVE_PROVIDERS)
    return [row[0] for row in cur.fetchall()]


async def daily_pass(db: Database, link: ProviderLink, casino_code: str, tz: str, day: date,
                     bounds: FeedBounds = FeedBounds()) -> dict[str, Outcome]:
    """Reconciles `day` with every active provider of an operator's not yet reconciled for
    it by a daily run; returns {provider code: Answer}."""
    codes = await db.transaction(lambda cur: (cur.execute(DAILY_PROVIDERS, {"day": day, "schedule": SCHEDULE}),
                                              [row[0] for row in cur.fetchall()])[1])
    return {code: await reconcile(db, link, casino_code, tz, code, day, day, SCHEDULE, bounds=bounds)
            for code in codes}


async def run_daily(db: Database, link: ProviderLink, casino_code: str, tz: str, at: time,
                    bounds: FeedBounds = FeedBounds()) -> None:
    """Every day at `at` in tz, the day before, with every provider (the server's task when
    DAILY_RECONCILIATION is set)."""
    while True:
        wake = next_daily_run(datetime.now(UTC), at, tz)
        await asyncio.sleep(max(0.0, (wake - datetime.now(UTC)).total_seconds()))
        try:
            await daily_pass(db, link, casino_code, tz, wake.astimezone(ZoneInfo(tz)).date() - timedelta(days=1),
                             bounds)
        except Exception:   # a failed pass is tried again the next day; each run is logged
            log.exception("daily reconciliation failed")
