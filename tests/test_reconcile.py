"""Reconciliation: calls the provider is unsure about are settled by asking the casino."""
import json
import os
import subprocess
import sys
import uuid

import pytest

from sql.migrate import migrate
from tests.databases import create_database
from tests.fault_proxy import FaultProxy
from tests.support import ROOT, Api, Ledger, ServerProcess


@pytest.fixture(scope="module")
def setup():
    dsn = create_database("reconcile")
    migrate(dsn, log=lambda _: None)
    proxy = FaultProxy().start()
    server = ServerProcess(dsn, extra_env={"CASINO_URL": proxy.url, "RECONCILE_INTERVAL": "0"}).start()
    proxy.upstream = ("127.0.0.1", int(server.url.rsplit(":", 1)[1]))
    yield dsn, proxy, Api(server.url), server
    server.stop()
    proxy.stop()


def reconcile(dsn, server):
    run = subprocess.run([sys.executable, "-m", "provider.reconcile", "--stale-after", "0", "--round-timeout", "0",
                          "--casino-url", server.url], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, DATABASE_URL=dsn, CASINO_SECRET="test-casino-secret"))
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def bets(ledger, round_id):
    return ledger.query("""SELECT b.bet_type, b.status FROM PROVIDER_BETS b
                           JOIN PROVIDER_GAME_ROUNDS r ON r.id = b.round_id WHERE r.round_id = %s ORDER BY b.id""",
                        round_id)


def round_status(ledger, round_id):
    return ledger.query("SELECT status FROM PROVIDER_GAME_ROUNDS WHERE round_id = %s", round_id)[0][0]


def test_casino_down_during_the_round(setup):
    dsn, proxy, api, server = setup
    ledger = Ledger(dsn)
    game = ledger.launchable_game()
    user_id, wallets = ledger.player(funds=5_000)
    # The casino is unreachable for every callback of the round: nothing ever arrives.
    for path in ("/casino/getBalance", "/casino/debit", "/casino/rollback", "/casino/credit"):
        proxy.refuse[path] = 10_000
    try:
        result = api.client("simulateRound", {"userId": user_id, "gameId": game}).json()
    finally:
        proxy.refuse.clear()
    round_id = result["roundId"]
    assert all(s["status"] is None for s in result["steps"])
    assert bets(ledger, round_id) == [("debit", "unknown"), ("rollback", "unknown"),
                                      ("debit", "unknown"), ("rollback", "unknown")]
    assert round_status(ledger, round_id) == "open"

    output = reconcile(dsn, server)
    assert "debit never reached the casino: cancelled (tombstone)" in output
    # Each bet is cancelled by a tombstone; the cancellations are sent again and answered.
    statuses = bets(ledger, round_id)
    assert statuses.count(("debit", "cancelled")) == 2
    assert ("rollback", "unknown") not in statuses and ("rollback", "pending") not in statuses
    assert round_status(ledger, round_id) == "cancelled"
    assert ledger.balance(wallets["USD"])[0] == 5_000
    # A late arrival of either bet can no longer take money.
    late = ledger.query("""SELECT request_cache::text FROM PROVIDER_BETS b JOIN PROVIDER_GAME_ROUNDS r
                           ON r.id = b.round_id WHERE r.round_id = %s AND b.bet_type = 'debit'""", round_id)
    for (request,) in late:
        assert api.casino("debit", request.encode()).json()["error"]["code"] == "TRANSACTION_ROLLED_BACK"
    assert ledger.balance(wallets["USD"])[0] == 5_000
    assert ledger.violations() == []


def test_lost_replies_are_settled_from_the_casinos_record(setup):
    dsn, proxy, api, server = setup
    ledger = Ledger(dsn)
    game = ledger.launchable_game()
    user_id, wallets = ledger.player(funds=5_000)
    # The payout reaches the casino every time, but no answer ever comes back.
    proxy.cut["/casino/credit"] = 4
    result = api.client("simulateRound", {"userId": user_id, "gameId": game}).json()
    round_id = result["roundId"]
    assert bets(ledger, round_id)[-1] == ("credit", "unknown")

    output = reconcile(dsn, server)
    assert "credit accepted (casino: applied)" in output
    assert bets(ledger, round_id)[-1] == ("credit", "accepted")
    assert round_status(ledger, round_id) == "settled"
    assert ledger.balance(wallets["USD"])[0] == 5_200
    assert ledger.violations() == []


