"""The back office's catalogue verbs: providers (and the HMAC keys the casino shares with
each), games, and players' game sessions.

Same rules as casino/backoffice.py: each verb takes a cursor and returns an Answer; a write
is recorded in CASINO_ADMIN_AUDIT in its own transaction, refusals included. A provider
key's secret is in the answer that created it and nowhere else: neither the audit row
(which keeps provider, signer and key id) nor any listing carries it, and the table keeps
it sealed (casino/credentials.py).
"""
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from psycopg2.extensions import cursor as Cursor

from wire.secretbox import SecretBox

from . import credentials, enabled
from .backoffice import ORIGINS, _audited, _refusal, _with_origin, keyset_page, timestamp
from .wallet import Answer, Outcome, Request

PROVIDER_COLUMNS = "id, code, name, api_endpoint, enabled, allows_v1, origin, created_at, revenue_share"
# A provider's row, PROVIDER_COLUMNS (revenue_share is NUMERIC(5, 2), NULL when not set).
ProviderRow = tuple[int, str, str, str | None, bool, bool, str, datetime, Decimal | None]

CREATE_PROVIDER = f"""
    INSERT INTO CASINO_GAME_PROVIDERS (code, name, api_endpoint, origin) VALUES (%s, %s, %s, %s)
    ON CONFLICT (code) DO NOTHING
    RETURNING {PROVIDER_COLUMNS}
"""

FIND_PROVIDER = f"SELECT {PROVIDER_COLUMNS} FROM CASINO_GAME_PROVIDERS WHERE code = %s"

SET_PROVIDER_STATUS = f"""
    UPDATE CASINO_GAME_PROVIDERS SET enabled = %s WHERE code = %s RETURNING {PROVIDER_COLUMNS}
"""

SET_PROVIDER_ENDPOINT = f"""
    UPDATE CASINO_GAME_PROVIDERS SET api_endpoint = %s WHERE code = %s RETURNING {PROVIDER_COLUMNS}
"""

SET_PROVIDER_V1 = f"""
    UPDATE CASINO_GAME_PROVIDERS SET allows_v1 = %s WHERE code = %s RETURNING {PROVIDER_COLUMNS}
"""

# The share it had is read under the row's lock, for the audit row of the change.
SET_PROVIDER_REVENUE_SHARE = f"""
    UPDATE CASINO_GAME_PROVIDERS p SET revenue_share = %s
    FROM (SELECT id, revenue_share FROM CASINO_GAME_PROVIDERS WHERE code = %s FOR UPDATE) before
    WHERE p.id = before.id
    RETURNING {", ".join("p." + c for c in PROVIDER_COLUMNS.split(", "))}, before.revenue_share
"""

PROVIDER_KEYS = """
    SELECT key_id, signer, created_at, revoked_at FROM CASINO_PROVIDER_KEYS
    WHERE provider_id = %s ORDER BY created_at, id
"""

KEY_CREATED = "SELECT created_at FROM CASINO_PROVIDER_KEYS WHERE signer = %s AND key_id = %s"

# The provider's active keys with an id, of the signer when one is named (a key id is
# unique per signer: a casino key and a provider key may share one).
ACTIVE_PROVIDER_KEYS = """
    SELECT id, signer FROM CASINO_PROVIDER_KEYS
    WHERE provider_id = %(provider_id)s AND key_id = %(key_id)s AND revoked_at IS NULL
      AND (%(signer)s::text IS NULL OR signer = %(signer)s)
    FOR UPDATE
"""

REVOKE_PROVIDER_KEY = "UPDATE CASINO_PROVIDER_KEYS SET revoked_at = now() WHERE id = %s RETURNING revoked_at"

GAME_COLUMNS = """g.id, p.code, g.provider_game_id, g.name, g.default_currency, g.min_bet, g.max_bet,
                  g.enabled, g.created_at"""

CREATE_GAME = """
    INSERT INTO CASINO_GAMES (provider_id, provider_game_id, name, default_currency, min_bet, max_bet)
    VALUES (%s, %s, %s, %s, %s, %s)
    ON CONFLICT (provider_id, provider_game_id) DO NOTHING
    RETURNING id
"""

FIND_GAME = f"""
    SELECT {GAME_COLUMNS} FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id
    WHERE g.id = %s
"""

SET_GAME_LIMITS = "UPDATE CASINO_GAMES SET min_bet = %s, max_bet = %s WHERE id = %s RETURNING id"
SET_GAME_STATUS = "UPDATE CASINO_GAMES SET enabled = %s WHERE id = %s RETURNING id"

