"""python -m casino.audit (and GET /casino/admin/ledger/audit, its answer over the API): clean
ledgers pass; a wallet the ledger does not explain, and each row the money rules forbid (written
by hand), is named."""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest
import requests

from casino import operators
from service.demo_data import load_demo_data
from sql.migrate import migrate
from tests.support import OPERATOR_KEY, ROOT, Ledger, ServerProcess


def audit(dsn):
    return subprocess.run([sys.executable, "-m", "casino.audit"], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, DATABASE_URL=dsn), timeout=60)


def test_clean_ledger_passes(fresh_dsn):
    migrate(fresh_dsn, log=lambda _: None)
    load_demo_data(fresh_dsn)
    run = audit(fresh_dsn)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 wallets, 4 ledger rows, 0 violation(s)" in run.stdout


def test_a_balance_the_ledger_does_not_explain_is_named(fresh_dsn):
    migrate(fresh_dsn, log=lambda _: None)
    ledger = Ledger(fresh_dsn)
    _, wallets = ledger.player(funds=1_000)
    wallet = wallets["USD"]
    # Money that appeared without a ledger row, as a buggy or manual UPDATE would leave it.
    ledger.query("UPDATE CASINO_WALLETS SET playable_balance = playable_balance + 5 WHERE id = %s RETURNING id",
                 wallet)
    run = audit(fresh_dsn)
    assert run.returncode == 1
    assert f"VIOLATION wallet {wallet} (USD): balance 1005/1000" in run.stdout
    # And the reports no longer agree with the balances: 5 more is held than the ledger explains.
    assert ("VIOLATION currency USD: the GGR report's total is 0, but deposits + grants - withdrawals - forfeits - "
            "balances is -5"
            in run.stdout)
    assert "2 violation(s)" in run.stdout



def test_a_copy_a_money_call_reads_that_disagrees_with_the_catalogue_is_named(fresh_dsn):
    """The copies on sessions and wallets (migration 0020) are kept by triggers; one changed
    with the triggers off (as a restore or a hand-made fix could) is named."""
    migrate(fresh_dsn, log=lambda _: None)
    ledger = Ledger(fresh_dsn)
    game = ledger.game(min_bet=5, max_bet=50)
    user_id, wallets = ledger.player(funds=1_000)
    ledger.session(user_id, wallets["USD"], game)
    ledger.query("UPDATE CASINO_GAMES SET max_bet = 60 WHERE id = %s RETURNING 1", game)
    assert audit(fresh_dsn).returncode == 0   # the change reached its sessions
    session = ledger.query("SELECT id FROM CASINO_GAME_SESSIONS WHERE game_id = %s", game)[0][0]

    def behind_the_triggers(cur):
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("UPDATE CASINO_GAME_SESSIONS SET bet_max = 70 WHERE id = %s", (session,))
        cur.execute("UPDATE CASINO_WALLETS SET player_enabled = false WHERE id = %s", (wallets["USD"],))
    ledger.run(behind_the_triggers)
    run = audit(fresh_dsn)
    assert run.returncode == 1
    assert f"VIOLATION session {session}: what a money call reads of its game and provider" in run.stdout
    assert f"VIOLATION wallet {wallets['USD']}: what a money call reads of its player" in run.stdout
    assert "2 violation(s)" in run.stdout


