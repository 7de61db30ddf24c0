"""Grants through the back office (POST /casino/admin/bonuses, scope cashier): idempotent
by reference like a deposit, at most one active per wallet, adding to balance only, a
ledger row and an audit row; listed per player with wagered, remaining, status and expiry."""
import json
import uuid

import pytest

from casino import operators
from tests.support import Gambler, error_code, parallel

pytestmark = pytest.mark.usefixtures("clean_audit")

LIMIT = 2**53 - 1


@pytest.fixture
def gambler(api, ledger):
    return Gambler(api, ledger, cash=1_000)


def key_with(ledger, *scopes):
    return ledger.run(lambda cur: operators.create_key(cur, list(scopes), "bonus test")[0])


def test_a_grant_adds_to_balance_not_to_cash(gambler):
    r = gambler.grant(500, wagering=30, expires_at="2100-01-31T23:00:00Z", reference="welcome-1" + uuid.uuid4().hex)
    assert r.status_code == 201 and "Idempotent-Replay" not in r.headers
    body = r.json()
    assert body == {"bonusId": body["bonusId"], "reference": body["reference"], "userId": gambler.user_id,
                    "currency": "USD", "amount": 500, "wagering": 30, "wageringRequired": 15_000, "wagered": 0,
                    "remaining": 500, "status": "active", "expiresAt": "2100-01-31T23:00:00.000000Z",
                    "grantedAt": body["grantedAt"], "endedAt": None, "endReason": None, "converted": 0,
                    "forfeited": 0}
    assert gambler.balances() == (1_500, 1_000, 500)
    assert gambler.get_balance().json() == {"userId": gambler.user_id, "balance": 1_500, "bonus": 500,
                                            "currency": "USD"}
    assert gambler.rows() == [(body["reference"], "bonus_grant", "applied", 500, 0, 500, body["bonusId"])]
    audit = gambler.ledger.query("""SELECT action, request ->> 'reference', response_status FROM CASINO_ADMIN_AUDIT
                                    WHERE request ->> 'reference' = %s""", body["reference"])
    assert audit == [("grantBonus", body["reference"], 201)]


def test_a_grant_is_idempotent_by_reference_like_a_deposit(gambler):
    reference = "promo-" + uuid.uuid4().hex
    first = gambler.grant(500, wagering=5, expires_at="2100-01-01T00:00:00Z", reference=reference)
    # The same instant written with another offset is the same request.
    again = gambler.grant(500, wagering=5, expires_at="2100-01-01T01:00:00+01:00", reference=reference)
    assert again.status_code == 201 and again.headers["Idempotent-Replay"] == "true"
    assert again.content == first.content
    assert gambler.balances() == (1_500, 1_000, 500)
    for other in ({"amount": 501}, {"wagering": 6}, {"expires_at": "2100-01-02T00:00:00Z"}):
        conflict = gambler.grant(**{"amount": 500, "wagering": 5, "expires_at": "2100-01-01T00:00:00Z",
                                    "reference": reference, **other})
        assert (conflict.status_code, error_code(conflict)) == (409, "IDEMPOTENCY_CONFLICT")
    # A microsecond apart is another instant, in any year (a float of the instant, as the
    # fingerprint once held, cannot tell 9998's apart).
    late = "promo-" + uuid.uuid4().hex
    assert gambler.cancel(first.json()["bonusId"]).status_code == 200     # one active bonus a wallet
    assert gambler.grant(1, wagering=1, expires_at="9998-01-01T00:00:00.000001Z", reference=late).status_code == 201
    nearby = gambler.grant(1, wagering=1, expires_at="9998-01-01T00:00:00.000002Z", reference=late)
    assert (nearby.status_code, error_code(nearby)) == (409, "IDEMPOTENCY_CONFLICT")
    # References are the casino's own ids: a deposit's cannot name a grant, nor the reverse.
    assert error_code(gambler.deposit(100, reference=reference)) == "IDEMPOTENCY_CONFLICT"
    deposited = "dep-" + uuid.uuid4().hex
    assert gambler.deposit(100, reference=deposited).status_code == 200
    assert error_code(gambler.grant(100, reference=deposited)) == "IDEMPOTENCY_CONFLICT"
    assert gambler.balances() == (1_101, 1_100, 1)     # the first forfeited, the 9998 one active


def test_one_active_bonus_per_wallet_and_refusals_are_stored(gambler):
    first = gambler.granted(500)
    reference = "second-" + uuid.uuid4().hex
    refused = gambler.grant(300, reference=reference)
    assert (refused.status_code, error_code(refused)) == (409, "BONUS_ACTIVE")
    assert str(first["bonusId"]) in refused.json()["error"]["message"]
    assert gambler.balances() == (1_500, 1_000, 500)
    # Stored like a deposit's refusal: the reference keeps its first answer, even once the
    # first bonus has ended.
    assert gambler.cancel(first["bonusId"]).status_code == 200
    again = gambler.grant(300, reference=reference)
    assert again.headers["Idempotent-Replay"] == "true" and again.content == refused.content
    assert gambler.grant(300).status_code == 201
    assert gambler.rows()[1] == (reference, "bonus_grant", "refused", 300, 0, 0, None)


def test_a_grant_that_expires_before_now_or_passes_the_balance_limit_is_refused(gambler):
    past = gambler.grant(500, expires_at="2000-01-01T00:00:00Z")
    assert (past.status_code, error_code(past)) == (422, "BONUS_EXPIRY_PASSED")
    assert gambler.deposit(LIMIT - 1_500).status_code == 200         # 500 below the limit
    too_much = gambler.grant(501)
    assert (too_much.status_code, error_code(too_much)) == (422, "BALANCE_LIMIT_EXCEEDED")
    assert gambler.balances() == (LIMIT - 500, LIMIT - 500, 0)
    assert [row[1:3] for row in gambler.rows()] == [("bonus_grant", "refused"), ("deposit", "applied"),
                                                   ("bonus_grant", "refused")]


