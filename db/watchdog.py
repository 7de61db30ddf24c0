"""The bound on a database call that PostgreSQL's own timeouts cannot promise (db/pool.py
says why): one thread per Database that watches the calls running on its connections and,
at a call's deadline, sends its statement a cancel request (libpq's, which PgBouncer
forwards too); CANCEL_GRACE later, a call still running has its socket shut down, which
frees its thread (db/cancel.py)."""
import threading
import time

import psycopg2.extensions

from .cancel import cancel_handle, send_cancel, shut_socket

Connection = psycopg2.extensions.connection

# After the cancel, how long a call may take to come back before its socket is shut.
CANCEL_GRACE = 1.0


class Call:
    """One database call: its deadline, the connection it runs on, what the watchdog did."""
    __slots__ = ("deadline", "conn", "cancelled", "severed")

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.conn: Connection | None = None
        self.cancelled = False      # a cancel request was sent: the outcome is unknown
        self.severed = False


class Watchdog:
    """One thread per Database that cancels, then cuts off, calls past their deadline."""

    def __init__(self, grace: float):
        self.grace = grace
        self.lock = threading.Lock()
        self.calls: set[Call] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="db-watchdog", daemon=True)
        self._thread.start()

    def attach(self, call: Call, conn: Connection) -> None:
        with self.lock:
            call.conn = conn
            self.calls.add(call)

    def detach(self, call: Call) -> None:
        with self.lock:
            self.calls.discard(call)

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            now = time.monotonic()
            with self.lock:
                for call in self.calls:
                    if call.conn is None:
                        continue
                    if now >= call.deadline and not call.cancelled:
                        call.cancelled = True
                        threading.Thread(target=send_cancel, args=(cancel_handle(call.conn),),
                                         name="db-cancel", daemon=True).start()
                    if now >= call.deadline + self.grace and not call.severed:
                        call.severed = True
                        shut_socket(call.conn)
