"""One outbound HTTP client per direction, each with its own limits.

The casino's calls to providers and the provider's calls to the casino each get their
own Tornado client instance (never the process-wide default one): a round in progress
holds a slot of the casino's client while its callbacks need slots of the provider's,
so one shared pool lets a burst of rounds starve every launch, and its own callbacks.

A call waits at most `queue_timeout` for a free slot and is then given up unsent, rather
than queued into the request timeout. Redirects are never followed: a 3xx is handed to
the caller as an answer it does not understand, and signed bytes are never re-posted to
an address the caller did not choose. With an address policy (the server always gives
one: wire/addresses.py), a host is connected to only at the addresses the policy allows,
checked as it is resolved, for each connection.
"""
import asyncio
from dataclasses import dataclass

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse

from .addresses import AddressPolicy, CheckingResolver

# A counterpart's answer larger than this is cut off (no answer): ours are a few KiB.
MAX_ANSWER_BYTES = 1024 * 1024


@dataclass(frozen=True)
class OutboundLimits:
    """What an outbound client may wait for and how many calls it runs at once (the server's
    own bounds are wire.transport.Limits)."""
    max_clients: int = 16          # calls in flight at once
    connect_timeout: float = 2.0
    request_timeout: float = 5.0   # per attempt, from the moment a slot is free
    queue_timeout: float = 1.0     # longest wait for a free slot


class OutboundClient:
    """addresses: a wire.addresses.AddressPolicy, or None for a tool given its URL by hand."""

    def __init__(self, limits: OutboundLimits, addresses: AddressPolicy | None = None) -> None:
        self.limits = limits
        self._slots = asyncio.Semaphore(limits.max_clients)
        self._resolver = CheckingResolver(policy=addresses) if addresses is not None else None
        # max_clients equals the semaphore's size, so Tornado's own queue (whose wait
        # counts against the request timeout) is never used.
        self._http = AsyncHTTPClient(force_instance=True, max_clients=limits.max_clients,
                                     max_body_size=MAX_ANSWER_BYTES, resolver=self._resolver)

    async def post(self, url: str, data: bytes, headers: dict[str, str],
                   request_timeout: float | None = None) -> HTTPResponse | None:
        """The counterpart's answer (any status, 3xx included), or None when none came:
        no free slot in time, refused, reset, timed out, cut off or too large."""
        try:
            await asyncio.wait_for(self._slots.acquire(), self.limits.queue_timeout)
        except TimeoutError:
            return None
        try:
            response = await self._http.fetch(HTTPRequest(
                url, method="POST", body=data, headers=headers, follow_redirects=False,
                connect_timeout=self.limits.connect_timeout,
                request_timeout=request_timeout or self.limits.request_timeout), raise_error=False)
        except (OSError, HTTPClientError, ValueError):
            # ValueError: a URL that does not parse (http://[::1, a bad port) is no answer
            # either, nor (UnicodeError, a ValueError) a host IDNA cannot encode (an empty or
            # overlong label): Tornado raises them instead of answering 599.
            return None
        finally:
            self._slots.release()
        return None if response.code == 599 else response

    def close(self) -> None:
        self._http.close()
        if self._resolver is not None:
            self._resolver.close()
