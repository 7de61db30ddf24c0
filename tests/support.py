"""What the tests share: a signing HTTP client, database helpers, the service functions run
without HTTP, and (from loadtests/postgres/child_server.py, shared with the load tools) the
server child process and its secrets."""
import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.sql
import pytest
import requests

import provider.credentials
from casino import credentials, operators, players, sessions
from db.pool import Database
from loadtests.postgres.child_server import (BOX, CASINO_SECRET, DEMO_CASINO_KEY, DEMO_KEY,  # noqa: F401 (shared)
                                             KEYS_ENCRYPTION_KEY, OPERATOR_KEY, PROVIDER_SECRET, ROOT,
                                             ServerProcess)
from wire.signing import sign_v1, sign_v2

# The provider key each test game's sessions are signed with: (kid, secret) by game id and
# by session token. Module-level, so every Ledger and Api of a worker process sees them.
KEYS_BY_GAME: dict[int, tuple[str, bytes]] = {}
KEYS_BY_TOKEN: dict[str, tuple[str, bytes]] = {}


# This run's id: in every process the run starts (its environment), and in the name of every
# database it makes (tests/conftest.py).
RUN_ID_VAR = "CASINO_TEST_RUN"
# The temp folder the run was started with (its own TMPDIR is a directory in it).
SYSTEM_TEMP_VAR = "CASINO_TEST_SYSTEM_TEMP"

# The system commands some tests need, and the Debian package that brings each (.ci/run
# installs them all). Without one, those tests are skipped, and the run's summary says
# which and why; with TEST_SKIP_NOTHING=1 (.ci/run sets it) they fail instead.
SYSTEM_PACKAGES = {"pgbouncer": "pgbouncer", "chromium": "chromium", "chromedriver": "chromium-driver",
                   "etcd": "etcd-server"}
SKIP_NOTHING = os.environ.get("TEST_SKIP_NOTHING", "") not in ("", "0")


def installed(command):
    # Debian puts pgbouncer in /usr/sbin, which is not on every user's PATH.
    return shutil.which(command) or shutil.which(command, path="/usr/sbin:/sbin")


def missing_system_packages(*commands):
    """Why a test needing these commands cannot run here ('' when it can)."""
    missing = [command for command in commands if not installed(command)]
    if not missing:
        return ""
    packages = " ".join(dict.fromkeys(SYSTEM_PACKAGES[command] for command in missing))
    return (f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed "
            f"(apt-get install {packages}; .ci/run installs it)")


def needs(*commands):
    """Marks a test (or, as pytestmark, a module) that runs these system commands (keys of
    SYSTEM_PACKAGES): skipped where one is missing, failed instead under TEST_SKIP_NOTHING=1."""
    assert set(commands) <= set(SYSTEM_PACKAGES), commands
    return pytest.mark.needs_system(*commands)


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


def logged(server, request_id):
    """Every JSON log line of `server` that carries `request_id`: (record, raw line). A
    request's access line is written just after its answer leaves, so a client can read the
    log before it is there; the server answers a request of its own first, and by then
    every answer before it has been logged (one event loop: the line follows its answer's
    write in the same callback)."""
    assert requests.get(server.url + "/health/live", timeout=10).status_code == 200
    found = []
    for raw in server.output().splitlines():
        if raw.startswith("{"):
            record = json.loads(raw)
            if record.get("request_id") == request_id:
                found.append((record, raw))
    return found


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


class TestClock:
    """The database's clock for the rules of time (casino_clock()): frozen at an instant a
    test sets, in a database whose casino.test_clock is on (the workers' are)."""

    def __init__(self, ledger):
        self.ledger = ledger

    def set(self, moment):
        """Freeze the rules' time at `moment` (an aware datetime, or RFC 3339 text)."""
        self.ledger.query("""INSERT INTO CASINO_TEST_CLOCK (frozen_at) VALUES (%s)
                             ON CONFLICT (one) DO UPDATE SET frozen_at = EXCLUDED.frozen_at RETURNING frozen_at""",
                          moment)

    def release(self):
        self.ledger.query("DELETE FROM CASINO_TEST_CLOCK RETURNING 1")


