"""A tool's key writes only on what its own tool made (casino/origins.py): a load tool's key
(origin locust) holding every scope is refused 403 FORBIDDEN on every write to a real
player, provider, game or session -- and to another tool's, and to any jurisdiction --
and nothing changes: no ledger row, the balance, the provider, its keys, the game, the
session, the player's limits and exclusions as they were, and nothing audited under it.
On its own tool's objects the same key's writes succeed."""
import json
import uuid

import pytest

from casino import operators
from tests.support import OPERATOR_KEY, back_office, market

pytestmark = pytest.mark.usefixtures("clean_audit")

TRUST = ("/v1", "/endpoint", "/keys", "/keys/rotate", "/revoke")
IDENTITY_FIELDS = {"firstName": "Ann", "lastName": "Player", "dateOfBirth": "1990-02-28", "postcode": "SW1A 1AA"}


def call(api, key, method, path, body=None):
    return api.http.request(method, f"{api.base_url}{path}", data=None if body is None else json.dumps(body).encode(),
                            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
                            timeout=30)


def tool_key(ledger, origin="locust"):
    return ledger.run(lambda cur: operators.create_key(cur, list(operators.SCOPES), "tool", origin)[0])


def objects(api, ledger, key=OPERATOR_KEY):
    """A player with a funded wallet, a provider with a key, its game and a session of the
    player on it, made with `key` (the bootstrap key: real ones, origin operator)."""
    name = "tw-" + uuid.uuid4().hex[:10]
    player = call(api, key, "POST", "/casino/admin/players", {"username": name, "email": f"{name}@example.com"})
    assert player.status_code == 201, player.text
    user_id = player.json()["userId"]
    wallet = call(api, key, "POST", "/casino/admin/wallets", {"userId": user_id, "currency": "USD"})
    assert wallet.status_code == 201, wallet.text
    funded = call(api, key, "POST", "/casino/admin/deposits", {"userId": user_id, "currency": "USD", "amount": 5_000,
                                                                 "reference": name})
    assert funded.status_code == 200, funded.text
    bonus = call(api, key, "POST", "/casino/admin/bonuses", {"userId": user_id, "currency": "USD", "amount": 500,
                                                              "wagering": 10, "expiresAt": "2099-01-01T00:00:00Z",
                                                              "reference": name + "-b"})
    assert bonus.status_code == 201, bonus.text
    provider = "TW-" + uuid.uuid4().hex[:8].upper()
    assert call(api, key, "POST", "/casino/admin/providers", {"providerCode": provider, "name": name}).status_code == 201
    # A provider's signing key is an operator's to give, to a tool's provider too.
    kid = call(api, OPERATOR_KEY, "POST", f"/casino/admin/providers/{provider}/keys",
               {"signer": "provider"}).json()["keyId"]
    game = call(api, key, "POST", "/casino/admin/games", {"providerCode": provider, "providerGameId": name,
                                                          "name": name, "currency": "USD", "minBet": 1, "maxBet": 100})
    assert game.status_code == 201, game.text
    game_id = game.json()["gameId"]
    wallet_id = wallet.json()["walletId"]
    ledger.session(user_id, wallet_id, game_id)
    session_id = ledger.query("SELECT id FROM CASINO_GAME_SESSIONS WHERE user_id = %s", user_id)[0][0]
    return {"userId": user_id, "walletId": wallet_id, "provider": provider, "kid": kid, "gameId": game_id,
            "sessionId": session_id, "bonusId": bonus.json()["bonusId"]}