def test_wallets_sessions_games_and_providers_are_never_deleted(fresh_dsn):
    """The ledger names them without a foreign key (migration 0020): the database refuses
    their deletion, whoever tries."""
    migrate(fresh_dsn, log=lambda _: None)
    ledger = Ledger(fresh_dsn)
    game = ledger.game()
    user_id, wallets = ledger.player(funds=1_000)
    ledger.session(user_id, wallets["USD"], game)
    for statement in ("DELETE FROM CASINO_WALLETS WHERE id = (SELECT wallet_id FROM CASINO_GAME_SESSIONS WHERE game_id = %s)",
                      "TRUNCATE CASINO_WALLETS CASCADE",
                      "DELETE FROM CASINO_GAME_SESSIONS WHERE game_id = %s",
                      "DELETE FROM CASINO_GAMES WHERE id = %s",
                      "DELETE FROM CASINO_GAME_PROVIDERS WHERE id = (SELECT provider_id FROM CASINO_GAMES WHERE id = %s)",
                      "TRUNCATE CASINO_GAME_SESSIONS, CASINO_GAMES, CASINO_GAME_PROVIDERS CASCADE"):
        with pytest.raises(psycopg2.errors.RestrictViolation, match="are never deleted"):
            ledger.run(lambda cur, sql=statement: cur.execute(sql, (game,)))
    assert ledger.query("SELECT count(*) FROM CASINO_GAME_SESSIONS WHERE game_id = %s", game) == [(1,)]
    assert ledger.balance(wallets["USD"]) == (1_000, 1_000)


def test_a_ledger_row_naming_a_wallet_session_or_provider_that_does_not_exist_is_named(fresh_dsn):
    migrate(fresh_dsn, log=lambda _: None)
    ledger = Ledger(fresh_dsn)
    _, wallets = ledger.player(funds=1_000)
    wallet = wallets["USD"]
    # A refused bet (it moves nothing) written by hand, naming ids nothing has.
    ledger.query("""INSERT INTO CASINO_TRANSACTIONS (provider_id, external_transaction_id, transaction_type, wallet_id,
                        session_id, round_id, amount, request_fingerprint, outcome, playable_movement,
                        redeemable_movement, balance_after, response_status, response_cache)
                    VALUES (-7, 'ghost', 'debit', %s, -8, 'r1', 5, 'by hand', 'refused', 0, 0, 1000, 403, '{}')
                    RETURNING 1""", wallet)
    run = audit(fresh_dsn)
    assert run.returncode == 1
    assert f"VIOLATION wallet {wallet}: debit ghost names session -8, which does not exist" in run.stdout
    assert f"VIOLATION wallet {wallet}: debit ghost names provider -7, which does not exist" in run.stdout
    ledger.query("""INSERT INTO CASINO_TRANSACTIONS (external_transaction_id, transaction_type, wallet_id, amount,
                        request_fingerprint, outcome, balance_after, response_status, response_cache)
                    VALUES ('lost', 'deposit', -9, 5, 'by hand', 'refused', 0, 422, '{}') RETURNING 1""")
    assert "VIOLATION wallet -9: deposit lost names wallet -9, which does not exist" in audit(fresh_dsn).stdout

