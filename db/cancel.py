"""Stopping a running statement from another thread: libpq's cancel request, and, for a
server that answers nothing (not even the cancel), shutting the connection's socket.

The cancel goes through the libpq psycopg2 itself runs on, by ctypes, because psycopg2's
own conn.cancel() holds the GIL while libpq waits for the server to acknowledge, which a
frozen server never does: the whole process would stop with it.
"""
import ctypes
import os
import socket

import psycopg2
import psycopg2.extensions

Connection = psycopg2.extensions.connection


def _libpq() -> ctypes.CDLL | None:
    """The libpq psycopg2 itself runs on (psycopg2-binary bundles its own), for its cancel."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "libpq" in line and line.rstrip().endswith(tuple("0123456789"))}
    for path in sorted(paths):
        lib = ctypes.CDLL(path)
        lib.PQgetCancel.restype = ctypes.c_void_p
        lib.PQgetCancel.argtypes = [ctypes.c_void_p]
        lib.PQcancel.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        lib.PQfreeCancel.argtypes = [ctypes.c_void_p]
        return lib
    return None


try:
    LIBPQ = _libpq()
except OSError:
    LIBPQ = None


def cancel_handle(conn: Connection) -> int | None:
    """A copy of what a cancel request needs (address, backend key), which outlives conn."""
    if LIBPQ is None or conn.closed:
        return None
    handle: int | None = LIBPQ.PQgetCancel(conn.pgconn_ptr)
    return handle


def send_cancel(handle: int | None) -> None:
    """Send the cancel request (ctypes lets go of the GIL for the call) and free the handle."""
    if handle and LIBPQ is not None:
        try:
            LIBPQ.PQcancel(handle, ctypes.create_string_buffer(256), 256)
        finally:
            LIBPQ.PQfreeCancel(handle)


def shut_socket(conn: Connection) -> None:
    """Wake a thread blocked reading from a server that answers nothing: its libpq call
    fails at once and the connection counts as broken."""
    try:
        with socket.socket(fileno=os.dup(conn.fileno())) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, psycopg2.Error):
        pass
