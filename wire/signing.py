"""HMAC-SHA256 signatures of the wire protocol, in its two header formats.

v1: the lower-case hex HMAC of the exact raw body. It binds neither the endpoint nor the
    time, so a captured body can be replayed elsewhere; accepted only from counterparts
    whose v1 flag is on.
v2: `t=<unix seconds>,kid=<key id>,v2=<hex>`, the HMAC (with key `kid`'s secret) of
    `<t>.<METHOD>.<path>.` followed by the raw body: bound to the endpoint, the method
    and a time window, and naming the key that made it.

Parsing and checking only; which keys exist, and whom they belong to, is wire.keyring.
"""
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

# How far a v2 timestamp may be from the receiver's clock, either way.
DEFAULT_TOLERANCE_SECONDS = 300

_HEX64 = re.compile(r"[0-9a-f]{64}")
_V2 = re.compile(r"t=(\d{1,12}),kid=([\x21-\x2b\x2d-\x7e]{1,100}),v2=([0-9a-f]{64})")


def hmac_hex(secret: bytes, message: bytes) -> str:
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def v2_message(timestamp: int, method: str, path: str, body: bytes) -> bytes:
    return f"{timestamp}.{method}.{path}.".encode() + body


def sign_v1(body: bytes, secret: bytes) -> str:
    """The v1 header value: hex HMAC of the body alone."""
    return hmac_hex(secret, body)


def sign_v2(secret: bytes, kid: str, method: str, path: str, body: bytes, now: float | None = None) -> str:
    """The v2 header value for one request."""
    timestamp = int(time.time() if now is None else now)
    return f"t={timestamp},kid={kid},v2={hmac_hex(secret, v2_message(timestamp, method, path, body))}"


@dataclass(frozen=True)
class Signature:
    version: int
    mac: str
    kid: str | None = None          # v2 only
    timestamp: int | None = None    # v2 only

    def matches(self, secret: bytes, method: str, path: str, body: bytes) -> bool:
        """Constant-time check of the MAC against this request signed with `secret`."""
        message = body if self.timestamp is None else v2_message(self.timestamp, method, path, body)
        return hmac.compare_digest(hmac_hex(secret, message), self.mac)

    def fresh(self, now: float | None = None, tolerance: float = DEFAULT_TOLERANCE_SECONDS) -> bool:
        now = time.time() if now is None else now
        return self.timestamp is None or abs(now - self.timestamp) <= tolerance


def parse(header: str | None) -> Signature | None:
    """The header value as a v1 or v2 signature; None when it is neither (a refusal)."""
    if not header or len(header) > 300:
        return None
    if _HEX64.fullmatch(header):
        return Signature(1, header)
    match = _V2.fullmatch(header)
    if match is None:
        return None
    return Signature(2, match.group(3), match.group(2), int(match.group(1)))
