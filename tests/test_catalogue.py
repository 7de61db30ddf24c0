"""The provider's catalogue (POST /provider/games) and the casino's import of it, over real HTTP."""
import uuid

import pytest

pytestmark = pytest.mark.usefixtures("clean_audit")


def code(response):
    return response.json()["error"]["code"]


def provider_game(ledger, currency="USD", active=True, min_bet=5, max_bet=500):
    game_id = "cat-" + uuid.uuid4().hex[:8]
    ledger.query("""INSERT INTO PROVIDER_GAMES (game_id, name, currency, is_active, min_bet, max_bet)
                    VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
                 game_id, "Game " + game_id, currency, active, min_bet, max_bet)
    return game_id


def known_demo_casino(ledger):
    """The provider's row of DEMO-CASINO, as sql/demo.sql has it (the tests' server loads no demo data)."""
    ledger.query("""INSERT INTO PROVIDER_CASINOS (casino_code, name, allows_v1) VALUES ('DEMO-CASINO', 'Demo casino', true)
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
