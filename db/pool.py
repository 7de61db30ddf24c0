"""Runs blocking psycopg2 work off the IOLoop, one function per database transaction.

Handlers and services never see connections: they hand `Database.transaction` a function
that takes a cursor. The function runs on a worker thread, in one transaction that is
committed when it returns and rolled back when it raises; the connection always goes back
to the pool, or is closed when it broke (db/trouble.py tells a broken connection from a
failed statement).

There are exactly as many worker threads (db/workers.py) as the pool has connections, so a
thread never waits for a connection and a request waits in one queue only (the workers').

psycopg2 fills parameters into the statement text on the client, so PostgreSQL's log of
a failed statement would hold session tokens and ids. The pool's connections therefore
ask the server not to log the text of failing statements (log_min_error_statement =
panic); a role that may not set it gets connections without, and one warning.

No call waits for ever (DB_CALL_TIMEOUT, default 10 s, counted from the moment the call is
queued). PostgreSQL's own timeouts cannot promise that: statement_timeout is switched off
before a commit starts, so a commit waiting for a synchronous standby that is gone waits
for ever; lock_timeout bounds lock waits only; tcp_user_timeout and keepalives notice a dead
host but not a live one whose PostgreSQL stopped answering. So the bound is kept here:
  - at the deadline a watchdog (db/watchdog.py, with db/cancel.py) sends the running
    statement a cancel request (libpq's, which PgBouncer forwards too). A lock wait then
    fails and rolls back; a commit waiting for its standby stops waiting but stays
    committed on the primary, with only a WARNING;
  - a call that was cancelled is answered 503 whatever came back: its outcome is unknown
    to the caller, whose resend (same transactionId) gets the stored answer later;
  - CANCEL_GRACE after the deadline, a call still running (the server answers nothing, not
    even the cancel) has its socket shut down, which frees the thread, and the caller has
    had its 503 already: the IOLoop side never waits longer than the deadline plus the grace.
A commit whose replication wait someone else cancelled (pg_cancel_backend) is caught by its
WARNING and answered 503 too.

A read_only Database (the back office's views on DATABASE_READ_URL, a streaming standby)
runs every call as a transaction that begins `BEGIN READ ONLY` (psycopg2's per-connection
`readonly` with autocommit off), statement() included: nothing is session state, so it
works through a transaction pooler, and a write through it fails even on a primary. A
standby's query cancelled by a recovery conflict (SQLSTATE 40001) is retried like any
serialization failure.
"""
import asyncio
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.pool
from prometheus_client import Counter, Gauge

from .trouble import connection_trouble
from .watchdog import CANCEL_GRACE, Call, Watchdog
from .workers import Workers

log = logging.getLogger(__name__)

Connection = psycopg2.extensions.connection
T = TypeVar("T")

# Deadlocks and serialization failures are retried: the transaction was rolled back whole.
MAX_CONFLICT_ATTEMPTS = 5

DEFAULT_CALL_TIMEOUT = 10.0
# The text of PostgreSQL's warning for a commit that stopped waiting for its standby.
SYNC_REP_CANCELLED = "wait for synchronous replication"


class BadSetting(ValueError):
    """DB_CALL_TIMEOUT cannot be used; the message is the one line to print."""


def positive_seconds(text: str) -> float:
    """A number of seconds above zero, finite: DB_CALL_TIMEOUT's rule and SESSION_IDLE_TIMEOUT's
    (casino/sessions.py), for the server's settings and the tools that read them alike."""
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError("not a number") from None
    if not math.isfinite(seconds):
        raise ValueError("not a number")
    if not seconds > 0:
        raise ValueError("must be above 0")
    return seconds


