"""Signature, size and JSON checks that every signed endpoint shares."""
import json
import time

import pytest

from tests.support import DEMO_CASINO_KEY, KEYS_BY_TOKEN, signed
from wire.signing import DEFAULT_TOLERANCE_SECONDS, sign_v2


@pytest.fixture
def funded(ledger):
    game = ledger.game()
    user_id, wallets = ledger.player(funds=5_000)
    token = ledger.session(user_id, wallets["USD"], game)
    return user_id, wallets["USD"], token


def debit_body(user_id, token, tx="tx-sig", amount=100):
    return {"sessionToken": token, "userId": user_id, "transactionId": tx,
            "roundId": "r-sig", "amount": amount, "currency": "USD"}


def signed_headers(data, key, path="/casino/debit", header="x-casino-signature"):
    return signed(path, data, key, header)


def test_correct_signature_is_accepted(api, ledger, funded):
    user_id, wallet_id, token = funded
    data = json.dumps(debit_body(user_id, token, "tx-ok")).encode()
    r = api.raw("/casino/debit", data, signed_headers(data, KEYS_BY_TOKEN[token]))
    assert r.status_code == 200
    assert ledger.balance(wallet_id)[0] == 4_900


@pytest.mark.parametrize("case", ["wrong secret", "missing header", "one byte altered", "reserialised",
                                  "provider header", "uppercase hex", "garbage", "unknown kid", "other path",
                                  "other method", "stale", "future", "v1 not allowed"])
def test_bad_signature_is_refused_and_changes_nothing(api, ledger, funded, case):
    user_id, wallet_id, token = funded
    kid, secret = KEYS_BY_TOKEN[token]
    body = debit_body(user_id, token, f"tx-{case}")
    data = json.dumps(body).encode()
    headers = signed_headers(data, (kid, secret))
    if case == "wrong secret":
        headers = signed_headers(data, (kid, b"not-the-secret"))
    elif case == "missing header":
        del headers["x-casino-signature"]
    elif case == "one byte altered":
        data = data.replace(b'"amount": 100', b'"amount": 900')
    elif case == "reserialised":
        # Same meaning, other bytes: the signature is over bytes, never over parsed JSON.
        data = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    elif case == "provider header":
        headers = signed_headers(data, DEMO_CASINO_KEY, header="x-provider-signature")
    elif case == "uppercase hex":
        headers["x-casino-signature"] = headers["x-casino-signature"].upper()
    elif case == "garbage":
        headers["x-casino-signature"] = "zz\u00e9"
    elif case == "unknown kid":
        headers = signed_headers(data, ("no-such-key", secret))
    elif case == "other path":    # signed for /casino/credit, posted to /casino/debit
        headers = signed_headers(data, (kid, secret), path="/casino/credit")
    elif case == "other method":
        headers["x-casino-signature"] = sign_v2(secret, kid, "GET", "/casino/debit", data)
    elif case in ("stale", "future"):
        # Past the tolerance by a minute: the server reads its clock a moment after this one
        # (a loaded machine, and the timestamp's whole seconds), which 301 s did not cover.
        outside = DEFAULT_TOLERANCE_SECONDS + 60
        now = time.time() + (-outside if case == "stale" else outside)
        headers["x-casino-signature"] = sign_v2(secret, kid, "POST", "/casino/debit", data, now=now)
    elif case == "v1 not allowed":    # a test provider's v1 flag is off
        headers = signed("/casino/debit", data, (kid, secret), "x-casino-signature", version=1)
    r = api.raw("/casino/debit", data, headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert ledger.balance(wallet_id)[0] == 5_000
    assert ledger.rows(wallet_id) == []


def test_signature_is_checked_before_the_body_is_read(api):
    r = api.raw("/casino/debit", b"{not json", {"x-casino-signature": "00"})
    assert r.status_code == 401


@pytest.mark.parametrize("data", [b"{not json", b"[1, 2]", b'"text"', b"", b"\xff\xfe",
                                  b'{"amount": NaN}', b"null"])
def test_malformed_json_is_400(api, data):
    r = api.casino("debit", data)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "INVALID_REQUEST"


def test_body_over_64_kib_is_413(api, funded):
    user_id, _, token = funded
    body = debit_body(user_id, token, "tx-big")
    body["padding"] = "x" * (64 * 1024)
    r = api.casino("debit", body)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_body_of_exactly_64_kib_is_read(api, ledger, funded):
    user_id, wallet_id, token = funded
    body = debit_body(user_id, token, "tx-edge")
    data = json.dumps(body).encode()
    body["padding"] = "x" * (64 * 1024 - len(data) - len(', "padding": ""'))
    data = json.dumps(body).encode()
    assert len(data) == 64 * 1024
    assert api.casino("debit", data).status_code == 200
    assert ledger.balance(wallet_id)[0] == 4_900


def test_unknown_path_and_method_answer_protocol_errors(api):
    r = api.raw("/casino/nothing", b"{}")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "NOT_FOUND")
    r = api.http.get(api.base_url + "/casino/debit")
    assert (r.status_code, r.json()["error"]["code"]) == (405, "METHOD_NOT_ALLOWED")


def test_request_id_is_echoed_or_made(api):
    r = api.http.get(api.base_url + "/health", headers={"X-Request-Id": "trace-123"})
    assert r.headers["X-Request-Id"] == "trace-123"
    r = api.http.get(api.base_url + "/health")
    assert len(r.headers["X-Request-Id"]) == 32


def test_health_reports_the_database(api):
    r = api.http.get(api.base_url + "/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "up"}
