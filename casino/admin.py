"""The back office's endpoints (/casino/admin/*), on operator keys: each handler validates
(the base handler and its schemas), makes one call of casino/backoffice.py, and renders.

Scopes (casino/operators.py): admin for players, wallets, operator keys, providers and their keys,
games and closing sessions; cashier for deposits and withdrawals; backoffice for the read-only
views, which read through self.read_db: the replica of DATABASE_READ_URL when set, else the primary.
"""
import re

from wire.handlers import JsonHandler
from wire.openapi import INTEGER, STRING, obj
from wire.validation import (
    BET_AMOUNT,
    CURRENCY,
    CURSOR,
    EMAIL,
    ENTITY_ID,
    IDENTIFIER,
    LABEL,
    MAX_SAFE_INTEGER,
    USERNAME,
    Field,
    list_of,
    one_of,
    page_size,
    parse_params,
)

from . import backoffice, catalogue, credentials, game_import, operators
from .refusals import documented

NULLABLE_STRING = {"type": ["string", "null"]}
TIMESTAMP = {"type": "string", "format": "date-time"}
PLAYER = obj(userId=INTEGER, username=STRING, email=STRING, status={"enum": ["active", "disabled"]},
             origin={"enum": list(backoffice.ORIGINS)}, createdAt=TIMESTAMP)
WALLET = obj(walletId=INTEGER, currency=STRING, balance=INTEGER, redeemable=INTEGER)
ITEM = obj(transactionId=STRING, provider=NULLABLE_STRING,
           type={"enum": ["deposit", "withdrawal", "debit", "credit", "rollback"]},
           outcome={"enum": ["applied", "refused", "tombstone"]}, amount=INTEGER, movement=INTEGER,
           balanceAfter=INTEGER, roundId=NULLABLE_STRING, currency=STRING, createdAt=TIMESTAMP)
ROUND_ROW = obj(**ITEM["properties"], userId=INTEGER, relatedTransactionId=NULLABLE_STRING,
                refunded={"type": "boolean"}, answer=obj(status=INTEGER, body={"type": "object"}))
CASHIER_ANSWER = obj(reference=STRING, balance=INTEGER, redeemable=INTEGER, currency=STRING)


class AdminHandler(JsonHandler):
    """An operator endpoint. `parameters`: the path's (in the route as {name}); `query`:
    the query string's; both Fields, parsed after the key is checked, into self.params."""
    parameters = {}
    query = {}
    status = 200

    async def prepare(self):
        await super().prepare()
        query = {name: self.get_query_argument(name) for name in self.query
                 if self.get_query_argument(name, None) is not None}
        self.params = {**parse_params(self.path_kwargs, self.parameters), **parse_params(query, self.query)}

    @property
    def read_db(self):
        """Where the read-only views read: DATABASE_READ_URL's replica when set (it may be
        slightly behind the primary), else the primary. Writes always use self.db."""
        return self.settings["read_db"]

    @property
    def idle_timeout(self):
        return self.settings["session_idle_timeout"]

    def render_answer(self, answer):
        self.render_json(answer.status, answer.body, replay=answer.replay)


class CreatePlayerHandler(AdminHandler):
    operator_scope = "admin"
    # No origin: a player registered here is always an operator's real one ("operator").
    # Only the tools mark theirs, in-process (casino/players.py); a body's "origin" is an
    # unknown field, ignored like any other, so no key can label a real player a tool's.
    summary = "Registers a player (active, without wallets), an operator's real one (origin operator)"
    status = 201
    answer = PLAYER
    refusals = documented("createPlayer")
    schema = {"username": USERNAME, "email": EMAIL}

    async def post(self):
        self.render_answer(await self.db.transaction(backoffice.create_player, self.operator.key_id, self.body))


class CreateWalletHandler(AdminHandler):
    operator_scope = "admin"
    summary = "Opens a player's wallet in a currency, empty"
    status = 201
    answer = obj(walletId=INTEGER, userId=INTEGER, currency=STRING, balance=INTEGER, redeemable=INTEGER)
    refusals = documented("createWallet")
    schema = {"userId": ENTITY_ID, "currency": CURRENCY}

    async def post(self):
        self.render_answer(await self.db.transaction(backoffice.create_wallet, self.operator.key_id, self.body))


class CashierHandler(AdminHandler):
    operator_scope = "cashier"
    answer = CASHIER_ANSWER
    replays = True
    schema = {"userId": ENTITY_ID, "currency": CURRENCY, "amount": BET_AMOUNT, "reference": IDENTIFIER}
    kind = None

    async def post(self):
        self.render_answer(await self.db.statement(backoffice.cashier, self.kind, self.operator.key_id, self.body))


