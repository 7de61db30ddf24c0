"""Limits enforced where money moves: a bet that would take a wager or loss window past a limit
is 403 WAGER_LIMIT_REACHED / LOSS_LIMIT_REACHED with its details, a deposit past a deposit
limit 422 DEPOSIT_LIMIT_REACHED, each stored and replayed like every refusal; concurrent
calls never take a window past its limit; payouts, refunds and withdrawals are never
refused by a limit."""
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import Bettor, error_code, market, parallel

pytestmark = pytest.mark.usefixtures("clean_audit")

T0 = datetime(2026, 4, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
def limited(api, ledger, clock):
    """A player funded last month (so no window of T0 holds that deposit), at T0."""
    clock.set(T0 - timedelta(days=40))
    player = Bettor(api, ledger, funds=100_000, max_bet=50_000)
    clock.set(T0)
    return player


def rows(player):
    return player.ledger.query("""SELECT external_transaction_id, outcome, response_status FROM CASINO_TRANSACTIONS
                                  WHERE wallet_id = %s AND transaction_type = 'debit' ORDER BY id""", player.wallet)


def test_a_refused_bet_says_which_limit_and_is_stored_and_replayed(limited):
    limited.limit("wager", "week", 3_000)
    assert limited.bet("b1", 2_500).status_code == 200
    first = limited.bet("b2", 600)
    assert first.status_code == 403
    assert first.json() == {"error": {
        "code": "WAGER_LIMIT_REACHED", "message": "this bet would take the week's wagering past the player's limit",
        "details": {"limitType": "wager", "period": "week", "currency": "USD", "limit": 3_000, "used": 2_500,
                    "resetsAt": "2026-04-20T00:00:00.000000Z"}}}
    replay = limited.bet("b2", 600)
    assert (replay.status_code, replay.content, replay.headers["Idempotent-Replay"]) == (403, first.content, "true")
    assert limited.balance() == 100_000 - 2_500
    assert rows(limited) == [("b1", "applied", 200), ("b2", "refused", 403)]
    # Stored: a resend after the limit went up is still the first answer.
    limited.limit("wager", "week", 3_000)
    assert limited.bet("b2", 600).content == first.content


def test_the_loss_limit_and_which_wins(limited):
    limited.limit("loss", "day", 1_000)
    limited.limit("wager", "month", 1_500)
    assert limited.bet("b1", 1_000).status_code == 200
    # Both would be passed: wager first (PROTOCOL.md leaves the order to us; README says it).
    assert error_code(limited.bet("b2", 600)) == "WAGER_LIMIT_REACHED"
    refused = limited.bet("b3", 400)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "LOSS_LIMIT_REACHED"
    assert refused.json()["error"]["details"]["limitType"] == "loss"


def test_the_games_bet_limits_come_first_and_funds_after(api, ledger, clock):
    clock.set(T0)
    poor = Bettor(api, ledger, funds=100, max_bet=5_000)
    poor.limit("wager", "day", 1_000)
    assert error_code(poor.bet("too-big-for-the-game", 6_000)) == "BET_LIMIT_EXCEEDED"
    assert error_code(poor.bet("past-the-limit-and-the-funds", 1_001)) == "WAGER_LIMIT_REACHED"
    assert error_code(poor.bet("within-the-limit", 500)) == "INSUFFICIENT_FUNDS"


def test_fifty_concurrent_bets_take_the_window_exactly_to_its_limit(limited):
    limited.limit("wager", "day", 1_000)
    limited.limit("loss", "day", 1_000_000)
    answers = parallel([lambda i=i: limited.bet(f"race-{i}", 100) for i in range(50)])
    statuses = sorted((r.status_code, r.json().get("error", {}).get("code")) for r in answers)
    assert statuses == [(200, None)] * 10 + [(403, "WAGER_LIMIT_REACHED")] * 40
    assert limited.balance() == 100_000 - 1_000
    assert limited.limits()[("wager", "day")]["used"] == 1_000
    assert limited.counters()[6:] == (1_000, 1_000, 1_000)
    refused = [r.json()["error"]["details"] for r in answers if r.status_code == 403]
    assert {d["used"] for d in refused} == {1_000}


def test_fifty_concurrent_bets_against_a_loss_limit(limited):
    limited.limit("loss", "week", 2_550)
    answers = parallel([lambda i=i: limited.bet(f"race-{i}", 300) for i in range(50)])
    assert sum(r.status_code == 200 for r in answers) == 8          # 8 x 300 = 2400; a ninth would be 2700
    assert {error_code(r) for r in answers if r.status_code != 200} == {"LOSS_LIMIT_REACHED"}
    assert limited.limits()[("loss", "week")]["used"] == 2_400


def test_payouts_refunds_and_withdrawals_are_never_refused_by_a_limit(limited):
    limited.limit("loss", "day", 1_000)
    limited.limit("wager", "day", 1_000)
    limited.limit("deposit", "day", 1)
    assert limited.bet("b1", 600, round_id="r1").status_code == 200
    assert limited.bet("b2", 400, round_id="r2").status_code == 200
    assert limited.pay("p1", 0, round_id="r1").status_code == 200
    assert limited.refund("undo-2", "b2", round_id="r2").status_code == 200
    assert limited.cash("withdrawal", 50_000).status_code == 200
    assert limited.balance() == 100_000 - 600 - 50_000


def test_a_deposit_past_its_limit_is_422_stored_and_replayed(limited):
    limited.limit("deposit", "day", 1_000)
    assert limited.cash("deposit", 700, "dep-1").status_code == 200
    first = limited.cash("deposit", 301, "dep-2")
    assert first.status_code == 422
    assert first.json()["error"] == {
        "code": "DEPOSIT_LIMIT_REACHED", "message": "this deposit would take the day's deposits past the player's limit",
        "details": {"limitType": "deposit", "period": "day", "currency": "USD", "limit": 1_000, "used": 700,
                    "resetsAt": "2026-04-15T00:00:00.000000Z"}}
    replay = limited.cash("deposit", 301, "dep-2")
    assert (replay.status_code, replay.content, replay.headers["Idempotent-Replay"]) == (422, first.content, "true")
    assert limited.cash("deposit", 300, "dep-3").status_code == 200
    assert limited.balance() == 100_000 + 1_000
    assert limited.ledger.query("""SELECT response_status FROM CASINO_ADMIN_AUDIT WHERE action = 'deposit'
                                   AND request ->> 'reference' = 'dep-2' ORDER BY id""") == [(422,), (422,)]


def test_concurrent_deposits_fill_the_limit_exactly(limited):
    limited.limit("deposit", "week", 500)
    answers = parallel([lambda i=i: limited.cash("deposit", 100, f"dep-race-{uuid.uuid4().hex}") for i in range(12)])
    assert sorted(r.status_code for r in answers) == [200] * 5 + [422] * 7
    assert limited.limits()[("deposit", "week")]["used"] == 500


def test_a_market_that_requires_a_deposit_limit_refuses_a_deposit_without_one(api, ledger, clock):
    clock.set(T0)
    strict = Bettor(api, ledger, funds=0, jurisdiction=market(api, depositLimitRequired=True))
    refused = strict.cash("deposit", 100, "first-deposit")
    assert (refused.status_code, error_code(refused)) == (422, "DEPOSIT_LIMIT_REQUIRED")
    assert strict.cash("deposit", 100, "first-deposit").headers["Idempotent-Replay"] == "true"
    strict.limit("deposit", "month", 5_000)
    assert strict.cash("deposit", 100, "second-deposit").status_code == 200


def test_each_checked_bet_and_deposit_records_the_limits_it_was_checked_against(limited):
    limited.limit("wager", "day", 9_000)
    limited.limit("loss", "month", 7_000)
    limited.limit("deposit", "week", 20_000)
    assert limited.bet("b1", 100).status_code == 200
    assert limited.cash("deposit", 100, "d1").status_code == 200
    checked = dict(limited.ledger.query(
        """SELECT external_transaction_id, casino_limits_checked_json(limits_checked)::text FROM CASINO_TRANSACTIONS
           WHERE wallet_id = %s AND external_transaction_id IN ('b1', 'd1')""", limited.wallet))
    assert json.loads(checked["b1"]) == {"loss:month": 7_000, "wager:day": 9_000}
    assert json.loads(checked["d1"]) == {"deposit:week": 20_000}
    # The funding before any limit was checked against none.
    assert limited.ledger.query("""SELECT count(*) FROM CASINO_TRANSACTIONS WHERE wallet_id = %s
                                   AND limits_checked IS NOT NULL""", limited.wallet) == [(2,)]
