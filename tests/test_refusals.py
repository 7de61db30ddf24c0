"""The catalogue of refusals (wire/refusals.py) is the one place a refusal is written: the
SQL functions, the handlers of both systems, the OpenAPI document and the README all agree
with it, and nothing refuses outside it. (Which condition wins for each call:
tests/test_refusal_precedence.py.)"""
import json
import re

from casino import admin, refusals
from casino.handlers import routes
from provider.handlers import routes as provider_routes
from tests.support import ROOT
from wire import refusals as catalogue
from wire.openapi import DOCUMENT_PATH, described
from wire.validation import ERROR_CODE

FUNCTIONS = ROOT / "sql" / "functions"
# An upper-snake string literal in a function file is a refusal code: that is the only
# use the files make of one (the USD of a comment aside).
ANY_CODE = re.compile(r"'([A-Z][A-Z_]{3,})'")
MONEY = ("debit", "credit", "rollback")
RUNTIME = ("casino", "provider", "wire", "service", "db", "sql")


def codes_in(path):
    return set(ANY_CODE.findall(path.read_text()))


def python_sources():
    return [path for package in RUNTIME for path in (ROOT / package).rglob("*.py")]


def test_codes_are_unique():
    assert len(catalogue.BY_CODE) == len(catalogue.CATALOGUE)


def test_every_code_is_one_both_sides_read_as_an_error_code():
    # The casino reads a provider's refusals, and the provider the casino's, with ERROR_CODE:
    # a code it did not match would be taken for no answer at all.
    assert [r.code for r in catalogue.CATALOGUE if not ERROR_CODE.check(r.code)] == []
    assert not ERROR_CODE.check("A" * 65) and not ERROR_CODE.check("lower_case")


def test_the_sql_file_is_generated_from_the_catalogue():
    # Regenerate with: python -m casino.refusals --sql > sql/functions/casino_refusals.sql
    assert (FUNCTIONS / "casino_refusals.sql").read_text() == refusals.sql()


def test_the_readme_tables_are_generated_from_the_catalogue():
    # Regenerate with: python -m casino.refusals --readme (between the markers in README.md)
    assert refusals.readme() in (ROOT / "README.md").read_text()


def test_the_database_holds_the_casinos_part_of_the_catalogue(ledger):
    rows = ledger.query("SELECT code, status, message, stored FROM CASINO_REFUSALS ORDER BY code")
    assert rows == sorted((r.code, r.status, r.message, r.stored) for r in refusals.IN_SQL)


def test_every_code_a_money_function_can_return_is_documented_for_its_call():
    shared = codes_in(FUNCTIONS / "casino_calls.sql")
    assert {"SESSION_NOT_FOUND", "PROVIDER_MISMATCH", "IDEMPOTENCY_CONFLICT", "TRANSACTION_ROLLED_BACK"} <= shared
    for call in MONEY:
        own = codes_in(FUNCTIONS / f"casino_{call}.sql")
        assert own, call
        documented = {code for codes in refusals.documented(call).values() for code in codes}
        assert shared | own <= documented, (call, (shared | own) - documented)


def test_every_code_a_read_or_the_cashier_can_return_is_documented():
    documented = {code for call in ("getBalance", "transactionStatus")
                  for codes in refusals.documented(call).values() for code in codes}
    named = codes_in(FUNCTIONS / "casino_reads.sql")
    assert named and named <= documented, named - documented
    cashier = set(refusals.codes("deposit")) | set(refusals.codes("withdrawal"))
    named = codes_in(FUNCTIONS / "casino_cashier.sql") | {"PLAYER_EXCLUDED", "PLAYER_IDENTITY_MISSING",
                                                          "EXCLUSION_CHECK_UNAVAILABLE", "DEPOSIT_LIMIT_REQUIRED",
                                                          "DEPOSIT_LIMIT_REACHED"}
    assert named <= cashier, named - cashier


def test_no_function_file_spells_a_code_outside_the_catalogue():
    for path in FUNCTIONS.glob("*.sql"):
        spelled = codes_in(path)
        assert spelled <= set(refusals.BY_CODE), (path.name, spelled - set(refusals.BY_CODE))


def test_python_refuses_only_with_catalogued_codes():
    spelled = set()
    for path in python_sources():
        spelled |= set(re.findall(r'(?:\berror|_refusal|BY_CODE\[)\(?"([A-Z_]+)"', path.read_text()))
    assert spelled and spelled <= set(catalogue.BY_CODE), spelled - set(catalogue.BY_CODE)


def test_nothing_builds_a_refusal_by_hand():
    """One way to refuse: every Refused comes from the catalogue (wire/refusals.py builds
    them), and no answer of an error status is an Answer."""
    for path in python_sources():
        if path == ROOT / "wire" / "refusals.py":
            continue
        text = path.read_text()
        assert not re.search(r"\b(Refused|ApiError|HTTPError)\(\s*[0-9]", text), path
        assert not re.search(r"Answer\(\s*4[0-9][0-9]", text), path
        assert not re.search(r'\{"error":\s*\{"code"', text), path


def test_every_code_of_a_call_is_in_the_catalogue_and_every_code_has_a_call():
    answered = {check.code for checks in catalogue.PRECEDENCE.values() for check in checks}
    assert answered <= set(catalogue.BY_CODE), answered - set(catalogue.BY_CODE)
    # What no call's own condition answers: the base handler's outage, bug and router answers.
    assert set(catalogue.BY_CODE) - answered == {"NOT_FOUND", "SERVICE_UNAVAILABLE", "INTERNAL_ERROR"}


def test_a_conditions_name_tells_it_apart_within_its_call():
    for call, checks in catalogue.PRECEDENCE.items():
        names = [check.name for check in checks]
        assert len(set(names)) == len(names), call


def test_a_message_takes_exactly_its_details():
    refused = catalogue.error("INSUFFICIENT_FUNDS", "redeemable", "withdrawal")
    assert (refused.status, refused.json()) == (422, {"error": {
        "code": "INSUFFICIENT_FUNDS", "message": "the redeemable balance does not cover the withdrawal"}})
    for details in ((), ("redeemable",)):
        try:
            catalogue.error("INSUFFICIENT_FUNDS", *details)
        except TypeError as exc:
            assert "takes 2 detail(s)" in str(exc)
        else:
            raise AssertionError(f"{details} filled a message of two details")


def test_the_openapi_document_gives_each_code_its_catalogued_status():
    document = json.loads(DOCUMENT_PATH.read_text())
    for path, handler in routes() + admin.routes() + provider_routes():
        # Each method of the path (a GET and a PUT of a player's limits are two).
        for method, spec in described(handler):
            responses = document["paths"][path][method]["responses"]
            for code in (c for codes in spec.refusals.values() for c in codes):
                status = str(refusals.BY_CODE[code].status)
                schema = responses[status]["content"]["application/json"]["schema"]
                assert code in schema["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"], (path, code)
