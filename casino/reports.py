"""The money reports of PROTOCOL.md's "Reports and reconciliation", read from the ledger.

  ggr             GGR and NGR by day, provider and game, per currency, with totals
  player_funds    what the casino owes its players at an instant: now, or reconstructed
  invoice         a provider's month: GGR per game, its revenue share, the amount due
  large_wins      payouts of at least N times their round's stakes

Each verb takes a cursor and returns an Answer (status, body: a dict); casino/report_handlers.py
renders it as JSON (minor units) or CSV (major units, casino/currencies.py). Nothing here
writes: the reports read the ledger as the money calls left it, by the time of each row
(a BRIN index on created_at, migration 0017), and add no write to the money path.

What counts, in every report (README, "Reports"): applied bets, payouts and refunds -- a
provider's ledger rows that moved money -- and, for NGR, bonus completions (the bonus money
the casino made cash). Refusals and tombstones moved nothing and count nowhere; a replay
writes no row; deposits and withdrawals are the cashier's, and bonus grants and forfeits
the promotions', not gaming.
A row counts in the day (in the reporting time zone) of its own time: a bet before
midnight and its payout after count on two days.
"""
import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from psycopg2.extensions import cursor as Cursor

from wire.refusals import Refused

from . import refusals
from .backoffice import keyset_page, timestamp
from .currencies import major
from .wallet import Answer, Outcome

# REPORT_TIME_ZONE's default: the days the reports and reconciliations count are UTC's.
DEFAULT_TIME_ZONE = "UTC"


def time_zone(text: str) -> str:
    """REPORT_TIME_ZONE's value (the server's settings, the command line's): a zone of the tz
    database; ValueError otherwise."""
    name = text.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("not a time zone of the tz database (UTC, Europe/London, America/Toronto, ...)") from None
    return name

# The ledger kinds the GGR report counts: the provider's bets, payouts and refunds, and the
# casino's bonus completions (NGR's bonus cost: sql/functions/casino_reports.sql). A
# completion is no provider's and no game's: it counts in the day of its row, and under
# provider and game null (a group of its own when the report is grouped by either); a
# provider's invoice never counts it.
REPORTED_KINDS = ["debit", "credit", "rollback", "bonus_completion"]

GROUPS = ("day", "provider", "game")
MAX_REPORT_DAYS = 366

# Each reported row of a period, with what it adds to each figure, then grouped twice: by
# the keys asked for (a key not asked for is NULL, so it does not split the groups) and by
# currency alone -- the totals, summed by the database from the rows, not from the groups.
# A round is counted once, where its first applied bet is (lowest id), so rounds add up
# over any grouping like the money does. The bonus parts are sql/functions/casino_reports.sql.
GGR = """
    SELECT r.currency, r.day, r.provider, r.game_id, GROUPING(r.day, r.provider, r.game_id) <> 0 AS total,
           count(*) FILTER (WHERE r.opens_round), count(*) FILTER (WHERE r.kind = 'debit'),
           coalesce(sum(r.stake), 0), coalesce(sum(r.refund), 0), coalesce(sum(r.win), 0),
           coalesce(sum(r.bonus_stake), 0), coalesce(sum(r.bonus_win), 0), coalesce(sum(r.bonus_completed), 0)
    FROM (
        SELECT w.currency_code AS currency,
               CASE WHEN %(by_day)s THEN (t.created_at AT TIME ZONE %(tz)s)::date END AS day,
               CASE WHEN %(by_provider)s THEN p.code END AS provider,
               CASE WHEN %(by_game)s THEN s.game_id END AS game_id,
               t.transaction_type AS kind,
               CASE WHEN t.transaction_type = 'debit' THEN t.amount END AS stake,
               CASE WHEN t.transaction_type = 'rollback' THEN t.playable_movement END AS refund,
               CASE WHEN t.transaction_type = 'credit' THEN t.amount END AS win,
               casino_report_bonus_stake(t) AS bonus_stake,
               casino_report_bonus_win(t) AS bonus_win,
               casino_report_bonus_completed(t) AS bonus_completed,
               t.transaction_type = 'debit' AND NOT EXISTS (
                   SELECT 1 FROM CASINO_TRANSACTIONS e
                   WHERE e.provider_id = t.provider_id AND e.round_id = t.round_id AND e.id < t.id
                     AND e.transaction_type = 'debit' AND e.outcome = 'applied') AS opens_round
        FROM CASINO_TRANSACTIONS t
        JOIN CASINO_WALLETS w ON w.id = t.wallet_id
        LEFT JOIN CASINO_GAME_SESSIONS s ON s.id = t.session_id
        LEFT JOIN CASINO_GAME_PROVIDERS p ON p.id = t.provider_id
        WHERE t.created_at >= (%(from)s::date)::timestamp AT TIME ZONE %(tz)s
          AND t.created_at < (%(to)s::date + 1)::timestamp AT TIME ZONE %(tz)s
          AND t.outcome = 'applied' AND t.transaction_type = ANY(%(kinds)s)
          AND (%(provider_id)s::bigint IS NULL OR t.provider_id = %(provider_id)s)
    ) r
    GROUP BY GROUPING SETS ((r.currency, r.day, r.provider, r.game_id), (r.currency))
    ORDER BY total, r.day, r.provider, r.game_id, r.currency
"""

