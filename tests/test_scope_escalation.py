"""Scopes cannot be escalated: a key writes operator keys only with the scope admin, and
only within its own scopes -- it grants none it lacks, and creates, rotates, changes or
revokes no key holding one it lacks (403 FORBIDDEN, no key made or changed). The bootstrap
OPERATOR_KEY holds every scope; every key write, refusals included, is audited."""
import json
import uuid

import pytest

from casino import operators
from tests.support import OPERATOR_KEY, run_cli, until_refused
from tests.support import error_code as code

pytestmark = pytest.mark.usefixtures("clean_audit")

EVERY_SCOPE = ["lobby", "test-driver", "backoffice", "cashier", "protection", "admin"]


def key_with(ledger, *scopes):
    return ledger.run(lambda cur: operators.create_key(cur, list(scopes), "escalation test")[0])


def key_id(key):
    return key.split(".")[0]


class Operator:
    def __init__(self, api, key):
        self.api, self.key = api, key

    def post(self, path, body):
        return self.api.http.post(f"{self.api.base_url}/casino/admin/{path}", data=json.dumps(body).encode(),
                                  headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"},
                                  timeout=30)

    def get(self, path):
        return self.api.http.get(f"{self.api.base_url}/casino/admin/{path}",
                                 headers={"Authorization": f"Bearer {self.key}"}, timeout=30)


def keys(ledger):
    return ledger.query("SELECT key_id, scopes, revoked_at IS NULL FROM CASINO_OPERATOR_KEYS ORDER BY id")


def audited(ledger, operator_key):
    return ledger.query("SELECT action, request, response_status FROM CASINO_ADMIN_AUDIT "
                        "WHERE operator_key_id = %s ORDER BY id", key_id(operator_key))


def funded_wallet(ledger):
    user_id, _ = ledger.player(funds=100_000)
    return user_id


def deposit(operator, user_id):
    return operator.post("deposits", {"userId": user_id, "currency": "USD", "amount": 1,
                                      "reference": "esc-" + uuid.uuid4().hex})


# --- create --------------------------------------------------------------------------------------

def test_an_admin_only_key_cannot_mint_a_key_with_every_scope(api, ledger):
    """The review's attack: an admin-only key asked for every scope, got it, and deposited."""
    admin = Operator(api, key_with(ledger, "admin"))
    user_id = funded_wallet(ledger)
    assert deposit(admin, user_id).status_code == 403
    before = keys(ledger)
    r = admin.post("keys", {"scopes": ["cashier", "lobby", "test-driver", "backoffice", "admin"],
                            "label": "escalated"})
    assert (r.status_code, code(r)) == (403, "FORBIDDEN")
    assert "backoffice, cashier, lobby, test-driver" in r.json()["error"]["message"]
    assert "key" not in r.json()
    assert keys(ledger) == before
    assert ledger.balance(ledger.query("SELECT id FROM CASINO_WALLETS WHERE user_id = %s", user_id)[0][0]) == (
        100_000, 100_000)
    # One scope too many is as refused as four.
    assert admin.post("keys", {"scopes": ["admin", "cashier"]}).status_code == 403
    assert keys(ledger) == before
    assert [(a, req["scopes"], status) for a, req, status in audited(ledger, admin.key)] == [
        ("createOperatorKey", ["cashier", "lobby", "test-driver", "backoffice", "admin"], 403),
        ("createOperatorKey", ["admin", "cashier"], 403)]


def test_a_key_grants_what_it_holds_and_only_admin_writes_keys(api, ledger):
    admin_cashier = Operator(api, key_with(ledger, "admin", "cashier"))
    r = admin_cashier.post("keys", {"scopes": ["cashier"], "label": "till 3"})
    assert r.status_code == 201 and r.json()["scopes"] == ["cashier"]
    user_id = funded_wallet(ledger)
    assert deposit(Operator(api, r.json()["key"]), user_id).status_code == 200
    # Without admin, a key writes no key at all, even one with its own scopes.
    cashier = Operator(api, key_with(ledger, "cashier"))
    before = keys(ledger)
    for path, body in (("keys", {"scopes": ["cashier"]}), (f"keys/{r.json()['keyId']}/rotate", {}),
                       (f"keys/{r.json()['keyId']}/scopes", {"scopes": ["cashier"]})):
        refused = cashier.post(path, body)
        assert (refused.status_code, code(refused)) == (403, "FORBIDDEN"), path
    assert keys(ledger) == before


def test_the_bootstrap_key_holds_every_scope(api, ledger):
    bootstrap = Operator(api, OPERATOR_KEY)
    r = bootstrap.post("keys", {"scopes": EVERY_SCOPE, "label": "second bootstrap"})
    assert r.status_code == 201 and r.json()["scopes"] == sorted(EVERY_SCOPE)
    assert sorted(operators.SCOPES) == sorted(EVERY_SCOPE)
    # And the key it made holds them all in turn: it may mint any of them.
    assert Operator(api, r.json()["key"]).post("keys", {"scopes": ["protection"]}).status_code == 201


