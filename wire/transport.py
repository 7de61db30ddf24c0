"""The HTTP server's edge: what one client can hold of a process is bounded here, before
any handler runs.

- A new connection has HEADER_TIMEOUT seconds to send its first request's headers, whole;
  a kept-alive connection has IDLE_TIMEOUT seconds to send the next request's. Then it is
  closed.
- A body must have arrived whole BODY_TIMEOUT seconds after its headers.
- These deadlines are kept by one timer per process (_Deadlines), not by Tornado's own
  timeouts, which cost a timer and two futures per request and phase.
- No more than MAX_BODY_BYTES + 1 bytes of a body reach the application, and Tornado reads
  a body a chunk at a time. A Content-Length above the limit goes to the handler (which
  answers 413) as soon as the headers are read, a chunked body as soon as it passes the
  limit; what follows is read and dropped until the answer is out, and the connection is
  closed.
- At most MAX_CONNECTIONS connections are open per process. A new one beyond that closes
  the connection that has waited longest on its client (idle, or still sending a request),
  as nginx reuses its idle connections; when every connection has a request in the
  application, the new one is closed at once. The cap stays below the open-file limit, so
  accept() does not run out of descriptors; should it anyway, accepting pauses briefly and
  one warning is logged, rather than a traceback per attempt.
- Tornado's own answer to a request it cannot parse, a bare 400, gets the protocol's error
  body and an X-Request-Id.
"""
import asyncio
import errno
import logging
import math
import re
import resource
import secrets
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any

import tornado.httpserver
import tornado.iostream
from prometheus_client import Counter
from tornado import httputil
from tornado.ioloop import IOLoop

from . import logs, metrics, refusals

log = logging.getLogger("transport")

MAX_BODY_BYTES = 64 * 1024
# Our requests carry a handful of short headers; a slow client parks at most this much.
MAX_HEADER_BYTES = 16 * 1024
# What one read from a client's socket takes at most. Tornado's default of 64 KB is a new,
# zero-filled 64 KB buffer per read, two reads per request (the request, and the EAGAIN
# that ends it), for requests of about half a kilobyte; a larger request or body simply
# takes more reads.
READ_CHUNK_BYTES = 4 * 1024
# Descriptors left to everything but client connections: the database pool, the outbound
# HTTP clients, log files, the listening sockets.
RESERVED_DESCRIPTORS = 128
# Tornado's default of 128 overflows under a burst of connects, and each overflowed client
# waits a second or more for its SYN to be retried.
LISTEN_BACKLOG = 1024
ACCEPT_PAUSE_SECONDS = 0.1
WARNING_INTERVAL_SECONDS = 10.0

SHED = Counter("http_connections_shed_total",
               "Connections closed to stay within MAX_CONNECTIONS: evicted (waited longest on "
               "its client) or refused (every connection busy)", ["reason"])


@dataclass(frozen=True)
class Limits:
    # The defaults of HEADER_TIMEOUT, BODY_TIMEOUT, IDLE_TIMEOUT and MAX_CONNECTIONS, which
    # service/settings.py reads (Settings.transport_limits).
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    idle_timeout: float = 60.0
    max_connections: int = 1024


_LENGTH_SEPARATOR = re.compile(r",[ \t]*")
_DIGITS = re.compile(r"[0-9]+")


def declared_length(headers: httputil.HTTPHeaders) -> int | float | None:
    """The body length a request's Content-Length declares, or None: absent (chunked or no
    body) or malformed, which Tornado answers with its own 400 before any handler runs."""
    value = headers.get("Content-Length")
    if value is None:
        return None
    # Proxies may repeat the header; Tornado accepts identical copies, and so do we.
    pieces = set(_LENGTH_SEPARATOR.split(value))
    digits = pieces.pop()
    if pieces or not _DIGITS.fullmatch(digits):
        return None
    digits = digits.lstrip("0") or "0"
    # Compared by length first: int() of a header-sized run of digits is slow, or refused.
    return int(digits) if len(digits) <= 18 else math.inf