# A session's state: pending (the provider has not accepted its launch), active (live:
# casino_session_live, sql/functions/casino_sessions.sql, the rule casino_debit applies),
# expired (open, but idle past SESSION_IDLE_TIMEOUT: casino_debit refuses it), closed.
SESSION_COLUMNS = """
    s.id, s.user_id, s.game_id, p.code, w.currency_code,
    CASE WHEN casino_session_live(s.is_active, s.last_activity_at, %(idle)s, now()) THEN 'active'
         WHEN s.is_active THEN 'expired'
         WHEN s.provider_session_id IS NULL THEN 'pending'
         ELSE 'closed' END,
    s.created_at, s.last_activity_at
"""

SESSIONS = f"""
    SELECT {SESSION_COLUMNS}
    FROM CASINO_GAME_SESSIONS s
    JOIN CASINO_WALLETS w ON w.id = s.wallet_id
    JOIN CASINO_GAMES g ON g.id = s.game_id
    JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id
    WHERE s.user_id = %(user_id)s AND (%(cursor)s::bigint IS NULL OR s.id < %(cursor)s)
    ORDER BY s.id DESC
    LIMIT %(limit)s
"""

FIND_SESSION = f"""
    SELECT {SESSION_COLUMNS}
    FROM CASINO_GAME_SESSIONS s
    JOIN CASINO_WALLETS w ON w.id = s.wallet_id
    JOIN CASINO_GAMES g ON g.id = s.game_id
    JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id
    WHERE s.id = %(session_id)s
"""

# Closing keeps provider_session_id, so a closed session reads `closed`, not `pending`;
# the row is locked by the update, so a bet racing it either lands before or is refused.
CLOSE_SESSION = """
    UPDATE CASINO_GAME_SESSIONS SET is_active = false, updated_at = now()
    WHERE id = %s AND is_active
"""

# --- providers ------------------------------------------------------------------------------------

def _share(share: Decimal | None) -> str | None:
    """A percentage with two decimals, as a string ("12.50"); None when not set."""
    return None if share is None else f"{share:.2f}"


def _provider(row: Sequence[Any]) -> dict[str, Any]:
    _, code, name, endpoint, is_enabled, allows_v1, origin, created_at, share = row
    return {"providerCode": code, "name": name, "apiEndpoint": endpoint,
            "status": enabled.status(is_enabled), "allowsV1": allows_v1, "origin": origin,
            "revenueShare": _share(share), "createdAt": timestamp(created_at)}


def _find_provider(cur: Cursor, code: str, lock: bool = False) -> ProviderRow | None:
    cur.execute(FIND_PROVIDER + (" FOR KEY SHARE" if lock else ""), (code,))
    return cast(ProviderRow | None, cur.fetchone())


def create_provider(cur: Cursor, operator: str | None, req: Request, origin: str = "operator",
                    endpoint_refused: str | None = None) -> Outcome:
    """A provider, active, v1 off, without keys. No apiEndpoint: hosted by this process.
    origin: "operator", or the tool that made it -- over the API the calling key's origin,
    in-process the tool's own; a keyword, never read from req, so no request body can set it.
    endpoint_refused: why the apiEndpoint may not be called (wire/addresses.py, checked by
    the caller, since it resolves the host), answered ENDPOINT_NOT_ALLOWED."""
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {', '.join(ORIGINS)}")
    answer: Outcome
    if endpoint_refused:
        answer = _refusal("ENDPOINT_NOT_ALLOWED", endpoint_refused)
    else:
        cur.execute(CREATE_PROVIDER, (req["providerCode"], req["name"], req["apiEndpoint"], origin))
        row = cur.fetchone()
        answer = Answer(201, _provider(row)) if row else _refusal("PROVIDER_EXISTS")
    return _audited(cur, operator, "createProvider", _with_origin(req, origin), answer)


def get_provider(cur: Cursor, code: str) -> Outcome:
    row = _find_provider(cur, code)
    return Answer(200, _provider(row)) if row else _refusal("PROVIDER_NOT_FOUND")


def set_provider_status(cur: Cursor, operator: str | None, code: str, req: Request) -> Outcome:
    """A disabled provider's games launch no session and take no bet (PROVIDER_DISABLED);
    payouts and refunds of bets already taken still land."""
    cur.execute(SET_PROVIDER_STATUS, (enabled.enabled(req["status"]), code))
    row = cur.fetchone()
    answer = Answer(200, _provider(row)) if row else _refusal("PROVIDER_NOT_FOUND")
    return _audited(cur, operator, "setProviderStatus", {"providerCode": code, **req}, answer)


def set_provider_endpoint(cur: Cursor, operator: str | None, code: str, req: Request,
                          endpoint_refused: str | None = None) -> Outcome:
    """Where the casino calls the provider from its next call on (None: hosted by this
    process); endpoint_refused as for create_provider."""
    answer: Outcome
    if endpoint_refused:
        answer = _refusal("ENDPOINT_NOT_ALLOWED", endpoint_refused)
    else:
        cur.execute(SET_PROVIDER_ENDPOINT, (req["apiEndpoint"], code))
        row = cur.fetchone()
        answer = Answer(200, _provider(row)) if row else _refusal("PROVIDER_NOT_FOUND")
    return _audited(cur, operator, "setProviderEndpoint", {"providerCode": code, **req}, answer)


