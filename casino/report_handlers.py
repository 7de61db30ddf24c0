"""The reports' and reconciliations' endpoints (/casino/admin/reports/*,
/casino/admin/reconciliations*), and the provider field the invoice reads (its revenue
share). Like the back office's (casino/admin/): each handler validates, makes one call
(casino/reports.py, casino/reconciliation.py), and renders -- JSON in minor units, or with
?format=csv the same figures in major units.

Scopes: backoffice reads the reports and the stored reconciliations; admin runs a
reconciliation and sets a revenue share. The reports read on a pool of their own
(AdminHandler.on_report_db: read-only, on the replica when DATABASE_READ_URL is set,
bounded by REPORT_TIMEOUT rather than DB_CALL_TIMEOUT, cancelled when the client goes
away), so a report of months never holds a connection a money call is waiting for.
"""
from collections.abc import Callable, Mapping
from itertools import permutations
from typing import Any

from wire import logs
from wire.openapi import INTEGER, STRING, obj
from wire.validation import (
    CURSOR,
    DATE,
    ENTITY_ID,
    IDENTIFIER,
    INSTANT,
    MONTH,
    Field,
    one_of,
    page_size,
    parse_date,
    parse_instant,
    parse_month,
    pattern,
)

from . import catalogue, reconciliation, reports
from .admin.base import AdminHandler
from .admin.shapes import NULLABLE_STRING, PROVIDER, TIMESTAMP
from .backoffice import MAX_PAGE
from .refusals import documented
from .wallet import Outcome


# Each list of distinct keys, in any order, as the document's enum spells them all ("" for none).
_GROUPINGS = one_of(*(",".join(keys) for n in range(len(reports.GROUPS) + 1)
                      for keys in permutations(reports.GROUPS, n)))
GROUP_BY = Field(_GROUPINGS.check, "a comma-separated list of day, provider, game (each at most once)",
                 _GROUPINGS.json_schema)
FORMAT = one_of("json", "csv").optional()
# A percentage with at most two decimals, 0 to 100: a string, so it is never a float.
REVENUE_SHARE = pattern(r"(100(\.0{1,2})?|[0-9]{1,2}(\.[0-9]{1,2})?)",
                        "a percentage from 0 to 100 with at most two decimals, as a string (\"12.50\")")
# Not zero: some digit is not 0.
MULTIPLE = pattern(r"(?=[0-9.]*[1-9])[0-9]{1,7}(\.[0-9]{1,2})?",
                   "a number above 0 with at most two decimals (100, 2.5)")

FIGURES = dict.fromkeys(reports.FIGURES, INTEGER)
GGR_ROW = obj(currency=STRING, **FIGURES)
GGR_ROW["properties"].update(day={"type": "string", "format": "date"}, provider=STRING, gameId=INTEGER)
FUNDS_ROW = obj(currency=STRING, wallets=INTEGER, balance=INTEGER, cash=INTEGER, bonus=INTEGER)
INVOICE_CURRENCY = obj(currency=STRING, games={"type": "array", "items": obj(
    gameId=INTEGER, name=NULLABLE_STRING, **FIGURES)}, **FIGURES, amountDue={"type": "integer", "nullable": True})
LARGE_WIN = obj(provider=STRING, roundId=STRING, transactionId=STRING, userId=INTEGER,
                gameId={"type": "integer", "nullable": True}, currency=STRING, win=INTEGER, roundStakes=INTEGER,
                multiple=STRING, createdAt=TIMESTAMP)
SIDE_TOTALS = {"type": "array", "items": obj(currency=STRING, rounds=INTEGER, stakes=INTEGER, refunds=INTEGER,
                                             wins=INTEGER)}
SIDE = {"type": "object", "nullable": True, "properties": {"stakes": INTEGER, "refunds": INTEGER, "wins": INTEGER,
                                                   "state": STRING, "openedAt": TIMESTAMP}}
DIFFERENCE = obj(kind={"enum": list(reconciliation.KINDS)}, roundId=STRING, currency=STRING, casino=SIDE,
                 provider=SIDE)
