"""The casino's calls to a game provider: signed with x-provider-signature, on a client of
their own (wire/outbound.py), so the provider's callbacks to the casino never wait for them.

Launch, simulate, the catalogue and the round feed move no money, so they are not retried: a failure --
no answer, a refusal, a 5xx, a redirect, or a body that is not the protocol's answer -- is
reported as 502 PROVIDER_UNAVAILABLE (naming the provider's error code when it refused with
one) and a launch's casino session stays inactive.
"""
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from wire.addresses import AddressPolicy
from wire.keyring import KeyRing
from wire.outbound import OutboundClient, OutboundLimits
from wire.signing import sign_v2
from wire.validation import ERROR_CODE

from . import refusals
from .refusals import Refused

# A round is a handful of callbacks, each retried for a few seconds at worst.
SIMULATE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Reply:
    """What a provider answered: status None when it gave no answer at all (or we hold no
    key to sign with); body the JSON object it sent, or None."""
    status: int | None
    body: dict[str, Any] | None

    @property
    def answer(self) -> dict[str, Any] | None:
        """The 200 answer, or None."""
        return self.body if self.status == 200 else None

    @property
    def refusal(self) -> tuple[str, str] | None:
        """(code, message) of the protocol's error body in a 4xx answer, or None."""
        if self.status is None or not 400 <= self.status < 500 or self.body is None:
            return None
        error = self.body.get("error")
        if not isinstance(error, dict):
            return None
        code = error.get("code")
        if not (isinstance(code, str) and ERROR_CODE.check(code)):
            return None
        message = error.get("message")
        return code, message[:200] if isinstance(message, str) else ""


NO_ANSWER = Reply(None, None)


def unavailable(reply: Reply = NO_ANSWER) -> Refused:
    """502 PROVIDER_UNAVAILABLE; when the provider refused with a protocol error, its code
    (and message) in ours, so the caller learns why (e.g. GAME_NOT_FOUND at the provider)."""
    refused = reply.refusal
    if refused is None:
        return refusals.error("PROVIDER_UNAVAILABLE")
    code, message = refused
    return refusals.BY_CODE["PROVIDER_UNAVAILABLE"].worded(
        f"the game provider refused: {code}" + (f" ({message})" if message else ""))


class ProviderLink:
    def __init__(self, hosted_url: str, keyring: KeyRing, limits: OutboundLimits = OutboundLimits(),
                 addresses: AddressPolicy | None = None) -> None:
        # Providers whose api_endpoint is NULL are hosted by this process, at hosted_url.
        self.hosted_url = hosted_url.rstrip("/") + "/provider"
        self.keyring = keyring      # the casino's: its newest key at each provider signs
        # addresses: where calls may go (wire/addresses.py), checked at each connection.
        self.http = OutboundClient(limits, addresses)
        self.timeouts = {"launch": limits.request_timeout, "simulate": SIMULATE_TIMEOUT,
                         "games": limits.request_timeout, "rounds": limits.request_timeout}

    async def _signed_headers(self, provider_code: str, path: str, data: bytes) -> dict[str, str] | None:
        key = await self.keyring.signing_key(provider_code)
        if key is None:
            return None
        return {"x-provider-signature": sign_v2(key.secret, key.kid, "POST", path, data)}

    async def call(self, provider_code: str, api_endpoint: str | None, operation: str, body: dict[str, Any],
                   request_id: str | None = None) -> dict[str, Any] | None:
        """The provider's 200 answer as a dict, or None when it gave no usable one."""
        return (await self.exchange(provider_code, api_endpoint, operation, body, request_id)).answer

    async def exchange(self, provider_code: str, api_endpoint: str | None, operation: str, body: dict[str, Any],
                       request_id: str | None = None) -> Reply:
        """The provider's Reply. request_id: sent as X-Request-Id, so one id follows a
        launch or a round across both systems (the provider passes it on to its callbacks)."""
        url = f"{(api_endpoint or self.hosted_url).rstrip('/')}/{operation}"
        data = json.dumps(body, separators=(",", ":")).encode()
        signature = await self._signed_headers(provider_code, urlsplit(url).path, data)
        if signature is None:     # we hold no key at that provider: it could not believe us
            return NO_ANSWER
        headers = {"Content-Type": "application/json", **signature}
        if request_id:
            headers["X-Request-Id"] = request_id
        response = await self.http.post(url, data, headers, request_timeout=self.timeouts[operation])
        if response is None:
            return NO_ANSWER
        try:
            answer = json.loads(response.body)
        except (TypeError, ValueError, RecursionError):
            answer = None
        return Reply(response.code, answer if isinstance(answer, dict) else None)

    def close(self) -> None:
        self.http.close()
