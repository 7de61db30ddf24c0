"""GET /metrics: Prometheus text, one process or several."""
import json
import uuid

import requests
from prometheus_client.parser import text_string_to_metric_families

from sql.migrate import migrate
from tests.databases import create_database
from tests.support import Api, Ledger, ServerProcess, casino_headers


def samples(api):
    r = api.http.get(api.base_url + "/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name, **labels):
    return found.get((name, tuple(sorted(labels.items()))), 0)


def play(api, ledger, bets):
    game = ledger.game()
    user_id, wallets = ledger.player(funds=1_000)
    token = ledger.session(user_id, wallets["USD"], game)
    body = {"sessionToken": token, "userId": user_id, "roundId": "r", "currency": "USD"}
    for i in range(bets):
        api.casino("debit", {**body, "transactionId": f"m-{i}", "amount": 10})
    api.casino("debit", {**body, "transactionId": "m-0", "amount": 10})            # a replay
    api.casino("debit", {**body, "transactionId": "m-big", "amount": 10_000})      # a refusal


def test_requests_replays_refusals_and_pool_are_counted(api, ledger):
    before = samples(api)
    play(api, ledger, bets=5)
    after = samples(api)
    delta = lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)
    assert delta("http_requests_total", endpoint="/casino/debit", method="POST", status="200") == 6
    assert delta("http_requests_total", endpoint="/casino/debit", method="POST", status="422") == 1
    assert delta("wallet_idempotent_replays_total", endpoint="/casino/debit") == 1
    assert delta("http_errors_total", endpoint="/casino/debit", code="INSUFFICIENT_FUNDS") == 1
    assert delta("http_request_duration_seconds_count", endpoint="/casino/debit") == 7
    assert ("db_pool_connections_in_use", ()) in after
    assert ("db_pool_calls_waiting", ()) in after


def test_metrics_add_up_across_processes():
    dsn = create_database("metrics")
    migrate(dsn, log=lambda _: None)
    server = ServerProcess(dsn, args=["--processes", "2"]).start()
    try:
        api = Api(server.url)
        # New connections for each call, so the kernel spreads them over both workers.
        ledger = Ledger(dsn)
        game = ledger.game()
        user_id, wallets = ledger.player(funds=10_000)
        token = ledger.session(user_id, wallets["USD"], game)
        for _ in range(40):
            data = json.dumps({"sessionToken": token, "userId": user_id, "roundId": "r", "currency": "USD",
                               "transactionId": f"mp-{uuid.uuid4().hex}", "amount": 1}).encode()
            r = requests.post(server.url + "/casino/debit", data=data,
                              headers={**casino_headers("debit", data), "Connection": "close"})
            assert r.status_code == 200
        found = samples(api)
        assert value(found, "http_requests_total", endpoint="/casino/debit", method="POST", status="200") == 40
        assert len(server.proc_children()) == 2
    finally:
        server.stop()