RECONCILIATION = obj(reconciliationId=INTEGER, providerCode=STRING, **{"from": STRING, "to": STRING},
                     timeZone=STRING, startsAt=TIMESTAMP, endsAt=TIMESTAMP, status={"enum": ["complete", "failed"]},
                     failure=NULLABLE_STRING, roundsCompared=INTEGER,
                     totals=obj(casino=SIDE_TOTALS, provider=SIDE_TOTALS), requestedBy=STRING, createdAt=TIMESTAMP,
                     differenceCount=INTEGER)
RECONCILIATION_WITH_DIFFERENCES = obj(**RECONCILIATION["properties"],
                                      differences={"type": "array", "items": DIFFERENCE}, nextCursor=NULLABLE_STRING)


class ReportHandler(AdminHandler):
    operator_scope = "backoffice"
    # The OpenAPI document gives a text/csv answer beside the JSON one (wire/openapi.py).
    csv = True

    @property
    def time_zone(self) -> str:
        """REPORT_TIME_ZONE: the days the reports count are this zone's."""
        zone: str = self.settings["report_time_zone"]
        return zone

    def render_report(self, answer: Outcome, to_csv: Callable[[Mapping[str, Any]], str], name: str) -> None:
        """The answer as JSON, or with ?format=csv (and status 200) as a CSV file."""
        if answer.status != 200 or self.params.get("format") != "csv":
            self.render_answer(answer)
            return
        self.set_status(200)
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{name}.csv"')
        self._note(replay=False, error_code=None)
        logs.log_request(self)
        self.finish(to_csv(answer.json()))


class GgrReportHandler(ReportHandler):
    summary = ("GGR and NGR of the days from..to (to included, in REPORT_TIME_ZONE) per currency, grouped by any "
               "of day, provider, game, with the totals per currency")
    answer = obj(**{"from": STRING, "to": STRING}, timeZone=STRING, groupBy={"type": "array", "items": STRING},
                 rows={"type": "array", "items": GGR_ROW}, totals={"type": "object", "additionalProperties": obj(
                     **FIGURES)})
    refusals = documented("ggrReport")
    query = {"from": DATE, "to": DATE, "groupBy": GROUP_BY.optional(), "format": FORMAT}

    async def get(self) -> None:
        p = self.params
        start, end = parse_date(p["from"]), parse_date(p["to"])
        answer = await self.on_report_db(reports.ggr, self.time_zone, start, end,
                                                reports.parse_group_by(p["groupBy"]))
        self.render_report(answer, reports.ggr_csv, f"ggr-{start}-{end}")


class PlayerFundsHandler(ReportHandler):
    summary = ("What the casino owed its players at an instant (default now), per currency: wallets, balance, "
               "cash, bonus; a past instant is reconstructed from the ledger")
    answer = obj(at=TIMESTAMP, rows={"type": "array", "items": FUNDS_ROW})
    refusals = documented("playerFunds")
    query = {"at": INSTANT.optional(), "format": FORMAT}

    async def get(self) -> None:
        at = parse_instant(self.params["at"]) if self.params["at"] else None
        answer = await self.on_report_db(reports.player_funds, at)
        self.render_report(answer, reports.player_funds_csv, "player-funds")


class ProviderInvoiceHandler(ReportHandler):
    summary = ("A provider's month (days in REPORT_TIME_ZONE): GGR per game and in total per currency, its "
               "revenue share and the amount due")
    answer = obj(providerCode=STRING, name=STRING, month=STRING, **{"from": STRING, "to": STRING}, timeZone=STRING,
                 revenueShare=NULLABLE_STRING, currencies={"type": "array", "items": INVOICE_CURRENCY})
    refusals = documented("providerInvoice")
    parameters = {"providerCode": IDENTIFIER}
    query = {"month": MONTH, "format": FORMAT}

    async def get(self, **_: str) -> None:
        month = parse_month(self.params["month"])
        answer = await self.on_report_db(reports.invoice, self.time_zone, self.params["providerCode"], month)
        self.render_report(answer, reports.invoice_csv, f"invoice-{self.params['providerCode']}-{month:%Y-%m}")


