"""HTTP endpoints of the casino. Each validates, makes one service call, and renders."""
from collections.abc import Callable

from wire.handlers import JsonHandler
from wire.openapi import INTEGER, STRING, Json, obj
from wire.validation import BET_AMOUNT, CURRENCY, ENTITY_ID, IDENTIFIER, PAYOUT_AMOUNT

from . import origins, wallet
from .launch import launch_game, simulate_round
from .refusals import documented
from .wallet import Outcome


def with_bonus(schema: Json) -> Json:
    """An answer that also carries `bonus`, the bonus part of `balance` (PROTOCOL.md, "Bonus
    money"). Not required: an answer stored before bonus money existed replays as stored."""
    bonus = {"type": "integer", "minimum": 0, "description": "the bonus part of balance"}
    return {**schema, "properties": {**schema["properties"], "bonus": bonus}}


MONEY_ANSWER = with_bonus(obj(transactionId=STRING, balance=INTEGER, currency=STRING))

# What a provider calls with once a launch answered, and once a bet was taken.
SESSION = {"sessionToken": "$response.body#/sessionToken", "userId": "$response.body#/userId"}
LAUNCHED = {"GetBalance": {"operationId": "GetBalance", "requestBody": SESSION},
            "Debit": {"operationId": "Debit", "requestBody": {**SESSION, "currency": "$response.body#/currency"}}}
BET = {"sessionToken": "$request.body#/sessionToken", "userId": "$request.body#/userId",
       "roundId": "$request.body#/roundId"}
BET_TAKEN = {"Credit": {"operationId": "Credit", "requestBody": {
                 **BET, "relatedTransactionId": "$response.body#/transactionId", "currency": "$response.body#/currency"}},
             "Rollback": {"operationId": "Rollback", "requestBody": {
                 **BET, "originalTransactionId": "$response.body#/transactionId"}},
             "TransactionStatus": {"operationId": "TransactionStatus",
                                   "requestBody": {"transactionId": "$response.body#/transactionId"}}}


class ProviderCallbackHandler(JsonHandler):
    """The signed callbacks a provider makes: x-casino-signature with one of its keys. The
    key names the provider; the wallet refuses a session of another provider's game."""
    signature_header = "x-casino-signature"
    keyring_setting = "casino_keys"
    # The wallet's function: (cursor, *arguments()) -> an Answer or a Refused.
    operation: Callable[..., Outcome]
    replays = True

    async def post(self) -> None:
        self.render_answer(await self.db.statement(type(self).operation, *self.arguments()))

    def arguments(self) -> tuple[object, ...]:
        """What the operation takes after the cursor: the provider whose key signed, and
        the request."""
        return self.caller.counterpart_id, self.body


class GetBalanceHandler(ProviderCallbackHandler):
    summary = "The player's balance (never changes state)"
    answer = with_bonus(obj(userId=INTEGER, balance=INTEGER, currency=STRING))
    refusals = documented("getBalance")
    replays = False
    schema = {"sessionToken": IDENTIFIER, "userId": ENTITY_ID}
    operation = wallet.get_balance


class DebitHandler(ProviderCallbackHandler):
    summary = "A bet: takes the amount from the wallet, idempotent by transactionId"
    answer = MONEY_ANSWER
    refusals = documented("debit")
    links = BET_TAKEN
    schema = {"sessionToken": IDENTIFIER, "userId": ENTITY_ID, "transactionId": IDENTIFIER,
              "roundId": IDENTIFIER, "amount": BET_AMOUNT, "currency": CURRENCY}
    operation = wallet.debit

    def arguments(self) -> tuple[object, ...]:
        return self.caller.counterpart_id, self.body, self.settings["session_idle_timeout"]


class CreditHandler(ProviderCallbackHandler):
    summary = "A payout for an accepted bet of the round (0 settles a lost round)"
    answer = MONEY_ANSWER
    refusals = documented("credit")
    schema = {"sessionToken": IDENTIFIER, "userId": ENTITY_ID, "transactionId": IDENTIFIER,
              "roundId": IDENTIFIER, "amount": PAYOUT_AMOUNT, "currency": CURRENCY,
              "relatedTransactionId": IDENTIFIER.optional()}
    operation = wallet.credit


