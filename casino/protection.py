"""Player protection's back-office verbs: each market's rules (jurisdictions), a player's
limits, exclusions, market and identity, and their history (PROTOCOL.md, "Player
protection"; README, "Player protection").

As in casino/backoffice.py, each verb takes a cursor and returns an Answer, and a write is
recorded in CASINO_ADMIN_AUDIT in its transaction, refusals included. A limit and an
exclusion are one call of a SQL function (sql/functions/casino_protection.sql), which locks
the player's wallet(s) first, so the change falls between two of their money calls, and
writes the history row; the rules that decide (cooling-off, bounds, extension only) live
there, beside the money calls that enforce them.
"""
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg2.extensions import cursor as Cursor

from wire.refusals import invalid
from wire.validation import duration_hours

from .backoffice import FIND_PLAYER, _audited, _player, _refusal, keyset_page, timestamp
from .wallet import Answer, Outcome, Request, answer_of

# A jurisdiction as the API writes it (durations in ISO 8601).
JURISDICTION_COLUMNS = """
    code, name, time_zone, cooling_off_hours, increase_waits_period_end, deposit_limit_required,
    casino_iso_interval(time_out_min), casino_iso_interval(time_out_max),
    casino_iso_interval(self_exclusion_min), casino_iso_interval(self_exclusion_max),
    register_name, register_url, register_unreachable, updated_at
"""
FIND_JURISDICTION = f"SELECT {JURISDICTION_COLUMNS} FROM CASINO_JURISDICTIONS WHERE code = %s"
LIST_JURISDICTIONS = f"SELECT {JURISDICTION_COLUMNS} FROM CASINO_JURISDICTIONS ORDER BY code"

TIME_ZONE_KNOWN = "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = %s)"

# A day from which a bound `min` ends later than a bound `max` (NULL: none), compared by the
# end each gives, as the exclusion is (casino_exclude): P1M is 28 to 31 days, so it exceeds
# P30D from a day before a 31-day month, though both are "720 hours". Every day of four years
# (a leap year among them, each month end clamped as PostgreSQL clamps it) is every case.
FIRST_DAY_BOUND_EXCEEDED = """
    SELECT to_char(d.at, 'YYYY-MM-DD')
    FROM generate_series(timestamp '2024-01-01', timestamp '2027-12-31', interval '1 day') AS d(at)
    WHERE d.at + %s::interval > d.at + %s::interval
    ORDER BY d.at LIMIT 1
"""

# A market is a row: PUT writes the whole of it, creating it or replacing it.
PUT_JURISDICTION = """
    INSERT INTO CASINO_JURISDICTIONS (code, name, time_zone, cooling_off_hours, increase_waits_period_end,
                                      deposit_limit_required, time_out_min, time_out_max, self_exclusion_min,
                                      self_exclusion_max, register_name, register_url, register_unreachable,
                                      updated_at)
    VALUES (%(code)s, %(name)s, %(timeZone)s, %(coolingOffHours)s, %(increaseWaitsForPeriodEnd)s,
            %(depositLimitRequired)s, %(timeOutMin)s, %(timeOutMax)s, %(selfExclusionMin)s, %(selfExclusionMax)s,
            %(registerName)s, %(registerUrl)s, %(registerUnavailable)s, now())
    ON CONFLICT (code) DO UPDATE SET
        name = EXCLUDED.name, time_zone = EXCLUDED.time_zone, cooling_off_hours = EXCLUDED.cooling_off_hours,
        increase_waits_period_end = EXCLUDED.increase_waits_period_end,
        deposit_limit_required = EXCLUDED.deposit_limit_required, time_out_min = EXCLUDED.time_out_min,
        time_out_max = EXCLUDED.time_out_max, self_exclusion_min = EXCLUDED.self_exclusion_min,
        self_exclusion_max = EXCLUDED.self_exclusion_max, register_name = EXCLUDED.register_name,
        register_url = EXCLUDED.register_url, register_unreachable = EXCLUDED.register_unreachable,
        updated_at = EXCLUDED.updated_at
    RETURNING (xmax = 0)
"""
OLD_TIME_ZONE = "SELECT time_zone FROM CASINO_JURISDICTIONS WHERE code = %s FOR UPDATE"

