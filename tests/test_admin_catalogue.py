"""The back office's catalogue over real HTTP: providers and their keys, games, players'
sessions. A key added over the API signs a real callback that is accepted, then refused
once revoked; disabled providers and games refuse launches and bets; a closed session
refuses bets; every write is audited without a secret; the ledger audit stays clean."""
import json
import threading
import uuid

import pytest

from casino import catalogue, operators, players
from tests.support import OPERATOR_KEY, Admin, key_with
from tests.support import error_code as code

pytestmark = pytest.mark.usefixtures("clean_audit")


@pytest.fixture
def admin(api, ledger):
    return Admin(api, ledger=ledger)


def new_code():
    return "PV-" + uuid.uuid4().hex[:10]


def eventually(call, expect, tries=400):
    """Keys reach the key ring within KEY_REFRESH_SECONDS: poll a bounded number of calls."""
    statuses = []
    for _ in range(tries):
        response = call()
        statuses.append(response.status_code)
        if expect(response):
            return response, statuses
        threading.Event().wait(0.01)
    raise AssertionError(f"never as expected: {statuses[-5:]} {response.text}")


def provider(admin, **extra):
    provider_code = new_code()
    r = admin.post("providers", {"providerCode": provider_code, "name": "Test Games", **extra})
    assert r.status_code == 201, r.text
    return provider_code


def game(admin, provider_code, min_bet=10, max_bet=1_000, currency="USD"):
    r = admin.post("games", {"providerCode": provider_code, "providerGameId": "gm-" + uuid.uuid4().hex[:8],
                             "name": "Test Slots", "currency": currency, "minBet": min_bet, "maxBet": max_bet})
    assert r.status_code == 201, r.text
    return r.json()["gameId"]


def wallet_of(admin, user_id, currency="USD"):
    return next(w["walletId"] for w in admin.get(f"players/{user_id}").json()["wallets"] if w["currency"] == currency)


def bet(api, key, token, user_id, amount=100, transaction_id=None, round_id="r1", version=2):
    return api.casino("debit", {"sessionToken": token, "userId": user_id, "currency": "USD", "roundId": round_id,
                                "transactionId": transaction_id or "tx-" + uuid.uuid4().hex, "amount": amount},
                      key=key, version=version)


def balance(api, key, token, user_id, version=2):
    """A signed getBalance: what polls a key's state, moving no money."""
    return api.casino("getBalance", {"sessionToken": token, "userId": user_id}, key=key, version=version)


def add_key(admin, provider_code, **body):
    r = admin.post(f"providers/{provider_code}/keys", body)
    assert r.status_code == 201, r.text
    created = r.json()
    return created, (created["keyId"], created["secret"].encode())


# --- providers ----------------------------------------------------------------------------------

def test_create_and_view_a_provider(admin, ledger):
    provider_code = new_code()
    # A public address (a host name must resolve to public addresses: tests/test_outbound_addresses.py).
    r = admin.post("providers", {"providerCode": provider_code, "name": "Acme Games",
                                 "apiEndpoint": "https://93.184.216.34/api"})
    assert r.status_code == 201
    body = r.json()
    assert body == {"providerCode": provider_code, "name": "Acme Games", "apiEndpoint": "https://93.184.216.34/api",
                    "status": "active", "allowsV1": False, "origin": "operator", "revenueShare": None,
                    "createdAt": body["createdAt"]}
    assert admin.get(f"providers/{provider_code}").json() == body
    again = admin.post("providers", {"providerCode": provider_code, "name": "Other"})
    assert (again.status_code, code(again)) == (409, "PROVIDER_EXISTS")
    hosted = admin.post("providers", {"providerCode": new_code(), "name": "Hosted"}).json()
    assert hosted["apiEndpoint"] is None and hosted["origin"] == "operator"
    # A tool's, marked: made in-process, as the bench makes its own (the API makes only operators').
    marked = ledger.run(lambda cur: catalogue.create_provider(
        cur, players.operator_for("bench"), {"providerCode": new_code(), "name": "Hosted", "apiEndpoint": None},
        origin="bench")).body
    assert admin.get(f"providers/{marked['providerCode']}").json() == {**marked, "origin": "bench"}
    unknown = admin.get("providers/NOPE-" + uuid.uuid4().hex[:6])
    assert (unknown.status_code, code(unknown)) == (404, "PROVIDER_NOT_FOUND")


