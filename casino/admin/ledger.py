"""The ledger as the back office reads it: a player's rows, a round's rows and state, and
the ledger audit."""
from wire.openapi import INTEGER, STRING, obj
from wire.validation import CURRENCY, CURSOR, ENTITY_ID, IDENTIFIER, page_size

from .. import audit, backoffice
from ..limits import ConcurrencyLimit
from ..refusals import documented
from .base import AdminHandler
from .shapes import ITEM, NULLABLE_STRING, ROUND_ROW


class TransactionsHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "A player's ledger rows, newest first, a page at a time (nextCursor: the next page)"
    answer = obj(items={"type": "array", "items": ITEM}, nextCursor=NULLABLE_STRING)
    refusals = documented("listTransactions")
    parameters = {"userId": ENTITY_ID}
    query = {"currency": CURRENCY.optional(), "limit": page_size(backoffice.MAX_PAGE).optional(),
             "cursor": CURSOR.optional()}

    async def get(self, **_: str) -> None:
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

    async def get(self, **_: str) -> None:
        self.render_answer(await self.read_db.transaction(backoffice.get_round, self.params["providerCode"],
                                                     self.params["roundId"]))


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

    async def get(self) -> None:
        with self.running.slot():
            found = await self.on_report_db(audit.summary)
            self.render_json(200, dict(found))
