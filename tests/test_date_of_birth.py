"""A player's dateOfBirth (POST /casino/admin/players, POST /casino/admin/players/{userId}/identity):
a real day from 1900-01-01 to today, never in the future. "Today" is the latest date on
Earth (UTC+14), so no one born today is refused wherever they were born. The document
gives the pattern of every real day from 1900 on and says "not in the future" in words.

The rule is checked on a clock the test sets (wire.validation.date_of_birth), and over HTTP
at its ends that no clock moves: 1900-01-01 and the day before, a day before 1970 (the
reports' first year, which this field once shared), today in UTC, and two days past today
anywhere.
"""
import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta

import jsonschema_rs
import pytest

from tests.pattern_samples import dates
from tests.support import back_office, error_code
from wire.openapi import DOCUMENT_PATH
from wire.validation import DATE_OF_BIRTH, date_of_birth, latest_today

TODAY = date(2026, 3, 1)
BORN = date_of_birth(today=lambda: TODAY)


@pytest.mark.parametrize("text, accepted", [
    ("1900-01-01", True), ("1899-12-31", False),                         # the first day
    ("2026-03-01", True), ("2026-03-02", False), ("2027-01-01", False),  # today, and after it
    ("1950-06-15", True), ("1969-12-31", True),                          # before the reports' first year
    ("2024-02-29", True), ("1904-02-29", True), ("1900-02-29", False), ("2023-02-29", False),
    ("1990-04-31", False), ("1990-13-01", False), ("1990-00-10", False), ("19900101", False), ("1990-1-01", False),
    ("", False), (None, False), (19900101, False)])
def test_a_date_of_birth_is_a_real_day_from_1900_to_today(text, accepted):
    assert BORN.check(text) is accepted


def test_today_is_the_clocks_and_tomorrow_comes_with_it():
    clock = [TODAY]
    born = date_of_birth(today=lambda: clock[0])
    assert not born.check("2026-03-02")
    clock[0] += timedelta(days=1)
    assert born.check("2026-03-02") and not born.check("2026-03-03")


def real_day_from_1900(text):
    try:
        return re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text) is not None and date.fromisoformat(text).year >= 1900
    except ValueError:
        return False


def test_the_documents_pattern_is_every_real_day_from_1900():
    """The pattern says all but "not in the future" (no pattern can): each real day of the
    years 1900 to 9999, read alike by the document's reader (Rust's regex) and the server
    (on a clock far ahead); the document says the rest in words."""
    document = jsonschema_rs.validator_for({"type": "string", "pattern": DATE_OF_BIRTH.json_schema["pattern"]})
    whenever = date_of_birth(today=lambda: date.max)
    for text in dates():
        real = real_day_from_1900(text)
        assert (document.is_valid(text), whenever.check(text)) == (real, real), text
    documented = json.loads(DOCUMENT_PATH.read_text())
    for path in ("/casino/admin/players", "/casino/admin/players/{userId}/identity"):
        field = documented["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"][
            "properties"]["dateOfBirth"]
        assert field == DATE_OF_BIRTH.json_schema and "never in the future" in field["description"]


IDENTITY = {"firstName": "Ada", "lastName": "Born", "postcode": "SW1A 1AA"}


def create(api, **identity):
    name = f"dob-{uuid.uuid4().hex[:10]}"
    return back_office(api, "POST", "players", {"username": name, "email": f"{name}@example.com", **identity})


def identify(api, user_id, day):
    return back_office(api, "POST", f"players/{user_id}/identity", {**IDENTITY, "dateOfBirth": day})


def born(ledger, user_id):
    return ledger.query("SELECT date_of_birth FROM CASINO_USERS WHERE id = %s", user_id)[0][0]


def test_the_server_takes_a_birth_from_1900_to_today(api, ledger):
    """Today in UTC is never past the latest date on Earth, however late the server reads it."""
    user_id = create(api).json()["userId"]
    for day in ("1900-01-01", "1950-06-15", "1969-12-31", datetime.now(UTC).date().isoformat()):
        created = create(api, **IDENTITY, dateOfBirth=day)
        assert created.status_code == 201, (day, created.text)
        assert born(ledger, created.json()["userId"]) == date.fromisoformat(day)
        changed = identify(api, user_id, day)
        assert changed.status_code == 200, (day, changed.text)
        assert born(ledger, user_id) == date.fromisoformat(day)


def test_the_server_refuses_a_birth_before_1900_or_in_the_future(api, ledger):
    """Two days past the latest date on Earth: the future still, however late the server reads it."""
    user_id = create(api, **IDENTITY, dateOfBirth="1980-05-05").json()["userId"]
    for day in ("1899-12-31", (latest_today() + timedelta(days=2)).isoformat()):
        for answer in (create(api, **IDENTITY, dateOfBirth=day), identify(api, user_id, day)):
            assert (answer.status_code, error_code(answer)) == (400, "INVALID_REQUEST"), (day, answer.text)
            assert answer.json()["error"]["message"] == \
                "field 'dateOfBirth' must be a date of birth YYYY-MM-DD from 1900-01-01 to today"
    assert born(ledger, user_id) == date(1980, 5, 5)
