"""The casino's calls to a game provider: signed with x-provider-signature, with a timeout.

Launch and simulate move no money, so they are not retried: a failure is reported to the
player as 502 PROVIDER_UNAVAILABLE and the casino session stays inactive.
"""
import json

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from wire.signing import sign


class ProviderLink:
    def __init__(self, hosted_url, secret: bytes, timeout=5.0, simulate_timeout=60.0):
        # Providers whose api_endpoint is NULL are hosted by this process, at hosted_url.
        self.hosted_url = hosted_url.rstrip("/") + "/provider"
        self.secret = secret
        self.timeouts = {"launch": timeout, "simulate": simulate_timeout}
        self.http = AsyncHTTPClient()

    async def call(self, api_endpoint, operation, body):
        """(status, parsed body) or (None, None) when the provider did not answer usefully."""
        base = (api_endpoint or self.hosted_url).rstrip("/")
        data = json.dumps(body, separators=(",", ":")).encode()
        request = HTTPRequest(
            f"{base}/{operation}", method="POST", body=data,
            headers={"Content-Type": "application/json", "x-provider-signature": sign(data, self.secret)},
            request_timeout=self.timeouts[operation], connect_timeout=self.timeouts["launch"])
        try:
            response = await self.http.fetch(request, raise_error=False)
        except (OSError, HTTPClientError):  # refused, reset, timed out: no answer at all
            return None, None
        if response.code == 599:
            return None, None
        try:
            answer = json.loads(response.body)
        except (TypeError, ValueError):
            return response.code, None
        return response.code, answer if isinstance(answer, dict) else None