def bet_the_provider_lost_track_of(setup, amount, round_status, bet_status):
    """A bet the casino applied, in provider books written as a crash left them: a round in
    round_status holding the bet as bet_status. Returns (ledger, wallet, round_id, tx)."""
    dsn, _, api, _ = setup
    ledger = Ledger(dsn)
    game = ledger.launchable_game()
    user_id, wallets = ledger.player(funds=5_000)
    launch = api.client("launchGame", {"userId": user_id, "gameId": game}).json()
    round_id, tx = "rnd-" + uuid.uuid4().hex, "bet-" + uuid.uuid4().hex
    bet = {"sessionToken": launch["sessionToken"], "userId": user_id, "transactionId": tx,
           "roundId": round_id, "amount": amount, "currency": "USD"}
    assert api.casino("debit", bet).status_code == 200

    def provider_books(cur):
        cur.execute("""INSERT INTO PROVIDER_GAME_ROUNDS (round_id, session_id, player_id, game_id, currency, status)
                       SELECT %s, s.id, s.customer_id, s.game_id, s.currency, %s FROM PROVIDER_SESSIONS s
                       WHERE s.provider_session_id = %s RETURNING id""",
                    (round_id, round_status, launch["providerSessionId"]))
        cur.execute("""INSERT INTO PROVIDER_BETS (transaction_id, round_id, bet_type, amount, request_cache, status)
                       VALUES (%s, %s, 'debit', %s, %s, %s)""",
                    (tx, cur.fetchone()[0], amount, json.dumps(bet), bet_status))
    ledger.run(provider_books)
    return ledger, wallets["USD"], round_id, tx


def test_a_round_left_open_is_settled_as_lost(setup):
    # The provider took a bet, then died before the round's outcome.
    ledger, wallet, round_id, _ = bet_the_provider_lost_track_of(setup, 300, "open", "accepted")
    output = reconcile(setup[0], setup[3])
    assert f"round {round_id}: settled (lost: payout 0)" in output
    assert round_status(ledger, round_id) == "settled"
    assert bets(ledger, round_id) == [("debit", "accepted"), ("credit", "accepted")]
    assert ledger.balance(wallet)[0] == 4_700
    assert ledger.violations() == []


def test_a_payout_that_never_arrived_is_sent_again(setup):
    dsn, proxy, api, server = setup
    ledger = Ledger(dsn)
    game = ledger.launchable_game()
    user_id, wallets = ledger.player(funds=5_000)
    proxy.refuse["/casino/credit"] = 4           # every attempt of the payout is lost on the way
    result = api.client("simulateRound", {"userId": user_id, "gameId": game}).json()
    round_id = result["roundId"]
    assert bets(ledger, round_id)[-1] == ("credit", "unknown")
    assert ledger.balance(wallets["USD"])[0] == 4_800

    output = reconcile(dsn, server)
    assert "credit never reached the casino: sent again, accepted" in output
    assert ledger.balance(wallets["USD"])[0] == 5_200
    assert round_status(ledger, round_id) == "settled"
    assert ledger.violations() == []


def test_a_bet_found_applied_in_a_closed_round_is_rolled_back(setup):
    # The bet's answer was lost, and its round was closed before anyone knew it was applied.
    ledger, wallet, round_id, tx = bet_the_provider_lost_track_of(setup, 250, "cancelled", "unknown")
    output = reconcile(setup[0], setup[3])
    assert f"{tx}: debit accepted (casino: applied), rolled back: round cancelled (200)" in output
    assert bets(ledger, round_id) == [("debit", "accepted"), ("rollback", "accepted")]
    assert ledger.balance(wallet)[0] == 5_000
    assert ledger.violations() == []


def test_reconciliation_tells_a_refused_signature_from_an_unreachable_casino():
    from provider.casino_client import CasinoAnswer
    from provider.reconcile import Summary, why_unanswered

    refused = CasinoAnswer(401, {"error": {"code": "INVALID_SIGNATURE", "message": "bad"}}, False, 1, {})
    unreachable = CasinoAnswer(None, None, False, 4, {}, "no answer")
    garbage = CasinoAnswer(None, None, False, 4, {}, "answered 502")
    assert why_unanswered(refused).startswith("the casino refused our signature (401 INVALID_SIGNATURE)")
    assert why_unanswered(unreachable) == "the casino could not be reached (no answer)"
    assert why_unanswered(garbage) == "no usable answer from the casino (answered 502)"
    summary = Summary()
    assert summary.leave("tx-1", why_unanswered(unreachable)).endswith(": left for the next run")
    assert summary.unsettled == {"tx-1"}
