"""HTTP endpoints of the provider, signed by the casino with x-provider-signature."""
from wire.handlers import JsonHandler
from wire.validation import CURRENCY, ENTITY_ID, IDENTIFIER

from . import launches
from .round_script import play_round


class CasinoRequestHandler(JsonHandler):
    signature_header = "x-provider-signature"
    secret_setting = "provider_secret"


class LaunchHandler(CasinoRequestHandler):
    schema = {"sessionToken": IDENTIFIER, "userId": ENTITY_ID, "gameId": IDENTIFIER,
              "currency": CURRENCY, "casinoCode": IDENTIFIER}

    async def post(self):
        self.render_json(200, await self.settings["db"].transaction(launches.launch, self.body))


class SimulateHandler(CasinoRequestHandler):
    schema = {"providerSessionId": IDENTIFIER, "sessionToken": IDENTIFIER, "userId": ENTITY_ID}

    async def post(self):
        result = await play_round(self.settings["db"], self.settings["casino_client"], self.body)
        self.render_json(200, result)


def routes():
    return [
        (r"/provider/launch", LaunchHandler),
        (r"/provider/simulate", SimulateHandler),
    ]
