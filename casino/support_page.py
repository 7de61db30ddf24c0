"""The support page (/support/*): the back office's read-only views in a browser, for
support staff answering "where did my money go?". Tornado templates (casino/templates/),
no build step, no JavaScript.

Sign-in: an operator key with the scope `backoffice`, posted once in a form (with
Tornado's XSRF token) and kept in a cookie `HttpOnly`, `SameSite=Strict`, `Path=/support`,
and `Secure` when SUPPORT_COOKIE_SECURE says so (the default outside development mode:
behind a proxy that ends TLS the request reaches us as plain http, and the cookie must be
Secure all the same) or the request came over https. A browser does not send a Secure
cookie back over plain http, so development mode, on loopback http, leaves the flag off. The cookie holds the key itself, checked like a Bearer header on every request, so
a revoked key stops working within KEY_REFRESH_SECONDS and every worker process accepts
it without a shared cookie secret. The key is never in a URL.

Every view is one call (or a few) of casino/backoffice.py, casino/bonuses.py or
casino/protection.py, the functions the JSON API uses; the lookups it has no API call for
(a player by username or e-mail, a transaction by id, a player's last refusals and register
checks) are here, as read-only queries. The reports view calls casino/reports.py and
casino/reconciliation.py, as the report endpoints do, and draws the daily GGR per provider
as inline SVG (casino/ggr_chart.py). Amounts are shown in major units of their currency
(casino/currencies.py). Output is escaped by the templates (autoescape).
"""
import base64
import binascii
import json
import re
from collections import ChainMap
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import tornado.web

from wire.handlers import JsonHandler
from wire.refusals import Refused, invalid
from wire.validation import CURRENCY, CURSOR, DATE, ENTITY_ID, IDENTIFIER, parse_date, parse_params

from . import backoffice, bonuses, ggr_chart, protection, reconciliation, reports
from .currencies import grouped
from .wallet import Answer

TEMPLATES = Path(__file__).parent / "templates"
COOKIE = "support_key"
SCOPE = "backoffice"
PATH = "/support"

# Exact matches only: username and e-mail are unique columns, so each is one index probe.
FIND_PLAYERS = f"""
    SELECT {backoffice.PLAYER_COLUMNS} FROM CASINO_USERS
    WHERE id = %(id)s OR username = %(text)s OR email = %(text)s
    ORDER BY id LIMIT 20
"""

# A transactionId is unique per provider (the casino's own rows -- deposits, withdrawals,
# bonus grants and a bonus's completion and forfeits -- have none): one probe of the (provider_id, external_transaction_id) index per provider.
_ROW = """t.id, t.external_transaction_id, {code}, t.transaction_type, t.outcome, t.amount,
          t.playable_movement, t.redeemable_movement, t.bonus_id, t.balance_after, t.round_id, w.currency_code,
          t.created_at, w.user_id, t.related_external_transaction_id, t.response_status, {answer},
          casino_limits_checked_json(t.limits_checked)::text"""
FIND_TRANSACTION = f"""
    SELECT {_ROW.format(code="p.code", answer=backoffice.ANSWER)}
    FROM CASINO_GAME_PROVIDERS p
    JOIN CASINO_TRANSACTIONS t ON t.provider_id = p.id AND t.external_transaction_id = %(id)s
    JOIN CASINO_WALLETS w ON w.id = t.wallet_id
    UNION ALL
    SELECT {_ROW.format(code="NULL", answer=backoffice.ANSWER)}
    FROM CASINO_TRANSACTIONS t
    JOIN CASINO_WALLETS w ON w.id = t.wallet_id
    WHERE t.provider_id IS NULL AND t.external_transaction_id = %(id)s
    ORDER BY 1
"""

# A player's last refusals, newest first, with the answer each got (a limit's details in it).
LAST_REFUSALS = f"""
    SELECT t.external_transaction_id, coalesce(p.code, 'casino'), t.transaction_type, t.amount, w.currency_code,
           t.created_at, t.response_status, {backoffice.ANSWER}
    FROM CASINO_WALLETS w
    JOIN CASINO_TRANSACTIONS t ON t.wallet_id = w.id
    LEFT JOIN CASINO_GAME_PROVIDERS p ON p.id = t.provider_id
    WHERE w.user_id = %s AND t.outcome = 'refused'
    ORDER BY t.id DESC LIMIT 20
"""

