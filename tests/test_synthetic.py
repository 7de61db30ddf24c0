"""What tools make is marked, and taken out of play when they are done (casino/synthetic.py):
the load tools' own provisioning, retired by the tool's own call, and the operator's
`python -m casino.synthetic` over a database of its own."""
import json
import uuid

import pytest

from casino import backoffice, enabled, players, synthetic
from loadtests.postgres.provision import provision, retire
from sql.migrate import migrate
from tests.support import BOX, OPERATOR_KEY, run_cli, signed, until_refused

pytestmark = pytest.mark.usefixtures("clean_audit")


def statuses(ledger, sql, *params):
    """{player id: the back office's word for whether it is enabled}, from (id, enabled) rows."""
    return {user: enabled.status(is_enabled) for user, is_enabled in ledger.query(sql, *params)}


def debit(api, account, key):
    user_id, token = account
    data = json.dumps({"sessionToken": token, "userId": user_id, "transactionId": "t-" + uuid.uuid4().hex,
                       "roundId": "r-" + uuid.uuid4().hex, "amount": 1, "currency": "USD"}).encode()
    return api.raw("/casino/debit", data, signed("/casino/debit", data, key, "x-casino-signature"))


def test_the_benchs_provisioning_is_marked_playable_and_retired_by_its_own_run(api, ledger, database_dsn):
    tag, other_tag = uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]
    accounts, key = provision(database_dsn, 3, BOX, tag)
    others, other_key = provision(database_dsn, 1, BOX, other_tag)     # another run, still going
    users = [user for user, _ in accounts]
    assert ledger.query("SELECT DISTINCT origin FROM CASINO_USERS WHERE id = ANY(%s)", users) == [("bench",)]
    assert ledger.query("SELECT origin FROM CASINO_GAME_PROVIDERS WHERE code = %s", "BENCH-" + tag) == [("bench",)]
    # Made by the back office's verbs: audited under the tool's name, funded by a ledger row.
    assert ledger.query("""SELECT action, count(*) FROM CASINO_ADMIN_AUDIT WHERE operator_key_id = 'tool:bench'
                           AND (request ->> 'username' LIKE %s OR request ->> 'reference' LIKE %s)
                           GROUP BY 1 ORDER BY 1""", f"bench-{tag}-%", f"bench-{tag}-%") == [
        ("createPlayer", 3), ("deposit", 3)]
    assert debit(api, accounts[0], key).status_code == 200

    counts = retire(database_dsn, accounts, tag)

    assert counts == {"sessionsClosed": 3, "playersDisabled": 3, "gamesDisabled": 1, "providersDisabled": 1,
                      "keysRevoked": 1}
    assert ledger.query("SELECT DISTINCT enabled FROM CASINO_USERS WHERE id = ANY(%s)", users) == [(False,)]
    assert ledger.query("SELECT count(*) FROM CASINO_GAME_SESSIONS WHERE user_id = ANY(%s) AND is_active",
                        users) == [(0,)]
    assert ledger.query("""SELECT g.enabled, p.enabled FROM CASINO_GAMES g
                           JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id WHERE p.code = %s""",
                        "BENCH-" + tag) == [(False, False)]
    # Refused: the player is disabled, and within KEY_REFRESH_SECONDS the provider's key is revoked.
    until_refused(lambda: debit(api, accounts[1], key), allowed=(403,))
    assert debit(api, accounts[1], key).json()["error"]["code"] == "INVALID_SIGNATURE"
    # Money history stays: every deposit and the bet are still in the ledger.
    assert ledger.query("""SELECT t.transaction_type, count(*) FROM CASINO_TRANSACTIONS t
                           JOIN CASINO_WALLETS w ON w.id = t.wallet_id
                           WHERE w.user_id = ANY(%s) AND t.outcome = 'applied'
                           GROUP BY 1 ORDER BY 1""", users) == [("debit", 1), ("deposit", 3)]
    # The other run's player, session and provider are untouched.
    assert debit(api, others[0], other_key).status_code == 200
    assert ledger.query("SELECT request FROM CASINO_ADMIN_AUDIT WHERE action = 'retireSynthetic' "
                        "AND request -> 'providerCodes' ? %s", "BENCH-" + tag) == [(
        {"origins": ["bench"], "players": 3, "providerCodes": ["BENCH-" + tag], **counts},)]
    retire(database_dsn, others, other_tag)


