"""The catalogue of refusals (casino/refusals.py) is the one place a refusal is written:
the SQL functions, the handlers, the OpenAPI document and the README all agree with it."""
import json
import re

from casino import refusals
from casino import admin
from casino.handlers import routes
from tests.support import ROOT
from wire.openapi import DOCUMENT_PATH, described

FUNCTIONS = ROOT / "sql" / "functions"
# An upper-snake string literal in a function file is a refusal code: that is the only
# use the files make of one (the USD of a comment aside).
ANY_CODE = re.compile(r"'([A-Z][A-Z_]{3,})'")


def codes_in(path):
    return set(ANY_CODE.findall(path.read_text()))


def test_codes_are_unique():
    assert len({r.code for r in refusals.CATALOGUE}) == len(refusals.CATALOGUE)


def test_the_sql_file_is_generated_from_the_catalogue():
    # Regenerate with: python -m casino.refusals --sql > sql/functions/casino_refusals.sql
    assert (FUNCTIONS / "casino_refusals.sql").read_text() == refusals.sql()


def test_the_readme_table_is_generated_from_the_catalogue():
    # Regenerate with: python -m casino.refusals --readme (between the markers in README.md)
    assert refusals.readme() in (ROOT / "README.md").read_text()


def test_the_database_holds_the_catalogue(ledger):
    rows = ledger.query("SELECT code, status, message, stored FROM CASINO_REFUSALS ORDER BY code")
    assert rows == sorted((r.code, r.status, r.message, r.stored) for r in refusals.CATALOGUE)


def test_every_code_a_money_function_can_return_is_documented_for_its_call():
    shared = codes_in(FUNCTIONS / "casino_calls.sql")
    assert {"SESSION_NOT_FOUND", "PROVIDER_MISMATCH", "IDEMPOTENCY_CONFLICT", "TRANSACTION_ROLLED_BACK"} <= shared
    for call in refusals.MONEY:
        own = codes_in(FUNCTIONS / f"casino_{call}.sql")
        assert own, call
        documented = {code for codes in refusals.documented(call).values() for code in codes}
        assert shared | own <= documented, (call, (shared | own) - documented)


def test_every_code_a_read_function_can_return_is_documented():
    documented = {code for call in ("getBalance", "transactionStatus")
                  for codes in refusals.documented(call).values() for code in codes}
    named = codes_in(FUNCTIONS / "casino_reads.sql")
    assert named and named <= documented, named - documented


def test_no_function_file_spells_a_code_outside_the_catalogue():
    for path in FUNCTIONS.glob("*.sql"):
        spelled = codes_in(path)
        assert spelled <= set(refusals.BY_CODE), (path.name, spelled - set(refusals.BY_CODE))


def test_python_refuses_only_with_catalogued_codes():
    spelled = set()
    for path in (ROOT / "casino").glob("*.py"):
        spelled |= set(re.findall(r'(?:refusals\.error|_refusal)\("([A-Z_]+)"', path.read_text()))
    assert spelled and spelled <= set(refusals.BY_CODE)


def test_the_openapi_document_gives_each_code_its_catalogued_status():
    document = json.loads(DOCUMENT_PATH.read_text())
    for path, handler in routes() + admin.routes():
        # Each method of the path (a GET and a PUT of a player's limits are two).
        for method, spec in described(handler):
            responses = document["paths"][path][method]["responses"]
            for code in (c for codes in spec.refusals.values() for c in codes):
                status = str(refusals.BY_CODE[code].status)
                schema = responses[status]["content"]["application/json"]["schema"]
                assert code in schema["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"], (path, code)
