"""Providers behaving like real aggregators, and a check that the wallet survived them.

    locust -f loadtests/retries.py                       # a server of its own; web UI on :8089
    locust -f loadtests/retries.py --headless -u 64 -r 64 -t 60s
    OPERATOR_KEY=... SIGNING_KEY_ID=... SIGNING_KEY_SECRET=... LOCUST_GAME_ID=... \\
        locust -f loadtests/retries.py --headless -u 64 -r 64 -t 60s --host https://staging.example

It speaks HTTP only (loadtests/client.py): given --host, it needs nothing but that URL, an
operator key (OPERATOR_KEY: scopes admin, backoffice, cashier, lobby) and the key of the
provider whose game it launches (SIGNING_KEY_ID / SIGNING_KEY_SECRET; default JAQPOT's,
CASINO_SECRET); without --host it starts a server of its own on a scratch database
(loadtests/local_server.py) and uses that one's keys and demo game.

With the operator key it makes the run's own key, a Locust key (origin "locust"), and with
that key, through the back office, LOCUST_PLAYERS funded players: the server marks each as
Locust's because the key is. Each simulated provider (a FastHttpUser) takes one, opens two
sessions through POST /casino/launchGame, closes the second (the back office's close), and
sends what aggregators really send:
  - the same signed debit several times at once, and again later (same bytes);
  - rollbacks that arrive before their bet, then the bet;
  - a payout and a rollback of the same bet racing each other;
  - bet streams larger than the balance;
  - bets on a session the casino has closed.
Every answer is recorded. When the run ends, calls left unanswered are sent again, then
one check compares, for every player touched, the balance getBalance answers, the back
office's balance, the sum of the player's ledger pages and a model derived only from the
answers; requires every answer for a transactionId to be identical; and runs the ledger
audit (GET /casino/admin/ledger/audit; LOCUST_LEDGER_AUDIT=off skips it, for a ledger
too large to audit within the server's DB_CALL_TIMEOUT). Any violation or any 5xx is
printed and sets Locust's exit code to 1. Then the run's players are retired (sessions
closed, players disabled, ledger rows kept) and its key revoked. The game launched is
LOCUST_GAME_ID, required with --host (as debit_rate's --game-id is with --url); a server
of its own plays its demo "Jaqpot Slots" (bets 10-10000).
"""
import json
import os
import queue
import threading
import uuid
from collections import defaultdict

import gevent
import requests
from locust import FastHttpUser, between, events, task

from loadtests.client import Run, ToolError, describe, signed_headers, signing_key_from_environment, wallet_problems
from loadtests.local_server import LocalServer

FUNDS = 20_000
PLAYERS = int(os.environ.get("LOCUST_PLAYERS", "256"))
LEDGER_AUDIT = os.environ.get("LOCUST_LEDGER_AUDIT", "on") != "off"
ORIGIN = "locust"                         # what the run's key, hence its players, are marked as


class Journal:
    """Every request sent and every answer received, for the final check."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = {}                       # transactionId -> (kind, body, userId)
        self.answers = defaultdict(list)         # transactionId -> [(status, bytes)]
        self.server_errors = []

    def sending(self, kind, body, player):
        with self.lock:
            self.requests[body["transactionId"]] = (kind, body, player)

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
accounts: queue.Queue = queue.Queue()
# The run: the deployment (its URL, keys and game), the Run, and each player's open session.
state: dict = {"tokens": {}}


def resend_unanswered(host):
    """What a provider does with calls it is unsure about: send them again, same bytes.
    Calls cut off by the end of the run get their definitive answer here."""
    for kind, body in journal.unanswered():
        data = json.dumps(body, separators=(",", ":")).encode()
        response = requests.post(f"{host}/casino/{kind}", data=data, timeout=30,
                                 headers=signed_headers(state["signing_key"], f"/casino/{kind}", data))
        journal.record(kind, body, response.status_code, response.content)


@events.init.add_listener
def deployment(environment, **_):
    """No --host: a server of its own, whose keys and demo game the run uses."""
    if environment.host:
        state.update(operator_key=os.environ.get("OPERATOR_KEY"), signing_key=signing_key_from_environment(),
                     game_id=os.environ.get("LOCUST_GAME_ID"))
        return
    server = LocalServer().start()
    environment.host = server.url
    state.update(local=server, operator_key=server.operator_key, signing_key=server.signing_key,
                 game_id=server.game_id)
    print(f"a server of its own: {server.url} (a scratch database, removed at the end)", flush=True)


@events.test_start.add_listener
def provision(environment, **_):
    """The run's key, and funded players made with it through the back office."""
    try:
        if not state["operator_key"]:
            raise ToolError("OPERATOR_KEY is not set: an operator key with the scopes admin, backoffice, "
                            "cashier and lobby")
        if not str(state["game_id"] or "").isdigit():
            # No default with --host: a deployment's game 1 is whatever it imported first.
            raise ToolError("LOCUST_GAME_ID is not set to a game id: a game of the signing key's provider")
        state["game_id"] = int(state["game_id"])
        run = Run(environment.host, state["operator_key"], ORIGIN)
        state["run"] = run.start()
        game = run.api.game(state["game_id"])
        state["currency"] = game["currency"]
        for account in run.provision(PLAYERS, game, FUNDS, launch=False):
            accounts.put(account[0])
    except ToolError as exc:
        print(f"check: not run: {exc}", flush=True)
        environment.process_exit_code = 1
        state["failed"] = True
        environment.runner.quit()


