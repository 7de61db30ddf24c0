"""No demo credentials outside development mode. A production start (its secrets set)
loads no demo data unless started with --demo-data, and then says so at start; v1
signatures (the body alone) are off for every counterpart unless an operator turned them
on for that one -- development mode's demo pair keeps them -- and a production start warns
of each counterpart that still accepts them. The README's `python server.py --demo` still
plays a round on development secrets (tests/test_round.py)."""
import json
import os
import subprocess
import sys
import uuid

import psycopg2
import pytest

from server import startup_banner
from loadtests.postgres.child_server import CASINO_SECRET, PROVIDER_SECRET, ROOT, ServerProcess
from service.settings import SettingsError, read_settings
from sql.migrate import migrate
from tests.support import Api, Ledger, signed
from wire.secrets_env import DEV_SECRETS, read_secrets

PRODUCTION = {"CASINO_SECRET": CASINO_SECRET.decode(), "PROVIDER_SECRET": PROVIDER_SECRET.decode(),
              "KEYS_ENCRYPTION_KEY": "11" * 32}


def v1(path, body, secret):
    data = json.dumps(body).encode()
    return data, signed(path, data, ("JAQPOT", secret), "x-casino-signature", version=1)


def v1_balance(api, secret, header="x-casino-signature", path="/casino/getBalance"):
    """A v1-signed getBalance for a made-up session: 401 when v1 is refused, else 404 (the
    signature was accepted, the session is unknown)."""
    data = json.dumps({"sessionToken": "s-" + uuid.uuid4().hex, "userId": 1}).encode()
    return api.raw(path, data, signed(path, data, ("JAQPOT", secret), header, version=1))


def warnings(server):
    return [json.loads(line)["message"] for line in server.output().splitlines()
            if line.startswith("{") and json.loads(line).get("level") == "warning"]


def rows(dsn, sql, *params):
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def test_a_production_start_loads_no_demo_data_and_refuses_v1_from_the_demo_key(fresh_dsn):
    server = ServerProcess(fresh_dsn, demo_data=None).start()     # no flag: the production default
    try:
        assert rows(fresh_dsn, "SELECT code FROM CASINO_GAME_PROVIDERS") == []
        assert rows(fresh_dsn, "SELECT username FROM CASINO_USERS") == []
        assert rows(fresh_dsn, "SELECT casino_code FROM PROVIDER_CASINOS") == []
        api = Api(server.url)
        # The environment's key of JAQPOT (CASINO_SECRET) signs v2 only: v1 is refused before
        # the body is read -- at the casino and, for DEMO-CASINO's key, at the provider.
        r = v1_balance(api, CASINO_SECRET)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_SIGNATURE")
        data = json.dumps({"providerSessionId": "p", "sessionToken": "s", "userId": 1, "requestId": "r"}).encode()
        r = api.raw("/provider/simulate", data, signed("/provider/simulate", data, ("DEMO-CASINO", PROVIDER_SECRET),
                                                       "x-provider-signature", version=1))
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_SIGNATURE")
        assert not any("DEMO DATA" in w or "v1 signatures" in w for w in warnings(server))
    finally:
        server.stop()


def test_demo_data_asked_for_in_production_is_said_and_its_pair_signs_v2_only(fresh_dsn):
    server = ServerProcess(fresh_dsn, demo_data=True).start()
    try:
        assert [w for w in warnings(server) if "DEMO DATA" in w] == [
            ("DEMO DATA loaded (--demo-data): provider JAQPOT and casino DEMO-CASINO on the environment's keys, "
             "players alice and bob with funds -- never for real money")]
        assert rows(fresh_dsn, "SELECT code, allows_v1 FROM CASINO_GAME_PROVIDERS") == [("JAQPOT", False)]
        assert rows(fresh_dsn, "SELECT casino_code, allows_v1 FROM PROVIDER_CASINOS") == [("DEMO-CASINO", False)]
        api = Api(server.url)
        # The review's attack: a bet's body, signed v1 with the demo key, posted as a payout.
        round_ = api.client("simulateRound", {"userId": 1, "gameId": 1}).json()    # v2 throughout: plays
        bet = next(step["request"] for step in round_["steps"] if step["endpoint"] == "/casino/debit")
        before = Ledger(fresh_dsn).balance(1)
        data, headers = v1("/casino/credit", {**bet, "transactionId": "late-" + uuid.uuid4().hex, "amount": 5_000},
                           CASINO_SECRET)
        r = api.raw("/casino/credit", data, headers)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_SIGNATURE")
        assert Ledger(fresh_dsn).balance(1) == before
    finally:
        server.stop()


