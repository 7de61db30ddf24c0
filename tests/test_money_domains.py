"""Migration 0013: the money columns' single-column rules, now domains, still refuse every
value they refused as table CHECKs -- on INSERT, on UPDATE (an `x = x + d` included), on
COPY, through the cashier's function -- psycopg2 still reads ints and strs from them, and
the migration applies to a database that already holds rows."""
import io
import shutil

import psycopg2
import pytest

from casino.audit import find_violations
from sql.migrate import MIGRATIONS_DIR, migrate
from tests.conftest import create_database

LIMIT = 2**53 - 1

# (statement, the rule that refuses it); wallet 1 and ledger row 1 are the demo data's.
REFUSED = [
    ("INSERT INTO CASINO_WALLETS (user_id, currency_code, playable_balance) VALUES (1, 'GBP', -1)",
     "casino_balance_not_negative"),
    (f"INSERT INTO CASINO_WALLETS (user_id, currency_code, playable_balance) VALUES (1, 'GBP', {LIMIT + 1})",
     "casino_balance_within_limit"),
    ("INSERT INTO CASINO_WALLETS (user_id, currency_code, redeemable_balance) VALUES (1, 'GBP', -1)",
     "casino_minor_units_not_negative"),
    ("INSERT INTO CASINO_WALLETS (user_id, currency_code) VALUES (1, 'gbp')", "casino_currency_code"),
    ("INSERT INTO CASINO_WALLETS (user_id, currency_code) VALUES (1, 'GB')", "casino_currency_code"),
    ("UPDATE CASINO_WALLETS SET currency_code = lower(currency_code) WHERE id = 1", "casino_currency_code"),
    ("UPDATE CASINO_WALLETS SET playable_balance = playable_balance + (-playable_balance - 1), "
     "redeemable_balance = 0 WHERE id = 1", "casino_balance_not_negative"),
    (f"UPDATE CASINO_WALLETS SET playable_balance = playable_balance + {LIMIT} WHERE id = 1",
     "casino_balance_within_limit"),
    ("UPDATE CASINO_WALLETS SET redeemable_balance = redeemable_balance - (redeemable_balance + 1) WHERE id = 1",
     "casino_minor_units_not_negative"),
    ("INSERT INTO CASINO_WALLETS (user_id, currency_code) VALUES (1, 'USD') "
     "ON CONFLICT (user_id, currency_code) DO UPDATE SET playable_balance = -5", "casino_balance_not_negative"),
    ("UPDATE CASINO_TRANSACTIONS SET amount = amount - (amount + 1) WHERE id = 1", "casino_minor_units_not_negative"),
    ("UPDATE CASINO_TRANSACTIONS SET balance_after = balance_after - (balance_after + 1) WHERE id = 1",
     "casino_minor_units_not_negative"),
    ("UPDATE CASINO_TRANSACTIONS SET response_status = 500 WHERE id = 1", "casino_answer_status_range"),
    ("UPDATE CASINO_TRANSACTIONS SET response_status = response_status - 101 WHERE id = 1",
     "casino_answer_status_range"),
    ("UPDATE CASINO_TRANSACTIONS SET outcome = 'pending' WHERE id = 1", "casino_ledger_outcome_known"),
    # The cashier's own INSERT and `x = x + d` UPDATE, given what its callers never pass.
    ("SELECT casino_cashier('deposit', 1, 'USD', -5, 'neg-deposit', 'fp', NULL, NULL)",
     "casino_minor_units_not_negative"),
    ("SELECT casino_cashier('withdrawal', 1, 'USD', -5, 'neg-withdrawal', 'fp', NULL, NULL)",
     "casino_minor_units_not_negative"),
    # The rules that compare two columns stayed table CHECKs.
    ("UPDATE CASINO_WALLETS SET redeemable_balance = playable_balance + 1 WHERE id = 1", "casino_wallets_check"),
]


FILES = "SELECT pg_relation_filenode('casino_wallets'), pg_relation_filenode('casino_transactions')"


@pytest.fixture(scope="module")
def demo_dsn():
    dsn = create_database("domains")
    migrate(dsn, demo=True, log=lambda _: None)
    return dsn


