"""A tool's operator key (migration 0015): made with an origin, it marks every player and
provider it creates as that tool's, and makes only keys of its own tool; no key or request
can mark a real player a tool's, nor change an origin once made."""
import json
import uuid

import psycopg2
import pytest

from tests.support import OPERATOR_KEY, run_cli

pytestmark = pytest.mark.usefixtures("clean_audit")

RUN_SCOPES = ["admin", "backoffice", "cashier", "lobby"]


def call(api, key, path, body=None):
    """POST (with a body) or GET /casino/admin/<path> with the key."""
    url, headers = f"{api.base_url}/casino/admin/{path}", {"Authorization": f"Bearer {key}"}
    if body is None:
        return api.http.get(url, headers=headers, timeout=30)
    return api.http.post(url, data=json.dumps(body).encode(), headers=headers, timeout=30)


def make_key(api, key=OPERATOR_KEY, **body):
    r = call(api, key, "keys", {"scopes": RUN_SCOPES, **body})
    assert r.status_code == 201, r.text
    return r.json()


def name():
    return "tk-" + uuid.uuid4().hex[:12]


def test_a_tools_key_marks_every_player_and_provider_it_makes(api, ledger):
    tool = make_key(api, label="locust on staging", origin="locust")
    assert (tool["origin"], tool["label"]) == ("locust", "locust on staging")
    player = name()
    # An "origin" in the body is an unknown field, ignored: the key's origin is the mark.
    r = call(api, tool["key"], "players", {"username": player, "email": f"{player}@example.com",
                                           "origin": "operator"})
    assert r.status_code == 201 and r.json()["origin"] == "locust", r.text
    user_id = r.json()["userId"]
    provider = "TK-" + uuid.uuid4().hex[:8]
    r = call(api, tool["key"], "providers", {"providerCode": provider, "name": "Tool's", "origin": "operator"})
    assert r.status_code == 201 and r.json()["origin"] == "locust", r.text
    assert ledger.query("SELECT origin FROM CASINO_USERS WHERE id = %s", user_id) == [("locust",)]
    assert ledger.query("SELECT origin FROM CASINO_GAME_PROVIDERS WHERE code = %s", provider) == [("locust",)]
    assert user_id in [p["userId"] for p in call(api, OPERATOR_KEY, "players/list?origin=locust").json()["items"]]
    # An operator's key, the same calls: real ones.
    real = make_key(api, label="front desk")
    assert real["origin"] == "operator"
    other = name()
    r = call(api, real["key"], "players", {"username": other, "email": f"{other}@example.com", "origin": "locust"})
    assert r.status_code == 201 and r.json()["origin"] == "operator", r.text
    # The listing says which keys are tools'; the audit, under which key each was made.
    listed = {k["keyId"]: k["origin"] for k in call(api, OPERATOR_KEY, "keys/list").json()["keys"]}
    assert (listed[tool["keyId"]], listed[real["keyId"]]) == ("locust", "operator")
    assert ledger.query("""SELECT operator_key_id, request ->> 'origin' FROM CASINO_ADMIN_AUDIT
                           WHERE action = 'createPlayer' AND request ->> 'username' IN (%s, %s)
                           ORDER BY id""", player, other) == [(tool["keyId"], "locust"), (real["keyId"], None)]
    assert ledger.query("""SELECT request ->> 'origin', request ->> 'label' FROM CASINO_ADMIN_AUDIT
                           WHERE action = 'createOperatorKey' AND request ->> 'label' IN (%s, %s)
                           ORDER BY id""", "locust on staging", "front desk") == [
        ("locust", "locust on staging"), ("operator", "front desk")]
    # Done with: retired with the tool's own key, the provider disabled again.
    assert call(api, tool["key"], "synthetic/retire", {"userIds": [user_id], "providerCodes": [provider]}).json()[
        "playersDisabled"] == 1
    for key in (tool, real):
        assert call(api, OPERATOR_KEY, f"keys/{key['keyId']}/revoke", {}).status_code == 200


def test_a_tools_key_makes_only_its_own_tools_keys(api, ledger):
    tool = make_key(api, origin="bench")
    (keys_before,), = ledger.query("SELECT count(*) FROM CASINO_OPERATOR_KEYS")
    assert make_key(api, tool["key"])["origin"] == "bench"              # inherited
    assert make_key(api, tool["key"], origin="bench")["origin"] == "bench"
    for other in ("operator", "locust"):
        r = call(api, tool["key"], "keys", {"scopes": ["backoffice"], "origin": other})
        assert (r.status_code, r.json()["error"]["code"]) == (403, "FORBIDDEN"), r.text
        assert r.json()["error"]["message"] == "a bench key makes only bench keys"
    assert ledger.query("SELECT count(*) FROM CASINO_OPERATOR_KEYS") == [(keys_before + 2,)]
    # The refusals are in the audit, under the tool's key.
    assert ledger.query("""SELECT request ->> 'origin', response_status FROM CASINO_ADMIN_AUDIT
                           WHERE action = 'createOperatorKey' AND operator_key_id = %s ORDER BY id""",
                        tool["keyId"]) == [("bench", 201), ("bench", 201), ("operator", 403), ("locust", 403)]


