"""The provider's client for the casino's wallet: signed calls, retried like an aggregator.

A call whose outcome is uncertain is sent again, byte for byte, with the same
transactionId; the casino's idempotency makes that safe. A definitive answer ends it:

    answer                                  retried?
    2xx, well-formed (provider/answers.py)  no: applied (or replayed)
    4xx with the protocol's error body      no: refused, and will be refused again
    5xx (500, 502, 503, 504, ...)           yes: the casino may or may not have applied it
    timeout, refused/reset connection,
    reply cut off, no free slot in time     yes: same
    3xx, or a body that is not the
    protocol's answer for that call         yes: same -- it proves nothing either way

Backoff is exponential and bounded; after the last attempt the outcome is "unknown".
"""
import asyncio
import json
import logging
from dataclasses import dataclass

from prometheus_client import Counter

from wire.outbound import OutboundClient, OutboundLimits
from wire.signing import sign_v2

from . import answers

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

    def backoff(self, attempt):
        return min(self.first_backoff * 2 ** (attempt - 1), self.max_backoff)


@dataclass
class CasinoAnswer:
    status: int | None          # None when no definitive answer came
    body: dict | None
    replay: bool
    attempts: int
    request: dict
    # Without a definitive answer: what the last attempt got ("no answer", "answered 502").
    last_outcome: str | None = None

    @property
    def definitive(self):
        return self.status is not None

    @property
    def accepted(self):
        return self.status is not None and 200 <= self.status < 300


class CasinoClient:
    """Calls to the casinos this provider serves, each signed with the provider's newest
    key at that casino (keyring: the provider's) and sent to its callback URL (default_url
    unless the casino has one of its own)."""

    def __init__(self, keyring, default_url, policy=RetryPolicy(), limits=OutboundLimits(), addresses=None):
        self.keyring = keyring
        self.default_url = default_url.rstrip("/")
        self.policy = policy
        # addresses: where calls may go (wire/addresses.py), checked at each connection.
        self.http = OutboundClient(limits, addresses)

    @staticmethod
    def _signed_headers(key, path, data):
        return {"x-casino-signature": sign_v2(key.secret, key.kid, "POST", path, data)}

    def for_casino(self, casino_code):
        return CasinoLink(self, casino_code)

    async def call(self, casino_code, endpoint, body: dict, request_id=None) -> CasinoAnswer:
        # Serialised and signed once: every retry sends exactly the same bytes.
        path = f"/casino/{endpoint}"
        data = json.dumps(body, separators=(",", ":")).encode()
        key = await self.keyring.signing_key(casino_code)
        if key is None:
            log.error("casino %s: no key to sign calls to it; %s %s not sent", casino_code, endpoint,
                      body.get("transactionId", ""))
            UNKNOWN.labels(endpoint).inc()
            return CasinoAnswer(None, None, False, 0, body, "not sent: no key to sign it")
        headers = {"Content-Type": "application/json", **self._signed_headers(key, path, data)}
        if request_id:
            headers["X-Request-Id"] = request_id   # one id follows a round across both systems
        url = (key.endpoint or self.default_url).rstrip("/") + path
        for attempt in range(1, self.policy.attempts + 1):
            response = await self.http.post(url, data, headers)
            parsed = answers.parse(response.body) if response is not None else None
            if response is not None and answers.well_formed(endpoint, body, response.code, parsed):
                return CasinoAnswer(response.code, parsed, response.headers.get("Idempotent-Replay") == "true",
                                    attempt, body)
            outcome = _no_answer(response)
            if attempt < self.policy.attempts:
                log.warning("casino %s %s: %s (attempt %d of %d), resending", endpoint,
                            body.get("transactionId", ""), outcome, attempt, self.policy.attempts)
                await asyncio.sleep(self.policy.backoff(attempt))
                RESENDS.labels(endpoint).inc()
        UNKNOWN.labels(endpoint).inc()
        log.error("casino %s %s: outcome unknown after %d attempts (last: %s)", endpoint,
                  body.get("transactionId", ""), self.policy.attempts, outcome)
        return CasinoAnswer(None, None, False, self.policy.attempts, body, outcome)

    def close(self):
        self.http.close()


def _no_answer(response):
    """Why an attempt settled nothing, for the log."""
    if response is None:
        return "no answer"
    return f"answered {response.code}" + ("" if response.code >= 500 else ", not a protocol answer")


@dataclass(frozen=True)
class CasinoLink:
    """The client bound to one casino: what a round or a reconciliation pass talks to."""
    client: CasinoClient
    casino_code: str

    async def call(self, endpoint, body: dict, request_id=None) -> CasinoAnswer:
        return await self.client.call(self.casino_code, endpoint, body, request_id)