@pytest.mark.parametrize("body", [{}, {"providerCode": "a,b", "name": "x"}, {"providerCode": "ok", "name": ""},
                                  {"providerCode": "ok", "name": "x", "apiEndpoint": "ftp://x"},
                                  {"providerCode": "ok", "name": "x", "apiEndpoint": None},
                                  {"providerCode": "-lead", "name": "x"}])
def test_create_provider_bad_input(admin, body):
    r = admin.post("providers", body)
    assert (r.status_code, code(r)) == (400, "INVALID_REQUEST")


def test_provider_status_and_v1_flag(admin):
    provider_code = provider(admin)
    r = admin.post(f"providers/{provider_code}/status", {"status": "disabled"})
    assert r.status_code == 200 and r.json()["status"] == "disabled"
    assert admin.post(f"providers/{provider_code}/status", {"status": "active"}).json()["status"] == "active"
    r = admin.post(f"providers/{provider_code}/v1", {"allowed": True})
    assert r.status_code == 200 and r.json()["allowsV1"] is True
    bad = admin.post(f"providers/{provider_code}/v1", {"allowed": "yes"})
    assert (bad.status_code, code(bad)) == (400, "INVALID_REQUEST")
    for path, body in (("status", {"status": "active"}), ("v1", {"allowed": False})):
        r = admin.post(f"providers/NOPE-{uuid.uuid4().hex[:6]}/{path}", body)
        assert (r.status_code, code(r)) == (404, "PROVIDER_NOT_FOUND")


# --- provider keys: a key made over the API signs real callbacks ------------------------------------

def test_a_key_added_over_the_api_signs_callbacks_until_revoked(api, admin, ledger):
    provider_code = provider(admin)
    game_id = game(admin, provider_code)
    created, key = add_key(admin, provider_code)
    assert created["keyId"].startswith(provider_code + "-") and created["signer"] == "provider"
    assert created["revokedAt"] is None and created["stillActive"] == [] and len(created["secret"]) >= 32
    user_id = admin.player(funds=1_000)
    token = ledger.session(user_id, wallet_of(admin, user_id), game_id)
    accepted = bet(api, key, token, user_id, 100)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["balance"] == 900
    # A key of another provider cannot bet on this provider's session.
    other_code = provider(admin)
    _, other_key = add_key(admin, other_code)
    mismatch = bet(api, other_key, token, user_id)
    assert (mismatch.status_code, code(mismatch)) == (403, "PROVIDER_MISMATCH")
    # Listed without a secret.
    listing = admin.get(f"providers/{provider_code}/keys/list")
    assert listing.status_code == 200 and created["secret"] not in listing.text
    assert listing.json() == {"providerCode": provider_code, "allowsV1": False, "keys": [
        {"keyId": created["keyId"], "signer": "provider", "createdAt": created["createdAt"], "revokedAt": None}]}
    revoked = admin.post(f"providers/{provider_code}/keys/{created['keyId']}/revoke", {})
    assert revoked.status_code == 200
    assert revoked.json() == {"providerCode": provider_code, "keyId": created["keyId"], "signer": "provider",
                              "revokedAt": revoked.json()["revokedAt"]}
    refused, statuses = eventually(lambda: balance(api, key, token, user_id), lambda r: r.status_code == 401)
    assert code(bet(api, key, token, user_id, 100)) == "INVALID_SIGNATURE"
    assert code(refused) == "INVALID_SIGNATURE" and set(statuses) <= {200, 401}
    again = admin.post(f"providers/{provider_code}/keys/{created['keyId']}/revoke", {})
    assert (again.status_code, code(again)) == (404, "PROVIDER_KEY_NOT_FOUND")
    assert admin.get(f"providers/{provider_code}/keys/list").json()["keys"][0]["revokedAt"] == \
        revoked.json()["revokedAt"]


