"""Request bodies as PROTOCOL.md types them; anything else is 400 INVALID_REQUEST.

A schema is a dict of field name -> Field. `parse_body` turns raw bytes into a validated
dict holding only the schema's fields (unknown fields are ignored, as is usual for
JSON APIs that must stay compatible with newer callers). An object with a key given twice,
at any depth, is refused, and so is `null` for any field, optional ones included.
"""
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, NoReturn

from .refusals import invalid

MAX_SAFE_INTEGER = 2**53 - 1
_DIGITS = re.compile(r"[0-9]{1,16}")


@dataclass(frozen=True)
class Field:
    check: Callable[[object], bool]
    expected: str
    json_schema: dict[str, Any]     # the same rule for the OpenAPI document
    required: bool = True

    def optional(self) -> "Field":
        return Field(self.check, self.expected, self.json_schema, required=False)


# A request's (or its parameters') fields by name.
Schema = Mapping[str, Field]


def _matches(text: str) -> Callable[[object], bool]:
    compiled = re.compile(text)
    return lambda v: isinstance(v, str) and compiled.fullmatch(v) is not None


def pattern(regex: str, expected: str) -> Field:
    """A string the regex matches whole: the check and the document's pattern from one text
    (written so that Python and ECMA-262 read it alike)."""
    return Field(_matches(regex), expected, {"type": "string", "pattern": f"^{regex}$"})


def _integer_between(minimum: int, maximum: int) -> Callable[[object], bool]:
    # bool is a subclass of int in Python; the protocol says booleans are invalid.
    return lambda v: type(v) is int and minimum <= v <= maximum


def integer(minimum: int, maximum: int, expected: str) -> Field:
    """An integer from minimum to maximum (a JSON number with a fraction is refused, 1.0 too)."""
    return Field(_integer_between(minimum, maximum), expected,
                 {"type": "integer", "minimum": minimum, "maximum": maximum})


IDENTIFIER = pattern(r"[\x21-\x7e]{1,100}", "a string of 1-100 printable ASCII characters without whitespace")
CURRENCY = pattern(r"[A-Z]{3}", "an ISO 4217 code of three upper-case letters")
ENTITY_ID = integer(1, MAX_SAFE_INTEGER, f"an integer from 1 to {MAX_SAFE_INTEGER}")
BET_AMOUNT = integer(1, MAX_SAFE_INTEGER, f"an integer number of minor units from 1 to {MAX_SAFE_INTEGER}")
PAYOUT_AMOUNT = integer(0, MAX_SAFE_INTEGER, f"an integer number of minor units from 0 to {MAX_SAFE_INTEGER}")
USERNAME = IDENTIFIER
EMAIL = pattern(r"[\x21-\x3f\x41-\x7e]{1,64}@[\x21-\x3f\x41-\x7e]{1,189}",
                "an e-mail address (local@domain, printable ASCII, at most 254 characters)")
LABEL = pattern(r"[\x20-\x7e]{0,100}", "a string of at most 100 printable ASCII characters")
# A jurisdiction's code: the back office's field and path, and DEFAULT_JURISDICTION's setting.
JURISDICTION_CODE = pattern(r"[A-Z][A-Z0-9-]{1,15}",
                            "a jurisdiction code: 2-16 upper-case letters, digits or '-' (GB, SE, ON, DE, DEFAULT)")
# An error body's code (PROTOCOL: UPPER_SNAKE), as each side reads the other's refusals:
# bounded, so a counterpart's answer cannot hand over a megabyte "code" to store; every
# code of wire/refusals.py's catalogue is one (tests/test_refusals.py).
ERROR_CODE = pattern(r"[A-Z][A-Z0-9_]{0,63}", "an UPPER_SNAKE error code of 1-64 characters")


def nullable(field: Field) -> Field:
    """The field, or null where the protocol gives null a meaning (a limit's `amount: null`
    removes it). Such a field is still required unless made optional."""
    schema = {**field.json_schema, "nullable": True}
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    return Field(lambda v: v is None or field.check(v), f"{field.expected}, or null", schema, field.required)


# --- dates and instants ---------------------------------------------------------------------
# Each is checked by its pattern alone, which the document gives too: a real day of its years
# (each month's own days; 29 February of leap years only) and, for an instant, a real time of
# day and an offset of at most 14:59 (the widest any zone uses, and within what PostgreSQL
# reads). tests/test_openapi.py holds each pattern against the calendar.

