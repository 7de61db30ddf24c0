"""The measuring tools run end to end (tiny sizes): their figures are only worth what they do."""
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid

from loadtests.client import Run, wallet_problems
from loadtests.postgres import reference_service
from loadtests.postgres.bench import ReferenceService
from tests.support import DEMO_KEY, KEYS_ENCRYPTION_KEY, OPERATOR_KEY, ROOT, Api, Ledger, needs, signed, tool_environment


def run_module(module, args, database_dsn):
    # The key the test servers seal with: the bench seals a peer's key with it.
    env = dict(os.environ, DATABASE_URL=database_dsn, KEYS_ENCRYPTION_KEY=KEYS_ENCRYPTION_KEY)
    run = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    return run.stdout


@needs("pgbouncer")
def test_bench_measures_ours_beside_the_reference_a_peer_and_pgbouncer_and_ends_with_the_ratio_line(
        database_dsn, server):
    # What the run makes comes after these: the worker's database holds other tests' rows
    # (test_admin_catalogue's provider marked "bench", still active, among them).
    (before, providers_before, games_before, keys_before), = Ledger(database_dsn).query(
        "SELECT (SELECT coalesce(max(id), 0) FROM CASINO_USERS), "
        "(SELECT coalesce(max(id), 0) FROM CASINO_GAME_PROVIDERS), (SELECT coalesce(max(id), 0) FROM CASINO_GAMES), "
        "(SELECT coalesce(max(id), 0) FROM CASINO_OPERATOR_KEYS)")
    # The peer: this worker's running server, its wallets provisioned in its database.
    out = run_module("loadtests.bench", ["--wallets", "40", "--seconds", "1", "--runs", "1", "--processes", "1",
                                         "--peer", server.url, "--peer-dsn", database_dsn, "--pgbouncer"],
                     database_dsn)
    rows = {line[:28].strip(): line[28:].split() for line in out.splitlines()
            if line.startswith(("pgbench ", "http "))}
    assert list(rows) == ["pgbench spread", "pgbench spread, reference", "pgbench hot", "pgbench hot, reference",
                          "http spread, 1 proc", "http spread, reference", "http spread, peer",
                          "http spread, pgbouncer", "http hot, 1 proc", "http hot, reference", "http hot, peer",
                          "http hot, pgbouncer"], out
    for kind in ("spread", "hot"):
        pgbench_ours, pgbench_reference = (float(rows[f"pgbench {kind}{who}"][0]) for who in ("", ", reference"))
        assert pgbench_ours > 0 and pgbench_reference > 0, out
        assert abs(float(rows[f"pgbench {kind}"][1]) - pgbench_ours / pgbench_reference) <= 0.02, out
        reference_rate = float(rows[f"http {kind}, reference"][0])
        for who in ("1 proc", "reference", "peer", "pgbouncer"):
            cells = rows[f"http {kind}, {who}"]
            if who == "reference":
                cells.insert(3, None)   # no "vs ref" cell on the reference's own row
            rate, p50, p99, versus, errors = cells[:5]
            rate, p50, p99, errors = float(rate), float(p50), float(p99), int(errors)
            assert rate > 0 and 0 < p50 <= p99 and errors == 0, out
            if versus is not None:
                assert abs(float(versus) - rate / reference_rate) <= 0.02, out  # both rates are printed rounded

    *_, ratio = out.splitlines()
    match = re.fullmatch(r"ratio db=(\d+\.\d\d) http=(\d+\.\d\d) hot=(\d+\.\d\d) p99=(\d+\.\d\d)", ratio)
    assert match, out
    db, http, hot, p99 = (float(v) for v in match.groups())
    assert (db, http, hot) == (float(rows["pgbench spread"][1]), float(rows["http spread, 1 proc"][3]),
                               float(rows["http hot, 1 proc"][3])), out
    p99_ours, p99_reference = (float(rows[f"http spread, {who}"][2]) for who in ("1 proc", "reference"))
    assert abs(p99 - p99_ours / p99_reference) <= 0.01 * p99 + 0.01, out
    assert Ledger(database_dsn).query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench_reference%%'") == [], \
        "the reference schema was left behind"
    # On the service's database (DATABASE_URL) nothing the bench made stays in play: its
    # players (pgbench's, HTTP's made over the API, and the peer's, all here) and sessions,
    # its providers and their games.
    assert "retired: 40 session(s) closed, 40 player(s) disabled, 1 provider(s) and 1 game(s) disabled" in out
    assert "retired over the API: 40 session(s) closed, 40 player(s) disabled" in out
    assert "retired at the peer: 40 session(s) closed, 40 player(s) disabled" in out
    assert Ledger(database_dsn).query("""
        SELECT (SELECT count(*) FROM CASINO_USERS WHERE id > %s AND enabled),
               (SELECT count(*) FROM CASINO_GAME_SESSIONS WHERE user_id > %s AND is_active),
               (SELECT count(*) FROM CASINO_GAME_PROVIDERS WHERE id > %s AND origin = 'bench' AND enabled),
               (SELECT count(*) FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id
                WHERE p.id > %s AND p.origin = 'bench' AND g.enabled),
               (SELECT array_agg(DISTINCT origin) FROM CASINO_USERS WHERE id > %s),
               (SELECT count(*) FROM CASINO_USERS WHERE id > %s)""",
                                      before, before, providers_before, providers_before, before, before) == [
        (0, 0, 0, 0, ["bench"], 120)]
    # The HTTP wallets' game, the demo provider's, is disabled on both sides; the bench key
    # that made those players is revoked.
    assert Ledger(database_dsn).query("""
        SELECT p.code, g.enabled, pg.enabled FROM CASINO_GAMES g
        JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id
        JOIN PROVIDER_GAMES pg ON pg.game_code = g.provider_game_id
        WHERE g.id > %s AND p.origin <> 'bench'""", games_before) == [("JAQPOT", False, False)]
    assert Ledger(database_dsn).query("""
        SELECT origin, label LIKE 'bench run %%', revoked_at IS NOT NULL FROM CASINO_OPERATOR_KEYS
        WHERE id > %s""", keys_before) == [("bench", True, True)]


