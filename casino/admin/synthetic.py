"""Retiring what a tool made: its players and providers taken out of play, the ledger kept."""
from wire.validation import ENTITY_ID, IDENTIFIER, array_of, one_of

from .. import synthetic
from ..refusals import documented
from .base import AdminHandler
from .shapes import RETIRED


class RetireSyntheticHandler(AdminHandler):
    operator_scope = "admin"
    summary = ("Takes a tool's players and providers out of play (sessions closed, players, providers and their "
               "games disabled; the ledger kept): those listed, or every one of the origin")
    answer = RETIRED
    # A tool's key naming another tool's origin: 403 FORBIDDEN, as a missing scope is.
    refusals = documented("retireSynthetic")
    schema = {"origin": one_of(*synthetic.TOOLS, "demo").optional(),
              "userIds": array_of(ENTITY_ID, 1000).optional(),
              "providerCodes": array_of(IDENTIFIER, 100).optional()}

    async def post(self) -> None:
        self.render_answer(await self.db.transaction(synthetic.retire_over_api, self.operator.key_id,
                                                     self.operator.origin, self.body))