def test_rotation_keeps_both_keys_until_the_old_one_is_revoked(api, admin, ledger):
    provider_code = provider(admin)
    game_id = game(admin, provider_code)
    old, old_key = add_key(admin, provider_code)
    r = admin.post(f"providers/{provider_code}/keys/rotate", {})
    assert r.status_code == 201 and r.json()["stillActive"] == [old["keyId"]]
    new_key = (r.json()["keyId"], r.json()["secret"].encode())
    user_id = admin.player(funds=1_000)
    token = ledger.session(user_id, wallet_of(admin, user_id), game_id)
    assert bet(api, old_key, token, user_id, 10).status_code == 200
    assert bet(api, new_key, token, user_id, 10).status_code == 200
    admin.post(f"providers/{provider_code}/keys/{old['keyId']}/revoke", {"signer": "provider"})
    eventually(lambda: balance(api, old_key, token, user_id), lambda r: r.status_code == 401)
    assert bet(api, new_key, token, user_id, 10).status_code == 200


def test_a_key_the_other_side_made_and_its_refusals(admin):
    provider_code = provider(admin)
    secret = "given-by-the-provider-" + uuid.uuid4().hex
    kid = "kid-" + uuid.uuid4().hex[:8]
    created, _ = add_key(admin, provider_code, signer="casino", keyId=kid, secret=secret)
    assert (created["keyId"], created["signer"], created["secret"]) == (kid, "casino", secret)
    taken = admin.post(f"providers/{provider_code}/keys", {"signer": "casino", "keyId": kid})
    assert (taken.status_code, code(taken)) == (409, "PROVIDER_KEY_EXISTS")
    demo = admin.post(f"providers/{provider_code}/keys", {"keyId": "JAQPOT"})
    assert (demo.status_code, code(demo)) == (409, "PROVIDER_KEY_EXISTS")
    # Same id, the other signer: a different key.
    assert admin.post(f"providers/{provider_code}/keys", {"signer": "provider", "keyId": kid}).status_code == 201
    wrong_signer = admin.post(f"providers/{provider_code}/keys/{kid}/revoke", {"signer": "provider"})
    assert wrong_signer.status_code == 200
    again = admin.post(f"providers/{provider_code}/keys/{kid}/revoke", {"signer": "provider"})
    assert (again.status_code, code(again)) == (404, "PROVIDER_KEY_NOT_FOUND")
    for body in ({"signer": "nobody"}, {"keyId": "a,b"}, {"secret": "short"}):
        r = admin.post(f"providers/{provider_code}/keys", body)
        assert (r.status_code, code(r)) == (400, "INVALID_REQUEST")
    unknown = admin.post(f"providers/NOPE-{uuid.uuid4().hex[:6]}/keys", {})
    assert (unknown.status_code, code(unknown)) == (404, "PROVIDER_NOT_FOUND")


def test_v1_signatures_follow_the_providers_flag(api, admin, ledger):
    provider_code = provider(admin)
    game_id = game(admin, provider_code)
    _, key = add_key(admin, provider_code)
    user_id = admin.player(funds=1_000)
    token = ledger.session(user_id, wallet_of(admin, user_id), game_id)
    assert balance(api, key, token, user_id).status_code == 200
    assert balance(api, key, token, user_id, version=1).status_code == 401
    admin.post(f"providers/{provider_code}/v1", {"allowed": True})
    eventually(lambda: balance(api, key, token, user_id, version=1), lambda r: r.status_code == 200)
    assert bet(api, key, token, user_id, 10, version=1).status_code == 200
    admin.post(f"providers/{provider_code}/v1", {"allowed": False})
    eventually(lambda: balance(api, key, token, user_id, version=1), lambda r: r.status_code == 401)


# --- games ---------------------------------------------------------------------------------------

