"""The back office's endpoints (/casino/admin/*), on operator keys: each handler validates
(the base handler and its schemas), makes one call of casino/backoffice.py, and renders.

Scopes (casino/operators.py): admin for players, wallets, operator keys (within the calling
key's own scopes and origin), providers, games, closing sessions, jurisdictions, a player's
market and identity, and retiring a tool's players; admin and cashier both for a provider's
signing keys, apiEndpoint and v1 switch (operators.PROVIDER_TRUST); cashier for
deposits, withdrawals and bonuses; protection for a player's limits and exclusions; backoffice
for the read-only views (the ledger audit among them), which read through self.read_db: the
replica of DATABASE_READ_URL when set, else the primary.
"""
import asyncio
import re

from db.pool import DatabaseUnavailable
from wire.addresses import url_refusal
from wire.handlers import BODY_METHODS, JsonHandler, Verb
from wire.openapi import INTEGER, STRING, obj
from wire.validation import (
    BET_AMOUNT,
    CURRENCY,
    CURSOR,
    DATE_OF_BIRTH,
    DURATION,
    EMAIL,
    ENTITY_ID,
    IDENTIFIER,
    INSTANT,
    LABEL,
    MAX_SAFE_INTEGER,
    PAYOUT_AMOUNT,
    USERNAME,
    Field,
    Schema,
    array_of,
    list_of,
    nullable,
    one_of,
    page_size,
    parse_params,
    text,
)

from . import audit, backoffice, bonuses, catalogue, credentials, game_import, operators, origins, protection, synthetic
from .limits import ConcurrencyLimit
from .refusals import documented

NULLABLE_STRING = {"type": "string", "nullable": True}
TIMESTAMP = {"type": "string", "format": "date-time"}
PLAYER = obj(userId=INTEGER, username=STRING, email=STRING, status={"enum": ["active", "disabled"]},
             origin={"enum": list(backoffice.ORIGINS)}, jurisdiction=STRING, createdAt=TIMESTAMP)
WALLET = obj(walletId=INTEGER, currency=STRING, balance=INTEGER, redeemable=INTEGER)
NULLABLE_INTEGER = {"type": "integer", "nullable": True}
ITEM = obj(transactionId=STRING, provider=NULLABLE_STRING,
           type={"enum": ["deposit", "withdrawal", "debit", "credit", "rollback", "bonus_grant", "bonus_completion",
                          "bonus_forfeit"]},
           outcome={"enum": ["applied", "refused", "tombstone"]}, amount=INTEGER, movement=INTEGER,
           cashMovement=INTEGER, bonusMovement=INTEGER, bonusId=NULLABLE_INTEGER,
           balanceAfter=INTEGER, roundId=NULLABLE_STRING, currency=STRING, createdAt=TIMESTAMP)
ROUND_ROW = obj(**ITEM["properties"], userId=INTEGER, relatedTransactionId=NULLABLE_STRING,
                refunded={"type": "boolean"}, answer=obj(status=INTEGER, body={"type": "object"}))
CASHIER_ANSWER = obj(reference=STRING, balance=INTEGER, redeemable=INTEGER, currency=STRING)
NULLABLE_TIMESTAMP = {"type": "string", "nullable": True, "format": "date-time"}
BONUS = obj(bonusId=INTEGER, reference=STRING, userId=INTEGER, currency=STRING, amount=INTEGER, wagering=INTEGER,
            wageringRequired=INTEGER, wagered=INTEGER, remaining=INTEGER,
            status={"enum": ["active", "completed", "forfeited"]}, expiresAt=TIMESTAMP, grantedAt=TIMESTAMP,
            endedAt=NULLABLE_TIMESTAMP, endReason={"type": "string", "nullable": True,
                                                "enum": ["wagered", "expired", "cancelled", "excluded", None]},
            converted=INTEGER, forfeited=INTEGER)
MAX_WAGERING = 1000
WAGERING = Field(lambda v: type(v) is int and 1 <= v <= MAX_WAGERING, f"an integer from 1 to {MAX_WAGERING}",
                 {"type": "integer", "minimum": 1, "maximum": MAX_WAGERING})
# A bonus's amount: small enough that amount × wagering (wageringRequired) is within
# 2^53-1 whatever its wagering, so each field's own bounds say all the document can check
# (a bound on their product would be a 400 to a request the schema calls valid).
MAX_BONUS = MAX_SAFE_INTEGER // MAX_WAGERING
BONUS_AMOUNT = Field(lambda v: type(v) is int and 1 <= v <= MAX_BONUS,
                     f"an integer number of minor units from 1 to {MAX_BONUS}",
                     {"type": "integer", "minimum": 1, "maximum": MAX_BONUS})


class AdminHandler(JsonHandler):
    """An operator endpoint. `parameters`: the path's (in the route as {name}); `query`:
    the query string's; both Fields, parsed after the key is checked, into self.params.
    `writes_on`: what its write (POST, PUT) writes on, (kind, the parameter or body field
    holding its id), which a tool's key may write only when its own tool made it
    (casino/origins.py)."""
    parameters: Schema = {}
    query: Schema = {}
    writes_on: tuple[str, str] | None = None
    status = 200
    _report_call: "asyncio.Future | None" = None
    _client_gone = False

    async def prepare(self):
        await super().prepare()
        query = {name: self.get_query_argument(name) for name in self.query
                 if self.get_query_argument(name, None) is not None}
        self.params = {**parse_params(self.path_kwargs, self.parameters), **parse_params(query, self.query)}
        if self.writes_on is not None and self.request.method in BODY_METHODS:
            kind, name = self.writes_on
            await origins.check(self.db, self.operator, kind, self.params.get(name, self.body.get(name)))
            if self.operator_scope == operators.PROVIDER_TRUST:
                refused = origins.trust_refusal(self.operator)
                if refused is not None:
                    raise refused

    async def on_report_db(self, fn, *args):
        """fn(cursor, *args) on the reports' pool (read-only, bounded by REPORT_TIMEOUT), and
        cancelled -- its statement too -- when the client goes away: a report nobody waits
        for no longer holds one of the pool's few connections."""
        self._report_call = asyncio.ensure_future(self.settings["report_db"].transaction(fn, *args))
        try:
            return await self._report_call
        except asyncio.CancelledError:
            if not self._client_gone:
                raise
            raise DatabaseUnavailable("the client went away: its report was cancelled") from None

    def on_connection_close(self):
        self._client_gone = True
        if self._report_call is not None:
            self._report_call.cancel()
        super().on_connection_close()

    @property
    def read_db(self):
        """Where the read-only views read: DATABASE_READ_URL's replica when set (it may be
        slightly behind the primary), else the primary. Writes always use self.db."""
        return self.settings["read_db"]

    @property
    def session_idle_timeout(self):
        return self.settings["session_idle_timeout"]


