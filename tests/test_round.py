"""The end-to-end round: /casino/simulateRound -> /provider/simulate -> the casino's
callbacks, including replies lost between provider and casino."""
import os
import subprocess
import sys
import uuid

import pytest

from tests.databases import create_database
from tests.fault_proxy import FaultProxy
from sql.migrate import migrate
from tests.support import ROOT, Api, Ledger, ServerProcess
from tests.support import error_code as code

pytestmark = pytest.mark.usefixtures("clean_audit")


def provider_bets(ledger, round_id):
    return ledger.query("""
        SELECT b.bet_type, b.status, b.attempts, b.casino_status, b.casino_balance_after
        FROM PROVIDER_BETS b JOIN PROVIDER_GAME_ROUNDS r ON r.id = b.round_id
        WHERE r.round_id = %s ORDER BY b.id""", round_id)


def casino_rows(ledger, round_id):
    return ledger.query("""SELECT transaction_type, outcome, playable_movement FROM CASINO_TRANSACTIONS
                           WHERE round_id = %s ORDER BY id""", round_id)


def test_simulate_round_plays_the_script(api, ledger):
    game = ledger.launchable_game(min_bet=10, max_bet=1_000)
    user_id, wallets = ledger.player(funds=5_000)
    r = api.client("simulateRound", {"userId": user_id, "gameId": game})
    assert r.status_code == 200
    result = r.json()
    steps = [(s["step"], s["endpoint"], s["status"], s["replay"]) for s in result["steps"]]
    assert steps == [
        ("balance check", "/casino/getBalance", 200, False),
        ("bet", "/casino/debit", 200, False),
        ("bet", "/casino/debit", 200, False),
        ("rollback of the first bet", "/casino/rollback", 200, False),
        ("payout for the second bet", "/casino/credit", 200, False),
        ("resend of the second bet", "/casino/debit", 200, True),
        ("final balance check", "/casino/getBalance", 200, False),
    ]
    assert result["steps"][5]["response"] == result["steps"][2]["response"]
    assert result["startingBalance"] == 5_000
    assert result["finalBalance"] == 5_000 - 200 + 400 == ledger.balance(wallets["USD"])[0]
    assert casino_rows(ledger, result["roundId"]) == [
        ("debit", "applied", -100), ("debit", "applied", -200), ("rollback", "applied", 100),
        ("credit", "applied", 400)]
    assert provider_bets(ledger, result["roundId"]) == [
        ("debit", "accepted", 1, 200, 4_900), ("debit", "accepted", 2, 200, 4_700),
        ("rollback", "accepted", 1, 200, 4_800), ("credit", "accepted", 1, 200, 5_200)]
    assert ledger.query("""SELECT status, total_bet_amount, total_payout_amount FROM PROVIDER_GAME_ROUNDS
                           WHERE round_id = %s""", result["roundId"]) == [("settled", 200, 400)]


def test_simulate_round_twice_is_safe(api, ledger):
    game = ledger.launchable_game()
    user_id, wallets = ledger.player(funds=5_000)
    first = api.client("simulateRound", {"userId": user_id, "gameId": game}).json()
    second = api.client("simulateRound", {"userId": user_id, "gameId": game}).json()
    assert first["roundId"] != second["roundId"]
    assert second["startingBalance"] == first["finalBalance"] == 5_200
    assert second["finalBalance"] == ledger.balance(wallets["USD"])[0] == 5_400


def test_simulate_round_with_too_little_money_reports_the_refusals(api, ledger):
    game = ledger.launchable_game(min_bet=10)
    user_id, wallets = ledger.player(funds=150)
    result = api.client("simulateRound", {"userId": user_id, "gameId": game}).json()
    statuses = [(s["endpoint"], s["status"]) for s in result["steps"]]
    assert statuses == [("/casino/getBalance", 200), ("/casino/debit", 200), ("/casino/debit", 422),
                        ("/casino/rollback", 200), ("/casino/getBalance", 200)]
    assert result["finalBalance"] == 150 == ledger.balance(wallets["USD"])[0]


@pytest.fixture
def launched(api, ledger):
    game = ledger.launchable_game()
    user_id, _ = ledger.player()
    answer = api.client("launchGame", {"userId": user_id, "gameId": game}).json()
    return {"providerSessionId": answer["providerSessionId"], "sessionToken": answer["sessionToken"],
            "userId": user_id, "requestId": "req-" + uuid.uuid4().hex}


@pytest.mark.parametrize("change,status,error", [
    ({"providerSessionId": "ps-unknown"}, 404, "SESSION_NOT_FOUND"),
    ({"sessionToken": "other-token"}, 404, "SESSION_NOT_FOUND"),
    ({"userId": 9_000_001}, 403, "USER_MISMATCH"),
])
def test_provider_simulate_checks_the_three_identifiers(api, ledger, launched, change, status, error):
    r = api.provider("simulate", {**launched, **change})
    assert (r.status_code, code(r)) == (status, error)
    assert ledger.query("SELECT count(*) FROM PROVIDER_GAME_ROUNDS r JOIN PROVIDER_SESSIONS s ON s.id = r.session_id "
                        "WHERE s.provider_session_id = %s", launched["providerSessionId"]) == [(0,)]


