"""Bonus money under player protection's limits (PROTOCOL.md, "What is counted"): a bonus
grant is not a deposit, so no deposit limit counts or refuses it; a bet counts toward the
wager and loss limits whatever money it spends, cash or bonus, and a payout or refund of it
as any other; a bonus's completion and forfeits are not bets, payouts or refunds and count
nowhere. The wallets' counters are checked against the ledger by the audit that ends each
test."""
from datetime import UTC, datetime

import pytest

from tests.support import Gambler, back_office, error_code

pytestmark = pytest.mark.usefixtures("clean_audit")

T0 = datetime(2026, 4, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
def gambler(api, ledger, clock):
    clock.set(T0)
    return Gambler(api, ledger, cash=100)


def limit(g, limit_type, amount, period="day"):
    r = back_office(g.api, "PUT", f"players/{g.user_id}/limits",
                    {"type": limit_type, "period": period, "currency": "USD", "amount": amount})
    assert r.status_code == 200, r.text


def used(g):
    """{(type, period): used} of the player's limits, as the back office reads them."""
    r = back_office(g.api, "GET", f"players/{g.user_id}/limits")
    assert r.status_code == 200, r.text
    return {(item["type"], item["period"]): item["used"] for item in r.json()["items"]}


def test_a_grant_is_not_a_deposit(gambler):
    limit(gambler, "deposit", 1_000)
    assert gambler.granted(5_000)["status"] == "active"              # past the deposit limit: not a deposit
    assert used(gambler) == {("deposit", "day"): 100}                # the fixture's deposit, today
    assert gambler.deposit(900).status_code == 200
    refused = gambler.deposit(1)
    assert (refused.status_code, error_code(refused)) == (422, "DEPOSIT_LIMIT_REACHED")
    assert refused.json()["error"]["details"]["used"] == 1_000
    assert gambler.balances() == (6_000, 1_000, 5_000)


def test_bets_of_bonus_money_count_toward_wager_and_loss_limits(gambler):
    limit(gambler, "wager", 500)
    limit(gambler, "loss", 450)
    gambler.granted(1_000, wagering=10)
    assert gambler.debit("cash", 100, round_id="r1").json()["bonus"] == 1_000      # cash first
    assert gambler.debit("bonus", 300, round_id="r2").json()["bonus"] == 700       # then bonus money
    assert used(gambler) == {("loss", "day"): 400, ("wager", "day"): 400}
    refused = gambler.debit("too-much", 101, round_id="r3")
    assert (refused.status_code, error_code(refused)) == (403, "WAGER_LIMIT_REACHED")
    assert refused.json()["error"]["details"] == {"limitType": "wager", "period": "day", "currency": "USD",
                                                  "limit": 500, "used": 400, "resetsAt": "2026-04-15T00:00:00.000000Z"}
    # A payout of a bonus round (its share kept as bonus money) and a refund of a bonus bet
    # count like any other: the loss goes down by the payout, both by the refund.
    assert gambler.credit("win", 200, round_id="r2").json()["bonus"] == 900
    assert gambler.debit("bonus-2", 50, round_id="r4").status_code == 200
    assert gambler.rollback("refund", "bonus-2", round_id="r4").status_code == 200
    assert used(gambler) == {("loss", "day"): 200, ("wager", "day"): 400}
    assert gambler.balances() == (900, 0, 900)


def test_a_bonus_completion_and_a_forfeit_count_nowhere(gambler):
    limit(gambler, "wager", 10_000)
    limit(gambler, "loss", 10_000)
    limit(gambler, "deposit", 10_000)
    first = gambler.granted(200, wagering=1)["bonusId"]
    assert gambler.debit("completes", 250).json()["bonus"] == 0       # 100 cash, 150 bonus: wagered, completed
    assert gambler.bonus(first)["status"] == "completed"
    assert gambler.balances() == (50, 50, 0)                          # the 50 left of it made cash
    second = gambler.granted(300, wagering=10)["bonusId"]
    assert gambler.cancel(second).status_code == 200                  # forfeited: 300 leaves the wallet
    # Only the bet counted (and the fixture's deposit): no completion, forfeit or grant.
    assert used(gambler) == {("deposit", "day"): 100, ("loss", "day"): 250, ("wager", "day"): 250}
    kinds = {row[1] for row in gambler.rows()}
    assert {"bonus_grant", "bonus_completion", "bonus_forfeit", "debit"} <= kinds