def test_retiring_a_tools_provider_revokes_its_keys_and_a_late_payout_is_refused(api, ledger, database_dsn):
    tag = uuid.uuid4().hex[:8]
    [account], key = provision(database_dsn, 1, BOX, tag)
    user_id, token = account
    round_id = "r-" + uuid.uuid4().hex
    bet = {"sessionToken": token, "userId": user_id, "transactionId": "bet-" + uuid.uuid4().hex,
           "roundId": round_id, "amount": 5, "currency": "USD"}
    assert signed_call(api, "debit", bet, key).status_code == 200
    payout = {**bet, "transactionId": "win-" + uuid.uuid4().hex, "amount": 5_000}
    balance = ledger.query("SELECT playable_balance FROM CASINO_WALLETS WHERE user_id = %s", user_id)

    counts = retire(database_dsn, [account], tag)

    # The key is refused everywhere within KEY_REFRESH_SECONDS (a read-only call shows when),
    # and then a late payout on the tool's round is refused too: no money lands.
    until_refused(lambda: signed_call(api, "getBalance", {"sessionToken": token, "userId": user_id}, key))
    late = signed_call(api, "credit", payout, key)
    assert (late.status_code, late.json()["error"]["code"]) == (401, "INVALID_SIGNATURE")
    assert counts["keysRevoked"] == 1 and counts["providersDisabled"] == 1
    assert ledger.query("""SELECT count(*) FROM CASINO_PROVIDER_KEYS k JOIN CASINO_GAME_PROVIDERS p
                           ON p.id = k.provider_id WHERE p.code = %s AND k.revoked_at IS NULL""",
                        "BENCH-" + tag) == [(0,)]
    assert ledger.query("SELECT playable_balance FROM CASINO_WALLETS WHERE user_id = %s", user_id) == balance
    assert ledger.query("SELECT count(*) FROM CASINO_TRANSACTIONS WHERE external_transaction_id = %s",
                        payout["transactionId"]) == [(0,)]
    # The audit row of the sweep says how many keys it revoked.
    [(request,)] = ledger.query("SELECT request FROM CASINO_ADMIN_AUDIT WHERE action = 'retireSynthetic' "
                                "AND request -> 'providerCodes' ? %s", "BENCH-" + tag)
    assert request["keysRevoked"] == 1


def signed_call(api, endpoint, body, key):
    data = json.dumps(body).encode()
    return api.raw(f"/casino/{endpoint}", data, signed(f"/casino/{endpoint}", data, key, "x-casino-signature"))


def test_the_command_retires_tools_players_and_leaves_real_and_demo_ones(fresh_dsn):
    migrate(fresh_dsn, log=lambda _: None)
    from tests.support import Ledger
    ledger = Ledger(fresh_dsn)

    def made(cur):
        ids = {origin: players.create_player(cur, f"{origin}-{uuid.uuid4().hex[:8]}", origin=origin)[0]
               for origin in ("test", "locust", "bench", "demo")}
        ids["operator"] = backoffice.create_player(cur, "op_test", {"username": "real", "email": "real@x.y"}
                                                   ).body["userId"]
        return ids
    ids = ledger.run(made)

    status = run_cli("casino.synthetic", "status", dsn=fresh_dsn)
    assert status.returncode == 0, status.stderr
    assert [line.split()[:3] for line in status.stdout.splitlines()[1:]] == [
        ["bench", "1", "0"], ["demo", "1", "0"], ["locust", "1", "0"], ["test", "1", "0"]], status.stdout

    run = run_cli("casino.synthetic", "retire", dsn=fresh_dsn)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ("retired (test, locust, bench): 0 session(s) closed, 3 player(s) disabled, "
                                  "0 provider(s) and 0 game(s) disabled, 0 signing key(s) revoked")
    state = statuses(ledger, "SELECT id, enabled FROM CASINO_USERS")
    assert {origin: state[user] for origin, user in ids.items()} == {
        "test": "disabled", "locust": "disabled", "bench": "disabled", "demo": "active", "operator": "active"}
    demo = run_cli("casino.synthetic", "retire", "--origin", "demo", dsn=fresh_dsn)
    assert demo.returncode == 0 and "1 player(s) disabled" in demo.stdout, demo.stdout + demo.stderr
    assert ledger.query("SELECT enabled FROM CASINO_USERS WHERE id = %s", ids["operator"]) == [(True,)]
    with pytest.raises(ValueError):
        ledger.run(synthetic.retire, "op_test", ("operator",))


