"""The service behind PgBouncer in transaction pooling mode (db/pgbouncer.py): the pool
connects although PgBouncer refuses its `options`, the server answers money calls through
it, an up-to-date database is not locked by the migrator, and nothing in the service relies
on session state that transaction pooling breaks. The wallet, round and money-rule modules
run whole through PgBouncer with TEST_THROUGH_PGBOUNCER=1 (.ci/run)."""
import logging
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import pytest

from db.pgbouncer import PgBouncer
from db.pool import Database
from sql.migrate import ADVISORY_LOCK_KEY, migrate
from tests.databases import SERVER_DSN_VAR
from tests.support import Api, ServerProcess, needs

ROOT = Path(__file__).resolve().parent.parent

pytestmark = needs("pgbouncer")


@pytest.fixture(scope="module")
def bouncer():
    with tempfile.TemporaryDirectory(prefix="casino-pgbouncer-") as tmp:
        os.chmod(tmp, 0o755)
        with PgBouncer(f"{tmp}/bouncer", os.environ[SERVER_DSN_VAR]) as running:
            yield running


@pytest.fixture
def bounced_dsn(fresh_dsn, bouncer):
    migrate(fresh_dsn, log=lambda _: None)
    return bouncer.dsn(psycopg2.extensions.parse_dsn(fresh_dsn)["dbname"])


def setting(run_sync, name):
    return run_sync(True, lambda cur: (cur.execute(f"SHOW {name}"), cur.fetchone()[0])[1])


def test_the_pool_connects_without_options_and_warns_once(bounced_dsn, caplog):
    db = Database(bounced_dsn, size=2)
    try:
        with caplog.at_level(logging.INFO, logger="db.pool"):
            assert setting(db.run_sync, "server_version_num") >= "150000"
            assert setting(db.run_sync, "server_version_num") >= "150000"
    finally:
        db.close()
    about = [r for r in caplog.records if "log_min_error_statement" in r.getMessage()]
    assert [r.levelno for r in about] == [logging.WARNING]
    assert "ALTER ROLE" in about[0].getMessage()


def test_with_the_role_set_by_alter_role_there_is_nothing_to_warn(fresh_dsn, bounced_dsn, caplog):
    name = psycopg2.extensions.parse_dsn(fresh_dsn)["dbname"]
    conn = psycopg2.connect(fresh_dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'ALTER ROLE CURRENT_USER IN DATABASE "{name}" SET log_min_error_statement = panic')
    conn.close()
    db = Database(bounced_dsn, size=1)
    try:
        with caplog.at_level(logging.INFO, logger="db.pool"):
            assert setting(db.run_sync, "log_min_error_statement") == "panic"
    finally:
        db.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_migrator_takes_no_lock_on_an_up_to_date_database(fresh_dsn, bounced_dsn):
    # The server migrates at start; through PgBouncer its session lock could stay held by a
    # pooled server connection. On a database migrated directly it does not even ask for
    # it: with the lock held elsewhere, it still returns at once.
    holder = psycopg2.connect(fresh_dsn)
    holder.autocommit = True
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        with ThreadPoolExecutor(1) as thread:
            assert thread.submit(migrate, bounced_dsn, log=lambda _: None).result(timeout=10) == []
    finally:
        holder.close()


def test_a_server_behind_pgbouncer_takes_bets_through_it(fresh_dsn, bounced_dsn, bouncer):
    from tests.support import Ledger
    ledger = Ledger(fresh_dsn)
    game = ledger.game()
    user_id, wallets = ledger.player(funds=1_000)
    token = ledger.session(user_id, wallets["USD"], game)
    server = ServerProcess(bounced_dsn).start()
    try:
        api = Api(server.url)
        body = {"sessionToken": token, "userId": user_id, "currency": "USD", "roundId": "r1",
                "transactionId": "pgb-1", "amount": 100}
        assert [api.casino("debit", body).json()["balance"] for _ in range(2)] == [900, 900]
        # PgBouncer's console lists the server's pool among its clients.
        name = psycopg2.extensions.parse_dsn(fresh_dsn)["dbname"]
        clients = [c for c in bouncer.show("CLIENTS") if c["database"] == name]
        assert {c["application_name"] for c in clients} == {"casino"}
        assert "Traceback" not in server.output()
    finally:
        server.stop()
    assert ledger.violations() == []


SESSION_STATE = re.compile(
    r"pg_advisory_lock|pg_try_advisory_lock\b|\bLISTEN\b|\bPREPARE\b|\bDECLARE\b.*\bWITH HOLD\b"
    r"|\bSET\s+(SESSION\s+)?(search_path|statement_timeout|lock_timeout|role|TIME ZONE)"
    r"|set_config\([^)]*false|CREATE\s+TEMP|set_session\(")


def test_nothing_the_service_runs_relies_on_session_state():
    """Prepared statements, SET without LOCAL, session advisory locks, LISTEN, temporary
    tables, cursors WITH HOLD: none outside the migrator (run against PostgreSQL directly)
    and the audit (a tool; psycopg2 sends set_session's options with each BEGIN)."""
    allowed = {"sql/migrate.py", "casino/audit.py"}
    found = []
    for directory in ("casino", "provider", "wire", "service", "db", "sql/functions"):
        for path in sorted((ROOT / directory).rglob("*")):
            if path.suffix not in (".py", ".sql") or str(path.relative_to(ROOT)) in allowed:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("--")[0] if path.suffix == ".sql" else line.split("#")[0]
                if SESSION_STATE.search(code) and not line.lstrip().startswith(('"', "'")):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []
