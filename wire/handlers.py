"""The base handler every JSON endpoint of both sides stands on.

Order of checks, for every request: method (405) -> size (413) -> credentials: the
signature over the raw bytes, or the operator key and its scope (401/403) -> JSON and
field types (400). Only then does a handler's own code run, so a bad request never
reaches a service, and nothing is parsed before it is authenticated.
"""
import json
import logging
import re
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

import tornado.web

from . import logs, refusals
from .keyring import Key
from .refusals import Refused
from .transport import MAX_BODY_BYTES, body_too_large, new_request_id
from .validation import Schema, parse_body

log = logging.getLogger("wire")

# A caller's X-Request-Id is kept only in this shape (PROTOCOL.md): safe in a log line, a
# header and a grep, whatever the log format.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Methods whose request carries a JSON body.
BODY_METHODS = ("POST", "PUT")


class Answered(Protocol):
    """What a service answers a handler with: a success (casino.wallet.Answer), or a
    refusal (Refused) -- recorded before it was returned, not raised."""

    @property
    def status(self) -> int: ...

    @property
    def body(self) -> str | dict[str, Any]: ...

    @property
    def replay(self) -> bool: ...


@dataclass(frozen=True)
class Verb:
    """One method of a path that answers several (GET and PUT of a player's limits): what
    a handler of a one-method path says in its class attributes. `operation_id` names it in
    the OpenAPI document."""
    operation_id: str
    operator_scope: str | tuple[str, ...]
    summary: str
    answer: dict[str, Any]
    refusals: dict[int, list[str]]
    schema: Schema = field(default_factory=dict)
    status: int = 200
    # JSON Schema the body must satisfy beyond its fields' types (wire/openapi.py).
    rules: tuple[dict[str, Any], ...] = ()
_GENERIC_CODES = {400: "INVALID_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
                  413: "PAYLOAD_TOO_LARGE"}


