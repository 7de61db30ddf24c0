"""A provider's monthly invoice (GET /casino/admin/reports/providers/{code}/invoice): the
month's GGR per game and in total per currency, the provider's revenue share (set through
the back office, audited) and the amount due -- rows of the month's days only, in the
reporting time zone.
"""
import csv
import io
import json
import uuid
from datetime import datetime, UTC

import pytest

from casino import operators
from tests.clocked import ClockedLedger
from tests.support import OPERATOR_KEY

pytestmark = pytest.mark.usefixtures("clean_audit")


def call(api, method, path, body=None, key=OPERATOR_KEY):
    return api.http.request(method, f"{api.base_url}/casino/admin/{path}", timeout=30,
                            data=json.dumps(body).encode() if body is not None else None,
                            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})


@pytest.fixture(scope="module")
def april(database_dsn, ledger, api):
    """A provider of its own with two games, played in April 2025 in USD and JPY, and on
    the days either side of the month."""
    first = ledger.game(min_bet=1, max_bet=100_000)
    code = ledger.query("""SELECT p.code FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id
                           WHERE g.id = %s""", first)[0][0]
    second = call(api, "POST", "games", {"providerCode": code, "providerGameId": "second-" + uuid.uuid4().hex[:6],
                                         "name": "Second", "currency": "USD", "minBet": 1,
                                         "maxBet": 100_000}).json()["gameId"]
    books = ClockedLedger(database_dsn)
    books.at(datetime(2025, 3, 1, tzinfo=UTC))
    user_id, wallets = books.player(["USD", "JPY"], funds=100_000)
    seats = {(game, currency): books.seat(user_id, wallets[currency], currency, game)
             for game in (first, second) for currency in ("USD", "JPY")}
    p = uuid.uuid4().hex[:8]

    def at(moment):
        books.at(datetime.fromisoformat(moment))
        return books

    # Outside the month: the last minutes of March and the first instant of May.
    at("2025-03-31T23:30:00Z").bet(seats[first, "USD"], f"{p}-march", f"{p}-m", 10_000)
    at("2025-05-01T00:00:00Z").bet(seats[first, "USD"], f"{p}-may", f"{p}-n", 20_000)
    # April, USD: game 1 takes 1 000 and pays 667 (GGR 333); game 2 takes 500 (refunded)
    # and 200 (lost: a payout of 0): GGR 200.
    at("2025-04-01T00:00:00Z").bet(seats[first, "USD"], f"{p}-1", f"{p}-r1", 1_000)
    at("2025-04-09T12:00:00Z").win(seats[first, "USD"], f"{p}-2", f"{p}-r1", 667)
    at("2025-04-15T08:00:00Z").bet(seats[second, "USD"], f"{p}-3", f"{p}-r2", 500)
    at("2025-04-15T08:01:00Z").rollback(seats[second, "USD"], f"{p}-4", f"{p}-r2", f"{p}-3")
    at("2025-04-20T08:00:00Z").bet(seats[second, "USD"], f"{p}-5", f"{p}-r3", 200)
    at("2025-04-30T23:59:59Z").win(seats[second, "USD"], f"{p}-6", f"{p}-r3", 0)
    # April, JPY: the players won (GGR -600): nothing is due.
    at("2025-04-10T10:00:00Z").bet(seats[first, "JPY"], f"{p}-7", f"{p}-r4", 300)
    at("2025-04-10T10:01:00Z").win(seats[first, "JPY"], f"{p}-8", f"{p}-r4", 900)
    books.close()
    return code, first, second


