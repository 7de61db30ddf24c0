"""The provider's catalogue (POST /provider/games) and the casino's import of it, over real HTTP."""
import uuid

import pytest

from casino import operators
from tests.support import OPERATOR_KEY
from tests.support import error_code as code

pytestmark = pytest.mark.usefixtures("clean_audit")


def provider_game(ledger, currency="USD", active=True, min_bet=5, max_bet=500):
    game_id = "cat-" + uuid.uuid4().hex[:8]
    ledger.query("""INSERT INTO PROVIDER_GAMES (game_code, name, currency, enabled, min_bet, max_bet)
                    VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
                 game_id, "Game " + game_id, currency, active, min_bet, max_bet)
    return game_id


def known_demo_casino(ledger):
    """The provider's row of DEMO-CASINO, as sql/demo.sql has it (the tests' server loads no demo data)."""
    ledger.query("""INSERT INTO PROVIDER_CASINOS (casino_code, name, allows_v1)
                    VALUES ('DEMO-CASINO', 'Demo casino', true)
                    ON CONFLICT (casino_code) DO UPDATE SET casino_code = EXCLUDED.casino_code RETURNING id""")


def test_the_catalogue_lists_every_game_of_the_provider(api, ledger):
    known_demo_casino(ledger)
    enabled = provider_game(ledger, currency="EUR", min_bet=20, max_bet=2_000)
    disabled = provider_game(ledger, active=False)
    r = api.provider("games", {"casinoCode": "DEMO-CASINO"})
    assert r.status_code == 200
    games = {g["gameId"]: g for g in r.json()["games"]}
    assert games[enabled] == {"gameId": enabled, "name": "Game " + enabled, "currency": "EUR",
                              "minBet": 20, "maxBet": 2_000, "enabled": True}
    assert games[disabled]["enabled"] is False


def test_another_casinos_key_sees_the_catalogue_as_itself(api, ledger):
    other_code, other_key = ledger.other_casino()
    assert api.provider("games", {"casinoCode": other_code}, key=other_key).status_code == 200
    r = api.provider("games", {"casinoCode": "DEMO-CASINO"}, key=other_key)
    assert (r.status_code, code(r)) == (403, "CASINO_MISMATCH")


def test_a_casino_the_provider_has_no_row_for_is_unknown(api, ledger):
    # DEMO-CASINO signs with the environment's key, which needs no PROVIDER_CASINOS row.
    known_demo_casino(ledger)
    hidden = "HIDDEN-" + uuid.uuid4().hex[:6]
    ledger.query("UPDATE PROVIDER_CASINOS SET casino_code = %s WHERE casino_code = 'DEMO-CASINO' RETURNING id",
                 hidden)
    try:
        r = api.provider("games", {"casinoCode": "DEMO-CASINO"})
    finally:
        ledger.query("UPDATE PROVIDER_CASINOS SET casino_code = 'DEMO-CASINO' WHERE casino_code = %s RETURNING id",
                     hidden)
    assert (r.status_code, code(r)) == (403, "CASINO_UNKNOWN")


@pytest.mark.parametrize("body", [{}, {"casinoCode": 1}, {"casinoCode": ""}])
def test_games_validation(api, body):
    r = api.provider("games", body)
    assert (r.status_code, code(r)) == (400, "INVALID_REQUEST")


def test_games_needs_the_provider_signature(api):
    r = api.provider("games", {"casinoCode": "DEMO-CASINO"}, key=("DEMO-CASINO", b"wrong"))
    assert (r.status_code, code(r)) == (401, "INVALID_SIGNATURE")


# --- the casino's import: POST /casino/admin/providers/{providerCode}/games/import -----------------

def import_games(api, provider_code, key=OPERATOR_KEY):
    return api.http.post(f"{api.base_url}/casino/admin/providers/{provider_code}/games/import", data=b"{}",
                         headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
                         timeout=30)


def casino_game(ledger, provider_id, code, min_bet, max_bet, currency="USD"):
    return ledger.query("""INSERT INTO CASINO_GAMES (provider_id, provider_game_id, name, default_currency,
                                                     min_bet, max_bet)
                           VALUES (%s, %s, 'Old name', %s, %s, %s) RETURNING id""",
                        provider_id, code, currency, min_bet, max_bet)[0][0]


def test_import_creates_and_updates_only_the_games_the_provider_lists(api, ledger):
    known_demo_casino(ledger)
    jaqpot = ledger.demo_provider()
    new = provider_game(ledger, currency="EUR", min_bet=20, max_bet=2_000)
    off = provider_game(ledger, active=False)
    wide = provider_game(ledger, min_bet=10, max_bet=5_000)
    narrow = provider_game(ledger, min_bet=10, max_bet=5_000)
    apart = provider_game(ledger, min_bet=10, max_bet=50)
    wide_id = casino_game(ledger, jaqpot, wide, 1, 100_000)
    narrow_id = casino_game(ledger, jaqpot, narrow, 50, 60)
    casino_game(ledger, jaqpot, apart, 100, 200)
    unknown = "gone-" + uuid.uuid4().hex[:8]
    casino_game(ledger, jaqpot, unknown, 1, 10)

    r = import_games(api, "JAQPOT")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["providerCode"] == "JAQPOT"
    games = {g["providerGameId"]: g for g in body["games"]}
    created = games[new]
    assert created == {"gameId": created["gameId"], "providerGameId": new, "name": "Game " + new,
                       "currency": "EUR", "minBet": 20, "maxBet": 2_000, "enabled": True, "created": True}
    assert games[off]["enabled"] is False and games[off]["created"] is True
    # A game the casino has keeps its id; its limits are clamped into the provider's.
    assert (games[wide]["gameId"], games[wide]["minBet"], games[wide]["maxBet"]) == (wide_id, 10, 5_000)
    assert (games[narrow]["gameId"], games[narrow]["minBet"], games[narrow]["maxBet"]) == (narrow_id, 50, 60)
    assert (games[apart]["minBet"], games[apart]["maxBet"], games[apart]["created"]) == (10, 50, False)
    assert games[wide]["name"] == "Game " + wide
    assert unknown in body["notListed"] and unknown not in games
    assert ledger.query("SELECT name, min_bet FROM CASINO_GAMES WHERE provider_game_id = %s", unknown) == \
        [("Old name", 1)]
    audit = ledger.query("""SELECT action, request, response_status FROM CASINO_ADMIN_AUDIT
                            WHERE action = 'importGames' ORDER BY id DESC LIMIT 1""")
    assert audit == [("importGames", {"providerCode": "JAQPOT"}, 200)]

    # The imported game launches: the provider knows it.
    user_id, _ = ledger.player(funds=1_000, currencies=("EUR",))
    launch = api.client("launchGame", {"userId": user_id, "gameId": created["gameId"]})
    assert launch.status_code == 200, launch.text
    assert launch.json()["currency"] == "EUR"

    # Again: nothing new; a game the casino's operator turned off stays off.
    ledger.query("UPDATE CASINO_GAMES SET enabled = false WHERE id = %s RETURNING id", created["gameId"])
    again = {g["providerGameId"]: g for g in import_games(api, "JAQPOT").json()["games"]}
    assert not any(g["created"] for g in again.values())
    assert again[new]["gameId"] == created["gameId"] and again[new]["enabled"] is False


def test_import_of_an_unknown_provider(api, ledger):
    r = import_games(api, "NO-SUCH-PROVIDER")
    assert (r.status_code, code(r)) == (404, "PROVIDER_NOT_FOUND")
    audit = ledger.query("""SELECT request, response_status FROM CASINO_ADMIN_AUDIT
                            WHERE action = 'importGames' ORDER BY id DESC LIMIT 1""")
    assert audit == [({"providerCode": "NO-SUCH-PROVIDER"}, 404)]


def remote_provider(ledger, endpoint):
    """A provider of the casino's at endpoint, with a casino key the provider does not know."""
    game = ledger.launchable_game(endpoint=endpoint, at_provider=False)
    return ledger.query("""SELECT p.code, p.id FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p
                           ON p.id = g.provider_id WHERE g.id = %s""", game)[0]


