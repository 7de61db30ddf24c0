"""What a well-formed answer of the casino looks like, per endpoint.

Anything else -- not JSON, not an object, a field missing or mistyped (a balance as a
string or a float), another call's transactionId, a redirect -- says nothing about
whether a money call was applied, so the client treats it like no answer at all: resent,
then left 'unknown' for reconciliation. Only a well-formed answer is ever stored.
"""
import json

from wire.validation import CURRENCY, ENTITY_ID, ERROR_CODE, IDENTIFIER, PAYOUT_AMOUNT



def _is_bool(value):
    return type(value) is bool


def _is_str(value):
    return isinstance(value, str)


def _is_object(value):
    return isinstance(value, dict)


def _is_definitive_status(value):
    return type(value) is int and _definitive_status(value)


def _one_of(*choices):
    return lambda value: value in choices


MONEY_FIELDS = {"transactionId": IDENTIFIER.check, "balance": PAYOUT_AMOUNT.check, "currency": CURRENCY.check}

# endpoint -> field -> check of a 2xx answer's body
SUCCESS = {
    "getBalance": {"userId": ENTITY_ID.check, "balance": PAYOUT_AMOUNT.check, "currency": CURRENCY.check},
    "debit": MONEY_FIELDS,
    "credit": MONEY_FIELDS,
    "rollback": {**MONEY_FIELDS, "tombstone": _is_bool},
    "transactionStatus": {"transactionId": IDENTIFIER.check, "kind": _one_of("debit", "credit", "rollback"),
                          "outcome": _one_of("applied", "refused", "tombstone"), "rolledBack": _is_bool,
                          "status": _is_definitive_status, "response": _is_object, "createdAt": _is_str},
}

# Fields the answer must echo from the request: an answer to another call is no answer.
ECHOED = {"getBalance": "userId", "debit": "transactionId", "credit": "transactionId",
          "rollback": "transactionId", "transactionStatus": "transactionId"}


def parse(raw):
    """The JSON in raw bytes, or None when they are not JSON."""
    try:
        return json.loads(raw, parse_constant=_not_json)
    except (TypeError, ValueError, RecursionError):
        return None


def _not_json(name):
    raise ValueError(f"{name} is not JSON")


def _fields_pass(checks, body):
    return all(name in body and check(body[name]) for name, check in checks.items())


def is_error_body(body):
    error = body.get("error") if isinstance(body, dict) else None
    return (isinstance(error, dict) and isinstance(error.get("code"), str)
            and ERROR_CODE.check(error["code"]) and isinstance(error.get("message"), str))


def well_formed(endpoint, request, status, body):
    """Whether (status, body) is an answer the protocol allows to `request` at `endpoint`."""
    if not _definitive_status(status) or not isinstance(body, dict):
        return False
    if status >= 400:
        return is_error_body(body)
    echoed = ECHOED[endpoint]
    if not _fields_pass(SUCCESS[endpoint], body) or body[echoed] != request.get(echoed):
        return False
    if endpoint == "transactionStatus":
        # The stored answer it reports must itself be one the call could have had.
        return well_formed(body["kind"], {"transactionId": body["transactionId"]}, body["status"],
                           body["response"])
    return True


def _definitive_status(status):
    return 200 <= status < 300 or 400 <= status < 500
