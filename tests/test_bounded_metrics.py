"""Bounded metrics: every label of /metrics comes from a fixed set -- the route's template
(or `unrouted`), the method (or `other`), the status, the error code (a documented one, or
`other`) -- so no caller, keyed or not, grows /metrics or the process by sending new paths,
bodies, ids or methods.

10 000 requests with distinct paths, bodies, query strings and request ids, keyed and
key-less, after a warm-up of the same mix: the number of series in /metrics does not
change, and the server's RSS grows by less than RSS_BOUND."""
import json
import random
import uuid
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support import DEMO_KEY, OPERATOR_KEY, ServerProcess, signed

REQUESTS = 10_000
WARM_UP = 1_000
THREADS = 4
# What 10 000 requests may add to the server's resident memory once warmed up: allocator
# noise, not a per-request cost (one series per distinct path was ~4.5 KB: 10 000 of them
# would be ~45 MB). Measured in docs/performance.md ("Bounded metrics").
RSS_BOUND = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def own_server(service_dsn, ledger):
    ledger.demo_provider()      # JAQPOT's row: the environment key's signed calls need no reload
    server = ServerProcess(service_dsn).start()
    yield server
    server.stop()


def series(url):
    text = requests.get(url + "/metrics", timeout=30).text
    return {(sample.name, tuple(sorted(sample.labels.items())))
            for family in text_string_to_metric_families(text) for sample in family.samples}


def rss(server):
    return psutil.Process(server.proc.pid).memory_info().rss


def noise(n=24):
    return uuid.uuid4().hex[:n]


def attack(http, base, i):
    """One request of the mix, chosen by i; every one with a path, id and body of its own."""
    headers = {"X-Request-Id": f"metrics-{i}-{noise()}"}
    keyed = {**headers, "Authorization": f"Bearer {OPERATOR_KEY}"}
    kind = i % 10
    if kind == 0:     # the review's: key-less reads of made-up players (401)
        return http.get(f"{base}/casino/admin/players/{noise()}", headers=headers)
    if kind == 1:     # keyed reads of players that do not exist (404 USER_NOT_FOUND)
        return http.get(f"{base}/casino/admin/players/{random.randrange(10**9, 10**12)}?q={noise()}",
                        headers=keyed)
    if kind == 2:     # keyed, made-up round ids, the longest an id may be (404 ROUND_UNKNOWN) or longer (400)
        return http.get(f"{base}/casino/admin/rounds/JAQPOT/{noise(25) * (4 if i % 20 == 2 else 300)}", headers=keyed)
    if kind == 3:     # keyed, a path parameter that is no id (400)
        return http.get(f"{base}/casino/admin/players/{noise()}", headers=keyed)
    if kind == 4:     # a wrong key (401)
        return http.get(f"{base}/casino/admin/players/{i}", headers={**headers, "Authorization": f"Bearer {noise()}"})
    if kind == 5:     # unsigned money calls with bodies of their own (401)
        return http.post(f"{base}/casino/debit", data=json.dumps({"transactionId": noise(), "x": noise(64)}),
                         headers=headers)
    if kind == 6:     # signed money calls for sessions that do not exist (404 SESSION_NOT_FOUND)
        data = json.dumps({"sessionToken": noise(), "userId": i + 1, "transactionId": noise(), "roundId": noise(),
                           "amount": 1, "currency": "USD"}).encode()
        return http.post(f"{base}/casino/debit", data=data,
                         headers={**headers, **signed("/casino/debit", data, DEMO_KEY, "x-casino-signature")})
    if kind == 7:     # no such endpoint (404 NOT_FOUND)
        return http.get(f"{base}/{noise()}/{noise()}", headers=headers)
    if kind == 8:     # made-up methods (405)
        return http.request(noise(8).upper().replace("0", "X"), f"{base}/casino/admin/players/{noise()}",
                            headers=headers)
    return http.post(f"{base}/casino/admin/deposits", data=noise(40), headers=keyed)   # not JSON (400)


def send(url, start, count):
    sessions = [requests.Session() for _ in range(THREADS)]

    def run(t):
        statuses = set()
        for i in range(start + t, start + count, THREADS):
            statuses.add(attack(sessions[t], url, i).status_code)
        return statuses

    with ThreadPoolExecutor(THREADS) as pool:
        seen = set().union(*pool.map(run, range(THREADS)))
    for session in sessions:
        session.close()
    return seen


def test_ten_thousand_distinct_requests_add_no_series_and_no_memory(own_server):
    url = own_server.url
    send(url, 0, WARM_UP)
    series_before, rss_before = series(url), rss(own_server)

    statuses = send(url, WARM_UP, REQUESTS)

    series_after, rss_after = series(url), rss(own_server)
    assert statuses == {400, 401, 404, 405}, statuses
    new = series_after - series_before
    assert not new, f"{len(new)} new series, e.g. {sorted(new)[:3]}"
    print(f"\n/metrics: {len(series_before)} series before, {len(series_after)} after {REQUESTS} requests; "
          f"RSS {rss_before / 2**20:.1f} -> {rss_after / 2**20:.1f} MiB ({(rss_after - rss_before) / 2**10:+.0f} KiB)")
    assert rss_after - rss_before < RSS_BOUND


def documented(url):
    """The document's paths, and every error code it names."""
    document = requests.get(url + "/openapi.json", timeout=30).json()
    codes = set()
    for operations in document["paths"].values():
        for operation in operations.values():
            for answer in operation["responses"].values():
                schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
                for part in schema.get("allOf", []):
                    codes.update(part.get("properties", {}).get("error", {}).get("properties", {})
                                 .get("code", {}).get("enum", []))
    return set(document["paths"]), codes


def test_every_label_comes_from_a_fixed_set(own_server):
    url = own_server.url
    send(url, 50_000, 200)
    labels = {}
    for _, pairs in series(url):
        for name, value in pairs:
            labels.setdefault(name, set()).add(value)
    paths, codes = documented(url)
    assert {"/casino/admin/players/{userId}", "/casino/admin/rounds/{providerCode}/{roundId}", "/casino/debit",
            "unrouted"} <= labels["endpoint"]
    assert labels["endpoint"] <= paths | {"unrouted"}, labels["endpoint"] - paths
    assert "other" in labels["method"]
    assert labels["method"] <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
    assert {"UNAUTHORIZED", "USER_NOT_FOUND", "ROUND_UNKNOWN", "SESSION_NOT_FOUND",
            "METHOD_NOT_ALLOWED"} <= labels["code"]
    assert labels["code"] <= codes | {"METHOD_NOT_ALLOWED", "other"}, labels["code"] - codes