# What the player's external register said, last first.
LAST_REGISTER_CHECKS = """
    SELECT c.id, c.register_name, c.purpose, c.answer, c.reference, c.error, c.cached_from, c.duration_ms, c.created_at
    FROM CASINO_REGISTER_CHECKS c WHERE c.user_id = %s ORDER BY c.id DESC LIMIT 10
"""

# What the page may be given: the query is an id, a username or an e-mail (printable ASCII).
SEARCH = re.compile(r"[\x21-\x7e]{1,300}")

SECURITY_HEADERS = {
    # No script, no frames, no third party: the page is HTML and one inline style sheet.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def find_players(cur, text):
    """Players whose id, username or e-mail is `text` exactly."""
    cur.execute(FIND_PLAYERS, {"id": int(text) if text.isdigit() and len(text) <= 18 else None, "text": text})
    return [backoffice._player(row) for row in cur.fetchall()]


def find_transaction(cur, transaction_id):
    """Every ledger row answering this transactionId (one per provider that sent it), with
    its answer, as the round view shows them, and the player's limits it was checked against."""
    cur.execute(FIND_TRANSACTION, {"id": transaction_id})
    rows = []
    for row in cur.fetchall():
        user_id, related, status, response, checked = row[backoffice.ITEM_COLUMNS:]
        rows.append({**backoffice._item(row), "userId": user_id, "relatedTransactionId": related,
                     "answer": {"status": status, "body": json.loads(response) if response else None},
                     "limitsChecked": json.loads(checked) if checked else None})
    return rows


def last_refusals(cur, user_id):
    """The player's last refused money calls, each with its answer's code, message and details."""
    cur.execute(LAST_REFUSALS, (user_id,))
    refusals = []
    for transaction_id, provider, kind, amount, currency, created_at, status, body in cur.fetchall():
        error = json.loads(body).get("error", {})
        refusals.append({"transactionId": transaction_id, "provider": provider, "type": kind, "amount": amount,
                         "currency": currency, "createdAt": backoffice.timestamp(created_at), "status": status,
                         "code": error.get("code"), "message": error.get("message"),
                         "details": error.get("details")})
    return refusals


def register_checks(cur, user_id):
    cur.execute(LAST_REGISTER_CHECKS, (user_id,))
    return [{"id": check_id, "register": register, "purpose": purpose, "answer": answer, "reference": reference,
             "error": error, "cachedFrom": cached_from, "durationMs": duration_ms,
             "createdAt": backoffice.timestamp(created_at)}
            for check_id, register, purpose, answer, reference, error, cached_from, duration_ms, created_at
            in cur.fetchall()]


def player_protection(cur, user_id):
    """Everything the protection page shows, in one read transaction: the player, their
    limits, exclusions and the history of both, their last refusals and register checks."""
    player = backoffice.get_player(cur, user_id)
    if isinstance(player, Refused):
        return player
    return Answer(200, {
        "player": player.body, "limits": protection.get_limits(cur, user_id).body,
        "exclusions": protection.exclusions(cur, user_id).body,
        "history": protection.history(cur, user_id, 50).json()["items"],
        "refusals": last_refusals(cur, user_id), "registerChecks": register_checks(cur, user_id)})


def _encode(key):
    return base64.urlsafe_b64encode(key.encode()).decode()


def _decode(value):
    try:
        return base64.urlsafe_b64decode(value.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        return None


class PageHandler(JsonHandler):
    """A support page: HTML, signed in by the cookie, read-only. Inherits from JsonHandler
    only what every request of the process shares (request id, in-flight count, db)."""
    signed_in = True
    operator_key = None

    @property
    def settings(self):
        # The XSRF cookie of these pages, like the key's, is HttpOnly and SameSite=Strict
        # (the JSON API sets no cookie and checks no XSRF token: it takes Bearer keys).
        return ChainMap({"xsrf_cookie_kwargs": {"httponly": True, "samesite": "Strict", "path": PATH,
                                                "secure": self.https}}, self.application.settings)

    @property
    def https(self):
        """Whether the cookies are Secure: always with SUPPORT_COOKIE_SECURE on, else over https."""
        return bool(self.application.settings.get("support_cookie_secure")) or self.request.protocol == "https"

    def get_template_path(self):
        return str(TEMPLATES)

    def get_template_namespace(self):
        return {**super().get_template_namespace(), "money": money, "segment": segment, "pretty": pretty}

    def set_default_headers(self):
        super().set_default_headers()
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    async def prepare(self):
        self._begin()
        if self.request.method == "POST":
            self.check_xsrf_cookie()
        if self.signed_in:
            self.operator = await self._signed_in_operator()
            if self.operator is None:
                self.clear_cookie(COOKIE, path=PATH)
                self.redirect(f"{PATH}/signin", status=303)

    async def _signed_in_operator(self):
        key = _decode(self.get_cookie(COOKIE) or "")
        return await self.authenticate(key) if key else None

    async def authenticate(self, key):
        """The operator of a key with the page's scope, or None."""
        operator = await self.settings["operators"].authenticate(f"Bearer {key}")
        return operator if operator is not None and SCOPE in operator.scopes else None

    def params(self, schema, raw):
        return parse_params({k: v for k, v in raw.items() if v not in (None, "")}, schema)

    def page(self, template, status=200, **values):
        self.set_status(status)
        self.render(template, operator=self.operator, **values)

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, Refused):
            status, message = exc.status, exc.message
        elif isinstance(exc, tornado.web.HTTPError) and status_code < 500:
            status, message = status_code, exc.log_message or self._reason
        else:
            status, message = 500, f"internal error, request id {self.request_id}"
        self.set_status(status)
        self.render("error.html", operator=self.operator, status=status, message=message)

    def compute_etag(self):
        return None


class SignInHandler(PageHandler):
    signed_in = False

    def get(self):
        self.page("signin.html", refused=False)

    async def post(self):
        key = self.get_body_argument("key", "").strip()
        operator = await self.authenticate(key) if SEARCH.fullmatch(key) else None
        if operator is None:
            self.page("signin.html", status=401, refused=True)
            return
        self.set_cookie(COOKIE, _encode(key), path=PATH, httponly=True, samesite="Strict", secure=self.https)
        self.redirect(f"{PATH}/", status=303)


class SignOutHandler(PageHandler):
    signed_in = False

    def post(self):
        self.clear_cookie(COOKIE, path=PATH)
        self.redirect(f"{PATH}/signin", status=303)


class HomeHandler(PageHandler):
    async def get(self):
        text = self.get_query_argument("q", "").strip()
        if not text:
            self.page("home.html", query="", players=None)
            return
        if not SEARCH.fullmatch(text):
            raise invalid("search by an id, a username or an e-mail")
        players = await self.db.transaction(find_players, text)
        if len(players) == 1:
            self.redirect(f"{PATH}/players/{players[0]['userId']}", status=303)
            return
        self.page("home.html", query=text, players=players)


class PlayerPageHandler(PageHandler):
    async def get(self, user_id):
        p = {**self.params({"userId": ENTITY_ID}, {"userId": user_id}),
             **self.params({"currency": CURRENCY.optional(), "cursor": CURSOR.optional()},
                           {name: self.get_query_argument(name, None) for name in ("currency", "cursor")})}
        player = await self.db.transaction(backoffice.get_player, p["userId"])
        if isinstance(player, Refused):
            raise player
        page = await self.db.transaction(backoffice.transactions, p["userId"], p["currency"], None, p["cursor"])
        granted = await self.db.transaction(bonuses.list_bonuses, p["userId"], p["currency"])
        self.page("player.html", player=player.body, items=page.body["items"], next_cursor=page.body["nextCursor"],
                  currency=p["currency"], cursor=p["cursor"], bonuses=granted.body["items"],
                  more_bonuses=granted.body["nextCursor"] is not None)


class ProtectionPageHandler(PageHandler):
    async def get(self, user_id):
        p = self.params({"userId": ENTITY_ID}, {"userId": user_id})
        answer = await self.db.transaction(player_protection, p["userId"])
        if isinstance(answer, Refused):
            raise answer
        self.page("protection.html", **answer.body)


class RoundPageHandler(PageHandler):
    async def get(self, provider_code, round_id):
        p = self.params({"providerCode": IDENTIFIER, "roundId": IDENTIFIER},
                        {"providerCode": provider_code, "roundId": round_id})
        answer = await self.db.transaction(backoffice.get_round, p["providerCode"], p["roundId"])
        if isinstance(answer, Refused):
            raise answer
        self.page("round.html", round=answer.body)


class TransactionPageHandler(PageHandler):
    async def get(self):
        p = self.params({"id": IDENTIFIER}, {"id": self.get_query_argument("id", None)})
        rows = await self.db.transaction(find_transaction, p["id"])
        self.page("transaction.html", transaction_id=p["id"], rows=rows)


def _answered(answer):
    """The body of a 200 answer; a refusal becomes the error page."""
    if isinstance(answer, Refused):
        raise answer
    return answer.body


# The reports view's default period: the last two weeks, today included.
DEFAULT_DAYS = 14
# How many reconciliations it lists, and how many differences of each.
RECENT_RECONCILIATIONS, DIFFERENCES_SHOWN = 10, 5


class ReportsPageHandler(PageHandler):
    async def get(self):
        tz = self.settings["report_time_zone"]
        p = self.params({"from": DATE.optional(), "to": DATE.optional()},
                        {name: self.get_query_argument(name, None) for name in ("from", "to")})
        end = parse_date(p["to"]) if p["to"] else datetime.now(ZoneInfo(tz)).date()
        start = parse_date(p["from"]) if p["from"] else end - timedelta(days=DEFAULT_DAYS - 1)
        report_db = self.settings["report_db"]
        ggr = _answered(await report_db.transaction(reports.ggr, tz, start, end, ["day", "provider"]))
        funds = _answered(await report_db.transaction(reports.player_funds, None))
        recent = _answered(await self.settings["read_db"].transaction(
            reconciliation.list_reconciliations, None, RECENT_RECONCILIATIONS, None))["items"]
        differences = {}
        for item in recent:
            if item["differenceCount"]:
                differences[item["reconciliationId"]] = _answered(await self.settings["read_db"].transaction(
                    reconciliation.get, item["reconciliationId"], DIFFERENCES_SHOWN, None))["differences"]
        self.page("reports.html", start=start, end=end, tz=tz, ggr=ggr,
                  charts=ggr_chart.charts(ggr["rows"], start, end), funds=funds, reconciliations=recent,
                  differences=differences)


class ReconciliationPageHandler(PageHandler):
    async def get(self, reconciliation_id):
        p = {**self.params({"reconciliationId": ENTITY_ID}, {"reconciliationId": reconciliation_id}),
             **self.params({"cursor": CURSOR.optional()}, {"cursor": self.get_query_argument("cursor", None)})}
        found = _answered(await self.settings["read_db"].transaction(
            reconciliation.get, p["reconciliationId"], reconciliation.DEFAULT_DIFFERENCES, p["cursor"]))
        self.page("reconciliation.html", r=found, cursor=p["cursor"])


def pretty(body):
    """An answer's body as the page shows it (escaped by the template, like everything)."""
    return json.dumps(body, indent=2, sort_keys=True)


def money(amount, currency):
    """Minor units as major units of the currency (JPY 0 decimals, KWD 3), grouped by
    thousands; blank for none."""
    return "" if amount is None else grouped(amount, currency)


def segment(value):
    """One path segment of a link (a round id may hold '/' or '?')."""
    return quote(value, safe="")


def routes():
    """(Tornado pattern, handler) pairs: HTML pages, not part of the JSON API's document."""
    return [
        (rf"{PATH}/?", HomeHandler),
        (rf"{PATH}/signin", SignInHandler),
        (rf"{PATH}/signout", SignOutHandler),
        (rf"{PATH}/players/([^/]+)", PlayerPageHandler),
        (rf"{PATH}/players/([^/]+)/protection", ProtectionPageHandler),
        (rf"{PATH}/rounds/([^/]+)/([^/]+)", RoundPageHandler),
        (rf"{PATH}/transactions", TransactionPageHandler),
        (rf"{PATH}/reports", ReportsPageHandler),
        (rf"{PATH}/reconciliations/([^/]+)", ReconciliationPageHandler),
    ]