# Windows counted in another time zone are recounted by the next money call of each
# wallet (casino_current_windows finds them out of date), not all at once here.
RECOUNT_WINDOWS_OF_JURISDICTION = """
    UPDATE CASINO_LIMIT_WINDOWS SET refresh_at = '-infinity'
    WHERE wallet_id IN (SELECT w.id FROM CASINO_WALLETS w JOIN CASINO_USERS u ON u.id = w.user_id
                        WHERE u.jurisdiction = %s)
"""
RECOUNT_WINDOWS_OF_PLAYER = """
    UPDATE CASINO_LIMIT_WINDOWS SET refresh_at = '-infinity'
    WHERE wallet_id IN (SELECT id FROM CASINO_WALLETS WHERE user_id = %s)
"""

SET_LIMIT = "SELECT status, body, replay, error_code FROM casino_set_limit(%s, %s, %s, %s, %s, %s, %s)"
EXCLUDE = "SELECT status, body, replay, error_code FROM casino_exclude(%s, %s, %s, %s, %s)"
LIMITS = """
    SELECT u.jurisdiction, casino_player_limits(u.id, casino_clock())
    FROM CASINO_USERS u WHERE u.id = %s
"""

EXCLUSIONS = """
    SELECT u.jurisdiction, coalesce(casino_exclusion_until(u.id) > casino_clock(), false),
           casino_rfc3339(casino_exclusion_until(u.id)),
           (SELECT json_agg(json_build_object(
                       'kind', h.kind, 'from', casino_rfc3339(h.effective_from), 'until', casino_rfc3339(h.new_until),
                       'previousUntil', casino_rfc3339(h.old_until), 'operator', h.operator_key_id)
                   ORDER BY h.id DESC)
            FROM CASINO_PROTECTION_HISTORY h WHERE h.user_id = u.id AND h.change = 'exclusion'),
           (SELECT h.kind FROM CASINO_PROTECTION_HISTORY h
            WHERE h.user_id = u.id AND h.change = 'exclusion' AND h.new_until > casino_clock()
            ORDER BY h.new_until DESC, h.id DESC LIMIT 1)
    FROM CASINO_USERS u WHERE u.id = %s
"""

HISTORY = """
    SELECT h.id, h.change, h.limit_type, h.period, h.currency_code, h.old_amount, h.new_amount, h.kind,
           casino_rfc3339(h.old_until), casino_rfc3339(h.new_until), h.effective_from, h.operator_key_id, h.created_at,
           h.new_until = 'infinity'
    FROM CASINO_PROTECTION_HISTORY h
    WHERE h.user_id = %(user_id)s AND (%(cursor)s::bigint IS NULL OR h.id < %(cursor)s)
    ORDER BY h.id DESC
    LIMIT %(limit)s
"""

SET_PLAYER_JURISDICTION = "UPDATE CASINO_USERS SET jurisdiction = %s WHERE id = %s"
SET_PLAYER_IDENTITY = """
    UPDATE CASINO_USERS SET first_name = %s, last_name = %s, date_of_birth = %s, postcode = %s WHERE id = %s
"""
LOCK_PLAYER_WALLETS = "SELECT id FROM CASINO_WALLETS WHERE user_id = %s ORDER BY id FOR NO KEY UPDATE"
# A pending increase (or removal) of a limit moved to another market waits as long as the new
# market would have made it wait, counted from when it was asked for (the row's updated_at),
# when that is longer: a move never shortens a cooling-off (the later of the two wins).
KEEP_LONGER_COOLING_OFF = """
    UPDATE CASINO_PLAYER_LIMITS l
    SET pending_from = greatest(
        l.pending_from,
        l.updated_at + j.cooling_off_hours * interval '1 hour',
        CASE WHEN j.increase_waits_period_end THEN
            (SELECT CASE l.period WHEN 'day' THEN k.day_ends WHEN 'week' THEN k.week_ends ELSE k.month_ends END
             FROM casino_calendar(l.updated_at, j.time_zone) AS k) END)
    FROM CASINO_JURISDICTIONS j
    WHERE j.code = %(jurisdiction)s AND l.user_id = %(user_id)s AND l.pending_from > casino_clock()
"""


# --- jurisdictions ----------------------------------------------------------------------------

def _jurisdiction(row: Sequence[Any]) -> dict[str, Any]:
    (code, name, time_zone, cooling, waits, deposit_required, to_min, to_max, se_min, se_max, register,
     url, unreachable, updated_at) = row
    return {"code": code, "name": name, "timeZone": time_zone, "coolingOffHours": cooling,
            "increaseWaitsForPeriodEnd": waits, "depositLimitRequired": deposit_required,
            "timeOutMin": to_min, "timeOutMax": to_max, "selfExclusionMin": se_min, "selfExclusionMax": se_max,
            "registerName": register, "registerUrl": url, "registerUnavailable": unreachable,
            "updatedAt": timestamp(updated_at)}