# Years a report, the round feed or an exclusion may name: far enough either way for any
# ledger, near enough that a day or an hour either side of one is still a date (year 1 minus
# an hour is not).
FIRST_YEAR, LAST_YEAR = 1970, 9998
_YEARS = r"(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
# The days of each month, 29 February aside.
_MONTH_DAY = (r"((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
              r"|02-(0[1-9]|1[0-9]|2[0-8]))")
# A leap year of four digits: divisible by 4, and not by 100 unless by 400.
_LEAP_YEAR = r"([0-9]{2}(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)"
_TIME = r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-](0[0-9]|1[0-4]):[0-5][0-9])"


def _date_text(years: str) -> str:
    """YYYY-MM-DD of a real day of `years` (a pattern of four digits); the lookahead keeps a
    29 February within them."""
    return f"({years}-{_MONTH_DAY}|(?={years}-){_LEAP_YEAR}-02-29)"


def parse_date(text: str) -> date:
    return date.fromisoformat(text)


def parse_month(text: str) -> date:
    """The month's first day."""
    return date.fromisoformat(text + "-01")


def parse_instant(text: str) -> datetime:
    """An RFC 3339 instant with its offset (Z or ±hh:mm), as an aware datetime."""
    return datetime.fromisoformat(text)


_DATE_TEXT = _date_text(_YEARS)
_MONTH_TEXT = f"{_YEARS}-(0[1-9]|1[0-2])"
_INSTANT_TEXT = f"{_DATE_TEXT}{_TIME}"

DATE = Field(_matches(_DATE_TEXT), f"a date YYYY-MM-DD of the years {FIRST_YEAR} to {LAST_YEAR}",
             {"type": "string", "format": "date", "pattern": f"^{_DATE_TEXT}$"})
MONTH = Field(_matches(_MONTH_TEXT), f"a month YYYY-MM of the years {FIRST_YEAR} to {LAST_YEAR}",
              {"type": "string", "pattern": f"^{_MONTH_TEXT}$"})
INSTANT = Field(_matches(_INSTANT_TEXT),
                f"an RFC 3339 instant with its offset of at most 14:59 (2026-11-30T12:00:00Z, "
                f"2026-11-30T13:00:00+01:00) of the years {FIRST_YEAR} to {LAST_YEAR}",
                {"type": "string", "format": "date-time", "pattern": f"^{_INSTANT_TEXT}$"})

# A date of birth: a real day from FIRST_BIRTH to today, where today is the latest date on
# Earth (UTC+14), so no one born today is refused wherever they were born. The pattern says
# all but "not in the future", which no pattern can: the document says it in words.
FIRST_BIRTH = date(1900, 1, 1)
_BIRTH_TEXT = _date_text(r"(19[0-9]{2}|[2-9][0-9]{3})")
_UTC_PLUS_14 = timezone(timedelta(hours=14))


def latest_today() -> date:
    """The latest date anywhere on Earth."""
    return datetime.now(_UTC_PLUS_14).date()


def date_of_birth(today: Callable[[], date] = latest_today) -> Field:
    """A DATE_OF_BIRTH on the clock `today` (a test's)."""
    real_day = _matches(_BIRTH_TEXT)
    return Field(lambda v: real_day(v) and date.fromisoformat(str(v)) <= today(),
                 f"a date of birth YYYY-MM-DD from {FIRST_BIRTH} to today",
                 {"type": "string", "format": "date", "pattern": f"^{_BIRTH_TEXT}$",
                  "description": f"A real day from {FIRST_BIRTH} to today, never in the future (today: the "
                                 "date at UTC+14, the first place a day begins)"})


DATE_OF_BIRTH = date_of_birth()

# A calendar duration in ISO 8601 (P6M, P1D, P6W, P1Y6M, PT12H): years, months, weeks, days
# and hours, each up to four digits, not all zero.
_DURATION_TEXT = r"P(?=[0-9]|T[0-9])(?=.*[1-9])([0-9]{1,4}Y)?([0-9]{1,4}M)?([0-9]{1,4}W)?([0-9]{1,4}D)?(T[0-9]{1,4}H)?"
_DURATION = re.compile(_DURATION_TEXT)
DURATION = pattern(_DURATION_TEXT,
                   "an ISO 8601 duration of years, months, weeks, days or hours (P6M, P1D, PT12H), not zero")


def duration_hours(text: str) -> int:
    """A DURATION's length in hours as PostgreSQL compares intervals (a month is 30 days, a
    year 12 months), so a pair can be checked before it is written."""
    match = _DURATION.fullmatch(text)
    assert match is not None, text   # a DURATION, checked before
    years, months, weeks, days, hours = (int(g.strip("TYMWDH")) if g else 0 for g in match.groups())
    return ((years * 12 + months) * 30 + weeks * 7 + days) * 24 + hours


