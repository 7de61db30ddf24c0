"""A jurisdiction's bounds of an exclusion are compared by the end each gives, never by their
months and days: P1M is 28 to 31 days, so a minimum P1M with a maximum P30D -- both "720
hours" -- was accepted, and no time-out could then be set from a day before a 31-day month.
A PUT whose minimum ends after its maximum from any day is 400 INVALID_REQUEST (naming the
first such day) and writes nothing; an exclusion's own length is checked by its end instant."""
import pytest

from tests.support import Bettor, back_office, error_code, market

pytestmark = pytest.mark.usefixtures("clean_audit")

RULES = {"name": "Bounds", "timeZone": "UTC", "coolingOffHours": 24, "increaseWaitsForPeriodEnd": False,
         "depositLimitRequired": False, "timeOutMin": "P1D", "timeOutMax": "P6W", "selfExclusionMin": "P6M"}


@pytest.mark.parametrize("bounds, why", [
    ({"timeOutMin": "P1M", "timeOutMax": "P30D"},
     "timeOutMin must not exceed timeOutMax: from 2024-01-01, P1M ends after P30D"),
    ({"timeOutMin": "P30D", "timeOutMax": "P1M"}, "from 2024-01-31, P30D ends after P1M"),
    ({"selfExclusionMin": "P6M", "selfExclusionMax": "P26W"},
     "selfExclusionMin must not exceed selfExclusionMax: from 2024-03-01, P6M ends after P26W"),
    ({"selfExclusionMin": "P1Y", "selfExclusionMax": "P365D"}, "from 2024-01-01, P1Y ends after P365D"),
    # As PostgreSQL orders intervals (a year is 360 days), which the table's CHECK holds to.
    ({"selfExclusionMin": "P365D", "selfExclusionMax": "P1Y"}, "selfExclusionMin must not exceed selfExclusionMax"),
])
def test_a_minimum_that_ends_after_its_maximum_from_any_day_is_refused(api, ledger, bounds, why):
    code = market(api)
    before = ledger.query("SELECT row_to_json(j)::text FROM CASINO_JURISDICTIONS j WHERE code = %s", code)
    for target in (code, "B-" + code[2:]):
        r = back_office(api, "PUT", f"jurisdictions/{target}", {**RULES, **bounds})
        assert (r.status_code, error_code(r)) == (400, "INVALID_REQUEST"), r.text
        assert why in r.json()["error"]["message"]
    assert ledger.query("SELECT row_to_json(j)::text FROM CASINO_JURISDICTIONS j WHERE code = %s", code) == before
    assert ledger.query("SELECT count(*) FROM CASINO_JURISDICTIONS WHERE code = %s", "B-" + code[2:]) == [(0,)]


@pytest.mark.parametrize("bounds", [
    {"timeOutMin": "P1M", "timeOutMax": "P31D"}, {"timeOutMin": "P1M", "timeOutMax": "P1M"},
    {"timeOutMin": "P4W", "timeOutMax": "P1M"}, {"selfExclusionMin": "P6M", "selfExclusionMax": "P1Y"},
])
def test_bounds_whose_minimum_never_ends_later_are_accepted(api, bounds):
    r = back_office(api, "PUT", f"jurisdictions/{market(api)}", {**RULES, **bounds})
    assert r.status_code == 200, r.text


def test_a_time_out_is_measured_by_its_end(api, ledger, clock):
    """P30D at most, from 1 January: until 1 February (a month, 31 days) is too long, and
    nothing is written; until 31 January is within."""
    code = market(api, timeOutMin="P1D", timeOutMax="P30D")
    clock.set("2026-01-01T00:00:00Z")
    player = Bettor(api, ledger, jurisdiction=code)
    r = player.exclude("time-out", "2026-02-01T00:00:00Z")
    assert (r.status_code, error_code(r)) == (422, "EXCLUSION_PERIOD_INVALID")
    assert ledger.query("SELECT count(*) FROM CASINO_PROTECTION_HISTORY WHERE user_id = %s", player.user_id) == [(0,)]
    assert ledger.query("SELECT excluded_until FROM CASINO_WALLETS WHERE id = %s", player.wallet) == [(None,)]
    assert player.exclude("time-out", "2026-01-31T00:00:00Z").status_code == 201
