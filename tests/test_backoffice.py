"""The back office (/casino/admin/*) over real HTTP: each call, its scopes, the cashier's
idempotency and races, the ledger views, the audit table, and the ledger audit after all."""
import json
import uuid

import pytest

from casino import backoffice, catalogue, operators, players
from tests.support import Admin, key_with, parallel, run_cli, until_refused
from tests.support import error_code as code

pytestmark = pytest.mark.usefixtures("clean_audit")


@pytest.fixture
def admin(api, ledger):
    return Admin(api, ledger=ledger)


# --- players and wallets ----------------------------------------------------------------------

def test_create_player(admin):
    # Without an origin: what an operator registering a real player sends.
    name = "bo-" + uuid.uuid4().hex[:12]
    r = admin.post("players", {"username": name, "email": f"{name}@example.com"})
    assert r.status_code == 201
    body = r.json()
    assert body == {"userId": body["userId"], "username": name, "email": f"{name}@example.com",
                    "status": "active", "origin": "operator", "jurisdiction": "DEFAULT",
                    "createdAt": body["createdAt"]}
    assert body["createdAt"].endswith("Z")
    again = admin.post("players", {"username": name, "email": "other@example.com"})
    assert (again.status_code, code(again)) == (409, "PLAYER_EXISTS")
    same_email = admin.post("players", {"username": name + "x", "email": f"{name}@example.com"})
    assert (same_email.status_code, code(same_email)) == (409, "PLAYER_EXISTS")


@pytest.mark.parametrize("body", [{}, {"username": "a b", "email": "x@y.z"}, {"username": "ab", "email": "nope"},
                                  {"username": "ab", "email": None}, {"username": 5, "email": "x@y.z"}])
def test_create_player_bad_input(admin, body):
    r = admin.post("players", body)
    assert (r.status_code, code(r)) == (400, "INVALID_REQUEST")


def test_create_wallet(admin):
    user_id = admin.player(currencies=())
    r = admin.post("wallets", {"userId": user_id, "currency": "EUR"})
    assert r.status_code == 201
    assert r.json() == {"walletId": r.json()["walletId"], "userId": user_id, "currency": "EUR",
                        "balance": 0, "redeemable": 0}
    again = admin.post("wallets", {"userId": user_id, "currency": "EUR"})
    assert (again.status_code, code(again)) == (409, "WALLET_EXISTS")
    unknown = admin.post("wallets", {"userId": 2**53 - 1, "currency": "EUR"})
    assert (unknown.status_code, code(unknown)) == (404, "USER_NOT_FOUND")
    bad = admin.post("wallets", {"userId": user_id, "currency": "eur"})
    assert (bad.status_code, code(bad)) == (400, "INVALID_REQUEST")


def test_player_view_and_status(admin):
    user_id = admin.player(currencies=("USD", "EUR"), funds=500)
    r = admin.get(f"players/{user_id}")
    assert r.status_code == 200
    body = r.json()
    assert body["userId"] == user_id and body["status"] == "active"
    assert [(w["currency"], w["balance"], w["redeemable"]) for w in body["wallets"]] == [
        ("USD", 500, 500), ("EUR", 500, 500)]
    r = admin.post(f"players/{user_id}/status", {"status": "disabled"})
    assert r.status_code == 200 and r.json()["status"] == "disabled"
    assert admin.get(f"players/{user_id}").json()["status"] == "disabled"
    assert admin.post(f"players/{user_id}/status", {"status": "active"}).json()["status"] == "active"
    bad = admin.post(f"players/{user_id}/status", {"status": "gone"})
    assert (bad.status_code, code(bad)) == (400, "INVALID_REQUEST")
    unknown = admin.post(f"players/{2**53 - 1}/status", {"status": "active"})
    assert (unknown.status_code, code(unknown)) == (404, "USER_NOT_FOUND")
    assert code(admin.get(f"players/{2**53 - 1}")) == "USER_NOT_FOUND"