def set_provider_v1(cur: Cursor, operator: str | None, code: str, req: Request) -> Outcome:
    """Whether the casino accepts body-only (v1) signatures from this provider's keys."""
    cur.execute(SET_PROVIDER_V1, (req["allowed"], code))
    row = cur.fetchone()
    answer = Answer(200, _provider(row)) if row else _refusal("PROVIDER_NOT_FOUND")
    return _audited(cur, operator, "setProviderV1", {"providerCode": code, **req}, answer)


def set_provider_revenue_share(cur: Cursor, operator: str | None, code: str, req: Request) -> Outcome:
    """The percentage of each month's GGR the provider's invoice says is due (casino/reports.py).
    The audit row keeps the share it replaced."""
    cur.execute(SET_PROVIDER_REVENUE_SHARE, (req["revenueShare"], code))
    row = cur.fetchone()
    if row is None:
        return _audited(cur, operator, "setProviderRevenueShare", {"providerCode": code, **req},
                        _refusal("PROVIDER_NOT_FOUND"))
    return _audited(cur, operator, "setProviderRevenueShare",
                    {"providerCode": code, **req, "previous": _share(row[-1])}, Answer(200, _provider(row[:-1])))


def _key(key_id: str, signer: str, created_at: datetime, revoked_at: datetime | None) -> dict[str, Any]:
    return {"keyId": key_id, "signer": signer, "createdAt": timestamp(created_at),
            "revokedAt": timestamp(revoked_at) if revoked_at else None}


def list_provider_keys(cur: Cursor, code: str) -> Outcome:
    row = _find_provider(cur, code)
    if row is None:
        return _refusal("PROVIDER_NOT_FOUND")
    cur.execute(PROVIDER_KEYS, (row[0],))
    return Answer(200, {"providerCode": code, "allowsV1": row[5], "keys": [_key(*k) for k in cur.fetchall()]})


def add_provider_key(cur: Cursor, operator: str | None, box: SecretBox, reserved_kids: Collection[str], code: str,
                     req: Request, action: str = "addProviderKey") -> Outcome:
    """A new active key of the provider's (the old ones stay active: a rotation revokes them
    once every caller moved). The secret is generated here unless the request brings one
    the other side made; either way the answer shows it once and the audit never."""
    signer = req["signer"] or "provider"
    audit = {"providerCode": code, "signer": signer, "keyId": req["keyId"], "secretGiven": req["secret"] is not None}
    provider = _find_provider(cur, code, lock=True)
    if provider is None:
        return _audited(cur, operator, action, audit, _refusal("PROVIDER_NOT_FOUND"))
    cur.execute(PROVIDER_KEYS, (provider[0],))
    still_active = [k for k, s, _, revoked in cur.fetchall() if s == signer and revoked is None]
    try:
        kid, secret = credentials.add_key(cur, box, reserved_kids, code, signer, req["keyId"], req["secret"])
    except credentials.KeyExists:
        return _audited(cur, operator, action, audit, _refusal("PROVIDER_KEY_EXISTS", signer))
    cur.execute(KEY_CREATED, (signer, kid))
    created = cur.fetchone()
    assert created is not None, "credentials.add_key inserted it in this transaction"
    answer = Answer(201, {"providerCode": code, **_key(kid, signer, created[0], None), "secret": secret,
                          "stillActive": still_active})
    return _audited(cur, operator, action, {**audit, "keyId": kid}, answer)


def revoke_provider_key(cur: Cursor, operator: str | None, code: str, key_id: str, req: Request) -> Outcome:
    """Revokes the provider's active key with that id: the one of `signer` when the request
    names it, else the only one (a casino key and a provider key with one id: 409, name it)."""
    signer = req["signer"]
    answer: Outcome
    provider = _find_provider(cur, code)
    if provider is None:
        answer = _refusal("PROVIDER_NOT_FOUND")
    else:
        cur.execute(ACTIVE_PROVIDER_KEYS, {"provider_id": provider[0], "key_id": key_id, "signer": signer})
        keys = cur.fetchall()
        if not keys:
            answer = _refusal("PROVIDER_KEY_NOT_FOUND", f"{signer} key" if signer else "key")
        elif len(keys) > 1:
            answer = _refusal("PROVIDER_KEY_AMBIGUOUS")
        else:
            (row_id, signer), = keys
            cur.execute(REVOKE_PROVIDER_KEY, (row_id,))
            revoked = cur.fetchone()
            assert revoked is not None, "the key's row is locked (ACTIVE_PROVIDER_KEYS): it is still there"
            answer = Answer(200, {"providerCode": code, "keyId": key_id, "signer": signer,
                                  "revokedAt": timestamp(revoked[0])})
    return _audited(cur, operator, "revokeProviderKey", {"providerCode": code, "keyId": key_id, "signer": signer},
                    answer)