def get_jurisdiction(cur: Cursor, code: str) -> Outcome:
    cur.execute(FIND_JURISDICTION, (code,))
    row = cur.fetchone()
    return Answer(200, _jurisdiction(row)) if row else _refusal("JURISDICTION_NOT_FOUND")


def list_jurisdictions(cur: Cursor) -> Outcome:
    cur.execute(LIST_JURISDICTIONS)
    return Answer(200, {"items": [_jurisdiction(row) for row in cur.fetchall()]})


def _exceeded_from(cur: Cursor, low: str, high: str) -> str | None:
    """The first day (YYYY-MM-DD) from which the duration `low` ends after `high`, or None."""
    cur.execute(FIRST_DAY_BOUND_EXCEEDED, (low, high))
    row = cur.fetchone()
    day: str | None = row[0] if row else None
    return day


def _check_jurisdiction(cur: Cursor, req: Request) -> None:
    """What the fields' own types cannot say; 400, nothing written. A minimum must end no
    later than its maximum from every day (their fields alone do not say: P1M and P30D);
    and be no longer as PostgreSQL orders intervals (a month 30 days, a year 360), which the
    table's CHECK holds it to."""
    for kind, high in (("timeOut", req["timeOutMax"]), ("selfExclusion", req["selfExclusionMax"])):
        low = req[f"{kind}Min"]
        if high is None:
            continue
        if duration_hours(low) > duration_hours(high):
            raise invalid(f"{kind}Min must not exceed {kind}Max")
        day = _exceeded_from(cur, low, high)
        if day:
            raise invalid(f"{kind}Min must not exceed {kind}Max: from {day}, {low} ends after {high}")
    if req["registerUrl"] is not None and req["registerName"] is None:
        raise invalid("registerUrl needs a registerName")


def put_jurisdiction(cur: Cursor, operator: str | None, code: str, req: Request,
                     register_refused: str | None = None) -> Outcome:
    """Creates the market (201) or replaces its rules (200). A new time zone has every limited
    wallet of its players recount its windows in it at its next money call. Limits already
    pending keep the start they were given; exclusions keep their end. A timeZone the
    database does not know: 422 TIME_ZONE_UNKNOWN. register_refused: why the registerUrl may
    not be called (wire/addresses.py, checked by the handler before the transaction: it
    resolves a name): 422 REGISTER_URL_NOT_ALLOWED. Each refusal audited, nothing written."""
    _check_jurisdiction(cur, req)
    cur.execute(TIME_ZONE_KNOWN, (req["timeZone"],))
    known = cur.fetchone()
    assert known is not None, "SELECT EXISTS answers one row"
    if not known[0]:
        return _audited(cur, operator, "putJurisdiction", {"code": code, **req},
                        _refusal("TIME_ZONE_UNKNOWN", repr(req["timeZone"])))
    if register_refused:
        return _audited(cur, operator, "putJurisdiction", {"code": code, **req},
                        _refusal("REGISTER_URL_NOT_ALLOWED", register_refused))
    cur.execute(OLD_TIME_ZONE, (code,))
    old = cur.fetchone()
    values = {**req, "code": code, "registerUnavailable": req["registerUnavailable"] or "refuse"}
    cur.execute(PUT_JURISDICTION, values)
    upserted = cur.fetchone()
    assert upserted is not None, "INSERT ... ON CONFLICT DO UPDATE ... RETURNING answers one row"
    created = upserted[0]
    if old is not None and old[0] != req["timeZone"]:
        cur.execute(RECOUNT_WINDOWS_OF_JURISDICTION, (code,))
    cur.execute(FIND_JURISDICTION, (code,))
    row = cur.fetchone()
    assert row is not None, "written above, in this transaction"
    answer = Answer(201 if created else 200, _jurisdiction(row))
    return _audited(cur, operator, "putJurisdiction", {"code": code, **req}, answer)


# --- a player's market and identity ---------------------------------------------------------

def _player_answer(cur: Cursor, user_id: int) -> Answer:
    """The player a write of this transaction just changed (so found)."""
    cur.execute(FIND_PLAYER, (user_id,))
    row = cur.fetchone()
    assert row is not None, "the player was updated in this transaction"
    return Answer(200, _player(row))


