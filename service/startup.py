"""What the service checks before it serves, each failure one line (StartupError).

In the order server.py runs them: the port is free (before any database is created or
migrated), the database answers and is PostgreSQL 15 or newer. The data directory's own
checks (writable, not served by another process) are db/embedded.py's.
"""
import errno
import ipaddress
import socket

import psycopg2
import tornado.netutil

from db.config import redact
from wire import transport

MIN_SERVER_VERSION = 150000   # UNIQUE NULLS NOT DISTINCT


class StartupError(RuntimeError):
    """The service cannot start; the message is the whole line to print."""


def is_loopback(host):
    """Whether every address `host` names is a loopback one (development mode's bound)."""
    try:
        infos = socket.getaddrinfo(host or None, None, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def _bind_error(host, port, exc):
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return StartupError(f"port {port} is already in use on {host} (another server?): "
                            "stop it, or choose another --port / PORT")
    if exc.errno == errno.EACCES:
        return StartupError(f"not allowed to listen on {where} (ports below 1024 need privileges)")
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return StartupError(f"cannot listen on {where}: no such local address")
    return StartupError(f"cannot listen on {where}: {exc.strerror or exc}")


def listen(host, port, reuse_port=False):
    """The listening sockets of a single-process server, or (reuse_port) of a --processes
    worker joining the port its supervisor holds."""
    try:
        return tornado.netutil.bind_sockets(port, host, reuse_port=reuse_port, backlog=transport.LISTEN_BACKLOG)
    except OSError as exc:
        raise _bind_error(host, port, exc) from None


def hold_port(host, port):
    """The socket a --processes supervisor holds (bound, never listening) for its workers to
    share with SO_REUSEPORT; it also resolves port 0 to one port for all of them.

    SO_REUSEPORT would let a second server join the port too, so the port is first bound
    without it: that fails while anyone else holds it."""
    try:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.bind((host, port))
            port = probe.getsockname()[1]
        finally:
            probe.close()
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind((host, port))
    except OSError as exc:
        raise _bind_error(host, port, exc) from None
    return holder


# Whether the database's casino_clock() is the test clock (casino_install_test_clock()).
TEST_CLOCK_INSTALLED = """
    SELECT EXISTS (SELECT 1 FROM CASINO_JURISDICTIONS WHERE code = %s),
           position('casino_test_clock' IN (SELECT prosrc FROM pg_proc WHERE oid = 'casino_clock()'::regprocedure)) > 0
"""


def check_protection(dsn, default_jurisdiction, test_clock_allowed):
    """After the migrations: DEFAULT_JURISDICTION names a jurisdiction of the database, and
    the database's clock for limits and exclusions is the real one unless the server drives
    test rounds (--test-driver, or development mode): a test clock can be frozen by a row of
    CASINO_TEST_CLOCK. Returns whether the test clock is installed."""
    conn = psycopg2.connect(dsn, connect_timeout=5)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(TEST_CLOCK_INSTALLED, (default_jurisdiction,))
            row = cur.fetchone()
            assert row is not None, "the query answers one row"
            known, test_clock = row
    finally:
        conn.close()
    if not known:
        raise StartupError(f"DEFAULT_JURISDICTION={default_jurisdiction}: the database has no such jurisdiction "
                           "(GET /casino/admin/jurisdictions lists them)")
    if test_clock and not test_clock_allowed:
        raise StartupError("the database's clock for limits and exclusions is a test clock (a test may freeze it): "
                           "a server serves it only with --test-driver; python -m sql.migrate puts the real one "
                           "back once sql/functions/casino_calls.sql is applied again")
    return test_clock


def check_database(dsn):
    """Connect once: the database answers, and is new enough. Returns its version text."""
    try:
        conn = psycopg2.connect(dsn, connect_timeout=5)
    except psycopg2.Error as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise StartupError(f"cannot reach the database at {redact(dsn)}: {message}") from None
    try:
        version_num = conn.server_version
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            row = cur.fetchone()
            assert row is not None, "SHOW answers one row"
            version = row[0]
    finally:
        conn.close()
    if version_num < MIN_SERVER_VERSION:
        raise StartupError(f"the database at {redact(dsn)} runs PostgreSQL {version}; "
                           f"15 or newer is required")
    return version
