"""Bets spend cash first, then bonus money, each ledger row recording both parts; a payout
is split in the proportion of its round's cash and bonus stakes (the bonus share rounded
down: the odd cent is cash); a refund gives back its bet's own parts and takes back its
count toward wagering; rounds that started before a bonus, or whose bets straddle its
completion or its forfeit, follow the README's stated rules ("Bonus money")."""
import pytest

from tests.support import Gambler, error_code

pytestmark = pytest.mark.usefixtures("clean_audit")


@pytest.fixture
def gambler(api, ledger):
    return Gambler(api, ledger, cash=300)


def test_a_bet_spends_cash_first_then_bonus(gambler):
    bonus = gambler.granted(500, wagering=10)
    assert gambler.balances() == (800, 300, 500)

    r = gambler.debit("b1", 200)
    assert r.status_code == 200
    assert r.json() == {"transactionId": "b1", "balance": 600, "bonus": 500, "currency": "USD"}
    r = gambler.debit("b2", 250)
    assert r.json() == {"transactionId": "b2", "balance": 350, "bonus": 350, "currency": "USD"}
    assert gambler.balances() == (350, 0, 350)
    # Each row: cash movement, bonus movement, and the bonus it counted toward.
    assert gambler.rows()[1:] == [("b1", "debit", "applied", 200, -200, 0, bonus["bonusId"]),
                                  ("b2", "debit", "applied", 250, -100, -150, bonus["bonusId"])]
    listed = gambler.bonus(bonus["bonusId"])
    assert (listed["wagered"], listed["remaining"], listed["status"]) == (450, 350, "active")


def test_a_bet_beyond_cash_and_bonus_is_refused_and_counts_nothing(gambler):
    bonus = gambler.granted(500, wagering=10)
    r = gambler.debit("b1", 801)
    assert (r.status_code, error_code(r)) == (422, "INSUFFICIENT_FUNDS")
    assert gambler.balances() == (800, 300, 500)
    assert gambler.bonus(bonus["bonusId"])["wagered"] == 0


def test_without_a_bonus_every_bet_is_cash_and_every_answer_says_bonus_0(gambler):
    assert gambler.debit("b1", 100).json()["bonus"] == 0
    assert gambler.credit("w1", 40).json() == {"transactionId": "w1", "balance": 240, "bonus": 0, "currency": "USD"}
    assert gambler.balances() == (240, 240, 0)
    assert gambler.rows() == [("b1", "debit", "applied", 100, -100, 0, None),
                              ("w1", "credit", "applied", 40, 40, 0, None)]


def test_a_payout_is_split_in_the_proportion_of_the_rounds_stakes_the_odd_cent_cash(gambler):
    bonus = gambler.granted(500, wagering=10)["bonusId"]
    gambler.debit("b1", 100)            # cash 100
    gambler.debit("b2", 300)            # cash 200, bonus 100
    gambler.debit("b3", 200)            # bonus 200: the round's stakes are 300 cash, 300 bonus
    assert gambler.balances() == (200, 0, 200)
    # 1001 x 300 / 600 = 500.5: the bonus share is 500, the odd cent cash.
    r = gambler.credit("w1", 1001)
    assert r.json() == {"transactionId": "w1", "balance": 1201, "bonus": 700, "currency": "USD"}
    assert gambler.balances() == (1201, 501, 700)
    assert gambler.rows()[-1] == ("w1", "credit", "applied", 1001, 501, 500, bonus)


def test_a_refunded_bet_is_no_stake_of_its_round(gambler):
    bonus = gambler.granted(500, wagering=10)["bonusId"]
    gambler.debit("b1", 300)            # cash 300
    gambler.debit("b2", 100)            # bonus 100
    assert gambler.rollback("rb2", "b2").json()["bonus"] == 500
    r = gambler.credit("w1", 90)        # the round's standing stakes: cash only
    assert r.json()["bonus"] == 500
    assert gambler.rows()[-2:] == [("rb2", "rollback", "applied", 100, 0, 100, bonus),
                                   ("w1", "credit", "applied", 90, 90, 0, None)]


