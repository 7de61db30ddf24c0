"""`python -m loadtests.ledger_cost`: the command of loadtests/postgres/ledger_cost.py, which reaches
PostgreSQL directly and so lives apart from the HTTP tools (loadtests/postgres/__init__.py)."""
import sys

from loadtests.postgres.ledger_cost import main

if __name__ == "__main__":
    sys.exit(main())