def call_timeout_from_environment(environ: Mapping[str, str] = os.environ) -> float:
    """DB_CALL_TIMEOUT, for a command-line tool's Database (the server passes its settings'
    one); BadSetting (`DB_CALL_TIMEOUT=nan: not a number`) when it cannot be used."""
    text = environ.get("DB_CALL_TIMEOUT")
    if text is None:
        return DEFAULT_CALL_TIMEOUT
    try:
        return positive_seconds(text)
    except ValueError as exc:
        raise BadSetting(f"DB_CALL_TIMEOUT={text}: {exc}") from None


IN_USE = Gauge("db_pool_connections_in_use", "Connections lent to a call", multiprocess_mode="livesum")
WAITING = Gauge("db_pool_calls_waiting", "Calls queued for a connection", multiprocess_mode="livesum")
ERRORS = Counter("db_errors_total",
                 "Database trouble: conflict_retry, connection_lost, timeout, unavailable", ["kind"])


class DatabaseUnavailable(Exception):
    """The database cannot be reached, or a commit's outcome is unknown. Answer 503."""


QUIET_ERRORS = "-c log_min_error_statement=panic"


class _QuietPool(psycopg2.pool.ThreadedConnectionPool):
    """Opens connections with QUIET_ERRORS added to the DSN's own options, until the server
    refuses them; from then on, without. PostgreSQL refuses them for a role that may not set
    the parameter; PgBouncer refuses the `options` startup parameter itself (unless its
    ignore_startup_parameters lists it, which would drop the setting silently). Either way
    the role's own setting (ALTER ROLE ... SET log_min_error_statement = panic) is what
    counts then, and the warning is logged only when it is not panic."""

    # psycopg2's private state this class works on, which its type stubs leave out.
    _kwargs: dict[str, Any]

    def __init__(self, maxconn: int, dsn: str, **kwargs: Any):
        super().__init__(0, maxconn, dsn, **kwargs)
        own = psycopg2.extensions.parse_dsn(dsn).get("options", "")
        self._plain_kwargs = self._kwargs
        self._kwargs = dict(kwargs, options=f"{own} {QUIET_ERRORS}".strip())

    def _connect(self, key: object = None) -> Connection:
        # Overrides psycopg2's (private) one, which connects with self._kwargs; it runs
        # under the pool's lock.
        try:
            conn: Connection = super()._connect(key)  # type: ignore[misc]  # private, absent from the stubs
            return conn
        except psycopg2.OperationalError as exc:
            # Refused at start-up, so there is no SQLSTATE; the message names the
            # parameter, which is never translated.
            message = str(exc)
            if self._kwargs is self._plain_kwargs or not (
                    "log_min_error_statement" in message or "unsupported startup parameter" in message):
                raise
            self._kwargs = self._plain_kwargs
            conn = super()._connect(key)  # type: ignore[misc]  # private, absent from the stubs
            self._warn_unless_quiet(conn, message)
            return conn

    @staticmethod
    def _warn_unless_quiet(conn: Connection, refusal: str) -> None:
        setting: str | None
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW log_min_error_statement")
                row = cur.fetchone()
                setting = row[0] if row else None
            conn.rollback()
        except psycopg2.Error:
            setting = None
        if setting == "panic":
            log.info("connections without options (%s); the role's own log_min_error_statement "
                     "is panic", refusal.strip().splitlines()[-1])
            return
        log.warning("this database role may not set log_min_error_statement (or a pooler such as "
                    "PgBouncer refuses the options parameter): PostgreSQL will log the text of "
                    "failing statements, parameters included. Have an administrator run: "
                    "ALTER ROLE <role> SET log_min_error_statement = panic")


def _time_out(outcome: "asyncio.Future[Any]") -> None:
    if not outcome.done():
        outcome.set_exception(TimeoutError())