def test_a_refund_gives_back_both_parts_and_takes_back_the_bets_count(gambler):
    bonus = gambler.granted(500, wagering=10)["bonusId"]
    gambler.debit("b1", 400)            # cash 300, bonus 100
    assert gambler.bonus(bonus)["wagered"] == 400
    r = gambler.rollback("rb1", "b1")
    assert r.json() == {"transactionId": "rb1", "balance": 800, "bonus": 500, "currency": "USD", "tombstone": False}
    assert gambler.balances() == (800, 300, 500)
    assert gambler.bonus(bonus)["wagered"] == 0
    assert gambler.rows()[-1] == ("rb1", "rollback", "applied", 400, 300, 100, bonus)


def test_a_round_that_started_before_the_bonus(api, ledger):
    """Its bets before the grant are cash stakes and never count toward the bonus; its payout
    is split like any other, by the stakes the round holds."""
    g = Gambler(api, ledger, cash=100)
    g.debit("before", 100)              # cash, no bonus yet
    bonus = g.granted(1_000, wagering=5)["bonusId"]
    g.debit("after", 100, round_id="r1")    # bonus 100
    assert g.bonus(bonus)["wagered"] == 100
    r = g.credit("w1", 400)             # stakes 100 cash, 100 bonus
    assert r.json() == {"transactionId": "w1", "balance": 1_300, "bonus": 1_100, "currency": "USD"}
    assert g.rows()[0] == ("before", "debit", "applied", 100, -100, 0, None)

    # A round all of whose stakes came before the grant pays cash, bonus or not.
    h = Gambler(api, ledger, cash=100)
    h.debit("before", 60, round_id="old")
    h.granted(1_000, wagering=5)
    assert h.credit("w1", 500, round_id="old").json()["bonus"] == 1_000
    assert h.balances() == (1_540, 540, 1_000)


def test_a_round_straddling_a_completion_pays_its_bonus_share_as_cash(gambler):
    bonus = gambler.granted(200, wagering=2)["bonusId"]     # 400 to wager
    gambler.debit("b1", 300, round_id="r1")                 # cash 300: wagered 300
    gambler.debit("b2", 100, round_id="r2")                 # bonus 100: wagered 400, completed
    assert gambler.balances() == (100, 100, 0)
    assert gambler.bonus(bonus)["status"] == "completed"
    # r2's stake was all bonus money of a bonus now completed: its payout is cash.
    r = gambler.credit("w2", 250, round_id="r2")
    assert r.json()["bonus"] == 0
    assert gambler.balances() == (350, 350, 0)
    assert gambler.rows()[-1] == ("w2", "credit", "applied", 250, 250, 0, bonus)


def test_a_refund_straddling_a_completion_is_cash_and_leaves_the_wagering_done(gambler):
    bonus = gambler.granted(200, wagering=2)["bonusId"]
    gambler.debit("b1", 350, round_id="r1")                 # cash 300, bonus 50
    gambler.debit("b2", 50, round_id="r2")                  # bonus 50: wagered 400, completed (100 left)
    assert gambler.balances() == (100, 100, 0)
    r = gambler.rollback("rb1", "b1", round_id="r1")
    assert r.json()["bonus"] == 0
    assert gambler.balances() == (450, 450, 0)
    listed = gambler.bonus(bonus)
    assert (listed["status"], listed["wagered"], listed["converted"]) == ("completed", 400, 100)
    assert gambler.rows()[-1] == ("rb1", "rollback", "applied", 350, 350, 0, bonus)


def test_a_round_straddling_a_forfeit_loses_its_bonus_share(gambler):
    bonus = gambler.granted(500, wagering=10)["bonusId"]
    gambler.debit("b1", 400)            # cash 300, bonus 100: the round's stakes
    assert gambler.cancel(bonus).status_code == 200
    assert gambler.balances() == (0, 0, 0)
    # 600 x 100 / 400 = 150 came from the forfeited bonus's stake: forfeited with it.
    r = gambler.credit("w1", 600)
    assert r.json() == {"transactionId": "w1", "balance": 450, "bonus": 0, "currency": "USD"}
    assert gambler.balances() == (450, 450, 0)
    assert gambler.rows()[-2:] == [("w1", "credit", "applied", 600, 450, 150, bonus),
                                   (gambler.share_forfeit_id(bonus, "w1"), "bonus_forfeit", "applied", 150, 0, -150,
                                    bonus)]
    assert gambler.bonus(bonus)["forfeited"] == 400 + 150


