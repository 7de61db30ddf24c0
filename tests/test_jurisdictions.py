"""Each market's rules are a row of CASINO_JURISDICTIONS (GET/PUT
/casino/admin/jurisdictions/{code}, scope admin, audited): seeded with GB, SE, ON, DE and
DEFAULT; every player belongs to one (DEFAULT_JURISDICTION names the default); a new market
is a PUT, and players of it play under its rules."""
import uuid
from datetime import UTC, datetime

import pytest

from casino import operators
from tests.support import Api, Bettor, ServerProcess, back_office, error_code

pytestmark = pytest.mark.usefixtures("clean_audit")

RULES = ("name", "timeZone", "coolingOffHours", "increaseWaitsForPeriodEnd", "depositLimitRequired", "timeOutMin",
         "timeOutMax", "selfExclusionMin", "selfExclusionMax", "registerName", "registerUrl", "registerUnavailable")


def rules(api, code):
    r = back_office(api, "GET", f"jurisdictions/{code}")
    assert r.status_code == 200, r.text
    return {name: r.json()[name] for name in RULES}


def test_the_seeded_markets(api):
    assert rules(api, "GB") == {
        "name": "Great Britain (UKGC)", "timeZone": "Europe/London", "coolingOffHours": 24,
        "increaseWaitsForPeriodEnd": False, "depositLimitRequired": False, "timeOutMin": "P1D", "timeOutMax": "P42D",
        "selfExclusionMin": "P6M", "selfExclusionMax": None, "registerName": "GAMSTOP", "registerUrl": None,
        "registerUnavailable": "refuse"}
    sweden, ontario, germany, default = (rules(api, code) for code in ("SE", "ON", "DE", "DEFAULT"))
    assert (sweden["timeZone"], sweden["coolingOffHours"], sweden["increaseWaitsForPeriodEnd"],
            sweden["depositLimitRequired"], sweden["registerName"]) == ("Europe/Stockholm", 72, True, True, "Spelpaus")
    assert (ontario["timeZone"], ontario["coolingOffHours"], ontario["registerName"]) == ("America/Toronto", 24, None)
    assert (germany["timeZone"], germany["coolingOffHours"], germany["depositLimitRequired"],
            germany["registerName"]) == ("Europe/Berlin", 168, True, "OASIS")
    assert (default["timeZone"], default["registerName"]) == ("UTC", None)
    listed = back_office(api, "GET", "jurisdictions").json()["items"]
    assert {"DE", "DEFAULT", "GB", "ON", "SE"} <= {j["code"] for j in listed}


def test_a_new_market_is_a_row_and_its_players_play_under_it(api, ledger, clock):
    code = "NZ-TEST-" + uuid.uuid4().hex[:4].upper()
    row = {"name": "New Zealand (test)", "timeZone": "Pacific/Auckland", "coolingOffHours": 48,
           "increaseWaitsForPeriodEnd": False, "depositLimitRequired": False, "timeOutMin": "PT12H",
           "timeOutMax": "P2D", "selfExclusionMin": "P1Y", "selfExclusionMax": "P3Y"}
    created = back_office(api, "PUT", f"jurisdictions/{code}", row)
    assert created.status_code == 201, created.text
    assert {name: created.json()[name] for name in RULES} == {**row, "registerName": None, "registerUrl": None,
                                                              "registerUnavailable": "refuse"}
    again = back_office(api, "PUT", f"jurisdictions/{code}", {**row, "coolingOffHours": 36})
    assert (again.status_code, again.json()["coolingOffHours"]) == (200, 36)
    assert ledger.query("""SELECT response_status FROM CASINO_ADMIN_AUDIT WHERE action = 'putJurisdiction'
                           AND request ->> 'code' = %s ORDER BY id""", code) == [(201,), (200,)]

    # A player registered in it over the API, and one made by the tests' fixtures.
    name = "kiwi-" + uuid.uuid4().hex[:8]
    r = back_office(api, "POST", "players", {"username": name, "email": f"{name}@example.com", "jurisdiction": code})
    assert (r.status_code, r.json()["jurisdiction"]) == (201, code)
    # 23:30 on 14 April in Auckland (UTC+12) is 11:30 UTC.
    clock.set(datetime(2026, 4, 14, 11, 30, tzinfo=UTC))
    kiwi = Bettor(api, ledger, jurisdiction=code)
    kiwi.limit("wager", "day", 1_000)
    assert kiwi.limits()[("wager", "day")]["resetsAt"] == "2026-04-14T12:00:00.000000Z"
    assert kiwi.bet("b1", 1_000).status_code == 200
    assert error_code(kiwi.bet("b2", 1)) == "WAGER_LIMIT_REACHED"
    clock.set(datetime(2026, 4, 14, 12, 0, tzinfo=UTC))       # its midnight; still the 14th in UTC
    assert kiwi.bet("b3", 1_000).status_code == 200
    raised = kiwi.limit("wager", "day", 2_000)
    assert raised.json()["pendingFrom"] == "2026-04-16T00:00:00.000000Z"        # 36 hours of cooling-off
    # Its exclusions' bounds: a time-out of 12 hours to 2 days.
    too_long = kiwi.exclude("time-out", "2026-04-17T00:00:00Z")
    assert (too_long.status_code, error_code(too_long)) == (422, "EXCLUSION_PERIOD_INVALID")
    assert too_long.json()["error"]["message"] == f"a time-out in {code} lasts from PT12H to P2D"
    assert kiwi.exclude("time-out", "2026-04-15T00:00:00Z").status_code == 201


