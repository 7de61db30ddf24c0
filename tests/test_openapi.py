"""The OpenAPI document: the file in the repo, what the server serves, and what it routes."""
import asyncio
import json
import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import jsonschema_rs
import pytest

import casino.support_page
from service.app import Application
from service.settings import Settings
from wire.handlers import route_pattern
from service.openapi import document
from casino import reports
from casino.report_handlers import GROUP_BY, MULTIPLE
from wire.openapi import DOCUMENT_PATH, render
from wire.secrets_env import read_secrets
from tests.pattern_samples import dates, groupings, instants, months, multiples
from wire.validation import DATE, FIRST_YEAR, INSTANT, LAST_YEAR, MONTH


def application(test_driver=True, development=False):
    """The application as service/app.py builds it for a production start (secrets set), or
    for one in development mode (none set)."""
    async def build_it():
        secrets = read_secrets({} if development else {"CASINO_SECRET": "x", "PROVIDER_SECRET": "y",
                                                        "KEYS_ENCRYPTION_KEY": "00" * 32})
        return Application(db=None, settings=Settings(secrets=secrets, test_driver=test_driver),
                           own_url="http://127.0.0.1:1")
    return asyncio.run(build_it())


def routed_paths(test_driver=True):
    """Every JSON path the running application routes: all but the support page's HTML
    (casino/support_page.py), which is no API call."""
    app = application(test_driver)
    pages = {pattern for pattern, _ in casino.support_page.routes()}
    routed = {rule.matcher.regex.pattern.rstrip("$") for rule in app.wildcard_router.rules}
    assert pages <= routed
    return routed - pages


def test_the_file_is_generated_from_the_handlers():
    # Regenerate with: python -m service.openapi > wire/openapi.json
    assert DOCUMENT_PATH.read_text() == render(document())


def test_every_routed_endpoint_is_documented_and_nothing_else():
    document = json.loads(DOCUMENT_PATH.read_text())
    assert {route_pattern(path) for path in document["paths"]} == routed_paths()
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            assert operation["responses"].get("200") or operation["responses"]["201"], (path, method)


@pytest.mark.parametrize("test_driver", [True, False])
def test_the_served_document_lists_what_is_routed_in_the_mode(test_driver):
    """Without the test driver (a production start without --test-driver) simulateRound is
    not routed, so the document the server serves does not list it."""
    served = json.loads(application(test_driver).settings["document"])
    assert {route_pattern(path) for path in served["paths"]} == routed_paths(test_driver)
    assert ("/casino/simulateRound" in served["paths"]) is test_driver
    if test_driver:
        assert served == json.loads(DOCUMENT_PATH.read_text())


def test_a_development_server_documents_its_key_less_launch():
    """Development mode takes launchGame and simulateRound without a key: its document
    offers "no credentials" as their alternative, and says nothing else differently."""
    served = json.loads(application(development=True).settings["document"])
    written = json.loads(DOCUMENT_PATH.read_text())
    for path in ("/casino/launchGame", "/casino/simulateRound"):
        assert served["paths"][path]["post"]["security"] == [{"operatorKey": []}, {}]
        served["paths"][path]["post"]["security"] = written["paths"][path]["post"]["security"]
    assert served == written


def test_the_document_is_openapi_3_0_whose_integers_exclude_1_0():
    """PROTOCOL.md refuses 1.0 as an amount; OpenAPI 3.0's schema dialect agrees (3.1's
    would call it the integer 1). Nothing in the document is 3.1's spelling of null."""
    document = json.loads(DOCUMENT_PATH.read_text())
    assert document["openapi"] == "3.0.3"
    assert '"null"' not in DOCUMENT_PATH.read_text()
    amount = document["paths"]["/casino/debit"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert amount["properties"]["amount"]["type"] == "integer"


def test_signed_endpoints_name_their_signature_scheme():
    document = json.loads(DOCUMENT_PATH.read_text())
    security = {path: ops["post"].get("security") for path, ops in document["paths"].items() if "post" in ops}
    assert security["/casino/debit"] == [{"x-casino-signature": []}]
    assert security["/provider/launch"] == [{"x-provider-signature": []}]
    assert security["/casino/launchGame"] == [{"operatorKey": []}]
    assert set(document["components"]["securitySchemes"]) == {"x-casino-signature", "x-provider-signature",
                                                               "operatorKey"}
    debit = document["paths"]["/casino/debit"]["post"]
    assert set(debit["responses"]) == {"200", "400", "401", "403", "404", "409", "413", "422", "500", "503"}


def test_server_serves_the_document(api):
    r = api.http.get(api.base_url + "/openapi.json")
    assert r.status_code == 200
    assert r.json() == json.loads(DOCUMENT_PATH.read_text())


# --- patterns that say exactly what the server accepts ------------------------------------------

def in_years(moment):
    return FIRST_YEAR <= moment.year <= LAST_YEAR


def calendar_date(text):
    try:
        return re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text) is not None and in_years(date.fromisoformat(text))
    except ValueError:
        return False


def calendar_month(text):
    return re.fullmatch(r"[0-9]{4}-[0-9]{2}", text) is not None and calendar_date(text + "-01")


def calendar_instant(text):
    """RFC 3339's shape (an offset's minutes too: Python reads +09:60 as +10:00), a time
    Python reads, and an offset within 15 hours."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
                        r"(Z|[+-][0-9]{2}:[0-5][0-9])", text):
        return False
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return False
    return in_years(moment) and abs(moment.utcoffset()) < timedelta(hours=15)


def positive_decimal(text):
    return re.fullmatch(r"[0-9]{1,7}(\.[0-9]{1,2})?", text) is not None and Decimal(text) > 0


@pytest.mark.parametrize("name, field, calendar, samples", [
    ("date", DATE, calendar_date, dates), ("month", MONTH, calendar_month, months),
    ("instant", INSTANT, calendar_instant, instants), ("multiple", MULTIPLE, positive_decimal, multiples),
    ("groupBy", GROUP_BY, lambda v: reports.parse_group_by(v) is not None, groupings)])
def test_each_pattern_accepts_exactly_what_the_server_does(name, field, calendar, samples):
    """The server's check, and the document's schema as Schemathesis reads it (jsonschema-rs:
    Rust's regex), each against the calendar (or the rule): a schema-valid request is never
    refused for these, and a schema-invalid one never accepted."""
    document = jsonschema_rs.validator_for({k: v for k, v in field.json_schema.items() if k != "format"})
    for text in samples():
        expected = calendar(text)
        assert (field.check(text), document.is_valid(text)) == (expected, expected), (name, text)
