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

from psycopg2.extensions import cursor as Cursor

from wire.keyring import Key, KeyRing, KeySet
from wire.secretbox import SecretBox

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


def sealing_context(provider_id, signer, kid):
    return f"CASINO_PROVIDER_KEYS:{provider_id}:{signer}:{kid}"


def load_keys(cur, box, env: EnvironmentKeys) -> KeySet:
    verifying, signing = [], []
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


def _provider_id(cur, code):
    cur.execute(PROVIDER_BY_CODE, (code,))
    row = cur.fetchone()
    if row is None:
        raise UnknownCounterpart(f"no provider with code {code}")
    return row[0]


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


def revoke_key(cur, kid, signer):
    cur.execute(REVOKE_KEY, (kid, signer))
    return cur.fetchone() is not None


def list_keys(cur, provider_code=None):
    cur.execute(LIST_KEYS, {"code": provider_code})
    return cur.fetchall()


def set_v1(cur, provider_code, allowed):
    cur.execute(SET_V1, (allowed, provider_code))
    if cur.fetchone() is None:
        raise UnknownCounterpart(f"no provider with code {provider_code}")


def v1_providers(cur):
    """Codes of the providers whose keys may sign v1 (body only: replayable to another endpoint)."""
    cur.execute(V1_PROVIDERS)
    return [code for code, in cur.fetchall()]


def keyring(db, secrets, refresh_seconds=1.0, tolerance=300):
    """The casino's key ring: verifies x-casino-signature, signs calls to providers."""
    env = EnvironmentKeys(secrets.casino_secret, secrets.provider_secret, secrets.casino_code, secrets.development)
    return KeyRing(db, lambda cur: load_keys(cur, secrets.box, env), "x-casino-signature",
                   refresh_seconds, tolerance, "casino signing keys")