def test_a_player_moves_to_another_market(api, ledger, clock):
    clock.set(datetime(2026, 4, 14, 20, 0, tzinfo=UTC))
    player = Bettor(api, ledger)
    player.limit("loss", "day", 500)
    assert player.limits()[("loss", "day")]["resetsAt"] == "2026-04-15T00:00:00.000000Z"
    r = back_office(api, "POST", f"players/{player.user_id}/jurisdiction", {"jurisdiction": "ON"})
    assert (r.status_code, r.json()["jurisdiction"]) == (200, "ON")
    clock.set(datetime(2026, 4, 14, 20, 0, 1, tzinfo=UTC))
    assert player.limits()[("loss", "day")]["resetsAt"] == "2026-04-15T04:00:00.000000Z"    # Toronto's midnight
    assert player.bet("b1", 500).status_code == 200
    r = back_office(api, "POST", f"players/{player.user_id}/jurisdiction", {"jurisdiction": "NOWHERE"})
    assert (r.status_code, error_code(r)) == (404, "JURISDICTION_NOT_FOUND")
    assert ledger.query("""SELECT response_status FROM CASINO_ADMIN_AUDIT WHERE action = 'setPlayerJurisdiction'
                           AND (request ->> 'userId')::bigint = %s ORDER BY id""", player.user_id) == [(200,), (404,)]


@pytest.mark.parametrize("change, why", [
    ({"timeOutMin": "P2M", "timeOutMax": "P1M"}, "timeOutMin must not exceed timeOutMax"),
    ({"selfExclusionMin": "P2Y", "selfExclusionMax": "P1Y"}, "selfExclusionMin must not exceed selfExclusionMax"),
    ({"registerUrl": "https://register.example/check"}, "registerUrl needs a registerName"),
    ({"timeOutMin": "6 months"}, "timeOutMin"),
    ({"timeOutMin": "P0D"}, "timeOutMin"),
    ({"coolingOffHours": -1}, "coolingOffHours"),
    ({"registerUnavailable": "shrug"}, "registerUnavailable"),
    ({"registerUrl": "ftp://register.example"}, "registerUrl"),
])
def test_a_row_that_cannot_be_a_market_is_400(api, change, why):
    row = {"name": "Bad", "timeZone": "UTC", "coolingOffHours": 24, "increaseWaitsForPeriodEnd": False,
           "depositLimitRequired": False, "timeOutMin": "P1D", "timeOutMax": "P6W", "selfExclusionMin": "P6M"}
    r = back_office(api, "PUT", "jurisdictions/BAD-ROW", {**row, **change})
    assert (r.status_code, error_code(r)) == (400, "INVALID_REQUEST")
    assert why in r.json()["error"]["message"]
    assert back_office(api, "GET", "jurisdictions/BAD-ROW").status_code == 404


def test_a_time_zone_the_database_does_not_know_is_422_and_audited(api, ledger):
    row = {"name": "Mars", "timeZone": "Mars/Olympus_Mons", "coolingOffHours": 24, "increaseWaitsForPeriodEnd": False,
           "depositLimitRequired": False, "timeOutMin": "P1D", "timeOutMax": "P6W", "selfExclusionMin": "P6M"}
    r = back_office(api, "PUT", "jurisdictions/MARS", row)
    assert (r.status_code, error_code(r)) == (422, "TIME_ZONE_UNKNOWN")
    assert "'Mars/Olympus_Mons'" in r.json()["error"]["message"]
    assert back_office(api, "GET", "jurisdictions/MARS").status_code == 404
    assert ledger.query("""SELECT response_status FROM CASINO_ADMIN_AUDIT WHERE action = 'putJurisdiction'
                           AND request ->> 'code' = 'MARS'""") == [(422,)]


def test_unknown_codes(api):
    r = back_office(api, "GET", "jurisdictions/XX")
    assert (r.status_code, error_code(r)) == (404, "JURISDICTION_NOT_FOUND")
    assert back_office(api, "GET", "jurisdictions/gb").status_code == 400
    r = back_office(api, "POST", "players", {"username": "nowhere-man", "email": "nowhere@example.com",
                                             "jurisdiction": "XX"})
    assert (r.status_code, error_code(r)) == (404, "JURISDICTION_NOT_FOUND")


def test_jurisdictions_need_the_admin_scope(api, ledger):
    key = ledger.run(lambda cur: operators.create_key(
        cur, [s for s in operators.SCOPES if s != "admin"], "no admin")[0])
    assert back_office(api, "GET", "jurisdictions/GB", key=key).status_code == 403
    assert back_office(api, "GET", "jurisdictions", key=key).status_code == 403
    assert back_office(api, "PUT", "jurisdictions/GB", {}, key).status_code == 403
    assert back_office(api, "DELETE", "jurisdictions/GB").status_code == 405


def test_the_default_jurisdiction_is_a_setting(service_dsn):
    server = ServerProcess(service_dsn, extra_env={"DEFAULT_JURISDICTION": "ON"}).start()
    try:
        name = "on-" + uuid.uuid4().hex[:8]
        r = back_office(Api(server.url), "POST", "players", {"username": name, "email": f"{name}@example.com"})
        assert (r.status_code, r.json()["jurisdiction"]) == (201, "ON")
    finally:
        server.stop()
    refused = ServerProcess(service_dsn, extra_env={"DEFAULT_JURISDICTION": "XX"})
    with pytest.raises(RuntimeError, match="DEFAULT_JURISDICTION=XX: the database has no such jurisdiction"):
        refused.start()
