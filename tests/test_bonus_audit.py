"""The audit explains every bonus cent: for every wallet, balance - redeemable is what
remains of its active bonus by the rows naming it; an ended bonus's rows sum to nothing.
A ledger with bonuses played through every path audits clean (every test of the bonus
files ends with the audit); each kind of break, written by hand here, is named, and so is a
bonus an exclusion left active or a grant made during one (the exclusion forfeits the
player's bonuses and refuses grants: tests/test_bonus_exclusion.py)."""
import pytest

from casino import bonuses
from casino.audit import find_violations
from sql.migrate import migrate
from tests.support import Ledger, run_cli


@pytest.fixture
def books(fresh_dsn):
    """A fresh database with a player holding 300 cash and a bonus of 500, a bet of 400
    made of both (300 cash, 100 bonus), and an ended bonus of another player."""
    migrate(fresh_dsn, log=lambda _: None)
    ledger = Ledger(fresh_dsn)
    user_id, wallets = ledger.player(funds=300)
    other_id, others = ledger.player(funds=0)

    def grant(cur, user, reference):
        answer = bonuses.grant(cur, None, {"userId": user, "currency": "USD", "amount": 500, "wagering": 10,
                                           "expiresAt": "2100-01-01T00:00:00Z", "reference": reference})
        assert answer.status == 201, answer.body
        return answer.json()["bonusId"]
    bonus = ledger.run(grant, user_id, "audit-1")
    ended = ledger.run(grant, other_id, "audit-2")
    ledger.query("SELECT casino_forfeit_bonus(%s, 'cancelled')", ended)
    game = ledger.game()
    token = ledger.session(user_id, wallets["USD"], game)
    (provider,), = ledger.query("SELECT provider_id FROM CASINO_GAMES WHERE id = %s", game)
    reply = ledger.query("SELECT status FROM casino_debit(%s, %s, %s, 'bet', 'r1', 400, 'USD', 'fp', '1 hour')",
                         provider, token, user_id)
    assert reply == [(200,)]
    assert ledger.run(find_violations) == []
    return ledger, wallets["USD"], bonus, others["USD"], ended


def test_the_audit_says_what_the_bonuses_hold(books):
    ledger = books[0]
    run = run_cli("casino.audit", dsn=ledger.dsn)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "audit: bonus money: 1 active bonus(es) holding 400" in run.stdout
    assert "every cent explained by ledger rows" in run.stdout


def test_bonus_money_on_a_row_naming_no_bonus_is_named(books):
    ledger, wallet, bonus, _, _ = books
    ledger.query("UPDATE CASINO_TRANSACTIONS SET bonus_id = NULL WHERE external_transaction_id = 'bet' RETURNING 1")
    problems = ledger.run(find_violations)
    assert f"wallet {wallet}: debit bet moved -100 of bonus money naming no bonus" in problems


def test_a_row_naming_a_bonus_that_does_not_exist_is_named(books):
    ledger, wallet, _, _, _ = books
    ledger.query("UPDATE CASINO_TRANSACTIONS SET bonus_id = 999999 WHERE external_transaction_id = 'bet' RETURNING 1")
    assert any("of bonus 999999, which does not exist" in p for p in ledger.run(find_violations))


def test_a_balance_not_explained_by_its_bonus_is_named(books):
    ledger, wallet, bonus, _, _ = books
    # Bonus money appearing from nowhere: a grant's row with more than the bonus's amount.
    ledger.query("UPDATE CASINO_TRANSACTIONS SET amount = 600, playable_movement = 600 "
                 "WHERE external_transaction_id = 'audit-1' RETURNING 1")
    ledger.query("UPDATE CASINO_WALLETS SET playable_balance = playable_balance + 100 WHERE id = %s RETURNING 1",
                 wallet)
    problems = ledger.run(find_violations)
    assert f"wallet {wallet}: bonus {bonus} of 500 has 1 grant row(s) of 600..600" in problems


