"""python -m casino.audit proves player protection from the ledger and the history of limits
and exclusions: clean when the money path enforced them, and it names a bet written by hand
past a limit in force at its instant, a bet or deposit during an exclusion, and counters that
are not the ledger's."""
import pytest

from sql.migrate import migrate
from tests.support import Ledger, run_cli


def violations(dsn):
    run = run_cli("casino.audit", dsn=dsn)
    assert run.returncode == 1, run.stdout + run.stderr
    return [line for line in run.stdout.splitlines() if line.startswith("VIOLATION")]


@pytest.fixture
def protected(fresh_dsn):
    """A fresh database with one player on one game, with a session, limits and counters."""
    migrate(fresh_dsn, log=lambda _: None)
    ledger = Ledger(fresh_dsn)
    game = ledger.game()
    user_id, wallets = ledger.player(funds=10_000)
    wallet = wallets["USD"]
    token = ledger.session(user_id, wallet, game)
    provider = ledger.query("SELECT provider_id FROM CASINO_GAMES WHERE id = %s", game)[0][0]
    return fresh_dsn, ledger, user_id, wallet, token, provider


def debit(ledger, provider, token, user_id, transaction_id, amount):
    """A bet through the money path's own function (as the debit handler calls it)."""
    return ledger.query("""SELECT status FROM casino_debit(%s, %s, %s, %s, 'r1', %s, 'USD', %s, '1 hour'::interval)""",
                        provider, token, user_id, transaction_id, amount, "fp-" + transaction_id)[0][0]


def forge(ledger, wallet, token, provider, kind, transaction_id, amount):
    """An applied row written by hand, its balance moved with it (so only protection is broken)."""
    movement = -amount if kind == "debit" else amount
    ledger.run(lambda cur: cur.execute("""
        INSERT INTO CASINO_TRANSACTIONS (provider_id, external_transaction_id, transaction_type, wallet_id, session_id,
            round_id, amount, request_fingerprint, outcome, playable_movement, redeemable_movement, balance_after,
            response_status, response_cache)
        SELECT CASE WHEN %(kind)s = 'debit' THEN %(provider)s END, %(id)s, %(kind)s, w.id,
               CASE WHEN %(kind)s = 'debit' THEN s.id END, CASE WHEN %(kind)s = 'debit' THEN 'r1' END, %(amount)s,
               'by hand', 'applied', %(movement)s, %(movement)s, w.playable_balance + %(movement)s, 200, '{}'
        FROM CASINO_WALLETS w JOIN CASINO_GAME_SESSIONS s ON s.token = %(token)s WHERE w.id = %(wallet)s;
        UPDATE CASINO_WALLETS SET playable_balance = playable_balance + %(movement)s,
                                  redeemable_balance = redeemable_balance + %(movement)s
        WHERE id = %(wallet)s""", {"kind": kind, "provider": provider, "id": transaction_id, "amount": amount,
                                   "movement": movement, "token": token, "wallet": wallet}))


def test_what_the_money_path_enforced_audits_clean(protected):
    dsn, ledger, user_id, _, token, provider = protected
    ledger.query("SELECT status FROM casino_set_limit(%s, 'USD', 'wager', 'day', 1000, NULL, NULL)", user_id)
    assert [debit(ledger, provider, token, user_id, f"b{i}", 300) for i in range(5)] == [200, 200, 200, 403, 403]
    ledger.query("SELECT status FROM casino_exclude(%s, 'time-out', now() + interval '2 days', NULL, NULL)", user_id)
    assert debit(ledger, provider, token, user_id, "excluded", 1) == 403
    run = run_cli("casino.audit", dsn=dsn)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_bet_past_a_limit_in_force_is_named(protected):
    dsn, ledger, user_id, wallet, token, provider = protected
    ledger.query("SELECT status FROM casino_set_limit(%s, 'USD', 'wager', 'day', 1000, NULL, NULL)", user_id)
    assert debit(ledger, provider, token, user_id, "b1", 800) == 200
    forge(ledger, wallet, token, provider, "debit", "forged", 300)
    day = ledger.query("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')")[0][0]
    assert violations(dsn) == [
        (f"VIOLATION wallet {wallet}: debit forged took the wager day window of {day} to 1100, above the limit of 1000 "
         "in force"),
        f"VIOLATION wallet {wallet} (USD): its limits' counters are not its ledger's: "
        + ", ".join(f"{kind} {period} 800 (ledger 1100)" for kind in ("loss", "wager") for period in ("day", "week", "month"))]


def test_a_deposit_past_a_limit_in_force_is_named(protected):
    dsn, ledger, user_id, wallet, token, provider = protected
    # The fixture's funding (10 000) already counts today: a limit of 10 500 leaves 500.
    ledger.query("SELECT status FROM casino_set_limit(%s, 'USD', 'deposit', 'month', 10500, NULL, NULL)", user_id)
    forge(ledger, wallet, token, provider, "deposit", "forged-deposit", 600)
    problems = violations(dsn)
    assert problems[0].startswith(f"VIOLATION wallet {wallet}: deposit forged-deposit took the deposit month window of ")
    assert problems[0].endswith("to 10600, above the limit of 10500 in force")


def test_a_bet_and_a_deposit_during_an_exclusion_are_named(protected):
    dsn, ledger, user_id, wallet, token, provider = protected
    assert ledger.query("SELECT status FROM casino_exclude(%s, 'self-exclusion', NULL, NULL, NULL)", user_id) == [(201,)]
    starts = ledger.query("SELECT casino_rfc3339(effective_from) FROM CASINO_PROTECTION_HISTORY WHERE user_id = %s",
                          user_id)[0][0]
    forge(ledger, wallet, token, provider, "debit", "forged-bet", 100)
    forge(ledger, wallet, token, provider, "deposit", "forged-deposit", 100)
    assert violations(dsn) == [
        (f"VIOLATION wallet {wallet}: debit forged-bet was accepted during a self-exclusion from {starts} until "
         "indefinitely"),
        (f"VIOLATION wallet {wallet}: deposit forged-deposit was accepted during a self-exclusion from {starts} until "
         "indefinitely")]