def refused_by(dsn, run):
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur, pytest.raises(psycopg2.errors.CheckViolation) as refused:
            run(cur)
        conn.rollback()
        return refused.value.diag.constraint_name
    finally:
        conn.close()


@pytest.mark.parametrize("statement, rule", REFUSED, ids=[rule + "-" + str(i) for i, (_, rule) in enumerate(REFUSED)])
def test_every_single_column_rule_still_refuses(demo_dsn, statement, rule):
    assert refused_by(demo_dsn, lambda cur: cur.execute(statement)) == rule


def test_copy_is_checked_too(demo_dsn):
    def copy(cur):
        cur.copy_expert("COPY CASINO_WALLETS (user_id, currency_code, playable_balance) FROM STDIN",
                        io.StringIO("1\tGBP\t-3\n"))
    assert refused_by(demo_dsn, copy) == "casino_balance_not_negative"


def test_0013_applies_to_a_database_with_rows(tmp_path):
    """Upgrade path: a database at 0012 holding wallets and ledger rows (demo data and
    deposits through the cashier) takes 0013, keeps every row, and audits clean."""
    dsn = create_database("domains_upgrade")
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name < "0013":
            shutil.copy(path, before)
    migrate(dsn, directory=before, demo=True, log=lambda _: None)
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT id, user_id, currency_code FROM CASINO_WALLETS ORDER BY id")
            for wallet_id, user_id, currency in cur.fetchall():
                cur.execute("SELECT (casino_cashier('deposit', %s, %s, 250, %s, 'fp', NULL, NULL)).status",
                            (user_id, currency, f"pre-0013-{wallet_id}"))
                assert cur.fetchone()[0] == 200
            cur.execute("SELECT * FROM CASINO_WALLETS ORDER BY id")
            wallets = cur.fetchall()
            cur.execute("SELECT * FROM CASINO_TRANSACTIONS ORDER BY id")
            rows = cur.fetchall()
            cur.execute(FILES)
            files = cur.fetchone()
        assert len(rows) == 2 * len(wallets) > 0

        # 0013, and every migration after it.
        assert migrate(dsn, log=lambda _: None) == [p.name for p in sorted(MIGRATIONS_DIR.glob("*.sql"))
                                                    if p.name >= "0013"]

        with conn, conn.cursor() as cur:
            cur.execute("""SELECT attname, atttypid::regtype::text FROM pg_attribute
                           WHERE attrelid IN ('casino_wallets'::regclass, 'casino_transactions'::regclass)
                             AND atttypid::regtype::text LIKE 'casino\\_%' ORDER BY 1""")
            assert cur.fetchall() == [
                ("amount", "casino_minor_units"), ("balance_after", "casino_minor_units"),
                ("currency_code", "casino_currency"), ("outcome", "casino_ledger_outcome"),
                ("playable_balance", "casino_balance"), ("redeemable_balance", "casino_minor_units"),
                ("response_status", "casino_answer_status")]
            cur.execute("SELECT * FROM CASINO_WALLETS ORDER BY id")
            assert cur.fetchall() == wallets
            cur.execute("SELECT * FROM CASINO_TRANSACTIONS ORDER BY id")
            assert cur.fetchall() == rows
            # The server describes a domain's column by its base type: psycopg2 reads the same.
            cur.execute("SELECT playable_balance, redeemable_balance, currency_code FROM CASINO_WALLETS LIMIT 1")
            assert [type(v) for v in cur.fetchone()] == [int, int, str]
            cur.execute("SELECT amount, balance_after, response_status, outcome FROM CASINO_TRANSACTIONS LIMIT 1")
            assert [type(v) for v in cur.fetchone()] == [int, int, int, str]
            assert find_violations(cur) == []
            # What README says to plan a pause for: both tables written again, not only read.
            cur.execute(FILES)
            assert all(a != b for a, b in zip(files, cur.fetchone()))
    finally:
        conn.close()
    # And the rules hold on the upgraded database as on a fresh one.
    assert refused_by(dsn, lambda cur: cur.execute(
        "UPDATE CASINO_WALLETS SET playable_balance = playable_balance - 1000000000, redeemable_balance = 0"
    )) == "casino_balance_not_negative"