@pytest.mark.parametrize("tool", ["casino.audit", "provider.reconcile", "casino.reconcile"])
def test_tools_refuse_a_missing_or_unmigrated_database_and_create_nothing(tool, fresh_dsn, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CASINO_DATA_DIR")}
    missing = tmp_path / "pg"
    run = subprocess.run([sys.executable, "-m", tool, "--data-dir", str(missing)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"not run: no database under {missing}" in run.stderr
    assert "Traceback" not in run.stderr and not missing.exists()

    unmigrated = subprocess.run([sys.executable, "-m", tool], cwd=ROOT, env=dict(env, DATABASE_URL=fresh_dsn),
                                capture_output=True, text=True, timeout=60)
    assert unmigrated.returncode == 2, unmigrated.stdout + unmigrated.stderr
    assert "the schema is not migrated (python -m sql.migrate)" in unmigrated.stderr
    assert "Traceback" not in unmigrated.stderr


# --- what the money rules forbid, written by hand ----------------------------------------------

LIMIT = 2**53 - 1


@pytest.fixture
def books(fresh_dsn):
    """A migrated database with two players on one game, each with a session."""
    migrate(fresh_dsn, log=lambda _: None)
    ledger = Ledger(fresh_dsn)
    game = ledger.game()
    players = []
    for _ in range(2):
        user_id, wallets = ledger.player(funds=1_000)
        players.append((wallets["USD"], ledger.session(user_id, wallets["USD"], game)))
    return fresh_dsn, ledger, players


def write(ledger, token, kind, transaction_id, outcome="applied", related=None, on_wallet=None):
    """A ledger row that moves nothing (amount 0), on the session's wallet unless told."""
    return ledger.run(lambda cur: (cur.execute("""
        INSERT INTO CASINO_TRANSACTIONS (
            provider_id, external_transaction_id, transaction_type, wallet_id, session_id, round_id, amount,
            related_external_transaction_id, request_fingerprint, outcome, balance_after, response_status,
            response_cache)
        SELECT g.provider_id, %(id)s, %(kind)s, coalesce(%(wallet)s, s.wallet_id), s.id, 'r1', 0,
               %(related)s, 'by hand', %(outcome)s, 1000, 200, '{}'
        FROM CASINO_GAME_SESSIONS s JOIN CASINO_GAMES g ON g.id = s.game_id
        WHERE s.token = %(token)s
        RETURNING id""", {"id": transaction_id, "kind": kind, "wallet": on_wallet, "related": related,
                          "outcome": outcome, "token": token}), cur.fetchone())[1])


def violations(dsn):
    run = audit(dsn)
    assert run.returncode == 1, run.stdout + run.stderr
    return [line for line in run.stdout.splitlines() if line.startswith("VIOLATION")]


@pytest.mark.parametrize("namer,namer_outcome,kind", [
    ("rollback", "tombstone", "credit"),    # a bet's id, cancelled unseen, then paid as a payout
    ("rollback", "applied", "credit"),
    ("credit", "applied", "rollback"),
])
def test_a_payout_or_refund_named_as_a_bet_is_named(books, namer, namer_outcome, kind):
    dsn, ledger, [(wallet, token), _] = books
    write(ledger, token, "debit", "bet")
    write(ledger, token, namer, "namer", namer_outcome, related="x")
    write(ledger, token, kind, "x", related="bet")
    assert violations(dsn) == [
        f"VIOLATION wallet {wallet}: {kind} x was applied, but {namer} namer ({namer_outcome}) names it as a bet"]


def test_a_tombstone_and_an_applied_bet_for_one_id_are_named(books):
    dsn, ledger, [(wallet, token), (other_wallet, other_token)] = books
    write(ledger, other_token, "rollback", "rb", "tombstone", related="bet")
    write(ledger, token, "debit", "bet")
    assert violations(dsn) == [
        (f"VIOLATION wallet {wallet}: bet bet was applied, but rollback rb (wallet {other_wallet}) "
         "left a tombstone for it")]


def test_a_balance_above_the_limit_is_named(books):
    dsn, ledger, [(wallet, _), _] = books
    # As a database without the constraint (or with it dropped) could hold it.
    ledger.run(lambda cur: cur.execute(
        "ALTER DOMAIN casino_balance DROP CONSTRAINT casino_balance_within_limit"))
    amount = LIMIT + 1 - 1_000
    ledger.run(lambda cur: cur.execute("""
        INSERT INTO CASINO_TRANSACTIONS (provider_id, external_transaction_id, transaction_type, wallet_id, amount,
            request_fingerprint, outcome, playable_movement, redeemable_movement, balance_after,
            response_status, response_cache)
        VALUES (NULL, 'big', 'deposit', %(wallet)s, %(amount)s, 'deposit', 'applied', %(amount)s, %(amount)s,
                %(after)s, 200, '{}');
        UPDATE CASINO_WALLETS SET playable_balance = %(after)s, redeemable_balance = %(after)s
        WHERE id = %(wallet)s""", {"wallet": wallet, "amount": amount, "after": LIMIT + 1}))
    assert violations(dsn) == [
        f"VIOLATION wallet {wallet} (USD): balance {LIMIT + 1}/{LIMIT + 1} (playable/redeemable) is above 2^53-1",
        f"VIOLATION wallet {wallet}: deposit big answered balance {LIMIT + 1}, above 2^53-1"]


def test_a_row_on_a_session_of_another_wallet_is_named(books):
    dsn, ledger, [(wallet, token), (other_wallet, _)] = books
    row = write(ledger, token, "debit", "bet", on_wallet=other_wallet)
    session = ledger.query("SELECT session_id FROM CASINO_TRANSACTIONS WHERE id = %s", row)[0][0]
    assert violations(dsn) == [
        f"VIOLATION wallet {other_wallet}: debit bet was recorded on session {session} of wallet {wallet}"]


def test_a_refund_of_another_wallets_bet_is_named(books):
    dsn, ledger, [(wallet, token), (other_wallet, other_token)] = books
    write(ledger, token, "debit", "bet")
    write(ledger, other_token, "rollback", "rb", related="bet")
    assert violations(dsn) == [
        f"VIOLATION wallet {other_wallet}: rollback rb settled bet bet of wallet {wallet}"]


def test_a_payout_on_another_providers_round_is_named(books):
    dsn, ledger, [(wallet, token), _] = books
    write(ledger, token, "debit", "bet")
    user_id = ledger.query("SELECT user_id FROM CASINO_GAME_SESSIONS WHERE token = %s", token)[0][0]
    intruder_token = ledger.session(user_id, wallet, ledger.game())   # the same wallet, another provider
    write(ledger, intruder_token, "credit", "win")
    assert violations(dsn) == [
        f"VIOLATION wallet {wallet}: payout win was applied to round r1, which holds no accepted bet of its provider"]


# --- over the API: GET /casino/admin/ledger/audit (backoffice) ----------------------------------

def test_the_api_answers_the_same_audit_one_at_a_time(fresh_dsn):
    migrate(fresh_dsn, log=lambda _: None)
    ledger = Ledger(fresh_dsn)
    _, wallets = ledger.player(funds=1_000)
    wallet = wallets["USD"]
    reader, lobby = (ledger.run(lambda cur, scope: operators.create_key(cur, [scope], "audit test")[0], scope)
                     for scope in ("backoffice", "lobby"))
    server = ServerProcess(fresh_dsn).start()
    try:
        def audit_over_api(key=reader):
            return requests.get(f"{server.url}/casino/admin/ledger/audit", timeout=30,
                                headers={"Authorization": f"Bearer {key}"})

        clean = audit_over_api()
        assert (clean.status_code, clean.json()) == (200, {"wallets": 1, "ledgerRows": 1, "violations": []})
        assert audit_over_api(lobby).status_code == 403
        ledger.query("UPDATE CASINO_WALLETS SET playable_balance = playable_balance + 5 WHERE id = %s RETURNING id",
                     wallet)
        found = audit_over_api(OPERATOR_KEY).json()
        # The wallet's balance, and with it what the reports reconcile to (the balances).
        assert found["violations"] == [(f"wallet {wallet} (USD): balance 1005/1000 (playable/redeemable) but its "
                                        "ledger sums to 1000/1000"),
                                       ("currency USD: the GGR report's total is 0, but deposits + grants - withdrawals - "
                                        "forfeits - balances is -5")], found
        assert found["violations"][0] in audit(fresh_dsn).stdout     # the command's very words

        # One at a time per process: while one waits on a lock held here, a second is refused.
        holder = psycopg2.connect(fresh_dsn)
        try:
            with holder.cursor() as cur:
                cur.execute("LOCK TABLE CASINO_WALLETS IN ACCESS EXCLUSIVE MODE")
                with ThreadPoolExecutor(1) as pool:
                    first = pool.submit(audit_over_api)
                    waiting = ("SELECT count(*) FROM pg_locks "
                               "WHERE NOT granted AND relation = 'casino_wallets'::regclass")
                    while ledger.query(waiting) == [(0,)]:
                        assert not first.done(), first.result().text
                    second = audit_over_api()
                    assert (second.status_code, second.json()["error"]["code"]) == (429, "TOO_MANY_REQUESTS")
                    assert second.json()["error"]["message"] == \
                        "more than 1 ledger audit at once in this process; retry shortly"
                    holder.rollback()
                    assert first.result().status_code == 200
        finally:
            holder.close()
        ledger.query("UPDATE CASINO_WALLETS SET playable_balance = playable_balance - 5 WHERE id = %s RETURNING id",
                     wallet)
        assert audit_over_api().json()["violations"] == []
    finally:
        server.stop()