@pytest.mark.parametrize("change", [
    {"amount": 0}, {"amount": 1.0}, {"amount": "5"}, {"amount": LIMIT + 1}, {"wagering": 0}, {"wagering": 1001},
    {"wagering": 2.5}, {"wagering": True}, {"expiresAt": "2100-01-01"}, {"expiresAt": "2100-01-01T00:00:00"},
    {"expiresAt": "2100-13-01T00:00:00Z"}, {"expiresAt": 4102444800}, {"reference": "has space"},
    {"currency": "usd"}, {"userId": 0}, {"amount": LIMIT // 1000 + 1, "wagering": 1}])
def test_bad_grants_are_400_and_change_nothing(gambler, change):
    body = {"userId": gambler.user_id, "currency": "USD", "amount": 500, "wagering": 5,
            "expiresAt": "2100-01-01T00:00:00Z", "reference": "bad-" + uuid.uuid4().hex, **change}
    r = gambler.admin("POST", "bonuses", body)
    assert (r.status_code, error_code(r)) == (400, "INVALID_REQUEST")
    assert gambler.balances() == (1_000, 1_000, 0) and gambler.rows() == []


def test_a_grant_names_an_existing_player_and_wallet(gambler):
    unknown = gambler.admin("POST", "bonuses", {"userId": LIMIT, "currency": "USD", "amount": 5, "wagering": 1,
                                                "expiresAt": "2100-01-01T00:00:00Z", "reference": "x-" + uuid.uuid4().hex})
    assert (unknown.status_code, error_code(unknown)) == (404, "USER_NOT_FOUND")
    no_wallet = gambler.grant(5, currency="EUR")
    assert (no_wallet.status_code, error_code(no_wallet)) == (404, "WALLET_NOT_FOUND")


def test_who_may_grant_list_and_cancel(gambler, ledger):
    reader, cashier = key_with(ledger, "backoffice"), key_with(ledger, "cashier")
    assert gambler.grant(100, key=reader).status_code == 403
    bonus = gambler.granted(100)["bonusId"]
    assert gambler.cancel(bonus, key=reader).status_code == 403
    assert gambler.admin("GET", f"players/{gambler.user_id}/bonuses", key=cashier).status_code == 403
    assert gambler.admin("GET", f"players/{gambler.user_id}/bonuses", key=reader).status_code == 200
    assert gambler.admin("POST", "bonuses", {}, key="nobody.nothing").status_code == 401
    assert gambler.cancel(bonus, key=cashier).status_code == 200


def test_a_players_bonuses_newest_first_with_wagered_remaining_status_and_expiry(api, ledger):
    g = Gambler(api, ledger, cash=0, currencies=("USD", "EUR"))
    first = g.granted(300, wagering=2)["bonusId"]
    g.debit("b1", 100)
    g.cancel(first)
    second = g.granted(200, wagering=3, expires_at="2099-06-30T12:00:00+02:00")["bonusId"]
    g.debit("b2", 50)
    euro = g.granted(70, currency="EUR")["bonusId"]
    items = g.bonuses()
    assert [b["bonusId"] for b in items] == [euro, second, first]
    assert {k: items[1][k] for k in ("wagered", "remaining", "status", "expiresAt", "wageringRequired")} == {
        "wagered": 50, "remaining": 150, "status": "active", "expiresAt": "2099-06-30T10:00:00.000000Z",
        "wageringRequired": 600}
    assert {k: items[2][k] for k in ("wagered", "remaining", "status", "endReason", "forfeited", "converted")} == {
        "wagered": 100, "remaining": 0, "status": "forfeited", "endReason": "cancelled", "forfeited": 200,
        "converted": 0}
    assert items[2]["endedAt"].endswith("Z")
    assert [b["bonusId"] for b in g.bonuses(currency="EUR")] == [euro]
    page = g.admin("GET", f"players/{g.user_id}/bonuses", limit=2).json()
    assert [b["bonusId"] for b in page["items"]] == [euro, second] and page["nextCursor"]
    rest = g.admin("GET", f"players/{g.user_id}/bonuses", limit=2, cursor=page["nextCursor"]).json()
    assert [b["bonusId"] for b in rest["items"]] == [first] and rest["nextCursor"] is None
    unknown = g.admin("GET", f"players/{LIMIT}/bonuses")
    assert (unknown.status_code, error_code(unknown)) == (404, "USER_NOT_FOUND")


def test_concurrent_grants_one_active_bonus(api, ledger):
    for _ in range(3):
        g = Gambler(api, ledger, cash=0)
        answers = parallel([lambda g=g: g.grant(100) for _ in range(6)])
        assert sorted(r.status_code for r in answers) == [201] + [409] * 5
        assert {error_code(r) for r in answers if r.status_code == 409} == {"BONUS_ACTIVE"}
        assert g.balances() == (100, 0, 100)


def test_concurrent_resends_of_one_grant_apply_it_once(api, ledger):
    g = Gambler(api, ledger, cash=0)
    reference = "same-" + uuid.uuid4().hex
    answers = parallel([lambda: g.grant(100, reference=reference) for _ in range(6)])
    assert [r.status_code for r in answers] == [201] * 6
    assert len({r.content for r in answers}) == 1
    assert sum(r.headers.get("Idempotent-Replay") == "true" for r in answers) == 5
    assert g.balances() == (100, 0, 100)
    assert json.loads(answers[0].content)["reference"] == reference
