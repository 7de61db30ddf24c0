"""The OpenAPI document: the file in the repo, what the server serves, and what it routes."""
import asyncio
import json

import casino.support_page
from service.app import Application
from service.settings import Settings
from wire.handlers import route_pattern
from service.openapi import document
from wire.openapi import DOCUMENT_PATH, render
from wire.secrets_env import read_secrets


def routed_paths():
    """Every JSON path the running application routes (built as service/app.py builds it):
    all but the support page's HTML (casino/support_page.py), which is no API call."""
    async def collect():
        secrets = read_secrets({"CASINO_SECRET": "x", "PROVIDER_SECRET": "y", "KEYS_ENCRYPTION_KEY": "00" * 32})
        app = Application(db=None, settings=Settings(secrets=secrets, test_driver=True), own_url="http://127.0.0.1:1")
        pages = {pattern for pattern, _ in casino.support_page.routes()}
        routed = {rule.matcher.regex.pattern.rstrip("$") for rule in app.wildcard_router.rules}
        assert pages <= routed
        return routed - pages
    return asyncio.run(collect())


def test_the_file_is_generated_from_the_handlers():
    # Regenerate with: python -m service.openapi > wire/openapi.json
    assert DOCUMENT_PATH.read_text() == render(document())


def test_every_routed_endpoint_is_documented_and_nothing_else():
    document = json.loads(DOCUMENT_PATH.read_text())
    assert {route_pattern(path) for path in document["paths"]} == routed_paths()
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            assert operation["responses"].get("200") or operation["responses"]["201"], (path, method)


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
