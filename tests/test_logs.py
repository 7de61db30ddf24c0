"""One structured log line per request, carrying ids and outcomes but never secrets or bodies."""
import json
import uuid

from tests.support import (CASINO_SECRET, DEMO_CASINO_KEY, PROVIDER_SECRET, Api, ServerProcess, casino_headers,
                           logged, signed)


def test_each_request_logs_one_json_line_with_its_outcome(server, api, ledger):
    game = ledger.game()
    user_id, wallets = ledger.player(funds=100)
    token = ledger.session(user_id, wallets["USD"], game)
    body = {"sessionToken": token, "userId": user_id, "transactionId": "log-" + uuid.uuid4().hex,
            "roundId": "r", "amount": 500, "currency": "USD"}
    data = json.dumps(body).encode()
    for attempt in ("first", "replay"):
        request_id = f"trace-{attempt}-{uuid.uuid4().hex[:8]}"
        headers = casino_headers("debit", data)
        signature = headers["x-casino-signature"]
        r = api.raw("/casino/debit", data, {**headers, "X-Request-Id": request_id})
        assert r.status_code == 422 and r.headers["X-Request-Id"] == request_id
        [(line, raw)] = logged(server, request_id)
        assert line["level"] == "info" and line["logger"] == "access"
        assert (line["endpoint"], line["status"], line["transaction_id"]) == ("/casino/debit", 422, body["transactionId"])
        assert line["error_code"] == "INSUFFICIENT_FUNDS"
        assert line["replay"] is (attempt == "replay")
        assert line["duration_ms"] >= 0
        # Never the signature, the token, the body, or a secret.
        for secret_thing in (signature, token, CASINO_SECRET.decode(), PROVIDER_SECRET.decode(), '"amount"'):
            assert secret_thing not in raw


def test_errors_before_the_body_is_read_are_logged_too(server, api):
    request_id = "trace-bad-" + uuid.uuid4().hex[:8]
    r = api.raw("/casino/debit", b"{}", {"x-casino-signature": "00", "X-Request-Id": request_id})
    assert r.status_code == 401
    [(line, _)] = logged(server, request_id)
    assert (line["status"], line["error_code"]) == (401, "INVALID_SIGNATURE")


def test_a_rounds_request_id_follows_it_into_the_casino(server, api, ledger):
    game = ledger.launchable_game()
    user_id, _ = ledger.player(funds=5_000)
    launch = api.client("launchGame", {"userId": user_id, "gameId": game}).json()
    request_id = "trace-round-" + uuid.uuid4().hex[:8]
    body = json.dumps({"providerSessionId": launch["providerSessionId"], "sessionToken": launch["sessionToken"],
                       "userId": user_id, "requestId": "req-" + uuid.uuid4().hex}).encode()
    r = api.raw("/provider/simulate", body, {**signed("/provider/simulate", body, DEMO_CASINO_KEY,
                                                      "x-provider-signature"), "X-Request-Id": request_id})
    assert r.status_code == 200
    endpoints = sorted(line["endpoint"] for line, _ in logged(server, request_id))
    assert endpoints == sorted(["/provider/simulate", "/casino/getBalance", "/casino/debit", "/casino/debit",
                                "/casino/rollback", "/casino/credit", "/casino/debit", "/casino/getBalance"])


def test_text_format_carries_the_same_fields(database_dsn):
    server = ServerProcess(database_dsn, args=["--log-format", "text"]).start()
    try:
        request_id = "trace-text-" + uuid.uuid4().hex[:8]
        r = Api(server.url).raw("/casino/debit", b"{}", {"x-casino-signature": "00", "X-Request-Id": request_id})
        assert r.status_code == 401
    finally:
        server.stop()
    [line] = [raw for raw in server.output().splitlines() if f"request_id={request_id}" in raw]
    assert " INFO access POST /casino/debit 401 " in line
    assert "endpoint=/casino/debit" in line and "status=401" in line and "error_code=INVALID_SIGNATURE" in line
    assert not line.startswith("{")
