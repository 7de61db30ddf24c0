"""HTTP endpoints of the casino. Each validates, makes one service call, and renders."""
from wire.handlers import JsonHandler
from wire.validation import BET_AMOUNT, CURRENCY, ENTITY_ID, IDENTIFIER, PAYOUT_AMOUNT

from . import wallet
from .launch import launch_game, simulate_round


class ProviderCallbackHandler(JsonHandler):
    """The signed callbacks the provider makes: x-casino-signature with CASINO_SECRET."""
    signature_header = "x-casino-signature"
    secret_setting = "casino_secret"
    operation = None

    async def post(self):
        answer = await self.settings["db"].statement(type(self).operation, self.body)
        self.render_json(answer.status, answer.body, replay=answer.replay)


class GetBalanceHandler(ProviderCallbackHandler):
    schema = {"sessionToken": IDENTIFIER, "userId": ENTITY_ID}
    operation = wallet.get_balance


class DebitHandler(ProviderCallbackHandler):
    schema = {"sessionToken": IDENTIFIER, "userId": ENTITY_ID, "transactionId": IDENTIFIER,
              "roundId": IDENTIFIER, "amount": BET_AMOUNT, "currency": CURRENCY}
    operation = wallet.debit


class CreditHandler(ProviderCallbackHandler):
    schema = {"sessionToken": IDENTIFIER, "userId": ENTITY_ID, "transactionId": IDENTIFIER,
              "roundId": IDENTIFIER, "amount": PAYOUT_AMOUNT, "currency": CURRENCY,
              "relatedTransactionId": IDENTIFIER.optional()}
    operation = wallet.credit


class RollbackHandler(ProviderCallbackHandler):
    schema = {"sessionToken": IDENTIFIER, "userId": ENTITY_ID, "transactionId": IDENTIFIER,
              "originalTransactionId": IDENTIFIER, "roundId": IDENTIFIER}
    operation = wallet.rollback


class TransactionStatusHandler(ProviderCallbackHandler):
    schema = {"transactionId": IDENTIFIER}
    operation = wallet.transaction_status


class LaunchGameHandler(JsonHandler):
    """Client-facing (a game lobby): no signature."""
    schema = {"userId": ENTITY_ID, "gameId": ENTITY_ID, "currency": CURRENCY.optional()}

    async def post(self):
        _, answer = await launch_game(self.settings["db"], self.settings["provider_link"],
                                      self.settings["casino_code"], self.body)
        self.render_json(200, answer)


class SimulateRoundHandler(JsonHandler):
    """Test driver: launch, then let the provider play one scripted round."""
    schema = LaunchGameHandler.schema

    async def post(self):
        self.render_json(200, await simulate_round(self.settings["db"], self.settings["provider_link"],
                                                   self.settings["casino_code"], self.body))


def routes():
    return [
        (r"/casino/launchGame", LaunchGameHandler),
        (r"/casino/simulateRound", SimulateRoundHandler),
        (r"/casino/getBalance", GetBalanceHandler),
        (r"/casino/debit", DebitHandler),
        (r"/casino/credit", CreditHandler),
        (r"/casino/rollback", RollbackHandler),
        (r"/casino/transactionStatus", TransactionStatusHandler),
    ]