class DepositHandler(CashierHandler):
    summary = "Adds cash to a wallet (playable and redeemable), idempotent by reference"
    refusals = documented("deposit")
    kind = "deposit"


class WithdrawalHandler(CashierHandler):
    summary = "Takes cash out of a wallet, at most its redeemable balance, idempotent by reference"
    refusals = documented("withdrawal")
    kind = "withdrawal"


class PlayerStatusHandler(AdminHandler):
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
                   label=STRING, createdAt=TIMESTAMP, revokedAt={"type": ["string", "null"], "format": "date-time"})


class CreateOperatorKeyHandler(AdminHandler):
    operator_scope = "admin"
    summary = "Creates an operator key with scopes; `key` (id.secret) is shown in this answer only"
    status = 201
    answer = obj(**OPERATOR_KEY["properties"], key=STRING)
    refusals = {}
    schema = {"scopes": list_of(*operators.SCOPES), "label": LABEL.optional()}

    async def post(self):
        self.render_answer(await self.db.transaction(backoffice.create_operator_key, self.operator.key_id,
                                                     self.body))


class OperatorKeysHandler(AdminHandler):
    operator_scope = "admin"
    summary = "Every operator key, active and revoked (never a secret)"
    answer = obj(keys={"type": "array", "items": OPERATOR_KEY})
    refusals = {}

    async def get(self):
        self.render_answer(await self.db.transaction(backoffice.list_operator_keys))


class RevokeOperatorKeyHandler(AdminHandler):
    operator_scope = "admin"
    summary = "Revokes an operator key (every process refuses it within KEY_REFRESH_SECONDS)"
    answer = obj(keyId=STRING, revokedAt=TIMESTAMP)
    refusals = documented("revokeOperatorKey")
    parameters = {"keyId": IDENTIFIER}

    async def post(self, **_):
        self.render_answer(await self.db.transaction(backoffice.revoke_operator_key, self.operator.key_id,
                                                     self.params["keyId"]))


def _pattern(regex, expected):
    compiled = re.compile(regex)
    return Field(lambda v: isinstance(v, str) and compiled.fullmatch(v) is not None, expected,
                 {"type": "string", "pattern": f"^{regex}$"})


# A provider's code names it in key ids (<code>-<random>) and paths: letters, digits, . _ -
PROVIDER_CODE = _pattern(r"[A-Za-z0-9][A-Za-z0-9._-]{0,49}", "1-50 letters, digits, '.', '_' or '-'")
NAME = _pattern(r"[\x21-\x7e][\x20-\x7e]{0,99}", "1-100 printable ASCII characters, not starting with a space")
ENDPOINT = _pattern(r"https?://[\x21-\x7e]{1,500}", "an http:// or https:// URL")
KEY_ID = _pattern(r"[\x21-\x2b\x2d-\x7e]{1,100}", "1-100 printable ASCII characters without whitespace or comma")
SECRET = _pattern(r"[\x21-\x7e]{16,200}", "16-200 printable ASCII characters without whitespace")
SIGNER = one_of(*credentials.SIGNERS)
BOOLEAN = Field(lambda v: type(v) is bool, "true or false", {"type": "boolean"})
BET_LIMIT = Field(lambda v: type(v) is int and 1 <= v <= MAX_SAFE_INTEGER,
                  f"an integer number of minor units from 1 to {MAX_SAFE_INTEGER}",
                  {"type": "integer", "minimum": 1, "maximum": MAX_SAFE_INTEGER})
STATUS = one_of("active", "disabled")

PROVIDER = obj(providerCode=STRING, name=STRING, apiEndpoint=NULLABLE_STRING, status={"enum": ["active", "disabled"]},
               allowsV1={"type": "boolean"}, origin={"enum": list(backoffice.ORIGINS)},
               revenueShare=NULLABLE_STRING, createdAt=TIMESTAMP)
PROVIDER_KEY = obj(keyId=STRING, signer={"enum": list(credentials.SIGNERS)}, createdAt=TIMESTAMP,
                   revokedAt={"type": ["string", "null"], "format": "date-time"})
NEW_PROVIDER_KEY = obj(providerCode=STRING, **PROVIDER_KEY["properties"], secret=STRING,
                       stillActive={"type": "array", "items": STRING})
GAME = obj(gameId=INTEGER, providerCode=STRING, providerGameId=STRING, name=STRING, currency=STRING, minBet=INTEGER,
           maxBet=INTEGER, status={"enum": ["active", "disabled"]}, createdAt=TIMESTAMP)
