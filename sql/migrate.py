"""Applies sql/migrations/NNNN_name.sql in order, then the repeatable sql/functions/*.sql.
Demo data is not a migration: whoever wants it loads it after (service/demo_data.py).

    python -m sql.migrate            apply pending migrations and changed function files
    python -m sql.migrate --status   list applied, pending and changed files

Each file runs in its own transaction and is recorded with a checksum of its bytes.
A migration runs once; an applied migration whose bytes changed is refused, since the
database no longer matches what the repository says it is. A function file (CREATE OR
REPLACE ...) is edited in place instead: it runs again, after every migration, whenever
its checksum differs from the one last applied (recorded in schema_functions). A
session-level advisory lock makes concurrent migrators (several servers starting at once)
take turns: the second finds nothing left to do. A database already up to date is read
only, without the lock. Being a session lock, it needs a connection of its own to
PostgreSQL: run migrations directly, never through a transaction pooler (PgBouncer). Without DATABASE_URL the embedded server
is started for the run (see db/config.py).
"""
import argparse
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg2

HERE = Path(__file__).resolve().parent
MIGRATIONS_DIR = HERE / "migrations"
FUNCTIONS_DIR = HERE / "functions"
# Any fixed 64-bit number; this one spells "migrate".
ADVISORY_LOCK_KEY = 0x6D6967726174

_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")
_FUNCTIONS_NAME = re.compile(r"[a-z0-9_]+\.sql")
# How function files are named in logs, --status and migrate()'s result.
FUNCTIONS_PREFIX = "functions/"

CREATE_LEDGER = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        name        TEXT PRIMARY KEY,
        checksum    TEXT NOT NULL,
        applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
    )
"""
APPLIED = "SELECT name, checksum FROM schema_migrations ORDER BY name"
RECORD = "INSERT INTO schema_migrations (name, checksum) VALUES (%s, %s)"

CREATE_FUNCTIONS_LEDGER = """
    CREATE TABLE IF NOT EXISTS schema_functions (
        name        TEXT PRIMARY KEY,
        checksum    TEXT NOT NULL,
        applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
    )
"""
FUNCTIONS_APPLIED = "SELECT name, checksum FROM schema_functions ORDER BY name"
RECORD_FUNCTIONS = """
    INSERT INTO schema_functions (name, checksum) VALUES (%s, %s)
    ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()
"""


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class SqlFile:
    name: str
    path: Path

    @property
    def sql(self):
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self):
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(directory=MIGRATIONS_DIR):
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        if not _NAME.fullmatch(path.name):
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        migrations.append(SqlFile(path.name, path))
    numbers = [m.name[:4] for m in migrations]
    if len(set(numbers)) != len(numbers):
        raise MigrationError("two migration files share a number")
    return migrations


def discover_functions(directory=FUNCTIONS_DIR):
    """The repeatable files, in name order (none when directory is None or missing)."""
    if directory is None:
        return []
    files = []
    for path in sorted(directory.glob("*.sql")):
        if not _FUNCTIONS_NAME.fullmatch(path.name):
            raise MigrationError(f"{path.name}: function files are named name.sql (lower case)")
        files.append(SqlFile(path.name, path))
    return files


def _applied(conn):
    with conn, conn.cursor() as cur:
        cur.execute(CREATE_LEDGER)
        cur.execute(APPLIED)
        return dict(cur.fetchall())


def _functions_applied(conn):
    with conn, conn.cursor() as cur:
        cur.execute(CREATE_FUNCTIONS_LEDGER)
        cur.execute(FUNCTIONS_APPLIED)
        return dict(cur.fetchall())


def _function_state(recorded, sql_file):
    if sql_file.name not in recorded:
        return "pending"
    return "applied" if recorded[sql_file.name] == sql_file.checksum else "changed"


def _verify(applied, migrations):
    known = {m.name: m for m in migrations}
    for name, checksum in applied.items():
        if name not in known:
            raise MigrationError(f"{name} is applied but its file is missing")
        if known[name].checksum != checksum:
            raise MigrationError(
                f"{name} changed after it was applied (checksum {checksum[:12]}… in the "
                f"database, {known[name].checksum[:12]}… on disk); add a new migration instead")


def status(dsn, directory=MIGRATIONS_DIR, functions_dir=FUNCTIONS_DIR):
    """[(name, state)] in the order migrate() applies them: migrations ('applied' |
    'pending'), then function files ('applied' | 'pending' | 'changed', named functions/...)."""
    migrations = discover(directory)
    functions = discover_functions(functions_dir)
    conn = psycopg2.connect(dsn)
    try:
        applied = _applied(conn)
        recorded = _functions_applied(conn)
    finally:
        conn.close()
    _verify(applied, migrations)
    return ([(m.name, "applied" if m.name in applied else "pending") for m in migrations]
            + [(FUNCTIONS_PREFIX + f.name, _function_state(recorded, f)) for f in functions])


def _up_to_date(conn, migrations, functions):
    """True when every migration and function file is applied as it is on disk; read-only
    (no CREATE TABLE IF NOT EXISTS, which two migrators at once could race on)."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL"
                    " AND to_regclass('schema_functions') IS NOT NULL")
        if not cur.fetchone()[0]:
            return False
        cur.execute(APPLIED)
        applied = dict(cur.fetchall())
        cur.execute(FUNCTIONS_APPLIED)
        recorded = dict(cur.fetchall())
    return (applied == {m.name: m.checksum for m in migrations}
            and all(_function_state(recorded, f) == "applied" for f in functions))


