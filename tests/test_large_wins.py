"""Large wins (GET /casino/admin/reports/large-wins): the period's payouts of at least
`multiple` times their round's stakes -- its accepted bets less what was refunded of
them -- newest first, a page at a time.
"""
import csv
import io
import uuid
from datetime import datetime, timedelta, UTC

import pytest

from tests.clocked import ClockedLedger
from tests.support import OPERATOR_KEY

pytestmark = pytest.mark.usefixtures("clean_audit")

DAY = datetime(2025, 7, 3, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def wins(database_dsn, ledger):
    """Four rounds of a provider of this module's own, on 3 July 2025; returns its code and
    {round: payout transactionId}."""
    game = ledger.game(min_bet=1, max_bet=100_000)
    books = ClockedLedger(database_dsn)
    books.at(DAY)
    user_id, wallets = books.player(["EUR"], funds=100_000)
    seat = books.seat(user_id, wallets["EUR"], "EUR", game)
    p = uuid.uuid4().hex[:8]
    minute = iter(range(1, 100))

    def then():
        return books.at(DAY + timedelta(minutes=next(minute)))
    # A: 10 x its stake. B: two bets of 100, one refunded: 500 is 5 x. C: lost (a payout of 0).
    # D: 2 x, on two bets.
    then().bet(seat, f"{p}-a1", f"{p}-A", 100)
    then().win(seat, f"{p}-aw", f"{p}-A", 1_000)
    then().bet(seat, f"{p}-b1", f"{p}-B", 100)
    then().bet(seat, f"{p}-b2", f"{p}-B", 100)
    then().rollback(seat, f"{p}-br", f"{p}-B", f"{p}-b2")
    then().win(seat, f"{p}-bw", f"{p}-B", 500)
    then().bet(seat, f"{p}-c1", f"{p}-C", 300)
    then().win(seat, f"{p}-cw", f"{p}-C", 0)
    then().bet(seat, f"{p}-d1", f"{p}-D", 150)
    then().bet(seat, f"{p}-d2", f"{p}-D", 250)
    then().win(seat, f"{p}-dw", f"{p}-D", 800)
    books.close()
    code = ledger.query("SELECT p.code FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id "
                        "WHERE g.id = %s", game)[0][0]
    return code, {"A": f"{p}-aw", "B": f"{p}-bw", "D": f"{p}-dw"}


def get(api, query):
    return api.http.get(f"{api.base_url}/casino/admin/reports/large-wins?{query}", timeout=30,
                        headers={"Authorization": f"Bearer {OPERATOR_KEY}"})


def found(api, code, multiple, **extra):
    query = "&".join(f"{k}={v}" for k, v in {"from": "2025-07-03", "to": "2025-07-03", "multiple": multiple,
                                              **extra}.items())
    answer = get(api, query)
    assert answer.status_code == 200, answer.text
    return [item for item in answer.json()["items"] if item["provider"] == code], answer.json()


def test_payouts_of_at_least_the_multiple_of_their_rounds_stakes(api, wins):
    code, payouts = wins
    items, _ = found(api, code, "10")
    assert [(i["transactionId"], i["win"], i["roundStakes"], i["multiple"]) for i in items] == [
        (payouts["A"], 1_000, 100, "10.00")]
    items, _ = found(api, code, "5")
    assert [i["transactionId"] for i in items] == [payouts["B"], payouts["A"]]       # newest first
    assert items[0]["roundStakes"] == 100        # the refunded bet is no stake
    items, _ = found(api, code, "2.5")
    assert [i["transactionId"] for i in items] == [payouts["B"], payouts["A"]]
    items, _ = found(api, code, "2")
    assert [(i["transactionId"], i["roundStakes"], i["multiple"]) for i in items] == [
        (payouts["D"], 400, "2.00"), (payouts["B"], 100, "5.00"), (payouts["A"], 100, "10.00")]
    assert all(i["currency"] == "EUR" and i["createdAt"].startswith("2025-07-03T10:") for i in items)
    # The day before holds none of them.
    answer = get(api, "from=2025-07-02&to=2025-07-02&multiple=1")
    assert not [i for i in answer.json()["items"] if i["provider"] == code]


def test_pages_and_csv(api, wins):
    code, payouts = wins
    seen, cursor = [], None
    while True:
        items, body = found(api, code, "2", limit=1, **({"cursor": cursor} if cursor else {}))
        seen += [i["transactionId"] for i in items]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert [tx for tx in seen if tx in payouts.values()] == [payouts["D"], payouts["B"], payouts["A"]]

    answer = get(api, "from=2025-07-03&to=2025-07-03&multiple=2&format=csv")
    lines = list(csv.reader(io.StringIO(answer.text)))
    assert lines[0] == ["createdAt", "provider", "roundId", "transactionId", "userId", "gameId", "currency", "win",
                        "roundStakes", "multiple"]
    mine = [line for line in lines if line[1] == code]
    assert [(line[3], line[7], line[8], line[9]) for line in mine] == [
        (payouts["D"], "8.00", "4.00", "2.00"), (payouts["B"], "5.00", "1.00", "5.00"),
        (payouts["A"], "10.00", "1.00", "10.00")]


def test_bad_multiples_and_periods_are_refused(api):
    for multiple in ("0", "0.00", "-1", "1.234", "abc", "1e3", ""):
        answer = get(api, f"from=2025-07-03&to=2025-07-03&multiple={multiple}")
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "INVALID_REQUEST"), multiple
    answer = get(api, "from=2025-07-04&to=2025-07-03&multiple=2")
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "PERIOD_INVALID")
