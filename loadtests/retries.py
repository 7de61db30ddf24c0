"""Providers behaving like real aggregators, and a check that the wallet survived them.

    python server.py &
    locust -f loadtests/retries.py                       # web UI on :8089
    locust -f loadtests/retries.py --headless -u 64 -r 64 -t 60s --host http://127.0.0.1:8000

Each simulated provider (a FastHttpUser) gets a funded player, opens a session through
POST /casino/launchGame, and sends what aggregators really send:
  - the same signed debit several times at once, and again later (same bytes);
  - rollbacks that arrive before their bet, then the bet;
  - a payout and a rollback of the same bet racing each other;
  - bet streams larger than the balance;
  - bets on a session the casino has closed.
Every answer is recorded. When the run ends, one check compares, for every wallet
touched, the balance the API reports, the database ledger and a model derived only from
the answers; requires every answer for a transactionId to be identical; and runs the
ledger audit. Any violation or any 5xx is printed and sets Locust's exit code to 1.

The players are created in the server's own database (DATABASE_URL, or the embedded
server under ./.data/postgres: --data-dir of server.py; CASINO_DATA_DIR here) with the
back office's own verbs, marked origin "locust"; after the check their sessions are closed
and they are disabled (casino/synthetic.py), their ledger rows kept. The game launched is
LOCUST_GAME_ID (default 1, the demo "Jaqpot Slots", bets 10-10000).
"""
import json
import os
import queue
import threading
import uuid
from collections import defaultdict

import gevent
import psycopg2
import requests
from locust import FastHttpUser, between, events, task

from casino import players, sessions, synthetic
from casino.audit import find_violations
from db.config import NoDatabase, database_from_environment
from wire.signing import sign_v2

# The demo provider's key (JAQPOT, CASINO_SECRET): the game launched must be one of its.
SECRET = os.environ.get("CASINO_SECRET", "dev-casino-secret").encode()
OPERATOR_KEY = os.environ.get("OPERATOR_KEY")
GAME_ID = int(os.environ.get("LOCUST_GAME_ID", "1"))
FUNDS = 20_000
PLAYERS = int(os.environ.get("LOCUST_PLAYERS", "256"))
ORIGIN = "locust"                         # what its players are marked as
OPERATOR = players.operator_for(ORIGIN)   # and the name the back office's audit gives them


class Journal:
    """Every request sent and every answer received, for the final check."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = {}                       # transactionId -> (kind, body, wallet)
        self.answers = defaultdict(list)         # transactionId -> [(status, bytes)]
        self.server_errors = []

    def sending(self, kind, body, wallet):
        with self.lock:
            self.requests[body["transactionId"]] = (kind, body, wallet)

    def record(self, kind, body, status, content):
        with self.lock:
            if status:
                self.answers[body["transactionId"]].append((status, content))
                if status >= 500:
                    self.server_errors.append((kind, body["transactionId"], status))

    def unanswered(self):
        """Calls sent whose answer never arrived: cut off when the run stopped, or lost."""
        return [(kind, body) for tx, (kind, body, _) in self.requests.items() if tx not in self.answers]


journal = Journal()


def signed_headers(kind, data):
    return {"Content-Type": "application/json",
            "x-casino-signature": sign_v2(SECRET, "JAQPOT", "POST", f"/casino/{kind}", data)}


def resend_unanswered(host):
    """What a provider does with calls it is unsure about: send them again, same bytes.
    Calls cut off by the end of the run get their definitive answer here."""
    for kind, body in journal.unanswered():
        data = json.dumps(body, separators=(",", ":")).encode()
        response = requests.post(f"{host}/casino/{kind}", data=data, headers=signed_headers(kind, data), timeout=30)
        journal.record(kind, body, response.status_code, response.content)
accounts: queue.Queue = queue.Queue()
database: dict = {}


@events.test_start.add_listener
def provision(environment, **_):
    """Funded players for the simulated providers, in the server's database."""
    context = database_from_environment(os.environ.get("CASINO_DATA_DIR"), attach="running")
    try:
        location = context.__enter__()
    except NoDatabase as exc:
        print(f"check: not run: {exc}")
        environment.process_exit_code = 1
        environment.runner.quit()
        return
    database.update(dsn=location.dsn, context=context, players=[])
    conn = psycopg2.connect(location.dsn)
    tag = uuid.uuid4().hex[:8]
    with conn, conn.cursor() as cur:
        for i in range(PLAYERS):
            user_id, wallets = players.create_player(cur, f"locust-{tag}-{i}", origin=ORIGIN)
            players.deposit(cur, wallets["USD"], FUNDS, f"locust-{tag}-{i}", OPERATOR)
            accounts.put((user_id, wallets["USD"]))
            database["players"].append(user_id)
    conn.close()


