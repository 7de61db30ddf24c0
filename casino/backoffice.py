"""The back office's verbs: what an operator does to run the casino without SQL.

Players and their wallets, the cashier's deposits and withdrawals, a player's status, and
the views support staff read (a player, their ledger page by page, a round). Each verb
takes a cursor and returns an Answer (status, body) or the Refused it recorded (the
catalogue's, wire/refusals.py, like every refusal); the handlers in casino/admin/ only
validate and render. Writes are recorded in CASINO_ADMIN_AUDIT in the same transaction as
the write (the cashier's inside its SQL function, sql/functions/casino_cashier.sql), with
the operator key that made them and what they were answered, refusals included.
"""
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from psycopg2.extensions import cursor as Cursor

from wire.refusals import Refused

from . import enabled, operators, refusals
from .wallet import Answer, Outcome, Request, answer_of, fingerprint

CASHIER = "SELECT status, body, replay, error_code FROM casino_cashier(%s, %s, %s, %s, %s, %s, %s, %s, %s)"

AUDIT = """
    INSERT INTO CASINO_ADMIN_AUDIT (operator_key_id, action, request, response_status)
    VALUES (%s, %s, %s, %s)
"""

# Who made a player (migration 0012): an operator, or a tool whose players must be told
# apart from real ones. "synthetic", as a filter, is every origin but "operator".
ORIGINS = ("operator", "demo", "test", "locust", "bench")
SYNTHETIC = "synthetic"

PLAYER_COLUMNS = "id, username, email, enabled, origin, created_at, jurisdiction"

# The jurisdiction of a player a tool makes in-process without naming one: migration
# 0016's row for players of no regulated market (the API passes DEFAULT_JURISDICTION).
FALLBACK_JURISDICTION = "DEFAULT"
JURISDICTION_EXISTS = "SELECT 1 FROM CASINO_JURISDICTIONS WHERE code = %s"

CREATE_PLAYER = f"""
    INSERT INTO CASINO_USERS (username, email, origin, jurisdiction, first_name, last_name, date_of_birth, postcode)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT DO NOTHING
    RETURNING {PLAYER_COLUMNS}
"""

FIND_PLAYER = f"SELECT {PLAYER_COLUMNS} FROM CASINO_USERS WHERE id = %s"

# Newest first, by id, like the ledger's pages. origin NULL: any; "synthetic": any but an
# operator's (the partial index casino_users_synthetic serves both synthetic filters).
LIST_PLAYERS = f"""
    SELECT {PLAYER_COLUMNS} FROM CASINO_USERS
    WHERE (%(origin)s::text IS NULL
           OR (%(origin)s = 'synthetic' AND origin <> 'operator')
           OR origin = %(origin)s)
      AND (%(enabled)s::boolean IS NULL OR enabled = %(enabled)s)
      AND (%(cursor)s::bigint IS NULL OR id < %(cursor)s)
    ORDER BY id DESC
    LIMIT %(limit)s
"""

# A wallet opened during an exclusion is excluded too (casino_exclude locks the player's
# row FOR UPDATE, which the KEY SHARE lock create_wallet takes first waits for).
CREATE_WALLET = """
    INSERT INTO CASINO_WALLETS (user_id, currency_code, excluded_until)
    VALUES (%(user_id)s, %(currency)s, casino_exclusion_until(%(user_id)s))
    ON CONFLICT (user_id, currency_code) DO NOTHING
    RETURNING id, playable_balance, redeemable_balance
"""

SET_STATUS = f"""
    UPDATE CASINO_USERS SET enabled = %s WHERE id = %s
    RETURNING {PLAYER_COLUMNS}
"""

WALLETS = """
    SELECT id, currency_code, playable_balance, redeemable_balance FROM CASINO_WALLETS
    WHERE user_id = %s ORDER BY id
"""