class Database:
    def __init__(self, dsn: str, size: int = 8, application_name: str = "casino", call_timeout: float | None = None,
                 read_only: bool = False):
        self.size = size
        self.read_only = read_only
        self.call_timeout = call_timeout_from_environment() if call_timeout is None else call_timeout
        self._pool = _QuietPool(
            size, dsn,
            application_name=application_name,
            connect_timeout=5,
            # A dead peer is noticed in seconds, not after the kernel's two hours; data sent
            # and never acknowledged fails the connection within the call's bound.
            keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
            tcp_user_timeout=int(self.call_timeout * 1000),
        )
        # psycopg2's pool closes a returned connection when it already keeps `minconn`
        # idle ones, and opens `minconn` at construction. Starting at 0 and raising it
        # afterwards opens connections only when needed (the database may be down at
        # start) and then keeps every one of them.
        self._pool.minconn = size
        self._workers = Workers(size, "db")
        self._watchdog = Watchdog(CANCEL_GRACE)
        self._local = threading.local()

    async def transaction(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(cursor, *args) in one transaction on a worker thread; return its result.
        Raises DatabaseUnavailable when it cannot finish within call_timeout."""
        return await self._submit(False, fn, args)

    async def statement(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(cursor, *args), which issues exactly one statement, in autocommit mode:
        the statement is its own transaction, and the call costs one round trip (no BEGIN,
        no COMMIT). fn must be idempotent: after a lost connection it runs again. On a
        read_only Database it runs in a read-only transaction instead (autocommit would need
        the session-level default_transaction_read_only)."""
        return await self._submit(True, fn, args)

    async def _submit(self, autocommit: bool, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        # The worker's outcome is passed to an asyncio future by one call_soon_threadsafe
        # (db/workers.py), and one loop timer bounds the wait: what
        # asyncio.wait_for(asyncio.wrap_future(...)) does, without its second future, task
        # and chained callbacks (docs/performance.md, "Issue 23", steps 2 and 9).
        loop = asyncio.get_running_loop()
        call = Call(time.monotonic() + self.call_timeout)
        outcome: asyncio.Future[T] = loop.create_future()
        WAITING.inc()
        job = self._workers.submit(outcome, self.run_sync, autocommit, fn, *args, call=call)
        timer = loop.call_later(self.call_timeout + CANCEL_GRACE, _time_out, outcome)
        try:
            return await outcome
        except TimeoutError:
            if job.cancel():     # still queued: it will never run
                WAITING.dec()
            ERRORS.labels("timeout").inc()
            raise DatabaseUnavailable(f"no answer from the database within {self.call_timeout:g}s") from None
        except asyncio.CancelledError:
            # Whoever awaited went away (a report whose client disconnected). A queued call
            # never runs; a running one is a read's, on a read-only pool, and is cancelled by
            # the watchdog as at its deadline, so its connection is free at once. A write
            # runs to its end: its outcome is stored, and a retry finds it.
            if job.cancel():
                WAITING.dec()
            elif self.read_only:
                call.deadline = time.monotonic()
            raise
        finally:
            timer.cancel()

    def run_sync(self, autocommit: bool, fn: Callable[..., T], *args: Any, call: Call | None = None) -> T:
        """Run fn on this thread (a worker's); call carries the deadline of a call queued
        from the IOLoop, else one starts now."""
        WAITING.dec()
        self._local.call = call
        try:
            return self._run(autocommit, fn, *args)
        except DatabaseUnavailable:
            ERRORS.labels("unavailable").inc()
            raise
        finally:
            self._local.call = None

    def _run(self, autocommit: bool, fn: Callable[..., T], *args: Any) -> T:
        # readonly under autocommit would be psycopg2's session-level SET: never here.
        autocommit = autocommit and not self.read_only
        conflicts = 0
        # A restart of PostgreSQL leaves every pooled connection dead; each attempt throws
        # one away, so size + 1 attempts always reach a fresh connection or a refusal.
        lost = 0
        call = getattr(self._local, "call", None) or Call(time.monotonic() + self.call_timeout)
        while True:
            if time.monotonic() >= call.deadline:
                ERRORS.labels("timeout").inc()
                raise DatabaseUnavailable(f"no answer from the database within {self.call_timeout:g}s")
            conn = self._checkout()
            if conn.autocommit != autocommit:
                conn.autocommit = autocommit
            if self.read_only and not conn.readonly:
                # Sends nothing: psycopg2 begins each transaction with BEGIN READ ONLY.
                conn.readonly = True
            del conn.notices[:]
            self._watchdog.attach(call, conn)
            try:
                with conn.cursor() as cur:
                    result = fn(cur, *args)
                    self._settled(call)
            except psycopg2.errors.TransactionRollbackError:
                self._checkin(conn, call)
                ERRORS.labels("conflict_retry").inc()
                conflicts += 1
                if conflicts >= MAX_CONFLICT_ATTEMPTS:
                    raise DatabaseUnavailable("transaction kept conflicting") from None
                continue
            except DatabaseUnavailable:
                self._checkin(conn, call)
                raise
            except (psycopg2.DatabaseError, psycopg2.InterfaceError) as exc:
                trouble = connection_trouble(exc, conn)
                broken = conn.closed != 0
                self._checkin(conn, call)
                if not trouble:
                    raise
                # In a transaction, the statement failed before COMMIT was sent, so nothing
                # was applied; in autocommit, fn is idempotent. Either way a new connection
                # may try again -- unless the watchdog stopped it: its time is up.
                if call.cancelled:
                    ERRORS.labels("timeout").inc()
                    raise DatabaseUnavailable(f"cancelled after {self.call_timeout:g}s: {exc}".strip()) from exc
                if broken:
                    ERRORS.labels("connection_lost").inc()
                if broken and lost <= self.size:
                    lost += 1
                    continue
                raise DatabaseUnavailable(str(exc).strip()) from exc
            except BaseException:
                self._checkin(conn, call)
                raise
            try:
                if not autocommit:
                    conn.commit()
                    self._settled(call)
            except (psycopg2.DatabaseError, psycopg2.InterfaceError, DatabaseUnavailable) as exc:
                # Whether the commit landed is unknown: never retry here. The caller gets
                # 503 and resends with the same transactionId, which the ledger makes safe.
                trouble = not isinstance(exc, psycopg2.Error) or connection_trouble(exc, conn)
                self._checkin(conn, call)
                if not trouble:
                    raise
                if isinstance(exc, DatabaseUnavailable):
                    raise
                raise DatabaseUnavailable(str(exc).strip()) from exc
            self._checkin(conn, call)
            return result

    def _settled(self, call: Call) -> None:
        """After a statement or commit came back without error: refuse to report as done
        what may not be. A cancelled call may have committed or not; a commit whose wait
        for its synchronous standby was cancelled (by us or anyone) is on the primary only,
        and would be lost with it."""
        if call.cancelled:
            ERRORS.labels("timeout").inc()
            raise DatabaseUnavailable(f"cancelled after {self.call_timeout:g}s; outcome unknown")
        if call.conn is not None and any(SYNC_REP_CANCELLED in notice for notice in call.conn.notices):
            raise DatabaseUnavailable("commit not confirmed by the synchronous standby; outcome unknown")

    def _checkout(self) -> Connection:
        try:
            conn = self._pool.getconn()
        except (psycopg2.OperationalError, psycopg2.pool.PoolError) as exc:
            raise DatabaseUnavailable(str(exc).strip()) from exc
        IN_USE.inc()
        return conn

    def _checkin(self, conn: Connection, call: Call | None = None) -> None:
        IN_USE.dec()
        if call is not None:
            self._watchdog.detach(call)
            if call.cancelled and not conn.closed:
                # A cancel request may still be on its way and would hit the connection's
                # next call: a connection that was cancelled is not used again.
                conn.close()
        if conn.closed:
            self._pool.putconn(conn, close=True)
            return
        try:
            if conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                conn.rollback()
            self._pool.putconn(conn)
        except psycopg2.Error:
            self._pool.putconn(conn, close=True)

    def close(self) -> None:
        self._workers.shutdown()
        self._watchdog.stop()
        self._pool.closeall()