def test_a_refund_straddling_a_forfeit_gives_back_only_its_cash_part(gambler):
    bonus = gambler.granted(500, wagering=10)["bonusId"]
    gambler.debit("b1", 400)            # cash 300, bonus 100
    gambler.cancel(bonus)
    r = gambler.rollback("rb1", "b1")
    assert r.json()["balance"] == 300 and r.json()["bonus"] == 0
    assert gambler.balances() == (300, 300, 0)
    assert gambler.rows()[-2:] == [("rb1", "rollback", "applied", 400, 300, 100, bonus),
                                   (gambler.share_forfeit_id(bonus, "rb1"), "bonus_forfeit", "applied", 100, 0, -100,
                                    bonus)]


def test_a_round_staked_from_a_forfeited_and_an_active_bonus_forfeits_its_whole_share(api, ledger):
    g = Gambler(api, ledger, cash=0)
    first = g.granted(300, wagering=10)["bonusId"]
    g.debit("b1", 100)                  # bonus 100 of the first
    g.cancel(first)                     # the first's 200 left forfeited
    g.granted(300, wagering=10)
    g.debit("b2", 100)                  # bonus 100 of the second: 200 left
    r = g.credit("w1", 500)             # all stakes bonus money, half of it a forfeited bonus's
    assert r.json() == {"transactionId": "w1", "balance": 200, "bonus": 200, "currency": "USD"}
    assert g.rows()[-2:] == [("w1", "credit", "applied", 500, 0, 500, first),
                             (g.share_forfeit_id(first, "w1"), "bonus_forfeit", "applied", 500, 0, -500, first)]
    assert g.balances() == (200, 0, 200)


def test_a_forfeited_bonus_wins_no_cash_through_a_later_one_that_completes(api, ledger):
    # A hostile review's case: a round staked from a bonus later cancelled and from a small
    # second bonus that the round's next bet completes. Were the share the later bonus's, its
    # completion would make the first's winnings cash.
    g = Gambler(api, ledger, cash=0)
    first = g.granted(1_000, wagering=1000)["bonusId"]
    g.debit("a1", 1_000)                # all of the first
    g.cancel(first)
    second = g.granted(10, wagering=1)["bonusId"]
    g.debit("b1", 10)                   # all of the second, which completes it
    assert g.bonus(second)["status"] == "completed"
    r = g.credit("w1", 2_020)
    assert r.json()["balance"] == 0 and r.json()["bonus"] == 0
    assert g.rows()[-1] == (g.share_forfeit_id(first, "w1"), "bonus_forfeit", "applied", 2_020, 0, -2_020, first)
    assert error_code(g.withdraw(1)) == "INSUFFICIENT_FUNDS"


def test_a_later_bonus_wins_no_cash_through_an_earlier_one_that_completed(api, ledger):
    # The other way round: a bet completes a small bonus, a large one is granted and staked
    # in the same round; the share stays the active bonus's money, to be wagered.
    g = Gambler(api, ledger, cash=0)
    first = g.granted(10, wagering=1)["bonusId"]
    g.debit("a1", 10)                   # completes the first (nothing left to make cash)
    assert g.bonus(first)["status"] == "completed"
    second = g.granted(1_000, wagering=1000)["bonusId"]
    g.debit("b1", 1_000)
    r = g.credit("w1", 2_020)
    assert r.json() == {"transactionId": "w1", "balance": 2_020, "bonus": 2_020, "currency": "USD"}
    assert g.rows()[-1] == ("w1", "credit", "applied", 2_020, 0, 2_020, second)
    assert error_code(g.withdraw(1)) == "INSUFFICIENT_FUNDS"