def test_the_share_is_set_through_the_back_office_and_audited(api, ledger):
    code = ledger.query("SELECT code FROM CASINO_GAME_PROVIDERS WHERE id = (SELECT provider_id FROM CASINO_GAMES "
                        "WHERE id = %s)", ledger.game())[0][0]      # a provider of this test's own
    assert call(api, "GET", f"providers/{code}").json()["revenueShare"] is None
    answer = call(api, "POST", f"providers/{code}/revenue-share", {"revenueShare": "12.5"})
    assert answer.status_code == 200 and answer.json()["revenueShare"] == "12.50"
    assert call(api, "POST", f"providers/{code}/revenue-share", {"revenueShare": "100"}).status_code == 200
    audit = ledger.query("""SELECT operator_key_id, request, response_status FROM CASINO_ADMIN_AUDIT
                            WHERE action = 'setProviderRevenueShare' AND request ->> 'providerCode' = %s
                            ORDER BY id""", code)
    assert audit == [("OPERATOR_KEY", {"providerCode": code, "revenueShare": "12.5", "previous": None}, 200),
                     ("OPERATOR_KEY", {"providerCode": code, "revenueShare": "100", "previous": "12.50"}, 200)]
    for share in ("100.01", "12.345", 12.5, "-1", "1e1", "", "abc", None):
        answer = call(api, "POST", f"providers/{code}/revenue-share", {"revenueShare": share})
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "INVALID_REQUEST"), share
    answer = call(api, "POST", "providers/NO-SUCH/revenue-share", {"revenueShare": "1"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "PROVIDER_NOT_FOUND")
    reader = ledger.run(lambda cur: operators.create_key(cur, ["backoffice"], "reader")[0])
    assert call(api, "POST", f"providers/{code}/revenue-share", {"revenueShare": "1"}, key=reader).status_code == 403
    assert call(api, "GET", f"providers/{code}").json()["revenueShare"] == "100.00"


def test_the_months_ggr_per_game_and_the_amount_due(api, april):
    code, first, second = april
    assert call(api, "POST", f"providers/{code}/revenue-share", {"revenueShare": "12.50"}).status_code == 200
    answer = call(api, "GET", f"reports/providers/{code}/invoice?month=2025-04")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["month"], body["from"], body["to"], body["timeZone"], body["revenueShare"]) == \
        ("2025-04", "2025-04-01", "2025-04-30", "UTC", "12.50")
    assert [c["currency"] for c in body["currencies"]] == ["JPY", "USD"]
    jpy, usd = body["currencies"]
    assert [(g["gameId"], g["stakes"], g["refunds"], g["wins"], g["ggr"]) for g in usd["games"]] == [
        (first, 1_000, 0, 667, 333), (second, 700, 500, 0, 200)]
    assert (usd["currency"], usd["rounds"], usd["bets"], usd["ggr"], usd["ngr"]) == ("USD", 3, 3, 533, 533)
    assert usd["amountDue"] == 67                       # 12.5 % of 533 = 66.625, rounded half up
    assert (jpy["currency"], jpy["ggr"], jpy["amountDue"]) == ("JPY", -600, 0)

    lines = list(csv.reader(io.StringIO(call(api, "GET", f"reports/providers/{code}/invoice?month=2025-04"
                                                          "&format=csv").text)))
    assert lines[0][:3] == ["gameId", "name", "currency"] and lines[0][-2:] == ["revenueShare", "amountDue"]
    totals = {line[2]: line for line in lines if line[0] == "total"}
    assert totals["USD"][-3:] == ["5.33", "12.50", "0.67"] and totals["JPY"][-3:] == ["-600", "12.50", "0"]

    # March holds its last minutes' bet only; a provider without a share is owed nothing yet.
    march = call(api, "GET", f"reports/providers/{code}/invoice?month=2025-03").json()
    assert [(c["currency"], c["stakes"]) for c in march["currencies"]] == [("USD", 10_000)]
    other = call(api, "POST", "providers", {"providerCode": "INV-" + uuid.uuid4().hex[:6], "name": "Other"}).json()
    bare = call(api, "GET", f"reports/providers/{other['providerCode']}/invoice?month=2025-04").json()
    assert (bare["revenueShare"], bare["currencies"]) == (None, [])


def test_an_unknown_provider_or_a_bad_month_is_refused(api):
    answer = call(api, "GET", "reports/providers/NO-SUCH/invoice?month=2025-04")
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "PROVIDER_NOT_FOUND")
    for month in ("2025-13", "2025-4", "april", "", "9999-12", "0001-01"):
        answer = call(api, "GET", f"reports/providers/JAQPOT/invoice?month={month}")
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "INVALID_REQUEST"), month
