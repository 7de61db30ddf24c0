"""The provider's client for the casino's wallet: signed calls, retried like an aggregator.

A call whose outcome is uncertain is sent again, byte for byte, with the same
transactionId; the casino's idempotency makes that safe. A definitive answer ends it:

    answer                                  retried?
    2xx                                     no: applied (or replayed)
    4xx of the protocol (400-499)           no: refused, and will be refused again
    5xx (500, 502, 503, 504, ...)           yes: the casino may or may not have applied it
    timeout, refused/reset connection,
    reply cut off (Tornado's 599)           yes: same

Backoff is exponential and bounded; after the last attempt the outcome is "unknown".
"""
import asyncio
import json
import logging
from dataclasses import dataclass

from prometheus_client import Counter
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from wire.signing import sign_v2

log = logging.getLogger("provider.casino_client")
RESENDS = Counter("provider_casino_resends_total", "Calls to the casino sent again after no definitive answer",
                  ["endpoint"])
UNKNOWN = Counter("provider_unknown_outcomes_total", "Calls whose outcome stayed unknown after every retry",
                  ["endpoint"])


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    first_backoff: float = 0.05
    max_backoff: float = 1.0
    timeout: float = 5.0

    def backoff(self, attempt):
        return min(self.first_backoff * 2 ** (attempt - 1), self.max_backoff)


@dataclass
class CasinoAnswer:
    status: int | None          # None when no definitive answer came
    body: dict | None
    replay: bool
    attempts: int
    request: dict

    @property
    def definitive(self):
        return self.status is not None

    @property
    def accepted(self):
        return self.status is not None and 200 <= self.status < 300


def is_definitive(status):
    return 200 <= status < 500


class CasinoClient:
    """Calls to the casinos this provider serves, each signed with the provider's newest
    key at that casino (provider_keys: the provider's key ring) and sent to its callback
    URL (default_url unless the casino has one of its own)."""

    def __init__(self, keyring, default_url, policy=RetryPolicy()):
        self.keyring = keyring
        self.default_url = default_url.rstrip("/")
        self.policy = policy
        self.http = AsyncHTTPClient()

    def for_casino(self, casino_code):
        return CasinoLink(self, casino_code)

    def _signed_request(self, casino_code, endpoint, data, request_id):
        key = self.keyring.signer(casino_code)
        if key is None:
            return None
        path = f"/casino/{endpoint}"
        headers = {"Content-Type": "application/json",
                   "x-casino-signature": sign_v2(key.secret, key.kid, "POST", path, data)}
        if request_id:
            headers["X-Request-Id"] = request_id   # one id follows a round across both systems
        return HTTPRequest(
            f"{(key.endpoint or self.default_url).rstrip('/')}{path}", method="POST", body=data, headers=headers,
            request_timeout=self.policy.timeout, connect_timeout=self.policy.timeout)

    async def call(self, casino_code, endpoint, body: dict, request_id=None) -> CasinoAnswer:
        # Serialised and signed once: every retry sends exactly the same bytes.
        data = json.dumps(body, separators=(",", ":")).encode()
        request = self._signed_request(casino_code, endpoint, data, request_id)
        if request is None:
            log.error("casino %s: no key to sign calls to it; %s %s not sent", casino_code, endpoint,
                      body.get("transactionId", ""))
            UNKNOWN.labels(endpoint).inc()
            return CasinoAnswer(None, None, False, 0, body)
        for attempt in range(1, self.policy.attempts + 1):
            try:
                response = await self.http.fetch(request, raise_error=False)
            except (OSError, HTTPClientError):  # refused, reset, cut off, timed out
                response = None
            if response is not None and is_definitive(response.code):
                return CasinoAnswer(response.code, _json(response.body),
                                    response.headers.get("Idempotent-Replay") == "true", attempt, body)
            outcome = f"answered {response.code}" if response is not None else "no answer"
            if attempt < self.policy.attempts:
                log.warning("casino %s %s: %s (attempt %d of %d), resending", endpoint,
                            body.get("transactionId", ""), outcome, attempt, self.policy.attempts)
                await asyncio.sleep(self.policy.backoff(attempt))
                RESENDS.labels(endpoint).inc()
        UNKNOWN.labels(endpoint).inc()
        log.error("casino %s %s: outcome unknown after %d attempts", endpoint, body.get("transactionId", ""),
                  self.policy.attempts)
        return CasinoAnswer(None, None, False, self.policy.attempts, body)


def _json(raw):
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return {"unparsable": (raw or b"")[:200].decode("utf-8", "replace")}


@dataclass(frozen=True)
class CasinoLink:
    """The client bound to one casino: what a round or a reconciliation pass talks to."""
    client: CasinoClient
    casino_code: str

    async def call(self, endpoint, body: dict, request_id=None) -> CasinoAnswer:
        return await self.client.call(self.casino_code, endpoint, body, request_id)