class RollbackHandler(ProviderCallbackHandler):
    summary = "Cancels a bet, refunding exactly its amount; a tombstone for an unknown bet"
    answer = with_bonus(obj(transactionId=STRING, balance=INTEGER, currency=STRING, tombstone={"type": "boolean"}))
    refusals = documented("rollback")
    schema = {"sessionToken": IDENTIFIER, "userId": ENTITY_ID, "transactionId": IDENTIFIER,
              "originalTransactionId": IDENTIFIER, "roundId": IDENTIFIER}
    operation = wallet.rollback


class TransactionStatusHandler(ProviderCallbackHandler):
    summary = "What the casino recorded for a transactionId (reconciliation; read-only)"
    answer = obj(transactionId=STRING, kind={"enum": ["debit", "credit", "rollback"]},
                 outcome={"enum": ["applied", "refused", "tombstone"]}, rolledBack={"type": "boolean"},
                 status=INTEGER, response={"type": "object"}, createdAt={"type": "string", "format": "date-time"})
    refusals = documented("transactionStatus")
    replays = False
    schema = {"transactionId": IDENTIFIER}
    operation = wallet.transaction_status


class LaunchGameHandler(JsonHandler):
    """Client-facing (a game lobby): an operator key with the scope `lobby`."""
    operator_scope = "lobby"
    open_in_development = True
    summary = "Opens a game session for a player, at the casino and at the provider"
    answer = obj(sessionToken=STRING, providerSessionId=STRING, userId=INTEGER, gameId=INTEGER,
                 currency=STRING, balance=INTEGER)
    refusals = documented("launchGame")
    links = LAUNCHED
    example = {"userId": 1, "gameId": 1, "currency": "USD"}     # PROTOCOL.md's (the demo data has them)
    schema = {"userId": ENTITY_ID, "gameId": ENTITY_ID, "currency": CURRENCY.optional()}

    async def post(self) -> None:
        # A tool's key launches only its own tool's players (casino/origins.py).
        await origins.check(self.db, self.operator, "player", self.body["userId"])
        _, answer = await launch_game(self.db, self.provider_link, self.settings["casino_code"], self.body,
                                      self.request_id, self.settings["exclusion_register"])
        self.render_json(200, answer)


class SimulateRoundHandler(JsonHandler):
    """Test driver: launch, then let the provider play one scripted round. Routed only in
    development mode or with --test-driver: it moves real money in a round that wins."""
    operator_scope = "test-driver"
    open_in_development = True
    summary = "Launches a game and has the provider play one scripted round"
    answer = obj(sessionToken=STRING, providerSessionId=STRING, roundId=STRING, startingBalance=INTEGER,
                 finalBalance={"type": "integer", "nullable": True}, steps={"type": "array", "items": {"type": "object"}})
    refusals = documented("simulateRound")
    links = LAUNCHED
    example = LaunchGameHandler.example
    schema = LaunchGameHandler.schema

    async def post(self) -> None:
        await origins.check(self.db, self.operator, "player", self.body["userId"])
        with self.settings["simulate_limit"].slot():
            answer = await simulate_round(self.db, self.provider_link, self.settings["casino_code"], self.body,
                                          self.request_id, self.settings["exclusion_register"])
        self.render_json(200, answer)


def routes(test_driver: bool = True) -> list[tuple[str, type[JsonHandler]]]:
    return [
        (r"/casino/launchGame", LaunchGameHandler),
        *([(r"/casino/simulateRound", SimulateRoundHandler)] if test_driver else []),
        (r"/casino/getBalance", GetBalanceHandler),
        (r"/casino/debit", DebitHandler),
        (r"/casino/credit", CreditHandler),
        (r"/casino/rollback", RollbackHandler),
        (r"/casino/transactionStatus", TransactionStatusHandler),
    ]