def test_a_production_start_warns_of_each_counterpart_still_on_v1(fresh_dsn):
    migrate(fresh_dsn, log=lambda _: None)
    provider_code, casino_code = "LEGACY-" + uuid.uuid4().hex[:6], "OLD-" + uuid.uuid4().hex[:6]
    rows(fresh_dsn, """INSERT INTO CASINO_GAME_PROVIDERS (code, name, allows_v1)
                       VALUES (%s, 'Legacy', true), ('JAQPOT', 'Jaqpot Games', true) RETURNING id""", provider_code)
    rows(fresh_dsn, "INSERT INTO PROVIDER_CASINOS (casino_code, allows_v1) VALUES (%s, true) RETURNING id", casino_code)
    server = ServerProcess(fresh_dsn).start()
    try:
        assert [w for w in warnings(server) if "v1 signatures" in w] == [
            ("v1 signatures (body only, replayable) accepted from provider JAQPOT: "
             "python -m casino.keys provider v1 JAQPOT off"),
            (f"v1 signatures (body only, replayable) accepted from provider {provider_code}: "
             f"python -m casino.keys provider v1 {provider_code} off"),
            (f"v1 signatures (body only, replayable) accepted at the provider from casino {casino_code}: "
             f"python -m provider.keys casino v1 {casino_code} off")]
        # An operator's choice is kept: JAQPOT's row says v1, so its environment key signs v1.
        assert v1_balance(Api(server.url), CASINO_SECRET).status_code == 404
    finally:
        server.stop()


def test_the_start_up_lines_list_the_warnings():
    secrets = read_secrets(PRODUCTION)
    banner = startup_banner("http://127.0.0.1:8000", type("Db", (), {"description": "embedded"})(), secrets,
                            notices=["DEMO DATA loaded (--demo-data): …", "v1 signatures … from provider JAQPOT: …"])
    assert banner.splitlines()[-2:] == ["  WARNING    DEMO DATA loaded (--demo-data): …",
                                        "  WARNING    v1 signatures … from provider JAQPOT: …"]


def test_development_mode_loads_the_demo_and_its_pair_keeps_v1(fresh_dsn):
    env = dict.fromkeys((*DEV_SECRETS, "KEYS_ENCRYPTION_KEY"), "")
    server = ServerProcess(fresh_dsn, extra_env=env, demo_data=None).start()
    try:
        assert rows(fresh_dsn, "SELECT code, allows_v1 FROM CASINO_GAME_PROVIDERS") == [("JAQPOT", True)]
        assert rows(fresh_dsn, "SELECT count(*) FROM CASINO_USERS WHERE origin = 'demo'") == [(2,)]
        assert v1_balance(Api(server.url), DEV_SECRETS["CASINO_SECRET"].encode()).status_code == 404
        assert not any("v1 signatures" in w for w in warnings(server))
    finally:
        server.stop()


@pytest.mark.parametrize("argv, message", [
    (["--demo-data", "--no-demo-data"], "--demo-data and --no-demo-data: choose one"),
    (["--demo"], "--demo plays with the demo data, which a server off development mode loads only with --demo-data"),
])
def test_contradictions_are_refused(argv, message):
    with pytest.raises(SettingsError) as refused:
        read_settings(argv, PRODUCTION)
    assert str(refused.value) == message


@pytest.mark.parametrize("argv, environ, loads", [
    ([], PRODUCTION, False), (["--demo-data"], PRODUCTION, True), (["--demo", "--demo-data"], PRODUCTION, True),
    ([], {}, True), (["--demo"], {}, True), (["--no-demo-data"], {}, False),
])
def test_who_loads_the_demo_data(argv, environ, loads):
    assert read_settings(argv, environ).loads_demo_data is loads


def test_the_demo_data_command_keeps_v1_in_development_mode_only(fresh_dsn):
    env = {k: v for k, v in os.environ.items() if k not in (*DEV_SECRETS, "KEYS_ENCRYPTION_KEY")}
    run = subprocess.run([sys.executable, "-m", "service.demo_data"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={**env, "DATABASE_URL": fresh_dsn, **PRODUCTION})
    assert run.returncode == 0, run.stderr
    assert rows(fresh_dsn, "SELECT allows_v1 FROM CASINO_GAME_PROVIDERS WHERE code = 'JAQPOT'") == [(False,)]