SESSION = obj(sessionId=INTEGER, userId=INTEGER, gameId=INTEGER, providerCode=STRING, currency=STRING,
              state={"enum": ["pending", "active", "expired", "closed"]}, createdAt=TIMESTAMP,
              lastActivityAt=TIMESTAMP)


class CreateProviderHandler(AdminHandler):
    operator_scope = "admin"
    summary = ("Registers a game provider (active, v1 signatures off, no keys, origin operator); "
               "no apiEndpoint: hosted here")
    status = 201
    answer = PROVIDER
    refusals = documented("createProvider")
    # No origin, as for players: only the bench marks its provider, in-process.
    schema = {"providerCode": PROVIDER_CODE, "name": NAME, "apiEndpoint": ENDPOINT.optional()}

    async def post(self):
        self.render_answer(await self.db.transaction(catalogue.create_provider, self.operator.key_id, self.body))


class ProviderHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "A game provider"
    answer = PROVIDER
    refusals = documented("getProvider")
    parameters = {"providerCode": IDENTIFIER}

    async def get(self, **_):
        self.render_answer(await self.db.transaction(catalogue.get_provider, self.params["providerCode"]))


class ProviderStatusHandler(AdminHandler):
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
    operator_scope = "admin"
    summary = "Accepts body-only (v1) signatures from the provider's keys, or not"
    answer = PROVIDER
    refusals = documented("setProviderV1")
    parameters = {"providerCode": IDENTIFIER}
    schema = {"allowed": BOOLEAN}

    async def post(self, **_):
        self.render_answer(await self.db.transaction(catalogue.set_provider_v1, self.operator.key_id,
                                                     self.params["providerCode"], self.body))


class AddProviderKeyHandler(AdminHandler):
    operator_scope = "admin"
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
        self.render_answer(await self.db.transaction(catalogue.add_provider_key, self.operator.key_id,
                                                     self.settings["keys_box"], reserved,
                                                     self.params["providerCode"], self.body, self.action))


class RotateProviderKeyHandler(AddProviderKeyHandler):
    summary = ("Starts a rotation: a new key (secret shown once) beside the active ones, listed in stillActive "
               "to revoke once the other side uses the new one")
    refusals = documented("rotateProviderKey")
    action = "rotateProviderKey"


class RevokeProviderKeyHandler(AdminHandler):
    operator_scope = "admin"
    summary = "Revokes a provider key (every process refuses it within KEY_REFRESH_SECONDS)"
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
        self.render_answer(await self.db.transaction(catalogue.list_sessions, p["userId"], self.idle_timeout,
                                                     p["limit"], p["cursor"]))


class CloseSessionHandler(AdminHandler):
    operator_scope = "admin"
    summary = "Closes a game session: it takes no further bet; payouts and refunds of its bets still land"
    answer = SESSION
    refusals = documented("closeSession")
    parameters = {"sessionId": ENTITY_ID}

    async def post(self, **_):
        self.render_answer(await self.db.transaction(catalogue.close_session, self.operator.key_id,
                                                     self.params["sessionId"], self.idle_timeout))
IMPORTED_GAME = obj(gameId=INTEGER, providerGameId=STRING, name=STRING, currency=STRING, minBet=INTEGER,
                   maxBet=INTEGER, enabled={"type": "boolean"}, created={"type": "boolean"})


class ImportGamesHandler(AdminHandler):
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


def routes():
    """(path, handler) pairs; {name} in a path is a parameter of the handler's `parameters`."""
    return [
        (r"/casino/admin/players", CreatePlayerHandler),
        (r"/casino/admin/wallets", CreateWalletHandler),
        (r"/casino/admin/deposits", DepositHandler),
        (r"/casino/admin/withdrawals", WithdrawalHandler),
        (r"/casino/admin/players/{userId}/status", PlayerStatusHandler),
        # Before players/{userId}, whose pattern would take "list" too.
        (r"/casino/admin/players/list", ListPlayersHandler),
        (r"/casino/admin/players/{userId}", PlayerHandler),
        (r"/casino/admin/players/{userId}/transactions", TransactionsHandler),
        (r"/casino/admin/rounds/{providerCode}/{roundId}", RoundHandler),
        (r"/casino/admin/keys", CreateOperatorKeyHandler),
        (r"/casino/admin/keys/list", OperatorKeysHandler),
        (r"/casino/admin/keys/{keyId}/revoke", RevokeOperatorKeyHandler),
        (r"/casino/admin/providers", CreateProviderHandler),
        (r"/casino/admin/providers/{providerCode}", ProviderHandler),
        (r"/casino/admin/providers/{providerCode}/status", ProviderStatusHandler),
        (r"/casino/admin/providers/{providerCode}/v1", ProviderV1Handler),
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
    ]