def test_the_command_without_a_database_says_so_in_one_line(tmp_path):
    run = run_cli("casino.synthetic", "retire", dsn=f"postgresql://nobody@/casino?host={tmp_path}")
    assert run.returncode == 2
    assert run.stderr.startswith("synthetic: not run:") and len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_the_suites_own_players_and_providers_are_marked_and_funded_as_its_own(ledger):
    """What README says of the test suite: its players and providers are marked origin
    "test", and its players made and funded with the back office's verbs, audited under
    tool:test, deposit included."""
    user_id, wallets = ledger.player(funds=700, currencies=("USD", "EUR"))
    assert ledger.query("SELECT origin FROM CASINO_USERS WHERE id = %s", user_id) == [("test",)]
    assert ledger.query("""SELECT action, count(*) FROM CASINO_ADMIN_AUDIT
                           WHERE operator_key_id = 'tool:test'
                             AND (request ->> 'userId' = %s OR request ->> 'username' = (
                                      SELECT username FROM CASINO_USERS WHERE id = %s))
                           GROUP BY 1 ORDER BY 1""", str(user_id), user_id) == [
        ("createPlayer", 1), ("createWallet", 2), ("deposit", 2)]
    game = ledger.game()
    remote = ledger.launchable_game(endpoint="http://127.0.0.1:9/")
    assert ledger.query("""SELECT DISTINCT p.origin FROM CASINO_GAMES g
                           JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id WHERE g.id IN (%s, %s)""",
                        game, remote) == [("test",)]


def test_the_command_takes_data_dir_where_its_usage_puts_it(fresh_dsn):
    """`status [--data-dir DIR]`, `retire [--origin ...] [--data-dir DIR]` (the module's
    usage), and before the command too. With DATABASE_URL the directory is not used."""
    migrate(fresh_dsn, log=lambda _: None)
    for args in (["status", "--data-dir", "/nonexistent"], ["--data-dir", "/nonexistent", "status"],
                 ["retire", "--origin", "locust", "--data-dir", "/nonexistent"],
                 ["--data-dir", "/nonexistent", "retire"]):
        run = run_cli("casino.synthetic", *args, dsn=fresh_dsn)
        assert run.returncode == 0, (args, run.stderr)


# --- over the API (POST /casino/admin/synthetic/retire): what a tool given only a URL calls ---

def admin_call(api, key, path, body):
    return api.http.post(f"{api.base_url}/casino/admin/{path}", data=json.dumps(body).encode(), timeout=30,
                         headers={"Authorization": f"Bearer {key}"})


def tool_key(api, origin):
    made = admin_call(api, OPERATOR_KEY, "keys", {"scopes": ["admin", "cashier", "lobby"], "origin": origin})
    assert made.status_code == 201, made.text
    return made.json()


def launched_player(api, key, game):
    """A funded player made with the key, in a session launched with it: its id."""
    name = "rt-" + uuid.uuid4().hex[:12]
    user_id = admin_call(api, key, "players", {"username": name, "email": f"{name}@example.com"}).json()["userId"]
    assert admin_call(api, key, "wallets", {"userId": user_id, "currency": "USD"}).status_code == 201
    assert admin_call(api, key, "deposits", {"userId": user_id, "currency": "USD", "amount": 500,
                                             "reference": name}).status_code == 200
    assert api.client("launchGame", {"userId": user_id, "gameId": game}, operator_key=key).status_code == 200
    return user_id


