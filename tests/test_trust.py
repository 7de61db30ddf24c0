"""Trust at the edges, each test an attack that must fail: operator keys and their scopes,
signatures bound to endpoint, method, time and key, keys per provider, rotation under
live traffic, revocation, secrets sealed at rest, development mode's bounds."""
import json
import os
import subprocess
import sys
import threading
import uuid

import pytest

from sql.migrate import migrate
from tests.support import (BOX, CASINO_SECRET, KEYS_BY_TOKEN, OPERATOR_KEY, ROOT, Api, Ledger,
                           ServerProcess, run_cli, signed, until_refused)
from tests.support import error_code as code


# --- operator keys --------------------------------------------------------------------------

def test_launch_and_simulate_need_an_operator_key(api, ledger):
    game = ledger.launchable_game()
    user_id, wallets = ledger.player(funds=5_000)
    body = {"userId": user_id, "gameId": game}
    for endpoint in ("launchGame", "simulateRound"):
        for key in (None, "made-up", "op_000000000000.nope", OPERATOR_KEY + "x"):
            r = api.client(endpoint, body, operator_key=key)
            assert (r.status_code, code(r)) == (401, "UNAUTHORIZED"), (endpoint, key)
    assert ledger.balance(wallets["USD"])[0] == 5_000
    assert ledger.query("SELECT count(*) FROM CASINO_GAME_SESSIONS WHERE user_id = %s", user_id) == [(0,)]


def test_created_keys_carry_their_scopes_are_stored_hashed_and_revocable(api, ledger, database_dsn):
    game = ledger.launchable_game()
    user_id, wallets = ledger.player(funds=5_000)
    body = {"userId": user_id, "gameId": game}
    created = run_cli("casino.keys", "operator", "create", "--scopes", "lobby", "--label", "lobby", dsn=database_dsn)
    assert created.returncode == 0, created.stderr
    key = created.stdout.rsplit(" ", 1)[1].strip()
    key_id = key.split(".")[0]
    assert api.client("launchGame", body, operator_key=key).status_code == 200
    r = api.client("simulateRound", body, operator_key=key)
    assert (r.status_code, code(r)) == (403, "FORBIDDEN")
    assert ledger.balance(wallets["USD"])[0] == 5_000
    # Only a hash is kept: the secret is nowhere in the row.
    [(row,)] = ledger.query("SELECT row_to_json(k)::text FROM CASINO_OPERATOR_KEYS k WHERE key_id = %s", key_id)
    assert key.split(".")[1] not in row
    listed = run_cli("casino.keys", "operator", "list", dsn=database_dsn)
    assert key_id in listed.stdout and key.split(".")[1] not in listed.stdout
    revoked = run_cli("casino.keys", "operator", "revoke", key_id, dsn=database_dsn)
    assert revoked.returncode == 0, revoked.stderr
    until_refused(lambda: api.client("launchGame", body, operator_key=key))


@pytest.fixture
def production_database(fresh_dsn):
    """A migrated database of its own on the real clock: a server without --test-driver
    does not serve the workers' databases, whose clock the tests can freeze."""
    migrate(fresh_dsn, log=lambda _: None)
    return fresh_dsn, Ledger(fresh_dsn)


def test_simulate_round_is_not_served_without_the_test_driver_flag(production_database):
    database_dsn, ledger = production_database
    server = ServerProcess(database_dsn, test_driver=False).start()
    try:
        game = ledger.launchable_game()
        user_id, wallets = ledger.player(funds=5_000)
        r = Api(server.url).client("simulateRound", {"userId": user_id, "gameId": game})
        assert (r.status_code, code(r)) == (404, "NOT_FOUND")
        assert Api(server.url).client("launchGame", {"userId": user_id, "gameId": game}).status_code == 200
        assert ledger.balance(wallets["USD"])[0] == 5_000
    finally:
        server.stop()


def start_server(args, env):
    base = {k: v for k, v in os.environ.items()
            if k not in ("CASINO_SECRET", "PROVIDER_SECRET", "KEYS_ENCRYPTION_KEY", "OPERATOR_KEY")}
    return subprocess.run([sys.executable, "server.py", *args], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=60)


def test_development_secrets_never_listen_beyond_loopback(database_dsn):
    run = start_server(["--host", "0.0.0.0", "--port", "0"], {"DATABASE_URL": database_dsn})
    assert run.returncode == 2
    assert "refusing to listen on 0.0.0.0 on development secrets" in run.stderr
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("encryption_key,message", [
    (None, "KEYS_ENCRYPTION_KEY is not set"), ("not-a-key", "KEYS_ENCRYPTION_KEY must be 32 bytes"),
    ("22" * 32, "cannot open the secret of CASINO_PROVIDER_KEYS")])
