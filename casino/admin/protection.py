"""Player protection (README, "Player protection"): jurisdictions' rules, a player's
limits, exclusions and their history, the player's jurisdiction and the identity an external
register is asked with."""
from wire.handlers import Verb
from wire.openapi import INTEGER, STRING, obj
from wire.validation import (
    CURRENCY,
    CURSOR,
    DURATION,
    ENTITY_ID,
    INSTANT,
    PAYOUT_AMOUNT,
    nullable,
    one_of,
    page_size,
    text,
)

from .. import backoffice, protection
from ..refusals import documented
from .base import AdminHandler
from .fields import (
    BOOLEAN,
    COOLING_OFF_HOURS,
    ENDPOINT,
    EXCLUSION_KIND,
    IDENTITY,
    JURISDICTION_CODE,
    LIMIT_TYPE,
    PERIOD,
    REGISTER_NAMED,
    TIME_OUT_ENDS,
)
from .shapes import EXCLUSION, HISTORY_ITEM, JURISDICTION, LIMIT, NULLABLE_STRING, NULLABLE_TIMESTAMP, PLAYER, TIMESTAMP


class JurisdictionsHandler(AdminHandler):
    operator_scope = "admin"
    summary = "Every jurisdiction's rules, by code"
    answer = obj(items={"type": "array", "items": JURISDICTION})
    refusals = documented("listJurisdictions")

    async def get(self) -> None:
        self.render_answer(await self.db.transaction(protection.list_jurisdictions))


class JurisdictionHandler(AdminHandler):
    """A market's rules, read and written as one row (a new market is a PUT, not a release)."""
    writes_on = ("jurisdiction", "code")
    parameters = {"code": JURISDICTION_CODE}
    verbs = {
        "GET": Verb("GetJurisdiction", "admin", "A jurisdiction's rules", JURISDICTION,
                    documented("getJurisdiction")),
        "PUT": Verb("PutJurisdiction", "admin",
                    "Creates a jurisdiction (201) or replaces its rules (200): time zone, cooling-off, bounds of "
                    "exclusions, a required deposit limit, the external register and what its outage means. "
                    "400 INVALID_REQUEST also when timeOutMin exceeds timeOutMax or selfExclusionMin exceeds "
                    "selfExclusionMax (rules between two fields, which JSON Schema cannot state); 422 "
                    "TIME_ZONE_UNKNOWN for a timeZone the database does not know",
                    JURISDICTION, documented("putJurisdiction"),
                    schema={"name": text(100, "a name of 1-100 characters"),
                            "timeZone": text(64, "a time zone name (Europe/London)"),
                            "coolingOffHours": COOLING_OFF_HOURS,
                            "increaseWaitsForPeriodEnd": BOOLEAN, "depositLimitRequired": BOOLEAN,
                            "timeOutMin": DURATION, "timeOutMax": DURATION, "selfExclusionMin": DURATION,
                            "selfExclusionMax": nullable(DURATION).optional(),
                            "registerName": nullable(text(50, "a register's name of 1-50 characters")).optional(),
                            "registerUrl": nullable(ENDPOINT).optional(),
                            "registerUnavailable": one_of("refuse", "allow").optional()},
                    rules=(REGISTER_NAMED,)),
    }

    async def get(self, **_: str) -> None:
        self.render_answer(await self.db.transaction(protection.get_jurisdiction, self.params["code"]))

    async def put(self, **_: str) -> None:
        # The register is called as a provider is: at an address the policy allows
        # (wire/addresses.py), checked here and again at each connection.
        refused = await self.address_refused(self.body.get("registerUrl"))
        self.render_answer(await self.db.transaction(protection.put_jurisdiction, self.operator.key_id,
                                                     self.params["code"], self.body, refused))