JURISDICTION_CODE = Field(lambda v: isinstance(v, str) and re.fullmatch(r"[A-Z][A-Z0-9-]{1,15}", v) is not None,
                         "a jurisdiction code: 2-16 upper-case letters, digits or '-' (GB, SE, ON, DE, DEFAULT)",
                         {"type": "string", "pattern": "^[A-Z][A-Z0-9-]{1,15}$"})
# The identity an external self-exclusion register is asked with (README, "Player protection").
IDENTITY = {"firstName": text(100, "a name of 1-100 characters"), "lastName": text(100, "a name of 1-100 characters"),
            "dateOfBirth": DATE_OF_BIRTH, "postcode": text(20, "a postcode of 1-20 characters")}


class CreatePlayerHandler(AdminHandler):
    operator_scope = "admin"
    # The origin is the key's, never the body's (an "origin" there is an unknown field,
    # ignored): an operator's key registers real players ("operator"), a tool's key (made
    # as one, migration 0015) that tool's. No request can label a real player a tool's.
    summary = ("Registers a player (active, without wallets): an operator's real one (origin operator), or, "
               "made with a tool's key, that tool's (origin: the key's); in a jurisdiction (default: "
               "DEFAULT_JURISDICTION), with the identity a register needs (optional)")
    status = 201
    answer = PLAYER
    refusals = documented("createPlayer")
    schema = {"username": USERNAME, "email": EMAIL, "jurisdiction": JURISDICTION_CODE.optional(),
              **{name: field.optional() for name, field in IDENTITY.items()}}

    async def post(self):
        self.render_answer(await self.db.transaction(backoffice.create_player, self.operator.key_id, self.body,
                                                     self.operator.origin, self.settings["default_jurisdiction"]))


class CreateWalletHandler(AdminHandler):
    writes_on = ("player", "userId")
    operator_scope = "admin"
    summary = "Opens a player's wallet in a currency, empty"
    status = 201
    answer = obj(walletId=INTEGER, userId=INTEGER, currency=STRING, balance=INTEGER, redeemable=INTEGER)
    refusals = documented("createWallet")
    schema = {"userId": ENTITY_ID, "currency": CURRENCY}

    async def post(self):
        self.render_answer(await self.db.transaction(backoffice.create_wallet, self.operator.key_id, self.body))


class CashierHandler(AdminHandler):
    writes_on = ("player", "userId")
    operator_scope = "cashier"
    answer = CASHIER_ANSWER
    replays = True
    schema = {"userId": ENTITY_ID, "currency": CURRENCY, "amount": BET_AMOUNT, "reference": IDENTIFIER}
    kind: str       # "deposit" or "withdrawal", set by each subclass

    async def post(self):
        self.render_answer(await self.db.statement(backoffice.cashier, self.kind, self.operator.key_id, self.body))


class DepositHandler(CashierHandler):
    summary = ("Adds cash to a wallet (playable and redeemable), idempotent by reference; refused to an excluded "
               "player and past the player's deposit limits")
    refusals = documented("deposit")
    kind = "deposit"

    async def post(self):
        # The player's external register first (when their jurisdiction names one): an
        # outbound call, never made inside the database transaction.
        register = await self.settings["exclusion_register"].verdict(self.db, self.body["userId"], "deposit")
        self.render_answer(await self.db.statement(backoffice.cashier, self.kind, self.operator.key_id, self.body,
                                                   register))


class WithdrawalHandler(CashierHandler):
    summary = "Takes cash out of a wallet, at most its redeemable balance, idempotent by reference"
    refusals = documented("withdrawal")
    kind = "withdrawal"


class GrantBonusHandler(AdminHandler):
    operator_scope = "cashier"
    writes_on = ("player", "userId")
    summary = ("Grants a bonus: adds `amount` to the balance, not to the redeemable cash, to be wagered "
               "`wagering` times before `expiresAt`; at most one active per wallet; idempotent by reference")
    status = 201
    answer = BONUS
    replays = True
    refusals = documented("grantBonus")
    schema = {"userId": ENTITY_ID, "currency": CURRENCY, "amount": BONUS_AMOUNT, "reference": IDENTIFIER,
              "wagering": WAGERING, "expiresAt": INSTANT}

    async def post(self):
        self.render_answer(await self.db.statement(bonuses.grant, self.operator.key_id, self.body))


class PlayerBonusesHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "A player's bonuses, newest first, a page at a time: wagered, remaining, status, expiry"
    answer = obj(items={"type": "array", "items": BONUS}, nextCursor=NULLABLE_STRING)
    refusals = documented("listBonuses")
    parameters = {"userId": ENTITY_ID}
    query = {"currency": CURRENCY.optional(), "limit": page_size(backoffice.MAX_PAGE).optional(),
             "cursor": CURSOR.optional()}

    async def get(self, **_):
        p = self.params
        self.render_answer(await self.read_db.transaction(bonuses.list_bonuses, p["userId"], p["currency"],
                                                          p["limit"], p["cursor"]))


