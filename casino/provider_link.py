"""The casino's calls to a game provider: signed with x-provider-signature, with a timeout.

Launch and simulate move no money, so they are not retried: a failure is reported to the
player as 502 PROVIDER_UNAVAILABLE and the casino session stays inactive.
"""
import json
from urllib.parse import urlsplit

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from wire.signing import sign_v2


class ProviderLink:
    def __init__(self, hosted_url, keyring, timeout=5.0, simulate_timeout=60.0):
        # Providers whose api_endpoint is NULL are hosted by this process, at hosted_url.
        self.hosted_url = hosted_url.rstrip("/") + "/provider"
        self.keyring = keyring      # the casino's: its newest key at each provider signs
        self.timeouts = {"launch": timeout, "simulate": simulate_timeout}
        self.http = AsyncHTTPClient()

    def _signed_headers(self, provider_code, path, data):
        key = self.keyring.signer(provider_code)
        if key is None:
            return None
        return {"Content-Type": "application/json",
                "x-provider-signature": sign_v2(key.secret, key.kid, "POST", path, data)}

    async def call(self, provider_code, api_endpoint, operation, body):
        """(status, parsed body) or (None, None) when the provider did not answer usefully."""
        base = (api_endpoint or self.hosted_url).rstrip("/")
        data = json.dumps(body, separators=(",", ":")).encode()
        url = f"{base}/{operation}"
        headers = self._signed_headers(provider_code, urlsplit(url).path, data)
        if headers is None:     # no key at that provider: it could not believe us anyway
            return None, None
        request = HTTPRequest(
            url, method="POST", body=data, headers=headers,
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
