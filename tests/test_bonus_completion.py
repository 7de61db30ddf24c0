"""Completion: the bet that takes `wagered` to the wagering requirement turns what remains
of the bonus into cash -- a ledger row -- in its own transaction, once, however many bets
cross the point at the same time."""
import pytest

from tests.support import Gambler, parallel

pytestmark = pytest.mark.usefixtures("clean_audit")


def test_the_bet_that_crosses_the_requirement_completes_the_bonus(api, ledger):
    g = Gambler(api, ledger, cash=100)
    bonus = g.granted(300, wagering=2)["bonusId"]        # 600 to wager
    g.debit("b1", 250)                                   # cash 100, bonus 150: wagered 250
    g.credit("w1", 100)                                  # the bonus share: 100 x 150 / 250 = 60
    assert g.balances() == (250, 40, 210)
    assert g.debit("b2", 200).status_code == 200         # cash 40, bonus 160: wagered 450
    assert g.debit("too-much", 150).status_code == 422   # refused: counts nothing
    assert g.bonus(bonus)["wagered"] == 450
    g.credit("w2", 400)                                  # round r1's stakes: 140 cash, 310 bonus: share 275
    assert g.balances() == (450, 125, 325)
    r = g.debit("b3", 150, round_id="r2")                # cash 125, bonus 25: wagered 600, completed
    assert r.json() == {"transactionId": "b3", "balance": 300, "bonus": 0, "currency": "USD"}
    assert g.balances() == (300, 300, 0)
    listed = g.bonus(bonus)
    assert {k: listed[k] for k in ("status", "endReason", "wagered", "remaining", "converted", "forfeited")} == {
        "status": "completed", "endReason": "wagered", "wagered": 600, "remaining": 0, "converted": 300,
        "forfeited": 0}
    # The bet's row, then the completion's: what remained (300) became cash.
    assert g.rows()[-2:] == [("b3", "debit", "applied", 150, -125, -25, bonus),
                             (f"bonus {bonus} completion", "bonus_completion", "applied", 300, 300, -300, bonus)]
    # Completed: later bets are cash and count toward nothing.
    g.debit("b4", 10, round_id="r3")
    assert g.rows()[-1] == ("b4", "debit", "applied", 10, -10, 0, None)


def test_wagered_is_shown_up_to_the_requirement(api, ledger):
    # The crossing bet may count past the requirement (past 2^53-1, for a bonus near the
    # largest amount at x1000): the back office shows the count up to the requirement.
    g = Gambler(api, ledger, cash=5_000)
    bonus = g.granted(100, wagering=10)["bonusId"]        # 1 000 to wager
    g.debit("big", 4_000)
    listed = g.bonus(bonus)
    assert (listed["status"], listed["wagered"], listed["wageringRequired"]) == ("completed", 1_000, 1_000)


def test_a_completion_with_nothing_left_is_recorded_all_the_same(api, ledger):
    g = Gambler(api, ledger, cash=1_000)
    bonus = g.granted(100, wagering=5)["bonusId"]        # 500 to wager, all of it from cash
    g.debit("b1", 200)
    g.debit("b2", 900)                                   # cash 800, bonus 100: wagered 1100
    assert g.balances() == (0, 0, 0)
    assert g.rows()[-1] == (f"bonus {bonus} completion", "bonus_completion", "applied", 0, 0, 0, bonus)
    assert g.bonus(bonus)["status"] == "completed"


def test_a_refund_takes_back_its_count_so_the_requirement_is_wagered_again(api, ledger):
    g = Gambler(api, ledger, cash=1_000)
    bonus = g.granted(100, wagering=5)["bonusId"]
    g.debit("b1", 400)
    g.rollback("rb1", "b1")
    assert g.bonus(bonus)["wagered"] == 0
    g.debit("b2", 400, round_id="r2")
    assert g.bonus(bonus)["status"] == "active"
    g.debit("b3", 100, round_id="r2")
    assert g.bonus(bonus)["status"] == "completed"
    assert g.balances() == (600, 600, 0)


def test_a_resent_crossing_bet_completes_nothing_twice(api, ledger):
    g = Gambler(api, ledger, cash=0)
    bonus = g.granted(500, wagering=1)["bonusId"]
    first = g.debit("b1", 500)
    again = g.debit("b1", 500)
    assert again.content == first.content and again.headers["Idempotent-Replay"] == "true"
    assert [row[1] for row in g.rows()] == ["bonus_grant", "debit", "bonus_completion"]
    assert g.bonus(bonus)["converted"] == 0


def test_concurrent_bets_across_the_completion_point_complete_it_once(api, ledger):
    for _ in range(3):
        g = Gambler(api, ledger, cash=200)
        bonus = g.granted(2_000, wagering=1)["bonusId"]   # 2 000 to wager; 2 200 to bet with
        answers = parallel([lambda g=g, i=i: g.debit(f"b{i}", 100, round_id=f"r{i}") for i in range(30)])
        assert [r.status_code for r in answers].count(200) == 22
        completions = [row for row in g.rows() if row[1] == "bonus_completion"]
        assert len(completions) == 1
        listed = g.bonus(bonus)
        assert listed["status"] == "completed" and listed["wagered"] == 2_000
        # Of the 2 000 wagered: 200 cash, 1 800 bonus: 200 bonus became cash, and two more bets took it.
        assert completions[0][3] == 200
        assert g.balances() == (0, 0, 0)