# Newest first, by row id: ids only grow, so a page after the cursor `id < cursor` is the
# same however many rows arrive meanwhile (they are newer, on a fresh first page).
TRANSACTIONS = """
    SELECT t.id, t.external_transaction_id, p.code, t.transaction_type, t.outcome, t.amount,
           t.playable_movement, t.redeemable_movement, t.bonus_id, t.balance_after, t.round_id, w.currency_code,
           t.created_at
    FROM CASINO_TRANSACTIONS t
    JOIN CASINO_WALLETS w ON w.id = t.wallet_id
    LEFT JOIN CASINO_GAME_PROVIDERS p ON p.id = t.provider_id
    WHERE w.user_id = %(user_id)s
      AND (%(currency)s::text IS NULL OR w.currency_code = %(currency)s)
      AND (%(cursor)s::bigint IS NULL OR t.id < %(cursor)s)
    ORDER BY t.id DESC
    LIMIT %(limit)s
"""

# A ledger row's answer body (text): stored, or a success rebuilt from the row (migration 0023).
ANSWER = """casino_ledger_answer(t.response_cache, t.external_transaction_id, t.transaction_type, t.outcome,
                                  t.balance_after, t.answer_bonus, t.answer_currency)"""

ROUND = f"""
    SELECT t.id, t.external_transaction_id, p.code, t.transaction_type, t.outcome, t.amount,
           t.playable_movement, t.redeemable_movement, t.bonus_id, t.balance_after, t.round_id, w.currency_code,
           t.created_at, w.user_id, t.related_external_transaction_id, t.response_status, {ANSWER},
           t.transaction_type = 'debit' AND casino_refunded(t.provider_id, t.external_transaction_id)
    FROM CASINO_TRANSACTIONS t
    JOIN CASINO_GAME_PROVIDERS p ON p.id = t.provider_id
    JOIN CASINO_WALLETS w ON w.id = t.wallet_id
    WHERE p.code = %s AND t.round_id = %s
    ORDER BY t.id
"""

DEFAULT_PAGE = 50
MAX_PAGE = 200


def keyset_page(cur: Cursor, query: str, params: dict[str, Any], limit: int | None, cursor: str | None,
                render: Callable[[Sequence[Any]], dict[str, Any]]) -> Answer:
    """One page of rows newest first by id: the query takes %(cursor)s (the last id of the
    page before, or NULL) and %(limit)s, and is asked for one row more than the page, which
    says whether another page follows."""
    limit = limit or DEFAULT_PAGE
    cur.execute(query, {**params, "cursor": int(cursor) if cursor else None, "limit": limit + 1})
    rows = cur.fetchall()
    page = rows[:limit]
    return Answer(200, {"items": [render(row) for row in page],
                        "nextCursor": str(page[-1][0]) if len(rows) > limit else None})


def timestamp(moment: datetime) -> str:
    """RFC 3339 UTC, as transactionStatus writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _refusal(code: str, *details: object) -> Refused:
    """A verb's refusal, returned rather than raised: its audit row commits with it."""
    return refusals.error(code, *details)


def _audited(cur: Cursor, operator: str | None, action: str, request: Request, answer: Outcome) -> Outcome:
    cur.execute(AUDIT, (operator, action, json.dumps(request), answer.status))
    return answer


def _player(row: Sequence[Any]) -> dict[str, Any]:
    user_id, username, email, is_enabled, origin, created_at, jurisdiction = row
    return {"userId": user_id, "username": username, "email": email, "status": enabled.status(is_enabled),
            "origin": origin, "jurisdiction": jurisdiction, "createdAt": timestamp(created_at)}


IDENTITY = ("firstName", "lastName", "dateOfBirth", "postcode")


def create_player(cur: Cursor, operator: str | None, req: Request, origin: str = "operator",
                  default_jurisdiction: str = FALLBACK_JURISDICTION) -> Outcome:
    """origin: who the player is for -- "operator" (a real player), or the tool that made it:
    over the API the calling key's origin ("operator" but for a tool's key), in-process the
    tool's own. A keyword, never read from req, so no request body can set it. The player's
    market is req's "jurisdiction", else default_jurisdiction; the identity fields (an
    external register's) are optional."""
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {', '.join(ORIGINS)}")
    jurisdiction = req.get("jurisdiction") or default_jurisdiction
    cur.execute(JURISDICTION_EXISTS, (jurisdiction,))
    answer: Outcome
    if cur.fetchone() is None:
        answer = _refusal("JURISDICTION_NOT_FOUND")
    else:
        cur.execute(CREATE_PLAYER, (req["username"], req["email"], origin, jurisdiction,
                                    *(req.get(name) for name in IDENTITY)))
        row = cur.fetchone()
        answer = Answer(201, _player(row)) if row else _refusal("PLAYER_EXISTS")
    # The audit keeps which identity fields came, not their values (personal data).
    audited = {k: v for k, v in req.items() if k not in IDENTITY and v is not None}
    given = sorted(name for name in IDENTITY if req.get(name) is not None)
    return _audited(cur, operator, "createPlayer",
                    _with_origin({**audited, **({"identity": given} if given else {})}, origin), answer)


