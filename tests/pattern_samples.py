"""The texts a field's pattern is tried on (tests/test_openapi.py, tests/test_date_of_birth.py):
each generator yields what tells a right reading from a wrong one for its kind of field —
calendar edges, digits of other scripts, stray spaces, near-miss shapes — and the same odd
texts for all. The tests hold each against the server's check and the document's schema."""
from itertools import product

ODD = ("", " ", "2024-01-01 ", "\uff12\uff10\uff12\uff14-01-01", "20240101", "2024-W01-1", "+2024-01-01", "2024-1-01",
       "2024-01-01\n", "2024-01", "2024-01-01T00:00:00Z")
DAYS = ("01-01", "01-31", "02-28", "02-29", "02-30", "03-31", "04-30", "04-31", "11-31", "12-31", "00-01", "13-01",
        "06-00", "06-32")
EDGE_YEARS = (0, 1, 1899, 1900, 1969, 1970, 1999, 2000, 2023, 2024, 2100, 2400, 9996, 9998, 9999)


def dates():
    """Every year with the days that tell a calendar apart, and every day of the years at
    the edges (month 00 to 13, day 00 to 32)."""
    yield from (f"{year:04d}-{day}" for year in range(10_000) for day in DAYS)
    yield from (f"{year:04d}-{month:02d}-{day:02d}" for year in EDGE_YEARS for month in range(14) for day in range(33))
    yield from ODD


def months():
    yield from (f"{year:04d}-{month}" for year in range(10_000) for month in ("00", "01", "02", "12", "13", "1"))
    yield from ODD


def instants():
    for day in ("1969-12-31", "1970-01-01", "2023-02-29", "2024-02-29", "2026-04-31", "9998-12-31", "9999-01-01"):
        for clock in ("00:00:00", "23:59:59", "24:00:00", "23:60:00", "23:59:60", "12:00:00.5", "12:00:00.123456",
                      "12:00:00.1234567", "12:00:00.", "12:00", "1:00:00"):
            for offset in ("Z", "z", "", "+00:00", "-00:00", "+14:59", "-14:59", "+15:00", "-15:00", "+09:60",
                           "+0900", "+09", "+9:00"):
                yield from (f"{day}{t}{clock}{offset}" for t in ("T", "t", " "))
    yield from ODD


def multiples():
    yield from ("0", "00", "0.0", "0.00", "0.01", "0.1", "1", "1.5", "1.55", "1.555", "9999999", "10000000",
                "9999999.99", "0000000.01", "00000001", ".5", "1.", "-1", "+1", "1e3", " 1", "1,5", "\u0661")
    yield from ODD


def groupings():
    words = ("day", "provider", "game", "player", "")
    yield from (",".join(keys) for n in range(4) for keys in product(words, repeat=n))
    yield from ("day,", ",day", "Day", "day provider", "day,,game")