def set_player_jurisdiction(cur: Cursor, operator: str | None, user_id: int, req: Request) -> Outcome:
    """Moves a player to another market: its rules apply from the next call; the windows of
    their limits are recounted in its time zone; a pending limit increase waits the longer
    of its old wait and the new market's (KEEP_LONGER_COOLING_OFF)."""
    cur.execute(LOCK_PLAYER_WALLETS, (user_id,))
    cur.execute(FIND_JURISDICTION, (req["jurisdiction"],))
    answer: Outcome
    if cur.fetchone() is None:
        answer = _refusal("JURISDICTION_NOT_FOUND")
    else:
        cur.execute(SET_PLAYER_JURISDICTION, (req["jurisdiction"], user_id))
        if cur.rowcount == 0:
            answer = _refusal("USER_NOT_FOUND")
        else:
            cur.execute(RECOUNT_WINDOWS_OF_PLAYER, (user_id,))
            cur.execute(KEEP_LONGER_COOLING_OFF, {"jurisdiction": req["jurisdiction"], "user_id": user_id})
            answer = _player_answer(cur, user_id)
    return _audited(cur, operator, "setPlayerJurisdiction", {"userId": user_id, **req}, answer)


def set_player_identity(cur: Cursor, operator: str | None, user_id: int, req: Request) -> Outcome:
    """The identity an external register is asked with. The audit row keeps which fields
    were set, not their values (they are personal data; the player's row has them)."""
    cur.execute(SET_PLAYER_IDENTITY, (req["firstName"], req["lastName"], req["dateOfBirth"], req["postcode"],
                                      user_id))
    answer: Outcome = _player_answer(cur, user_id) if cur.rowcount else _refusal("USER_NOT_FOUND")
    return _audited(cur, operator, "setPlayerIdentity", {"userId": user_id, "fields": sorted(req)}, answer)


# --- limits and exclusions ----------------------------------------------------------------------

def _reply(cur: Cursor) -> Outcome:
    return answer_of(cur.fetchone())


def get_limits(cur: Cursor, user_id: int) -> Outcome:
    """Every limit of the player in force or pending, with what its window holds now."""
    cur.execute(LIMITS, (user_id,))
    row = cur.fetchone()
    if row is None:
        return _refusal("USER_NOT_FOUND")
    jurisdiction, items = row
    return Answer(200, {"userId": user_id, "jurisdiction": jurisdiction, "items": items})


def set_limit(cur: Cursor, operator: str | None, user_id: int, req: Request) -> Outcome:
    """PUT a limit: at once when it is a first or a lower one, pending otherwise."""
    cur.execute(SET_LIMIT, (user_id, req["currency"], req["type"], req["period"], req["amount"], operator,
                            json.dumps({"userId": user_id, **req})))
    return _reply(cur)


def exclude(cur: Cursor, operator: str | None, user_id: int, req: Request) -> Outcome:
    """A time-out or a self-exclusion, effective at once; an active one only extended."""
    if req["kind"] == "time-out" and req["until"] is None:
        raise invalid("a time-out needs an end (until); only a self-exclusion may be indefinite")
    until = datetime.fromisoformat(req["until"]) if req["until"] is not None else None
    cur.execute(EXCLUDE, (user_id, req["kind"], until, operator, json.dumps({"userId": user_id, **req})))
    return _reply(cur)


def exclusions(cur: Cursor, user_id: int) -> Outcome:
    """The player's exclusions, newest first, and the one in force now (if any)."""
    cur.execute(EXCLUSIONS, (user_id,))
    row = cur.fetchone()
    if row is None:
        return _refusal("USER_NOT_FOUND")
    jurisdiction, active, until, items, active_kind = row
    return Answer(200, {"userId": user_id, "jurisdiction": jurisdiction, "excluded": active,
                        "kind": active_kind if active else None, "until": until if active else None,
                        "items": items or []})


def _history_item(row: Sequence[Any]) -> dict[str, Any]:
    (_, change, limit_type, period, currency, old_amount, new_amount, kind, old_until, new_until, effective_from,
     operator, created_at, _indefinite) = row
    item: dict[str, Any] = {"change": change, "effectiveFrom": timestamp(effective_from), "operator": operator,
            "createdAt": timestamp(created_at)}
    if change == "limit":
        item.update({"type": limit_type, "period": period, "currency": currency, "oldAmount": old_amount,
                     "newAmount": new_amount})
    else:
        item.update({"kind": kind, "oldUntil": old_until, "newUntil": new_until})
    return item


def history(cur: Cursor, user_id: int, limit: int | None = None, cursor: str | None = None) -> Outcome:
    """Every change of the player's limits and exclusions, newest first, a page at a time."""
    cur.execute("SELECT 1 FROM CASINO_USERS WHERE id = %s", (user_id,))
    if cur.fetchone() is None:
        return _refusal("USER_NOT_FOUND")
    return keyset_page(cur, HISTORY, {"user_id": user_id}, limit, cursor, _history_item)
