"""The casino's calls to a game provider: signed with x-provider-signature, on a client of
their own (wire/outbound.py), so the provider's callbacks to the casino never wait for them.

Launch and simulate move no money, so they are not retried: a failure -- no answer, a
5xx, a redirect, or a body that is not the protocol's answer -- is reported to the player
as 502 PROVIDER_UNAVAILABLE and the casino session stays inactive.
"""
import json
from urllib.parse import urlsplit

from wire.outbound import Limits, OutboundClient
from wire.signing import sign

# A round is a handful of callbacks, each retried for a few seconds at worst.
SIMULATE_TIMEOUT = 60.0


class ProviderLink:
    def __init__(self, hosted_url, secret: bytes, limits=Limits()):
        # Providers whose api_endpoint is NULL are hosted by this process, at hosted_url.
        self.hosted_url = hosted_url.rstrip("/") + "/provider"
        self.secret = secret
        self.http = OutboundClient(limits)
        self.timeouts = {"launch": limits.request_timeout, "simulate": SIMULATE_TIMEOUT}

    def _signed_headers(self, path, data):
        return {"x-provider-signature": sign(data, self.secret)}

    async def call(self, api_endpoint, operation, body):
        """The provider's 200 answer as a dict, or None when it gave no usable one."""
        url = f"{(api_endpoint or self.hosted_url).rstrip('/')}/{operation}"
        data = json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", **self._signed_headers(urlsplit(url).path, data)}
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
