"""What the HTTP load tools share: a deployment's back office and lobby over HTTP, and the
provider key they sign callbacks with. Nothing of the service's code is imported: a tool
needs only the deployment's URL and two keys, so it runs against a staging system as well
as against a server of its own (loadtests/local_server.py).

  OPERATOR_KEY         an operator key holding the scopes admin, backoffice, cashier and
                       lobby (a tool's run makes its own key with it: see Run)
  SIGNING_KEY_ID       the provider key the tool signs its callbacks with, as that
  SIGNING_KEY_SECRET   provider would: default JAQPOT, the demo provider, whose secret
                       is the server's CASINO_SECRET (default: CASINO_SECRET from this
                       environment, else the development one)

The games a tool launches must be that provider's, and known to it (the provider accepts
the launch).
"""
import json
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from wire.secrets_env import DEV_SECRETS
from wire.signing import sign_v2

# What a tool's run key may do: make players and wallets (admin), fund them (cashier),
# launch games (lobby), read balances, ledgers and the audit (backoffice); and retire
# its players and revoke itself at the end (admin).
RUN_SCOPES = ["admin", "backoffice", "cashier", "lobby"]
TIMEOUT = 30            # seconds, any one call
RETIRE_BATCH = 1000     # user ids per retire call (the endpoint's limit)


class ToolError(RuntimeError):
    """A call the tool cannot go on without was refused; the message is one line."""


def signing_key_from_environment(environ=os.environ):
    """(kid, secret) the tool signs its callbacks with."""
    secret = (environ.get("SIGNING_KEY_SECRET") or environ.get("CASINO_SECRET")
              or DEV_SECRETS["CASINO_SECRET"])
    return environ.get("SIGNING_KEY_ID") or "JAQPOT", secret.encode()


def signed_headers(key, path, data: bytes):
    """The headers of a provider's signed (v2) callback to the casino."""
    kid, secret = key
    return {"Content-Type": "application/json", "x-casino-signature": sign_v2(secret, kid, "POST", path, data)}


