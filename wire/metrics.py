"""Prometheus metrics of the HTTP side, and the /metrics page for every process.

With --processes N each worker writes its samples to PROMETHEUS_MULTIPROC_DIR (set by
the parent before the workers start, as prometheus-client's multiprocess mode wants),
and whichever worker answers /metrics sums them all.
"""
import os
from collections.abc import Iterable

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram,
                               generate_latest, multiprocess)

REQUESTS = Counter("http_requests_total", "Requests answered, by endpoint, method and status",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("http_request_duration_seconds", "Time to answer, by endpoint", ["endpoint"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
REPLAYS = Counter("wallet_idempotent_replays_total", "Stored answers replayed, by endpoint", ["endpoint"])
# Key loads a request asked for (a key id not known yet: wire/keyring.py), by key ring: a
# fixed name each ("operator keys", "casino keys", "provider keys").
KEY_RELOADS = Counter("key_reloads_on_demand_total", "Key loads made at a request's demand, by key ring",
                      ["keys"])
REFUSALS = Counter("http_errors_total", "Error answers, by endpoint and error code", ["endpoint", "code"])

# Every label value comes from a fixed set, whatever a caller sends, so no request can add
# a series (each costs memory until a restart, and every scrape): the endpoint is the
# route's template (`/casino/admin/players/{userId}`, never the path) or UNROUTED, the
# method one of METHODS or OTHER, the status one the server chose, the code a known one or OTHER.
UNROUTED = "unrouted"
OTHER = "other"
METHODS = frozenset(("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS"))
# The codes the wire layer answers itself; the application adds its catalogue's (know_codes).
_codes = {"INVALID_REQUEST", "NOT_FOUND", "METHOD_NOT_ALLOWED", "PAYLOAD_TOO_LARGE", "INVALID_SIGNATURE",
          "UNAUTHORIZED", "FORBIDDEN", "SERVICE_UNAVAILABLE", "INTERNAL_ERROR"}


def know_codes(codes: Iterable[str]) -> None:
    """Error codes the application answers (its documented refusals), kept as themselves."""
    _codes.update(codes)


# (endpoint, method, status) -> its request counter and latency histogram: labels() checks
# and locks on every call, and these two are looked up for every request. As bounded as the
# labels themselves (above).
_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def record_request(endpoint: str, method: str, status: int, seconds: float, replay: bool,
                   error_code: str | None) -> None:
    """endpoint: a route's template or UNROUTED, never a request's path."""
    if method not in METHODS:
        method = OTHER
    children = _children.get((endpoint, method, status))
    if children is None:
        children = _children[endpoint, method, status] = (REQUESTS.labels(endpoint, method, str(status)),
                                                          LATENCY.labels(endpoint))
    children[0].inc()
    children[1].observe(seconds)
    if replay:
        REPLAYS.labels(endpoint).inc()
    if error_code:
        REFUSALS.labels(endpoint, error_code if error_code in _codes else OTHER).inc()


def exposition() -> tuple[str, bytes]:
    """(content type, body) of the /metrics page."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus-client leaves it unannotated
    else:
        registry = REGISTRY
    return CONTENT_TYPE_LATEST, generate_latest(registry)