def test_provider_simulate_needs_its_signature(api, launched):
    r = api.provider("simulate", launched, key=("DEMO-CASINO", b"wrong"))
    assert (r.status_code, code(r)) == (401, "INVALID_SIGNATURE")


# --- lost replies between provider and casino ---------------------------------------------

@pytest.fixture(scope="module")
def proxied_dsn():
    dsn = create_database("proxied")
    migrate(dsn, log=lambda _: None)
    return dsn


@pytest.fixture(scope="module")
def proxied(proxied_dsn, service_dsn_for):
    """A server whose provider reaches the casino through a FaultProxy."""
    proxy = FaultProxy().start()
    server = ServerProcess(service_dsn_for(proxied_dsn), extra_env={"CASINO_URL": proxy.url}).start()
    proxy.upstream = ("127.0.0.1", int(server.url.rsplit(":", 1)[1]))
    yield proxy, Api(server.url), server
    server.stop()
    proxy.stop()


@pytest.fixture
def proxied_ledger(proxied_dsn):
    return Ledger(proxied_dsn)


def play(proxied, proxied_ledger, cut):
    proxy, api, _ = proxied
    proxy.cut.clear()
    proxy.cut.update(cut)
    game = proxied_ledger.launchable_game()
    user_id, wallets = proxied_ledger.player(funds=5_000)
    r = api.client("simulateRound", {"userId": user_id, "gameId": game})
    assert r.status_code == 200
    return r.json(), wallets["USD"]


@pytest.mark.parametrize("path,index,kind", [("/casino/debit", 1, "debit"),
                                              ("/casino/credit", 3, "credit"),
                                              ("/casino/rollback", 2, "rollback")])
def test_lost_reply_is_retried_into_a_replay(proxied, proxied_ledger, path, index, kind):
    proxy, _, _ = proxied
    before = proxy.forwarded[path]
    result, wallet = play(proxied, proxied_ledger, {path: 1})
    assert proxy.lost[path] >= 1
    step = next(s for s in result["steps"] if s["endpoint"] == path)
    # The casino applied the first attempt; the provider's resend got that answer back.
    assert (step["status"], step["attempts"], step["replay"]) == (200, 2, True)
    assert proxy.forwarded[path] - before >= 2
    bets = provider_bets(proxied_ledger, result["roundId"])
    assert bets[index][:3] == (kind, "accepted", 2)
    # Exactly one movement per transactionId, and the round ends as if nothing happened.
    assert casino_rows(proxied_ledger, result["roundId"]) == [
        ("debit", "applied", -100), ("debit", "applied", -200), ("rollback", "applied", 100),
        ("credit", "applied", 400)]
    assert result["finalBalance"] == 5_200 == proxied_ledger.balance(wallet)[0]
    assert proxied_ledger.violations() == []


def test_bet_with_no_answer_after_every_retry_is_cancelled(proxied, proxied_ledger):
    # Every attempt of the first debit is applied-or-replayed by the casino but never answered.
    result, wallet = play(proxied, proxied_ledger, {"/casino/debit": 4})
    first_bet = result["steps"][1]
    assert first_bet["status"] is None and first_bet["attempts"] == 4
    cancel = result["steps"][2]
    assert (cancel["step"], cancel["status"], cancel["response"]["tombstone"]) == ("cancel unknown bet", 200, False)
    kinds = [(b[0], b[1]) for b in provider_bets(proxied_ledger, result["roundId"])]
    assert kinds[:2] == [("debit", "cancelled"), ("rollback", "accepted")]
    # The lost bet was taken once and refunded once; the rest of the round went on.
    assert casino_rows(proxied_ledger, result["roundId"])[:2] == [("debit", "applied", -100),
                                                                    ("rollback", "applied", 100)]
    assert proxied_ledger.balance(wallet)[0] == result["finalBalance"]
    assert proxied_ledger.violations() == []


# --- the one command ------------------------------------------------------------------------

def test_demo_command_plays_a_round_and_exits_0():
    dsn = create_database("demo")
    env = dict(os.environ, DATABASE_URL=dsn)
    env.pop("LOG_LEVEL", None)
    # stderr into stdout, as on a terminal: the table must come out whole.
    run = subprocess.run([sys.executable, "server.py", "--demo", "--port", "0"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert run.returncode == 0, run.stdout
    assert "demo round: ok, every step as scripted" in run.stdout
    table = run.stdout[run.stdout.index("\nround "):]
    assert table.rstrip().endswith("demo round: ok, every step as scripted"), run.stdout
    assert "access" not in table and '"level"' not in table and "listening" not in run.stdout, run.stdout
    assert "resend of the second bet" in run.stdout
    assert "ledger rows of the round" in run.stdout
