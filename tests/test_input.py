"""What a request must be before any service reads it: one reading of its JSON, no null
standing in for an absent field, the method its path takes, and an id on every answer."""
import json
import socket
from urllib.parse import urlsplit

import pytest

from tests.support import casino_headers


@pytest.fixture
def funded(ledger):
    game = ledger.game()
    user_id, wallets = ledger.player(funds=5_000)
    token = ledger.session(user_id, wallets["USD"], game)
    return user_id, wallets["USD"], token


def debit_bytes(user_id, token, tx, amount='100', extra=''):
    return (f'{{"sessionToken": "{token}", "userId": {user_id}, "transactionId": "{tx}", '
            f'"roundId": "r-input", "amount": {amount}, "currency": "USD"{extra}}}').encode()


@pytest.mark.parametrize("case", ["top level", "nested", "deep in a list"])
def test_a_key_given_twice_is_400_and_moves_nothing(api, ledger, funded, case):
    user_id, wallet_id, token = funded
    # Correctly signed: the duplicate is caught when the bytes are read, not by the signature.
    extra = {"top level": '', "nested": ', "meta": {"a": 1, "a": 2}',
             "deep in a list": ', "meta": [{"b": {"c": 1, "c": 1}}]'}[case]
    amount = '100, "amount": 900' if case == "top level" else '100'
    r = api.casino("debit", debit_bytes(user_id, token, f"tx-dup-{case}", amount, extra))
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "INVALID_REQUEST"
    assert "twice" in r.json()["error"]["message"]
    assert ledger.balance(wallet_id)[0] == 5_000
    assert ledger.rows(wallet_id) == []


def test_the_same_body_without_the_duplicate_is_applied(api, ledger, funded):
    user_id, wallet_id, token = funded
    r = api.casino("debit", debit_bytes(user_id, token, "tx-dup-control", extra=', "meta": {"a": 1, "b": 1}'))
    assert r.status_code == 200
    assert ledger.balance(wallet_id)[0] == 4_900


@pytest.mark.parametrize("endpoint", ["launchGame", "simulateRound"])
def test_null_currency_is_a_wrong_type_not_an_absent_field(api, ledger, endpoint):
    game = ledger.launchable_game()
    user_id, wallets = ledger.player(funds=5_000)
    r = api.client(endpoint, {"userId": user_id, "gameId": game, "currency": None})
    assert r.status_code == 400
    assert r.json()["error"] == {"code": "INVALID_REQUEST",
                                 "message": "field 'currency' must be an ISO 4217 code of three upper-case letters"}
    assert ledger.balance(wallets["USD"])[0] == 5_000
    assert ledger.query("SELECT count(*) FROM CASINO_GAME_SESSIONS WHERE user_id = %s", user_id) == [(0,)]


def test_null_related_transaction_id_on_a_credit_is_400(api, ledger, funded):
    user_id, wallet_id, token = funded
    assert api.casino("debit", debit_bytes(user_id, token, "tx-null-bet")).status_code == 200
    body = {"sessionToken": token, "userId": user_id, "transactionId": "tx-null-win", "roundId": "r-input",
            "amount": 50, "currency": "USD", "relatedTransactionId": None}
    r = api.casino("credit", body)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_REQUEST")
    assert ledger.balance(wallet_id)[0] == 4_900


@pytest.mark.parametrize("path", ["/health", "/metrics", "/openapi.json"])
def test_post_on_a_read_only_path_is_405_with_allow(api, path):
    r = api.raw(path, b'{"x": 1}')
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET"
    assert r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert len(r.headers["X-Request-Id"]) == 32


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD"])
def test_other_methods_on_a_post_endpoint_are_405_with_allow_post(api, method):
    r = api.http.request(method, api.base_url + "/casino/debit", headers={"X-Request-Id": "trace-405"})
    assert r.status_code == 405
    assert (r.headers["Allow"], r.headers["X-Request-Id"]) == ("POST", "trace-405")
    if method != "HEAD":
        assert r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_a_method_tornado_does_not_know_is_405_with_allow_and_an_id(api):
    r = api.http.request("BREW", api.base_url + "/casino/debit", headers={"X-Request-Id": "trace-brew"})
    assert r.status_code == 405
    assert (r.headers["Allow"], r.headers["X-Request-Id"]) == ("POST", "trace-brew")
    assert r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def raw_exchange(url, data):
    """Send bytes as they are and read until the server closes the connection."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def parse_answer(answer):
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize("request_bytes", [
    b"NOT HTTP AT ALL\r\n\r\n",
    b"POST /casino/debit HTTP/1.1\r\nHost: x\r\nContent-Length: twelve\r\n\r\n",
    b"POST /casino/debit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
], ids=["request line", "content-length", "chunk size"])
def test_tornados_own_400_carries_the_protocol_body_and_an_id(api, request_bytes):
    status, headers, body = parse_answer(raw_exchange(api.base_url, request_bytes))
    assert status == 400
    assert len(headers["x-request-id"]) == 32
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "INVALID_REQUEST"


@pytest.mark.parametrize("case", ["404", "400", "401", "413"])
def test_every_error_answer_carries_the_request_id(api, case):
    headers = {"X-Request-Id": f"trace-{case}"}
    if case == "404":
        r = api.raw("/casino/nothing", b"{}", headers)
    elif case == "400":
        data = b"[1]"
        r = api.raw("/casino/debit", data, {**headers, **casino_headers("debit", data)})
    elif case == "401":
        r = api.raw("/casino/debit", b"{}", {**headers, "x-casino-signature": "00"})
    else:
        r = api.raw("/casino/debit", b"x" * (64 * 1024 + 1), headers)
    assert r.status_code == int(case)
    assert r.headers["X-Request-Id"] == f"trace-{case}"
