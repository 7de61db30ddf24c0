"""Migration 0013: the money columns' single-column rules, now domains, still refuse every
value they refused as table CHECKs -- on INSERT, on UPDATE (an `x = x + d` included), on
COPY, through the cashier's function -- psycopg2 still reads ints and strs from them, and
the migration applies to a database that already holds rows."""
import io
import shutil

import psycopg2
import pytest

from casino.audit import find_violations
from service.demo_data import load_demo_data
from sql.migrate import FUNCTIONS_PREFIX, MIGRATIONS_DIR, discover, migrate
from tests.databases import create_database

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
    (("UPDATE CASINO_WALLETS SET playable_balance = playable_balance + (-playable_balance - 1), "
      "redeemable_balance = 0 WHERE id = 1"), "casino_balance_not_negative"),
    (f"UPDATE CASINO_WALLETS SET playable_balance = playable_balance + {LIMIT} WHERE id = 1",
     "casino_balance_within_limit"),
    ("UPDATE CASINO_WALLETS SET redeemable_balance = redeemable_balance - (redeemable_balance + 1) WHERE id = 1",
     "casino_minor_units_not_negative"),
    (("INSERT INTO CASINO_WALLETS (user_id, currency_code) VALUES (1, 'USD') "
      "ON CONFLICT (user_id, currency_code) DO UPDATE SET playable_balance = -5"), "casino_balance_not_negative"),
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
    migrate(dsn, log=lambda _: None)
    load_demo_data(dsn)
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


# What a deposit through the cashier wrote at 0012 (sql/functions/casino_cashier.sql then):
# written here by hand, since the functions of this checkout need the later migrations.
DEPOSIT_AT_0012 = """
    WITH t AS (
        INSERT INTO CASINO_TRANSACTIONS (provider_id, external_transaction_id, transaction_type, wallet_id, amount,
                                         request_fingerprint, outcome, playable_movement, redeemable_movement,
                                         balance_after, response_status, response_cache)
        SELECT NULL, %(reference)s, 'deposit', w.id, 250, 'fp', 'applied', 250, 250, w.playable_balance + 250, 200,
               json_build_object('reference', %(reference)s, 'balance', w.playable_balance + 250)
        FROM CASINO_WALLETS w WHERE w.id = %(wallet)s
        RETURNING wallet_id)
    UPDATE CASINO_WALLETS SET playable_balance = playable_balance + 250, redeemable_balance = redeemable_balance + 250
    WHERE id IN (SELECT wallet_id FROM t)
"""
WALLET_COLUMNS = "SELECT id, user_id, currency_code, playable_balance, redeemable_balance FROM CASINO_WALLETS ORDER BY id"
LEDGER_COLUMNS = """SELECT id, external_transaction_id, transaction_type, wallet_id, amount, outcome, playable_movement,
                           redeemable_movement, balance_after, response_status, created_at
                    FROM CASINO_TRANSACTIONS ORDER BY id"""


def test_0013_applies_to_a_database_with_rows(tmp_path):
    """Upgrade path: a database at 0012 holding players, wallets and ledger rows takes 0013
    (and every migration after it), keeps every row, and audits clean."""
    dsn = create_database("domains_upgrade")
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name < "0013":
            shutil.copy(path, before)
    migrate(dsn, directory=before, functions_dir=None, log=lambda _: None)
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            for n in range(2):
                cur.execute("INSERT INTO CASINO_USERS (username, email) VALUES (%s, %s) RETURNING id",
                            (f"pre-0013-{n}", f"pre-0013-{n}@example.com"))
                user_id = cur.fetchone()[0]
                for currency in ("USD", "EUR"):
                    cur.execute("INSERT INTO CASINO_WALLETS (user_id, currency_code) VALUES (%s, %s) RETURNING id",
                                (user_id, currency))
                    wallet_id = cur.fetchone()[0]
                    for deposit in range(2):
                        cur.execute(DEPOSIT_AT_0012, {"wallet": wallet_id, "reference": f"pre-0013-{wallet_id}-{deposit}"})
            cur.execute(WALLET_COLUMNS)
            wallets = cur.fetchall()
            cur.execute(LEDGER_COLUMNS)
            rows = cur.fetchall()
            cur.execute(FILES)
            files = cur.fetchone()
        assert len(rows) == 2 * len(wallets) > 0

        # 0013, and whatever migrations came after it (then every function file).
        applied = migrate(dsn, log=lambda _: None)
        assert [name for name in applied if not name.startswith(FUNCTIONS_PREFIX)] == [
            m.name for m in discover() if m.name >= "0013"]

        with conn, conn.cursor() as cur:
            cur.execute("""SELECT attname, atttypid::regtype::text FROM pg_attribute
                           WHERE attrelid IN ('casino_wallets'::regclass, 'casino_transactions'::regclass)
                             AND atttypid::regtype::text LIKE 'casino\\_%' ORDER BY 1""")
            assert cur.fetchall() == [
                ("amount", "casino_minor_units"), ("balance_after", "casino_minor_units"),
                ("currency_code", "casino_currency"), ("outcome", "casino_ledger_outcome"),
                ("playable_balance", "casino_balance"), ("redeemable_balance", "casino_minor_units"),
                ("response_status", "casino_answer_status")]
            cur.execute(WALLET_COLUMNS)
            assert cur.fetchall() == wallets
            cur.execute(LEDGER_COLUMNS)
            assert cur.fetchall() == rows
            # The server describes a domain's column by its base type: psycopg2 reads the same.
            cur.execute("SELECT playable_balance, redeemable_balance, currency_code FROM CASINO_WALLETS LIMIT 1")
            assert [type(v) for v in cur.fetchone()] == [int, int, str]
            cur.execute("SELECT amount, balance_after, response_status, outcome FROM CASINO_TRANSACTIONS LIMIT 1")
            assert [type(v) for v in cur.fetchone()] == [int, int, int, str]
            assert find_violations(cur) == []
            # What README says to plan a pause for: both tables written again, not only read.
            cur.execute(FILES)
            assert all(a != b for a, b in zip(files, cur.fetchone(), strict=True))
    finally:
        conn.close()
    # And the rules hold on the upgraded database as on a fresh one.
    assert refused_by(dsn, lambda cur: cur.execute(
        "UPDATE CASINO_WALLETS SET playable_balance = playable_balance - 1000000000, redeemable_balance = 0"
    )) == "casino_balance_not_negative"
