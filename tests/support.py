"""What the tests share: a signing HTTP client, database helpers, and (from
service/child_server.py, shared with loadtests/) the server child process and its secrets."""
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import requests

import provider.credentials
from casino import credentials, players, sessions
from service.child_server import (BOX, CASINO_SECRET, DEMO_CASINO_KEY, DEMO_KEY,  # noqa: F401 (shared)
                                  KEYS_ENCRYPTION_KEY, OPERATOR_KEY, PROVIDER_SECRET, ROOT, ServerProcess)
from wire.signing import sign_v1, sign_v2

# The provider key each test game's sessions are signed with: (kid, secret) by game id and
# by session token. Module-level, so every Ledger and Api of a worker process sees them.
KEYS_BY_GAME = {}
KEYS_BY_TOKEN = {}


def with_database(dsn, name):
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


def tune_for_tests(server_dsn):
    """Durability off: a test database is thrown away, and fsync dominates a test's time."""
    conn = psycopg2.connect(server_dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            cur.execute(f"ALTER SYSTEM SET {setting} = off")
        cur.execute("SELECT pg_reload_conf()")
    conn.close()


def signed(path, data, key, header, version=2):
    """Headers of a signed POST: v2 over (time, method, path, body) by default."""
    kid, secret = key
    value = sign_v2(secret, kid, "POST", path, data) if version == 2 else sign_v1(data, secret)
    return {"Content-Type": "application/json", header: value}


def casino_key(data: bytes):
    """The key a provider signs this callback body with: its session's provider's."""
    try:
        token = json.loads(data).get("sessionToken")
    except (ValueError, AttributeError):
        token = None
    return KEYS_BY_TOKEN.get(token, DEMO_KEY) if isinstance(token, str) else DEMO_KEY


def casino_headers(endpoint, data: bytes):
    return signed(f"/casino/{endpoint}", data, casino_key(data), "x-casino-signature")


class Api:
    """An HTTP client that signs like the real peers do: over the exact bytes sent, with the
    key of the session's provider (KEYS_BY_TOKEN), else the demo provider's."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.http = requests.Session()

    def raw(self, path, data: bytes, headers=None):
        return self.http.post(self.base_url + path, data=data, headers=headers or {}, timeout=30)

    def casino(self, endpoint, body, key=None, version=2):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        key = key or casino_key(data)
        path = f"/casino/{endpoint}"
        return self.raw(path, data, signed(path, data, key, "x-casino-signature", version))

    def provider(self, endpoint, body, key=DEMO_CASINO_KEY, version=2):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        path = f"/provider/{endpoint}"
        return self.raw(path, data, signed(path, data, key, "x-provider-signature", version))

    def client(self, endpoint, body, operator_key=OPERATOR_KEY):
        headers = {"Content-Type": "application/json"}
        if operator_key:
            headers["Authorization"] = f"Bearer {operator_key}"
        return self.raw(f"/casino/{endpoint}", json.dumps(body).encode(), headers)


def until_refused(call, allowed=(200,), refused=401, within=10.0):
    """A change of keys (a revocation, v1 turned off) reaches every process within
    KEY_REFRESH_SECONDS, which no event tells a client: call() until it answers `refused`,
    each answer meanwhile being one of `allowed`; returns the statuses seen."""
    deadline = time.monotonic() + within
    statuses = []
    while not statuses or statuses[-1] != refused:
        assert time.monotonic() < deadline, f"still not {refused} after {within}s: {statuses[-5:]}"
        statuses.append(call().status_code)
        assert statuses[-1] in (*allowed, refused), statuses[-5:]
    return statuses


def run_cli(module, *args, dsn, stdin=None):
    """`python -m module args` on the database at dsn, with the tests' encryption key."""
    env = dict(os.environ, DATABASE_URL=dsn, KEYS_ENCRYPTION_KEY=KEYS_ENCRYPTION_KEY,
               CASINO_SECRET=CASINO_SECRET.decode(), PROVIDER_SECRET=PROVIDER_SECRET.decode())
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


# What would let a tool reach the service's database or know its secrets: a tool run "with
# only a URL and keys" is given none of them.
SERVICE_ENVIRONMENT = ("DATABASE_URL", "DATABASE_READ_URL", "CASINO_DATA_DIR", "CASINO_SECRET", "PROVIDER_SECRET",
                       "KEYS_ENCRYPTION_KEY", "CASINO_CODE", "OPERATOR_KEY", "TEST_DATABASE_URL",
                       "CASINO_TEST_SERVER_DSN")


def tool_environment(**values):
    """os.environ without SERVICE_ENVIRONMENT, plus values: what an HTTP load tool gets."""
    env = {name: value for name, value in os.environ.items() if name not in SERVICE_ENVIRONMENT}
    return {**env, **values}


def parallel(calls):
    """Run the zero-argument callables at the same instant, one thread each; results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


class Ledger:
    """Direct database access for arranging fixtures and checking what was stored."""

    def __init__(self, dsn):
        self.dsn = dsn
        self._conn = None
        self._lock = threading.Lock()

    def run(self, fn, *args):
        """fn(cursor, *args) in one committed transaction on a kept connection."""
        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg2.connect(self.dsn)
            with self._conn, self._conn.cursor() as cur:
                return fn(cur, *args)

    def query(self, sql, *params):
        return self.run(lambda cur: (cur.execute(sql, params), cur.fetchall())[1])

    def game(self, min_bet=1, max_bet=1_000_000, currency="USD", active=True, provider_disabled=False):
        """A game of a provider of its own, with a signing key of its own (KEYS_BY_GAME), so
        each test has its own transactionId space."""
        code = "g-" + uuid.uuid4().hex[:8]

        def create(cur):
            cur.execute("""INSERT INTO CASINO_GAME_PROVIDERS (code, name, is_disabled, origin)
                           VALUES (%s, 'Test provider', %s, 'test') RETURNING id""",
                        ("P-" + code, provider_disabled))
            provider_id = cur.fetchone()[0]
            key = credentials.add_key(cur, BOX, set(), "P-" + code, "provider")
            cur.execute("""INSERT INTO CASINO_GAMES (provider_id, provider_game_id, name, default_currency,
                                                    is_active, min_bet, max_bet)
                           VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                        (provider_id, code, code, currency, active, min_bet, max_bet))
            game_id = cur.fetchone()[0]
            KEYS_BY_GAME[game_id] = (key[0], key[1].encode())
            return game_id
        return self.run(create)

    def demo_provider(self):
        """The casino's row of JAQPOT, the provider this process hosts (its key is the
        environment's CASINO_SECRET), as the demo data has it."""
        return self.run(lambda cur: (cur.execute("""
            INSERT INTO CASINO_GAME_PROVIDERS (code, name, allows_v1) VALUES ('JAQPOT', 'Jaqpot Games', true)
            ON CONFLICT (code) DO UPDATE SET code = EXCLUDED.code RETURNING id"""), cur.fetchone()[0])[1])

    def other_casino(self):
        """A second casino at the provider: (its code, its key to call the provider). The
        provider's key at it is one this casino also accepts as JAQPOT's, so the callbacks
        of its rounds land here."""
        code = "OTHER-" + uuid.uuid4().hex[:6]

        def create(cur):
            casino_key = provider.credentials.add_key(cur, BOX, set(), code, "casino")
            kid, secret = provider.credentials.add_key(cur, BOX, set(), code, "provider")
            credentials.add_key(cur, BOX, set(), "JAQPOT", "provider", kid, secret)
            return code, (casino_key[0], casino_key[1].encode())
        self.demo_provider()
        return self.run(create)

    def launchable_game(self, min_bet=10, max_bet=10_000, currency="USD", at_provider=True,
                        provider_active=True, endpoint=None):
        """A game both sides know, of the in-process provider JAQPOT (or of a provider of
        its own at `endpoint`)."""
        code = "pg-" + uuid.uuid4().hex[:8]
        hosted_provider = None if endpoint else self.demo_provider()

        def create(cur):
            if hosted_provider:
                provider_id = hosted_provider
            else:
                cur.execute("""INSERT INTO CASINO_GAME_PROVIDERS (code, name, api_endpoint, origin)
                               VALUES (%s, 'Remote provider', %s, 'test') RETURNING id""", ("JQ-" + code, endpoint))
                provider_id = cur.fetchone()[0]
                credentials.add_key(cur, BOX, set(), "JQ-" + code, "casino")   # so the casino can call it
            cur.execute("""INSERT INTO CASINO_GAMES (provider_id, provider_game_id, name, default_currency,
                                                    min_bet, max_bet)
                           VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
                        (provider_id, code, code, currency, min_bet, max_bet))
            game_id = cur.fetchone()[0]
            if at_provider:
                cur.execute("""INSERT INTO PROVIDER_GAMES (game_id, name, currency, is_active, min_bet, max_bet)
                               VALUES (%s, %s, %s, %s, %s, %s)""",
                            (code, code, currency, provider_active, min_bet, max_bet))
            return game_id
        return self.run(create)

    def player(self, funds=10_000, currencies=("USD",)):
        """A user with funded wallets; returns (user_id, {currency: wallet_id})."""
        def create(cur):
            user_id, wallets = players.create_player(cur, "u-" + uuid.uuid4().hex[:12], currencies)
            for currency, wallet_id in wallets.items():
                if funds:
                    players.deposit(cur, wallet_id, funds, f"test-deposit-{wallet_id}", players.operator_for("test"))
            return user_id, wallets
        return self.run(create)

    def session(self, user_id, wallet_id, game_id, active=True):
        def create(cur):
            token = sessions.create_session(cur, user_id, wallet_id, game_id)
            if active:
                sessions.activate_session(cur, token, "ps-" + uuid.uuid4().hex[:8])
            return token
        token = self.run(create)
        if game_id in KEYS_BY_GAME:
            KEYS_BY_TOKEN[token] = KEYS_BY_GAME[game_id]
        return token

    def balance(self, wallet_id):
        return self.query("SELECT playable_balance, redeemable_balance FROM CASINO_WALLETS WHERE id = %s",
                          wallet_id)[0]

    def rows(self, wallet_id):
        return self.query("""SELECT external_transaction_id, transaction_type, outcome, playable_movement
                             FROM CASINO_TRANSACTIONS WHERE wallet_id = %s AND transaction_type <> 'deposit'
                             ORDER BY id""", wallet_id)

    def violations(self):
        from casino.audit import find_violations
        return self.run(find_violations)