def test_create_a_game_and_change_it(admin):
    provider_code = provider(admin)
    provider_game_id = "gm-" + uuid.uuid4().hex[:8]
    body = {"providerCode": provider_code, "providerGameId": provider_game_id, "name": "Lucky 7",
            "currency": "EUR", "minBet": 5, "maxBet": 500}
    r = admin.post("games", body)
    assert r.status_code == 201
    created = r.json()
    assert created == {"gameId": created["gameId"], "providerCode": provider_code, "providerGameId": provider_game_id,
                       "name": "Lucky 7", "currency": "EUR", "minBet": 5, "maxBet": 500, "status": "active",
                       "createdAt": created["createdAt"]}
    assert admin.get(f"games/{created['gameId']}").json() == created
    again = admin.post("games", body)
    assert (again.status_code, code(again)) == (409, "GAME_EXISTS")
    limits = admin.post(f"games/{created['gameId']}/limits", {"minBet": 1, "maxBet": 50})
    assert limits.status_code == 200 and (limits.json()["minBet"], limits.json()["maxBet"]) == (1, 50)
    inverted = admin.post(f"games/{created['gameId']}/limits", {"minBet": 51, "maxBet": 50})
    assert (inverted.status_code, code(inverted)) == (422, "BET_LIMITS_INVALID")
    assert code(admin.post("games", {**body, "providerGameId": "x", "minBet": 9, "maxBet": 8})) == "BET_LIMITS_INVALID"
    disabled = admin.post(f"games/{created['gameId']}/status", {"status": "disabled"})
    assert disabled.status_code == 200 and disabled.json()["status"] == "disabled"
    unknown_provider = admin.post("games", {**body, "providerCode": "NOPE-" + uuid.uuid4().hex[:6]})
    assert (unknown_provider.status_code, code(unknown_provider)) == (404, "PROVIDER_NOT_FOUND")
    for r in (admin.get(f"games/{2**53 - 1}"), admin.post(f"games/{2**53 - 1}/status", {"status": "active"}),
              admin.post(f"games/{2**53 - 1}/limits", {"minBet": 1, "maxBet": 2})):
        assert (r.status_code, code(r)) == (404, "GAME_NOT_FOUND")
    for bad in ({**body, "minBet": 0}, {**body, "currency": "eur"}, {**body, "maxBet": True}):
        r = admin.post("games", bad)
        assert (r.status_code, code(r)) == (400, "INVALID_REQUEST")


def test_new_limits_apply_to_the_next_bet(api, admin, ledger):
    provider_code = provider(admin)
    game_id = game(admin, provider_code, min_bet=10, max_bet=1_000)
    _, key = add_key(admin, provider_code)
    user_id = admin.player(funds=5_000)
    token = ledger.session(user_id, wallet_of(admin, user_id), game_id)
    assert bet(api, key, token, user_id, 500).status_code == 200
    admin.post(f"games/{game_id}/limits", {"minBet": 10, "maxBet": 100})
    r = bet(api, key, token, user_id, 500)
    assert (r.status_code, code(r)) == (422, "BET_LIMIT_EXCEEDED")


def test_disabled_providers_and_games_refuse_launches_and_bets(api, admin, ledger):
    provider_code = provider(admin)
    game_id = game(admin, provider_code)
    _, key = add_key(admin, provider_code)
    user_id = admin.player(funds=1_000)
    token = ledger.session(user_id, wallet_of(admin, user_id), game_id)
    launch = {"userId": user_id, "gameId": game_id}
    assert bet(api, key, token, user_id, 10, round_id="before").status_code == 200

    admin.post(f"games/{game_id}/status", {"status": "disabled"})
    r = bet(api, key, token, user_id, 10)
    assert (r.status_code, code(r)) == (403, "GAME_DISABLED")
    r = api.client("launchGame", launch)
    assert (r.status_code, code(r)) == (403, "GAME_DISABLED")
    admin.post(f"games/{game_id}/status", {"status": "active"})

    admin.post(f"providers/{provider_code}/status", {"status": "disabled"})
    r = bet(api, key, token, user_id, 10)
    assert (r.status_code, code(r)) == (403, "PROVIDER_DISABLED")
    r = api.client("launchGame", launch)
    assert (r.status_code, code(r)) == (403, "PROVIDER_DISABLED")
    # A payout of a bet taken before still lands.
    paid = api.casino("credit", {"sessionToken": token, "userId": user_id, "currency": "USD", "roundId": "before",
                                 "transactionId": "pay-" + uuid.uuid4().hex, "amount": 30}, key=key)
    assert paid.status_code == 200, paid.text
    admin.post(f"providers/{provider_code}/status", {"status": "active"})
    assert bet(api, key, token, user_id, 10).status_code == 200


