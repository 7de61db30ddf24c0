"""The casino's view of the one catalogue of refusals (wire/refusals.py, which the provider
reads too): the codes its SQL functions answer, in the table CASINO_REFUSALS (migration
0008), filled by the repeatable file sql/functions/casino_refusals.sql that this module
generates; and the README's tables of the catalogue and of each call's precedence.

    python -m casino.refusals --sql    > sql/functions/casino_refusals.sql
    python -m casino.refusals --readme   # the README's tables (between its refusals markers)

tests/test_refusals.py fails when a generated copy is stale, when the table differs, or
when a function returns a code that is not in the catalogue.
"""
import sys

from wire.refusals import (
    BY_CODE,
    CASINO,
    CATALOGUE,
    PRECEDENCE,
    README_BEGIN,
    README_END,
    SHARED,
    Refusal,
    Refused,
    codes,
    documented,
    error,
    readme,
)

__all__ = ["BY_CODE", "CATALOGUE", "IN_SQL", "PRECEDENCE", "README_BEGIN", "README_END", "Refusal", "Refused",
           "codes", "documented", "error", "readme", "sql"]

# The codes the casino's SQL functions may answer: its own and those both systems answer.
IN_SQL = SHARED + CASINO


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql() -> str:
    rows = ",\n".join(f"    ({_literal(r.code)}, {r.status}, {_literal(r.message)}, {str(r.stored).lower()})"
                      for r in IN_SQL)
    return f"""-- The catalogue of refusals, generated from wire/refusals.py: do not edit; regenerate with
--     python -m casino.refusals --sql > sql/functions/casino_refusals.sql
-- (a test fails when this file is stale). Repeatable: re-applied whenever it changes.

INSERT INTO CASINO_REFUSALS (code, status, message, stored) VALUES
{rows}
ON CONFLICT (code) DO UPDATE SET status = EXCLUDED.status, message = EXCLUDED.message, stored = EXCLUDED.stored;

DELETE FROM CASINO_REFUSALS WHERE code NOT IN ({", ".join(_literal(r.code) for r in IN_SQL)});
"""


if __name__ == "__main__":
    if sys.argv[1:] == ["--sql"]:
        sys.stdout.write(sql())
    elif sys.argv[1:] == ["--readme"]:
        sys.stdout.write(readme())
    else:
        sys.exit("usage: python -m casino.refusals --sql | --readme")