def test_a_players_origin_tells_a_tools_players_from_real_ones(admin, ledger):
    """Set at creation (a tool's in-process, an operator's over the API), shown in the
    player view, filtered on in the list: newest first, a page at a time, "synthetic" for
    any tool's."""
    made = {}
    for origin in ("locust", "bench"):
        name = "or-" + uuid.uuid4().hex[:12]
        made[origin] = ledger.run(lambda cur, name=name, origin=origin: players.create_player(cur, name, (), origin=origin)[0])
    name = "or-" + uuid.uuid4().hex[:12]
    r = admin.post("players", {"username": name, "email": f"{name}@example.com"})
    assert r.status_code == 201 and r.json()["origin"] == "operator", r.text
    made["operator"] = r.json()["userId"]
    assert admin.get(f"players/{made['locust']}").json()["origin"] == "locust"
    assert admin.get(f"players/{made['operator']}").json()["origin"] == "operator"
    assert admin.post(f"players/{made['bench']}/status", {"status": "disabled"}).json()["origin"] == "bench"

    def listed(**query):
        r = admin.get("players/list", **query)
        assert r.status_code == 200, r.text
        return r.json()

    # Newest first: the three just made lead the unfiltered list.
    assert [p["userId"] for p in listed(limit=3)["items"]] == [made["operator"], made["bench"], made["locust"]]
    synthetic = [p["userId"] for p in listed(origin="synthetic", limit=200)["items"]]
    assert made["locust"] in synthetic and made["bench"] in synthetic and made["operator"] not in synthetic
    assert all(p["origin"] == "operator" for p in listed(origin="operator", limit=200)["items"])
    assert made["operator"] in [p["userId"] for p in listed(origin="operator")["items"]]
    disabled_bench = listed(origin="bench", status="disabled")["items"]
    assert made["bench"] in [p["userId"] for p in disabled_bench]
    assert all((p["origin"], p["status"]) == ("bench", "disabled") for p in disabled_bench)
    # Pages by cursor: three pages of two are the first page of six, nothing twice or skipped.
    seen, cursor = [], None
    for _ in range(3):
        page = listed(limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [p["userId"] for p in page["items"]]
        cursor = page["nextCursor"]
    assert seen == [p["userId"] for p in listed(limit=6)["items"]]
    assert seen[1:3] == [made["bench"], made["locust"]]
    for bad in ({"origin": "robot"}, {"status": "gone"}, {"limit": "0"}, {"cursor": "x"}):
        r = admin.get("players/list", **bad)
        assert (r.status_code, code(r)) == (400, "INVALID_REQUEST")


def test_the_api_makes_only_operators_players_and_providers(admin, ledger):
    """No key can mark what it creates as a tool's (a tool's players and providers drop out
    of the operator's lists and are retired by `casino.synthetic retire`): `origin` in a
    body is an unknown field, ignored like any other (wire/validation.py) -- the player or
    provider is an operator's, and no tool's is made."""
    for origin in ("test", "bench", "demo", "operator", "robot", None):
        name = "bo-" + uuid.uuid4().hex[:12]
        r = admin.post("players", {"username": name, "email": f"{name}@example.com", "origin": origin})
        assert r.status_code == 201 and r.json()["origin"] == "operator", r.text
        user_id = r.json()["userId"]
        assert admin.get(f"players/{user_id}").json()["origin"] == "operator"
        assert ledger.query("SELECT origin FROM CASINO_USERS WHERE id = %s", user_id) == [("operator",)]
        assert user_id not in [p["userId"] for p in admin.get("players/list", origin="synthetic").json()["items"]]
        audited = ledger.query("SELECT request FROM CASINO_ADMIN_AUDIT WHERE action = 'createPlayer' "
                               "AND request->>'username' = %s", name)
        assert audited == [({"username": name, "email": f"{name}@example.com"},)]

        provider_code = "PV-" + uuid.uuid4().hex[:10]
        r = admin.post("providers", {"providerCode": provider_code, "name": "Marked?", "origin": origin})
        assert r.status_code == 201 and r.json()["origin"] == "operator", r.text
        assert admin.get(f"providers/{provider_code}").json()["origin"] == "operator"
        assert ledger.query("SELECT origin FROM CASINO_GAME_PROVIDERS WHERE code = %s",
                            provider_code) == [("operator",)]
        # Disabled again: an operator's provider without games or keys, left inert.
        assert admin.post(f"providers/{provider_code}/status", {"status": "disabled"}).status_code == 200


def test_only_the_tools_in_process_mark_theirs(ledger):
    """The service functions take a tool's origin as a keyword, never from the request."""
    name = "bo-" + uuid.uuid4().hex[:12]
    answer = ledger.run(lambda cur: backoffice.create_player(
        cur, "tool:test", {"username": name, "email": f"{name}@example.com", "origin": "bench"}, origin="test"))
    assert answer.body["origin"] == "test"
    provider_code = "PV-" + uuid.uuid4().hex[:10]
    answer = ledger.run(lambda cur: catalogue.create_provider(
        cur, "tool:test", {"providerCode": provider_code, "name": "T", "apiEndpoint": None, "origin": "bench"},
        origin="test"))
    assert answer.body["origin"] == "test"
    with pytest.raises(ValueError):
        ledger.run(lambda cur: backoffice.create_player(cur, "tool:test", {"username": "x-" + name,
                                                                          "email": "x@y.z"}, origin="robot"))


@pytest.mark.parametrize("path", ["players/abc", "players/0", "players/-1", f"players/{2**53}",
                                  "players/1/transactions?limit=0", "players/1/transactions?limit=x",
                                  "players/1/transactions?cursor=abc", "players/1/transactions?currency=usd"])
def test_bad_parameters_are_400(admin, path):
    r = admin.api.http.get(f"{admin.api.base_url}/casino/admin/{path}", headers=admin.headers(), timeout=30)
    assert (r.status_code, code(r)) == (400, "INVALID_REQUEST")


def test_unknown_admin_paths_are_404(admin):
    for path in ("nothing", "players/1/else", "rounds/only-provider"):
        r = admin.get(path)
        assert (r.status_code, code(r)) == (404, "NOT_FOUND")


# --- scopes -------------------------------------------------------------------------------------

CALLS = [("post", "players", {"username": "scoped", "email": "scoped@example.com"}, "admin"),
         ("post", "wallets", {"userId": 1, "currency": "USD"}, "admin"),
         ("post", "deposits", {"userId": 1, "currency": "USD", "amount": 1, "reference": "s"}, "cashier"),
         ("post", "withdrawals", {"userId": 1, "currency": "USD", "amount": 1, "reference": "s"}, "cashier"),
         ("post", "players/1/status", {"status": "active"}, "admin"),
         ("get", "players/1", None, "backoffice"),
         ("get", "players/list", None, "backoffice"),
         ("get", "players/1/transactions", None, "backoffice"),
         ("get", "rounds/JAQPOT/r1", None, "backoffice"),
         # Scopes within the admin key's own: it grants only those (tests/test_scope_escalation.py).
         ("post", "keys", {"scopes": ["admin"]}, "admin"),
         ("get", "keys/list", None, "admin"),
         ("post", "keys/op_000000000000/revoke", {}, "admin")]


@pytest.mark.parametrize("method, path, body, scope", CALLS)
def test_each_call_needs_its_scope(api, ledger, method, path, body, scope):
    others = [s for s in operators.SCOPES if s != scope]
    for key, status in ((None, 401), ("op_nobody.secret", 401), (key_with(ledger, *others), 403)):
        client = Admin(api, key)
        r = client.post(path, body) if method == "post" else client.get(path)
        assert r.status_code == status, (key, r.text)
        assert code(r) == {401: "UNAUTHORIZED", 403: "FORBIDDEN"}[status]
    scoped = Admin(api, key_with(ledger, scope))
    r = scoped.post(path, body) if method == "post" else scoped.get(path)
    assert r.status_code not in (401, 403), r.text


# --- deposits and withdrawals -------------------------------------------------------------------

def test_deposit_and_withdrawal(admin, ledger):
    user_id = admin.player()
    r = admin.deposit(user_id, 1_000, "dep-a-" + uuid.uuid4().hex)
    assert r.status_code == 200
    assert r.json() == {"reference": r.json()["reference"], "balance": 1_000, "redeemable": 1_000,
                        "currency": "USD"}
    assert "Idempotent-Replay" not in r.headers
    w = admin.withdraw(user_id, 400)
    assert w.status_code == 200 and (w.json()["balance"], w.json()["redeemable"]) == (600, 600)
    wallet = admin.get(f"players/{user_id}").json()["wallets"][0]
    assert (wallet["balance"], wallet["redeemable"]) == (600, 600)
    kinds = ledger.query("""SELECT t.transaction_type, t.outcome, t.playable_movement, t.redeemable_movement
                            FROM CASINO_TRANSACTIONS t JOIN CASINO_WALLETS w ON w.id = t.wallet_id
                            WHERE w.user_id = %s ORDER BY t.id""", user_id)
    assert kinds == [("deposit", "applied", 1_000, 1_000), ("withdrawal", "applied", -400, -400)]


def test_deposit_replays_and_conflicts(admin):
    user_id = admin.player()
    reference = "dep-r-" + uuid.uuid4().hex
    first = admin.deposit(user_id, 700, reference)
    again = admin.deposit(user_id, 700, reference)
    assert again.status_code == 200 and again.content == first.content
    assert again.headers["Idempotent-Replay"] == "true"
    for changed in (admin.deposit(user_id, 701, reference), admin.withdraw(user_id, 700, reference),
                    admin.deposit(user_id, 700, reference, currency="EUR")):
        assert changed.status_code in (404, 409)
    assert code(admin.deposit(user_id, 701, reference)) == "IDEMPOTENCY_CONFLICT"
    assert code(admin.withdraw(user_id, 700, reference)) == "IDEMPOTENCY_CONFLICT"
    assert admin.get(f"players/{user_id}").json()["wallets"][0]["balance"] == 700


def test_deposit_to_a_missing_wallet_or_user(admin):
    user_id = admin.player()
    r = admin.deposit(user_id, 1, currency="EUR")
    assert (r.status_code, code(r)) == (404, "WALLET_NOT_FOUND")
    r = admin.deposit(2**53 - 1, 1)
    assert (r.status_code, code(r)) == (404, "USER_NOT_FOUND")


def test_withdrawal_takes_at_most_the_redeemable_balance(admin):
    user_id = admin.player(funds=1_000)
    reference = "wd-" + uuid.uuid4().hex
    refused = admin.withdraw(user_id, 1_001, reference)
    assert (refused.status_code, code(refused)) == (422, "INSUFFICIENT_FUNDS")
    # Stored: a later deposit does not change the answer to this reference.
    admin.deposit(user_id, 5_000)
    again = admin.withdraw(user_id, 1_001, reference)
    assert again.status_code == 422 and again.content == refused.content
    assert again.headers["Idempotent-Replay"] == "true"
    assert admin.withdraw(user_id, 6_000).json()["balance"] == 0


def test_deposit_past_the_balance_limit_is_refused_and_stored(admin):
    user_id = admin.player(funds=2**53 - 10)
    reference = "dep-big-" + uuid.uuid4().hex
    r = admin.deposit(user_id, 10, reference)
    assert (r.status_code, code(r)) == (422, "BALANCE_LIMIT_EXCEEDED")
    again = admin.deposit(user_id, 10, reference)
    assert again.content == r.content and again.headers["Idempotent-Replay"] == "true"
    assert admin.deposit(user_id, 9).json()["balance"] == 2**53 - 1


def test_concurrent_duplicate_deposits_apply_once(admin):
    user_id = admin.player()
    reference = "dep-dup-" + uuid.uuid4().hex
    answers = parallel([lambda: admin.deposit(user_id, 250, reference) for _ in range(12)])
    assert {r.status_code for r in answers} == {200}
    assert len({r.content for r in answers}) == 1
    assert sum(r.headers.get("Idempotent-Replay") != "true" for r in answers) == 1
    assert admin.get(f"players/{user_id}").json()["wallets"][0]["balance"] == 250


def test_concurrent_duplicate_withdrawals_apply_once(admin):
    user_id = admin.player(funds=1_000)
    reference = "wd-dup-" + uuid.uuid4().hex
    answers = parallel([lambda: admin.withdraw(user_id, 300, reference) for _ in range(12)])
    assert {r.status_code for r in answers} == {200}
    assert sum(r.headers.get("Idempotent-Replay") != "true" for r in answers) == 1
    assert admin.get(f"players/{user_id}").json()["wallets"][0]["balance"] == 700


def test_concurrent_withdrawals_never_overdraw(admin):
    user_id = admin.player(funds=1_000)
    answers = parallel([lambda: admin.withdraw(user_id, 300) for _ in range(8)])
    assert sorted(r.status_code for r in answers) == [200] * 3 + [422] * 5
    assert admin.get(f"players/{user_id}").json()["wallets"][0]["balance"] == 100


# --- the ledger views ----------------------------------------------------------------------------

def test_transactions_page_newest_first_without_gaps_or_duplicates(admin):
    user_id = admin.player(currencies=("USD", "EUR"))
    references = [admin.deposit(user_id, i + 1, f"page-{uuid.uuid4().hex}").json()["reference"] for i in range(7)]
    seen, cursor = [], None
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = admin.get(f"players/{user_id}/transactions", **query).json()
        seen += [item["transactionId"] for item in page["items"]]
        # New rows arriving meanwhile land ahead of the first page, never in a later one.
        admin.deposit(user_id, 1, f"late-{uuid.uuid4().hex}", currency="EUR")
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == references[::-1]
    first = admin.get(f"players/{user_id}/transactions", limit=1).json()["items"][0]
    assert first["transactionId"].startswith("late-") and first["currency"] == "EUR"
    usd = admin.get(f"players/{user_id}/transactions", currency="USD").json()
    assert [item["transactionId"] for item in usd["items"]] == references[::-1] and usd["nextCursor"] is None
    item = usd["items"][0]
    assert item == {"transactionId": references[-1], "provider": None, "type": "deposit", "outcome": "applied",
                    "amount": 7, "movement": 7, "cashMovement": 7, "bonusMovement": 0, "bonusId": None,
                    "balanceAfter": 28, "roundId": None, "currency": "USD", "createdAt": item["createdAt"]}


def test_transactions_of_an_unknown_player(admin):
    r = admin.get(f"players/{2**53 - 1}/transactions")
    assert (r.status_code, code(r)) == (404, "USER_NOT_FOUND")


def test_round_view(api, ledger, admin):
    game = ledger.game()
    user_id, wallets = ledger.player(funds=1_000)
    token = ledger.session(user_id, wallets["USD"], game)
    provider_code = ledger.query("""SELECT p.code FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p
                                    ON p.id = g.provider_id WHERE g.id = %s""", game)[0][0]
    round_id = "round-" + uuid.uuid4().hex[:8]
    body = {"sessionToken": token, "userId": user_id, "currency": "USD", "roundId": round_id}
    assert api.casino("debit", {**body, "transactionId": "b1", "amount": 100}).status_code == 200
    assert api.casino("debit", {**body, "transactionId": "b2", "amount": 5_000}).status_code == 422
    view = admin.get(f"rounds/{provider_code}/{round_id}")
    assert view.status_code == 200 and view.json()["state"] == "open"
    assert api.casino("credit", {**body, "transactionId": "c1", "amount": 300}).status_code == 200
    view = admin.get(f"rounds/{provider_code}/{round_id}").json()
    assert (view["providerCode"], view["roundId"], view["state"]) == (provider_code, round_id, "settled")
    assert [(r["transactionId"], r["type"], r["outcome"], r["movement"], r["balanceAfter"]) for r in view["rows"]] == [
        ("b1", "debit", "applied", -100, 900), ("b2", "debit", "refused", 0, 900),
        ("c1", "credit", "applied", 300, 1_200)]
    assert view["rows"][1]["answer"]["status"] == 422
    assert view["rows"][1]["answer"]["body"]["error"]["code"] == "INSUFFICIENT_FUNDS"
    assert view["rows"][0]["userId"] == user_id and view["rows"][0]["provider"] == provider_code
    history = admin.get(f"players/{user_id}/transactions").json()["items"]
    assert [i["transactionId"] for i in history][:3] == ["c1", "b2", "b1"]
    unknown = admin.get(f"rounds/{provider_code}/no-such-round")
    assert (unknown.status_code, code(unknown)) == (404, "ROUND_UNKNOWN")


def test_round_view_of_a_cancelled_round(api, ledger, admin):
    game = ledger.game()
    user_id, wallets = ledger.player(funds=1_000)
    token = ledger.session(user_id, wallets["USD"], game)
    provider_code = ledger.query("""SELECT p.code FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p
                                    ON p.id = g.provider_id WHERE g.id = %s""", game)[0][0]
    body = {"sessionToken": token, "userId": user_id, "roundId": "rc"}
    api.casino("debit", {**body, "currency": "USD", "transactionId": "x1", "amount": 100})
    api.casino("rollback", {**body, "transactionId": "x2", "originalTransactionId": "x1"})
    view = admin.get(f"rounds/{provider_code}/rc").json()
    assert view["state"] == "cancelled" and view["rows"][0]["refunded"] is True


# --- the audit of admin writes, and the ledger audit ------------------------------------------

def test_every_admin_write_is_audited_with_its_key(api, ledger):
    admin_key, cashier_key = key_with(ledger, "admin"), key_with(ledger, "cashier")
    admin, cashier = Admin(api, admin_key), Admin(api, cashier_key)
    # Over the API, so its audit row is the handler's: an operator's player, as the API makes.
    name = "bo-" + uuid.uuid4().hex[:12]
    user_id = admin.post("players", {"username": name, "email": f"{name}@example.com"}).json()["userId"]
    admin.post("wallets", {"userId": user_id, "currency": "USD"})
    reference = "audited-" + uuid.uuid4().hex
    cashier.deposit(user_id, 50, reference)
    cashier.deposit(user_id, 50, reference)
    admin.post(f"players/{user_id}/status", {"status": "disabled"})
    admin.post("wallets", {"userId": user_id, "currency": "USD"})
    rows = ledger.query("""SELECT operator_key_id, action, request, response_status, replay FROM CASINO_ADMIN_AUDIT
                           WHERE operator_key_id IN (%s, %s) ORDER BY id""",
                        admin_key.split(".")[0], cashier_key.split(".")[0])
    admin_id, cashier_id = admin_key.split(".")[0], cashier_key.split(".")[0]
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        (admin_id, "createPlayer", 201, False), (admin_id, "createWallet", 201, False),
        (cashier_id, "deposit", 200, False), (cashier_id, "deposit", 200, True),
        (admin_id, "setPlayerStatus", 200, False), (admin_id, "createWallet", 409, False)]
    assert rows[0][2] == {"username": name, "email": f"{name}@example.com"}
    assert rows[2][2] == {"userId": user_id, "currency": "USD", "amount": 50, "reference": reference}
    assert rows[4][2] == {"userId": user_id, "status": "disabled"}
    # Reads leave no trace in it.
    admin_reader = Admin(api, key_with(ledger, "backoffice"))
    admin_reader.get(f"players/{user_id}")
    assert ledger.query("SELECT count(*) FROM CASINO_ADMIN_AUDIT WHERE operator_key_id = %s",
                        admin_reader.key.split(".")[0]) == [(0,)]