# --- sessions --------------------------------------------------------------------------------------

def test_list_and_close_a_players_sessions(api, admin, ledger):
    provider_code = provider(admin)
    game_id = game(admin, provider_code)
    _, key = add_key(admin, provider_code)
    user_id = admin.player(funds=1_000)
    wallet_id = wallet_of(admin, user_id)
    pending = ledger.session(user_id, wallet_id, game_id, active=False)
    active = ledger.session(user_id, wallet_id, game_id)
    assert pending and bet(api, key, active, user_id, 100, round_id="open").status_code == 200
    listed = admin.get(f"players/{user_id}/sessions")
    assert listed.status_code == 200 and listed.json()["nextCursor"] is None
    items = listed.json()["items"]
    assert [(s["state"], s["gameId"], s["providerCode"], s["currency"], s["userId"]) for s in items] == [
        ("active", game_id, provider_code, "USD", user_id), ("pending", game_id, provider_code, "USD", user_id)]
    assert active not in listed.text and pending not in listed.text   # never a token
    first = admin.get(f"players/{user_id}/sessions", limit=1).json()
    assert first["items"] == items[:1] and first["nextCursor"] is not None
    second = admin.get(f"players/{user_id}/sessions", limit=1, cursor=first["nextCursor"]).json()
    assert second == {"items": items[1:], "nextCursor": None}

    session_id = items[0]["sessionId"]
    closed = admin.post(f"sessions/{session_id}/close", {})
    assert closed.status_code == 200 and closed.json() == {**items[0], "state": "closed",
                                                           "lastActivityAt": closed.json()["lastActivityAt"]}
    r = bet(api, key, active, user_id, 100)
    assert (r.status_code, code(r)) == (403, "SESSION_INACTIVE")
    # The round's bet can still be paid.
    paid = api.casino("credit", {"sessionToken": active, "userId": user_id, "currency": "USD", "roundId": "open",
                                 "transactionId": "pay-" + uuid.uuid4().hex, "amount": 250}, key=key)
    assert paid.status_code == 200 and paid.json()["balance"] == 1_150
    assert admin.post(f"sessions/{session_id}/close", {}).json()["state"] == "closed"
    unknown = admin.post(f"sessions/{2**53 - 1}/close", {})
    assert (unknown.status_code, code(unknown)) == (404, "SESSION_UNKNOWN")
    nobody = admin.get(f"players/{2**53 - 1}/sessions")
    assert (nobody.status_code, code(nobody)) == (404, "USER_NOT_FOUND")


# --- scopes ------------------------------------------------------------------------------------------

CALLS = [("post", "providers", {"providerCode": "SCOPED", "name": "x"}, "admin"),
         ("get", "providers/SCOPED", None, "backoffice"),
         ("post", "providers/SCOPED/status", {"status": "active"}, "admin"),
         ("post", "providers/SCOPED/v1", {"allowed": False}, operators.PROVIDER_TRUST),
         ("post", "providers/SCOPED/keys", {}, operators.PROVIDER_TRUST),
         ("post", "providers/SCOPED/keys/rotate", {}, operators.PROVIDER_TRUST),
         ("get", "providers/SCOPED/keys/list", None, "admin"),
         ("post", "providers/SCOPED/keys/k1/revoke", {}, operators.PROVIDER_TRUST),
         ("post", "games", {"providerCode": "SCOPED", "providerGameId": "g", "name": "g", "currency": "USD",
                            "minBet": 1, "maxBet": 2}, "admin"),
         ("get", "games/1", None, "backoffice"),
         ("post", "games/1/limits", {"minBet": 2, "maxBet": 1}, "admin"),
         ("post", f"games/{2**53 - 1}/status", {"status": "active"}, "admin"),
         ("get", "players/1/sessions", None, "backoffice"),
         ("post", f"sessions/{2**53 - 1}/close", {}, "admin")]


