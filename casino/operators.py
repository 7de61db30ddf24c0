"""Operator keys: who may launch games, drive test rounds and use the back office.

A key is `<key id>.<secret>`, sent as `Authorization: Bearer <key>`. Only a SHA-256 of the
secret is stored (the secret is 256 random bits, so a slow password hash adds nothing),
with the key's scopes; a key is shown once, when created or rotated, and revoked by id.
The environment's OPERATOR_KEY, when set, is a key with every scope (the bootstrap key).

Scopes: lobby (launchGame), test-driver (simulateRound), backoffice (back-office reads),
cashier (deposits, withdrawals, bonuses), protection (players' limits and exclusions),
admin (players, wallets, providers, games, keys, jurisdictions). A write that decides whose
signature moves money, or where signed calls go -- a provider's signing keys (add, rotate,
revoke), its apiEndpoint, its v1 switch -- needs admin and cashier both (PROVIDER_TRUST): an
admin-only key could otherwise give a provider a key of its own and pay itself through the
provider's callbacks, which cashier alone guards at the cashier. A key acts on keys only
within its own scopes (`beyond`): it grants none it lacks, and changes, rotates or revokes
no key that holds one it lacks (casino/backoffice.py).

A key's origin (migration 0015) is "operator", or the tool it was made for ("locust",
"bench", "test"): the players and providers a tool's key creates are marked with it, and
the keys it makes (or rotates, or changes) are the same tool's (casino/backoffice.py). Set
when the key is made, never changed.
"""
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from psycopg2.extensions import cursor as Cursor

from db.pool import Database
from wire.keyring import Refreshed

SCOPES = ("lobby", "test-driver", "backoffice", "cashier", "protection", "admin")
# An operator's own key, or a tool's (what its players and providers are marked with).
# The scopes a provider's money-relevant writes need, all of them (module docstring).
PROVIDER_TRUST = ("admin", "cashier")
KEY_ORIGINS = ("operator", "test", "locust", "bench")
ENVIRONMENT_KEY_ID = "OPERATOR_KEY"

_BEARER = re.compile(r"Bearer ([\x21-\x7e]{1,300})")

ACTIVE_KEYS = "SELECT key_id, secret_hash, scopes, origin FROM CASINO_OPERATOR_KEYS WHERE revoked_at IS NULL"

CREATE_KEY = """
    INSERT INTO CASINO_OPERATOR_KEYS (key_id, secret_hash, scopes, label, origin)
    VALUES (%s, %s, %s, %s, %s)
    RETURNING created_at
"""

LIST_KEYS = """
    SELECT key_id, scopes, label, created_at, revoked_at, origin FROM CASINO_OPERATOR_KEYS ORDER BY id
"""

# The active key, locked: a rotation or a change of scopes and a revocation of the same key
# take turns.
FIND_ACTIVE_KEY = """
    SELECT key_id, scopes, label, created_at, revoked_at, origin FROM CASINO_OPERATOR_KEYS
    WHERE key_id = %s AND revoked_at IS NULL
    FOR UPDATE
"""

SET_SCOPES = """
    UPDATE CASINO_OPERATOR_KEYS SET scopes = %s WHERE key_id = %s AND revoked_at IS NULL
    RETURNING key_id, scopes, label, created_at, revoked_at, origin
"""

REVOKE_KEY = """
    UPDATE CASINO_OPERATOR_KEYS SET revoked_at = now()
    WHERE key_id = %s AND revoked_at IS NULL
    RETURNING revoked_at
"""


@dataclass(frozen=True)
class Operator:
    key_id: str
    scopes: frozenset[str]
    origin: str = "operator"


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


# key id -> (its secret's SHA-256, its scopes, its origin): the active keys as load_keys reads them.
KeyTable = dict[str, tuple[bytes, frozenset[str], str]]

# A key's row as LIST_KEYS, FIND_ACTIVE_KEY and SET_SCOPES read it: (key_id, scopes, label,
# created_at, revoked_at, origin).
KeyRow = tuple[str, list[str], str, datetime, datetime | None, str]


