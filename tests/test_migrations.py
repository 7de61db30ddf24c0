"""sql/migrate.py: order, idempotence, checksums, concurrent migrators, the CLI."""
import os
import shutil
import subprocess
import sys

import psycopg2
import pytest

from sql.migrate import MIGRATIONS_DIR, MigrationError, discover, migrate, status
from tests.support import ROOT, parallel


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


@pytest.fixture
def migrations_copy(tmp_path):
    target = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, target)
    return target


def test_applies_every_file_in_order_with_the_full_schema(fresh_dsn):
    done = migrate(fresh_dsn, log=lambda _: None)
    assert done == [m.name for m in discover()] == sorted(done)
    assert applied(fresh_dsn) == done
    expected = {"casino_users", "casino_wallets", "casino_game_providers", "casino_games",
                "casino_game_sessions", "casino_transactions", "provider_games",
                "provider_customers", "provider_sessions", "provider_game_rounds", "provider_bets"}
    assert expected <= set(tables(fresh_dsn))


def test_order_is_by_number_not_by_discovery(fresh_dsn, tmp_path):
    (tmp_path / "0002_uses.sql").write_text("CREATE TABLE b (a_id INT REFERENCES a (id));")
    (tmp_path / "0001_defines.sql").write_text("CREATE TABLE a (id INT PRIMARY KEY);")
    assert migrate(fresh_dsn, tmp_path, log=lambda _: None) == ["0001_defines.sql", "0002_uses.sql"]


def test_rerun_is_a_no_op(fresh_dsn):
    migrate(fresh_dsn, log=lambda _: None)
    assert migrate(fresh_dsn, log=lambda _: None) == []
    assert all(state == "applied" for _, state in status(fresh_dsn))


def test_new_file_is_pending_then_applied(fresh_dsn, migrations_copy):
    migrate(fresh_dsn, migrations_copy, log=lambda _: None)
    (migrations_copy / "0099_extra.sql").write_text("CREATE TABLE CASINO_EXTRA (id INT);")
    assert status(fresh_dsn, migrations_copy)[-1] == ("0099_extra.sql", "pending")
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
        migrate(fresh_dsn, tmp_path, log=lambda _: None)
    assert applied(fresh_dsn) == ["0001_good.sql"]
    assert "half" not in tables(fresh_dsn)


def test_concurrent_migrators_apply_each_file_once(fresh_dsn):
    results = parallel([lambda: migrate(fresh_dsn, log=lambda _: None) for _ in range(4)])
    everything = [m.name for m in discover()]
    # Exactly one migrator did the work; the others found nothing pending under the lock.
    assert sorted(results, key=len) == [[], [], [], everything]
    assert applied(fresh_dsn) == everything


def test_demo_data_is_idempotent_and_keeps_balances(fresh_dsn):
    migrate(fresh_dsn, demo=True, log=lambda _: None)
    conn = psycopg2.connect(fresh_dsn)
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE CASINO_WALLETS SET playable_balance = 1, redeemable_balance = 1 WHERE id = 1")
    migrate(fresh_dsn, demo=True, log=lambda _: None)
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
    assert before.stdout.split() == [w for m in discover() for w in ("pending", m.name)]
    applied_run = run("--demo")
    assert applied_run.returncode == 0, applied_run.stderr
    assert f"{len(discover())} migration(s) applied, demo data loaded" in applied_run.stdout
    assert run("--status").stdout.split() == [w for m in discover() for w in ("applied", m.name)]