@pytest.mark.parametrize("method, path, body, scope", CALLS)
def test_each_call_needs_its_scope(api, ledger, method, path, body, scope):
    needed = (scope,) if isinstance(scope, str) else scope
    # A key holding every other scope, for each scope the call needs.
    lacking = [key_with(ledger, *[s for s in operators.SCOPES if s != missing]) for missing in needed]
    for key, status in ((None, 401), ("op_nobody.secret", 401), *((key, 403) for key in lacking)):
        client = Admin(api, key)
        r = client.post(path, body) if method == "post" else client.get(path)
        assert (r.status_code, code(r)) == (status, {401: "UNAUTHORIZED", 403: "FORBIDDEN"}[status]), r.text
    scoped = Admin(api, key_with(ledger, *needed))
    r = scoped.post(path, body) if method == "post" else scoped.get(path)
    assert r.status_code not in (401, 403), r.text


# --- the audit -----------------------------------------------------------------------------------------

def test_every_catalogue_write_is_audited_without_a_secret(api, ledger):
    admin_key = key_with(ledger, *operators.PROVIDER_TRUST)
    admin = Admin(api, admin_key)
    provider_code = provider(admin)
    admin.post("providers", {"providerCode": provider_code, "name": "again"})
    admin.post(f"providers/{provider_code}/status", {"status": "disabled"})
    admin.post(f"providers/{provider_code}/v1", {"allowed": True})
    created, _ = add_key(admin, provider_code)
    rotated = admin.post(f"providers/{provider_code}/keys/rotate", {"signer": "casino"}).json()
    given = "a-secret-the-provider-made-" + uuid.uuid4().hex
    admin.post(f"providers/{provider_code}/keys", {"keyId": "given-" + uuid.uuid4().hex[:6], "secret": given})
    admin.post(f"providers/{provider_code}/keys/{created['keyId']}/revoke", {})
    game_id = game(admin, provider_code)
    admin.post(f"games/{game_id}/limits", {"minBet": 1, "maxBet": 5})
    admin.post(f"games/{game_id}/status", {"status": "disabled"})
    bootstrap = Admin(api, OPERATOR_KEY, ledger)
    user_id = bootstrap.player()
    token = ledger.session(user_id, wallet_of(bootstrap, user_id), game_id)
    session_id = bootstrap.get(f"players/{user_id}/sessions").json()["items"][0]["sessionId"]
    admin.post(f"sessions/{session_id}/close", {})
    # Reads leave no trace.
    admin.get(f"providers/{provider_code}/keys/list")
    rows = ledger.query("""SELECT action, request, response_status FROM CASINO_ADMIN_AUDIT
                           WHERE operator_key_id = %s ORDER BY id""", admin_key.split(".")[0])
    assert [(a, s) for a, _, s in rows] == [
        ("createProvider", 201), ("createProvider", 409), ("setProviderStatus", 200), ("setProviderV1", 200),
        ("addProviderKey", 201), ("rotateProviderKey", 201), ("addProviderKey", 201), ("revokeProviderKey", 200),
        ("createGame", 201), ("setGameLimits", 200), ("setGameStatus", 200), ("closeSession", 200)]
    assert rows[4][1] == {"providerCode": provider_code, "signer": "provider", "keyId": created["keyId"],
                          "secretGiven": False}
    assert rows[5][1]["keyId"] == rotated["keyId"] and rows[6][1]["secretGiven"] is True
    assert rows[11][1] == {"sessionId": session_id}
    text = json.dumps([r[1] for r in rows])
    for secret in (created["secret"], rotated["secret"], given):
        assert secret not in text
    assert token not in text