def _with_origin(req: Request, origin: str) -> Request:
    # The audit records a tool's mark with the request, as it recorded it when the mark came in the body.
    return req if origin == "operator" else {**req, "origin": origin}


def create_wallet(cur: Cursor, operator: str | None, req: Request) -> Outcome:
    # KEY SHARE: the player row cannot go away before the wallet naming it is in.
    cur.execute("SELECT 1 FROM CASINO_USERS WHERE id = %s FOR KEY SHARE", (req["userId"],))
    answer: Outcome
    if cur.fetchone() is None:
        answer = _refusal("USER_NOT_FOUND")
    else:
        cur.execute(CREATE_WALLET, {"user_id": req["userId"], "currency": req["currency"]})
        row = cur.fetchone()
        answer = (Answer(201, {"walletId": row[0], "userId": req["userId"], "currency": req["currency"],
                               "balance": row[1], "redeemable": row[2]})
                  if row else _refusal("WALLET_EXISTS", req["currency"]))
    return _audited(cur, operator, "createWallet", req, answer)


def cashier(cur: Cursor, kind: str, operator: str | None, req: Request, register: str | None = None) -> Outcome:
    """A deposit or a withdrawal (kind): one statement, idempotent by req["reference"].
    operator None: not an API call (fixtures and tools funding players), not audited.
    register: the verdict of the player's external self-exclusion register for a deposit
    (casino/exclusion_register.py), None when not asked."""
    cur.execute(CASHIER, (kind, req["userId"], req["currency"], req["amount"], req["reference"],
                          fingerprint(kind, req["userId"], req["currency"], req["amount"]),
                          operator, json.dumps(req), None if register == "clear" else register))
    return answer_of(cur.fetchone())


def set_status(cur: Cursor, operator: str | None, user_id: int, req: Request) -> Outcome:
    cur.execute(SET_STATUS, (enabled.enabled(req["status"]), user_id))
    row = cur.fetchone()
    answer = Answer(200, _player(row)) if row else _refusal("USER_NOT_FOUND")
    return _audited(cur, operator, "setPlayerStatus", {"userId": user_id, **req}, answer)


def get_player(cur: Cursor, user_id: int) -> Outcome:
    cur.execute(FIND_PLAYER, (user_id,))
    row = cur.fetchone()
    if row is None:
        return _refusal("USER_NOT_FOUND")
    cur.execute(WALLETS, (user_id,))
    wallets = [{"walletId": w, "currency": c, "balance": b, "redeemable": r} for w, c, b, r in cur.fetchall()]
    return Answer(200, {**_player(row), "wallets": wallets})


def list_players(cur: Cursor, origin: str | None = None, status: str | None = None, limit: int | None = None,
                 cursor: str | None = None) -> Outcome:
    """Players newest first, a page at a time, by origin ("synthetic": any tool's) and status."""
    return keyset_page(cur, LIST_PLAYERS, {"origin": origin, "enabled": enabled.enabled_filter(status)}, limit, cursor, _player)


# The columns _item reads, first in each query that lists ledger rows.
ITEM_COLUMNS = 13


def _item(row: Sequence[Any]) -> dict[str, Any]:
    """A ledger row: movement is its playable movement; cashMovement its redeemable one (a
    bet's cash part), bonusMovement the difference (a bet's bonus part: README, "Bonus
    money"), bonusId the bonus that part is of."""
    (_, transaction_id, provider, kind, outcome, amount, movement, cash_movement, bonus_id, balance_after, round_id,
     currency, created_at) = row[:ITEM_COLUMNS]
    return {"transactionId": transaction_id, "provider": provider, "type": kind, "outcome": outcome,
            "amount": amount, "movement": movement, "cashMovement": cash_movement,
            "bonusMovement": movement - cash_movement, "bonusId": bonus_id, "balanceAfter": balance_after,
            "roundId": round_id, "currency": currency, "createdAt": timestamp(created_at)}


