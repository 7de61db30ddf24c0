"""`python -m loadtests.reports`: the command of loadtests/postgres/reports.py, which reaches
PostgreSQL directly and so lives apart from the HTTP tools (loadtests/postgres/__init__.py)."""
import sys

from loadtests.postgres.reports import main

if __name__ == "__main__":
    sys.exit(main())
