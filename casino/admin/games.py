"""Games (by hand or imported from a provider's catalogue), their bet limits and status, and
game sessions: list a player's, close one."""
from wire.openapi import STRING, obj
from wire.validation import BET_AMOUNT, CURRENCY, CURSOR, ENTITY_ID, IDENTIFIER, page_size

from .. import backoffice, catalogue, game_import
from ..refusals import documented
from .base import AdminHandler
from .fields import NAME, STATUS
from .shapes import GAME, IMPORTED_GAME, NULLABLE_STRING, SESSION


class CreateGameHandler(AdminHandler):
    writes_on = ("provider", "providerCode")
    operator_scope = "admin"
    summary = "Adds a provider's game (active) by the provider's own game id, with its currency and bet limits"
    status = 201
    answer = GAME
    refusals = documented("createGame")
    schema = {"providerCode": IDENTIFIER, "providerGameId": IDENTIFIER, "name": NAME, "currency": CURRENCY,
              "minBet": BET_AMOUNT, "maxBet": BET_AMOUNT}

    async def post(self) -> None:
        self.render_answer(await self.db.transaction(catalogue.create_game, self.operator.key_id, self.body))


class GameHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "A game"
    answer = GAME
    refusals = documented("getGame")
    parameters = {"gameId": ENTITY_ID}

    async def get(self, **_: str) -> None:
        self.render_answer(await self.db.transaction(catalogue.get_game, self.params["gameId"]))


class GameLimitsHandler(AdminHandler):
    writes_on = ("game", "gameId")
    operator_scope = "admin"
    summary = "Changes a game's bet limits (from the next bet)"
    answer = GAME
    refusals = documented("setGameLimits")
    parameters = {"gameId": ENTITY_ID}
    schema = {"minBet": BET_AMOUNT, "maxBet": BET_AMOUNT}

    async def post(self, **_: str) -> None:
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

    async def post(self, **_: str) -> None:
        self.render_answer(await self.db.transaction(catalogue.set_game_status, self.operator.key_id,
                                                     self.params["gameId"], self.body))


class ImportGamesHandler(AdminHandler):
    writes_on = ("provider", "providerCode")
    operator_scope = "admin"
    summary = ("Creates or updates the provider's games from its own catalogue (POST /provider/games); "
               "notListed: the casino's games of that provider it did not list")
    answer = obj(providerCode=STRING, games={"type": "array", "items": IMPORTED_GAME},
                 notListed={"type": "array", "items": STRING})
    refusals = documented("importGames")
    parameters = {"providerCode": IDENTIFIER}

    async def post(self, **_: str) -> None:
        self.render_answer(await game_import.import_games(self.db, self.provider_link, self.settings["casino_code"],
                                                          self.params["providerCode"], self.operator.key_id))


class SessionsHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "A player's game sessions, newest first, a page at a time (never their tokens)"
    answer = obj(items={"type": "array", "items": SESSION}, nextCursor=NULLABLE_STRING)
    refusals = documented("listSessions")
    parameters = {"userId": ENTITY_ID}
    query = {"limit": page_size(backoffice.MAX_PAGE).optional(), "cursor": CURSOR.optional()}

    async def get(self, **_: str) -> None:
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

    async def post(self, **_: str) -> None:
        self.render_answer(await self.db.transaction(catalogue.close_session, self.operator.key_id,
                                                     self.params["sessionId"], self.session_idle_timeout))
