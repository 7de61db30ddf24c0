"""Schemathesis against a live server: every endpoint of wire/openapi.json, bodies generated
from the schemas and signed like the real peers sign them. Nothing may answer 5xx, every
answer must match the document (status, content type, body schema), and no documented
operation may be unrouted (the router's own 404 NOT_FOUND or 405 METHOD_NOT_ALLOWED).

Both modes: the suite's server routes the test driver (as development mode does), and a
production server without --test-driver is fuzzed with the document it serves."""
import json
import re

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from urllib.parse import urlsplit

from service.app import json_routes
from sql.migrate import migrate
from tests.conftest import create_database
from tests.support import DEMO_CASINO_KEY, DEMO_KEY, OPERATOR_KEY, Ledger, ServerProcess
from wire.handlers import route_pattern
from wire.openapi import DOCUMENT_PATH, build
from wire.signing import sign_v2

schema = schemathesis.openapi.from_dict(json.loads(DOCUMENT_PATH.read_text()))


def not_a_server_error_but_the_protocols_502(ctx, response, case):
    """not_a_server_error, except the one 5xx PROTOCOL.md prescribes for a healthy system:
    launchGame/simulateRound answer 502 PROVIDER_UNAVAILABLE when the provider refuses the
    launch (Schemathesis found it: a casino game the provider does not know)."""
    if (response.status_code == 502 and "502" in case.operation.definition.raw["responses"]
            and response.json()["error"]["code"] == "PROVIDER_UNAVAILABLE"):
        return None
    return not_a_server_error(ctx, response, case)


def documented_operations_are_routed(ctx, response, case):
    """The router's own answers (404 NOT_FOUND, 405 METHOD_NOT_ALLOWED) to a request for a
    documented path and method mean the document lists what this server does not answer.
    A request whose path no longer has the documented shape (a client normalised a `..`
    parameter away) reached another path, and one with another method than the document's
    (Schemathesis tries them) is rightly 405: neither proves anything."""
    if response.status_code not in (404, 405) or case.method.upper() != case.operation.method.upper():
        return None
    try:
        code = json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    sent = urlsplit(response.request.url).path
    if code in ("NOT_FOUND", "METHOD_NOT_ALLOWED") and re.fullmatch(route_pattern(case.path), sent):
        raise AssertionError(f"{case.method.upper()} {case.path} is documented, but {sent} answered "
                             f"{response.status_code} {code}")
    return None


CHECKS = [not_a_server_error_but_the_protocols_502, status_code_conformance, content_type_conformance,
          response_schema_conformance, documented_operations_are_routed]
KEYS = {"x-casino-signature": DEMO_KEY, "x-provider-signature": DEMO_CASINO_KEY}


def signed_request(case, base_url):
    """The request schemathesis drew, serialised once and signed over those exact bytes."""
    kwargs = case.as_transport_kwargs(base_url=base_url)
    headers = dict(kwargs.pop("headers", None) or {})
    if "json" in kwargs:
        kwargs["data"] = json.dumps(kwargs.pop("json")).encode()
        headers["Content-Type"] = "application/json"
    for requirement in case.operation.definition.raw.get("security", []):
        for scheme in requirement:
            if scheme == "operatorKey":
                headers["Authorization"] = f"Bearer {OPERATOR_KEY}"
            else:
                kid, secret = KEYS[scheme]
                headers[scheme] = sign_v2(secret, kid, kwargs["method"].upper(), urlsplit(kwargs["url"]).path,
                                          kwargs.get("data", b""))
    return kwargs, headers


@schema.parametrize()
@settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_every_endpoint_conforms(case, server, ledger):
    kwargs, headers = signed_request(case, server.url)
    response = requests.request(headers=headers, timeout=30, **kwargs)
    case.validate_response(response, checks=CHECKS)
    # The ledger's invariants after every example that moved money, on the database this
    # very worker's server fuzzed: a separate test at the end could run on an xdist worker
    # that fuzzed nothing, and pass without testing.
    if response.status_code == 200 and "/casino/" in kwargs["url"]:
        assert ledger.violations() == []


# --- a production server without the test driver, fuzzed with the document it serves ----------

@pytest.fixture(scope="module")
def production(service_dsn_for):
    """A server without the test driver, on a migrated database of its own on the real
    clock (a server without --test-driver does not serve the workers' databases, whose
    clock the tests can freeze), and that database's ledger."""
    dsn = create_database("fuzz_production")
    migrate(dsn, log=lambda _: None)
    server = ServerProcess(service_dsn_for(dsn), test_driver=False).start()
    yield server, Ledger(dsn)
    server.stop()


def test_a_production_server_serves_and_answers_the_document_of_its_mode(production):
    production_server, ledger = production
    """The document is read from the server itself (Schemathesis' fixture loader does not
    run on this pytest), and each of its operations fuzzed like the ones above."""
    served = requests.get(production_server.url + "/openapi.json", timeout=30).json()
    for result in schemathesis.openapi.from_dict(served).get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=3, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def conforms(case):
            kwargs, headers = signed_request(case, production_server.url)
            response = requests.request(headers=headers, timeout=30, **kwargs)
            case.validate_response(response, checks=CHECKS)
            if response.status_code == 200 and "/casino/" in kwargs["url"]:
                assert ledger.violations() == []

        conforms()
    assert "/casino/simulateRound" not in served["paths"]
    assert served == build(json_routes(test_driver=False))
