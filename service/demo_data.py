"""Both systems' demo data, loaded by whoever asks for it once the schema is migrated: the
server at start (unless --no-demo-data), and

    python -m service.demo_data [--data-dir DIR]    # migrate, then load the demo data

First sql/demo.sql (what must exist before the first key: the JAQPOT provider at the
casino, its games at the provider, the demo casino at the provider), then the players,
made and funded with the back office's own verbs (casino/demo_players.py). Idempotent: a
restart keeps every balance. The migrator itself loads no data (it imports no domain).
"""
import argparse
import os
import sys
from pathlib import Path

import psycopg2

from casino.demo_players import seed
from db.config import database_from_environment, exit_code
from sql.migrate import ADVISORY_LOCK_KEY, FUNCTIONS_PREFIX, MigrationError, migrate
from wire.secrets_env import DEV_SECRETS

DEMO_FILE = Path(__file__).resolve().parent.parent / "sql" / "demo.sql"


def load_demo_data(dsn, v1=False):
    """sql/demo.sql and the demo players, in one transaction. v1: whether the demo pair of
    counterparts accepts v1 signatures (development mode only: sql/demo.sql binds it)."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            # The migrator's lock, held for this transaction only: a migration under way
            # finishes first, and two servers starting at once load the data in turn.
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
            cur.execute(DEMO_FILE.read_text(encoding="utf-8"), {"v1": v1})
            seed(cur)
    finally:
        conn.close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m service.demo_data", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="embedded server data directory (without DATABASE_URL)")
    args = parser.parse_args(argv)

    def run():
        with database_from_environment(args.data_dir) as database:
            done = migrate(database.dsn)
            # The demo pair keeps v1 in development mode only, as the server loads it.
            load_demo_data(database.dsn, v1=not all(os.environ.get(name) for name in DEV_SECRETS))
        functions = sum(name.startswith(FUNCTIONS_PREFIX) for name in done)
        print(f"{len(done) - functions} migration(s) and {functions} function file(s) applied, demo data loaded")
    return exit_code("demo_data", run, (MigrationError,))


if __name__ == "__main__":
    sys.exit(main())
