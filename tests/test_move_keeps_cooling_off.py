"""Moving a player to another market never shortens a pending limit increase's cooling-off:
the change's effective time is recounted under the new market's rules, from when it was
asked for, and the later of the old and the new wins -- a move to a stricter market makes it
wait longer, a move to a laxer one leaves it as it was."""
import pytest

from tests.support import Bettor, back_office, market

pytestmark = pytest.mark.usefixtures("clean_audit")


def pending(player):
    item = player.limits()["deposit", "month"]
    return item["amount"], item["pendingAmount"], item["pendingFrom"]


def move(api, player, code):
    r = back_office(api, "POST", f"players/{player.user_id}/jurisdiction", {"jurisdiction": code})
    assert r.status_code == 200, r.text


def test_a_move_to_a_longer_cooling_off_makes_the_increase_wait_longer(api, ledger, clock):
    lax, strict = market(api, coolingOffHours=24), market(api, coolingOffHours=72)
    clock.set("2026-03-02T10:00:00.000000Z")
    player = Bettor(api, ledger, jurisdiction=lax)
    assert player.limit("deposit", "month", 100).status_code == 200
    assert player.limit("deposit", "month", 500).status_code == 200
    assert pending(player) == (100, 500, "2026-03-03T10:00:00.000000Z")
    clock.set("2026-03-02T12:00:00.000000Z")
    move(api, player, strict)
    assert pending(player) == (100, 500, "2026-03-05T10:00:00.000000Z")
    # Past the old market's day: still the lower limit, for the deposits too.
    clock.set("2026-03-03T11:00:00.000000Z")
    assert pending(player) == (100, 500, "2026-03-05T10:00:00.000000Z")
    r = player.cash("deposit", 200)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "DEPOSIT_LIMIT_REACHED")
    clock.set("2026-03-05T10:00:01Z")
    assert pending(player)[0] == 500


def test_a_move_to_a_shorter_cooling_off_leaves_the_wait_as_it_was(api, ledger, clock):
    lax, strict = market(api, coolingOffHours=24), market(api, coolingOffHours=72)
    clock.set("2026-03-02T10:00:00.000000Z")
    player = Bettor(api, ledger, jurisdiction=strict)
    assert player.limit("deposit", "month", 100).status_code == 200
    assert player.limit("deposit", "month", 500).status_code == 200
    move(api, player, lax)
    assert pending(player) == (100, 500, "2026-03-05T10:00:00.000000Z")


def test_a_move_to_a_market_that_waits_for_the_period_end(api, ledger, clock):
    lax, period_end = market(api, coolingOffHours=24), market(api, coolingOffHours=24, increaseWaitsForPeriodEnd=True)
    clock.set("2026-03-02T10:00:00.000000Z")
    player = Bettor(api, ledger, jurisdiction=lax)
    assert player.limit("deposit", "month", 100).status_code == 200
    assert player.limit("deposit", "month", 500).status_code == 200
    move(api, player, period_end)
    assert pending(player) == (100, 500, "2026-04-01T00:00:00.000000Z")