def writes(o, jurisdiction):
    u, p, g = o["userId"], o["provider"], o["gameId"]
    ref = "tw-" + uuid.uuid4().hex
    return [
        ("POST", "/casino/admin/wallets", {"userId": u, "currency": "EUR"}),
        ("POST", "/casino/admin/deposits", {"userId": u, "currency": "USD", "amount": 1_000_000, "reference": ref}),
        ("POST", "/casino/admin/withdrawals", {"userId": u, "currency": "USD", "amount": 5_000, "reference": ref + "-w"}),
        ("POST", f"/casino/admin/bonuses/{o['bonusId']}/cancel", {}),
        ("POST", "/casino/admin/bonuses", {"userId": u, "currency": "USD", "amount": 100, "wagering": 1,
                                           "expiresAt": "2099-01-01T00:00:00Z", "reference": ref + "-b"}),
        ("POST", f"/casino/admin/players/{u}/status", {"status": "disabled"}),
        ("PUT", f"/casino/admin/players/{u}/limits", {"type": "deposit", "period": "day", "currency": "USD",
                                                     "amount": 1}),
        ("POST", f"/casino/admin/players/{u}/exclusions", {"kind": "self-exclusion", "until": None}),
        ("POST", f"/casino/admin/players/{u}/jurisdiction", {"jurisdiction": jurisdiction}),
        ("POST", f"/casino/admin/players/{u}/identity", {**IDENTITY_FIELDS}),
        ("POST", "/casino/launchGame", {"userId": u, "gameId": g}),
        ("POST", f"/casino/admin/providers/{p}/status", {"status": "disabled"}),
        ("POST", f"/casino/admin/providers/{p}/v1", {"allowed": True}),
        ("POST", f"/casino/admin/providers/{p}/endpoint", {"apiEndpoint": "https://93.184.216.34/api"}),
        ("POST", f"/casino/admin/providers/{p}/keys", {"signer": "provider"}),
        ("POST", f"/casino/admin/providers/{p}/keys/rotate", {"signer": "provider"}),
        ("POST", f"/casino/admin/providers/{p}/keys/{o['kid']}/revoke", {}),
        ("POST", f"/casino/admin/providers/{p}/games/import", {}),
        ("POST", f"/casino/admin/providers/{p}/revenue-share", {"revenueShare": "99.00"}),
        ("POST", "/casino/admin/reconciliations", {"providerCode": p, "from": "2024-01-01", "to": "2024-01-02"}),
        ("POST", "/casino/admin/games", {"providerCode": p, "providerGameId": "x-" + ref[:20], "name": "x",
                                         "currency": "USD", "minBet": 1, "maxBet": 2}),
        ("POST", f"/casino/admin/games/{g}/limits", {"minBet": 1, "maxBet": 2}),
        ("POST", f"/casino/admin/games/{g}/status", {"status": "disabled"}),
        ("POST", f"/casino/admin/sessions/{o['sessionId']}/close", {}),
    ]


def state(ledger, o, jurisdiction):
    return [
        ledger.balance(o["walletId"]), len(ledger.rows(o["walletId"])),
        ledger.query("SELECT enabled, jurisdiction, first_name FROM CASINO_USERS WHERE id = %s", o["userId"]),
        ledger.query("SELECT count(*) FROM CASINO_WALLETS WHERE user_id = %s", o["userId"]),
        ledger.query("SELECT count(*) FROM CASINO_PROTECTION_HISTORY WHERE user_id = %s", o["userId"]),
        ledger.query("SELECT id, status FROM CASINO_BONUSES WHERE id = %s", o["bonusId"]),
        ledger.query("""SELECT enabled, allows_v1, api_endpoint, revenue_share FROM CASINO_GAME_PROVIDERS
                        WHERE code = %s""", o["provider"]),
        ledger.query("""SELECT k.key_id, k.revoked_at IS NULL FROM CASINO_PROVIDER_KEYS k
                        JOIN CASINO_GAME_PROVIDERS p ON p.id = k.provider_id WHERE p.code = %s ORDER BY k.id""",
                     o["provider"]),
        ledger.query("""SELECT g.id, g.min_bet, g.max_bet, g.enabled FROM CASINO_GAMES g
                        JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id WHERE p.code = %s ORDER BY g.id""",
                     o["provider"]),
        ledger.query("SELECT count(*), bool_and(is_active) FROM CASINO_GAME_SESSIONS WHERE user_id = %s", o["userId"]),
        ledger.query("SELECT count(*) FROM CASINO_RECONCILIATIONS r JOIN CASINO_GAME_PROVIDERS p "
                     "ON p.id = r.provider_id WHERE p.code = %s", o["provider"]),
        ledger.query("SELECT row_to_json(j)::text FROM CASINO_JURISDICTIONS j WHERE code = %s", jurisdiction),
    ]


