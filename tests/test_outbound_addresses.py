"""Outbound addresses are checked: a provider's apiEndpoint, CASINO_URL and PROVIDER_URL must
be http(s):// and resolve to no loopback, link-local, private, multicast or other non-public
address, unless OUTBOUND_ALLOWED_NETWORKS holds it (development mode: loopback; the
suite's servers: loopback, where its fake counterparts listen); a cloud's metadata address
never. Checked when set (422 ENDPOINT_NOT_ALLOWED; a setting: one line, exit 2) and again at
each connection, since DNS can change between the two."""
import asyncio
import json
import os
import socket
import subprocess
import sys
import uuid

import pytest

from server import check_counterpart_urls
from loadtests.postgres.child_server import ROOT, ServerProcess
from service.settings import SettingsError, read_settings
from tests.fake_peer import FakePeer
from tests.support import OPERATOR_KEY, Api
from tests.support import error_code as code
from wire.addresses import AddressPolicy, AddressRefused, CheckingResolver, parse_networks, url_refusal

pytestmark = pytest.mark.usefixtures("clean_audit")

PUBLIC = "93.184.216.34"


def admin(api, path, body):
    return api.http.post(f"{api.base_url}/casino/admin/{path}", data=json.dumps(body).encode(),
                         headers={"Content-Type": "application/json", "Authorization": f"Bearer {OPERATOR_KEY}"},
                         timeout=30)


def new_code():
    return "OUT-" + uuid.uuid4().hex[:8]


# --- the policy --------------------------------------------------------------------------------

@pytest.mark.parametrize("address, kind", [
    ("169.254.169.254", "a cloud metadata address"), ("fd00:ec2::254", "a cloud metadata address"),
    ("127.0.0.1", "a loopback address"), ("127.8.9.10", "a loopback address"), ("::1", "a loopback address"),
    ("::ffff:127.0.0.1", "a loopback address"), ("169.254.1.1", "a link-local address"),
    ("fe80::1", "a link-local address"), ("224.0.0.1", "a multicast address"), ("ff02::1", "a multicast address"),
    ("0.0.0.0", "an unspecified address"), ("10.1.2.3", "a private address"),
    ("172.16.0.1", "a private address"), ("192.168.1.1", "a private address"), ("fc00::1", "a private address"),
    ("100.64.0.1", "a non-public address"), ("::ffff:10.0.0.1", "a private address"),
    (PUBLIC, None), ("8.8.8.8", None), ("2606:4700:4700::1111", None),
])
def test_what_the_policy_refuses_by_default(address, kind):
    assert AddressPolicy().refusal(address) == kind


def test_allowed_networks_open_what_they_hold_but_never_the_metadata_address():
    policy = AddressPolicy(parse_networks("127.0.0.0/8, 10.20.0.0/16, 169.254.0.0/16, ::1"))
    assert [policy.refusal(a) for a in ("127.0.0.1", "::1", "10.20.3.4", "169.254.1.1")] == [None] * 4
    assert policy.refusal("10.21.0.1") == "a private address"
    assert policy.refusal("169.254.169.254") == "a cloud metadata address"
    with pytest.raises(ValueError, match="is not a network"):
        parse_networks("10.0.0.0/8, intranet")


@pytest.mark.parametrize("url, why", [
    ("http://169.254.169.254/latest", "169.254.169.254 is a cloud metadata address"),
    ("http://localhost:8000/", "localhost resolves to 127.0.0.1, a loopback address"),
    ("https://[::1]/provider", "::1 is a loopback address"),
    ("ftp://example.com/", "it is not an http:// or https:// URL with a host"),
    ("http:///provider", "it is not an http:// or https:// URL with a host"),
    ("http://nothing-here.invalid/", "nothing-here.invalid does not resolve"),
    # No host name (IDNA refuses an empty label): Schemathesis found it answered 500.
    ("http://a..b/provider", "a..b is not a host name"),
    ("http://.tGD{&z0)3Ki>H", ".tgd{&z0)3ki>h is not a host name"),
    (f"https://{PUBLIC}/api", None),
])
def test_a_url_is_checked_at_every_address_its_host_resolves_to(url, why):
    assert asyncio.run(url_refusal(url, AddressPolicy())) == why


class ChangingDns:
    """A resolver whose answers for a name change between calls, as DNS can."""

    def __init__(self, *answers):
        self.answers = list(answers)

    async def resolve(self, host, port, family=socket.AF_UNSPEC):
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, (a, port)) for a in self.answers.pop(0)]

    def close(self):
        pass


