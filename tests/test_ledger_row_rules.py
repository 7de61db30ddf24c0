"""Migration 0020: a ledger row's own rules -- its kind is one the ledger knows, it moves
money only when applied, and refunded_bet_id names the bet of a rollback that gave money
back and nothing else -- are one CHECK calling casino_ledger_row_rules(). Each refuses what
it refused before (refunded_bet_id was a generated column: now its writer fills it and the
CHECK refuses any other value), so the unique index on it still allows one refund per bet."""
import psycopg2
import pytest

from service.demo_data import load_demo_data
from sql.migrate import migrate
from tests.databases import create_database

RULES = "casino_transactions_row_rules"


@pytest.fixture(scope="module")
def demo_dsn():
    dsn = create_database("row_rules")
    migrate(dsn, log=lambda _: None)
    load_demo_data(dsn)
    return dsn


def run(dsn, statement):
    """The statement's error class and constraint, or (None, None) when it was accepted
    (rolled back either way)."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            try:
                cur.execute(statement)
            except psycopg2.Error as error:
                return type(error), error.diag.constraint_name
            return None, None
    finally:
        conn.rollback()
        conn.close()


def row(kind, outcome, movement, related, refunded, transaction_id="by-hand"):
    """A row of wallet 1 and the first provider (the demo data's), written by hand."""
    return f"""
        INSERT INTO CASINO_TRANSACTIONS (provider_id, external_transaction_id, transaction_type, wallet_id, amount,
            related_external_transaction_id, request_fingerprint, outcome, playable_movement, redeemable_movement,
            balance_after, response_status, response_cache, refunded_bet_id)
        VALUES ((SELECT min(id) FROM CASINO_GAME_PROVIDERS), '{transaction_id}', '{kind}', 1, 5, {related}, 'fp', '{outcome}', {movement}, {movement},
                1000, 200, '{{}}', {refunded})"""


@pytest.mark.parametrize("statement", [
    "UPDATE CASINO_TRANSACTIONS SET transaction_type = 'bonus' WHERE id = 1",
    row("payout", "applied", 0, "NULL", "NULL"),
    "UPDATE CASINO_TRANSACTIONS SET outcome = 'refused' WHERE id = 1 AND playable_movement <> 0",
    row("debit", "refused", -5, "NULL", "NULL"),
    # A refund that does not name its bet: the one-refund-per-bet index would not see it.
    row("rollback", "applied", 5, "'bet-1'", "NULL"),
    row("rollback", "applied", 5, "'bet-1'", "'bet-2'"),
    # What is not a refund names no bet.
    row("rollback", "applied", 0, "'bet-1'", "'bet-1'"),
    row("rollback", "tombstone", 0, "'bet-1'", "'bet-1'"),
    row("debit", "applied", -5, "NULL", "'bet-1'"),
], ids=["unknown-kind-update", "unknown-kind", "refused-moving-update", "refused-moving", "refund-unnamed",
        "refund-named-wrong", "no-refund-named", "tombstone-named", "bet-named"])
def test_each_rule_refuses(demo_dsn, statement):
    assert run(demo_dsn, statement) == (psycopg2.errors.CheckViolation, RULES)


def test_what_the_rules_allow_is_accepted_and_a_bet_is_refunded_once(demo_dsn):
    bet = row("debit", "applied", -5, "NULL", "NULL", "bet-1") + ";"
    refund = row("rollback", "applied", 5, "'bet-1'", "'bet-1'", "refund-1") + ";"
    assert run(demo_dsn, bet + refund) == (None, None)
    assert run(demo_dsn, bet + row("rollback", "refused", 0, "'bet-1'", "NULL")) == (None, None)
    again = row("rollback", "applied", 5, "'bet-1'", "'bet-1'", "refund-2")
    assert run(demo_dsn, bet + refund + again) == (psycopg2.errors.UniqueViolation,
                                                  "casino_transactions_one_refund_per_bet")