class CancelBonusHandler(AdminHandler):
    operator_scope = "cashier"
    writes_on = ("bonus", "bonusId")
    summary = "Cancels an active bonus: what remains of it is forfeited (cash untouched); audited"
    answer = BONUS
    refusals = documented("cancelBonus")
    parameters = {"bonusId": ENTITY_ID}

    async def post(self, **_):
        self.render_answer(await self.db.transaction(bonuses.cancel, self.operator.key_id, self.params["bonusId"]))


class PlayerStatusHandler(AdminHandler):
    writes_on = ("player", "userId")
    operator_scope = "admin"
    summary = "Enables or disables a player (a disabled player cannot launch games or bet)"
    answer = PLAYER
    refusals = documented("setPlayerStatus")
    parameters = {"userId": ENTITY_ID}
    schema = {"status": one_of("active", "disabled")}

    async def post(self, **_):
        self.render_answer(await self.db.transaction(backoffice.set_status, self.operator.key_id,
                                                     self.params["userId"], self.body))


class ListPlayersHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = ("Players, newest first, a page at a time, filtered by origin (synthetic: made by any tool) "
               "and status")
    answer = obj(items={"type": "array", "items": PLAYER}, nextCursor=NULLABLE_STRING)
    refusals = documented("listPlayers")
    query = {"origin": one_of(*backoffice.ORIGINS, backoffice.SYNTHETIC).optional(),
             "status": one_of("active", "disabled").optional(),
             "limit": page_size(backoffice.MAX_PAGE).optional(), "cursor": CURSOR.optional()}

    async def get(self):
        p = self.params
        self.render_answer(await self.read_db.transaction(backoffice.list_players, p["origin"], p["status"],
                                                          p["limit"], p["cursor"]))


class PlayerHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "A player and their wallets"
    answer = obj(**PLAYER["properties"], wallets={"type": "array", "items": WALLET})
    refusals = documented("getPlayer")
    parameters = {"userId": ENTITY_ID}

    async def get(self, **_):
        self.render_answer(await self.read_db.transaction(backoffice.get_player, self.params["userId"]))


class TransactionsHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "A player's ledger rows, newest first, a page at a time (nextCursor: the next page)"
    answer = obj(items={"type": "array", "items": ITEM}, nextCursor=NULLABLE_STRING)
    refusals = documented("listTransactions")
    parameters = {"userId": ENTITY_ID}
    query = {"currency": CURRENCY.optional(), "limit": page_size(backoffice.MAX_PAGE).optional(),
             "cursor": CURSOR.optional()}

    async def get(self, **_):
        p = self.params
        self.render_answer(await self.read_db.transaction(backoffice.transactions, p["userId"], p["currency"],
                                                     p["limit"], p["cursor"]))


class RoundHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "A round's ledger rows (each call with its answer) and its state"
    answer = obj(providerCode=STRING, roundId=STRING, state={"enum": ["open", "settled", "cancelled", "empty"]},
                 rows={"type": "array", "items": ROUND_ROW})
    refusals = documented("getRound")
    parameters = {"providerCode": IDENTIFIER, "roundId": IDENTIFIER}

    async def get(self, **_):
        self.render_answer(await self.read_db.transaction(backoffice.get_round, self.params["providerCode"],
                                                     self.params["roundId"]))


OPERATOR_KEY = obj(keyId=STRING, scopes={"type": "array", "items": {"enum": list(operators.SCOPES)}},
                   label=STRING, origin={"enum": list(operators.KEY_ORIGINS)}, createdAt=TIMESTAMP,
                   revokedAt={"type": "string", "nullable": True, "format": "date-time"})
SCOPE_LIST = list_of(*operators.SCOPES)
BOOLEAN = Field(lambda v: type(v) is bool, "true or false", {"type": "boolean"})


class OperatorKeyHandler(AdminHandler):
    """A write to operator keys: scope admin, and only within the calling key's own scopes
    (403 FORBIDDEN, audited, nothing written)."""
    operator_scope = "admin"

    async def within(self, verb, *args):
        answer = await self.db.transaction(verb, self.operator.key_id, self.operator.scopes, self.operator.origin,
                                           *args)
        # A key made (or changed) here works at once here, whatever ids were asked for in
        # vain a moment ago (wire/keyring.py, Refreshed.find).
        self.settings["operators"].keys.invalidate()
        return answer


class CreateOperatorKeyHandler(OperatorKeyHandler):
    summary = ("Creates an operator key with scopes the calling key holds itself, an operator's or (origin) a "
               "tool's, whose players and providers are marked as that tool's; `key` (id.secret) is shown in "
               "this answer only")
    status = 201
    answer = obj(**OPERATOR_KEY["properties"], key=STRING)
    refusals = documented("createOperatorKey")
    # origin: only an operator's key makes a tool's key; a tool's key makes its own tool's
    # (403 FORBIDDEN for any other), so no key makes keys that mark rows other than as it does.
    schema = {"scopes": SCOPE_LIST, "label": LABEL.optional(), "origin": one_of(*operators.KEY_ORIGINS).optional()}

    async def post(self):
        self.render_answer(await self.within(backoffice.create_operator_key, self.body))


class OperatorKeysHandler(AdminHandler):
    operator_scope = "admin"
    summary = "Every operator key, active and revoked, with its origin (a tool's key or not; never a secret)"
    answer = obj(keys={"type": "array", "items": OPERATOR_KEY})
    refusals = documented("listOperatorKeys")

    async def get(self):
        self.render_answer(await self.db.transaction(backoffice.list_operator_keys))


