"""The provider's round feed (POST /provider/rounds, signed with x-provider-signature): the
rounds a casino's players opened in [from, to), with what the provider recorded as
accepted -- stakes, refunds, wins -- oldest first, a page at a time; another casino's
rounds never, and a round without an accepted call not at all.
"""
import json
import uuid

import pytest

from tests.support import DEMO_CASINO_KEY

pytestmark = pytest.mark.usefixtures("clean_audit")


def now(ledger):
    return ledger.query("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")[0][0]


def feed(api, start, end, key=DEMO_CASINO_KEY, casino="DEMO-CASINO", **extra):
    return api.provider("rounds", {"casinoCode": casino, "from": start, "to": end, **extra}, key=key)


def all_pages(api, start, end, **extra):
    rounds, cursor, pages = [], None, 0
    while True:
        answer = feed(api, start, end, **extra, **({"cursor": cursor} if cursor else {}))
        assert answer.status_code == 200, answer.text
        rounds += answer.json()["rounds"]
        cursor, pages = answer.json()["nextCursor"], pages + 1
        if cursor is None:
            return rounds, pages


def test_the_rounds_of_a_period_with_what_was_accepted(api, ledger):
    game = ledger.launchable_game()
    user_id, _ = ledger.player(funds=5_000)
    start = now(ledger)
    played = [api.client("simulateRound", {"userId": user_id, "gameId": game}).json()["roundId"] for _ in range(3)]
    # A round whose one call the casino never answered: nothing accepted, so not listed.
    launch = api.client("launchGame", {"userId": user_id, "gameId": game}).json()

    def unanswered(cur):
        cur.execute("""INSERT INTO PROVIDER_GAME_ROUNDS (round_id, session_id, player_id, game_id, currency)
                       SELECT %s, s.id, s.customer_id, s.game_id, s.currency FROM PROVIDER_SESSIONS s
                       WHERE s.provider_session_id = %s RETURNING id""",
                    ("rnd-" + uuid.uuid4().hex, launch["providerSessionId"]))
        cur.execute("""INSERT INTO PROVIDER_BETS (transaction_id, round_id, bet_type, amount, request_cache, status)
                       VALUES (%s, %s, 'debit', 50, '{}', 'unknown')""", ("bet-" + uuid.uuid4().hex, cur.fetchone()[0]))
    ledger.run(unanswered)
    end = now(ledger)

    rounds, pages = all_pages(api, start, end)
    assert [r["roundId"] for r in rounds] == played and pages == 1
    # The script: bet 100 (rolled back), bet 200, payout 400.
    for r in rounds:
        assert (r["status"], r["currency"], r["stakes"], r["refunds"], r["wins"]) == ("settled", "USD", 300, 100, 400)
        assert start <= r["openedAt"] < end and r["openedAt"] <= r["closedAt"]
    # A page at a time: the same rounds, in the same order, each once.
    paged, pages = all_pages(api, start, end, limit=1)
    assert paged == rounds and pages == 3
    # The period is [from, to): from the second round's opening on.
    assert [r["roundId"] for r in all_pages(api, rounds[1]["openedAt"], end)[0]] == played[1:]
    assert all_pages(api, start, rounds[0]["openedAt"])[0] == []


def test_another_casino_sees_only_its_own_rounds(api, ledger):
    game = ledger.launchable_game()
    user_id, _ = ledger.player(funds=5_000)
    start = now(ledger)
    assert api.client("simulateRound", {"userId": user_id, "gameId": game}).status_code == 200
    end = now(ledger)
    other_code, other_key = ledger.other_casino()
    answer = feed(api, start, end, key=other_key, casino=other_code)
    assert answer.status_code == 200 and answer.json() == {"rounds": [], "nextCursor": None}
    answer = feed(api, start, end, key=other_key)           # naming DEMO-CASINO with another casino's key
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "CASINO_MISMATCH")


def test_bad_periods_and_bodies_are_refused(api):
    answer = feed(api, "2025-01-02T00:00:00Z", "2025-01-01T00:00:00Z")
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "PERIOD_INVALID")
    answer = feed(api, "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z")
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "PERIOD_INVALID")
    for extra in ({"from": "2025-01-01"}, {"to": "2025-01-01T00:00:00"}, {"cursor": "x"}, {"limit": 0},
                  {"limit": 1001}, {"from": None}):
        body = {"casinoCode": "DEMO-CASINO", "from": "2025-01-01T00:00:00Z", "to": "2025-01-02T00:00:00Z", **extra}
        answer = api.provider("rounds", body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "INVALID_REQUEST"), extra
    # Signed by nobody the provider knows.
    data = json.dumps({"casinoCode": "DEMO-CASINO", "from": "2025-01-01T00:00:00Z",
                       "to": "2025-01-02T00:00:00Z"}).encode()
    answer = api.raw("/provider/rounds", data, {"Content-Type": "application/json",
                                                "x-provider-signature": "0" * 64})
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "INVALID_SIGNATURE")