def test_at_connect_time_addresses_refused_are_dropped_and_a_host_with_none_is_not_reached():
    async def resolve_thrice():
        resolver = CheckingResolver(policy=AddressPolicy(), resolver=ChangingDns(
            [PUBLIC], ["10.0.0.7", PUBLIC], ["169.254.169.254"]))
        first = await resolver.resolve("games.example", 443)
        mixed = await resolver.resolve("games.example", 443)
        with pytest.raises(AddressRefused, match="games.example resolves to 169.254.169.254, a cloud metadata"):
            await resolver.resolve("games.example", 443)
        return first, mixed
    first, mixed = asyncio.run(resolve_thrice())
    assert first == mixed == [(socket.AF_INET, (PUBLIC, 443))]


def test_the_process_own_address_is_always_allowed():
    resolver = CheckingResolver(policy=AddressPolicy(own=frozenset({("127.0.0.1", 8000)})),
                                resolver=ChangingDns(["127.0.0.1"], ["127.0.0.1"]))
    assert asyncio.run(resolver.resolve("127.0.0.1", 8000)) == [(socket.AF_INET, ("127.0.0.1", 8000))]
    with pytest.raises(AddressRefused):
        asyncio.run(resolver.resolve("127.0.0.1", 8001))


# --- the back office, on the suite's server (loopback allowed there) ---------------------------

@pytest.mark.parametrize("endpoint, why", [
    ("http://169.254.169.254/latest", "169.254.169.254 is a cloud metadata address"),
    ("http://10.0.0.1/provider", "10.0.0.1 is a private address"),
    ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
    ("http://[fe80::1]/", "fe80::1 is a link-local address"),
    ("http://0.0.0.0:8000/", "0.0.0.0 is an unspecified address"),
    ("http://nothing-here.invalid/", "nothing-here.invalid does not resolve"),
    # A name IDNA cannot encode (an empty label), found by the fuzzer: a 500 before.
    ("http://.n1Ks8ar'{*(S,NGk~N", ".n1ks8ar'{*(s,ngk~n is not a host name"),
    ("http://a..b/provider", "a..b is not a host name"),
])
def test_a_provider_endpoint_that_is_not_public_is_refused_and_nothing_is_made(api, ledger, endpoint, why):
    provider_code = new_code()
    r = admin(api, "providers", {"providerCode": provider_code, "name": "Elsewhere", "apiEndpoint": endpoint})
    assert (r.status_code, code(r)) == (422, "ENDPOINT_NOT_ALLOWED")
    assert r.json()["error"]["message"].startswith(f"apiEndpoint refused: {why}; ")
    assert ledger.query("SELECT count(*) FROM CASINO_GAME_PROVIDERS WHERE code = %s", provider_code) == [(0,)]
    assert ledger.query("SELECT action, response_status FROM CASINO_ADMIN_AUDIT WHERE request->>'providerCode' = %s",
                        provider_code) == [("createProvider", 422)]


def test_a_provider_endpoint_changed_later_is_checked_the_same(api, ledger):
    provider_code = new_code()
    assert admin(api, "providers", {"providerCode": provider_code, "name": "Movable",
                                    "apiEndpoint": f"https://{PUBLIC}/v1"}).status_code == 201
    refused = admin(api, f"providers/{provider_code}/endpoint", {"apiEndpoint": "http://169.254.169.254/latest"})
    assert (refused.status_code, code(refused)) == (422, "ENDPOINT_NOT_ALLOWED")
    assert ledger.query("SELECT api_endpoint FROM CASINO_GAME_PROVIDERS WHERE code = %s", provider_code) == [
        (f"https://{PUBLIC}/v1",)]
    moved = admin(api, f"providers/{provider_code}/endpoint", {"apiEndpoint": f"https://{PUBLIC}/v2"})
    assert moved.status_code == 200 and moved.json()["apiEndpoint"] == f"https://{PUBLIC}/v2"
    hosted = admin(api, f"providers/{provider_code}/endpoint", {"apiEndpoint": None})
    assert hosted.status_code == 200 and hosted.json()["apiEndpoint"] is None
    missing = admin(api, "providers/NOPE-" + uuid.uuid4().hex[:6] + "/endpoint", {"apiEndpoint": None})
    assert (missing.status_code, code(missing)) == (404, "PROVIDER_NOT_FOUND")
    assert ledger.query(
        "SELECT response_status FROM CASINO_ADMIN_AUDIT WHERE action = 'setProviderEndpoint' "
        "AND request->>'providerCode' = %s ORDER BY id", provider_code) == [(422,), (200,), (200,)]


