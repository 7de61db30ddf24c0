"""The casino's calls to a game provider: signed with x-provider-signature, on a client of
their own (wire/outbound.py), so the provider's callbacks to the casino never wait for them.

Launch and simulate move no money, so they are not retried: a failure -- no answer, a
5xx, a redirect, or a body that is not the protocol's answer -- is reported to the player
as 502 PROVIDER_UNAVAILABLE and the casino session stays inactive.
"""
import json
from urllib.parse import urlsplit

from wire.outbound import Limits, OutboundClient
from wire.signing import sign_v2

# A round is a handful of callbacks, each retried for a few seconds at worst.
SIMULATE_TIMEOUT = 60.0


class ProviderLink:
    def __init__(self, hosted_url, keyring, limits=Limits()):
        # Providers whose api_endpoint is NULL are hosted by this process, at hosted_url.
        self.hosted_url = hosted_url.rstrip("/") + "/provider"
        self.keyring = keyring      # the casino's: its newest key at each provider signs
        self.http = OutboundClient(limits)
        self.timeouts = {"launch": limits.request_timeout, "simulate": SIMULATE_TIMEOUT}

    def _signed_headers(self, provider_code, path, data):
        key = self.keyring.signer(provider_code)
        if key is None:
            return None
        return {"x-provider-signature": sign_v2(key.secret, key.kid, "POST", path, data)}

    async def call(self, provider_code, api_endpoint, operation, body, request_id=None):
        """The provider's 200 answer as a dict, or None when it gave no usable one.
        request_id: sent as X-Request-Id, so one id follows a launch or a round across
        both systems (the provider passes it on to its callbacks)."""
        url = f"{(api_endpoint or self.hosted_url).rstrip('/')}/{operation}"
        data = json.dumps(body, separators=(",", ":")).encode()
        signature = self._signed_headers(provider_code, urlsplit(url).path, data)
        if signature is None:     # we hold no key at that provider: it could not believe us
            return None
        headers = {"Content-Type": "application/json", **signature}
        if request_id:
            headers["X-Request-Id"] = request_id
        response = await self.http.post(url, data, headers, request_timeout=self.timeouts[operation])
        if response is None or response.code != 200:
            return None
        try:
            answer = json.loads(response.body)
        except (TypeError, ValueError, RecursionError):
            return None
        return answer if isinstance(answer, dict) else None

    def close(self):
        self.http.close()
