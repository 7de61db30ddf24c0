"""sql/migrate.py: order, idempotence, checksums, repeatable function files, concurrent
migrators, the CLI."""
import os
import shutil
import subprocess
import sys

import psycopg2
import pytest

from service.demo_data import load_demo_data
from sql.migrate import MIGRATIONS_DIR, MigrationError, discover, discover_functions, migrate, status
from tests.support import ROOT, Ledger, parallel


def first_column(dsn, sql):
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute(sql)
        values = [r[0] for r in cur.fetchall()]
    conn.close()
    return values


def tables(dsn):
    return first_column(dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")


def applied(dsn):
    return first_column(dsn, "SELECT name FROM schema_migrations ORDER BY applied_at, name")


def everything():
    """What migrate() applies to an empty database, in order."""
    return [m.name for m in discover()] + ["functions/" + f.name for f in discover_functions()]


@pytest.fixture
def migrations_copy(tmp_path):
    target = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, target)
    return target


def test_applies_every_file_in_order_with_the_full_schema(fresh_dsn):
    done = migrate(fresh_dsn, log=lambda _: None)
    migrations = [m.name for m in discover()]
    assert done == everything() and migrations == sorted(migrations)
    assert applied(fresh_dsn) == migrations
    expected = {"casino_users", "casino_wallets", "casino_game_providers", "casino_games",
                "casino_game_sessions", "casino_transactions", "provider_games",
                "provider_customers", "provider_sessions", "provider_game_rounds", "provider_bets"}
    assert expected <= set(tables(fresh_dsn))


def test_order_is_by_number_not_by_discovery(fresh_dsn, tmp_path):
    (tmp_path / "0002_uses.sql").write_text("CREATE TABLE b (a_id INT REFERENCES a (id));")
    (tmp_path / "0001_defines.sql").write_text("CREATE TABLE a (id INT PRIMARY KEY);")
    assert migrate(fresh_dsn, tmp_path, log=lambda _: None, functions_dir=None) == [
        "0001_defines.sql", "0002_uses.sql"]


def test_rerun_is_a_no_op(fresh_dsn):
    migrate(fresh_dsn, log=lambda _: None)
    assert migrate(fresh_dsn, log=lambda _: None) == []
    assert all(state == "applied" for _, state in status(fresh_dsn))


def test_new_file_is_pending_then_applied(fresh_dsn, migrations_copy):
    migrate(fresh_dsn, migrations_copy, log=lambda _: None)
    (migrations_copy / "0099_extra.sql").write_text("CREATE TABLE CASINO_EXTRA (id INT);")
    assert dict(status(fresh_dsn, migrations_copy))["0099_extra.sql"] == "pending"
    # The function files, unchanged, are not applied again.
    assert migrate(fresh_dsn, migrations_copy, log=lambda _: None) == ["0099_extra.sql"]


