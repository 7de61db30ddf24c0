"""Bonus money under player protection's exclusions (PROTOCOL.md, "Bonus money": on an
exclusion the bonus is forfeited). An exclusion forfeits the player's active bonuses, in
every currency, in its own transaction and at its instant: what remains of each leaves its
wallet in a ledger row, cash is never touched, and a later payout's bonus share follows the
forfeited bonus out. A grant to an excluded player is refused 403 PLAYER_EXCLUDED, stored
and replayed like the grant's other refusals, until the exclusion ends. The audit ends every
test clean."""
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import Gambler, back_office

pytestmark = pytest.mark.usefixtures("clean_audit")

T0 = datetime(2026, 4, 14, 12, 0, tzinfo=UTC)


def rfc3339(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def gambler(api, ledger, clock):
    clock.set(T0)
    return Gambler(api, ledger, cash=300, currencies=("USD", "EUR"))


def exclude(g, kind, until):
    return back_office(g.api, "POST", f"players/{g.user_id}/exclusions", {"kind": kind, "until": until})


def stamped(g, transaction_id):
    """When the database stamped the ledger row with this id (the casino's own)."""
    (at,), = g.ledger.query("SELECT created_at FROM CASINO_TRANSACTIONS WHERE provider_id IS NULL "
                            "AND external_transaction_id = %s", transaction_id)
    return at


def test_an_exclusion_forfeits_the_players_active_bonuses_in_every_currency(gambler):
    usd = gambler.granted(500, wagering=10)["bonusId"]
    eur = gambler.granted(200, currency="EUR")["bonusId"]
    assert gambler.debit("b1", 400).json()["bonus"] == 400          # cash 300 first, then 100 of bonus
    r = exclude(gambler, "time-out", rfc3339(T0 + timedelta(days=2)))
    assert r.status_code == 201, r.text
    assert r.json()["from"] == rfc3339(T0)
    assert [(b["bonusId"], b["status"], b["endReason"], b["endedAt"], b["remaining"], b["forfeited"])
            for b in gambler.bonuses()] == [(eur, "forfeited", "excluded", rfc3339(T0), 0, 200),
                                            (usd, "forfeited", "excluded", rfc3339(T0), 0, 400)]
    # What remained of each left its wallet in a row of its own, at the exclusion's instant;
    # cash untouched: the EUR wallet keeps its 300, the USD one had spent its own.
    assert gambler.rows()[-1] == (f"bonus {usd} forfeit", "bonus_forfeit", "applied", 400, 0, -400, usd)
    assert stamped(gambler, f"bonus {usd} forfeit") == stamped(gambler, f"bonus {eur} forfeit") == T0
    assert gambler.ledger.query("SELECT currency_code, playable_balance, redeemable_balance FROM CASINO_WALLETS "
                                "WHERE user_id = %s ORDER BY currency_code", gambler.user_id) == [
        ("EUR", 300, 300), ("USD", 0, 0)]
    assert gambler.get_balance().json()["bonus"] == 0
    # A late payout lands; its bonus share (a quarter: 100 of the round's 400 was bonus)
    # followed the forfeited bonus out, its cash share stays.
    win = gambler.credit("w1", 200)
    assert (win.status_code, win.json()["balance"], win.json()["bonus"]) == (200, 150, 0)
    assert gambler.rows()[-1] == (gambler.share_forfeit_id(usd, "w1"), "bonus_forfeit", "applied", 50, 0, -50, usd)
    assert gambler.balances() == (150, 150, 0)


def test_a_bonus_past_its_expiry_when_the_exclusion_comes_is_forfeited_as_expired(gambler, clock):
    bonus = gambler.granted(500, expires_at=rfc3339(T0 + timedelta(hours=1)))["bonusId"]
    clock.set(T0 + timedelta(hours=2))
    assert exclude(gambler, "time-out", rfc3339(T0 + timedelta(days=2))).status_code == 201
    assert [(b["bonusId"], b["status"], b["endReason"], b["endedAt"]) for b in gambler.bonuses()] == [
        (bonus, "forfeited", "expired", rfc3339(T0 + timedelta(hours=2)))]
    assert gambler.balances() == (300, 300, 0)


def test_a_grant_to_an_excluded_player_is_refused_and_stored_until_the_exclusion_ends(gambler, clock):
    until = T0 + timedelta(days=1)
    assert exclude(gambler, "time-out", rfc3339(until)).status_code == 201
    reference = "promo-" + uuid.uuid4().hex
    refused = gambler.grant(500, reference=reference)
    assert (refused.status_code, refused.json()["error"]) == (403, {
        "code": "PLAYER_EXCLUDED", "message": f"the player is excluded until {rfc3339(until)}"})
    # Stored as the reference's answer, like the grant's other refusals: replayed, and the
    # reference cannot be used for another request.
    again = gambler.grant(500, reference=reference)
    assert again.headers["Idempotent-Replay"] == "true" and again.content == refused.content
    assert gambler.grant(600, reference=reference).json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert gambler.bonuses() == [] and gambler.balances() == (300, 300, 0)
    assert gambler.rows() == [(reference, "bonus_grant", "refused", 500, 0, 0, None)]
    audit = gambler.ledger.query("""SELECT response_status, replay FROM CASINO_ADMIN_AUDIT
                                    WHERE action = 'grantBonus' AND request ->> 'reference' = %s ORDER BY id""",
                                 reference)
    assert audit == [(403, False), (403, True), (409, False)]
    clock.set(until)
    assert gambler.granted(500)["status"] == "active"               # the time-out is over
    assert gambler.grant(500, reference=reference).status_code == 403   # its refusal stays the answer


def test_a_self_excluded_players_grant_says_indefinitely(api, ledger, clock):
    clock.set(T0)
    g = Gambler(api, ledger, cash=0)
    assert exclude(g, "self-exclusion", None).status_code == 201
    refused = g.grant(100)
    assert (refused.status_code, refused.json()["error"]["message"]) == (403, "the player is excluded indefinitely")
    assert g.balances() == (0, 0, 0)
