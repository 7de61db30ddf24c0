"""The back office's endpoints (/casino/admin/*), on operator keys: each handler validates
(the base handler and its schemas), makes one call of casino/backoffice.py, and renders.

Scopes (casino/operators.py): admin for players, wallets and operator keys, cashier for deposits and
withdrawals, backoffice for the read-only views.
"""
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
    USERNAME,
    list_of,
    one_of,
    page_size,
    parse_params,
)

from . import backoffice, game_import, operators
from .refusals import documented

NULLABLE_STRING = {"type": ["string", "null"]}
TIMESTAMP = {"type": "string", "format": "date-time"}
PLAYER = obj(userId=INTEGER, username=STRING, email=STRING, status={"enum": ["active", "disabled"]},
             createdAt=TIMESTAMP)
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

    def render_answer(self, answer):
        self.render_json(answer.status, answer.body, replay=answer.replay)


class CreatePlayerHandler(AdminHandler):
    operator_scope = "admin"
    summary = "Registers a player (active, without wallets)"
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


class PlayerHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "A player and their wallets"
    answer = obj(**PLAYER["properties"], wallets={"type": "array", "items": WALLET})
    refusals = documented("getPlayer")
    parameters = {"userId": ENTITY_ID}

    async def get(self, **_):
        self.render_answer(await self.db.transaction(backoffice.get_player, self.params["userId"]))


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
        self.render_answer(await self.db.transaction(backoffice.transactions, p["userId"], p["currency"],
                                                     p["limit"], p["cursor"]))


class RoundHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "A round's ledger rows (each call with its answer) and its state"
    answer = obj(providerCode=STRING, roundId=STRING, state={"enum": ["open", "settled", "cancelled", "empty"]},
                 rows={"type": "array", "items": ROUND_ROW})
    refusals = documented("getRound")
    parameters = {"providerCode": IDENTIFIER, "roundId": IDENTIFIER}

    async def get(self, **_):
        self.render_answer(await self.db.transaction(backoffice.get_round, self.params["providerCode"],
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
        (r"/casino/admin/players/{userId}", PlayerHandler),
        (r"/casino/admin/players/{userId}/transactions", TransactionsHandler),
        (r"/casino/admin/rounds/{providerCode}/{roundId}", RoundHandler),
        (r"/casino/admin/keys", CreateOperatorKeyHandler),
        (r"/casino/admin/keys/list", OperatorKeysHandler),
        (r"/casino/admin/keys/{keyId}/revoke", RevokeOperatorKeyHandler),
        (r"/casino/admin/providers/{providerCode}/games/import", ImportGamesHandler),
    ]