def test_import_from_a_provider_that_refuses_names_its_reason_and_writes_nothing(api, ledger):
    provider_code, provider_id = remote_provider(ledger, api.base_url + "/provider")
    before = ledger.query("SELECT count(*) FROM CASINO_GAMES WHERE provider_id = %s", provider_id)
    # The casino's key there was added a moment ago: its key ring loads it for this call.
    r = import_games(api, provider_code)
    assert (r.status_code, code(r)) == (502, "PROVIDER_UNAVAILABLE")
    assert r.json()["error"]["message"].startswith("the game provider refused: INVALID_SIGNATURE")
    assert ledger.query("SELECT count(*) FROM CASINO_GAMES WHERE provider_id = %s", provider_id) == before


@pytest.mark.parametrize("endpoint,message", [
    ("http://127.0.0.1:9/provider", "the game provider refused or did not answer"),
    ("/health", "the game provider refused: NOT_FOUND (no such endpoint)")])   # a wrong URL's 404
def test_import_from_a_provider_without_a_usable_answer(api, ledger, endpoint, message):
    provider_code, _ = remote_provider(ledger, endpoint if endpoint.startswith("http") else api.base_url + endpoint)
    r = import_games(api, provider_code)
    assert (r.status_code, code(r)) == (502, "PROVIDER_UNAVAILABLE")
    assert r.json()["error"]["message"] == message


def test_import_needs_the_admin_scope(api, ledger):
    reader = ledger.run(lambda cur: operators.create_key(cur, ["backoffice"], "test")[0])
    r = import_games(api, "JAQPOT", key=reader)
    assert (r.status_code, code(r)) == (403, "FORBIDDEN")
    r = import_games(api, "JAQPOT", key="nope.nope")
    assert (r.status_code, code(r)) == (401, "UNAUTHORIZED")
