"""Short headless runs of loadtests/retries.py: aggregator-style abuse, then its check, against
a server given by its URL (and, with no --host, a server of its own)."""
import json
import os
import subprocess
import sys
import tempfile

from tests.support import CASINO_SECRET, OPERATOR_KEY, PROVIDER_SECRET, ROOT, tool_environment


def locust(env, *args, users=16, seconds=8):
    run = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "loadtests/retries.py", "--headless", "-u", str(users), "-r",
         str(users), "-t", f"{seconds}s", "--only-summary", "--stop-timeout", "2", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    return run.returncode, run.stdout + run.stderr


def verdict(output):
    check = [line for line in output.splitlines() if line.startswith("check:")]
    assert len(check) == 1, output[-4000:]
    return check[0]


def test_retry_storm_leaves_every_wallet_explained(server, ledger, database_dsn):
    game = ledger.launchable_game(min_bet=10, max_bet=10_000)
    (before,), = ledger.query("SELECT coalesce(max(id), 0) FROM CASINO_USERS")   # players made by the run: after
    env = dict(os.environ, DATABASE_URL=database_dsn, CASINO_SECRET=CASINO_SECRET.decode(),
               PROVIDER_SECRET=PROVIDER_SECRET.decode(), OPERATOR_KEY=OPERATOR_KEY, LOCUST_GAME_ID=str(game),
               LOCUST_PLAYERS="16")
    returncode, output = locust(env, "--host", server.url)
    assert returncode == 0, output[-4000:]
    check = verdict(output)
    assert check.endswith("0 violation(s) -> ok"), output[-4000:]
    assert "VIOLATION" not in output
    # The run really did something: thousands of answers, refusals among them.
    answers = int(check.split(" answers")[0].rsplit(" ", 1)[1])
    assert answers > 500
    assert ledger.violations() == []
    # Its players were marked as Locust's and, the run over, none is left in play (each
    # had one open session; the other, closed at the start, is its bet-on-closed target).
    assert "retired: 16 session(s) closed, 16 player(s) disabled" in output, output[-4000:]
    assert ledger.query("""SELECT u.enabled, count(DISTINCT u.id), count(s.id) FILTER (WHERE s.is_active)
                           FROM CASINO_USERS u LEFT JOIN CASINO_GAME_SESSIONS s ON s.user_id = u.id
                           WHERE u.id > %s GROUP BY 1""", before) == [(False, 16, 0)]
    assert ledger.query("SELECT DISTINCT origin FROM CASINO_USERS WHERE id > %s", before) == [("locust",)]


def test_against_a_production_server_it_needs_only_the_url_an_operator_key_and_a_provider_key(api, ledger):
    """The operator hands Locust a Locust key (made over the API as a tool's key) and the
    provider key of the game's provider; the tool is given no database, no secret of the
    server's, nothing else. The server (the `server` fixture: production mode, every secret
    set) marks what the run makes as Locust's because the key is."""
    game = ledger.launchable_game(min_bet=10, max_bet=10_000)
    (before, keys_before), = ledger.query("SELECT (SELECT coalesce(max(id), 0) FROM CASINO_USERS), "
                                          "(SELECT coalesce(max(id), 0) FROM CASINO_OPERATOR_KEYS)")
    made = api.http.post(f"{api.base_url}/casino/admin/keys", timeout=30, headers={
        "Authorization": f"Bearer {OPERATOR_KEY}"}, data=json.dumps({
            "scopes": ["admin", "backoffice", "cashier", "lobby"], "label": "load tests", "origin": "locust"}))
    assert made.status_code == 201 and made.json()["origin"] == "locust", made.text
    env = tool_environment(OPERATOR_KEY=made.json()["key"], SIGNING_KEY_ID="JAQPOT",
                           SIGNING_KEY_SECRET=CASINO_SECRET.decode(), LOCUST_GAME_ID=str(game), LOCUST_PLAYERS="8")
    returncode, output = locust(env, "--host", api.base_url, users=8, seconds=5)
    assert returncode == 0, output[-4000:]
    assert verdict(output).endswith("0 violation(s) -> ok"), output[-4000:]
    assert "retired: 8 session(s) closed, 8 player(s) disabled" in output, output[-4000:]
    assert ledger.query("""SELECT u.origin, u.enabled, count(DISTINCT u.id), count(s.id),
                                  count(s.id) FILTER (WHERE s.is_active)
                           FROM CASINO_USERS u JOIN CASINO_GAME_SESSIONS s ON s.user_id = u.id
                           WHERE u.id > %s GROUP BY 1, 2""", before) == [("locust", False, 8, 16, 0)]
    # The run's own key, made with the one handed over: a Locust key too, revoked at the end.
    assert ledger.query("""SELECT origin, label LIKE 'locust run %%', revoked_at IS NOT NULL
                           FROM CASINO_OPERATOR_KEYS WHERE id > %s ORDER BY id""", keys_before) == [
        ("locust", False, False), ("locust", True, True)]
    assert ledger.violations() == []


def test_without_an_operator_key_or_a_game_it_refuses_and_creates_nothing(server, ledger):
    (before,), = ledger.query("SELECT coalesce(max(id), 0) FROM CASINO_USERS")
    for env, said in ((tool_environment(), "check: not run: OPERATOR_KEY is not set"),
                      (tool_environment(OPERATOR_KEY=OPERATOR_KEY), "check: not run: LOCUST_GAME_ID is not set"),
                      (tool_environment(OPERATOR_KEY="op_000000000000.made-up", LOCUST_GAME_ID="1"),
                       "check: not run: POST /casino/admin/keys answered 401 (UNAUTHORIZED: ")):
        returncode, output = locust(env, "--host", server.url, users=2, seconds=5)
        assert returncode == 1, output[-4000:]
        assert said in output, output[-4000:]
        assert "Traceback" not in output, output[-4000:]
    assert ledger.query("SELECT count(*) FROM CASINO_USERS WHERE id > %s", before) == [(0,)]


def test_without_a_host_it_runs_against_a_server_of_its_own_and_leaves_nothing():
    # A temp folder of its own, short: the embedded PostgreSQL's socket lives in its data
    # directory, whose path a Unix socket's length limit bounds (pytest's tmp_path is long).
    with tempfile.TemporaryDirectory(prefix="casino-locust-") as scratch:
        returncode, output = locust(tool_environment(TMPDIR=scratch, LOCUST_PLAYERS="4"), users=4, seconds=4)
        assert returncode == 0, output[-4000:]
        assert "a server of its own: http://127.0.0.1:" in output
        assert verdict(output).endswith("0 violation(s) -> ok"), output[-4000:]
        assert "retired: 4 session(s) closed, 4 player(s) disabled" in output, output[-4000:]
        assert os.listdir(scratch) == []     # its scratch database went with its server