class RotateOperatorKeyHandler(OperatorKeyHandler):
    summary = ("A new key with the same scopes (and label unless given), `key` shown in this answer only; the old "
               "one (`replaces`) stays active until revoked, or is revoked at once with revokeOld")
    status = 201
    answer = obj(**OPERATOR_KEY["properties"], key=STRING, replaces=OPERATOR_KEY)
    refusals = documented("rotateOperatorKey")
    parameters = {"keyId": IDENTIFIER}
    schema = {"label": LABEL.optional(), "revokeOld": BOOLEAN.optional()}

    async def post(self, **_):
        self.render_answer(await self.within(backoffice.rotate_operator_key, self.params["keyId"], self.body))


class OperatorKeyScopesHandler(OperatorKeyHandler):
    summary = ("Replaces an operator key's scopes (every process uses them within KEY_REFRESH_SECONDS); its scopes "
               "and the new ones must be among the calling key's")
    answer = OPERATOR_KEY
    refusals = documented("setOperatorKeyScopes")
    parameters = {"keyId": IDENTIFIER}
    schema = {"scopes": SCOPE_LIST}

    async def post(self, **_):
        self.render_answer(await self.within(backoffice.set_operator_key_scopes, self.params["keyId"], self.body))


class RevokeOperatorKeyHandler(OperatorKeyHandler):
    summary = ("Revokes an operator key holding no scope the calling key lacks (every process refuses it within "
               "KEY_REFRESH_SECONDS)")
    answer = obj(keyId=STRING, revokedAt=TIMESTAMP)
    refusals = documented("revokeOperatorKey")
    parameters = {"keyId": IDENTIFIER}

    async def post(self, **_):
        self.render_answer(await self.within(backoffice.revoke_operator_key, self.params["keyId"]))


def _pattern(regex, expected):
    compiled = re.compile(regex)
    return Field(lambda v: isinstance(v, str) and compiled.fullmatch(v) is not None, expected,
                 {"type": "string", "pattern": f"^{regex}$"})


# A provider's code names it in key ids (<code>-<random>) and paths: letters, digits, . _ -
PROVIDER_CODE = _pattern(r"[A-Za-z0-9][A-Za-z0-9._-]{0,49}", "1-50 letters, digits, '.', '_' or '-'")
NAME = _pattern(r"[\x21-\x7e][\x20-\x7e]{0,99}", "1-100 printable ASCII characters, not starting with a space")
ENDPOINT = _pattern(r"https?://[\x21-\x7e]{1,500}", "an http:// or https:// URL")
NULLABLE_ENDPOINT = Field(lambda v: v is None or ENDPOINT.check(v), "an http:// or https:// URL, or null",
                          {"type": "string", "nullable": True, "pattern": ENDPOINT.json_schema["pattern"]})
KEY_ID = _pattern(r"[\x21-\x2b\x2d-\x7e]{1,100}", "1-100 printable ASCII characters without whitespace or comma")
SECRET = _pattern(r"[\x21-\x7e]{16,200}", "16-200 printable ASCII characters without whitespace")
SIGNER = one_of(*credentials.SIGNERS)
BET_LIMIT = Field(lambda v: type(v) is int and 1 <= v <= MAX_SAFE_INTEGER,
                  f"an integer number of minor units from 1 to {MAX_SAFE_INTEGER}",
                  {"type": "integer", "minimum": 1, "maximum": MAX_SAFE_INTEGER})
STATUS = one_of("active", "disabled")

PROVIDER = obj(providerCode=STRING, name=STRING, apiEndpoint=NULLABLE_STRING, status={"enum": ["active", "disabled"]},
               allowsV1={"type": "boolean"}, origin={"enum": list(backoffice.ORIGINS)},
               revenueShare=NULLABLE_STRING, createdAt=TIMESTAMP)
PROVIDER_KEY = obj(keyId=STRING, signer={"enum": list(credentials.SIGNERS)}, createdAt=TIMESTAMP,
                   revokedAt={"type": "string", "nullable": True, "format": "date-time"})
NEW_PROVIDER_KEY = obj(providerCode=STRING, **PROVIDER_KEY["properties"], secret=STRING,
                       stillActive={"type": "array", "items": STRING})
GAME = obj(gameId=INTEGER, providerCode=STRING, providerGameId=STRING, name=STRING, currency=STRING, minBet=INTEGER,
           maxBet=INTEGER, status={"enum": ["active", "disabled"]}, createdAt=TIMESTAMP)
SESSION = obj(sessionId=INTEGER, userId=INTEGER, gameId=INTEGER, providerCode=STRING, currency=STRING,
              state={"enum": ["pending", "active", "expired", "closed"]}, createdAt=TIMESTAMP,
              lastActivityAt=TIMESTAMP)


class ProviderEndpointHandler(AdminHandler):
    """A write of a provider's apiEndpoint: its host must resolve to public addresses only
    (or to networks OUTBOUND_ALLOWED_NETWORKS allows), else 422 ENDPOINT_NOT_ALLOWED."""

    async def endpoint_refused(self):
        endpoint = self.body["apiEndpoint"]
        return endpoint and await url_refusal(endpoint, self.settings["outbound_addresses"])


class CreateProviderHandler(ProviderEndpointHandler):
    operator_scope = "admin"
    summary = ("Registers a game provider (active, v1 signatures off, no keys, origin: the key's, operator "
               "for an operator's key); no apiEndpoint: hosted here; an apiEndpoint must be http(s) at a "
               "public address")
    status = 201
    answer = PROVIDER
    refusals = documented("createProvider")
    # The origin is the key's, as for players: never the body's.
    schema = {"providerCode": PROVIDER_CODE, "name": NAME, "apiEndpoint": ENDPOINT.optional()}

    async def post(self):
        refused = await self.endpoint_refused()
        self.render_answer(await self.db.transaction(catalogue.create_provider, self.operator.key_id, self.body,
                                                     self.operator.origin, refused))


