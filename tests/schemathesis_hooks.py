"""What tests/test_fuzz.py's Schemathesis run (the CLI, which loads this module from
SCHEMATHESIS_HOOKS) knows beyond the document: how to authenticate, two checks of the
protocol's own, the rules between two fields no JSON Schema can state (a jurisdiction's
bounds, a date of birth against today), and how to send a path parameter holding a "%".

Credentials: each operation's, as its `security` names them -- the operator key, or a
signature computed over the exact bytes sent (a requests auth, which runs once the body is
serialised). Schemathesis treats them as the run's own, so its `ignored_auth` check strips
them and expects a refusal. The keys come from the environment the test sets:
FUZZ_OPERATOR_KEY, FUZZ_CASINO_SIGNER and FUZZ_PROVIDER_SIGNER ("<key id>:<secret>").
"""
import json
import os
import re
from datetime import date
from urllib.parse import urlsplit

import requests
import schemathesis
from schemathesis.core.failures import Failure

from wire.handlers import route_pattern
from wire.signing import sign_v2
from wire.validation import DURATION, date_of_birth, duration_hours, latest_today

SIGNERS = {"x-casino-signature": "FUZZ_CASINO_SIGNER", "x-provider-signature": "FUZZ_PROVIDER_SIGNER"}


class Credentials(requests.auth.AuthBase):
    def __init__(self, schemes):
        self.schemes = schemes

    def __call__(self, request):
        for scheme in self.schemes:
            if scheme == "operatorKey":
                request.headers["Authorization"] = f"Bearer {os.environ['FUZZ_OPERATOR_KEY']}"
                continue
            kid, _, secret = os.environ[SIGNERS[scheme]].partition(":")
            body = request.body or b""
            body = body.encode() if isinstance(body, str) else body
            request.headers[scheme] = sign_v2(secret.encode(), kid, request.method, urlsplit(request.url).path, body)
        return request


@schemathesis.auth()
class DocumentedCredentials:
    """The credentials an operation's first security requirement names."""

    def get(self, case, ctx):
        requirements = case.operation.definition.raw.get("security", [])
        return Credentials(list(requirements[0])) if requirements and requirements[0] else None

    def set(self, case, data, ctx):
        case._auth = data


# --- checks of the protocol's own ------------------------------------------------------------

# The 5xx PROTOCOL.md prescribes for a healthy casino: a counterpart that failed. Any other
# (500 INTERNAL_ERROR, 503 SERVICE_UNAVAILABLE: the database) is a fault, whatever the
# document says an operation may answer (tests/schemathesis.toml lets these two through
# not_a_server_error, for the operations that call a counterpart).
COUNTERPART_FAILURES = {502: "PROVIDER_UNAVAILABLE", 503: "EXCLUSION_CHECK_UNAVAILABLE"}


@schemathesis.check
def only_a_counterpart_fails(ctx, response, case):
    if response.status_code < 500:
        return None
    code = _code(response)
    if COUNTERPART_FAILURES.get(response.status_code) != code:
        raise Failure(operation=case.operation.label, title="A server error that is not a counterpart's",
                      message=f"{response.status_code} {code}: only {COUNTERPART_FAILURES} may answer a 5xx")
    return None


@schemathesis.check
def documented_operations_are_routed(ctx, response, case):
    """The router's own answers (404 NOT_FOUND, 405 METHOD_NOT_ALLOWED) to a request for a
    documented path and method mean the document lists what this server does not answer.
    A request whose path no longer has the documented shape (a client normalised a `..`
    parameter away) reached another path, and one with another method than the
    document's (Schemathesis tries them) is rightly 405: neither proves anything."""
    if response.status_code not in (404, 405) or case.method.upper() != case.operation.method.upper():
        return None
    sent = urlsplit(response.request.url).path
    if _code(response) in ("NOT_FOUND", "METHOD_NOT_ALLOWED") and re.fullmatch(route_pattern(case.path), sent):
        raise Failure(operation=case.operation.label, title="A documented operation is not routed",
                      message=f"{case.method.upper()} {case.path} is documented, but {sent} answered "
                              f"{response.status_code} {_code(response)}")
    return None


def _code(response):
    try:
        return json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


# --- rules JSON Schema cannot state: between two fields, or against today -----------------------

# A date of birth as its pattern has it, whenever it is.
BIRTH_DAY = date_of_birth(today=lambda: date.max)
IDENTIFIED = ("CreatePlayer", "PlayerIdentity")


@schemathesis.hook
def before_call(ctx, case, kwargs):
    """The two rules the server answers 400 INVALID_REQUEST to although the body is valid by
    its schema, each stated in its operation's words instead: JSON Schema compares a value
    with constants, never with another field (a jurisdiction's timeOutMin past its
    timeOutMax, selfExclusionMin past selfExclusionMax: PutJurisdiction's summary) nor with
    the day of the request (a dateOfBirth after today: the field's description, for
    CreatePlayer and PlayerIdentity). Exactly those bodies are mended, so the run tests the
    rest: the bounds put in order, the birthday moved to 2000 (a leap year, which has every
    day); a body invalid by its schema stays as drawn (its negative cases are the
    document's). Every other refusal of a valid body is a business one, with its code in the
    operation's answers (an unknown timeZone: 422 TIME_ZONE_UNKNOWN)."""
    operation = case.operation.definition.raw.get("operationId")
    if not isinstance(case.body, dict):
        return
    if operation in IDENTIFIED:
        born = case.body.get("dateOfBirth")
        if BIRTH_DAY.check(born) and date.fromisoformat(born) > latest_today():
            case.body = {**case.body, "dateOfBirth": "2000" + born[4:]}
        return
    if operation != "PutJurisdiction":
        return
    body = dict(case.body)
    for low, high in (("timeOutMin", "timeOutMax"), ("selfExclusionMin", "selfExclusionMax")):
        if DURATION.check(body.get(low)) and DURATION.check(body.get(high)):
            # The server compares the ends each gives from every day (a month is 28-31 days):
            # a maximum less than twice its minimum (and two days) may end first, so the pair
            # is made equal then.
            if duration_hours(body[high]) < 2 * duration_hours(body[low]) + 48:
                body[high] = body[low]
    case.body = body


# --- what Schemathesis sends ---------------------------------------------------------------

@schemathesis.hook
def map_path_parameters(ctx, path_parameters):
    """Schemathesis percent-decodes a path parameter before it quotes it, taking a literal
    "%" for an escape: a roundId it drew as "x%8Ee" (printable ASCII, as the document
    allows) went out as "x%EF%BF%BDe" -- "x\\ufffde", which the server rightly refuses. A
    literal "%" is escaped first, so the value arrives as drawn."""
    if not isinstance(path_parameters, dict):
        return path_parameters      # an operation without any
    return {name: value.replace("%", "%25") if isinstance(value, str) else value
            for name, value in path_parameters.items()}
