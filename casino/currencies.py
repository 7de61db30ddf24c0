"""Amounts in major units: how many decimals each currency's minor unit has (ISO 4217's
exponent), and an amount written with them. The ledger and the JSON API keep integers in
minor units; only what people read (CSV reports, the support page) is written in major
units.

ISO 4217 gives most currencies two decimals; the ones it gives another number of are
listed here (its list of current codes, the "Minor unit" column). A code it does not list
-- a test's made-up one -- is written with two.
"""
from decimal import Decimal

DEFAULT_EXPONENT = 2
EXPONENTS = {
    # No minor unit.
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
    "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    # Thousandths.
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # Ten-thousandths (units of account).
    "CLF": 4, "UYW": 4,
}


def exponent(currency: str) -> int:
    return EXPONENTS.get(currency, DEFAULT_EXPONENT)


def major(amount: int, currency: str) -> str:
    """An integer of minor units as a decimal string in major units, with exactly the
    currency's decimals: major(-12345, "USD") == "-123.45", major(1500, "JPY") == "1500",
    major(1500, "KWD") == "1.500". Exact: no float is ever involved."""
    places = exponent(currency)
    return f"{Decimal(amount).scaleb(-places):.{places}f}"


def grouped(amount: int, currency: str) -> str:
    """major(), its whole part grouped by thousands, for a page: "1,234.50"."""
    places = exponent(currency)
    return f"{Decimal(amount).scaleb(-places):,.{places}f}"
