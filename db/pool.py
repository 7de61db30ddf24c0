"""Runs blocking psycopg2 work off the IOLoop, one function per database transaction.

Handlers and services never see connections: they hand `Database.transaction` a function
that takes a cursor. The function runs on a worker thread, in one transaction that is
committed when it returns and rolled back when it raises; the connection always goes back
to the pool, or is closed when it broke.

The executor has exactly as many threads as the pool has connections, so a thread never
waits for a connection and a request waits in one queue only (the executor's).

psycopg2 fills parameters into the statement text on the client, so PostgreSQL's log of
a failed statement would hold session tokens and ids. The pool's connections therefore
ask the server not to log the text of failing statements (log_min_error_statement =
panic); a role that may not set it gets connections without, and one warning.
"""
import logging
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from prometheus_client import Counter, Gauge
from psycopg2.pool import ThreadedConnectionPool
from tornado.ioloop import IOLoop

log = logging.getLogger(__name__)

# Deadlocks and serialization failures are retried: the transaction was rolled back whole.
MAX_CONFLICT_ATTEMPTS = 5


IN_USE = Gauge("db_pool_connections_in_use", "Connections lent to a call", multiprocess_mode="livesum")
WAITING = Gauge("db_pool_calls_waiting", "Calls queued for a connection", multiprocess_mode="livesum")
ERRORS = Counter("db_errors_total", "Database trouble: conflict_retry, connection_lost, unavailable", ["kind"])


class DatabaseUnavailable(Exception):
    """The database cannot be reached, or a commit's outcome is unknown. Answer 503."""


QUIET_ERRORS = "-c log_min_error_statement=panic"


class _QuietPool(ThreadedConnectionPool):
    """Opens connections with QUIET_ERRORS added to the DSN's own options, until the server
    refuses them for this role; from then on, without."""

    def __init__(self, maxconn, dsn, **kwargs):
        super().__init__(0, maxconn, dsn, **kwargs)
        own = psycopg2.extensions.parse_dsn(dsn).get("options", "")
        self._plain_kwargs = self._kwargs
        self._kwargs = dict(kwargs, options=f"{own} {QUIET_ERRORS}".strip())

    def _connect(self, key=None):
        # Overrides psycopg2's (private) one, which connects with self._kwargs; it runs
        # under the pool's lock.
        try:
            return super()._connect(key)
        except psycopg2.OperationalError as exc:
            # Refused at start-up, so there is no SQLSTATE; the message names the
            # parameter, which is never translated.
            if self._kwargs is self._plain_kwargs or "log_min_error_statement" not in str(exc):
                raise
            self._kwargs = self._plain_kwargs
            log.warning("this database role may not set log_min_error_statement: PostgreSQL will "
                        "log the text of failing statements, parameters included. Have an "
                        "administrator run: ALTER ROLE <role> SET log_min_error_statement = panic")
            return super()._connect(key)


class Database:
    def __init__(self, dsn, size=8, application_name="casino"):
        self.size = size
        self._pool = _QuietPool(
            size, dsn,
            application_name=application_name,
            connect_timeout=5,
            # A dead peer is noticed in seconds, not after the kernel's two hours.
            keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
        )
        # psycopg2's pool closes a returned connection when it already keeps `minconn`
        # idle ones, and opens `minconn` at construction. Starting at 0 and raising it
        # afterwards opens connections only when needed (the database may be down at
        # start) and then keeps every one of them.
        self._pool.minconn = size
        self._executor = ThreadPoolExecutor(size, thread_name_prefix="db")

    async def transaction(self, fn, *args):
        """Run fn(cursor, *args) in one transaction on a worker thread; return its result."""
        WAITING.inc()
        return await IOLoop.current().run_in_executor(self._executor, self.run_sync, False, fn, *args)

    async def statement(self, fn, *args):
        """Run fn(cursor, *args), which issues exactly one statement, in autocommit mode:
        the statement is its own transaction, and the call costs one round trip (no BEGIN,
        no COMMIT). fn must be idempotent: after a lost connection it runs again."""
        WAITING.inc()
        return await IOLoop.current().run_in_executor(self._executor, self.run_sync, True, fn, *args)

    def run_sync(self, autocommit, fn, *args):
        WAITING.dec()
        try:
            return self._run(autocommit, fn, *args)
        except DatabaseUnavailable:
            ERRORS.labels("unavailable").inc()
            raise

    def _run(self, autocommit, fn, *args):
        conflicts = 0
        # A restart of PostgreSQL leaves every pooled connection dead; each attempt throws
        # one away, so size + 1 attempts always reach a fresh connection or a refusal.
        lost = 0
        while True:
            conn = self._checkout()
            if conn.autocommit != autocommit:
                conn.autocommit = autocommit
            try:
                with conn.cursor() as cur:
                    result = fn(cur, *args)
            except psycopg2.errors.TransactionRollbackError:
                self._checkin(conn)
                ERRORS.labels("conflict_retry").inc()
                conflicts += 1
                if conflicts >= MAX_CONFLICT_ATTEMPTS:
                    raise DatabaseUnavailable("transaction kept conflicting")
                continue
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                broken = conn.closed != 0
                self._checkin(conn)
                # In a transaction, the statement failed before COMMIT was sent, so nothing
                # was applied; in autocommit, fn is idempotent. Either way a new connection
                # may try again.
                if broken:
                    ERRORS.labels("connection_lost").inc()
                if broken and lost <= self.size:
                    lost += 1
                    continue
                raise DatabaseUnavailable(str(exc).strip()) from exc
            except BaseException:
                self._checkin(conn)
                raise
            try:
                if not autocommit:
                    conn.commit()
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                # Whether the commit landed is unknown: never retry here. The caller gets
                # 503 and resends with the same transactionId, which the ledger makes safe.
                self._checkin(conn)
                raise DatabaseUnavailable(str(exc).strip()) from exc
            self._checkin(conn)
            return result

    def _checkout(self):
        try:
            conn = self._pool.getconn()
        except (psycopg2.OperationalError, psycopg2.pool.PoolError) as exc:
            raise DatabaseUnavailable(str(exc).strip()) from exc
        IN_USE.inc()
        return conn

    def _checkin(self, conn):
        IN_USE.dec()
        if conn.closed:
            self._pool.putconn(conn, close=True)
            return
        try:
            if conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                conn.rollback()
            self._pool.putconn(conn)
        except psycopg2.Error:
            self._pool.putconn(conn, close=True)

    def close(self):
        self._executor.shutdown(wait=True)
        self._pool.closeall()
