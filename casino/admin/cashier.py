"""The cashier: deposits and withdrawals (idempotent by reference), and bonuses (grant,
list, cancel)."""
from wire.openapi import obj
from wire.validation import BET_AMOUNT, CURRENCY, CURSOR, ENTITY_ID, IDENTIFIER, INSTANT, page_size

from .. import backoffice, bonuses
from ..refusals import documented
from .base import AdminHandler
from .fields import BONUS_AMOUNT, WAGERING
from .shapes import BONUS, CASHIER_ANSWER, NULLABLE_STRING


class CashierHandler(AdminHandler):
    writes_on = ("player", "userId")
    operator_scope = "cashier"
    answer = CASHIER_ANSWER
    replays = True
    schema = {"userId": ENTITY_ID, "currency": CURRENCY, "amount": BET_AMOUNT, "reference": IDENTIFIER}
    kind: str       # "deposit" or "withdrawal", set by each subclass

    async def post(self) -> None:
        self.render_answer(await self.db.statement(backoffice.cashier, self.kind, self.operator.key_id, self.body))


class DepositHandler(CashierHandler):
    summary = ("Adds cash to a wallet (playable and redeemable), idempotent by reference; refused to an excluded "
               "player and past the player's deposit limits")
    refusals = documented("deposit")
    kind = "deposit"

    async def post(self) -> None:
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

    async def post(self) -> None:
        self.render_answer(await self.db.statement(bonuses.grant, self.operator.key_id, self.body))


class PlayerBonusesHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "A player's bonuses, newest first, a page at a time: wagered, remaining, status, expiry"
    answer = obj(items={"type": "array", "items": BONUS}, nextCursor=NULLABLE_STRING)
    refusals = documented("listBonuses")
    parameters = {"userId": ENTITY_ID}
    query = {"currency": CURRENCY.optional(), "limit": page_size(backoffice.MAX_PAGE).optional(),
             "cursor": CURSOR.optional()}

    async def get(self, **_: str) -> None:
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

    async def post(self, **_: str) -> None:
        self.render_answer(await self.db.transaction(bonuses.cancel, self.operator.key_id, self.params["bonusId"]))