def test_production_start_needs_the_right_encryption_key(production_database, encryption_key, message):
    database_dsn, ledger = production_database
    ledger.game()     # at least one sealed key in the database
    env = {"DATABASE_URL": database_dsn, "CASINO_SECRET": "x", "PROVIDER_SECRET": "y"}
    if encryption_key:
        env["KEYS_ENCRYPTION_KEY"] = encryption_key
    run = start_server(["--port", "0", "--no-demo-data"], env)
    assert run.returncode == 2, run.stdout + run.stderr
    assert message in run.stderr and "Traceback" not in run.stderr


# --- signatures bound to endpoint and key ---------------------------------------------------

@pytest.fixture
def player(ledger):
    game = ledger.game()
    user_id, wallets = ledger.player(funds=10_000)
    token = ledger.session(user_id, wallets["USD"], game)
    return {"token": token, "user": user_id, "wallet": wallets["USD"], "key": KEYS_BY_TOKEN[token]}


def bet(player, tx, amount=5_000, round_id="r1"):
    return {"sessionToken": player["token"], "userId": player["user"], "transactionId": tx,
            "roundId": round_id, "amount": amount, "currency": "USD"}


def test_a_bets_signed_bytes_cannot_be_paid_out_as_a_credit(api, ledger, player):
    data = json.dumps(bet(player, "bet-1")).encode()
    stolen = signed("/casino/debit", data, player["key"], "x-casino-signature")
    r = api.raw("/casino/credit", data, stolen)
    assert (r.status_code, code(r)) == (401, "INVALID_SIGNATURE")
    assert api.raw("/casino/debit", data, stolen).status_code == 200   # the real bet still goes through
    assert ledger.balance(player["wallet"])[0] == 5_000
    assert ledger.rows(player["wallet"]) == [("bet-1", "debit", "applied", -5_000)]


def test_another_providers_key_cannot_touch_a_session(api, ledger, player):
    intruder_game = ledger.game()
    intruder_user, intruder_wallets = ledger.player(funds=1)
    intruder_key = KEYS_BY_TOKEN[ledger.session(intruder_user, intruder_wallets["USD"], intruder_game)]
    assert intruder_key != player["key"]
    r = api.casino("getBalance", {"sessionToken": player["token"], "userId": player["user"]}, key=intruder_key)
    assert (r.status_code, code(r)) == (403, "PROVIDER_MISMATCH")
    for kind, body in (("debit", bet(player, "t-x")),
                       ("credit", {**bet(player, "t-x"), "amount": 9_000}),
                       ("rollback", {"sessionToken": player["token"], "userId": player["user"], "transactionId": "t-x",
                                     "originalTransactionId": "t-y", "roundId": "r1"})):
        r = api.casino(kind, body, key=intruder_key)
        assert (r.status_code, code(r)) == (403, "PROVIDER_MISMATCH"), kind
    # Nothing was stored under either provider: the id is still free for the rightful one.
    assert ledger.rows(player["wallet"]) == []
    assert api.casino("debit", bet(player, "t-x")).status_code == 200
    assert api.casino("debit", bet(player, "t-own", 100)).status_code == 200
    r = api.casino("transactionStatus", {"transactionId": "t-own"}, key=intruder_key)
    assert (r.status_code, code(r)) == (404, "TRANSACTION_NOT_FOUND")   # another provider's id is not its business
    assert api.casino("transactionStatus", {"transactionId": "t-own"}, key=player["key"]).status_code == 200


def test_secrets_are_sealed_at_rest(ledger, player):
    kid, secret = player["key"]
    [(sealed, dump)] = ledger.query("""SELECT secret_sealed, row_to_json(k)::text FROM CASINO_PROVIDER_KEYS k
                                       WHERE key_id = %s""", kid)
    assert secret not in bytes(sealed) and secret.decode() not in dump
    # Moved onto another key's row, the ciphertext does not open: it is bound to its own.
    from casino.credentials import sealing_context
    from wire.secretbox import SecretBoxError
    [(provider_id,)] = ledger.query("SELECT provider_id FROM CASINO_PROVIDER_KEYS WHERE key_id = %s", kid)
    assert BOX.open(sealed, sealing_context(provider_id, "provider", kid)) == secret
    with pytest.raises(SecretBoxError):
        BOX.open(sealed, sealing_context(provider_id, "provider", kid + "-other"))