# Player funds now: the wallets' balances, summed. cash is the redeemable balance and
# bonus the rest of the playable one (PROTOCOL.md, "Bonus money": balance = cash + bonus,
# redeemable = cash); without bonus money the two balances are equal, so bonus is 0.
FUNDS_NOW = """
    SELECT currency_code, count(*), coalesce(sum(playable_balance), 0), coalesce(sum(redeemable_balance), 0)
    FROM CASINO_WALLETS
    GROUP BY currency_code
    ORDER BY currency_code
"""

# Player funds at a past instant, reconstructed from the ledger, which explains every
# balance (casino.audit): the movements of the rows stamped at or before it, or -- the
# same sums, when the instant is recent and fewer rows follow it -- the balances now less
# the movements of the rows after it. One statement: one snapshot of balances and rows.
FUNDS_FROM_ROWS_BEFORE = """
    SELECT w.currency_code, count(*) FILTER (WHERE w.created_at <= %(at)s),
           coalesce(sum(m.playable), 0), coalesce(sum(m.redeemable), 0)
    FROM CASINO_WALLETS w
    LEFT JOIN (SELECT t.wallet_id, sum(t.playable_movement) AS playable, sum(t.redeemable_movement) AS redeemable
               FROM CASINO_TRANSACTIONS t
               WHERE t.outcome = 'applied' AND t.created_at <= %(at)s
               GROUP BY t.wallet_id) m ON m.wallet_id = w.id
    GROUP BY w.currency_code
    ORDER BY w.currency_code
"""

FUNDS_FROM_ROWS_AFTER = """
    SELECT w.currency_code, count(*) FILTER (WHERE w.created_at <= %(at)s),
           sum(w.playable_balance) - coalesce(sum(m.playable), 0),
           sum(w.redeemable_balance) - coalesce(sum(m.redeemable), 0)
    FROM CASINO_WALLETS w
    LEFT JOIN (SELECT t.wallet_id, sum(t.playable_movement) AS playable, sum(t.redeemable_movement) AS redeemable
               FROM CASINO_TRANSACTIONS t
               WHERE t.outcome = 'applied' AND t.created_at > %(at)s
               GROUP BY t.wallet_id) m ON m.wallet_id = w.id
    GROUP BY w.currency_code
    ORDER BY w.currency_code
"""

# When the ledger starts (its first row, by the primary key) and what time it is: which
# side of the instant holds fewer rows.
LEDGER_SPAN = """
    SELECT now(), (SELECT created_at FROM CASINO_TRANSACTIONS ORDER BY id LIMIT 1)
"""

PROVIDER = "SELECT id, code, name, revenue_share FROM CASINO_GAME_PROVIDERS WHERE code = %s"

GAME_NAMES = "SELECT id, name FROM CASINO_GAMES WHERE id = ANY(%s)"

