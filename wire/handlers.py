"""The base handler every JSON endpoint of both sides stands on.

Order of checks, for every request: method (405) -> size (413) -> credentials: the
signature over the raw bytes, or the operator key and its scope (401/403) -> JSON and
field types (400). Only then does a handler's own code run, so a bad request never
reaches a service, and nothing is parsed before it is authenticated.
"""
import json
import logging
import re
import uuid
from dataclasses import dataclass, field

import tornado.web

from db.pool import DatabaseUnavailable

from . import logs
from .errors import ApiError, error_body
from .transport import MAX_BODY_BYTES, body_too_large
from .validation import parse_body

log = logging.getLogger("wire")

_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,100}")
# Methods whose request carries a JSON body.
BODY_METHODS = ("POST", "PUT")


@dataclass(frozen=True)
class Verb:
    """One method of a path that answers several (GET and PUT of a player's limits): what
    a handler of a one-method path says in its class attributes. `operation_id` names it in
    the OpenAPI document."""
    operation_id: str
    operator_scope: str
    summary: str
    answer: dict
    refusals: dict
    schema: dict = field(default_factory=dict)
    status: int = 200
_GENERIC_CODES = {400: "INVALID_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
                  413: "PAYLOAD_TOO_LARGE"}


class JsonHandler(tornado.web.RequestHandler):
    # Who may call, set by subclasses. A signed endpoint names its header and the
    # application setting holding the key ring that verifies it; the key that did
    # becomes `self.caller`. An operator endpoint names the scope its Bearer key needs;
    # the key becomes `self.operator`. Neither: open (health, metrics, the document).
    signature_header = None
    keyring_setting = None
    operator_scope = None
    # The brief's key-less flow for launchGame/simulateRound, in development mode only.
    open_in_development = False
    schema = None
    # A path answering several methods describes each here, {METHOD: Verb}; its handler
    # then implements each method, and the class attributes above are not used.
    verbs = None

    caller = None
    operator = None

    # The application's dependencies (service/app.py), typed and named, for handlers.
    @property
    def db(self):
        """db.pool.Database: the one door to PostgreSQL."""
        return self.settings["db"]

    @property
    def provider_link(self):
        """casino.provider_link.ProviderLink: the casino's signed calls to providers."""
        return self.settings["provider_link"]

    @property
    def casino_client(self):
        """provider.casino_client.CasinoClient: the provider's signed calls to casinos."""
        return self.settings["casino_client"]

    @property
    def development(self):
        return self.settings["development"]

    async def prepare(self):
        self._begin()
        allowed = allowed_methods(type(self))
        if self.request.method not in allowed:
            raise ApiError(405, "METHOD_NOT_ALLOWED", f"{self.request.path} takes {', '.join(allowed)}")
        raw = self.request.body
        if self.request.method in BODY_METHODS and body_too_large(self.request):
            raise ApiError(413, "PAYLOAD_TOO_LARGE", f"body exceeds {MAX_BODY_BYTES} bytes")
        if self.signature_header is not None:
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

    async def _operator(self, scope):
        """The operator key of this request, checked for the scope."""
        header = self.request.headers.get("Authorization")
        if header is None and self.open_in_development and self.development:
            return None
        operator = await self.settings["operators"].authenticate(header)
        if operator is None:
            raise ApiError(401, "UNAUTHORIZED", "missing, unknown or revoked operator key (Authorization: Bearer)")
        if scope not in operator.scopes:
            raise ApiError(403, "FORBIDDEN", f"this key lacks the scope '{scope}'")
        self._note(operator=operator.key_id)
        return operator

    def _begin(self):
        in_flight = getattr(self.application, "in_flight", None)
        if in_flight is not None:
            in_flight.started()
            self._in_flight = in_flight

    def set_default_headers(self):
        # Tornado calls this again from send_error, after it clears every header: so error
        # answers, those Tornado raises itself (405, 500) included, keep the request id.
        if not hasattr(self, "request_id"):
            # A caller's own id is kept so one request can be followed across both systems.
            supplied = self.request.headers.get("X-Request-Id", "")
            self.request_id = supplied if _REQUEST_ID.fullmatch(supplied) else uuid.uuid4().hex
        self.set_header("X-Request-Id", self.request_id)

    def compute_etag(self):
        return None  # answers to POSTs are not cacheable; the hash would be wasted work

    def on_finish(self):
        in_flight = getattr(self, "_in_flight", None)
        if in_flight is not None:
            in_flight.finished()

    def render_json(self, status, body, replay=False):
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

    def _note(self, **fields):
        if not hasattr(self, "log_fields"):
            self.log_fields = {}
        self.log_fields.update(fields)

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            status, code, message = exc.status_code, exc.code, exc.message
        elif isinstance(exc, DatabaseUnavailable):
            status, code, message = 503, "SERVICE_UNAVAILABLE", "database unavailable, retry later"
        elif status_code in _GENERIC_CODES:
            status, code = status_code, _GENERIC_CODES[status_code]
            message = self._reason
        else:
            status, code = 500, "INTERNAL_ERROR"
            message = f"internal error, request id {self.request_id}"
        self.clear_header("Idempotent-Replay")
        self._note(replay=False, error_code=code)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        if status == 405:
            self.set_header("Allow", ", ".join(allowed_methods(type(self))))
        elif status == 413:
            # The rest of the body is never read, so the connection cannot carry another request.
            self.set_header("Connection", "close")
        logs.log_request(self)
        self.finish(error_body(code, message))

    def log_exception(self, typ, value, tb):
        if isinstance(value, ApiError):
            return  # an ordinary answer, logged by the access log
        if isinstance(value, DatabaseUnavailable):
            log.warning("request %s: database unavailable: %s", self.request_id, value)
            return
        if isinstance(value, tornado.web.HTTPError):
            return
        log.error("request %s: unexpected error on %s", self.request_id, self.request.path,
                  exc_info=(typ, value, tb))


_PARAMETER = re.compile(r"\{(\w+)\}")


def route_pattern(path):
    """The Tornado pattern of a documented path: each {name} one segment, passed to the
    handler as a keyword (percent-decoded)."""
    return _PARAMETER.sub(r"(?P<\1>[^/]+)", path)


_HTTP_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")
_ALLOWED = {}


def allowed_methods(handler_class):
    """The methods a handler class implements, for 405 answers and their Allow header."""
    if handler_class not in _ALLOWED:
        _ALLOWED[handler_class] = [
            method for method in _HTTP_METHODS
            if getattr(handler_class, method.lower()) is not getattr(tornado.web.RequestHandler, method.lower())]
    return _ALLOWED[handler_class]


def _error_code(status, body):
    """The code of a stored refusal being replayed or given, for the access line."""
    if status < 400:
        return None
    try:
        return json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


class NotFoundHandler(JsonHandler):
    """Any path no handler claims: a JSON 404 rather than Tornado's HTML page."""
    routed = False

    def prepare(self):
        self._begin()
        raise ApiError(404, "NOT_FOUND", "no such endpoint")
