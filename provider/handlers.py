"""HTTP endpoints of the provider, signed by a casino with x-provider-signature. The key
that signed names the casino: it sees only its own players' sessions."""
from wire.handlers import JsonHandler
from wire.openapi import INTEGER, STRING, obj
from wire.refusals import documented
from wire.validation import CURRENCY, CURSOR, ENTITY_ID, IDENTIFIER, INSTANT, page_size

from . import catalogue, launches, round_feed
from .round_script import play_round


class CasinoRequestHandler(JsonHandler):
    signature_header = "x-provider-signature"
    keyring_setting = "provider_keys"

    @property
    def casino_code(self):
        return self.caller.counterpart


class LaunchHandler(CasinoRequestHandler):
    summary = "Provider side of a launch: customer and provider session, with the bet limits"
    answer = obj(providerSessionId=STRING, gameId=STRING, currency=STRING, minBet=INTEGER, maxBet=INTEGER)
    refusals = documented("provider/launch")
    schema = {"sessionToken": IDENTIFIER, "userId": ENTITY_ID, "gameId": IDENTIFIER,
              "currency": CURRENCY, "casinoCode": IDENTIFIER}

    async def post(self):
        self.render_json(200, await self.db.transaction(launches.launch, self.casino_code, self.body))


class SimulateHandler(CasinoRequestHandler):
    summary = "Plays one scripted round through the casino's callbacks"
    answer = obj(roundId=STRING, steps={"type": "array", "items": {"type": "object"}},
                 finalBalance={"type": "integer", "nullable": True})
    refusals = documented("provider/simulate")
    replays = True
    schema = {"providerSessionId": IDENTIFIER, "sessionToken": IDENTIFIER, "userId": ENTITY_ID,
              "requestId": IDENTIFIER}

    async def post(self):
        answer = await play_round(self.db, self.casino_client, self.casino_code,
                                  self.body, self.request_id)
        self.render_json(200, answer.body, replay=answer.replay)


class GamesHandler(CasinoRequestHandler):
    summary = "The provider's game catalogue, for the casino whose key signed"
    answer = obj(games={"type": "array", "items": obj(gameId=STRING, name=STRING, currency=STRING,
                                                      minBet=INTEGER, maxBet=INTEGER,
                                                      enabled={"type": "boolean"})})
    refusals = documented("provider/games")
    schema = {"casinoCode": IDENTIFIER}

    async def post(self):
        self.render_json(200, await self.db.transaction(catalogue.games, self.casino_code, self.body))


NULLABLE_INSTANT = {"type": "string", "nullable": True, "format": "date-time"}
FEED_ROUND = obj(roundId=STRING, status={"enum": ["open", "settled", "cancelled"]}, currency=STRING,
                 stakes=INTEGER, refunds=INTEGER, wins=INTEGER, openedAt={"type": "string", "format": "date-time"},
                 closedAt=NULLABLE_INSTANT)


class RoundsHandler(CasinoRequestHandler):
    summary = ("The rounds opened in [from, to) holding a call the casino accepted, with what the provider "
               "recorded as accepted (stakes, refunds, wins), a page at a time (oldest first)")
    answer = obj(rounds={"type": "array", "items": FEED_ROUND}, nextCursor={"type": "string", "nullable": True})
    refusals = documented("provider/rounds")
    schema = {"casinoCode": IDENTIFIER, "from": INSTANT, "to": INSTANT, "cursor": CURSOR.optional(),
              "limit": page_size(round_feed.MAX_PAGE).optional()}

    async def post(self):
        self.render_json(200, await self.db.transaction(round_feed.rounds, self.casino_code, self.body))


def routes():
    return [
        (r"/provider/launch", LaunchHandler),
        (r"/provider/simulate", SimulateHandler),
        (r"/provider/games", GamesHandler),
        (r"/provider/rounds", RoundsHandler),
    ]