@pytest.fixture(scope="module")
def jurisdiction(api):
    return market(api)


@pytest.mark.parametrize("owner", ["operator", "bench"])
def test_a_tools_key_writes_nothing_that_is_not_its_tools(api, ledger, jurisdiction, owner):
    made_by = OPERATOR_KEY if owner == "operator" else tool_key(ledger, owner)
    o = objects(api, ledger, made_by)
    assert ledger.query("SELECT origin FROM CASINO_USERS WHERE id = %s", o["userId"]) == [(owner,)]
    key = tool_key(ledger, "locust")
    before = state(ledger, o, jurisdiction)
    for method, path, body in writes(o, jurisdiction):
        r = call(api, key, method, path, body)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "FORBIDDEN"), (path, r.text)
        assert "locust tool's" in r.json()["error"]["message"]
    assert state(ledger, o, jurisdiction) == before
    assert ledger.query("SELECT count(*) FROM CASINO_ADMIN_AUDIT WHERE operator_key_id = %s",
                        key.split(".")[0]) == [(0,)]


def test_a_tools_key_writes_no_jurisdiction(api, ledger, jurisdiction):
    before = ledger.query("SELECT row_to_json(j)::text FROM CASINO_JURISDICTIONS j WHERE code = %s", jurisdiction)
    rules = {"name": "Mine", "timeZone": "UTC", "coolingOffHours": 0, "increaseWaitsForPeriodEnd": False,
             "depositLimitRequired": False, "timeOutMin": "P1D", "timeOutMax": "P6W", "selfExclusionMin": "P6M"}
    key = tool_key(ledger)
    for code in (jurisdiction, "TW-" + uuid.uuid4().hex[:6].upper()):
        r = call(api, key, "PUT", f"/casino/admin/jurisdictions/{code}", rules)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "FORBIDDEN"), r.text
    assert ledger.query("SELECT row_to_json(j)::text FROM CASINO_JURISDICTIONS j WHERE code = %s",
                        jurisdiction) == before


def test_a_tools_key_writes_on_what_its_tool_made(api, ledger, jurisdiction):
    key = tool_key(ledger, "locust")
    o = objects(api, ledger, key)       # every write of the arrangement is the tool's own, made with its key
    for method, path, body in writes(o, jurisdiction):
        if path.endswith(("/reconciliations", "/games/import")) or path == "/casino/launchGame":
            continue        # they would call the provider, which is nowhere: their refusals are others'
        r = call(api, key, method, path, body)
        if path.endswith(TRUST):
            # What lets a provider move money: never a tool's to give, on its own provider too.
            assert (r.status_code, r.json()["error"]["code"]) == (403, "FORBIDDEN"), (path, r.text)
            assert "gives no provider a signing key" in r.json()["error"]["message"]
        else:
            assert r.status_code in (200, 201), (path, r.text)
    # A reading of another's is a reading: allowed.
    real = objects(api, ledger)
    assert call(api, key, "GET", f"/casino/admin/players/{real['userId']}").status_code == 200


def test_an_unknown_object_is_the_calls_own_404(api, ledger):
    key = tool_key(ledger)
    r = call(api, key, "POST", f"/casino/admin/players/{2**53 - 2}/status", {"status": "disabled"})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "USER_NOT_FOUND")
    r = back_office(api, "POST", f"players/{2**53 - 2}/status", {"status": "disabled"})
    assert r.status_code == 404