class SetProviderEndpointHandler(ProviderEndpointHandler):
    writes_on = ("provider", "providerCode")
    operator_scope = operators.PROVIDER_TRUST
    summary = ("Changes where the casino calls a provider (null: hosted here), from its next call; an http(s) URL "
               "at a public address")
    answer = PROVIDER
    refusals = documented("setProviderEndpoint")
    parameters = {"providerCode": IDENTIFIER}
    schema = {"apiEndpoint": NULLABLE_ENDPOINT}

    async def post(self, **_):
        refused = await self.endpoint_refused()
        self.render_answer(await self.db.transaction(catalogue.set_provider_endpoint, self.operator.key_id,
                                                     self.params["providerCode"], self.body, refused))


class ProviderHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "A game provider"
    answer = PROVIDER
    refusals = documented("getProvider")
    parameters = {"providerCode": IDENTIFIER}

    async def get(self, **_):
        self.render_answer(await self.db.transaction(catalogue.get_provider, self.params["providerCode"]))


class ProviderStatusHandler(AdminHandler):
    writes_on = ("provider", "providerCode")
    operator_scope = "admin"
    summary = "Enables or disables a provider (a disabled provider's games neither launch nor take bets)"
    answer = PROVIDER
    refusals = documented("setProviderStatus")
    parameters = {"providerCode": IDENTIFIER}
    schema = {"status": STATUS}

    async def post(self, **_):
        self.render_answer(await self.db.transaction(catalogue.set_provider_status, self.operator.key_id,
                                                     self.params["providerCode"], self.body))


class ProviderV1Handler(AdminHandler):
    writes_on = ("provider", "providerCode")
    operator_scope = operators.PROVIDER_TRUST
    summary = "Accepts body-only (v1) signatures from the provider's keys, or not"
    answer = PROVIDER
    refusals = documented("setProviderV1")
    parameters = {"providerCode": IDENTIFIER}
    schema = {"allowed": BOOLEAN}

    async def post(self, **_):
        self.render_answer(await self.db.transaction(catalogue.set_provider_v1, self.operator.key_id,
                                                     self.params["providerCode"], self.body))


class AddProviderKeyHandler(AdminHandler):
    writes_on = ("provider", "providerCode")
    operator_scope = operators.PROVIDER_TRUST
    summary = ("Adds an active HMAC key (signer provider: its callbacks; casino: our calls to it); `secret` is "
               "shown in this answer only")
    status = 201
    answer = NEW_PROVIDER_KEY
    refusals = documented("addProviderKey")
    parameters = {"providerCode": IDENTIFIER}
    schema = {"signer": SIGNER.optional(), "keyId": KEY_ID.optional(), "secret": SECRET.optional()}
    action = "addProviderKey"

    async def post(self, **_):
        reserved = credentials.EnvironmentKeys(None, None, self.settings["casino_code"]).reserved_kids
        answer = await self.db.transaction(catalogue.add_provider_key, self.operator.key_id,
                                           self.settings["keys_box"], reserved, self.params["providerCode"],
                                           self.body, self.action)
        self.settings["casino_keys"].keys.invalidate()     # it signs (or is signed with) at once here
        self.render_answer(answer)


class RotateProviderKeyHandler(AddProviderKeyHandler):
    summary = ("Starts a rotation: a new key (secret shown once) beside the active ones, listed in stillActive "
               "to revoke once the other side uses the new one")
    refusals = documented("rotateProviderKey")
    action = "rotateProviderKey"


class RevokeProviderKeyHandler(AdminHandler):
    writes_on = ("provider", "providerCode")
    operator_scope = operators.PROVIDER_TRUST
    summary = ("Revokes a provider key by its id (signer: only when a casino key and a provider key share it); "
               "every process refuses it within KEY_REFRESH_SECONDS")
    answer = obj(providerCode=STRING, keyId=STRING, signer={"enum": list(credentials.SIGNERS)}, revokedAt=TIMESTAMP)
    refusals = documented("revokeProviderKey")
    parameters = {"providerCode": IDENTIFIER, "keyId": IDENTIFIER}
    schema = {"signer": SIGNER.optional()}

    async def post(self, **_):
        self.render_answer(await self.db.transaction(catalogue.revoke_provider_key, self.operator.key_id,
                                                     self.params["providerCode"], self.params["keyId"], self.body))


class ProviderKeysHandler(AdminHandler):
    operator_scope = "admin"
    summary = "A provider's keys, active and revoked, and its v1 flag (never a secret)"
    answer = obj(providerCode=STRING, allowsV1={"type": "boolean"}, keys={"type": "array", "items": PROVIDER_KEY})
    refusals = documented("listProviderKeys")
    parameters = {"providerCode": IDENTIFIER}

    async def get(self, **_):
        self.render_answer(await self.db.transaction(catalogue.list_provider_keys, self.params["providerCode"]))


class CreateGameHandler(AdminHandler):
    writes_on = ("provider", "providerCode")
    operator_scope = "admin"
    summary = "Adds a provider's game (active) by the provider's own game id, with its currency and bet limits"
    status = 201
    answer = GAME
    refusals = documented("createGame")
    schema = {"providerCode": IDENTIFIER, "providerGameId": IDENTIFIER, "name": NAME, "currency": CURRENCY,
              "minBet": BET_LIMIT, "maxBet": BET_LIMIT}

    async def post(self):
        self.render_answer(await self.db.transaction(catalogue.create_game, self.operator.key_id, self.body))


class GameHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "A game"
    answer = GAME
    refusals = documented("getGame")
    parameters = {"gameId": ENTITY_ID}

    async def get(self, **_):
        self.render_answer(await self.db.transaction(catalogue.get_game, self.params["gameId"]))


class GameLimitsHandler(AdminHandler):
    writes_on = ("game", "gameId")
    operator_scope = "admin"
    summary = "Changes a game's bet limits (from the next bet)"
    answer = GAME
    refusals = documented("setGameLimits")
    parameters = {"gameId": ENTITY_ID}
    schema = {"minBet": BET_LIMIT, "maxBet": BET_LIMIT}

    async def post(self, **_):
        self.render_answer(await self.db.transaction(catalogue.set_game_limits, self.operator.key_id,
                                                     self.params["gameId"], self.body))


