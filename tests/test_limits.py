"""A player's deposit, loss and wager limits, set, read and changed through the back office
(PUT/GET /casino/admin/players/{userId}/limits): a first or lower limit at once, a higher
one or a removal only after the jurisdiction's cooling-off (and the period's end where it
says so), each change a history row and an audit row. Times are the database's test clock."""
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from casino import operators
from tests.support import OPERATOR_KEY, Bettor, back_office, error_code, market

pytestmark = pytest.mark.usefixtures("clean_audit")

T0 = datetime(2026, 4, 14, 10, 0, tzinfo=UTC)      # a Tuesday


def at(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def gambler(api, ledger, clock):
    clock.set(T0)
    return Bettor(api, ledger, funds=100_000)


def test_a_first_limit_applies_at_once_and_is_read_back(gambler):
    r = gambler.limit("wager", "day", 5_000)
    assert r.status_code == 200, r.text
    assert r.json() == {"type": "wager", "period": "day", "currency": "USD", "amount": 5_000, "pendingAmount": None,
                        "pendingFrom": None, "used": 0, "resetsAt": "2026-04-15T00:00:00.000000Z"}
    assert gambler.bet("b1", 1_200).status_code == 200
    assert gambler.limits() == {("wager", "day"): {**r.json(), "used": 1_200}}
    view = back_office(gambler.api, "GET", f"players/{gambler.user_id}/limits").json()
    assert view["userId"] == gambler.user_id and view["jurisdiction"] == "DEFAULT"


def test_a_lower_limit_applies_at_once(gambler, clock):
    gambler.limit("loss", "week", 10_000)
    clock.set(T0 + timedelta(hours=3))
    r = gambler.limit("loss", "week", 4_000)
    assert (r.status_code, r.json()["amount"], r.json()["pendingFrom"]) == (200, 4_000, None)
    assert gambler.bet("b1", 4_001).status_code == 403


def test_a_higher_limit_waits_for_the_cooling_off(gambler, clock):
    gambler.limit("wager", "week", 1_000)
    clock.set(T0 + timedelta(minutes=5))
    r = gambler.limit("wager", "week", 3_000)
    pending_from = T0 + timedelta(minutes=5, hours=24)
    assert r.json() == {"type": "wager", "period": "week", "currency": "USD", "amount": 1_000,
                        "pendingAmount": 3_000, "pendingFrom": at(pending_from), "used": 0,
                        "resetsAt": "2026-04-20T00:00:00.000000Z"}
    assert gambler.bet("b1", 1_000).status_code == 200
    clock.set(pending_from - timedelta(seconds=1))
    refused = gambler.bet("b2", 1)
    assert (refused.status_code, error_code(refused)) == (403, "WAGER_LIMIT_REACHED")
    clock.set(pending_from)
    assert gambler.bet("b3", 2_000).status_code == 200
    assert gambler.limits()[("wager", "week")] == {
        "type": "wager", "period": "week", "currency": "USD", "amount": 3_000, "pendingAmount": None,
        "pendingFrom": None, "used": 3_000, "resetsAt": "2026-04-20T00:00:00.000000Z"}


def test_a_removal_waits_for_the_cooling_off_then_the_limit_is_gone(gambler, clock):
    gambler.limit("loss", "day", 500)
    clock.set(T0 + timedelta(hours=1))
    r = gambler.limit("loss", "day", None)
    assert (r.json()["amount"], r.json()["pendingAmount"], r.json()["pendingFrom"]) == (
        500, None, at(T0 + timedelta(hours=25)))
    clock.set(T0 + timedelta(hours=25))
    assert gambler.limits() == {}
    assert gambler.bet("b1", 5_000).status_code == 200
    assert gambler.ledger.query("SELECT limited FROM CASINO_WALLETS WHERE id = %s", gambler.wallet) == [(False,)]


def test_a_lower_limit_drops_a_pending_increase(gambler, clock):
    gambler.limit("deposit", "month", 10_000)
    clock.set(T0 + timedelta(hours=1))
    gambler.limit("deposit", "month", 50_000)
    clock.set(T0 + timedelta(hours=2))
    r = gambler.limit("deposit", "month", 8_000)
    assert (r.json()["amount"], r.json()["pendingAmount"], r.json()["pendingFrom"]) == (8_000, None, None)
    clock.set(T0 + timedelta(days=2))
    assert gambler.limits()[("deposit", "month")]["amount"] == 8_000


def test_removing_no_limit_changes_nothing(gambler):
    r = gambler.limit("wager", "month", None)
    assert r.status_code == 200 and r.json()["amount"] is None and r.json()["pendingFrom"] is None
    assert gambler.ledger.query("SELECT count(*) FROM CASINO_PROTECTION_HISTORY WHERE user_id = %s",
                                gambler.user_id) == [(0,)]


def test_sweden_raises_a_limit_after_72_hours_and_not_before_the_period_ends(api, ledger, clock):
    clock.set(datetime(2026, 4, 2, 8, 0, tzinfo=UTC))           # 10:00 in Stockholm, 2 April
    sweden = Bettor(api, ledger, funds=0, jurisdiction="SE")
    assert sweden.limit("deposit", "month", 1_000).status_code == 200
    assert sweden.limit("deposit", "day", 500).status_code == 200
    # The month's window ends on 1 May 00:00 in Stockholm (22:00 UTC on 30 April), well after 72 h.
    assert sweden.limit("deposit", "month", 2_000).json()["pendingFrom"] == "2026-04-30T22:00:00.000000Z"
    # A day's limit: 72 h outlasts the day, so 72 h it is.
    assert sweden.limit("deposit", "day", 900).json()["pendingFrom"] == "2026-04-05T08:00:00.000000Z"


def test_germany_waits_seven_days(api, ledger, clock):
    clock.set(T0)
    germany = Bettor(api, ledger, funds=0, jurisdiction="DE")
    germany.limit("deposit", "month", 1_000)
    assert germany.limit("deposit", "month", 2_000).json()["pendingFrom"] == at(T0 + timedelta(days=7))


def test_the_last_deposit_limit_of_a_market_that_requires_one_stays(api, ledger, clock):
    clock.set(T0)
    sweden = Bettor(api, ledger, funds=0, jurisdiction="SE")
    sweden.limit("deposit", "week", 1_000)
    refused = sweden.limit("deposit", "week", None)
    assert (refused.status_code, error_code(refused)) == (422, "DEPOSIT_LIMIT_REQUIRED")
    sweden.limit("deposit", "month", 3_000)
    assert sweden.limit("deposit", "week", None).status_code == 200      # the month's stays


def test_every_change_is_a_history_row_and_an_audit_row(api, ledger, gambler, clock):
    key = ledger.run(lambda cur: operators.create_key(cur, ["protection", "backoffice"], "limits test")[0])
    gambler.limit("wager", "day", 2_000, key=key)
    clock.set(T0 + timedelta(hours=1))
    gambler.limit("wager", "day", 6_000, key=key)
    history = back_office(api, "GET", f"players/{gambler.user_id}/protection-history").json()["items"]
    key_id = key.split(".")[0]
    assert history == [
        {"change": "limit", "type": "wager", "period": "day", "currency": "USD", "oldAmount": 2_000,
         "newAmount": 6_000, "effectiveFrom": at(T0 + timedelta(hours=25)), "operator": key_id,
         "createdAt": at(T0 + timedelta(hours=1))},
        {"change": "limit", "type": "wager", "period": "day", "currency": "USD", "oldAmount": None,
         "newAmount": 2_000, "effectiveFrom": at(T0), "operator": key_id, "createdAt": at(T0)}]
    audited = ledger.query("""SELECT action, request ->> 'amount', response_status FROM CASINO_ADMIN_AUDIT
                              WHERE operator_key_id = %s ORDER BY id""", key_id)
    assert audited == [("setLimit", "2000", 200), ("setLimit", "6000", 200)]


def test_history_is_append_only(ledger, gambler):
    gambler.limit("loss", "day", 100)
    for statement in ("UPDATE CASINO_PROTECTION_HISTORY SET new_amount = 1 WHERE user_id = %s",
                      "DELETE FROM CASINO_PROTECTION_HISTORY WHERE user_id = %s"):
        with pytest.raises(psycopg2.errors.RaiseException, match="append-only"):
            ledger.query(statement + " RETURNING id", gambler.user_id)


@pytest.mark.parametrize("body", [
    {"type": "stake", "period": "day", "currency": "USD", "amount": 1},
    {"type": "loss", "period": "year", "currency": "USD", "amount": 1},
    {"type": "loss", "period": "day", "currency": "usd", "amount": 1},
    {"type": "loss", "period": "day", "currency": "USD", "amount": -1},
    {"type": "loss", "period": "day", "currency": "USD", "amount": 1.0},
    {"type": "loss", "period": "day", "currency": "USD", "amount": "10"},
    {"type": "loss", "period": "day", "currency": "USD"},
])
def test_a_malformed_limit_is_400_and_changes_nothing(api, gambler, body):
    r = back_office(api, "PUT", f"players/{gambler.user_id}/limits", body)
    assert (r.status_code, error_code(r)) == (400, "INVALID_REQUEST")
    assert gambler.limits() == {}


def test_unknown_players_and_wallets(api, gambler):
    body = {"type": "loss", "period": "day", "currency": "USD", "amount": 1}
    r = back_office(api, "PUT", f"players/{2**53 - 1}/limits", body)
    assert (r.status_code, error_code(r)) == (404, "USER_NOT_FOUND")
    r = back_office(api, "PUT", f"players/{gambler.user_id}/limits", {**body, "currency": "SEK"})
    assert (r.status_code, error_code(r)) == (404, "WALLET_NOT_FOUND")
    r = back_office(api, "GET", f"players/{2**53 - 1}/limits")
    assert (r.status_code, error_code(r)) == (404, "USER_NOT_FOUND")


def test_setting_needs_the_protection_scope_and_reading_backoffice(api, ledger, gambler):
    body = {"type": "loss", "period": "day", "currency": "USD", "amount": 1}
    path = f"players/{gambler.user_id}/limits"
    for scopes, put_status, get_status in ((["admin", "cashier", "backoffice"], 403, 200),
                                           (["protection"], 200, 403)):
        key = ledger.run(lambda cur, scopes=scopes: operators.create_key(cur, scopes, "scope test")[0])
        assert back_office(api, "PUT", path, body, key).status_code == put_status
        assert back_office(api, "GET", path, key=key).status_code == get_status
    assert back_office(api, "PUT", path, body, "op_nobody.secret").status_code == 401


def test_the_path_answers_get_and_put_only(api, gambler):
    r = back_office(api, "POST", f"players/{gambler.user_id}/limits", {})
    assert r.status_code == 405 and r.headers["Allow"] == "GET, PUT"


def test_a_market_added_as_a_row_counts_its_cooling_off(api, ledger, clock):
    code = market(api, coolingOffHours=6)
    clock.set(T0)
    punter = Bettor(api, ledger, jurisdiction=code)
    punter.limit("loss", "day", 100)
    assert punter.limit("loss", "day", 200).json()["pendingFrom"] == at(T0 + timedelta(hours=6))


def test_a_put_body_over_64_kib_is_413(api, gambler):
    r = api.http.put(f"{api.base_url}/casino/admin/players/{gambler.user_id}/limits", data=b"{" + b" " * 70_000 + b"}",
                     headers={"Authorization": f"Bearer {OPERATOR_KEY}", "Content-Type": "application/json"},
                     timeout=30)
    assert (r.status_code, error_code(r)) == (413, "PAYLOAD_TOO_LARGE")