class LargeWinsHandler(ReportHandler):
    summary = "Payouts of the days from..to of at least `multiple` times their round's stakes, newest first"
    answer = obj(**{"from": STRING, "to": STRING}, timeZone=STRING, multiple=STRING,
                 items={"type": "array", "items": LARGE_WIN}, nextCursor=NULLABLE_STRING)
    refusals = documented("largeWins")
    query = {"from": DATE, "to": DATE, "multiple": MULTIPLE, "limit": page_size(MAX_PAGE).optional(),
             "cursor": CURSOR.optional(), "format": FORMAT}

    async def get(self) -> None:
        p = self.params
        start, end = parse_date(p["from"]), parse_date(p["to"])
        answer = await self.on_report_db(reports.large_wins, self.time_zone, start, end, p["multiple"],
                                                p["limit"], p["cursor"])
        self.render_report(answer, reports.large_wins_csv, f"large-wins-{start}-{end}")


class ProviderRevenueShareHandler(AdminHandler):
    writes_on = ("provider", "providerCode")
    operator_scope = "admin"
    summary = "Sets the provider's revenue share: the percentage of each month's GGR its invoice says is due"
    answer = PROVIDER
    refusals = documented("setProviderRevenueShare")
    parameters = {"providerCode": IDENTIFIER}
    schema = {"revenueShare": REVENUE_SHARE}

    async def post(self, **_: str) -> None:
        self.render_answer(await self.db.transaction(catalogue.set_provider_revenue_share, self.operator.key_id,
                                                     self.params["providerCode"], self.body))


class CreateReconciliationHandler(AdminHandler):
    writes_on = ("provider", "providerCode")
    operator_scope = "admin"
    summary = ("Compares the provider's round feed with the ledger over the days from..to (to included, at most "
               f"{reconciliation.MAX_RECONCILIATION_DAYS}), round by round, and stores the result")
    status = 201
    answer = RECONCILIATION_WITH_DIFFERENCES
    refusals = documented("createReconciliation")
    schema = {"providerCode": IDENTIFIER, "from": DATE, "to": DATE}

    async def post(self) -> None:
        b = self.body
        self.render_answer(await reconciliation.reconcile(
            self.db, self.provider_link, self.settings["casino_code"], self.settings["report_time_zone"],
            b["providerCode"], parse_date(b["from"]), parse_date(b["to"]), self.operator.key_id,
            operator=self.operator.key_id, bounds=self.settings["feed_bounds"]))


class ReconciliationHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "A stored reconciliation, its totals, and its differences a page at a time"
    answer = RECONCILIATION_WITH_DIFFERENCES
    refusals = documented("getReconciliation")
    parameters = {"reconciliationId": ENTITY_ID}
    query = {"limit": page_size(reconciliation.MAX_DIFFERENCES).optional(), "cursor": CURSOR.optional()}

    async def get(self, **_: str) -> None:
        p = self.params
        self.render_answer(await self.read_db.transaction(reconciliation.get, p["reconciliationId"], p["limit"],
                                                          p["cursor"]))


class ReconciliationsHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "Stored reconciliations, newest first, a page at a time (one provider's, or all)"
    answer = obj(items={"type": "array", "items": RECONCILIATION}, nextCursor=NULLABLE_STRING)
    refusals = documented("listReconciliations")
    query = {"providerCode": IDENTIFIER.optional(), "limit": page_size(MAX_PAGE).optional(),
             "cursor": CURSOR.optional()}

    async def get(self) -> None:
        p = self.params
        self.render_answer(await self.read_db.transaction(reconciliation.list_reconciliations, p["providerCode"],
                                                          p["limit"], p["cursor"]))


def routes() -> list[tuple[str, type[AdminHandler]]]:
    return [
        (r"/casino/admin/reports/ggr", GgrReportHandler),
        (r"/casino/admin/reports/player-funds", PlayerFundsHandler),
        (r"/casino/admin/reports/providers/{providerCode}/invoice", ProviderInvoiceHandler),
        (r"/casino/admin/reports/large-wins", LargeWinsHandler),
        (r"/casino/admin/providers/{providerCode}/revenue-share", ProviderRevenueShareHandler),
        (r"/casino/admin/reconciliations", CreateReconciliationHandler),
        # Before reconciliations/{reconciliationId}, whose pattern would take "list" too.
        (r"/casino/admin/reconciliations/list", ReconciliationsHandler),
        (r"/casino/admin/reconciliations/{reconciliationId}", ReconciliationHandler),
    ]