def test_a_tools_key_retires_only_its_own_tools_players_those_it_names(api, ledger):
    game = ledger.launchable_game()
    run, other_run = tool_key(api, "locust"), tool_key(api, "locust")
    mine = [launched_player(api, run["key"], game) for _ in range(3)]
    others = launched_player(api, other_run["key"], game)
    real = launched_player(api, OPERATOR_KEY, game)

    # Another tool's origin: refused, audited, nothing retired.
    refused = admin_call(api, run["key"], "synthetic/retire", {"origin": "bench", "userIds": mine})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "FORBIDDEN"), refused.text
    # Its own two, and a real player's id slipped in: the real one is no tool's, left alone.
    r = admin_call(api, run["key"], "synthetic/retire", {"userIds": mine[:2] + [real]})
    assert r.status_code == 200, r.text
    names = ("origins", "sessionsClosed", "playersDisabled", "gamesDisabled", "providersDisabled")
    assert {name: r.json()[name] for name in names} == {
        "origins": ["locust"], "sessionsClosed": 2, "playersDisabled": 2, "gamesDisabled": 0, "providersDisabled": 0}
    state = statuses(ledger, "SELECT id, enabled FROM CASINO_USERS WHERE id = ANY(%s)", mine + [others, real])
    assert [state[u] for u in mine + [others, real]] == ["disabled", "disabled", "active", "active", "active"]
    assert ledger.query("""SELECT user_id, count(*) FILTER (WHERE is_active) FROM CASINO_GAME_SESSIONS
                           WHERE user_id = ANY(%s) GROUP BY 1 ORDER BY 1""", mine + [others, real]) == [
        (mine[0], 0), (mine[1], 0), (mine[2], 1), (others, 1), (real, 1)]
    assert ledger.query("""SELECT response_status, request -> 'origin', request -> 'origins', request -> 'players'
                           FROM CASINO_ADMIN_AUDIT WHERE action = 'retireSynthetic' AND operator_key_id = %s
                           ORDER BY id""", run["keyId"]) == [(403, "bench", None, None), (200, None, ["locust"], 3)]
    # The rest, as the other run and an operator would retire them.
    assert admin_call(api, other_run["key"], "synthetic/retire", {"userIds": [others]}).json()["playersDisabled"] == 1
    assert admin_call(api, OPERATOR_KEY, "synthetic/retire", {"origin": "locust", "userIds": mine[2:]}).json()[
        "playersDisabled"] == 1
    assert admin_call(api, OPERATOR_KEY, f"players/{real}/status", {"status": "disabled"}).status_code == 200


@pytest.mark.parametrize("body", [{"userIds": list(range(1, 1002))}, {"userIds": ["1"]}, {"userIds": 1},
                                  {"providerCodes": [""]}, {"origin": "operator"}, {"origin": None}])
def test_retire_bad_input_is_400_and_retires_nothing(api, body):
    r = admin_call(api, OPERATOR_KEY, "synthetic/retire", body)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_REQUEST"), r.text


def test_without_a_list_a_key_sweeps_every_one_of_its_origins(fresh_dsn):
    migrate(fresh_dsn, log=lambda _: None)
    from tests.support import Ledger
    ledger = Ledger(fresh_dsn)
    ids = ledger.run(lambda cur: {origin: players.create_player(cur, f"{origin}-sweep", (), origin=origin)[0]
                                  for origin in ("locust", "bench", "demo", "operator")})
    sweep = {"origin": None, "userIds": None, "providerCodes": None}

    answer = ledger.run(synthetic.retire_over_api, "op_bench", "bench", sweep)      # a bench key's: the bench's
    assert (answer.status, answer.body["origins"], answer.body["playersDisabled"]) == (200, ["bench"], 1)
    answer = ledger.run(synthetic.retire_over_api, "op_admin", "operator", sweep)   # an operator's: every tool's
    assert (answer.body["origins"], answer.body["playersDisabled"]) == (["test", "locust", "bench"], 1)
    state = statuses(ledger, "SELECT id, enabled FROM CASINO_USERS")
    assert {origin: state[user] for origin, user in ids.items()} == {
        "locust": "disabled", "bench": "disabled", "demo": "active", "operator": "active"}