def body_too_large(request: httputil.HTTPServerRequest) -> bool:
    """Whether a request's body is over the protocol's limit, said by its Content-Length or
    by the MAX_BODY_BYTES + 1 bytes the transport lets through."""
    return len(request.body) > MAX_BODY_BYTES or (declared_length(request.headers) or 0) > MAX_BODY_BYTES


class HttpServer(tornado.httpserver.HTTPServer):
    """Tornado's HTTPServer with the limits above. Construction raises the process's soft
    limit on open files to its hard limit."""

    # Tornado's Configurable: HTTPServer(app, limits) calls this; its own initialize takes
    # Tornado's options, which ours are made of.
    def initialize(self, request_callback: Any, limits: Limits) -> None:  # type: ignore[override]  # other arguments than Tornado's, by design
        self.limits = limits
        self.max_connections = _connection_cap(limits.max_connections)
        super().initialize(
            request_callback,
            body_timeout=None,      # _Deadlines keeps it, and the header deadlines (below)
            max_header_size=MAX_HEADER_BYTES,
            # _BodyLimit enforces the limit with the protocol's 413; Tornado's own check
            # would answer a bare 400 before the handler could.
            max_body_size=math.inf,  # type: ignore[arg-type]  # no bound at all: any int would answer a larger declared length 400
        )
        # Tornado reads None here as its default of an hour, and would still arm a timer per
        # request for it: no header timeout of Tornado's at all.
        self.conn_params.header_timeout = None
        self._deadlines = _Deadlines((limits.header_timeout, limits.idle_timeout, limits.body_timeout))
        self._requests: dict[tornado.iostream.IOStream, int] = {}   # open stream -> requests started on it
        # Streams with no request in the application, longest waiting first.
        self._waiting: OrderedDict[tornado.iostream.IOStream, None] = OrderedDict()

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        """Takes ownership of the sockets (as Tornado's does)."""
        super().add_sockets([_Listener(sock) for sock in sockets])

    def _handle_connection(self, connection: socket.socket, address: Any) -> None:
        # Replaces TCPServer's (private) one, without its TLS branch (never used here),
        # to refuse past the cap before anything is allocated, and to make our stream class.
        if len(self._requests) >= self.max_connections and not self._evict():
            SHED.labels("refused").inc()
            connection.close()
            return
        try:
            stream = _Stream(connection, max_buffer_size=self.max_buffer_size, read_chunk_size=READ_CHUNK_BYTES)
            self._requests[stream] = 0
            self._waiting[stream] = None
            self.handle_stream(stream, address)
        except Exception:
            log.exception("error setting up a connection")

    def _evict(self) -> bool:
        """Close the connection that has waited longest on its client; False when every
        connection has a request in the application."""
        if not self._waiting:
            return False
        stream, _ = self._waiting.popitem(last=False)
        del self._requests[stream]
        self._deadlines.settle(stream)
        stream.close()
        SHED.labels("evicted").inc()
        return True

    def start_request(self, server_conn: object,
                      request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        delegate = super().start_request(server_conn, request_conn)
        stream = server_conn.stream  # type: ignore[attr-defined]  # an HTTP1ServerConnection, which Tornado types as object
        started = self._requests.get(stream)
        if started is None:  # evicted: its read fails at once
            return delegate
        self._requests[stream] = started + 1
        self._waiting[stream] = None
        self._waiting.move_to_end(stream)
        # Its first request's headers within HEADER_TIMEOUT, a later one's within IDLE_TIMEOUT.
        self._deadlines.owe(stream, self.limits.idle_timeout if started else self.limits.header_timeout)
        return _BodyLimit(delegate, self, stream)

    def on_close(self, server_conn: object) -> None:
        stream = server_conn.stream  # type: ignore[attr-defined]  # an HTTP1ServerConnection, which Tornado types as object
        self._requests.pop(stream, None)
        self._waiting.pop(stream, None)
        self._deadlines.settle(stream)
        super().on_close(server_conn)

    def _headers_received(self, stream: tornado.iostream.IOStream) -> None:
        self._deadlines.owe(stream, self.limits.body_timeout)

    def _handed_over(self, stream: tornado.iostream.IOStream, whole: bool) -> None:
        """The request is the application's now: the stream no longer waits on its client.
        whole=False: handed over early, too large; the rest of the body is still read (and
        dropped) within the body's deadline."""
        self._waiting.pop(stream, None)
        if whole:
            self._deadlines.settle(stream)


class _Deadlines:
    """When each connection that waits on its client must have sent what it owes (its
    headers, its body), and the connection closed that has not by then. Deadlines of one
    timeout fall in the order they were set, so each timeout keeps its streams in a dict in
    that order, and one timer waits for the earliest deadline of all: a request costs a few
    dict operations, where Tornado's own timeouts (gen.with_timeout) cost a timer and two
    futures per request and phase (docs/performance.md, "Issue 23")."""

    def __init__(self, timeouts: Iterable[float]):
        # timeout -> {stream: its deadline}, earliest first.
        self._queues: dict[float, dict[tornado.iostream.IOStream, float]] = {t: {} for t in timeouts}
        self._owing: dict[tornado.iostream.IOStream, dict[tornado.iostream.IOStream, float]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._loop: asyncio.AbstractEventLoop | None = None

    def owe(self, stream: tornado.iostream.IOStream, timeout: float) -> None:
        """stream must have sent what it owes within timeout seconds (one of those given)."""
        self.settle(stream)
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        deadline = self._loop.time() + timeout
        queue = self._queues[timeout]
        queue[stream] = deadline
        self._owing[stream] = queue
        if deadline < self._timer_at:
            self._arm(deadline)

    def settle(self, stream: tornado.iostream.IOStream) -> None:
        queue = self._owing.pop(stream, None)
        if queue is not None:
            del queue[stream]

    def _arm(self, when: float) -> None:
        assert self._loop is not None, "armed by owe()"
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._expire)
        self._timer_at = when

    def _expire(self) -> None:
        assert self._loop is not None, "armed by owe()"
        self._timer, self._timer_at = None, math.inf
        now = self._loop.time()
        earliest = math.inf
        for queue in self._queues.values():
            while queue:
                stream = next(iter(queue))
                if queue[stream] > now:
                    earliest = min(earliest, queue[stream])
                    break
                self.settle(stream)
                stream.close()
        if earliest < math.inf:
            self._arm(earliest)


class _BodyLimit(httputil.HTTPMessageDelegate):
    """Hands a request to the application with at most MAX_BODY_BYTES + 1 bytes of its body,
    enough for the handler to see that it is too large, and as soon as that is known.
    The application's handlers read whole bodies (none streams), so headers_received
    gives nothing to wait for."""

    def __init__(self, delegate: httputil.HTTPMessageDelegate, server: HttpServer, stream: tornado.iostream.IOStream):
        self.delegate = delegate
        self.server = server
        self.stream = stream
        self.received = 0
        self.handed_over = False

    def headers_received(self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
                         headers: httputil.HTTPHeaders) -> Awaitable[None] | None:
        self.server._headers_received(self.stream)
        result = self.delegate.headers_received(start_line, headers)
        if (declared_length(headers) or 0) > MAX_BODY_BYTES:
            self._hand_over(whole=False)
        return result

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        if self.handed_over:
            return None
        room = MAX_BODY_BYTES + 1 - self.received
        self.received += len(chunk)
        result = self.delegate.data_received(chunk if len(chunk) <= room else chunk[:room])
        if self.received > MAX_BODY_BYTES:
            self._hand_over(whole=False)
        return result

    def finish(self) -> None:
        # Tornado's: the whole request was read.
        if self.handed_over:
            self.server._handed_over(self.stream, whole=True)
        else:
            self._hand_over(whole=True)

    def _hand_over(self, whole: bool) -> None:
        if not self.handed_over:
            self.handed_over = True
            self.server._handed_over(self.stream, whole)
            self.delegate.finish()

    def on_connection_close(self) -> None:
        self.delegate.on_connection_close()


_TORNADO_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\n\r\n"


class _Stream(tornado.iostream.IOStream):
    def __init__(self, connection: socket.socket, **kwargs: Any):
        super().__init__(connection, **kwargs)
        # Nagle's algorithm off for the connection's life. Tornado switches it off when a
        # response is finished and on again after, two setsockopt calls per request; its
        # responses leave in one write (headers and body together), which Nagle could only delay.
        super().set_nodelay(True)

    def set_nodelay(self, value: bool) -> None:
        """Tornado's per-response switch: a no-op, the connection has it off for good."""

    def write(self, data: bytes | memoryview) -> "asyncio.Future[None]":
        # Tornado writes exactly these bytes for a request it cannot parse (bad request
        # line, header or Content-Length, broken chunking), then closes the connection.
        if data == _TORNADO_BAD_REQUEST:
            data = _bad_request_answer()
        return super().write(data)


def new_request_id() -> str:
    """A request id of our own: 32 random hex digits, as unique as a UUID4's hex without
    building a UUID for every request."""
    return secrets.token_hex(16)


def _bad_request_answer() -> bytes:
    request_id = new_request_id()
    body = refusals.invalid("malformed HTTP request").body.encode()
    metrics.record_request(metrics.UNROUTED, metrics.OTHER, 400, 0.0, False, "INVALID_REQUEST")
    logs.access.write("info", "- - 400", {"request_id": request_id, "status": 400,
                                          "error_code": "INVALID_REQUEST"})
    head = ("HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\nX-Request-Id: {request_id}\r\n\r\n")
    return head.encode() + body


class _Listener(socket.socket):
    """A listening socket whose accept() never fails for want of descriptors or memory.
    Tornado's accept loop would log a traceback for it and, the connection still queued,
    try again at once: thousands of tracebacks a second. Here accepting pauses instead."""

    _EXHAUSTED = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)

    def __init__(self, sock: socket.socket):
        super().__init__(sock.family, sock.type, sock.proto, fileno=sock.detach())
        self._warned_at = -math.inf
        self._paused = 0

    def accept(self) -> tuple[socket.socket, Any]:
        try:
            return super().accept()
        except OSError as exc:
            if exc.errno not in self._EXHAUSTED:
                raise
            self._pause(exc)
            # Ends Tornado's accept loop for now, quietly.
            raise BlockingIOError(errno.EAGAIN, "accepting paused") from exc

    def _pause(self, exc: OSError) -> None:
        self._paused += 1
        now = time.monotonic()
        if now - self._warned_at >= WARNING_INTERVAL_SECONDS:
            log.warning("accept failed (%s) %d time(s); pausing accepts for %ss each time",
                        exc.strerror, self._paused, ACCEPT_PAUSE_SECONDS)
            self._warned_at, self._paused = now, 0
        io_loop = IOLoop.current()
        io_loop.update_handler(self, 0)
        io_loop.call_later(ACCEPT_PAUSE_SECONDS, self._resume, io_loop)

    def _resume(self, io_loop: IOLoop) -> None:
        if self.fileno() != -1:  # not closed by server.stop() meanwhile
            io_loop.update_handler(self, IOLoop.READ)


def _connection_cap(requested: int) -> int:
    """requested, lowered to what the process can open after raising the soft limit on
    open files to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, hard, exc)
    if soft == resource.RLIM_INFINITY:
        return requested
    possible = max(1, soft - RESERVED_DESCRIPTORS)
    if requested > possible:
        log.warning("MAX_CONNECTIONS %d lowered to %d: the process may open %d files", requested, possible, soft)
        return possible
    return requested