@pytest.mark.parametrize("origin", ["demo", "robot", "", None, 1])
def test_a_key_origin_is_one_of_the_tools_or_operator(api, origin):
    r = call(api, OPERATOR_KEY, "keys", {"scopes": ["lobby"], "origin": origin})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_REQUEST"), r.text


ROWS = {  # table: (its key column, an insert of a real one, an update of another column)
    "CASINO_USERS": ("username", "(username, email) VALUES (%s, 'tk@example.com')", "enabled = false"),
    "CASINO_GAME_PROVIDERS": ("code", "(code, name) VALUES (%s, 'Fixed')", "enabled = false"),
    "CASINO_OPERATOR_KEYS": ("key_id",
                             "(key_id, secret_hash, scopes, revoked_at) VALUES (%s, '\\x00', '{lobby}', now())",
                             "label = 'still real'")}


@pytest.mark.parametrize("table", ROWS)
def test_an_origin_never_changes_once_made(ledger, table):
    """Not by any verb (none writes it) and not by hand either: the database refuses it."""
    column, insert, other = ROWS[table]
    value = "TK-fixed-" + uuid.uuid4().hex[:6]
    ledger.query(f"INSERT INTO {table} {insert} RETURNING origin", value)
    for origin in ("locust", "bench"):
        with pytest.raises(psycopg2.errors.CheckViolation, match=f"{table.lower()}.origin is set when the row is made"):
            ledger.run(lambda cur, origin: cur.execute(f"UPDATE {table} SET origin = %s WHERE {column} = %s",
                                                       (origin, value)), origin)
    # Its other columns change as before, and an update that leaves the origin as it was passes.
    ledger.run(lambda cur: cur.execute(f"UPDATE {table} SET {other}, origin = origin WHERE {column} = %s", (value,)))
    assert ledger.query(f"SELECT origin FROM {table} WHERE {column} = %s", value) == [("operator",)]


def test_the_command_makes_and_lists_a_tools_key(database_dsn):
    made = run_cli("casino.keys", "operator", "create", "--scopes", "admin,lobby", "--label", "bench box",
                   "--origin", "bench", dsn=database_dsn)
    assert made.returncode == 0, made.stderr
    key_id = made.stdout.split()[1].rstrip(";")
    listed = run_cli("casino.keys", "operator", "list", dsn=database_dsn)
    line, = (line for line in listed.stdout.splitlines() if line.startswith(key_id))
    assert line.split()[1:4] == ["admin,lobby", "bench", "active"], line
    refused = run_cli("casino.keys", "operator", "create", "--scopes", "admin", "--origin", "demo", dsn=database_dsn)
    assert refused.returncode == 2 and "invalid choice: 'demo'" in refused.stderr


def test_a_rotated_key_keeps_its_origin_and_a_tools_key_acts_only_on_its_own_tools_keys(api, ledger):
    """Rotating a tool's key must not make an operator's key (which would make real players),
    and a tool's key rotates, changes or revokes no key of another origin."""
    operator = make_key(api, label="ops")
    tool = make_key(api, label="locust run", origin="locust")
    rotated = call(api, OPERATOR_KEY, f"keys/{tool['keyId']}/rotate", {})
    assert rotated.status_code == 201 and rotated.json()["origin"] == "locust", rotated.text
    assert rotated.json()["replaces"]["origin"] == "locust"
    new_key = rotated.json()["keyId"]
    assert ledger.query("SELECT origin FROM CASINO_OPERATOR_KEYS WHERE key_id = %s", new_key) == [("locust",)]
    # The tool's key on its own tool's key: allowed; on an operator's or another tool's: 403.
    bench = make_key(api, label="bench run", origin="bench")
    for target in (operator, bench):
        for path, body in ((f"keys/{target['keyId']}/rotate", {}), (f"keys/{target['keyId']}/scopes",
                                                                      {"scopes": ["lobby"]}),
                           (f"keys/{target['keyId']}/revoke", {})):
            r = call(api, tool["key"], path, body)
            assert (r.status_code, r.json()["error"]["code"]) == (403, "FORBIDDEN"), (path, r.text)
    keys = ledger.query("SELECT key_id, scopes, revoked_at IS NULL FROM CASINO_OPERATOR_KEYS WHERE key_id IN (%s, %s)",
                        operator["keyId"], bench["keyId"])
    assert sorted(keys) == sorted([(operator["keyId"], sorted(RUN_SCOPES), True),
                                   (bench["keyId"], sorted(RUN_SCOPES), True)])
    own = call(api, tool["key"], f"keys/{new_key}/rotate", {"revokeOld": True})
    assert own.status_code == 201 and own.json()["origin"] == "locust", own.text
    assert ledger.query("""SELECT count(*) FROM CASINO_ADMIN_AUDIT WHERE operator_key_id = %s
                           AND action IN ('rotateOperatorKey', 'setOperatorKeyScopes', 'revokeOperatorKey')
                           AND response_status = 403""", tool["keyId"]) == [(6,)]