def migrate(dsn, directory=MIGRATIONS_DIR, log=print, functions_dir=FUNCTIONS_DIR):
    """Apply every pending migration, then every new or changed function file; return the
    names applied (function files as functions/<name>)."""
    migrations = discover(directory)
    functions = discover_functions(functions_dir)
    conn = psycopg2.connect(dsn)
    try:
        if _up_to_date(conn, migrations, functions):
            # Nothing to do, and no lock taken: a server started through a transaction
            # pooler (PgBouncer) on a database migrated directly never holds a session lock
            # there (its unlock could reach another server connection and leave it held).
            return []
        with conn.cursor() as cur:
            conn.autocommit = True
            cur.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
            conn.autocommit = False
        try:
            # Read under the lock: another migrator may have just finished.
            applied = _applied(conn)
            _verify(applied, migrations)
            done = []
            for migration in migrations:
                if migration.name in applied:
                    continue
                with conn, conn.cursor() as cur:
                    cur.execute(migration.sql)
                    cur.execute(RECORD, (migration.name, migration.checksum))
                log(f"applied {migration.name}")
                done.append(migration.name)
            # After the migrations: functions are written against the schema they leave.
            recorded = _functions_applied(conn)
            for sql_file in functions:
                if _function_state(recorded, sql_file) == "applied":
                    continue
                with conn, conn.cursor() as cur:
                    cur.execute(sql_file.sql)
                    cur.execute(RECORD_FUNCTIONS, (sql_file.name, sql_file.checksum))
                log(f"applied {FUNCTIONS_PREFIX}{sql_file.name}")
                done.append(FUNCTIONS_PREFIX + sql_file.name)
            return done
        finally:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    finally:
        conn.close()


def main(argv=None):
    from db.config import NoDatabase, database_from_environment

    parser = argparse.ArgumentParser(prog="python -m sql.migrate", description=__doc__.split("\n")[0])
    parser.add_argument("--status", action="store_true", help="list applied, pending and changed files")
    parser.add_argument("--data-dir", help="embedded server data directory (without DATABASE_URL)")
    args = parser.parse_args(argv)
    try:
        # --status only looks: on a directory without a database it says so, creating nothing.
        with database_from_environment(args.data_dir, attach="existing" if args.status else None) as database:
            if args.status:
                for name, state in status(database.dsn):
                    print(f"{state:8} {name}")
                return 0
            done = migrate(database.dsn)
            functions = sum(name.startswith(FUNCTIONS_PREFIX) for name in done)
            print(f"{len(done) - functions} migration(s) and {functions} function file(s) applied")
            return 0
    except MigrationError as exc:
        print(f"migration error: {exc}", file=sys.stderr)
        return 1
    except NoDatabase as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