class GameStatusHandler(AdminHandler):
    writes_on = ("game", "gameId")
    operator_scope = "admin"
    summary = "Enables or disables a game (a disabled game neither launches nor takes bets)"
    answer = GAME
    refusals = documented("setGameStatus")
    parameters = {"gameId": ENTITY_ID}
    schema = {"status": STATUS}

    async def post(self, **_):
        self.render_answer(await self.db.transaction(catalogue.set_game_status, self.operator.key_id,
                                                     self.params["gameId"], self.body))


class SessionsHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "A player's game sessions, newest first, a page at a time (never their tokens)"
    answer = obj(items={"type": "array", "items": SESSION}, nextCursor=NULLABLE_STRING)
    refusals = documented("listSessions")
    parameters = {"userId": ENTITY_ID}
    query = {"limit": page_size(backoffice.MAX_PAGE).optional(), "cursor": CURSOR.optional()}

    async def get(self, **_):
        p = self.params
        self.render_answer(await self.db.transaction(catalogue.list_sessions, p["userId"], self.session_idle_timeout,
                                                     p["limit"], p["cursor"]))


class CloseSessionHandler(AdminHandler):
    writes_on = ("session", "sessionId")
    operator_scope = "admin"
    summary = "Closes a game session: it takes no further bet; payouts and refunds of its bets still land"
    answer = SESSION
    refusals = documented("closeSession")
    parameters = {"sessionId": ENTITY_ID}

    async def post(self, **_):
        self.render_answer(await self.db.transaction(catalogue.close_session, self.operator.key_id,
                                                     self.params["sessionId"], self.session_idle_timeout))


RETIRED = obj(origins={"type": "array", "items": {"enum": list(synthetic.TOOLS + ("demo",))}},
              sessionsClosed=INTEGER, playersDisabled=INTEGER, gamesDisabled=INTEGER, providersDisabled=INTEGER)


class RetireSyntheticHandler(AdminHandler):
    operator_scope = "admin"
    summary = ("Takes a tool's players and providers out of play (sessions closed, players, providers and their "
               "games disabled; the ledger kept): those listed, or every one of the origin")
    answer = RETIRED
    # A tool's key naming another tool's origin: 403 FORBIDDEN, as a missing scope is.
    refusals = documented("retireSynthetic")
    schema = {"origin": one_of(*synthetic.TOOLS, "demo").optional(),
              "userIds": array_of(ENTITY_ID, 1000).optional(),
              "providerCodes": array_of(IDENTIFIER, 100).optional()}

    async def post(self):
        self.render_answer(await self.db.transaction(synthetic.retire_over_api, self.operator.key_id,
                                                     self.operator.origin, self.body))


class LedgerAuditHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = ("The ledger audit (python -m casino.audit) over one snapshot: every violation found, none when "
               "every balance is explained")
    answer = obj(wallets=INTEGER, ledgerRows=INTEGER, violations={"type": "array", "items": STRING})
    refusals = documented("ledgerAudit")
    # It reads every wallet and ledger row, as a report does: one at a time per process, on
    # the reports' pool (read-only, on the replica when DATABASE_READ_URL is set), within
    # REPORT_TIMEOUT (503 past it: a ledger too large for that is audited with the
    # command, next to the database) -- never holding a connection the money calls need.
    running = ConcurrencyLimit(1, "ledger audit")

    async def get(self):
        with self.running.slot():
            self.render_json(200, await self.on_report_db(audit.summary))


IMPORTED_GAME = obj(gameId=INTEGER, providerGameId=STRING, name=STRING, currency=STRING, minBet=INTEGER,
                   maxBet=INTEGER, enabled={"type": "boolean"}, created={"type": "boolean"})


class ImportGamesHandler(AdminHandler):
    writes_on = ("provider", "providerCode")
    operator_scope = "admin"
    summary = ("Creates or updates the provider's games from its own catalogue (POST /provider/games); "
               "notListed: the casino's games of that provider it did not list")
    answer = obj(providerCode=STRING, games={"type": "array", "items": IMPORTED_GAME},
                 notListed={"type": "array", "items": STRING})
    refusals = documented("importGames")
    parameters = {"providerCode": IDENTIFIER}

    async def post(self, **_):
        self.render_answer(await game_import.import_games(self.db, self.provider_link, self.settings["casino_code"],
                                                          self.params["providerCode"], self.operator.key_id))


# --- player protection (README, "Player protection") --------------------------------------------

NULLABLE_TIME = NULLABLE_TIMESTAMP
NULLABLE_DURATION = {"type": "string", "nullable": True}
JURISDICTION = obj(code=STRING, name=STRING, timeZone=STRING, coolingOffHours=INTEGER,
                   increaseWaitsForPeriodEnd={"type": "boolean"}, depositLimitRequired={"type": "boolean"},
                   timeOutMin=STRING, timeOutMax=STRING, selfExclusionMin=STRING, selfExclusionMax=NULLABLE_DURATION,
                   registerName=NULLABLE_STRING, registerUrl=NULLABLE_STRING,
                   registerUnavailable={"enum": ["refuse", "allow"]}, updatedAt=TIMESTAMP)
COOLING_OFF_HOURS = Field(lambda v: type(v) is int and 0 <= v <= 8784, "an integer number of hours from 0 to 8784",
                          {"type": "integer", "minimum": 0, "maximum": 8784})
LIMIT_TYPE = one_of("deposit", "loss", "wager")
PERIOD = one_of("day", "week", "month")
LIMIT = obj(type={"enum": ["deposit", "loss", "wager"]}, period={"enum": ["day", "week", "month"]}, currency=STRING,
            amount=NULLABLE_INTEGER, pendingAmount=NULLABLE_INTEGER, pendingFrom=NULLABLE_TIME, used=INTEGER,
            resetsAt=TIMESTAMP)
