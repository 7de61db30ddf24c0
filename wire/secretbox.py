"""Signing secrets encrypted at rest: a database dump alone does not reveal them.

Each secret is sealed with AES-256-GCM under KEYS_ENCRYPTION_KEY (32 random bytes, hex or
base64, from the environment; never stored). The associated data binds a ciphertext to
the row it belongs to (side, counterpart, key id), so copying one key's ciphertext onto
another key's row does not make a working key.

    python -c "import secrets; print(secrets.token_hex(32))"    # a new KEYS_ENCRYPTION_KEY
"""
import base64
import binascii
import os
import secrets
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENV_VAR = "KEYS_ENCRYPTION_KEY"
# Development only (the server refuses to run on it off loopback): a fixed, public key.
DEV_KEY = bytes(range(32))
_NONCE_BYTES = 12


class SecretBoxError(Exception):
    """A sealed secret that cannot be opened: another encryption key, or a tampered row."""


def parse_key(text: str) -> bytes:
    """32 bytes from 64 hex characters or base64 (standard or URL-safe)."""
    text = text.strip()
    try:
        if len(text) == 64:
            key = bytes.fromhex(text)
        else:
            standard = text.replace("-", "+").replace("_", "/")
            key = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (ValueError, binascii.Error):
        raise SecretBoxError(f"{ENV_VAR} must be 32 bytes as 64 hex characters or base64") from None
    if len(key) != 32:
        raise SecretBoxError(f"{ENV_VAR} must be 32 bytes (got {len(key)})")
    return key


class SecretBox:
    def __init__(self, key: bytes):
        self._aead = AESGCM(key)

    @classmethod
    def from_environment(cls, development: bool = False, environ: Mapping[str, str] = os.environ) -> "SecretBox":
        """The box for KEYS_ENCRYPTION_KEY; the public development key only when allowed."""
        text = environ.get(ENV_VAR)
        if text:
            return cls(parse_key(text))
        if development:
            return cls(DEV_KEY)
        raise SecretBoxError(f"{ENV_VAR} is not set: it encrypts the signing secrets kept in the database")

    def seal(self, secret: bytes, context: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        sealed = bytes(sealed)
        try:
            return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise SecretBoxError(f"cannot open the secret of {context}: wrong {ENV_VAR} or a tampered row") from None
