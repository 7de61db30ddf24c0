"""/provider/simulate plays at most one round per (casino, requestId): a replayed body, or
identical requests at the same instant, never play twice."""
import uuid

import pytest

from tests.support import Api, parallel
from tests.support import error_code as code

pytestmark = pytest.mark.usefixtures("clean_audit")


@pytest.fixture
def launched(api, ledger):
    game = ledger.launchable_game()
    user_id, wallets = ledger.player(funds=5_000)
    answer = api.client("launchGame", {"userId": user_id, "gameId": game}).json()
    return {"body": {"providerSessionId": answer["providerSessionId"], "sessionToken": answer["sessionToken"],
                     "userId": user_id, "requestId": "req-" + uuid.uuid4().hex},
            "wallet": wallets["USD"], "game": game, "userId": user_id}


def rounds_of(ledger, provider_session_id):
    return ledger.query("""SELECT r.round_id FROM PROVIDER_GAME_ROUNDS r JOIN PROVIDER_SESSIONS s
                           ON s.id = r.session_id WHERE s.provider_session_id = %s""", provider_session_id)


def test_a_repeat_gets_the_first_answer_byte_for_byte_and_plays_nothing(api, ledger, launched):
    first = api.provider("simulate", launched["body"])
    assert first.status_code == 200 and "Idempotent-Replay" not in first.headers
    repeat = api.provider("simulate", launched["body"])
    assert repeat.status_code == 200 and repeat.headers["Idempotent-Replay"] == "true"
    assert repeat.content == first.content
    assert rounds_of(ledger, launched["body"]["providerSessionId"]) == [(first.json()["roundId"],)]
    assert ledger.balance(launched["wallet"])[0] == 5_000 - 200 + 400


def test_identical_requests_at_once_play_one_round(api, ledger, launched):
    answers = parallel([lambda: Api(api.base_url).provider("simulate", launched["body"])] * 8)
    played = [r for r in answers if r.status_code == 200 and "Idempotent-Replay" not in r.headers]
    assert len(played) == 1
    others = [r for r in answers if r is not played[0]]
    # Those that came while it played are told to come back; any later one gets its answer.
    assert all((r.status_code, code(r)) == (409, "REQUEST_IN_PROGRESS")
               or (r.status_code == 200 and r.content == played[0].content) for r in others)
    assert any(r.status_code == 409 for r in others)
    assert len(rounds_of(ledger, launched["body"]["providerSessionId"])) == 1
    assert ledger.balance(launched["wallet"])[0] == 5_200
    later = api.provider("simulate", launched["body"])
    assert later.headers["Idempotent-Replay"] == "true" and later.content == played[0].content


def test_a_requestId_used_for_another_session_is_a_conflict(api, ledger, launched):
    assert api.provider("simulate", launched["body"]).status_code == 200
    other = api.client("launchGame", {"userId": launched["userId"], "gameId": launched["game"]}).json()
    reused = {**launched["body"], "providerSessionId": other["providerSessionId"],
              "sessionToken": other["sessionToken"]}
    r = api.provider("simulate", reused)
    assert (r.status_code, code(r)) == (409, "IDEMPOTENCY_CONFLICT")
    assert rounds_of(ledger, other["providerSessionId"]) == []
    assert ledger.balance(launched["wallet"])[0] == 5_200


def test_the_same_requestId_from_another_casino_is_another_request(api, ledger, launched):
    assert api.provider("simulate", launched["body"]).status_code == 200
    # A session of the same player opened by another casino (as the provider sees it).
    casino_code, key = ledger.other_casino()
    token = ledger.session(launched["userId"], launched["wallet"], launched["game"])
    game_code = ledger.query("SELECT provider_game_id FROM CASINO_GAMES WHERE id = %s", launched["game"])[0][0]
    other = api.provider("launch", {"sessionToken": token, "userId": launched["userId"], "gameId": game_code,
                                    "currency": "USD", "casinoCode": casino_code}, key=key).json()
    # The first casino cannot play the other's session, whatever ids it knows.
    r = api.provider("simulate", {**launched["body"], "providerSessionId": other["providerSessionId"],
                                  "sessionToken": token})
    assert (r.status_code, code(r)) == (404, "SESSION_NOT_FOUND")
    r = api.provider("simulate", {**launched["body"], "providerSessionId": other["providerSessionId"],
                                  "sessionToken": token}, key=key)
    assert r.status_code == 200 and "Idempotent-Replay" not in r.headers
    assert ledger.balance(launched["wallet"])[0] == 5_400


@pytest.mark.parametrize("request_id", [None, "", "has space", 7, "x" * 101])
def test_requestId_is_a_required_identifier(api, ledger, launched, request_id):
    body = {**launched["body"], "requestId": request_id}
    if request_id is None:
        del body["requestId"]
    r = api.provider("simulate", body)
    assert (r.status_code, code(r)) == (400, "INVALID_REQUEST")
    assert rounds_of(ledger, launched["body"]["providerSessionId"]) == []