def test_v1_is_refused_once_turned_off(api, ledger, database_dsn):
    """The demo provider may sign v1 (the brief's format) until the operator turns it off."""
    game = ledger.launchable_game()
    user_id, wallets = ledger.player(funds=1_000)
    token = api.client("launchGame", {"userId": user_id, "gameId": game}).json()["sessionToken"]
    data = json.dumps({"sessionToken": token, "userId": user_id}).encode()
    v1 = signed("/casino/getBalance", data, ("JAQPOT", CASINO_SECRET), "x-casino-signature", version=1)
    assert api.raw("/casino/getBalance", data, v1).status_code == 200
    try:
        assert run_cli("casino.keys", "provider", "v1", "JAQPOT", "off", dsn=database_dsn).returncode == 0
        until_refused(lambda: api.raw("/casino/getBalance", data, v1))
        v2 = signed("/casino/getBalance", data, ("JAQPOT", CASINO_SECRET), "x-casino-signature")
        assert api.raw("/casino/getBalance", data, v2).status_code == 200
    finally:
        run_cli("casino.keys", "provider", "v1", "JAQPOT", "on", dsn=database_dsn)


# --- rotation under live traffic ------------------------------------------------------------

def test_a_key_rotated_under_live_traffic_fails_no_call(api, ledger, database_dsn, player):
    provider_code = ledger.query("""SELECT p.code FROM CASINO_GAME_SESSIONS s JOIN CASINO_GAMES g ON g.id = s.game_id
                                    JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id WHERE s.token = %s""",
                                 player["token"])[0][0]
    current = {"key": player["key"]}
    stop = threading.Event()
    statuses, lock = [], threading.Lock()
    moved = [threading.Event() for _ in range(4)]

    def traffic(n):
        session = Api(api.base_url)
        while not stop.is_set() and len(statuses) < 3_000:
            key = current["key"]
            r = session.casino("debit", bet(player, f"rot-{n}-{uuid.uuid4().hex[:12]}", 1), key=key)
            with lock:
                statuses.append(r.status_code)
            if key is not player["key"]:
                moved[n].set()

    threads = [threading.Thread(target=traffic, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        added = run_cli("casino.keys", "provider", "rotate", provider_code, dsn=database_dsn)
        assert added.returncode == 0, added.stderr
        new_kid = added.stdout.split()[2]
        new_secret = added.stdout.split("shown once, give it to the other side): ")[1].split()[0]
        assert player["key"][0] in added.stdout     # it says the old key is still active
        current["key"] = (new_kid, new_secret.encode())
        assert all(m.wait(30) for m in moved), "traffic did not move to the new key"
        revoked = run_cli("casino.keys", "provider", "revoke", player["key"][0], dsn=database_dsn)
        assert revoked.returncode == 0, revoked.stderr
        until_refused(lambda: api.casino("getBalance", {"sessionToken": player["token"], "userId": player["user"]},
                                         key=player["key"]))
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert statuses and set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
    assert ledger.balance(player["wallet"])[0] == 10_000 - len(statuses)
    assert ledger.violations() == []


def test_round_ids_are_each_providers_own(api, ledger, player):
    """Another provider with a session on the same wallet can neither pay into this
    provider's round nor, by paying, close it to this provider's rollbacks."""
    intruder_token = ledger.session(player["user"], player["wallet"], ledger.game())
    assert api.casino("debit", bet(player, "own-bet", 100)).status_code == 200
    for amount in (0, 5_000):
        r = api.casino("credit", {**bet(player, f"intruder-win-{amount}", amount), "sessionToken": intruder_token})
        assert (r.status_code, code(r)) == (404, "ROUND_NOT_FOUND")
    r = api.casino("rollback", {"sessionToken": player["token"], "userId": player["user"], "transactionId": "own-rb",
                                "originalTransactionId": "own-bet", "roundId": "r1"})
    assert r.status_code == 200 and r.json()["balance"] == 10_000
    assert ledger.balance(player["wallet"])[0] == 10_000


def test_a_casino_can_neither_read_nor_take_over_another_casinos_provider_session(api, ledger):
    game = ledger.launchable_game()
    user_id, _ = ledger.player(funds=1_000)
    launched = api.client("launchGame", {"userId": user_id, "gameId": game}).json()
    game_code = ledger.query("SELECT provider_game_id FROM CASINO_GAMES WHERE id = %s", game)[0][0]
    other_code, other_key = ledger.other_casino()
    body = {"sessionToken": launched["sessionToken"], "userId": user_id, "gameId": game_code, "currency": "USD"}
    theirs = api.provider("launch", {**body, "casinoCode": other_code}, key=other_key)
    assert theirs.status_code == 200
    assert theirs.json()["providerSessionId"] != launched["providerSessionId"]   # its own, not ours
    # Our own resend of the launch still finds our session; other content under the token is refused.
    ours = api.provider("launch", {**body, "casinoCode": "DEMO-CASINO"})
    assert ours.json()["providerSessionId"] == launched["providerSessionId"]
    r = api.provider("launch", {**body, "casinoCode": "DEMO-CASINO", "currency": "EUR"})
    assert (r.status_code, code(r)) == (409, "IDEMPOTENCY_CONFLICT")