# Payouts of a period worth at least `multiple` times their round's stakes: its applied
# bets less what was refunded of them (a round's every wallet; a round is its provider's
# round id). Newest first, a page at a time.
LARGE_WINS = """
    SELECT t.id, p.code, t.round_id, t.external_transaction_id, w.user_id, s.game_id, w.currency_code,
           t.amount, r.stakes, t.created_at
    FROM CASINO_TRANSACTIONS t
    JOIN CASINO_WALLETS w ON w.id = t.wallet_id
    JOIN CASINO_GAME_PROVIDERS p ON p.id = t.provider_id
    LEFT JOIN CASINO_GAME_SESSIONS s ON s.id = t.session_id
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(b.amount) FILTER (WHERE b.transaction_type = 'debit'), 0)
               - coalesce(sum(b.playable_movement) FILTER (WHERE b.transaction_type = 'rollback'), 0) AS stakes
        FROM CASINO_TRANSACTIONS b
        WHERE b.provider_id = t.provider_id AND b.round_id = t.round_id AND b.outcome = 'applied'
          AND b.transaction_type IN ('debit', 'rollback')) r
    WHERE t.created_at >= (%(from)s::date)::timestamp AT TIME ZONE %(tz)s
      AND t.created_at < (%(to)s::date + 1)::timestamp AT TIME ZONE %(tz)s
      AND t.transaction_type = 'credit' AND t.outcome = 'applied' AND t.amount > 0
      AND r.stakes > 0 AND t.amount >= %(multiple)s::numeric * r.stakes
      AND (%(cursor)s::bigint IS NULL OR t.id < %(cursor)s)
    ORDER BY t.id DESC
    LIMIT %(limit)s
"""

MONEY_FIGURES = ("stakes", "refunds", "wins", "ggr", "bonusStakes", "bonusWins", "bonusCompleted", "ngr")


def _refusal(code: str, *details: object) -> Refused:
    """A refusal as the verb's answer (wire/refusals.py)."""
    return refusals.error(code, *details)


def period_refusal(start: date, end: date, max_days: int = MAX_REPORT_DAYS) -> Refused | None:
    """A period of whole days, `end` included: PERIOD_INVALID when it runs backwards or is
    longer than max_days; None when it will do."""
    if start > end:
        return _refusal("PERIOD_INVALID", "from is after to")
    if (end - start).days + 1 > max_days:
        return _refusal("PERIOD_INVALID", f"a period covers at most {max_days} days")
    return None


class Figures(TypedDict):
    """A group's figures (a count, or minor units), as the protocol names them."""
    rounds: int
    bets: int
    stakes: int
    refunds: int
    wins: int
    ggr: int
    bonusStakes: int
    bonusWins: int
    bonusCompleted: int
    ngr: int


def figures(rounds: int, bets: int, stakes: int, refunds: int, wins: int, bonus_stakes: int, bonus_wins: int,
            bonus_completed: int) -> Figures:
    """A group's figures, as the protocol names them: ggr = stakes - refunds - wins and
    ngr = ggr - bonusCompleted."""
    ggr = stakes - refunds - wins
    return {"rounds": rounds, "bets": bets, "stakes": stakes, "refunds": refunds, "wins": wins, "ggr": ggr,
            "bonusStakes": bonus_stakes, "bonusWins": bonus_wins, "bonusCompleted": bonus_completed,
            "ngr": ggr - bonus_completed}


def _ggr_rows(cur: Cursor, tz: str, start: date, end: date, group_by: Sequence[str],
              provider_id: int | None = None) -> tuple[list[dict[str, Any]], dict[str, Figures]]:
    """(one row per group: its keys, currency and figures; {currency: the totals' figures})."""
    cur.execute(GGR, {"tz": tz, "from": start, "to": end, "kinds": REPORTED_KINDS, "provider_id": provider_id,
                      "by_day": "day" in group_by, "by_provider": "provider" in group_by,
                      "by_game": "game" in group_by})
    rows: list[dict[str, Any]] = []
    totals: dict[str, Figures] = {}
    for currency, day, provider, game_id, total, *sums in cur.fetchall():
        values = [int(v) for v in sums]     # sums of BIGINTs come as NUMERIC: exact, whatever their size
        if total:
            totals[currency] = figures(*values)
            continue
        keys: dict[str, Any] = {}
        if "day" in group_by:
            keys["day"] = day.isoformat()
        if "provider" in group_by:
            keys["provider"] = provider
        if "game" in group_by:
            keys["gameId"] = game_id
        rows.append({**keys, "currency": currency, **figures(*values)})
    return rows, totals


