"""HMAC-SHA256 signatures over the exact raw body bytes, as PROTOCOL.md fixes them."""
import hashlib
import hmac


def sign(body: bytes, secret: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of the body."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(body: bytes, signature, secret: bytes) -> bool:
    """Constant-time check of a header value against the body's signature."""
    if not signature:
        return False
    expected = sign(body, secret).encode("ascii")
    # A header may hold any bytes; non-ASCII simply cannot match.
    return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))