def test_the_ledger_audit_explains_every_cent(admin, database_dsn):
    user_id = admin.player(currencies=("USD", "EUR"), funds=10_000)
    admin.withdraw(user_id, 2_500)
    admin.withdraw(user_id, 20_000)
    admin.withdraw(user_id, 10_000, currency="EUR")
    result = run_cli("casino.audit", dsn=database_dsn)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 violation(s)" in result.stdout


# --- operator keys ---------------------------------------------------------------------------

def test_operator_keys_created_listed_and_revoked(api, admin, ledger):
    r = admin.post("keys", {"scopes": ["backoffice", "cashier", "backoffice"], "label": "support desk"})
    assert r.status_code == 201
    created = r.json()
    assert created["scopes"] == ["backoffice", "cashier"] and created["label"] == "support desk"
    assert created["key"].startswith(created["keyId"] + ".") and created["revokedAt"] is None
    reader = Admin(api, created["key"])
    user_id = admin.player()
    assert reader.get(f"players/{user_id}").status_code == 200
    assert reader.post("keys", {"scopes": ["admin"]}).status_code == 403
    listed = {k["keyId"]: k for k in admin.get("keys/list").json()["keys"]}
    assert created["keyId"] in listed and "key" not in listed[created["keyId"]]
    assert created["key"].split(".", 1)[1] not in admin.get("keys/list").text
    revoked = admin.post(f"keys/{created['keyId']}/revoke", {})
    assert revoked.status_code == 200 and revoked.json()["keyId"] == created["keyId"]
    again = admin.post(f"keys/{created['keyId']}/revoke", {})
    assert (again.status_code, code(again)) == (404, "KEY_NOT_FOUND")
    listed = {k["keyId"]: k for k in admin.get("keys/list").json()["keys"]}
    assert listed[created["keyId"]]["revokedAt"] == revoked.json()["revokedAt"]
    until_refused(lambda: reader.get(f"players/{user_id}"))
    audited = ledger.query("SELECT action, request FROM CASINO_ADMIN_AUDIT WHERE action LIKE '%%OperatorKey' "
                           "AND (request->>'keyId' = %s OR request->>'label' = 'support desk') ORDER BY id",
                           created["keyId"])
    assert [a for a, _ in audited][-3:] == ["createOperatorKey", "revokeOperatorKey", "revokeOperatorKey"]
    assert all(created["key"].split(".", 1)[1] not in json.dumps(req) for _, req in audited)


@pytest.mark.parametrize("body", [{"scopes": []}, {"scopes": ["root"]}, {"scopes": "admin"}, {},
                                  {"scopes": ["admin"], "label": "\n"}])
def test_operator_key_bad_input(admin, body):
    r = admin.post("keys", body)
    assert (r.status_code, code(r)) == (400, "INVALID_REQUEST")