def ggr(cur: Cursor, tz: str, start: date, end: date, group_by: Iterable[str] = ()) -> Outcome:
    """GGR and NGR of the days start..end (dates, end included) in time zone tz: one row
    per group of the keys in group_by (any of day, provider, game) and currency, and the
    totals per currency."""
    refused = period_refusal(start, end)
    if refused:
        return refused
    keys = [g for g in GROUPS if g in group_by]
    rows, totals = _ggr_rows(cur, tz, start, end, keys)
    return Answer(200, {"from": start.isoformat(), "to": end.isoformat(), "timeZone": tz, "groupBy": keys,
                        "rows": rows, "totals": totals})


def lifetime_ggr(cur: Cursor, first: date, last: date) -> dict[str, int]:
    """{currency: GGR} of the days first..last (UTC), however many: the audit's check of
    the report against the balances (casino/audit.py)."""
    return {currency: total["ggr"] for currency, total in _ggr_rows(cur, "UTC", first, last, [])[1].items()}


def player_funds(cur: Cursor, at: datetime | None = None) -> Outcome:
    """What the casino owed its players at the instant `at` (an aware datetime; None: now),
    per currency: wallets that existed, balance, cash (redeemable) and bonus."""
    if at is None:
        cur.execute("SELECT now()")
        current = cur.fetchone()
        assert current is not None, "SELECT now() answers one row"
        moment = current[0]
        cur.execute(FUNDS_NOW)
        rows = cur.fetchall()
    else:
        cur.execute(LEDGER_SPAN)
        span = cur.fetchone()
        assert span is not None, "an aggregate answers one row"
        now, first = span
        if at > now:
            return _refusal("PERIOD_INVALID", "at is in the future")
        moment = at
        rows = funds_at(cur, at, before=first is not None and at - first < now - at)
    return Answer(200, {"at": timestamp(moment), "rows": [
        {"currency": currency, "wallets": wallets, "balance": int(balance), "cash": int(cash),
         "bonus": int(balance - cash)}
        for currency, wallets, balance, cash in rows if wallets]})


def funds_at(cur: Cursor, at: datetime, before: bool) -> list[tuple[Any, ...]]:
    """(currency, wallets, balance, cash) at a past instant: summed from the rows stamped
    at or before it (before=True), or the balances less the rows after it. Both give the
    same figures; the report takes the side with fewer rows."""
    cur.execute(FUNDS_FROM_ROWS_BEFORE if before else FUNDS_FROM_ROWS_AFTER, {"at": at})
    return cur.fetchall()


