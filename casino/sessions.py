"""Casino game sessions: a token that ties a user, one wallet and a game together.

A session starts inactive and becomes active once the provider accepted the launch, so a
launch the provider refused can never be bet on. An active session expires when it has
taken no bet for SESSION_IDLE_TIMEOUT seconds (casino_debit measures it from
last_activity_at, which activation and accepted bets refresh).
"""
import os
import secrets
from collections.abc import Mapping
from datetime import timedelta

from psycopg2.extensions import cursor as Cursor

from db.pool import positive_seconds

DEFAULT_IDLE_TIMEOUT_SECONDS = 1800.0

CREATE_SESSION = """
    INSERT INTO CASINO_GAME_SESSIONS (token, user_id, wallet_id, game_id, is_active)
    VALUES (%s, %s, %s, %s, false)
    RETURNING id
"""

# Not for a player excluded since the launch began: the exclusion closed their sessions.
ACTIVATE_SESSION = """
    UPDATE CASINO_GAME_SESSIONS
    SET provider_session_id = %s, is_active = true, updated_at = now(), last_activity_at = now()
    WHERE token = %s AND NOT coalesce(casino_exclusion_until(user_id) > casino_clock(), false)
"""

CLOSE_SESSION = """
    UPDATE CASINO_GAME_SESSIONS SET is_active = false, updated_at = now()
    WHERE token = %s
"""


def session_idle_timeout(environ: Mapping[str, str] = os.environ) -> timedelta:
    """SESSION_IDLE_TIMEOUT as a timedelta (the load tools that open the database read it)."""
    return timedelta(seconds=positive_seconds(environ.get("SESSION_IDLE_TIMEOUT", str(DEFAULT_IDLE_TIMEOUT_SECONDS))))


def new_token() -> str:
    # 256 bits from the OS; URL-safe base64 is printable ASCII without whitespace.
    return secrets.token_urlsafe(32)


def create_session(cur: Cursor, user_id: int, wallet_id: int, game_id: int, token: str | None = None) -> str:
    """An inactive session; token: a chosen one for the load tools, whose pgbench scripts
    name sessions by number (a launch always draws a random one)."""
    token = token or new_token()
    cur.execute(CREATE_SESSION, (token, user_id, wallet_id, game_id))
    return token


def activate_session(cur: Cursor, token: str, provider_session_id: str) -> bool:
    """Whether the session is now active (not when its player is excluded)."""
    cur.execute(ACTIVATE_SESSION, (provider_session_id, token))
    return cur.rowcount == 1


def close_session(cur: Cursor, token: str) -> None:
    cur.execute(CLOSE_SESSION, (token,))
