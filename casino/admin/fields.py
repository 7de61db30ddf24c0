"""The back office's request fields and rules beyond the ones every side shares
(wire/validation.py): each a Field, whose check and JSON Schema come from one definition,
or a JSON Schema rule a handler's body must meet as well (Verb's `rules`)."""
from wire.validation import DATE_OF_BIRTH, MAX_SAFE_INTEGER, Field, integer, list_of, one_of, pattern, text
from wire.validation import JURISDICTION_CODE as JURISDICTION_CODE  # shared: DEFAULT_JURISDICTION's setting too

from .. import credentials, enabled, operators

STATUS = one_of(*enabled.STATUSES)
BOOLEAN = Field(lambda v: type(v) is bool, "true or false", {"type": "boolean"})
# A provider's code names it in key ids (<code>-<random>) and paths: letters, digits, . _ -
PROVIDER_CODE = pattern(r"[A-Za-z0-9][A-Za-z0-9._-]{0,49}", "1-50 letters, digits, '.', '_' or '-'")
NAME = pattern(r"[\x21-\x7e][\x20-\x7e]{0,99}", "1-100 printable ASCII characters, not starting with a space")
ENDPOINT = pattern(r"https?://[\x21-\x7e]{1,500}", "an http:// or https:// URL")
NULLABLE_ENDPOINT = Field(lambda v: v is None or ENDPOINT.check(v), "an http:// or https:// URL, or null",
                          {"type": "string", "nullable": True, "pattern": ENDPOINT.json_schema["pattern"]})
KEY_ID = pattern(r"[\x21-\x2b\x2d-\x7e]{1,100}", "1-100 printable ASCII characters without whitespace or comma")
SECRET = pattern(r"[\x21-\x7e]{16,200}", "16-200 printable ASCII characters without whitespace")
SIGNER = one_of(*credentials.SIGNERS)
SCOPE_LIST = list_of(*operators.SCOPES)
MAX_WAGERING = 1000
WAGERING = integer(1, MAX_WAGERING, f"an integer from 1 to {MAX_WAGERING}")
# A bonus's amount: small enough that amount × wagering (wageringRequired) is within
# 2^53-1 whatever its wagering, so each field's own bounds say all the document can check
# (a bound on their product would be a 400 to a request the schema calls valid).
MAX_BONUS = MAX_SAFE_INTEGER // MAX_WAGERING
BONUS_AMOUNT = integer(1, MAX_BONUS, f"an integer number of minor units from 1 to {MAX_BONUS}")
# The identity an external self-exclusion register is asked with (README, "Player protection").
IDENTITY = {"firstName": text(100, "a name of 1-100 characters"), "lastName": text(100, "a name of 1-100 characters"),
            "dateOfBirth": DATE_OF_BIRTH, "postcode": text(20, "a postcode of 1-20 characters")}
COOLING_OFF_HOURS = integer(0, 8784, "an integer number of hours from 0 to 8784")
LIMIT_TYPE = one_of("deposit", "loss", "wager")
PERIOD = one_of("day", "week", "month")
EXCLUSION_KIND = one_of("time-out", "self-exclusion")
# What protection.py checks beyond the fields' types (400 INVALID_REQUEST), stated for the
# document: a register's URL comes with its name; a time-out has an end (only a
# self-exclusion may be indefinite).
REGISTER_NAMED = {"anyOf": [{"not": {"required": ["registerUrl"]}},
                            {"properties": {"registerUrl": {"type": "string", "nullable": True, "enum": [None]}}},
                            {"required": ["registerName"], "properties": {"registerName": {"type": "string"}}}]}
TIME_OUT_ENDS = {"anyOf": [{"properties": {"kind": {"enum": ["self-exclusion"]}}},
                           {"required": ["until"], "properties": {"until": {"type": "string"}}}]}