def month_days(first_day: date) -> tuple[date, date]:
    """The first and the last day of the month of first_day."""
    following = (first_day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_day, following - timedelta(days=1)


def amount_due(ggr_amount: int, share: Decimal | None) -> int | None:
    """share percent of a month's GGR, rounded half up to a minor unit; nothing is due on a
    month the players won (GGR at or below 0). None when no share is set."""
    if share is None:
        return None
    if ggr_amount <= 0:
        return 0
    return int((Decimal(ggr_amount) * share / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def invoice(cur: Cursor, tz: str, provider_code: str, first_day: date) -> Outcome:
    """A provider's month (first_day: the month's 1st): its GGR per game and in total per
    currency, its revenue share, and the amount due per currency."""
    cur.execute(PROVIDER, (provider_code,))
    provider = cur.fetchone()
    if provider is None:
        return _refusal("PROVIDER_NOT_FOUND")
    provider_id, code, name, share = provider
    start, end = month_days(first_day)
    rows, totals = _ggr_rows(cur, tz, start, end, ["game"], provider_id)
    cur.execute(GAME_NAMES, ([r["gameId"] for r in rows],))
    names = dict(cur.fetchall())
    currencies: list[dict[str, Any]] = []
    for currency, total in sorted(totals.items()):
        games = [{"gameId": r["gameId"], "name": names.get(r["gameId"]),
                  **{k: v for k, v in r.items() if k not in ("gameId", "currency")}}
                 for r in rows if r["currency"] == currency]
        currencies.append({"currency": currency, "games": games, **total,
                           "amountDue": amount_due(total["ggr"], share)})
    return Answer(200, {"providerCode": code, "name": name, "month": first_day.strftime("%Y-%m"),
                        "from": start.isoformat(), "to": end.isoformat(), "timeZone": tz,
                        "revenueShare": None if share is None else f"{share:.2f}", "currencies": currencies})


def large_wins(cur: Cursor, tz: str, start: date, end: date, multiple: str, limit: int | None = None,
               cursor: str | None = None) -> Outcome:
    """Payouts of the days start..end of at least `multiple` (a decimal string) times their
    round's stakes, newest first, a page at a time."""
    refused = period_refusal(start, end)
    if refused:
        return refused
    page = keyset_page(cur, LARGE_WINS, {"tz": tz, "from": start, "to": end, "multiple": multiple},
                       limit, cursor, _large_win)
    return Answer(page.status, {**page.json(), "from": start.isoformat(), "to": end.isoformat(), "timeZone": tz,
                                "multiple": multiple})


def _large_win(row: Sequence[Any]) -> dict[str, Any]:
    _, provider, round_id, transaction_id, user_id, game_id, currency, win, stakes, created_at = row
    return {"provider": provider, "roundId": round_id, "transactionId": transaction_id, "userId": user_id,
            "gameId": game_id, "currency": currency, "win": win, "roundStakes": int(stakes),
            "multiple": f"{Decimal(win) / Decimal(stakes):.2f}", "createdAt": timestamp(created_at)}


# --- CSV: the same figures in major units -------------------------------------------------------

# A text cell a spreadsheet would read as a formula (OWASP's "CSV injection"): a provider's
# or game's name, a round or transaction id -- what a provider or an operator typed.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def cell(value: object) -> object:
    """The value as a CSV cell: a text starting with = + - @, a tab or a carriage return is
    prefixed with a single quote, so a spreadsheet shows it as text rather than running it; a
    number (the figures, -12.50 a negative one among them) stays a number."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _csv(header: Sequence[str], lines: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([cell(value) for value in line] for line in lines)
    return out.getvalue()


MAJOR = set(MONEY_FIGURES) | {"win", "roundStakes", "amountDue", "balance", "cash", "bonus"}
FIGURES = ("rounds", "bets") + MONEY_FIGURES


def _in_major(row: Mapping[str, Any], columns: Iterable[str]) -> list[object]:
    """The row's values of columns, money in major units of the row's currency."""
    return [major(row[c], row["currency"]) if c in MAJOR and row[c] is not None else row[c] for c in columns]


def ggr_csv(body: Mapping[str, Any]) -> str:
    """One line per group; then, when the report is grouped, one `total` line per currency."""
    keys = [{"game": "gameId"}.get(g, g) for g in body["groupBy"]]
    columns = keys + ["currency", *FIGURES]
    lines = [_in_major(row, columns) for row in body["rows"]]
    if keys:
        for currency, total in sorted(body["totals"].items()):
            lines.append(["total"] + [""] * (len(keys) - 1)
                         + _in_major({"currency": currency, **total}, ["currency", *FIGURES]))
    return _csv(columns, lines)


def player_funds_csv(body: Mapping[str, Any]) -> str:
    columns = ["currency", "wallets", "balance", "cash", "bonus"]
    return _csv(["at"] + columns, [[body["at"]] + _in_major(row, columns) for row in body["rows"]])


def invoice_csv(body: Mapping[str, Any]) -> str:
    """One line per game, then per currency a `total` line with the share and the amount due."""
    columns = ["gameId", "name", "currency", *FIGURES]
    lines: list[list[object]] = []
    for c in body["currencies"]:
        lines += [_in_major({**g, "currency": c["currency"]}, columns) + ["", ""] for g in c["games"]]
        lines.append(["total", ""] + _in_major(c, ["currency", *FIGURES])
                     + [body["revenueShare"] or ""] + _in_major(c, ["amountDue"]))
    return _csv(columns + ["revenueShare", "amountDue"], lines)


def large_wins_csv(body: Mapping[str, Any]) -> str:
    columns = ["createdAt", "provider", "roundId", "transactionId", "userId", "gameId", "currency", "win",
               "roundStakes", "multiple"]
    return _csv(columns, [_in_major(row, columns) for row in body["items"]])


def parse_group_by(text: str | None) -> list[str] | None:
    """groupBy as the query gives it, "day,provider": the keys, or None when it is not a
    list of distinct keys of GROUPS."""
    keys = text.split(",") if text else []
    if len(set(keys)) != len(keys) or not set(keys) <= set(GROUPS):
        return None
    return keys