class JsonHandler(tornado.web.RequestHandler):
    # Who may call, set by subclasses. A signed endpoint names its header and the
    # application setting holding the key ring that verifies it; the key that did
    # becomes `self.caller`. An operator endpoint names the scope its Bearer key needs, or
    # the scopes it needs all of (needs_scopes); the key becomes `self.operator`. Neither:
    # open (health, metrics, the document).
    signature_header: str | None = None
    keyring_setting: str | None = None
    operator_scope: str | tuple[str, ...] | None = None
    # The brief's key-less flow for launchGame/simulateRound, in development mode only.
    open_in_development = False
    schema: Schema | None = None
    # What the body must also satisfy, as JSON Schema for the document (a rule the fields'
    # types cannot say, which the handler's service checks: wire/openapi.py).
    rules: tuple[dict[str, Any], ...] = ()
    # The calls a success leads to, as OpenAPI links {name: {"operationId", "requestBody"}}:
    # what a client (or a fuzzer) passes on from this answer.
    links: dict[str, dict[str, Any]] = {}
    # A request body the document shows (and a fuzzer sends first).
    example: dict[str, Any] | None = None
    # A path answering several methods describes each here, {METHOD: Verb}; its handler
    # then implements each method, and the class attributes above are not used.
    verbs: dict[str, Verb] | None = None

    # Set by prepare(): on a signed endpoint, the key that signed; on a POST, its body.
    caller: Key
    body: dict[str, Any]
    # The operator key of the request (casino.operators.Operator: wire knows no domain).
    operator: Any = None
    # The route's template (`/casino/admin/players/{userId}`), given by the application for
    # each route; None for a path no route claims. What the metrics label a request with.
    route: str | None = None

    def initialize(self, route: str | None = None) -> None:
        self.route = route

    # The application's dependencies (service/app.py), named for handlers. Typed Any: wire
    # imports neither db nor the domains (pyproject.toml's layers).
    @property
    def db(self) -> Any:
        """db.pool.Database: the one door to PostgreSQL."""
        return self.settings["db"]

    @property
    def provider_link(self) -> Any:
        """casino.provider_link.ProviderLink: the casino's signed calls to providers."""
        return self.settings["provider_link"]

    @property
    def casino_client(self) -> Any:
        """provider.casino_client.CasinoClient: the provider's signed calls to casinos."""
        return self.settings["casino_client"]

    @property
    def development(self) -> bool:
        return bool(self.settings["development"])

    async def prepare(self) -> None:
        self._begin()
        allowed = allowed_methods(type(self))
        if self.request.method not in allowed:
            raise refusals.error("METHOD_NOT_ALLOWED", self.request.path, ", ".join(allowed))
        raw = self.request.body
        if self.request.method in BODY_METHODS and body_too_large(self.request):
            raise refusals.error("PAYLOAD_TOO_LARGE", MAX_BODY_BYTES)
        if self.signature_header is not None:
            assert self.keyring_setting is not None, "a signed endpoint names the key ring that verifies it"
            self.caller = await self.settings[self.keyring_setting].authenticate(
                self.request.method, self.request.path, raw, self.request.headers.get(self.signature_header))
        verb = self.verbs[self.request.method] if self.verbs else self
        if verb.operator_scope is not None:
            self.operator = await self._operator(verb.operator_scope)
        if self.request.method not in BODY_METHODS:
            return
        self.body = parse_body(raw, verb.schema or {})
        if "transactionId" in self.body:
            self._note(transaction_id=self.body["transactionId"])

    async def _operator(self, scope: str | tuple[str, ...]) -> Any:
        """The operator key of this request, checked for every scope the call needs."""
        header = self.request.headers.get("Authorization")
        if header is None and self.open_in_development and self.development:
            return None
        operator = await self.settings["operators"].authenticate(header)
        if operator is None:
            raise refusals.error("UNAUTHORIZED")
        lacking = [needed for needed in needs_scopes(scope) if needed not in operator.scopes]
        if lacking:
            raise refusals.error("FORBIDDEN", "this key lacks the scope " + " and ".join(f"'{s}'" for s in lacking))
        self._note(operator=operator.key_id)
        return operator

    def _begin(self) -> None:
        in_flight = getattr(self.application, "in_flight", None)
        if in_flight is not None:
            in_flight.started()
            self._in_flight = in_flight

    def set_default_headers(self) -> None:
        # Tornado calls this again from send_error, after it clears every header: so error
        # answers, those Tornado raises itself (405, 500) included, keep the request id.
        if not hasattr(self, "request_id"):
            # A caller's own id is kept so one request can be followed across both systems;
            # any other value is replaced, never logged.
            supplied = self.request.headers.get("X-Request-Id", "")
            self.request_id = supplied if _REQUEST_ID.fullmatch(supplied) else new_request_id()
        self.set_header("X-Request-Id", self.request_id)

    def compute_etag(self) -> None:
        return None  # answers to POSTs are not cacheable; the hash would be wasted work

    def on_finish(self) -> None:
        in_flight = getattr(self, "_in_flight", None)
        if in_flight is not None:
            in_flight.finished()

    def render_answer(self, answer: "Answered") -> None:
        """An answer of a service: a success, or a Refused returned rather than raised."""
        self.render_json(answer.status, answer.body, replay=answer.replay)

    def render_json(self, status: int, body: bytes | str | dict[str, Any], replay: bool = False) -> None:
        """body is bytes already serialised (a stored answer is replayed as is) or a dict."""
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body, separators=(",", ":"))
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        if replay:
            self.set_header("Idempotent-Replay", "true")
        self._note(replay=replay, error_code=_error_code(status, body))
        # Logged before the answer leaves: once a caller has its answer, the line exists.
        logs.log_request(self)
        self.finish(body)

    def _note(self, **fields: Any) -> None:
        if not hasattr(self, "log_fields"):
            self.log_fields = {}
        self.log_fields.update(fields)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        refused: Refused
        if isinstance(exc, Refused):
            refused = exc
        elif isinstance(exc, self._unavailable_errors()):
            refused = refusals.error("SERVICE_UNAVAILABLE")
        elif status_code in _GENERIC_CODES:
            # What Tornado raised itself (a malformed query string, a method it does not route).
            refused = refusals.BY_CODE[_GENERIC_CODES[status_code]].worded(self._reason)
        else:
            refused = refusals.error("INTERNAL_ERROR", self.request_id)
        self.clear_header("Idempotent-Replay")
        self._note(replay=False, error_code=refused.code)
        self.set_status(refused.status)
        self.set_header("Content-Type", "application/json")
        if refused.status == 405:
            self.set_header("Allow", ", ".join(allowed_methods(type(self))))
        elif refused.status == 413:
            # The rest of the body is never read, so the connection cannot carry another request.
            self.set_header("Connection", "close")
        logs.log_request(self)
        self.finish(refused.body)

    def _unavailable_errors(self) -> tuple[type[BaseException], ...]:
        """What the application says means "its database is unavailable" (service/app.py
        names db.pool's error): answered 503, logged as a warning without a traceback."""
        errors: tuple[type[BaseException], ...] = self.settings.get("unavailable_errors", ())
        return errors

    def log_exception(self, typ: type[BaseException] | None, value: BaseException | None,
                      tb: TracebackType | None) -> None:
        if isinstance(value, Refused):
            return  # an ordinary answer, logged by the access log
        if isinstance(value, self._unavailable_errors()):
            log.warning("request %s: database unavailable: %s", self.request_id, value)
            return
        if isinstance(value, tornado.web.HTTPError):
            return
        log.error("request %s: unexpected error on %s", self.request_id, self.request.path,
                  exc_info=value)


def needs_scopes(operator_scope: str | tuple[str, ...]) -> tuple[str, ...]:
    """Every scope a call's key must hold: its operator_scope, one or several (the one place
    that says it: the check above and the OpenAPI document read it)."""
    return (operator_scope,) if isinstance(operator_scope, str) else tuple(operator_scope)


_PARAMETER = re.compile(r"\{(\w+)\}")


def route_pattern(path: str) -> str:
    """The Tornado pattern of a documented path: each {name} one segment, passed to the
    handler as a keyword (percent-decoded)."""
    return _PARAMETER.sub(r"(?P<\1>[^/]+)", path)


_HTTP_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")
_ALLOWED: dict[type[tornado.web.RequestHandler], list[str]] = {}


def allowed_methods(handler_class: type[tornado.web.RequestHandler]) -> list[str]:
    """The methods a handler class implements, for 405 answers and their Allow header."""
    if handler_class not in _ALLOWED:
        _ALLOWED[handler_class] = [
            method for method in _HTTP_METHODS
            if getattr(handler_class, method.lower()) is not getattr(tornado.web.RequestHandler, method.lower())]
    return _ALLOWED[handler_class]


def _error_code(status: int, body: bytes | str) -> str | None:
    """The code of a stored refusal being replayed or given, for the access line."""
    if status < 400:
        return None
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


class NotFoundHandler(JsonHandler):
    """Any path no handler claims: a JSON 404 rather than Tornado's HTML page."""

    async def prepare(self) -> None:
        self._begin()
        raise refusals.error("NOT_FOUND")