# --- games ----------------------------------------------------------------------------------------

def _game(row: Sequence[Any]) -> dict[str, Any]:
    game_id, code, provider_game_id, name, currency, min_bet, max_bet, is_enabled, created_at = row
    return {"gameId": game_id, "providerCode": code, "providerGameId": provider_game_id, "name": name,
            "currency": currency, "minBet": min_bet, "maxBet": max_bet,
            "status": enabled.status(is_enabled), "createdAt": timestamp(created_at)}


def _game_answer(cur: Cursor, game_id: int, status: int = 200) -> Outcome:
    cur.execute(FIND_GAME, (game_id,))
    row = cur.fetchone()
    return Answer(status, _game(row)) if row else _refusal("GAME_NOT_FOUND")


def create_game(cur: Cursor, operator: str | None, req: Request) -> Outcome:
    """A game of a provider, active, in its default currency, with its bet limits."""
    answer: Outcome
    if req["minBet"] > req["maxBet"]:
        answer = _refusal("BET_LIMITS_INVALID")
    elif (provider := _find_provider(cur, req["providerCode"], lock=True)) is None:
        answer = _refusal("PROVIDER_NOT_FOUND")
    else:
        cur.execute(CREATE_GAME, (provider[0], req["providerGameId"], req["name"], req["currency"], req["minBet"],
                                  req["maxBet"]))
        row = cur.fetchone()
        answer = _game_answer(cur, row[0], 201) if row else _refusal("GAME_EXISTS")
    return _audited(cur, operator, "createGame", req, answer)


def get_game(cur: Cursor, game_id: int) -> Outcome:
    return _game_answer(cur, game_id)


def set_game_limits(cur: Cursor, operator: str | None, game_id: int, req: Request) -> Outcome:
    """New limits apply from the next bet (casino_debit reads them per bet)."""
    answer: Outcome
    if req["minBet"] > req["maxBet"]:
        answer = _refusal("BET_LIMITS_INVALID")
    else:
        cur.execute(SET_GAME_LIMITS, (req["minBet"], req["maxBet"], game_id))
        answer = _game_answer(cur, game_id) if cur.fetchone() else _refusal("GAME_NOT_FOUND")
    return _audited(cur, operator, "setGameLimits", {"gameId": game_id, **req}, answer)


def set_game_status(cur: Cursor, operator: str | None, game_id: int, req: Request) -> Outcome:
    """A disabled game launches no session and takes no bet (GAME_DISABLED)."""
    cur.execute(SET_GAME_STATUS, (enabled.enabled(req["status"]), game_id))
    answer = _game_answer(cur, game_id) if cur.fetchone() else _refusal("GAME_NOT_FOUND")
    return _audited(cur, operator, "setGameStatus", {"gameId": game_id, **req}, answer)


# --- sessions -------------------------------------------------------------------------------------

def _session(row: Sequence[Any]) -> dict[str, Any]:
    session_id, user_id, game_id, code, currency, state, created_at, last_activity_at = row
    return {"sessionId": session_id, "userId": user_id, "gameId": game_id, "providerCode": code,
            "currency": currency, "state": state, "createdAt": timestamp(created_at),
            "lastActivityAt": timestamp(last_activity_at)}


def list_sessions(cur: Cursor, user_id: int, idle: timedelta, limit: int | None = None,
                  cursor: str | None = None) -> Outcome:
    """A player's game sessions, newest first, a page at a time (never their tokens)."""
    cur.execute("SELECT 1 FROM CASINO_USERS WHERE id = %s", (user_id,))
    if cur.fetchone() is None:
        return _refusal("USER_NOT_FOUND")
    return keyset_page(cur, SESSIONS, {"user_id": user_id, "idle": idle}, limit, cursor, _session)


def close_session(cur: Cursor, operator: str | None, session_id: int, idle: timedelta) -> Outcome:
    """Closes a session: it takes no further bet (SESSION_INACTIVE); payouts and refunds of
    its accepted bets still land. Closing a closed session answers its state again."""
    cur.execute(CLOSE_SESSION, (session_id,))
    cur.execute(FIND_SESSION, {"session_id": session_id, "idle": idle})
    row = cur.fetchone()
    answer = Answer(200, _session(row)) if row else _refusal("SESSION_UNKNOWN")
    return _audited(cur, operator, "closeSession", {"sessionId": session_id}, answer)