def test_reference_service_checks_the_signature_replays_a_resend_and_refuses_an_overdraft(database_dsn):
    schema = "bench_reference_" + uuid.uuid4().hex[:8]
    key = ("ref-key", b"ref-secret")
    reference_service.install(database_dsn, schema, [7], funds=5)
    service = ReferenceService(database_dsn, schema, key, pool_size=2).start()
    try:
        def debit(transaction_id, amount, signing_key=key):
            body = json.dumps({"sessionToken": "s", "userId": 7, "transactionId": transaction_id, "roundId": "r",
                               "amount": amount, "currency": "USD"}).encode()
            return Api(service.url).raw("/casino/debit", body, signed("/casino/debit", body, signing_key,
                                                                      "x-casino-signature"))

        assert debit("t1", 3, ("ref-key", b"another secret")).status_code == 401
        first = debit("t1", 3)
        assert (first.status_code, first.json()["balance"], first.headers.get("Idempotent-Replay")) == (200, 2, None)
        resent = debit("t1", 3)
        assert (resent.text, resent.headers["Idempotent-Replay"]) == (first.text, "true")
        overdraft = debit("t2", 3)
        assert (overdraft.status_code, overdraft.json()["error"]["code"]) == (422, "INSUFFICIENT_FUNDS")
        assert Ledger(database_dsn).query(f"SELECT balance FROM {schema}.reference_wallets") == [(2,)]
    finally:
        service.stop()
        reference_service.uninstall(database_dsn, schema)


def test_service_cost_answers_every_debit_without_the_database(database_dsn):
    out = run_module("loadtests.service_cost", ["--seconds", "1", "--runs", "1"], database_dsn)
    run_line, median = out.splitlines()[-2:]
    assert re.search(r"statuses \{200: \d+\}$", run_line), out
    assert re.fullmatch(r"median of 1: \d+ req/s  p50 [\d.]+ ms  p99 [\d.]+ ms  service CPU \d+ us/request .*", median), out


