"""The casino's HMAC keys per provider: loaded for the key ring, and managed (add, rotate,
revoke, v1 on/off) by `python -m casino.keys` and the back office.

signer 'provider': the provider signs its callbacks (x-casino-signature) with it.
signer 'casino':   the casino signs its calls to that provider (x-provider-signature).

The environment's pair is the demo's: CASINO_SECRET is provider JAQPOT's key (key id
JAQPOT), PROVIDER_SECRET the casino's key at JAQPOT (key id = CASINO_CODE). Database keys
sign in preference to it (the newest first), so a rotation can move off it.
"""
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from psycopg2.extensions import cursor as Cursor

from db.pool import Database
from wire.keyring import Key, KeyRing, KeySet
from wire.secretbox import SecretBox
from wire.secrets_env import Secrets

DEMO_PROVIDER_CODE = "JAQPOT"
SIGNERS = ("provider", "casino")

PROVIDER_BY_CODE = "SELECT id, allows_v1 FROM CASINO_GAME_PROVIDERS WHERE code = %s"

ACTIVE_KEYS = """
    SELECT k.key_id, k.signer, k.secret_sealed, p.id, p.code, p.allows_v1, p.api_endpoint
    FROM CASINO_PROVIDER_KEYS k
    JOIN CASINO_GAME_PROVIDERS p ON p.id = k.provider_id
    WHERE k.revoked_at IS NULL
    ORDER BY k.created_at, k.id
"""

ADD_KEY = """
    INSERT INTO CASINO_PROVIDER_KEYS (provider_id, signer, key_id, secret_sealed)
    VALUES (%s, %s, %s, %s)
    ON CONFLICT (signer, key_id) DO NOTHING
    RETURNING created_at
"""

REVOKE_KEY = """
    UPDATE CASINO_PROVIDER_KEYS SET revoked_at = now()
    WHERE key_id = %s AND signer = %s AND revoked_at IS NULL
    RETURNING provider_id
"""

LIST_KEYS = """
    SELECT p.code, k.signer, k.key_id, k.created_at, k.revoked_at, p.allows_v1
    FROM CASINO_PROVIDER_KEYS k
    JOIN CASINO_GAME_PROVIDERS p ON p.id = k.provider_id
    WHERE %(code)s::text IS NULL OR p.code = %(code)s
    ORDER BY p.code, k.created_at, k.id
"""

SET_V1 = "UPDATE CASINO_GAME_PROVIDERS SET allows_v1 = %s WHERE code = %s RETURNING id"

V1_PROVIDERS = "SELECT code FROM CASINO_GAME_PROVIDERS WHERE allows_v1 ORDER BY code"


class UnknownCounterpart(LookupError):
    pass


class KeyExists(ValueError):
    """The key id is taken (for that signer), or is one of the environment's."""


@dataclass(frozen=True)
class EnvironmentKeys:
    """The demo pair from the environment (None where unset). development: whether the
    server runs on development secrets, where the brief's v1 flow stays open for JAQPOT
    while it has no row of its own; elsewhere v1 is off until an operator turns it on."""
    demo_provider_key: bytes | None     # CASINO_SECRET
    key_at_demo_provider: bytes | None  # PROVIDER_SECRET
    casino_code: str
    development: bool = False

    @property
    def reserved_kids(self) -> set[str]:
        return {DEMO_PROVIDER_CODE, self.casino_code}


def sealing_context(provider_id: int, signer: str, kid: str) -> str:
    return f"CASINO_PROVIDER_KEYS:{provider_id}:{signer}:{kid}"


def load_keys(cur: Cursor, box: SecretBox, env: EnvironmentKeys) -> KeySet:
    verifying: list[Key] = []
    signing: list[Key] = []
    cur.execute(PROVIDER_BY_CODE, (DEMO_PROVIDER_CODE,))
    demo = cur.fetchone()
    demo_id, demo_v1 = demo if demo else (None, env.development)
    if env.demo_provider_key:
        verifying.append(Key(DEMO_PROVIDER_CODE, DEMO_PROVIDER_CODE, demo_id, env.demo_provider_key, demo_v1))
    if env.key_at_demo_provider:
        signing.append(Key(env.casino_code, DEMO_PROVIDER_CODE, demo_id, env.key_at_demo_provider))
    cur.execute(ACTIVE_KEYS)
    for kid, signer, sealed, provider_id, code, allows_v1, endpoint in cur.fetchall():
        secret = box.open(sealed, sealing_context(provider_id, signer, kid))
        if signer == "provider":
            verifying.append(Key(kid, code, provider_id, secret, allows_v1))
        else:
            signing.append(Key(kid, code, provider_id, secret, endpoint=endpoint))
    return KeySet.of(verifying, signing)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _provider_id(cur: Cursor, code: str) -> int:
    cur.execute(PROVIDER_BY_CODE, (code,))
    row = cur.fetchone()
    if row is None:
        raise UnknownCounterpart(f"no provider with code {code}")
    provider_id: int = row[0]
    return provider_id


def add_key(cur: Cursor, box: SecretBox, reserved_kids: Collection[str], provider_code: str, signer: str,
            kid: str | None = None, secret: str | None = None) -> tuple[str, str]:
    """A new active key; returns (kid, secret). The secret is shown once, never stored plain."""
    if kid in reserved_kids:
        raise KeyExists(f"key id {kid} is the environment's demo key")
    provider_id = _provider_id(cur, provider_code)
    kid = kid or f"{provider_code}-{secrets.token_hex(4)}"
    secret = secret or new_secret()
    cur.execute(ADD_KEY, (provider_id, signer, kid, box.seal(secret.encode(), sealing_context(provider_id, signer, kid))))
    if cur.fetchone() is None:
        raise KeyExists(f"a {signer} key with id {kid} exists")
    return kid, secret


def revoke_key(cur: Cursor, kid: str, signer: str) -> bool:
    cur.execute(REVOKE_KEY, (kid, signer))
    return cur.fetchone() is not None


# A key as LIST_KEYS reads it: (provider code, signer, key_id, created_at, revoked_at, allows_v1).
KeyRow = tuple[str, str, str, datetime, datetime | None, bool]


def list_keys(cur: Cursor, provider_code: str | None = None) -> list[KeyRow]:
    """Every key, or one provider's."""
    cur.execute(LIST_KEYS, {"code": provider_code})
    return cast(list[KeyRow], cur.fetchall())


def set_v1(cur: Cursor, provider_code: str, allowed: bool) -> None:
    cur.execute(SET_V1, (allowed, provider_code))
    if cur.fetchone() is None:
        raise UnknownCounterpart(f"no provider with code {provider_code}")


def v1_providers(cur: Cursor) -> list[str]:
    """Codes of the providers whose keys may sign v1 (body only: replayable to another endpoint)."""
    cur.execute(V1_PROVIDERS)
    return [code for code, in cur.fetchall()]


def keyring(db: Database, secrets: Secrets, refresh_seconds: float = 1.0, tolerance: float = 300) -> KeyRing:
    """The casino's key ring: verifies x-casino-signature, signs calls to providers."""
    env = EnvironmentKeys(secrets.casino_secret, secrets.provider_secret, secrets.casino_code, secrets.development)
    return KeyRing(db, lambda cur: load_keys(cur, secrets.box, env), "x-casino-signature",
                   refresh_seconds, tolerance, "casino signing keys")