def load_keys(cur: Cursor) -> KeyTable:
    """key id -> (secret hash, scopes, origin) of every active key."""
    cur.execute(ACTIVE_KEYS)
    return {key_id: (bytes(digest), frozenset(scopes), origin) for key_id, digest, scopes, origin in cur.fetchall()}


def authenticate(authorization: str | None, keys: KeyTable | None,
                 environment_key: str | None = None) -> Operator | None:
    """The operator an Authorization header proves, or None."""
    match = _BEARER.fullmatch(authorization or "")
    if match is None:
        return None
    presented = match.group(1)
    if environment_key and hmac.compare_digest(_digest(presented), _digest(environment_key)):
        return Operator(ENVIRONMENT_KEY_ID, frozenset(SCOPES))
    key_id, _, secret = presented.partition(".")
    stored = (keys or {}).get(key_id)
    if stored is None or not hmac.compare_digest(_digest(secret), stored[0]):
        return None
    return Operator(key_id, stored[1], stored[2])


def beyond(held: Iterable[str], scopes: Iterable[str]) -> list[str]:
    """The scopes among `scopes` that a key holding `held` lacks, sorted (empty: none)."""
    return sorted(set(scopes) - set(held))


def create_key(cur: Cursor, scopes: Iterable[str], label: str = "", origin: str = "operator") -> tuple[str, str, datetime]:
    """A new key; returns (the full key, shown once, key id, created_at). origin: a tool's
    name makes the key that tool's."""
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(f"scopes must be among {', '.join(SCOPES)}")
    if origin not in KEY_ORIGINS:
        raise ValueError(f"origin must be one of {', '.join(KEY_ORIGINS)}")
    key_id = "op_" + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    cur.execute(CREATE_KEY, (key_id, _digest(secret), sorted(set(scopes)), label, origin))
    row = cur.fetchone()
    assert row is not None, "INSERT ... RETURNING answers one row"
    return f"{key_id}.{secret}", key_id, row[0]


def list_keys(cur: Cursor) -> list[KeyRow]:
    cur.execute(LIST_KEYS)
    return cast(list[KeyRow], cur.fetchall())


def find_active_key(cur: Cursor, key_id: str) -> KeyRow | None:
    """(key_id, scopes, label, created_at, revoked_at, origin) of the active key, locked; None when
    no active key has that id."""
    cur.execute(FIND_ACTIVE_KEY, (key_id,))
    return cast(KeyRow | None, cur.fetchone())


def set_scopes(cur: Cursor, key_id: str, scopes: Iterable[str]) -> KeyRow | None:
    """The key's row with its new scopes (every process uses them within refresh_seconds)."""
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(f"scopes must be among {', '.join(SCOPES)}")
    cur.execute(SET_SCOPES, (sorted(set(scopes)), key_id))
    return cast(KeyRow | None, cur.fetchone())


def revoke_key(cur: Cursor, key_id: str) -> datetime | None:
    """When the key was revoked now; None when no active key has that id."""
    cur.execute(REVOKE_KEY, (key_id,))
    row = cur.fetchone()
    return row[0] if row else None


class OperatorKeys:
    """The active operator keys of the database, in memory and reloaded like the signing
    keys (a revocation takes effect within `refresh_seconds`), plus the environment's."""

    def __init__(self, db: Database, environment_key: str | None = None, refresh_seconds: float = 1.0) -> None:
        self.environment_key = environment_key
        self.keys = Refreshed(db, load_keys, refresh_seconds, "operator keys")

    async def authenticate(self, authorization: str | None) -> Operator | None:
        operator = authenticate(authorization, self.keys.value, self.environment_key)
        if operator is None and authorization and authorization.startswith("Bearer op_"):
            # Perhaps created a moment ago: load what was committed before this request
            # arrived (Refreshed.find: one shared load, at most one per its min_interval,
            # none for an id still unknown after one, however many made-up keys arrive).
            key_id = authorization.removeprefix("Bearer ").partition(".")[0]
            operator = await self.keys.find(key_id, lambda: authenticate(authorization, self.keys.value,
                                                                         self.environment_key))
        return operator

    async def start(self) -> None:
        await self.keys.load_now()
        self.keys.start()

    def stop(self) -> None:
        self.keys.stop()