def debit_rate(env, *args):
    run = subprocess.run([sys.executable, "-m", "loadtests.debit_rate", "--seconds", "1", "--runs", "1", *args],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    return run.stdout


def test_debit_rate_needs_only_a_deployments_url_an_operator_key_and_a_provider_key(server, ledger):
    # A EUR game: the debits are in the game's currency (a USD debit would be refused).
    game = ledger.launchable_game(min_bet=10, max_bet=10_000, currency="EUR")
    (before,), = ledger.query("SELECT coalesce(max(id), 0) FROM CASINO_USERS")
    out = debit_rate(tool_environment(OPERATOR_KEY=OPERATOR_KEY, SIGNING_KEY_ID=DEMO_KEY[0],
                                      SIGNING_KEY_SECRET=DEMO_KEY[1].decode()),
                     "--url", server.url, "--game-id", str(game), "--wallets", "4", "--concurrency", "4")
    run_line, retired, check, median = out.splitlines()[-4:]
    assert re.search(r"statuses \{200: \d+\}", run_line), out
    assert check == "check: 4 wallets, 0 violation(s) -> ok", out
    assert retired.startswith("retired: 4 session(s) closed, 4 player(s) disabled, 0 provider(s) and 0 game(s) "
                              "disabled"), out
    assert re.fullmatch(r"median of 1: \d+ debits/s \(4 connections, 4 wallet\(s\)\)", median), out
    # Its players, the bench's (the run's key is), bet the game's minimum and leave play.
    assert ledger.query("""SELECT u.origin, u.enabled, count(DISTINCT u.id), min(t.amount), max(t.amount)
                           FROM CASINO_USERS u JOIN CASINO_WALLETS w ON w.user_id = u.id
                           JOIN CASINO_TRANSACTIONS t ON t.wallet_id = w.id AND t.transaction_type = 'debit'
                           WHERE u.id > %s GROUP BY 1, 2""", before) == [("bench", False, 4, 10, 10)]
    assert ledger.violations() == []


def test_debit_rate_without_a_url_runs_against_a_server_of_its_own_and_leaves_nothing():
    # A short temp folder of its own (test_locust.py says why).
    with tempfile.TemporaryDirectory(prefix="casino-rate-") as scratch:
        out = debit_rate(tool_environment(TMPDIR=scratch), "--wallets", "2", "--concurrency", "2")
        assert out.startswith("a server of its own: http://127.0.0.1:"), out
        assert "retired: 2 session(s) closed, 2 player(s) disabled" in out and "statuses {200: " in out, out
        assert "check: 2 wallets, 0 violation(s) -> ok" in out, out
        assert os.listdir(scratch) == []


def test_debit_rate_against_a_url_needs_the_game_it_plays(server):
    run = subprocess.run([sys.executable, "-m", "loadtests.debit_rate", "--url", server.url],
                         cwd=ROOT, env=tool_environment(OPERATOR_KEY=OPERATOR_KEY), capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2 and "--game-id is required with --url" in run.stderr, run.stderr


def test_the_end_of_run_check_finds_a_balance_the_answers_do_not_explain(server, ledger):
    """The check debit_rate and Locust's run end with (loadtests/client.py): a player whose
    balance is one more than the tool's answers say is a violation; the true one is not."""
    game = ledger.launchable_game(min_bet=10, max_bet=10_000)
    run = Run(server.url, OPERATOR_KEY, "bench").start()
    try:
        (user_id, token), = run.provision(1, run.api.game(game), 5_000)
        tokens = {user_id: token}
        assert wallet_problems(run.api, DEMO_KEY, "USD", {user_id: 5_000}, tokens) == []
        assert wallet_problems(run.api, DEMO_KEY, "USD", {user_id: 5_001}, tokens, audit=False) == [
            f"player {user_id}: getBalance 5000, back office 5000, ledger 5000, expected 5001"]
    finally:
        run.finish()
