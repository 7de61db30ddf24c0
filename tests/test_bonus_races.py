"""The wallet's races (tests/test_wallet.py, test_money_rules.py) with a bonus active: calls
really sent at once, and every cent of cash and bonus money accounted for afterwards (each
test ends with the ledger audit). Concurrent grants, and bets across the completion point,
are in test_bonus_grants.py and test_bonus_completion.py."""
import pytest

from tests.support import Gambler, error_code, parallel

pytestmark = pytest.mark.usefixtures("clean_audit")


def parts(g):
    """(cash, bonus) the wallet's applied bets took, net of their refunds."""
    rows = [r for r in g.rows() if r[1] in ("debit", "rollback") and r[2] == "applied"]
    return -sum(r[4] for r in rows), -sum(r[5] for r in rows)


def test_fifty_concurrent_debits_spend_cash_then_bonus_and_overdraw_nothing(api, ledger):
    g = Gambler(api, ledger, cash=300)
    bonus = g.granted(700, wagering=10)["bonusId"]
    answers = parallel([lambda i=i: g.debit(f"d{i}", 100, round_id=f"r{i}") for i in range(50)])
    assert sorted(r.status_code for r in answers) == [200] * 10 + [422] * 40
    assert {error_code(r) for r in answers if r.status_code == 422} == {"INSUFFICIENT_FUNDS"}
    accepted = sorted(((r.json()["balance"], r.json()["bonus"]) for r in answers if r.status_code == 200),
                      reverse=True)
    # In the order they took the wallet's lock: the first three spent cash, the rest bonus.
    assert accepted == [(900, 700), (800, 700), (700, 700)] + [(b, b) for b in range(600, -1, -100)]
    assert g.balances() == (0, 0, 0) and parts(g) == (300, 700)
    assert g.bonus(bonus)["wagered"] == 1_000


def test_rollback_racing_a_credit_on_a_round_of_bonus_money_one_wins(api, ledger):
    for _ in range(4):
        g = Gambler(api, ledger, cash=0)
        g.granted(1_000, wagering=10)
        g.debit("d1", 100)
        rollback, credit = parallel([lambda g=g: g.rollback("rb1", "d1"), lambda g=g: g.credit("c1", 400, related="d1")])
        assert {(rollback.status_code, credit.status_code)} <= {(200, 409), (409, 200)}
        if rollback.status_code == 200:
            assert error_code(credit) == "TRANSACTION_ROLLED_BACK" and g.balances() == (1_000, 0, 1_000)
        else:
            # All of the round's stake was bonus money: so is all of its payout.
            assert error_code(rollback) == "ROLLBACK_NOT_ALLOWED" and g.balances() == (1_300, 0, 1_300)


def test_rollback_racing_its_own_late_bet_with_a_bonus_active(api, ledger):
    for _ in range(4):
        g = Gambler(api, ledger, cash=50)
        bonus = g.granted(500, wagering=10)["bonusId"]
        bet, rollback = parallel([lambda g=g: g.debit("d1", 100), lambda g=g: g.rollback("rb1", "d1")])
        assert rollback.status_code == 200
        if rollback.json()["tombstone"]:
            assert error_code(bet) == "TRANSACTION_ROLLED_BACK"
        else:
            assert bet.status_code == 200
        assert g.balances() == (550, 50, 500) and g.bonus(bonus)["wagered"] == 0


def test_concurrent_rollbacks_of_one_bonus_bet_refund_it_and_its_count_once(api, ledger):
    g = Gambler(api, ledger, cash=100)
    bonus = g.granted(500, wagering=10)["bonusId"]
    g.debit("d1", 400)                                  # cash 100, bonus 300
    answers = parallel([lambda i=i: g.rollback(f"rb{i}", "d1") for i in range(10)])
    assert [r.status_code for r in answers] == [200] * 10
    assert g.balances() == (600, 100, 500) and g.bonus(bonus)["wagered"] == 0


def test_one_id_on_two_wallets_with_bonuses_is_decided_once(api, ledger):
    first, second = Gambler(api, ledger, cash=0), Gambler(api, ledger, cash=0)
    second.game = first.game
    second.token = ledger.session(second.user_id, second.wallet, first.game)
    for g in (first, second):
        g.granted(1_000, wagering=10)
    for i in range(5):
        answers = parallel([lambda i=i: first.debit(f"both-{i}", 100), lambda i=i: second.debit(f"both-{i}", 100)])
        assert sorted((r.status_code, error_code(r)) for r in answers) == [(200, None), (409, "IDEMPOTENCY_CONFLICT")]
    assert first.balances()[0] + second.balances()[0] == 2_000 - 500


def test_a_cancel_racing_bets_forfeits_only_what_they_left(api, ledger):
    for _ in range(3):
        g = Gambler(api, ledger, cash=100)
        bonus = g.granted(1_000, wagering=10)["bonusId"]
        answers = parallel([lambda g=g, bonus=bonus: g.cancel(bonus)]
                           + [lambda g=g, i=i: g.debit(f"d{i}", 100, round_id=f"r{i}") for i in range(12)])
        assert answers[0].status_code == 200
        forfeited = answers[0].json()["forfeited"]
        cash_spent, bonus_spent = parts(g)
        # Every bonus cent either went into a bet before the cancel or left with it.
        assert bonus_spent + forfeited == 1_000 and cash_spent == 100
        assert g.balances() == (0, 0, 0)
        bets_after = [r for r in answers[1:] if r.status_code == 422]
        assert len(bets_after) == 12 - 1 - bonus_spent // 100