def get_balance(url, key, user_id, token):
    """The balance the casino answers the provider (a signed getBalance)."""
    data = json.dumps({"sessionToken": token, "userId": user_id}, separators=(",", ":")).encode()
    try:
        response = requests.post(f"{url.rstrip('/')}/casino/getBalance", data=data, timeout=TIMEOUT,
                                 headers=signed_headers(key, "/casino/getBalance", data))
    except requests.RequestException as exc:
        raise ToolError(f"POST /casino/getBalance: no answer from {url} ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise ToolError(f"POST /casino/getBalance answered {response.status_code} for player {user_id}")
    return response.json()["balance"]


def wallet_problems(api, key, currency, expected, tokens, audit=True, workers=16):
    """The end-of-run check of an HTTP tool, as lines to print (empty when every invariant
    held): for each player of `expected` ({userId: the balance the tool's answers say it
    must have}), the balance getBalance answers (on the session `tokens[userId]`, signed
    with `key`), the back office's, and the sum of its ledger pages' applied movements
    must all equal the expected one; then the ledger audit (GET
    /casino/admin/ledger/audit) must find nothing, unless `audit` is False (a ledger too
    large to audit within the deployment's timeout)."""
    def one(user_id):
        answered = get_balance(api.url, key, user_id, tokens[user_id])
        wallet, = (w for w in api.admin(f"players/{user_id}")["wallets"] if w["currency"] == currency)
        ledger = sum(row["movement"] for row in api.ledger(user_id, currency) if row["outcome"] == "applied")
        if not answered == wallet["balance"] == ledger == expected[user_id]:
            return (f"player {user_id}: getBalance {answered}, back office {wallet['balance']}, "
                    f"ledger {ledger}, expected {expected[user_id]}")
        return None
    with ThreadPoolExecutor(workers) as pool:
        problems = [line for line in pool.map(one, sorted(expected)) if line]
    if audit:
        try:
            problems += [f"ledger audit: {v}" for v in api.admin("ledger/audit")["violations"]]
        except ToolError as exc:
            problems.append(f"ledger audit not run: {exc}")
    return problems


def describe(counts):
    """The retire answer as one line, worded as `python -m casino.synthetic retire` prints it
    (the signing keys its providers lost, where the deployment counts them)."""
    line = (f"{counts['sessionsClosed']} session(s) closed, {counts['playersDisabled']} player(s) disabled, "
            f"{counts['providersDisabled']} provider(s) and {counts['gamesDisabled']} game(s) disabled")
    return line + (f", {counts['keysRevoked']} signing key(s) revoked" if "keysRevoked" in counts else "")


class CasinoApi:
    """The casino's operator endpoints (/casino/admin/*, /casino/launchGame) with one key.
    Safe to share between threads: each thread has its own keep-alive session."""

    def __init__(self, url, key):
        self.url = url.rstrip("/")
        self.key = key
        self._local = threading.local()

    @property
    def http(self):
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def call(self, method, path, body=None, params=None):
        """(status, the answer's JSON or None)."""
        try:
            response = self.http.request(method, self.url + path, json=body, params=params, timeout=TIMEOUT,
                                         headers={"Authorization": f"Bearer {self.key}"})
        except requests.RequestException as exc:
            raise ToolError(f"{method} {path}: no answer from {self.url} ({type(exc).__name__})") from None
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    def request(self, method, path, body=None, expect=(200, 201), params=None):
        """The answer of a call that must succeed; else ToolError naming the call and its refusal."""
        status, answer = self.call(method, path, body, params)
        if status not in expect:
            error = (answer or {}).get("error") if isinstance(answer, dict) else None
            said = f"{error.get('code')}: {error.get('message')}" if isinstance(error, dict) else "no error body"
            raise ToolError(f"{method} {path} answered {status} ({said})")
        return answer

    def admin(self, path, body=None):
        return self.request("POST" if body is not None else "GET", "/casino/admin/" + path, body)

    def game(self, game_id):
        """The game as the back office shows it; ToolError unless it is active."""
        game = self.admin(f"games/{game_id}")
        if game["status"] != "active":
            raise ToolError(f"game {game_id} ({game['name']}) is disabled")
        return game

    def launch(self, user_id, game_id):
        """A session the provider accepted: its token."""
        return self.request("POST", "/casino/launchGame", {"userId": user_id, "gameId": game_id})["sessionToken"]

    def ledger(self, user_id, currency):
        """Every ledger row of the player's wallet in that currency, newest first (all pages)."""
        rows, cursor = [], None
        while True:
            page = self.request("GET", f"/casino/admin/players/{user_id}/transactions",
                                params={"currency": currency, "limit": 200, **({"cursor": cursor} if cursor else {})})
            rows += page["items"]
            cursor = page["nextCursor"]
            if cursor is None:
                return rows


class Run:
    """One run of a tool against a deployment, from the operator key it was given:

      - start(): makes the run's own key with it, a tool's key (origin `origin`, labelled
        "<origin> run <tag>", scopes RUN_SCOPES), so the server marks every player made
        in the run as the tool's -- the key says so, not the tool -- and refuses to go on
        if the server did not (one that predates tool keys would make real players);
      - provision(): funded players, each with a wallet in the game's currency and, when
        asked, a session launched through /casino/launchGame;
      - finish(): retires the run's players (POST /casino/admin/synthetic/retire: their
        sessions closed, they disabled, their ledger kept) and revokes the run's key.
    """

    def __init__(self, url, operator_key, origin, tag=None):
        self.given = CasinoApi(url, operator_key)
        self.origin = origin
        self.tag = tag or uuid.uuid4().hex[:8]
        self.api = None          # CasinoApi on the run's key, once started
        self.key_id = None
        self.user_ids = []
        self._lock = threading.Lock()

    def start(self):
        made = self.given.request("POST", "/casino/admin/keys", {
            "scopes": RUN_SCOPES, "label": f"{self.origin} run {self.tag}", "origin": self.origin})
        self.key_id = made["keyId"]
        self.api = CasinoApi(self.given.url, made["key"])
        if made.get("origin") != self.origin:
            self._revoke()
            raise ToolError(f"the server made a key of origin {made.get('origin')!r}, not {self.origin!r}: it does "
                            "not mark a tool's players, so none is made")
        return self

    def provision(self, count, game, funds, launch=True, workers=16):
        """[(userId, sessionToken or None)] of `count` players funded with `funds` in the
        game's currency, in order; made `workers` at a time."""
        def one(n):
            name = f"{self.origin}-{self.tag}-{n}"
            user_id = self.api.admin("players", {"username": name, "email": f"{name}@example.com"})["userId"]
            with self._lock:
                self.user_ids.append(user_id)     # retired at the end, whatever happens next
            self.api.admin("wallets", {"userId": user_id, "currency": game["currency"]})
            self.api.admin("deposits", {"userId": user_id, "currency": game["currency"], "amount": funds,
                                        "reference": name})
            return user_id, self.api.launch(user_id, game["gameId"]) if launch else None
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, range(count)))

    def retire(self):
        """Retires the run's players; the counts of what was taken out of play."""
        totals = {"sessionsClosed": 0, "playersDisabled": 0, "gamesDisabled": 0, "providersDisabled": 0}
        for start in range(0, len(self.user_ids), RETIRE_BATCH):
            counts = self.api.admin("synthetic/retire", {"userIds": self.user_ids[start:start + RETIRE_BATCH]})
            for name, count in counts.items():
                if name != "origins":       # every count the deployment answers, summed
                    totals[name] = totals.get(name, 0) + count
        return totals

    def finish(self):
        """retire(), then the run's key revoked; the counts."""
        try:
            return self.retire()
        finally:
            self._revoke()

    def _revoke(self):
        if self.key_id is not None:
            self.given.request("POST", f"/casino/admin/keys/{self.key_id}/revoke", {})