# --- rotate --------------------------------------------------------------------------------------

def test_rotating_a_key_with_a_scope_the_caller_lacks_is_refused(api, ledger):
    admin = Operator(api, key_with(ledger, "admin"))
    cashier_key = key_with(ledger, "cashier", "backoffice")
    before = keys(ledger)
    r = admin.post(f"keys/{key_id(cashier_key)}/rotate", {})
    assert (r.status_code, code(r)) == (403, "FORBIDDEN") and "key" not in r.json()
    r = admin.post(f"keys/{key_id(cashier_key)}/rotate", {"revokeOld": True})
    assert (r.status_code, code(r)) == (403, "FORBIDDEN")
    assert keys(ledger) == before
    assert [(a, status) for a, _, status in audited(ledger, admin.key)] == [("rotateOperatorKey", 403)] * 2


def test_a_rotated_key_keeps_its_scopes_and_the_old_one_works_until_revoked(api, ledger):
    admin = Operator(api, key_with(ledger, "admin", "cashier"))
    old = key_with(ledger, "cashier")
    user_id = funded_wallet(ledger)
    r = admin.post(f"keys/{key_id(old)}/rotate", {})
    assert r.status_code == 201
    rotated = r.json()
    assert rotated["scopes"] == ["cashier"] and rotated["label"] == "escalation test"
    assert rotated["replaces"] == {**rotated["replaces"], "keyId": key_id(old), "revokedAt": None}
    assert rotated["key"].startswith(rotated["keyId"] + ".") and rotated["keyId"] != key_id(old)
    # Both work meanwhile: the old key's holders move without a failed call.
    assert deposit(Operator(api, rotated["key"]), user_id).status_code == 200
    assert deposit(Operator(api, old), user_id).status_code == 200
    assert admin.post(f"keys/{key_id(old)}/revoke", {}).status_code == 200
    until_refused(lambda: deposit(Operator(api, old), user_id))
    assert deposit(Operator(api, rotated["key"]), user_id).status_code == 200
    [(action, request, status)] = [row for row in audited(ledger, admin.key) if row[0] == "rotateOperatorKey"]
    assert (request, status) == ({"keyId": key_id(old), "revokeOld": False, "newKeyId": rotated["keyId"]}, 201)
    assert rotated["key"].split(".", 1)[1] not in json.dumps(audited(ledger, admin.key), default=str)


def test_rotating_a_leaked_key_revokes_it_in_the_same_call(api, ledger):
    admin = Operator(api, key_with(ledger, "admin", "cashier"))
    leaked = key_with(ledger, "cashier")
    user_id = funded_wallet(ledger)
    r = admin.post(f"keys/{key_id(leaked)}/rotate", {"revokeOld": True, "label": "till 4"})
    assert r.status_code == 201 and r.json()["label"] == "till 4" and r.json()["replaces"]["revokedAt"]
    until_refused(lambda: deposit(Operator(api, leaked), user_id))
    assert deposit(Operator(api, r.json()["key"]), user_id).status_code == 200
    again = admin.post(f"keys/{key_id(leaked)}/rotate", {})
    assert (again.status_code, code(again)) == (404, "KEY_NOT_FOUND")


# --- change scopes -------------------------------------------------------------------------------

def test_changing_scopes_beyond_the_callers_is_refused(api, ledger):
    admin_key = key_with(ledger, "admin")
    admin = Operator(api, admin_key)
    other_admin = key_with(ledger, "admin")
    cashier_key = key_with(ledger, "cashier")
    before = keys(ledger)
    for target, scopes in ((key_id(admin_key), ["admin", "cashier"]),       # its own, widened
                           (key_id(other_admin), ["admin", "cashier"]),     # another's, widened
                           (key_id(cashier_key), ["admin"])):               # one holding what it lacks
        r = admin.post(f"keys/{target}/scopes", {"scopes": scopes})
        assert (r.status_code, code(r)) == (403, "FORBIDDEN"), (target, scopes)
    assert keys(ledger) == before
    # The widened keys still cannot deposit.
    user_id = funded_wallet(ledger)
    assert deposit(Operator(api, other_admin), user_id).status_code == 403
    assert [(a, status) for a, _, status in audited(ledger, admin_key)] == [("setOperatorKeyScopes", 403)] * 3


def test_changing_scopes_within_the_callers_takes_effect(api, ledger):
    admin = Operator(api, key_with(ledger, "admin", "cashier", "backoffice"))
    target = key_with(ledger, "backoffice")
    user_id = funded_wallet(ledger)
    assert deposit(Operator(api, target), user_id).status_code == 403
    r = admin.post(f"keys/{key_id(target)}/scopes", {"scopes": ["cashier"]})
    assert r.status_code == 200 and r.json()["scopes"] == ["cashier"] and r.json()["keyId"] == key_id(target)
    until_refused(lambda: deposit(Operator(api, target), user_id), allowed=(403,), refused=200)
    until_refused(lambda: Operator(api, target).get(f"players/{user_id}"), allowed=(200,), refused=403)
    [(_, request, status)] = [row for row in audited(ledger, admin.key) if row[0] == "setOperatorKeyScopes"]
    assert (request, status) == ({"keyId": key_id(target), "scopes": ["cashier"],
                                  "previousScopes": ["backoffice"]}, 200)


