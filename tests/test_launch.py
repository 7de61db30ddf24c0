"""POST /casino/launchGame and /provider/launch, over real HTTP between the two systems."""
import json

import pytest

from tests.support import DEMO_KEY, signed
from tests.support import error_code as code

pytestmark = pytest.mark.usefixtures("clean_audit")


def session_row(ledger, token):
    return ledger.query("SELECT is_active, provider_session_id FROM CASINO_GAME_SESSIONS WHERE token = %s",
                        token)[0]


def test_launch_opens_sessions_on_both_sides(api, ledger):
    game = ledger.launchable_game(min_bet=10, max_bet=5_000)
    user_id, wallets = ledger.player(funds=2_500)
    r = api.client("launchGame", {"userId": user_id, "gameId": game, "currency": "USD"})
    assert r.status_code == 200
    answer = r.json()
    assert answer["userId"] == user_id and answer["gameId"] == game
    assert answer["currency"] == "USD" and answer["balance"] == 2_500
    assert session_row(ledger, answer["sessionToken"]) == (True, answer["providerSessionId"])
    provider_side = ledger.query("""
        SELECT c.casino_code, c.external_user_id, s.currency
        FROM PROVIDER_SESSIONS s JOIN PROVIDER_CUSTOMERS c ON c.id = s.customer_id
        WHERE s.provider_session_id = %s AND s.casino_session_token = %s""",
        answer["providerSessionId"], answer["sessionToken"])
    assert provider_side == [("DEMO-CASINO", str(user_id), "USD")]


def test_launch_defaults_to_the_games_currency_and_reuses_the_customer(api, ledger):
    game = ledger.launchable_game(currency="EUR")
    user_id, _ = ledger.player(funds=700, currencies=("USD", "EUR"))
    first = api.client("launchGame", {"userId": user_id, "gameId": game}).json()
    second = api.client("launchGame", {"userId": user_id, "gameId": game}).json()
    assert first["currency"] == second["currency"] == "EUR"
    assert first["sessionToken"] != second["sessionToken"]
    customers = ledger.query("SELECT count(*) FROM PROVIDER_CUSTOMERS WHERE external_user_id = %s",
                             str(user_id))
    assert customers == [(1,)]


def test_launched_session_can_bet(api, ledger):
    game = ledger.launchable_game()
    user_id, wallets = ledger.player(funds=1_000)
    token = api.client("launchGame", {"userId": user_id, "gameId": game}).json()["sessionToken"]
    r = api.casino("debit", {"sessionToken": token, "userId": user_id, "transactionId": "L-" + token[:20],
                             "roundId": "r", "amount": 100, "currency": "USD"})
    assert r.status_code == 200 and r.json()["balance"] == 900


@pytest.mark.parametrize("case,status,error", [
    ("unknown user", 404, "USER_NOT_FOUND"),
    ("unknown game", 404, "GAME_NOT_FOUND"),
    ("no wallet in currency", 404, "WALLET_NOT_FOUND"),
    ("game disabled", 403, "GAME_DISABLED"),
    ("provider disabled", 403, "PROVIDER_DISABLED"),
])
def test_launch_refusals(api, ledger, case, status, error):
    # A provider of its own: disabling the shared in-process one would disable it for every test.
    game = ledger.launchable_game(endpoint="http://127.0.0.1:9/provider")
    user_id, _ = ledger.player()
    body = {"userId": user_id, "gameId": game}
    if case == "unknown user":
        body["userId"] = 9_000_000
    elif case == "unknown game":
        body["gameId"] = 9_000_000
    elif case == "no wallet in currency":
        body["currency"] = "GBP"
    elif case == "game disabled":
        ledger.query("UPDATE CASINO_GAMES SET enabled = false WHERE id = %s RETURNING id", game)
    elif case == "provider disabled":
        ledger.query("""UPDATE CASINO_GAME_PROVIDERS SET enabled = false
                        WHERE id = (SELECT provider_id FROM CASINO_GAMES WHERE id = %s) RETURNING id""", game)
    r = api.client("launchGame", body)
    assert (r.status_code, code(r)) == (status, error)
    assert ledger.query("SELECT count(*) FROM CASINO_GAME_SESSIONS WHERE user_id = %s", user_id) == [(0,)]