class LimitsHandler(AdminHandler):
    writes_on = ("player", "userId")
    parameters = {"userId": ENTITY_ID}
    verbs = {
        "GET": Verb("GetLimits", "backoffice",
                    "A player's deposit, loss and wager limits: in force, pending, used in the current window",
                    obj(userId=INTEGER, jurisdiction=STRING, items={"type": "array", "items": LIMIT}),
                    documented("getLimits")),
        "PUT": Verb("SetLimit", "protection",
                    "Sets a limit: a first or lower one at once; a higher one or a removal (amount null) after the "
                    "jurisdiction's cooling-off", LIMIT, documented("setLimit"),
                    schema={"type": LIMIT_TYPE, "period": PERIOD, "currency": CURRENCY,
                            "amount": nullable(PAYOUT_AMOUNT)}),
    }

    async def get(self, **_: str) -> None:
        self.render_answer(await self.read_db.transaction(protection.get_limits, self.params["userId"]))

    async def put(self, **_: str) -> None:
        self.render_answer(await self.db.transaction(protection.set_limit, self.operator.key_id,
                                                     self.params["userId"], self.body))


class ExclusionsHandler(AdminHandler):
    writes_on = ("player", "userId")
    parameters = {"userId": ENTITY_ID}
    verbs = {
        "GET": Verb("ListExclusions", "backoffice", "A player's exclusions, newest first, and the one in force",
                    obj(userId=INTEGER, jurisdiction=STRING, excluded={"type": "boolean"},
                        kind={"type": "string", "nullable": True}, until=NULLABLE_TIMESTAMP,
                        items={"type": "array", "items": EXCLUSION}),
                    documented("listExclusions")),
        "POST": Verb("CreateExclusion", "protection",
                     "Excludes a player at once (time-out, or self-exclusion; until null: indefinite): sessions "
                     "close, launches, bets and deposits are refused; extends an active one, never shortens it",
                     obj(userId=INTEGER, kind=STRING, **{"from": TIMESTAMP}, until=NULLABLE_TIMESTAMP,
                         sessionsClosed=INTEGER),
                     documented("createExclusion"), schema={"kind": EXCLUSION_KIND, "until": nullable(INSTANT)},
                     status=201, rules=(TIME_OUT_ENDS,)),
    }

    async def get(self, **_: str) -> None:
        self.render_answer(await self.read_db.transaction(protection.exclusions, self.params["userId"]))

    async def post(self, **_: str) -> None:
        self.render_answer(await self.db.transaction(protection.exclude, self.operator.key_id,
                                                     self.params["userId"], self.body))


class ProtectionHistoryHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "Every change of a player's limits and exclusions (who, when, old, new, effective from), newest first"
    answer = obj(items={"type": "array", "items": HISTORY_ITEM}, nextCursor=NULLABLE_STRING)
    refusals = documented("getProtectionHistory")
    parameters = {"userId": ENTITY_ID}
    query = {"limit": page_size(backoffice.MAX_PAGE).optional(), "cursor": CURSOR.optional()}

    async def get(self, **_: str) -> None:
        p = self.params
        self.render_answer(await self.read_db.transaction(protection.history, p["userId"], p["limit"], p["cursor"]))


class PlayerJurisdictionHandler(AdminHandler):
    writes_on = ("player", "userId")
    operator_scope = "admin"
    summary = "Moves a player to another jurisdiction (its rules from the next call)"
    answer = PLAYER
    refusals = documented("setPlayerJurisdiction")
    parameters = {"userId": ENTITY_ID}
    schema = {"jurisdiction": JURISDICTION_CODE}

    async def post(self, **_: str) -> None:
        self.render_answer(await self.db.transaction(protection.set_player_jurisdiction, self.operator.key_id,
                                                     self.params["userId"], self.body))


class PlayerIdentityHandler(AdminHandler):
    writes_on = ("player", "userId")
    operator_scope = "admin"
    summary = "Sets the identity an external self-exclusion register is asked with"
    answer = PLAYER
    refusals = documented("setPlayerIdentity")
    parameters = {"userId": ENTITY_ID}
    schema = IDENTITY

    async def post(self, **_: str) -> None:
        self.render_answer(await self.db.transaction(protection.set_player_identity, self.operator.key_id,
                                                     self.params["userId"], self.body))