def test_wagered_not_counted_by_the_bets_is_named(books):
    ledger, wallet, bonus, _, _ = books
    ledger.query("UPDATE CASINO_WALLETS SET bonus_wagered = 0 WHERE id = %s RETURNING 1", wallet)
    problems = ledger.run(find_violations)
    assert len(problems) == 1 and "wagered 0 against 400 counted" in problems[0], problems


def test_bonus_money_without_an_active_bonus_is_named(books):
    ledger, wallet, bonus, _, _ = books
    ledger.query("UPDATE CASINO_WALLETS SET bonus_id = NULL, bonus_wagered = NULL, bonus_wagering_required = NULL, "
                 "bonus_expires_at = NULL WHERE id = %s RETURNING 1", wallet)
    problems = ledger.run(find_violations)
    assert (f"wallet {wallet} (USD): its ledger holds 400 of bonus money (balance - redeemable) and bonus "
            "counters, but it has no active bonus") in problems
    assert f"wallet {wallet}: bonus {bonus} is active, but the wallet's active bonus is None" in problems


def test_an_ended_bonus_whose_rows_keep_money_is_named(books):
    ledger, _, _, other, ended = books
    # Its forfeit took less than it held: 50 of it would still be in the wallet's balance.
    ledger.query("UPDATE CASINO_TRANSACTIONS SET amount = 450, playable_movement = -450 "
                 "WHERE external_transaction_id = %s RETURNING 1", f"bonus {ended} forfeit")
    ledger.query("UPDATE CASINO_WALLETS SET playable_balance = 50 WHERE id = %s RETURNING 1", other)
    problems = ledger.run(find_violations)
    assert any(p.startswith(f"wallet {other}: bonus {ended} (forfeited) keeps 50 by its rows; 1 ending row(s) "
                            f"moved 450 of the 500") for p in problems), problems


def test_a_bet_whose_cash_part_exceeds_it_is_named(books):
    ledger, wallet, _, _, _ = books
    ledger.query("UPDATE CASINO_TRANSACTIONS SET redeemable_movement = -401 WHERE external_transaction_id = 'bet' "
                 "RETURNING 1")
    assert any(p.startswith(f"wallet {wallet}: debit bet of 400 moved -400 (cash -401)")
               for p in ledger.run(find_violations))


def exclude_by_hand(ledger, wallet, starts):
    """An exclusion's history row written without casino_exclude (so nothing it does is done),
    beginning `starts` (an SQL expression of time), indefinite."""
    ledger.query(f"""INSERT INTO CASINO_PROTECTION_HISTORY (user_id, change, kind, new_until, effective_from,
                                                            operator_key_id, created_at)
                     SELECT user_id, 'exclusion', 'self-exclusion', 'infinity', {starts}, 'by hand', {starts}
                     FROM CASINO_WALLETS WHERE id = %s RETURNING 1""", wallet)


def test_a_bonus_an_exclusion_left_active_is_named(books):
    ledger, wallet, bonus, _, _ = books
    exclude_by_hand(ledger, wallet, "now()")
    problems = ledger.run(find_violations)
    assert any(p.startswith(f"wallet {wallet}: bonus {bonus} was active when a self-exclusion began at ")
               and p.endswith("and is still active") for p in problems), problems


def test_a_grant_during_an_exclusion_is_named(books):
    ledger, wallet, bonus, _, _ = books
    exclude_by_hand(ledger, wallet, "(SELECT granted_at - interval '1 hour' FROM CASINO_BONUSES WHERE reference = "
                                    "'audit-1')")
    problems = ledger.run(find_violations)
    assert any(p.startswith(f"wallet {wallet}: bonus_grant audit-1 was accepted during a self-exclusion from ")
               for p in problems), problems
    assert any(p.startswith(f"wallet {wallet}: debit bet was accepted during a self-exclusion")
               for p in problems), problems
    assert not any(f"bonus {bonus} was active when" in p for p in problems), problems
