"""A session is live while it is open and has been idle for less than SESSION_IDLE_TIMEOUT
(casino_session_live, sql/functions/casino_sessions.sql): the one definition both its
readers use. The back office says `active` for exactly the sessions a bet is taken on and
`expired` for the open ones a bet is refused on (SESSION_INACTIVE); and the definition
costs the bet path no function call (the planner inlines it)."""
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import Player, back_office, idle_for
from tests.support import error_code as code

pytestmark = pytest.mark.usefixtures("clean_audit")

TIMEOUT = 30 * 60   # the default SESSION_IDLE_TIMEOUT, the test server's


def state(api, player):
    sessions = back_office(api, "GET", f"players/{player.user_id}/sessions").json()["items"]
    return [s["state"] for s in sessions]


@pytest.mark.parametrize("idle, listed, bet", [
    (TIMEOUT - 60, "active", 200),
    (TIMEOUT + 60, "expired", "SESSION_INACTIVE"),
])
def test_the_back_office_calls_active_the_sessions_a_bet_is_taken_on(api, ledger, idle, listed, bet):
    player = Player(api, ledger)
    idle_for(ledger, player.token, idle)
    assert state(api, player) == [listed]
    r = player.debit("d1", 100)
    assert (r.status_code if r.status_code == 200 else code(r)) == bet


def test_a_closed_session_is_closed_to_both(api, ledger):
    player = Player(api, ledger)
    session_id = back_office(api, "GET", f"players/{player.user_id}/sessions").json()["items"][0]["sessionId"]
    assert back_office(api, "POST", f"sessions/{session_id}/close", {}).status_code == 200
    assert state(api, player) == ["closed"]
    r = player.debit("d1", 100)
    assert (r.status_code, code(r)) == (403, "SESSION_INACTIVE")


def test_live_is_open_and_idle_for_less_than_the_timeout(ledger):
    at = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    idle = timedelta(minutes=30)
    cases = [(True, at - idle + timedelta(microseconds=1)), (True, at - idle), (False, at)]
    assert [ledger.query("SELECT casino_session_live(%s, %s, %s, %s)", is_open, last, idle, at)[0][0]
            for is_open, last in cases] == [True, False, False]


def test_the_planner_inlines_it(ledger):
    """EXPLAIN VERBOSE shows the expression a call was planned as: the body, not a call."""
    plan = ledger.query("""EXPLAIN (VERBOSE, COSTS OFF)
                           SELECT casino_session_live(s.is_active, s.last_activity_at, '30 minutes', now())
                           FROM CASINO_GAME_SESSIONS s""")
    output = "\n".join(line for line, in plan)
    assert "casino_session_live" not in output and "last_activity_at >" in output, output