def transactions(cur: Cursor, user_id: int, currency: str | None = None, limit: int | None = None,
                 cursor: str | None = None) -> Outcome:
    """One page of a player's ledger, newest first; nextCursor is null on the last page."""
    cur.execute("SELECT 1 FROM CASINO_USERS WHERE id = %s", (user_id,))
    if cur.fetchone() is None:
        return _refusal("USER_NOT_FOUND")
    return keyset_page(cur, TRANSACTIONS, {"user_id": user_id, "currency": currency}, limit, cursor, _item)


def round_state(rows: Sequence[dict[str, Any]]) -> str:
    """open: bets stand unpaid; settled: a payout was applied; cancelled: every accepted
    bet was refunded; empty: no bet was accepted."""
    bets = [r for r in rows if r["type"] == "debit" and r["outcome"] == "applied"]
    if not bets:
        return "empty"
    if any(r["type"] == "credit" and r["outcome"] == "applied" for r in rows):
        return "settled"
    if all(b["refunded"] for b in bets):
        return "cancelled"
    return "open"


def get_round(cur: Cursor, provider_code: str, round_id: str) -> Outcome:
    cur.execute(ROUND, (provider_code, round_id))
    rows: list[dict[str, Any]] = []
    for row in cur.fetchall():
        user_id, related, status, response, refunded = row[ITEM_COLUMNS:]
        rows.append({**_item(row), "userId": user_id, "relatedTransactionId": related,
                     "refunded": refunded, "answer": {"status": status, "body": json.loads(response)}})
    if not rows:
        return _refusal("ROUND_UNKNOWN")
    return Answer(200, {"providerCode": provider_code, "roundId": round_id, "state": round_state(rows),
                        "rows": rows})


def _key(key_id: str, scopes: Iterable[str], label: str, created_at: datetime,
         revoked_at: datetime | None, origin: str) -> dict[str, Any]:
    return {"keyId": key_id, "scopes": sorted(scopes), "label": label, "origin": origin,
            "createdAt": timestamp(created_at), "revokedAt": timestamp(revoked_at) if revoked_at else None}


def forbidden(message: str) -> Refused:
    """403 FORBIDDEN returned (not raised), so the refused attempt is audited too."""
    return _refusal("FORBIDDEN", message)


def _beyond_held(held: Iterable[str], scopes: Iterable[str], what: str) -> Refused | None:
    """None when a key holding `held` may act on `scopes`; else the refusal, naming them."""
    lacking = operators.beyond(held, scopes)
    return forbidden(f"{what} {', '.join(lacking)}, which this key does not hold: a key acts on keys "
                     "only within its own scopes") if lacking else None


def key_origin(creator_origin: str, asked: str | None) -> str | None:
    """The origin of a key made by a key of creator_origin, or None when it may not make
    one of that origin: an operator's key makes an operator's key or any tool's; a tool's
    key makes only keys of its own tool (asked or not), so no key ever makes keys, players
    or providers of an origin other than its own, or real ones from a tool's."""
    if creator_origin == "operator":
        return asked or "operator"
    return creator_origin if asked in (None, creator_origin) else None


def create_operator_key(cur: Cursor, operator: str | None, held: Iterable[str], creator_origin: str,
                        req: Request) -> Outcome:
    """A new operator key with scopes the caller holds (`held`: the calling key's scopes,
    every scope for the command line's, which has the database) and an origin it may give
    (key_origin); the answer is the only place its secret is ever shown (the audit keeps the
    request: scopes, label and the key's origin)."""
    origin = key_origin(creator_origin, req.get("origin"))
    if origin is None:
        return _audited(cur, operator, "createOperatorKey", req, forbidden(
            f"a {creator_origin} key makes only {creator_origin} keys"))
    refused = _beyond_held(held, req["scopes"], "it would grant")
    if refused is not None:
        return _audited(cur, operator, "createOperatorKey", {**req, "origin": origin}, refused)
    key, key_id, created_at = operators.create_key(cur, req["scopes"], req["label"] or "", origin)
    answer = Answer(201, {**_key(key_id, set(req["scopes"]), req["label"] or "", created_at, None, origin),
                          "key": key})
    return _audited(cur, operator, "createOperatorKey", {**req, "origin": origin}, answer)


