"""Players and their wallets: register, open a wallet, enable or disable, list, read."""
from wire.openapi import INTEGER, STRING, obj
from wire.validation import CURRENCY, CURSOR, EMAIL, ENTITY_ID, USERNAME, one_of, page_size

from .. import backoffice
from ..refusals import documented
from .base import AdminHandler
from .fields import IDENTITY, JURISDICTION_CODE, STATUS
from .shapes import NULLABLE_STRING, PLAYER, WALLET


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

    async def post(self) -> None:
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

    async def post(self) -> None:
        self.render_answer(await self.db.transaction(backoffice.create_wallet, self.operator.key_id, self.body))


class PlayerStatusHandler(AdminHandler):
    writes_on = ("player", "userId")
    operator_scope = "admin"
    summary = "Enables or disables a player (a disabled player cannot launch games or bet)"
    answer = PLAYER
    refusals = documented("setPlayerStatus")
    parameters = {"userId": ENTITY_ID}
    schema = {"status": STATUS}

    async def post(self, **_: str) -> None:
        self.render_answer(await self.db.transaction(backoffice.set_status, self.operator.key_id,
                                                     self.params["userId"], self.body))


class ListPlayersHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = ("Players, newest first, a page at a time, filtered by origin (synthetic: made by any tool) "
               "and status")
    answer = obj(items={"type": "array", "items": PLAYER}, nextCursor=NULLABLE_STRING)
    refusals = documented("listPlayers")
    query = {"origin": one_of(*backoffice.ORIGINS, backoffice.SYNTHETIC).optional(),
             "status": STATUS.optional(),
             "limit": page_size(backoffice.MAX_PAGE).optional(), "cursor": CURSOR.optional()}

    async def get(self) -> None:
        p = self.params
        self.render_answer(await self.read_db.transaction(backoffice.list_players, p["origin"], p["status"],
                                                          p["limit"], p["cursor"]))


class PlayerHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "A player and their wallets"
    answer = obj(**PLAYER["properties"], wallets={"type": "array", "items": WALLET})
    refusals = documented("getPlayer")
    parameters = {"userId": ENTITY_ID}

    async def get(self, **_: str) -> None:
        self.render_answer(await self.read_db.transaction(backoffice.get_player, self.params["userId"]))