def test_launch_refuses_a_disabled_player(api, ledger):
    game = ledger.launchable_game()
    user_id, _ = ledger.player(funds=1_000)
    ledger.query("UPDATE CASINO_USERS SET enabled = false WHERE id = %s RETURNING 1", user_id)
    r = api.client("launchGame", {"userId": user_id, "gameId": game})
    assert (r.status_code, code(r)) == (403, "PLAYER_DISABLED")
    assert ledger.query("SELECT count(*) FROM CASINO_GAME_SESSIONS WHERE user_id = %s", user_id) == [(0,)]


@pytest.mark.parametrize("case,reason", [("provider lacks the game", "GAME_NOT_FOUND"),
                                         ("provider disabled the game", "GAME_DISABLED"),
                                         ("provider unreachable", None),
                                         ("a wrong endpoint that answers 404", "NOT_FOUND")])
def test_provider_failure_is_502_with_its_reason_and_the_session_stays_inactive(api, ledger, case, reason):
    if case == "provider lacks the game":
        game = ledger.launchable_game(at_provider=False)
    elif case == "provider disabled the game":
        game = ledger.launchable_game(provider_enabled=False)
    elif case == "provider unreachable":
        game = ledger.launchable_game(endpoint="http://127.0.0.1:9/provider")
    else:   # garbage answers: tests/test_malformed_answers.py
        game = ledger.launchable_game(endpoint=api.base_url + "/health")
    user_id, _ = ledger.player()
    r = api.client("launchGame", {"userId": user_id, "gameId": game})
    assert (r.status_code, code(r)) == (502, "PROVIDER_UNAVAILABLE")
    message = r.json()["error"]["message"]
    if reason:       # the provider's own code, passed on
        assert message.startswith(f"the game provider refused: {reason} ("), message
    else:
        assert message == "the game provider refused or did not answer"
    sessions = ledger.query("SELECT is_active, provider_session_id FROM CASINO_GAME_SESSIONS WHERE user_id = %s",
                            user_id)
    assert sessions == [(False, None)]


@pytest.mark.parametrize("body", [{}, {"userId": 1}, {"userId": "1", "gameId": 1},
                                  {"userId": 1, "gameId": 1, "currency": "usd"},
                                  {"userId": 1, "gameId": 1.5}])
def test_launch_validation(api, body):
    r = api.client("launchGame", body)
    assert (r.status_code, code(r)) == (400, "INVALID_REQUEST")


def test_provider_launch_needs_the_provider_signature(api, ledger):
    body = {"sessionToken": "t", "userId": 1, "gameId": "x", "currency": "USD", "casinoCode": "C"}
    r = api.provider("launch", body, key=("DEMO-CASINO", b"wrong"))
    assert (r.status_code, code(r)) == (401, "INVALID_SIGNATURE")
    data = json.dumps(body).encode()
    # Signed for the casino: the right bytes under the wrong header and secret.
    r = api.raw("/provider/launch", data, signed("/provider/launch", data, DEMO_KEY, "x-casino-signature"))
    assert (r.status_code, code(r)) == (401, "INVALID_SIGNATURE")


def test_provider_launch_unknown_and_disabled_games(api, ledger):
    body = {"sessionToken": "tok-x", "userId": 1, "gameId": "no-such-game", "currency": "USD",
            "casinoCode": "DEMO-CASINO"}
    r = api.provider("launch", body)
    assert (r.status_code, code(r)) == (404, "GAME_NOT_FOUND")
    # Signed by DEMO-CASINO's key, speaking for another casino.
    r = api.provider("launch", {**body, "casinoCode": "OTHER-CASINO"})
    assert (r.status_code, code(r)) == (403, "CASINO_MISMATCH")
    game = ledger.launchable_game(provider_enabled=False)
    code_at_provider = ledger.query("SELECT provider_game_id FROM CASINO_GAMES WHERE id = %s", game)[0][0]
    r = api.provider("launch", {**body, "gameId": code_at_provider})
    assert (r.status_code, code(r)) == (403, "GAME_DISABLED")
