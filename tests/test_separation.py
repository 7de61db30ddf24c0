"""The casino and the provider share no tables: each side's code names only its own."""
import re

from tests.support import ROOT

TABLE = re.compile(r"CREATE TABLE (\w+)", re.IGNORECASE)


def table_names(prefix):
    names = set()
    for path in (ROOT / "sql" / "migrations").glob("*.sql"):
        names |= {n.upper() for n in TABLE.findall(path.read_text()) if n.upper().startswith(prefix)}
    return names


def mentions(package, names):
    found = []
    for path in (ROOT / package).rglob("*.py"):
        text = path.read_text().upper()
        found += [f"{path.relative_to(ROOT)}: {n}" for n in names if re.search(rf"\b{n}\b", text)]
    return found


def test_both_sides_have_tables():
    assert len(table_names("CASINO_")) >= 6 and len(table_names("PROVIDER_")) >= 4


def test_casino_code_never_names_a_provider_table():
    assert mentions("casino", table_names("PROVIDER_")) == []


def test_provider_code_never_names_a_casino_table():
    assert mentions("provider", table_names("CASINO_")) == []