class Provider(FastHttpUser):
    wait_time = between(0.01, 0.05)

    def on_start(self):
        self.user_id = accounts.get_nowait()
        self.currency = state["currency"]
        self.token = self._launch()
        state["tokens"][self.user_id] = self.token
        self.closed_token = self._launch()
        # Closed as the casino does on logout: the newest session is the second launch's.
        api = state["run"].api
        newest = api.admin(f"players/{self.user_id}/sessions")["items"][0]
        api.admin(f"sessions/{newest['sessionId']}/close", {})

    def _launch(self):
        response = self.client.post("/casino/launchGame", json={"userId": self.user_id, "gameId": state["game_id"]},
                                    name="/casino/launchGame",
                                    headers={"Authorization": f"Bearer {state['run'].api.key}"})
        return response.json()["sessionToken"]

    def _id(self, label):
        return f"{label}-{uuid.uuid4().hex[:16]}"

    def call(self, kind, body):
        data = json.dumps(body, separators=(",", ":")).encode()
        journal.sending(kind, body, self.user_id)
        with self.client.post(f"/casino/{kind}", data=data, name=f"/casino/{kind}", catch_response=True,
                              headers=signed_headers(state["signing_key"], f"/casino/{kind}", data)) as response:
            status = response.status_code
            journal.record(kind, body, status, response.content)
            if status and status < 500:
                response.success()   # refusals are expected answers here, not failures
            return status, response.content

    def bet(self, round_id, amount, token=None, tx=None):
        return {"sessionToken": token or self.token, "userId": self.user_id, "transactionId": tx or self._id("bet"),
                "roundId": round_id, "amount": amount, "currency": self.currency}

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
    """Each player's balance as the answers alone say it must be."""
    balances = defaultdict(lambda: FUNDS)
    first = {tx: answers[0] for tx, answers in journal.answers.items()}
    for tx, (kind, body, player) in journal.requests.items():
        status, content = first.get(tx, (None, None))
        if status != 200:
            continue
        if kind == "debit":
            balances[player] -= body["amount"]
        elif kind == "credit":
            balances[player] += body["amount"]
        elif kind == "rollback" and not json.loads(content)["tombstone"]:
            original = body["originalTransactionId"]
            if first.get(original, (None,))[0] == 200:
                balances[player] += journal.requests[original][1]["amount"]
    return balances


def check(host):
    """Problems found, as lines to print; empty when every invariant held."""
    resend_unanswered(host)
    problems = [f"5xx: {kind} {tx} answered {status}" for kind, tx, status in journal.server_errors]
    problems += [f"no answer: {kind} {body['transactionId']}" for kind, body in journal.unanswered()]
    for tx, answers in journal.answers.items():
        if len(set(answers)) > 1:
            problems.append(f"transaction {tx} got different answers: {sorted({s for s, _ in answers})}")
    model = model_balances()
    touched = sorted({player for _, _, player in journal.requests.values()})
    problems += wallet_problems(state["run"].api, state["signing_key"], state["currency"],
                                {user_id: model[user_id] for user_id in touched}, state["tokens"], LEDGER_AUDIT)
    return problems, len(touched)


@events.quitting.add_listener
def final_check(environment, **_):
    try:
        run = state.get("run")
        if run is None or run.api is None:
            return  # the run never started; it said why
        try:
            if not state.get("failed"):
                report(environment)
        finally:
            # The run's players are done: their sessions closed and they disabled, so none
            # stays in play (their ledger rows stay, as money history does); its key revoked.
            print(f"retired: {describe(run.finish())}", flush=True)
    finally:
        if "local" in state:
            state["local"].stop()


def report(environment):
    try:
        problems, players = check(environment.host)
    except ToolError as exc:
        problems, players = [f"check not finished: {exc}"], 0
    calls = sum(len(a) for a in journal.answers.values())
    for problem in problems:
        print(f"VIOLATION {problem}")
    print(f"check: {players} wallets, {len(journal.requests)} transactionIds, {calls} answers, "
          f"{len(problems)} violation(s) -> {'FAILED' if problems else 'ok'}", flush=True)
    if problems:
        environment.process_exit_code = 1
