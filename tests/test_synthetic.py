"""What tools make is marked, and taken out of play when they are done (casino/synthetic.py):
the load tools' own provisioning, retired by the tool's own call, and the operator's
`python -m casino.synthetic` over a database of its own."""
import json
import uuid

import pytest

from casino import backoffice, players, synthetic
from loadtests.postgres.provision import provision, retire
from sql.migrate import migrate
from tests.support import BOX, run_cli, signed

pytestmark = pytest.mark.usefixtures("clean_audit")


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

    assert counts == {"sessionsClosed": 3, "playersDisabled": 3, "gamesDisabled": 1, "providersDisabled": 1}
    assert ledger.query("SELECT DISTINCT status FROM CASINO_USERS WHERE id = ANY(%s)", users) == [("disabled",)]
    assert ledger.query("SELECT count(*) FROM CASINO_GAME_SESSIONS WHERE user_id = ANY(%s) AND is_active",
                        users) == [(0,)]
    assert ledger.query("""SELECT g.is_active, p.is_disabled FROM CASINO_GAMES g
                           JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id WHERE p.code = %s""",
                        "BENCH-" + tag) == [(False, True)]
    refused = debit(api, accounts[1], key)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "PLAYER_DISABLED")
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
                                  "0 provider(s) and 0 game(s) disabled")
    state = dict(ledger.query("SELECT id, status FROM CASINO_USERS"))
    assert {origin: state[user] for origin, user in ids.items()} == {
        "test": "disabled", "locust": "disabled", "bench": "disabled", "demo": "active", "operator": "active"}
    demo = run_cli("casino.synthetic", "retire", "--origin", "demo", dsn=fresh_dsn)
    assert demo.returncode == 0 and "1 player(s) disabled" in demo.stdout, demo.stdout + demo.stderr
    assert ledger.query("SELECT status FROM CASINO_USERS WHERE id = %s", ids["operator"]) == [("active",)]
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