def idle_for(ledger, token, seconds):
    """The session `token` idle for `seconds`: its last activity that long before now()."""
    ledger.query("""UPDATE CASINO_GAME_SESSIONS SET last_activity_at = now() - make_interval(secs => %s)
                    WHERE token = %s RETURNING 1""", seconds, token)


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
            cur.execute("""INSERT INTO CASINO_GAME_PROVIDERS (code, name, enabled, origin)
                           VALUES (%s, 'Test provider', %s, 'test') RETURNING id""",
                        ("P-" + code, not provider_disabled))
            provider_id = cur.fetchone()[0]
            key = credentials.add_key(cur, BOX, set(), "P-" + code, "provider")
            cur.execute("""INSERT INTO CASINO_GAMES (provider_id, provider_game_id, name, default_currency,
                                                    enabled, min_bet, max_bet)
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
                        provider_enabled=True, endpoint=None):
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
                cur.execute("""INSERT INTO PROVIDER_GAMES (game_code, name, currency, enabled, min_bet, max_bet)
                               VALUES (%s, %s, %s, %s, %s, %s)""",
                            (code, code, currency, provider_enabled, min_bet, max_bet))
            return game_id
        return self.run(create)

    def player(self, funds=10_000, currencies=("USD",), jurisdiction=None, identity=None):
        """A user with funded wallets; returns (user_id, {currency: wallet_id})."""
        def create(cur):
            user_id, wallets = players.create_player(cur, "u-" + uuid.uuid4().hex[:12], currencies,
                                                     jurisdiction=jurisdiction, identity=identity)
            for wallet_id in wallets.values():
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


class Service:
    """The service layer on a database, without HTTP: a function of casino/ (a wallet call,
    a back-office verb) given a cursor as its handler gives it one, through the service's
    own runner (db.pool.Database), and its outcome (an Answer or a Refused) returned as the
    handler would have rendered it."""

    def __init__(self, dsn):
        self.db = Database(dsn, size=2)

    def statement(self, fn, *args):
        """fn(cursor, *args) as a one-statement call runs (the wallet's, the cashier):
        autocommit, the statement its own transaction."""
        return asyncio.run(self.db.statement(fn, *args))

    def transaction(self, fn, *args):
        """fn(cursor, *args) as a verb of several statements runs: one transaction."""
        return asyncio.run(self.db.transaction(fn, *args))

    def close(self):
        self.db.close()


def back_office(api, method, path, body=None, key=OPERATOR_KEY, **query):
    """A call of /casino/admin/<path> with an operator key (the environment's by default)."""
    return api.http.request(method, f"{api.base_url}/casino/admin/{path}", params=query, timeout=30,
                            data=json.dumps(body).encode() if body is not None else None,
                            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})


class Player:
    """One player with funded USD and EUR wallets and an open session (USD) on a game of a
    provider of its own, and the provider's calls for it, in round r1 unless told."""

    def __init__(self, api, ledger, funds=1_000, min_bet=1, max_bet=1_000_000):
        self.api, self.ledger = api, ledger
        self.game = ledger.game(min_bet=min_bet, max_bet=max_bet)
        self.user_id, wallets = ledger.player(funds=funds, currencies=("USD", "EUR"))
        self.wallet = wallets["USD"]
        self.token = ledger.session(self.user_id, self.wallet, self.game)

    def body(self, **fields):
        return {"sessionToken": self.token, "userId": self.user_id, "currency": "USD",
                "roundId": "r1", **fields}

    def debit(self, tx, amount, **extra):
        return self.api.casino("debit", self.body(transactionId=tx, amount=amount, **extra))

    def credit(self, tx, amount, **extra):
        return self.api.casino("credit", self.body(transactionId=tx, amount=amount, **extra))

    def rollback(self, tx, original, **extra):
        body = self.body(transactionId=tx, originalTransactionId=original, **extra)
        del body["currency"]
        return self.api.casino("rollback", body)

    def balance(self):
        return self.ledger.balance(self.wallet)[0]


class Admin:
    """The back office's client, with one operator key (the bootstrap key by default), and
    the test database (`ledger`) where player() makes its players."""

    def __init__(self, api, key=OPERATOR_KEY, ledger=None):
        self.api, self.key, self.ledger = api, key, ledger

    def headers(self):
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        return headers

    def post(self, path, body):
        return self.api.http.post(f"{self.api.base_url}/casino/admin/{path}", data=json.dumps(body).encode(),
                                  headers=self.headers(), timeout=30)

    def get(self, path, **query):
        return self.api.http.get(f"{self.api.base_url}/casino/admin/{path}", params=query,
                                 headers=self.headers(), timeout=30)

    def player(self, currencies=("USD",), funds=0):
        # Marked as the test suite's, as every player a test makes is: made in-process, as
        # the tools make theirs (the API makes only operators' players); wallets and money
        # over the API.
        user_id, _ = self.ledger.player(funds=0, currencies=())
        for currency in currencies:
            assert self.post("wallets", {"userId": user_id, "currency": currency}).status_code == 201
            if funds:
                assert self.deposit(user_id, funds, currency=currency).status_code == 200
        return user_id

    def deposit(self, user_id, amount, reference=None, currency="USD"):
        return self.post("deposits", {"userId": user_id, "currency": currency, "amount": amount,
                                      "reference": reference or "dep-" + uuid.uuid4().hex})

    def withdraw(self, user_id, amount, reference=None, currency="USD"):
        return self.post("withdrawals", {"userId": user_id, "currency": currency, "amount": amount,
                                         "reference": reference or "wd-" + uuid.uuid4().hex})


def key_with(ledger, *scopes):
    """A new operator key holding only these scopes."""
    return ledger.run(lambda cur: operators.create_key(cur, list(scopes), "test")[0])


def error_code(response):
    """The protocol error code of an answer, None for a success."""
    return response.json().get("error", {}).get("code")


def market(api, **rules):
    """A jurisdiction of its own for a test (a new code each time), created with PUT: the
    default market's rules but for `rules` (the API's field names). Returns its code."""
    code = "T-" + uuid.uuid4().hex[:8].upper()
    row = {"name": "Test market", "timeZone": "UTC", "coolingOffHours": 24, "increaseWaitsForPeriodEnd": False,
           "depositLimitRequired": False, "timeOutMin": "P1D", "timeOutMax": "P6W", "selfExclusionMin": "P6M",
           **rules}
    r = back_office(api, "PUT", f"jurisdictions/{code}", row)
    assert r.status_code == 201, r.text
    return code


class Bettor:
    """A player of a market, funded, with an open session on a game of a provider of its
    own: the provider's calls for it, and the back office's for its limits, exclusions and
    cash (through the API, with the environment's key unless told)."""

    def __init__(self, api, ledger, funds=10_000, jurisdiction=None, identity=None, min_bet=1, max_bet=1_000_000,
                 currency="USD"):
        self.api, self.ledger, self.currency = api, ledger, currency
        self.game = ledger.game(min_bet=min_bet, max_bet=max_bet, currency=currency)
        self.user_id, wallets = ledger.player(funds=funds, currencies=(currency,), jurisdiction=jurisdiction,
                                              identity=identity)
        self.wallet = wallets[currency]
        self.token = ledger.session(self.user_id, self.wallet, self.game)

    def body(self, round_id="r1", **fields):
        return {"sessionToken": self.token, "userId": self.user_id, "currency": self.currency, "roundId": round_id,
                **fields}

    def bet(self, tx, amount, round_id="r1"):
        return self.api.casino("debit", self.body(round_id, transactionId=tx, amount=amount))

    def pay(self, tx, amount, round_id="r1", related=None):
        extra = {"relatedTransactionId": related} if related else {}
        return self.api.casino("credit", self.body(round_id, transactionId=tx, amount=amount, **extra))

    def refund(self, tx, original, round_id="r1"):
        body = self.body(round_id, transactionId=tx, originalTransactionId=original)
        del body["currency"]
        return self.api.casino("rollback", body)

    def cash(self, kind, amount, reference=None):
        """A deposit or a withdrawal through the cashier's API."""
        return back_office(self.api, "POST", f"{kind}s", {
            "userId": self.user_id, "currency": self.currency, "amount": amount,
            "reference": reference or f"{kind}-{uuid.uuid4().hex[:12]}"})

    def limit(self, limit_type, period, amount, key=OPERATOR_KEY):
        return back_office(self.api, "PUT", f"players/{self.user_id}/limits",
                           {"type": limit_type, "period": period, "currency": self.currency, "amount": amount}, key)

    def limits(self):
        r = back_office(self.api, "GET", f"players/{self.user_id}/limits")
        assert r.status_code == 200, r.text
        return {(item["type"], item["period"]): item for item in r.json()["items"]}

    def exclude(self, kind, until, key=OPERATOR_KEY):
        return back_office(self.api, "POST", f"players/{self.user_id}/exclusions",
                           {"kind": kind, "until": until}, key)

    def balance(self):
        return self.ledger.balance(self.wallet)[0]

    def counters(self):
        """The wallet's counters (deposit, loss, wager; day, week, month), as kept."""
        return self.ledger.query("""
            SELECT deposit_day_used, deposit_week_used, deposit_month_used, loss_day_used, loss_week_used,
                   loss_month_used, wager_day_used, wager_week_used, wager_month_used
            FROM CASINO_WALLETS WHERE id = %s""", self.wallet)[0]


class Gambler:
    """A player with a cash-funded USD wallet and an open session on a game of a provider of
    its own: the provider's calls for it, the cashier's (deposits, withdrawals, bonuses) and
    the back office's reads, over real HTTP; and what the database holds for it."""

    def __init__(self, api, ledger, cash=1_000, min_bet=1, max_bet=1_000_000, currencies=("USD",)):
        self.api, self.ledger = api, ledger
        self.game = ledger.game(min_bet=min_bet, max_bet=max_bet)
        self.user_id, self.wallets = ledger.player(funds=cash, currencies=currencies)
        self.wallet = self.wallets["USD"]
        self.token = ledger.session(self.user_id, self.wallet, self.game)

    def body(self, round_id="r1", **fields):
        return {"sessionToken": self.token, "userId": self.user_id, "roundId": round_id, **fields}

    def share_forfeit_id(self, bonus_id, transaction_id):
        """The id of the ledger row that forfeits a payout's or refund's share of a forfeited bonus."""
        (provider_id,), = self.ledger.query("SELECT provider_id FROM CASINO_GAMES WHERE id = %s", self.game)
        return f"bonus {bonus_id} forfeit {provider_id} {transaction_id}"

    def debit(self, tx, amount, round_id="r1"):
        return self.api.casino("debit", self.body(round_id, transactionId=tx, amount=amount, currency="USD"))

    def credit(self, tx, amount, round_id="r1", related=None):
        extra = {"relatedTransactionId": related} if related else {}
        return self.api.casino("credit", self.body(round_id, transactionId=tx, amount=amount, currency="USD", **extra))

    def rollback(self, tx, original, round_id="r1"):
        return self.api.casino("rollback", self.body(round_id, transactionId=tx, originalTransactionId=original))

    def get_balance(self):
        return self.api.casino("getBalance", {"sessionToken": self.token, "userId": self.user_id})

    def admin(self, method, path, body=None, key=OPERATOR_KEY, **query):
        return back_office(self.api, method, path, body, key, **query)

    def grant(self, amount, wagering=1, expires_at="2100-01-01T00:00:00Z", reference=None, currency="USD", key=OPERATOR_KEY):
        return self.admin("POST", "bonuses", {"userId": self.user_id, "currency": currency, "amount": amount,
                                              "wagering": wagering, "expiresAt": expires_at,
                                              "reference": reference or "bonus-" + uuid.uuid4().hex}, key=key)

    def granted(self, amount, wagering=1, **fields):
        """A grant that must succeed: its answer's body."""
        r = self.grant(amount, wagering, **fields)
        assert r.status_code == 201, r.text
        return r.json()

    def cancel(self, bonus_id, key=OPERATOR_KEY):
        return self.admin("POST", f"bonuses/{bonus_id}/cancel", {}, key=key)

    def withdraw(self, amount, reference=None):
        return self.admin("POST", "withdrawals", {"userId": self.user_id, "currency": "USD", "amount": amount,
                                                  "reference": reference or "wd-" + uuid.uuid4().hex})

    def deposit(self, amount, reference=None):
        return self.admin("POST", "deposits", {"userId": self.user_id, "currency": "USD", "amount": amount,
                                               "reference": reference or "dep-" + uuid.uuid4().hex})

    def bonuses(self, **query):
        r = self.admin("GET", f"players/{self.user_id}/bonuses", **query)
        assert r.status_code == 200, r.text
        return r.json()["items"]

    def bonus(self, bonus_id):
        (found,) = [b for b in self.bonuses() if b["bonusId"] == bonus_id]
        return found

    def balances(self):
        """(balance, cash, bonus) of the USD wallet as the database holds them."""
        playable, redeemable = self.ledger.balance(self.wallet)
        return playable, redeemable, playable - redeemable

    def rows(self):
        """The wallet's ledger rows but its first deposit: (id, kind, outcome, amount, cash
        movement, bonus movement, bonus id)."""
        return self.ledger.query("""
            SELECT external_transaction_id, transaction_type, outcome, amount, redeemable_movement,
                   playable_movement - redeemable_movement, bonus_id
            FROM CASINO_TRANSACTIONS WHERE wallet_id = %s AND external_transaction_id NOT LIKE 'test-deposit-%%'
            ORDER BY id""", self.wallet)