def test_a_setting_allows_loopback_on_the_suites_server(api, ledger):
    # The suite's server runs with OUTBOUND_ALLOWED_NETWORKS=127.0.0.0/8,::1/128 (its fake peers).
    r = admin(api, "providers", {"providerCode": new_code(), "name": "Local", "apiEndpoint": "http://127.0.0.1:9/"})
    assert r.status_code == 201


# --- a production server without the setting ---------------------------------------------------

@pytest.fixture(scope="module")
def strict_server(service_dsn):
    server = ServerProcess(service_dsn, extra_env={"OUTBOUND_ALLOWED_NETWORKS": ""}).start()
    yield server
    server.stop()


def test_loopback_is_refused_where_no_setting_allows_it(strict_server, ledger):
    api = Api(strict_server.url)
    for endpoint in ("http://127.0.0.1:9/", "http://localhost:9/", strict_server.url + "/x"):   # its own too
        r = admin(api, "providers", {"providerCode": new_code(), "name": "Local", "apiEndpoint": endpoint})
        assert (r.status_code, code(r)) == (422, "ENDPOINT_NOT_ALLOWED"), endpoint
        assert "127.0.0.1, a loopback address" in r.json()["error"]["message"] or \
            "127.0.0.1 is a loopback address" in r.json()["error"]["message"]


def test_an_endpoint_that_became_private_is_not_connected_to(strict_server, ledger):
    """A provider whose endpoint now leads into the network (its DNS changed since it was
    checked, or the row was written before the check existed): the launch is refused 502
    without a byte sent there, while the process's own hosted provider still launches."""
    peer = FakePeer().start()
    try:
        game = ledger.launchable_game(endpoint=peer.url + "/provider")
        user_id, _ = ledger.player()
        api = Api(strict_server.url)
        r = api.client("launchGame", {"userId": user_id, "gameId": game})
        assert (r.status_code, code(r)) == (502, "PROVIDER_UNAVAILABLE")
        assert sum(peer.received.values()) == 0
        assert ledger.query("SELECT count(*) FROM CASINO_GAME_SESSIONS WHERE user_id = %s AND is_active",
                            user_id) == [(0,)]
        hosted = api.client("launchGame", {"userId": user_id, "gameId": ledger.launchable_game()})
        assert hosted.status_code == 200, hosted.text
    finally:
        peer.stop()
    assert "outbound call to 127.0.0.1" in strict_server.output()


def start(env):
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CASINO_DATA_DIR", "PORT")}
    return subprocess.run([sys.executable, "server.py", "--port", "0"], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name, url, why", [
    ("CASINO_URL", "http://169.254.169.254/casino", "169.254.169.254 is a cloud metadata address"),
    ("PROVIDER_URL", "http://10.1.2.3:8000", "10.1.2.3 is a private address"),
    ("CASINO_URL", "http://127.0.0.1:8000", "127.0.0.1 is a loopback address"),
])
def test_a_counterpart_url_setting_that_is_not_public_stops_the_start(tmp_path, name, url, why):
    run = start({"CASINO_SECRET": "a", "PROVIDER_SECRET": "b", "KEYS_ENCRYPTION_KEY": "11" * 32, name: url,
                 "CASINO_DATA_DIR": str(tmp_path / "pg")})
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.strip() == (f"error: {name}={url}: refused, {why} "
                                  "(OUTBOUND_ALLOWED_NETWORKS may allow its network)")
    assert not (tmp_path / "pg").exists()


def test_development_mode_allows_loopback_counterparts():
    check_counterpart_urls(read_settings([], {"CASINO_URL": "http://127.0.0.1:8000"}))      # development mode
    with pytest.raises(SettingsError, match="loopback"):
        check_counterpart_urls(read_settings([], {"CASINO_URL": "http://127.0.0.1:8000", "CASINO_SECRET": "a",
                                                  "PROVIDER_SECRET": "b", "KEYS_ENCRYPTION_KEY": "11" * 32}))
    check_counterpart_urls(read_settings([], {"CASINO_URL": "http://127.0.0.1:8000", "CASINO_SECRET": "a",
                                              "PROVIDER_SECRET": "b", "KEYS_ENCRYPTION_KEY": "11" * 32,
                                              "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8"}))