class Provider(FastHttpUser):
    wait_time = between(0.01, 0.05)

    def on_start(self):
        self.user_id, self.wallet = accounts.get_nowait()
        self.token = self._launch()
        closed = self._launch()
        conn = psycopg2.connect(database["dsn"])
        with conn, conn.cursor() as cur:
            sessions.close_session(cur, closed)     # as the casino does on logout
        conn.close()
        self.closed_token = closed

    def _launch(self):
        headers = {"Authorization": f"Bearer {OPERATOR_KEY}"} if OPERATOR_KEY else {}
        response = self.client.post("/casino/launchGame", json={"userId": self.user_id, "gameId": GAME_ID},
                                    name="/casino/launchGame", headers=headers)
        return response.json()["sessionToken"]

    def _id(self, label):
        return f"{label}-{uuid.uuid4().hex[:16]}"

    def call(self, kind, body):
        data = json.dumps(body, separators=(",", ":")).encode()
        journal.sending(kind, body, self.wallet)
        with self.client.post(f"/casino/{kind}", data=data, name=f"/casino/{kind}", catch_response=True,
                              headers=signed_headers(kind, data)) as response:
            status = response.status_code
            journal.record(kind, body, status, response.content)
            if status and status < 500:
                response.success()   # refusals are expected answers here, not failures
            return status, response.content

    def bet(self, round_id, amount, token=None, tx=None):
        return {"sessionToken": token or self.token, "userId": self.user_id, "transactionId": tx or self._id("bet"),
                "roundId": round_id, "amount": amount, "currency": "USD"}

    def concurrently(self, *calls):
        gevent.joinall([gevent.spawn(self.call, kind, body) for kind, body in calls])

    @task(4)
    def duplicated_bet_then_payout(self):
        round_id = self._id("round")
        bet = self.bet(round_id, 100)
        self.concurrently(*[("debit", bet)] * 3)            # the same bytes, at once
        self.call("credit", {**bet, "transactionId": self._id("win"), "amount": 150,
                             "relatedTransactionId": bet["transactionId"]})
        self.call("debit", bet)                              # and again, later

    @task(2)
    def rollback_before_its_bet(self):
        round_id = self._id("round")
        bet = self.bet(round_id, 60)
        self.call("rollback", {"sessionToken": self.token, "userId": self.user_id, "transactionId": self._id("rb"),
                               "originalTransactionId": bet["transactionId"], "roundId": round_id})
        self.call("debit", bet)                              # must be refused, taking nothing

    @task(2)
    def payout_racing_rollback(self):
        round_id = self._id("round")
        bet = self.bet(round_id, 80)
        self.call("debit", bet)
        self.concurrently(
            ("credit", {**bet, "transactionId": self._id("win"), "amount": 200,
                        "relatedTransactionId": bet["transactionId"]}),
            ("rollback", {"sessionToken": self.token, "userId": self.user_id, "transactionId": self._id("rb"),
                          "originalTransactionId": bet["transactionId"], "roundId": round_id}))

    @task(1)
    def overdraw(self):
        round_id = self._id("round")
        self.concurrently(*[("debit", self.bet(round_id, 4_000)) for _ in range(8)])

    @task(1)
    def bet_on_closed_session(self):
        self.call("debit", self.bet(self._id("round"), 20, token=self.closed_token))


def model_balances():
    """Each wallet's balance as the answers alone say it must be."""
    balances = defaultdict(lambda: FUNDS)
    first = {tx: answers[0] for tx, answers in journal.answers.items()}
    for tx, (kind, body, wallet) in journal.requests.items():
        status, content = first.get(tx, (None, None))
        if status != 200:
            continue
        if kind == "debit":
            balances[wallet] -= body["amount"]
        elif kind == "credit":
            balances[wallet] += body["amount"]
        elif kind == "rollback" and not json.loads(content)["tombstone"]:
            original = body["originalTransactionId"]
            if first.get(original, (None,))[0] == 200:
                balances[wallet] += journal.requests[original][1]["amount"]
    return balances


def check(host):
    """Problems found, as lines to print; empty when every invariant held."""
    resend_unanswered(host)
    problems = [f"5xx: {kind} {tx} answered {status}" for kind, tx, status in journal.server_errors]
    problems += [f"no answer: {kind} {body['transactionId']}" for kind, body in journal.unanswered()]
    for tx, answers in journal.answers.items():
        if len(set(answers)) > 1:
            problems.append(f"transaction {tx} got different answers: {sorted({s for s, _ in answers})}")
    conn = psycopg2.connect(database["dsn"])
    with conn, conn.cursor() as cur:
        problems += find_violations(cur)
        touched = {wallet for _, _, wallet in journal.requests.values()}
        cur.execute("SELECT id, playable_balance FROM CASINO_WALLETS WHERE id = ANY(%s)", (list(touched),))
        in_ledger = dict(cur.fetchall())
        cur.execute("""SELECT w.id, s.token, w.user_id FROM CASINO_WALLETS w
                       JOIN CASINO_GAME_SESSIONS s ON s.wallet_id = w.id
                       WHERE w.id = ANY(%s) AND s.is_active""", (list(touched),))
        tokens = {wallet: (token, user) for wallet, token, user in cur.fetchall()}
    conn.close()
    model = model_balances()
    for wallet in sorted(touched):
        token, user_id = tokens[wallet]
        data = json.dumps({"sessionToken": token, "userId": user_id}).encode()
        api = requests.post(f"{host}/casino/getBalance", data=data, timeout=10,
                            headers=signed_headers("getBalance", data)).json()["balance"]
        if not api == in_ledger[wallet] == model[wallet]:
            problems.append(f"wallet {wallet}: API {api}, ledger {in_ledger[wallet]}, model {model[wallet]}")
    return problems, len(touched)


@events.quitting.add_listener
def final_check(environment, **_):
    if "context" not in database:
        return  # provisioning found no database; it said so
    problems, wallets = check(environment.host)
    calls = sum(len(a) for a in journal.answers.values())
    for problem in problems:
        print(f"VIOLATION {problem}")
    print(f"check: {wallets} wallets, {len(journal.requests)} transactionIds, {calls} answers, "
          f"{len(problems)} violation(s) -> {'FAILED' if problems else 'ok'}")
    if problems:
        environment.process_exit_code = 1
    # The run's players are done: their sessions closed and they disabled, so none stays
    # in play in the service's database (their ledger rows stay, as money history does).
    counts = synthetic.retire_in(database["dsn"], OPERATOR, (ORIGIN,), database["players"], [])
    print(f"retired: {synthetic.describe(counts)}")
    database["context"].__exit__(None, None, None)
