"""What the tests share: a real server process, a signing HTTP client, database helpers."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import requests

from casino import players, sessions
from wire.signing import sign

ROOT = Path(__file__).resolve().parent.parent
CASINO_SECRET = b"test-casino-secret"
PROVIDER_SECRET = b"test-provider-secret"


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


class ServerProcess:
    """`python server.py` as a child process, on a port the OS picks. entry replaces
    `server.py` (e.g. `-c` and a program that patches, then calls server.main)."""

    def __init__(self, dsn, extra_env=None, args=(), entry=None):
        self.dsn = dsn
        self.extra_env = extra_env or {}
        self.args = list(args)
        self.entry = list(entry) if entry else [str(ROOT / "server.py")]
        self.proc = None
        self.url = None

    def start(self):
        env = dict(os.environ, DATABASE_URL=self.dsn, CASINO_SECRET=CASINO_SECRET.decode(),
                   PROVIDER_SECRET=PROVIDER_SECRET.decode(), PYTHONUNBUFFERED="1",
                   **self.extra_env)
        self.log = tempfile.NamedTemporaryFile(prefix="casino-server-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, *self.entry, "--port", "0", "--no-demo-data", *self.args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=self.log, text=True)
        # The server prints its address once it listens; no polling needed.
        for line in self.proc.stdout:
            if line.strip().startswith("listening"):
                self.url = line.split()[1]
                break
        if self.url is None:
            raise RuntimeError(f"server did not start:\n{self.output()}")
        return self

    def proc_children(self):
        import psutil
        return psutil.Process(self.proc.pid).children()

    def output(self):
        return Path(self.log.name).read_text()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


class Api:
    """An HTTP client that signs like the real peers do: over the exact bytes sent."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.http = requests.Session()

    def raw(self, path, data: bytes, headers=None):
        return self.http.post(self.base_url + path, data=data, headers=headers or {}, timeout=30)

    def casino(self, endpoint, body, secret=CASINO_SECRET):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.raw(f"/casino/{endpoint}", data, {
            "Content-Type": "application/json", "x-casino-signature": sign(data, secret)})

    def provider(self, endpoint, body, secret=PROVIDER_SECRET):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.raw(f"/provider/{endpoint}", data, {
            "Content-Type": "application/json", "x-provider-signature": sign(data, secret)})

    def client(self, endpoint, body):
        return self.raw(f"/casino/{endpoint}", json.dumps(body).encode(),
                        {"Content-Type": "application/json"})


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
        """A game of a provider of its own, so each test has its own transactionId space."""
        code = "g-" + uuid.uuid4().hex[:8]

        def create(cur):
            cur.execute("""INSERT INTO CASINO_GAME_PROVIDERS (code, name, is_disabled)
                           VALUES (%s, 'Test provider', %s) RETURNING id""",
                        ("P-" + code, provider_disabled))
            provider_id = cur.fetchone()[0]
            cur.execute("""INSERT INTO CASINO_GAMES (provider_id, provider_game_id, name, default_currency,
                                                    is_active, min_bet, max_bet)
                           VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                        (provider_id, code, code, currency, active, min_bet, max_bet))
            return cur.fetchone()[0]
        return self.run(create)

    def launchable_game(self, min_bet=10, max_bet=10_000, currency="USD", at_provider=True,
                        provider_active=True, endpoint=None):
        """A game both sides know, of the in-process provider (or one at `endpoint`)."""
        code = "pg-" + uuid.uuid4().hex[:8]

        def create(cur):
            cur.execute("""INSERT INTO CASINO_GAME_PROVIDERS (code, name, api_endpoint)
                           VALUES (%s, 'Jaqpot Games', %s) RETURNING id""", ("JQ-" + code, endpoint))
            provider_id = cur.fetchone()[0]
            cur.execute("""INSERT INTO CASINO_GAMES (provider_id, provider_game_id, name, default_currency,
                                                    min_bet, max_bet)
                           VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
                        (provider_id, code, code, currency, min_bet, max_bet))
            game_id = cur.fetchone()[0]
            if at_provider:
                cur.execute("""INSERT INTO PROVIDER_GAMES (game_id, name, is_active, min_bet, max_bet)
                               VALUES (%s, %s, %s, %s, %s)""", (code, code, provider_active, min_bet, max_bet))
            return game_id
        return self.run(create)

    def player(self, funds=10_000, currencies=("USD",)):
        """A user with funded wallets; returns (user_id, {currency: wallet_id})."""
        def create(cur):
            user_id, wallets = players.create_player(cur, "u-" + uuid.uuid4().hex[:12], currencies)
            for currency, wallet_id in wallets.items():
                if funds:
                    players.deposit(cur, wallet_id, funds, f"test-deposit-{wallet_id}")
            return user_id, wallets
        return self.run(create)

    def session(self, user_id, wallet_id, game_id, active=True):
        def create(cur):
            token = sessions.create_session(cur, user_id, wallet_id, game_id)
            if active:
                sessions.activate_session(cur, token, "ps-" + uuid.uuid4().hex[:8])
            return token
        return self.run(create)

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