# Text's characters, spelled so Python, ECMA-262 (the document's patterns) and Rust (the
# fuzzer's validator) read them alike: the control characters, and what Python calls space.
_CONTROL = r"\x00-\x1f\x7f"
_SPACE = r"\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# A lone surrogate: JSON can carry one, UTF-8 cannot (the document's strings are UTF-8 already).
_SURROGATE = r"\ud800-\udfff"


def _text_pattern(surrogates: str = "") -> str:
    edge, inside = f"[^{_CONTROL}{_SPACE}{surrogates}]", f"[^{_CONTROL}{surrogates}]"
    return f"{edge}(?:{inside}*{edge})?"


def text(maximum: int, expected: str) -> Field:
    """Printable text of 1..maximum characters (any script), not starting or ending with a space.
    No control characters, and no lone surrogate."""
    compiled = re.compile(_text_pattern(_SURROGATE))
    return Field(lambda v: isinstance(v, str) and len(v) <= maximum and compiled.fullmatch(v) is not None,
                 expected, {"type": "string", "minLength": 1, "maxLength": maximum, "pattern": f"^{_text_pattern()}$"})


def list_of(*values: str) -> Field:
    """A non-empty list of at most len(values) items, each one of values."""
    return Field(lambda v: type(v) is list and 1 <= len(v) <= len(values)
                 and all(isinstance(item, str) and item in values for item in v),
                 f"a list of 1-{len(values)} of " + ", ".join(values),
                 {"type": "array", "items": {"enum": list(values)}, "minItems": 1, "maxItems": len(values)})


def array_of(item: Field, max_items: int) -> Field:
    """A list of at most max_items values, each valid as item (an empty list is allowed)."""
    return Field(lambda v: type(v) is list and len(v) <= max_items and all(item.check(i) for i in v),
                 f"a list of at most {max_items} items, each {item.expected}",
                 {"type": "array", "items": dict(item.json_schema), "maxItems": max_items})


def one_of(*values: str) -> Field:
    return Field(lambda v: v in values and isinstance(v, str), "one of " + ", ".join(values),
                 {"type": "string", "enum": list(values)})


def page_size(maximum: int) -> Field:
    return integer(1, maximum, f"an integer from 1 to {maximum}")


CURSOR = pattern(r"[0-9]{1,18}", "a cursor given as nextCursor")


def parse_params(raw: Mapping[str, str | None], schema: Schema) -> dict[str, Any]:
    """Path or query parameters (strings) by a schema of Fields; integers are read from
    their decimal digits. Anything else is 400 INVALID_REQUEST."""
    values: dict[str, Any] = {}
    for name, field in schema.items():
        value: str | int | None = raw.get(name)
        if value is None:
            if field.required:
                raise invalid(f"parameter '{name}' is required")
            values[name] = None
            continue
        if field.json_schema.get("type") == "integer" and isinstance(value, str) and _DIGITS.fullmatch(value):
            value = int(value)
        if not field.check(value):
            raise invalid(f"parameter '{name}' must be {field.expected}")
        values[name] = value
    return values


def object_schema(schema: Schema) -> dict[str, Any]:
    """A request schema (name -> Field) as a JSON Schema object (OpenAPI 3.0's dialect:
    no empty `required`)."""
    required = [name for name, field in schema.items() if field.required]
    return {"type": "object",
            "properties": {name: dict(field.json_schema) for name, field in schema.items()},
            **({"required": required} if required else {})}


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Every parser must read a signed body one way; with a key given twice, parsers
    # disagree (first wins, last wins, error), so such a body means nothing.
    body = dict(pairs)
    if len(body) != len(pairs):
        raise _DuplicateKey("a key appears twice in one object")
    return body


def parse_body(raw: bytes, schema: Schema) -> dict[str, Any]:
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant,
                          object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise invalid(f"body is not valid: {exc}") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise invalid("body is not valid UTF-8 JSON") from None
    if not isinstance(body, dict):
        raise invalid("body must be a JSON object")
    values: dict[str, Any] = {}
    for name, field in schema.items():
        # null is a value of the wrong type, not an absent field: a caller that sends it
        # asked for something, and guessing what would be worse than refusing.
        if name not in body:
            if field.required:
                raise invalid(f"field '{name}' is required")
            values[name] = None
            continue
        if not field.check(body[name]):
            raise invalid(f"field '{name}' must be {field.expected}")
        values[name] = body[name]
    return values