EXCLUSION_KIND = one_of("time-out", "self-exclusion")
EXCLUSION = obj(kind={"enum": ["time-out", "self-exclusion"]}, **{"from": TIMESTAMP}, until=NULLABLE_TIME,
                previousUntil=NULLABLE_TIME, operator=STRING)
HISTORY_ITEM = {"type": "object", "required": ["change", "effectiveFrom", "operator", "createdAt"],
                "properties": {"change": {"enum": ["limit", "exclusion"]}, "type": STRING, "period": STRING,
                               "currency": STRING, "oldAmount": NULLABLE_INTEGER, "newAmount": NULLABLE_INTEGER,
                               "kind": STRING, "oldUntil": NULLABLE_TIME, "newUntil": NULLABLE_TIME,
                               "effectiveFrom": TIMESTAMP, "operator": STRING, "createdAt": TIMESTAMP}}


# What protection.py checks beyond the fields' types (400 INVALID_REQUEST), stated for the
# document: a register's URL comes with its name; a time-out has an end (only a
# self-exclusion may be indefinite).
REGISTER_NAMED = {"anyOf": [{"not": {"required": ["registerUrl"]}},
                            {"properties": {"registerUrl": {"type": "string", "nullable": True, "enum": [None]}}},
                            {"required": ["registerName"], "properties": {"registerName": {"type": "string"}}}]}
TIME_OUT_ENDS = {"anyOf": [{"properties": {"kind": {"enum": ["self-exclusion"]}}},
                           {"required": ["until"], "properties": {"until": {"type": "string"}}}]}


class JurisdictionHandler(AdminHandler):
    """A market's rules, read and written as one row (a new market is a PUT, not a release)."""
    writes_on = ("jurisdiction", "code")
    parameters = {"code": JURISDICTION_CODE}
    verbs = {
        "GET": Verb("GetJurisdiction", "admin", "A jurisdiction's rules", JURISDICTION,
                    documented("getJurisdiction")),
        "PUT": Verb("PutJurisdiction", "admin",
                    "Creates a jurisdiction (201) or replaces its rules (200): time zone, cooling-off, bounds of "
                    "exclusions, a required deposit limit, the external register and what its outage means. "
                    "400 INVALID_REQUEST also when timeOutMin exceeds timeOutMax, selfExclusionMin exceeds "
                    "selfExclusionMax, or the database knows no such timeZone (rules JSON Schema cannot state)",
                    JURISDICTION, documented("putJurisdiction"),
                    schema={"name": text(100, "a name of 1-100 characters"),
                            "timeZone": text(64, "a time zone name (Europe/London)"),
                            "coolingOffHours": COOLING_OFF_HOURS,
                            "increaseWaitsForPeriodEnd": BOOLEAN, "depositLimitRequired": BOOLEAN,
                            "timeOutMin": DURATION, "timeOutMax": DURATION, "selfExclusionMin": DURATION,
                            "selfExclusionMax": nullable(DURATION).optional(),
                            "registerName": nullable(text(50, "a register's name of 1-50 characters")).optional(),
                            "registerUrl": nullable(ENDPOINT).optional(),
                            "registerUnavailable": one_of("refuse", "allow").optional()},
                    rules=(REGISTER_NAMED,)),
    }

    async def get(self, **_):
        self.render_answer(await self.db.transaction(protection.get_jurisdiction, self.params["code"]))

    async def put(self, **_):
        # The register is called as a provider is: at an address the policy allows
        # (wire/addresses.py), checked here and again at each connection.
        url = self.body.get("registerUrl")
        refused = url and await url_refusal(url, self.settings["outbound_addresses"])
        self.render_answer(await self.db.transaction(protection.put_jurisdiction, self.operator.key_id,
                                                     self.params["code"], self.body, refused))


class JurisdictionsHandler(AdminHandler):
    operator_scope = "admin"
    summary = "Every jurisdiction's rules, by code"
    answer = obj(items={"type": "array", "items": JURISDICTION})
    refusals = documented("listJurisdictions")

    async def get(self):
        self.render_answer(await self.db.transaction(protection.list_jurisdictions))


class LimitsHandler(AdminHandler):
    writes_on = ("player", "userId")
    parameters = {"userId": ENTITY_ID}
    verbs = {
        "GET": Verb("GetLimits", "backoffice",
                    "A player's deposit, loss and wager limits: in force, pending, used in the current window",
                    obj(userId=INTEGER, jurisdiction=STRING, items={"type": "array", "items": LIMIT}),
                    documented("getLimits")),
        "PUT": Verb("SetLimit", "protection",
                    "Sets a limit: a first or lower one at once; a higher one or a removal (amount null) after the "
                    "jurisdiction's cooling-off", LIMIT, documented("setLimit"),
                    schema={"type": LIMIT_TYPE, "period": PERIOD, "currency": CURRENCY,
                            "amount": nullable(PAYOUT_AMOUNT)}),
    }

    async def get(self, **_):
        self.render_answer(await self.read_db.transaction(protection.get_limits, self.params["userId"]))

    async def put(self, **_):
        self.render_answer(await self.db.transaction(protection.set_limit, self.operator.key_id,
                                                     self.params["userId"], self.body))


class ExclusionsHandler(AdminHandler):
    writes_on = ("player", "userId")
    parameters = {"userId": ENTITY_ID}
    verbs = {
        "GET": Verb("ListExclusions", "backoffice", "A player's exclusions, newest first, and the one in force",
                    obj(userId=INTEGER, jurisdiction=STRING, excluded={"type": "boolean"},
                        kind={"type": "string", "nullable": True}, until=NULLABLE_TIME,
                        items={"type": "array", "items": EXCLUSION}),
                    documented("listExclusions")),
        "POST": Verb("CreateExclusion", "protection",
                     "Excludes a player at once (time-out, or self-exclusion; until null: indefinite): sessions "
                     "close, launches, bets and deposits are refused; extends an active one, never shortens it",
                     obj(userId=INTEGER, kind=STRING, **{"from": TIMESTAMP}, until=NULLABLE_TIME,
                         sessionsClosed=INTEGER),
                     documented("createExclusion"), schema={"kind": EXCLUSION_KIND, "until": nullable(INSTANT)},
                     status=201, rules=(TIME_OUT_ENDS,)),
    }

    async def get(self, **_):
        self.render_answer(await self.read_db.transaction(protection.exclusions, self.params["userId"]))

    async def post(self, **_):
        self.render_answer(await self.db.transaction(protection.exclude, self.operator.key_id,
                                                     self.params["userId"], self.body))


class ProtectionHistoryHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "Every change of a player's limits and exclusions (who, when, old, new, effective from), newest first"
    answer = obj(items={"type": "array", "items": HISTORY_ITEM}, nextCursor=NULLABLE_STRING)
    refusals = documented("getProtectionHistory")
    parameters = {"userId": ENTITY_ID}
    query = {"limit": page_size(backoffice.MAX_PAGE).optional(), "cursor": CURSOR.optional()}

    async def get(self, **_):
        p = self.params
        self.render_answer(await self.read_db.transaction(protection.history, p["userId"], p["limit"], p["cursor"]))


class PlayerJurisdictionHandler(AdminHandler):
    writes_on = ("player", "userId")
    operator_scope = "admin"
    summary = "Moves a player to another jurisdiction (its rules from the next call)"
    answer = PLAYER
    refusals = documented("setPlayerJurisdiction")
    parameters = {"userId": ENTITY_ID}
    schema = {"jurisdiction": JURISDICTION_CODE}

    async def post(self, **_):
        self.render_answer(await self.db.transaction(protection.set_player_jurisdiction, self.operator.key_id,
                                                     self.params["userId"], self.body))


class PlayerIdentityHandler(AdminHandler):
    writes_on = ("player", "userId")
    operator_scope = "admin"
    summary = "Sets the identity an external self-exclusion register is asked with"
    answer = PLAYER
    refusals = documented("setPlayerIdentity")
    parameters = {"userId": ENTITY_ID}
    schema = IDENTITY

    async def post(self, **_):
        self.render_answer(await self.db.transaction(protection.set_player_identity, self.operator.key_id,
                                                     self.params["userId"], self.body))


def routes():
    """(path, handler) pairs; {name} in a path is a parameter of the handler's `parameters`."""
    return [
        (r"/casino/admin/players", CreatePlayerHandler),
        (r"/casino/admin/wallets", CreateWalletHandler),
        (r"/casino/admin/deposits", DepositHandler),
        (r"/casino/admin/withdrawals", WithdrawalHandler),
        (r"/casino/admin/bonuses", GrantBonusHandler),
        (r"/casino/admin/bonuses/{bonusId}/cancel", CancelBonusHandler),
        (r"/casino/admin/players/{userId}/bonuses", PlayerBonusesHandler),
        (r"/casino/admin/players/{userId}/status", PlayerStatusHandler),
        # Before players/{userId}, whose pattern would take "list" too.
        (r"/casino/admin/players/list", ListPlayersHandler),
        (r"/casino/admin/players/{userId}", PlayerHandler),
        (r"/casino/admin/players/{userId}/transactions", TransactionsHandler),
        (r"/casino/admin/rounds/{providerCode}/{roundId}", RoundHandler),
        (r"/casino/admin/keys", CreateOperatorKeyHandler),
        (r"/casino/admin/keys/list", OperatorKeysHandler),
        (r"/casino/admin/keys/{keyId}/revoke", RevokeOperatorKeyHandler),
        (r"/casino/admin/keys/{keyId}/rotate", RotateOperatorKeyHandler),
        (r"/casino/admin/keys/{keyId}/scopes", OperatorKeyScopesHandler),
        (r"/casino/admin/providers", CreateProviderHandler),
        (r"/casino/admin/providers/{providerCode}", ProviderHandler),
        (r"/casino/admin/providers/{providerCode}/status", ProviderStatusHandler),
        (r"/casino/admin/providers/{providerCode}/v1", ProviderV1Handler),
        (r"/casino/admin/providers/{providerCode}/endpoint", SetProviderEndpointHandler),
        (r"/casino/admin/providers/{providerCode}/keys", AddProviderKeyHandler),
        (r"/casino/admin/providers/{providerCode}/keys/rotate", RotateProviderKeyHandler),
        (r"/casino/admin/providers/{providerCode}/keys/list", ProviderKeysHandler),
        (r"/casino/admin/providers/{providerCode}/keys/{keyId}/revoke", RevokeProviderKeyHandler),
        (r"/casino/admin/games", CreateGameHandler),
        (r"/casino/admin/games/{gameId}", GameHandler),
        (r"/casino/admin/games/{gameId}/limits", GameLimitsHandler),
        (r"/casino/admin/games/{gameId}/status", GameStatusHandler),
        (r"/casino/admin/players/{userId}/sessions", SessionsHandler),
        (r"/casino/admin/sessions/{sessionId}/close", CloseSessionHandler),
        (r"/casino/admin/providers/{providerCode}/games/import", ImportGamesHandler),
        (r"/casino/admin/jurisdictions", JurisdictionsHandler),
        (r"/casino/admin/jurisdictions/{code}", JurisdictionHandler),
        (r"/casino/admin/players/{userId}/limits", LimitsHandler),
        (r"/casino/admin/players/{userId}/exclusions", ExclusionsHandler),
        (r"/casino/admin/players/{userId}/protection-history", ProtectionHistoryHandler),
        (r"/casino/admin/players/{userId}/jurisdiction", PlayerJurisdictionHandler),
        (r"/casino/admin/players/{userId}/identity", PlayerIdentityHandler),
        (r"/casino/admin/synthetic/retire", RetireSyntheticHandler),
        (r"/casino/admin/ledger/audit", LedgerAuditHandler),
    ]