@pytest.mark.parametrize("body", [{"scopes": []}, {"scopes": ["root"]}, {"scopes": "admin"}, {}])
def test_bad_scopes_are_400_and_change_nothing(api, ledger, body):
    target = key_with(ledger, "backoffice")
    before = keys(ledger)
    r = Operator(api, OPERATOR_KEY).post(f"keys/{key_id(target)}/scopes", body)
    assert (r.status_code, code(r)) == (400, "INVALID_REQUEST")
    assert keys(ledger) == before


# --- revoke --------------------------------------------------------------------------------------

def test_a_key_cannot_revoke_a_key_holding_a_scope_it_lacks(api, ledger):
    admin = Operator(api, key_with(ledger, "admin"))
    stronger = key_with(ledger, "admin", "cashier")
    r = admin.post(f"keys/{key_id(stronger)}/revoke", {})
    assert (r.status_code, code(r)) == (403, "FORBIDDEN")
    assert ledger.query("SELECT revoked_at FROM CASINO_OPERATOR_KEYS WHERE key_id = %s", key_id(stronger)) == [(None,)]
    assert admin.post(f"keys/{key_id(key_with(ledger, 'admin'))}/revoke", {}).status_code == 200


# --- the command line ----------------------------------------------------------------------------

def test_the_command_lines_key_writes_are_audited_too(ledger, database_dsn):
    created = run_cli("casino.keys", "operator", "create", "--scopes", "lobby,protection", "--label", "cli",
                      dsn=database_dsn)
    assert created.returncode == 0, created.stderr
    key = created.stdout.rsplit(" ", 1)[1].strip()
    rotated = run_cli("casino.keys", "operator", "rotate", key_id(key), "--revoke-old", dsn=database_dsn)
    assert rotated.returncode == 0, rotated.stderr
    new_key = rotated.stdout.rsplit(" ", 1)[1].strip()
    changed = run_cli("casino.keys", "operator", "scopes", key_id(new_key), "--scopes", "lobby", dsn=database_dsn)
    assert changed.returncode == 0 and "now holds lobby" in changed.stdout, changed.stderr
    revoked = run_cli("casino.keys", "operator", "revoke", key_id(new_key), dsn=database_dsn)
    assert revoked.returncode == 0, revoked.stderr
    missing = run_cli("casino.keys", "operator", "rotate", key_id(new_key), dsn=database_dsn)
    assert missing.returncode == 1 and "no active operator key has that id" in missing.stderr
    rows = ledger.query("""SELECT action, response_status FROM CASINO_ADMIN_AUDIT
                           WHERE operator_key_id = 'tool:casino.keys'
                             AND (request->>'keyId' IN (%s, %s) OR request->>'label' = 'cli') ORDER BY id""",
                        key_id(key), key_id(new_key))
    # A command that is refused writes nothing, its audit row included (its transaction is rolled back).
    assert rows == [("createOperatorKey", 201), ("rotateOperatorKey", 201), ("setOperatorKeyScopes", 200),
                    ("revokeOperatorKey", 200)]
    assert ledger.query("SELECT scopes, revoked_at IS NOT NULL FROM CASINO_OPERATOR_KEYS WHERE key_id IN (%s, %s) "
                        "ORDER BY id", key_id(key), key_id(new_key)) == [(["lobby", "protection"], True),
                                                                         (["lobby"], True)]


def test_the_command_lines_provider_key_writes_are_audited_too(ledger, database_dsn):
    ledger.demo_provider()
    added = run_cli("casino.keys", "provider", "add", "JAQPOT", dsn=database_dsn)
    assert added.returncode == 0, added.stderr
    kid = added.stdout.split()[2]
    assert run_cli("casino.keys", "provider", "revoke", kid, dsn=database_dsn).returncode == 0
    rows = ledger.query("""SELECT action, request, response_status FROM CASINO_ADMIN_AUDIT
                           WHERE operator_key_id = 'tool:casino.keys' AND request->>'keyId' = %s ORDER BY id""", kid)
    assert rows == [("addProviderKey", {"providerCode": "JAQPOT", "signer": "provider", "keyId": kid,
                                        "secretGiven": False}, 201),
                    ("revokeProviderKey", {"keyId": kid, "signer": "provider"}, 200)]
    [secret] = [line.split()[-1] for line in added.stdout.splitlines() if line.startswith("secret")]
    assert secret not in json.dumps(rows)      # printed once, and nowhere in the audit