def test_changed_applied_file_is_refused(fresh_dsn, migrations_copy):
    migrate(fresh_dsn, migrations_copy, log=lambda _: None)
    first = sorted(migrations_copy.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after the fact\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(fresh_dsn, migrations_copy, log=lambda _: None)


def test_failing_migration_rolls_back_alone(fresh_dsn, tmp_path):
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good (id INT);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (id INT); SELECT no_such_function();")
    with pytest.raises(psycopg2.Error):
        migrate(fresh_dsn, tmp_path, log=lambda _: None, functions_dir=None)
    assert applied(fresh_dsn) == ["0001_good.sql"]
    assert "half" not in tables(fresh_dsn)


def test_concurrent_migrators_apply_each_file_once(fresh_dsn):
    results = parallel([lambda: migrate(fresh_dsn, log=lambda _: None) for _ in range(4)])
    # Exactly one migrator did the work; the others found nothing pending under the lock.
    assert sorted(results, key=len) == [[], [], [], everything()]
    assert applied(fresh_dsn) == [m.name for m in discover()]


def test_demo_data_is_idempotent_and_keeps_balances(fresh_dsn):
    migrate(fresh_dsn, log=lambda _: None)
    load_demo_data(fresh_dsn)
    conn = psycopg2.connect(fresh_dsn)
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE CASINO_WALLETS SET playable_balance = 1, redeemable_balance = 1 WHERE id = 1")
    migrate(fresh_dsn, log=lambda _: None)
    load_demo_data(fresh_dsn)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM CASINO_USERS")
        assert cur.fetchone()[0] == 2
        cur.execute("SELECT playable_balance FROM CASINO_WALLETS WHERE id = 1")
        assert cur.fetchone()[0] == 1
        cur.execute("SELECT count(*) FROM CASINO_TRANSACTIONS WHERE transaction_type = 'deposit'")
        assert cur.fetchone()[0] == 4
    conn.close()


def test_cli_status_and_apply(fresh_dsn):
    env = dict(os.environ, DATABASE_URL=fresh_dsn)
    run = lambda *args: subprocess.run([sys.executable, "-m", "sql.migrate", *args], cwd=ROOT,
                                       env=env, capture_output=True, text=True, timeout=60)
    before = run("--status")
    assert before.returncode == 0
    assert before.stdout.split() == [w for name in everything() for w in ("pending", name)]
    applied_run = run()
    assert applied_run.returncode == 0, applied_run.stderr
    assert (f"{len(discover())} migration(s) and {len(discover_functions())} function file(s) applied"
            in applied_run.stdout)
    assert run("--status").stdout.split() == [w for name in everything() for w in ("applied", name)]
    # The demo data is loaded by whoever wants it, after migrating: here nothing is left to apply.
    demo = subprocess.run([sys.executable, "-m", "service.demo_data"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert demo.returncode == 0, demo.stderr
    assert "0 migration(s) and 0 function file(s) applied, demo data loaded" in demo.stdout
    assert Ledger(fresh_dsn).query("SELECT username FROM CASINO_USERS ORDER BY id") == [("alice",), ("bob",)]


# --- repeatable function files --------------------------------------------------------------

GREETING = "CREATE OR REPLACE FUNCTION test_greeting() RETURNS TEXT LANGUAGE sql AS $$ SELECT '{}' $$;"


@pytest.fixture
def functions_dir(tmp_path):
    directory = tmp_path / "functions"
    directory.mkdir()
    (directory / "greeting.sql").write_text(GREETING.format("v1"))
    return directory


def greeting(dsn):
    return first_column(dsn, "SELECT test_greeting()")[0]


def quiet_migrate(dsn, functions_dir):
    return migrate(dsn, log=lambda _: None, functions_dir=functions_dir)


def test_function_file_applied_once_then_again_only_when_changed(fresh_dsn, functions_dir):
    assert quiet_migrate(fresh_dsn, functions_dir) == [m.name for m in discover()] + ["functions/greeting.sql"]
    assert greeting(fresh_dsn) == "v1"
    applied_at = first_column(fresh_dsn, "SELECT applied_at FROM schema_functions")

    assert quiet_migrate(fresh_dsn, functions_dir) == []
    assert first_column(fresh_dsn, "SELECT applied_at FROM schema_functions") == applied_at
    assert dict(status(fresh_dsn, functions_dir=functions_dir))["functions/greeting.sql"] == "applied"

    (functions_dir / "greeting.sql").write_text(GREETING.format("v2"))
    assert dict(status(fresh_dsn, functions_dir=functions_dir))["functions/greeting.sql"] == "changed"
    assert quiet_migrate(fresh_dsn, functions_dir) == ["functions/greeting.sql"]
    assert greeting(fresh_dsn) == "v2"
    assert quiet_migrate(fresh_dsn, functions_dir) == []


def test_failing_function_file_is_rolled_back_and_stays_changed(fresh_dsn, functions_dir):
    quiet_migrate(fresh_dsn, functions_dir)
    (functions_dir / "greeting.sql").write_text(GREETING.format("v2") + "\nSELECT no_such_function();")
    with pytest.raises(psycopg2.Error):
        quiet_migrate(fresh_dsn, functions_dir)
    assert greeting(fresh_dsn) == "v1"
    assert dict(status(fresh_dsn, functions_dir=functions_dir))["functions/greeting.sql"] == "changed"


def test_concurrent_migrators_apply_a_changed_function_file_once(fresh_dsn, functions_dir):
    quiet_migrate(fresh_dsn, functions_dir)
    (functions_dir / "greeting.sql").write_text(GREETING.format("v2"))
    results = parallel([lambda: quiet_migrate(fresh_dsn, functions_dir) for _ in range(4)])
    assert sorted(results, key=len) == [[], [], [], ["functions/greeting.sql"]]
    assert greeting(fresh_dsn) == "v2"


def test_wallet_function_files_apply_again_and_leave_one_signature_each(fresh_dsn):
    migrate(fresh_dsn, log=lambda _: None)
    # Forget what was applied: every file runs again over its own earlier result.
    conn = psycopg2.connect(fresh_dsn)
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM schema_functions")
    conn.close()
    assert migrate(fresh_dsn, log=lambda _: None) == everything()[len(discover()):]
    overloads = first_column(fresh_dsn, """
        SELECT proname FROM pg_proc WHERE proname LIKE 'casino\\_%' GROUP BY proname HAVING count(*) > 1""")
    assert overloads == []


def test_cli_status_names_a_changed_function_file(fresh_dsn, tmp_path):
    migrate(fresh_dsn, log=lambda _: None)
    conn = psycopg2.connect(fresh_dsn)
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE schema_functions SET checksum = 'edited' WHERE name = 'casino_debit.sql'")
    conn.close()
    run = subprocess.run([sys.executable, "-m", "sql.migrate", "--status"], cwd=ROOT, capture_output=True,
                         text=True, env=dict(os.environ, DATABASE_URL=fresh_dsn), timeout=60)
    assert run.returncode == 0, run.stderr
    assert "changed  functions/casino_debit.sql" in run.stdout.splitlines()
    assert "applied  functions/casino_credit.sql" in run.stdout.splitlines()


def test_status_on_a_directory_without_a_database_says_so_and_creates_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CASINO_DATA_DIR")}
    missing = tmp_path / "pg"
    run = subprocess.run([sys.executable, "-m", "sql.migrate", "--status", "--data-dir", str(missing)], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"no database under {missing}" in run.stderr and "Traceback" not in run.stderr
    assert not missing.exists()
