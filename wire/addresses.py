"""Where outbound calls may go: a counterpart's address must be public.

The casino posts signed bodies to each provider's apiEndpoint, and the provider to the
casino's callback URL (CASINO_URL; PROVIDER_URL the other way). An address an operator key
can set must not turn the server into a client of its own network: a URL is refused when
it is not http(s)://, or when its host resolves to a loopback, link-local, private,
multicast, unspecified or otherwise non-public address -- unless a network the setting
OUTBOUND_ALLOWED_NETWORKS names (development mode adds loopback) holds it. A cloud's
instance-metadata address (169.254.169.254, fd00:ec2::254) is refused whatever the setting.

Checked twice: when the URL is set (url_refusal: every address its host resolves to), and
at each connection (CheckingResolver, the outbound clients' resolver: addresses refused
are dropped, and a host left with none is not connected to), since DNS can change between
the two. The process's own address, which the hosted provider and the casino's callbacks
use by default, is always allowed.
"""
import asyncio
import ipaddress
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tornado.netutil import DefaultLoopResolver, Resolver

log = logging.getLogger("wire.addresses")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA = (ipaddress.ip_network("169.254.169.254/32"), ipaddress.ip_network("fd00:ec2::254/128"))
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
# Longest a URL's host may take to resolve when it is set.
RESOLVE_TIMEOUT = 2.0


class AddressRefused(OSError):
    """A host that resolved to no address the policy allows: the connection is not made."""


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """OUTBOUND_ALLOWED_NETWORKS: comma-separated networks (10.0.0.0/8, ::1/128, 127.0.0.1)."""
    networks: list[IPNetwork] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not a network (e.g. 10.20.0.0/16)") from None
    return tuple(networks)


@dataclass(frozen=True)
class AddressPolicy:
    """allowed: networks outbound calls may reach though not public; own: (host, port) of
    URLs this process built for itself (its own listening address), always allowed."""
    allowed: tuple[IPNetwork, ...] = ()
    own: frozenset[tuple[str, int]] = field(default_factory=frozenset)

    def refusal(self, address: str) -> str | None:
        """Why an IP address may not be called ("a loopback address"), or None when it may."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])   # an IPv6 zone (fe80::1%eth0) is no part of it
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in network for network in METADATA):
            return "a cloud metadata address"
        if any(ip.version == network.version and ip in network for network in self.allowed):
            return None
        for kind, test in (("a loopback", ip.is_loopback), ("a link-local", ip.is_link_local),
                           ("a multicast", ip.is_multicast), ("an unspecified", ip.is_unspecified),
                           ("a private", ip.is_private), ("a non-public", not ip.is_global)):
            if test:
                return f"{kind} address"
        return None

    def refusals(self, host: str, addresses: Iterable[str]) -> str | None:
        """Why a host resolved to `addresses` (IP strings) may not be called, or None: each
        address refused, as "10.0.0.1 is a private address" -- or, for a host that is a
        name, "db.internal resolves to 10.0.0.1, a private address"."""
        refused = sorted({(address, reason) for address in addresses if (reason := self.refusal(address))})
        if not refused:
            return None
        if len(refused) == 1 and refused[0][0] == host:
            return f"{host} is {refused[0][1]}"
        return f"{host} resolves to " + "; ".join(f"{address}, {reason}" for address, reason in refused)

    def is_own(self, host: str, port: int) -> bool:
        return (host, port) in self.own


class CheckingResolver(Resolver):
    """The outbound clients' resolver: what the system resolver answers, less the addresses
    the policy refuses; a host left with none raises AddressRefused (no connection)."""

    def initialize(self, policy: AddressPolicy, resolver: Resolver | None = None) -> None:
        self.policy = policy
        self.resolver = resolver or DefaultLoopResolver()

    async def resolve(self, host: str, port: int,
                      family: socket.AddressFamily = socket.AF_UNSPEC) -> list[tuple[int, Any]]:
        addresses = await self.resolver.resolve(host, port, family)
        if self.policy.is_own(host, port):
            return addresses
        allowed = [(af, address) for af, address in addresses if self.policy.refusal(address[0]) is None]
        if not allowed:
            why = self.policy.refusals(host, [address[0] for _, address in addresses])
            log.warning("outbound call to %s:%s not made: %s", host, port, why)
            raise AddressRefused(why)
        return allowed

    def close(self) -> None:
        self.resolver.close()


async def url_refusal(url: str, policy: AddressPolicy, resolver: Resolver | None = None,
                      within: float = RESOLVE_TIMEOUT) -> str | None:
    """Why a counterpart's URL may not be set (a sentence), or None: not http(s)://, no
    host, or a host that does not resolve (in `timeout` seconds) or resolves to any
    address the policy refuses (`within`: seconds to resolve). The process's own address is no exception here: a
    provider it hosts has no apiEndpoint, and the default URLs are never set."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "it is not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "it is not an http:// or https:// URL with a host"
    resolver = resolver or DefaultLoopResolver()
    try:
        addresses = await asyncio.wait_for(resolver.resolve(parts.hostname, port), within)
    except (TimeoutError, OSError):
        return f"{parts.hostname} does not resolve"
    except UnicodeError:    # what IDNA says of an empty or overlong label (a..b, .b)
        return f"{parts.hostname} is not a host name"
    return policy.refusals(parts.hostname, [address[0] for _, address in addresses])


def url_refusal_now(url: str, policy: AddressPolicy) -> str | None:
    """url_refusal, for a start-up that has no event loop yet."""
    return asyncio.run(url_refusal(url, policy))
