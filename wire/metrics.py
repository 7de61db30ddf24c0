"""Prometheus metrics of the HTTP side, and the /metrics page for every process.

With --processes N each worker writes its samples to PROMETHEUS_MULTIPROC_DIR (set by
the parent before the workers start, as prometheus-client's multiprocess mode wants),
and whichever worker answers /metrics sums them all.
"""
import os

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram,
                               generate_latest, multiprocess)

REQUESTS = Counter("http_requests_total", "Requests answered, by endpoint and status", ["endpoint", "status"])
LATENCY = Histogram("http_request_duration_seconds", "Time to answer, by endpoint", ["endpoint"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
REPLAYS = Counter("wallet_idempotent_replays_total", "Stored answers replayed, by endpoint", ["endpoint"])
REFUSALS = Counter("http_errors_total", "Error answers, by endpoint and error code", ["endpoint", "code"])


def record_request(endpoint: str, status: int, seconds: float, replay: bool, error_code: str | None) -> None:
    REQUESTS.labels(endpoint, str(status)).inc()
    LATENCY.labels(endpoint).observe(seconds)
    if replay:
        REPLAYS.labels(endpoint).inc()
    if error_code:
        REFUSALS.labels(endpoint, error_code).inc()


def exposition() -> tuple[str, bytes]:
    """(content type, body) of the /metrics page."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus-client leaves it unannotated
    else:
        registry = REGISTRY
    return CONTENT_TYPE_LATEST, generate_latest(registry)