def list_operator_keys(cur: Cursor) -> Outcome:
    return Answer(200, {"keys": [_key(*row) for row in operators.list_keys(cur)]})


def _active_key_within(cur: Cursor, key_id: str, held: Iterable[str],
                       creator_origin: str) -> tuple[Any, Refused | None]:
    """(the key's row, None), or (None, the refusal): no active key has that id, it holds a
    scope the caller does not, or the caller is a tool's key and it is not that tool's."""
    row = operators.find_active_key(cur, key_id)
    if row is None:
        return None, _refusal("KEY_NOT_FOUND")
    if creator_origin != "operator" and row[5] != creator_origin:
        return None, forbidden(f"a {creator_origin} key acts only on {creator_origin} keys")
    refused = _beyond_held(held, row[1], "that key holds")
    return (None, refused) if refused else (row, None)


def rotate_operator_key(cur: Cursor, operator: str | None, held: Iterable[str], creator_origin: str, key_id: str,
                        req: Request) -> Outcome:
    """A new key with the same scopes and origin (and label, unless one is given), shown
    once; the old one stays active until revoked, so its holders move without a failed
    call, unless revokeOld revokes it in the same transaction (a leaked key). Within the
    caller's scopes and origin."""
    row, refused = _active_key_within(cur, key_id, held, creator_origin)
    audit: dict[str, Any] = {"keyId": key_id, "revokeOld": bool(req["revokeOld"])}
    if refused is not None:
        return _audited(cur, operator, "rotateOperatorKey", audit, refused)
    _, scopes, old_label, old_created_at, _, origin = row
    label = req["label"] if req["label"] is not None else old_label
    key, new_id, created_at = operators.create_key(cur, scopes, label, origin)
    revoked_at = operators.revoke_key(cur, key_id) if req["revokeOld"] else None
    answer = Answer(201, {**_key(new_id, scopes, label, created_at, None, origin), "key": key,
                          "replaces": _key(key_id, scopes, old_label, old_created_at, revoked_at, origin)})
    audit["newKeyId"] = new_id
    return _audited(cur, operator, "rotateOperatorKey", audit, answer)


def set_operator_key_scopes(cur: Cursor, operator: str | None, held: Iterable[str], creator_origin: str,
                            key_id: str, req: Request) -> Outcome:
    """Replaces a key's scopes, effective in every process within KEY_REFRESH_SECONDS; both
    its scopes and the new ones must be within the caller's."""
    row, refused = _active_key_within(cur, key_id, held, creator_origin)
    audit: dict[str, Any] = {"keyId": key_id, "scopes": req["scopes"]}
    if refused is None:
        refused = _beyond_held(held, req["scopes"], "it would grant")
    if refused is not None:
        return _audited(cur, operator, "setOperatorKeyScopes", audit, refused)
    changed = operators.set_scopes(cur, key_id, req["scopes"])
    # The row is locked (find_active_key): it is still active, so the change happens now.
    assert changed is not None
    answer = Answer(200, _key(*changed))
    audit["previousScopes"] = sorted(row[1])
    return _audited(cur, operator, "setOperatorKeyScopes", audit, answer)


def revoke_operator_key(cur: Cursor, operator: str | None, held: Iterable[str], creator_origin: str,
                        key_id: str) -> Outcome:
    """Takes effect in every process within KEY_REFRESH_SECONDS; within the caller's scopes
    and origin."""
    _, refused = _active_key_within(cur, key_id, held, creator_origin)
    if refused is not None:
        return _audited(cur, operator, "revokeOperatorKey", {"keyId": key_id}, refused)
    # The row is locked (find_active_key): it is still active, so the revocation happens now.
    revoked_at = operators.revoke_key(cur, key_id)
    assert revoked_at is not None
    answer = Answer(200, {"keyId": key_id, "revokedAt": timestamp(revoked_at)})
    return _audited(cur, operator, "revokeOperatorKey", {"keyId": key_id}, answer)
