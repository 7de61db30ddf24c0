"""Applies sql/migrations/NNNN_name.sql in order, then the repeatable sql/functions/*.sql.
Demo data is not a migration: whoever wants it loads it after (service/demo_data.py).

    python -m sql.migrate            apply pending migrations and changed function files
    python -m sql.migrate --status   list applied, pending and changed files
    python -m sql.migrate --manifest the MANIFEST line of each migration that has none

Each file runs in its own transaction and is recorded with a checksum of its bytes.
A migration runs once; an applied migration whose bytes changed is refused, since the
database no longer matches what the repository says it is -- unless sql/migrations/MANIFEST
names the checksum the database recorded as an earlier one of that file, with the reason
(a file edited by mistake after databases applied it, its statements unchanged). MANIFEST
also holds the checksum of every migration as committed: adding a migration is adding
its line there (`--manifest` prints it), and tests/test_migration_manifest.py fails when a
file has no line or its bytes differ from it. A function file (CREATE OR
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
MANIFEST_NAME = "MANIFEST"      # in the migrations directory
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
class Manifest:
    """The migrations directory's MANIFEST: `current` {name: checksum} of each committed
    file; `earlier` {name: {checksum: reason}}, checksums a database may have recorded for
    a file whose bytes changed after it was applied, accepted as the same migration."""
    current: dict
    earlier: dict

    def accepts(self, name, checksum):
        return checksum in self.earlier.get(name, {})


EARLIER = "earlier:"


def read_manifest(directory=MIGRATIONS_DIR):
    """The directory's MANIFEST (an empty one when it has none: a scratch directory).
    A line: `<name> <sha256>`, or `<name> <sha256> earlier: <reason>`; # starts a comment."""
    path = directory / MANIFEST_NAME
    current: dict[str, str] = {}
    earlier: dict[str, dict[str, str]] = {}
    if not path.exists():
        return Manifest(current, earlier)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, checksum, *rest = line.split(None, 2)
        if not (_NAME.fullmatch(name) and re.fullmatch(r"[0-9a-f]{64}", checksum)):
            raise MigrationError(f"{MANIFEST_NAME} line {number}: expected '<NNNN_name.sql> <sha256>'")
        if not rest:
            if name in current:
                raise MigrationError(f"{MANIFEST_NAME} line {number}: {name} is listed twice")
            current[name] = checksum
        elif rest[0].startswith(EARLIER) and rest[0][len(EARLIER):].strip():
            earlier.setdefault(name, {})[checksum] = rest[0][len(EARLIER):].strip()
        else:
            raise MigrationError(f"{MANIFEST_NAME} line {number}: an earlier checksum needs "
                                 f"'{EARLIER} <reason>' after it")
    return Manifest(current, earlier)


def manifest_line(migration):
    return f"{migration.name}  {migration.checksum}"


def manifest_problems(directory=MIGRATIONS_DIR):
    """What keeps the directory's migrations from matching its MANIFEST, one sentence each:
    a file without its line, a file whose bytes differ from its line, a line without a file."""
    manifest = read_manifest(directory)
    problems = []
    migrations = discover(directory)
    for migration in migrations:
        listed = manifest.current.get(migration.name)
        if listed is None:
            problems.append(f"{migration.name} has no line in {MANIFEST_NAME}: add "
                            f"'{manifest_line(migration)}' (python -m sql.migrate --manifest prints it)")
        elif listed != migration.checksum:
            problems.append(f"{migration.name} changed after it was committed ({listed[:12]}… in "
                            f"{MANIFEST_NAME}, {migration.checksum[:12]}… on disk): restore it and add a "
                            "new migration instead")
    for name in sorted(set(manifest.current) - {m.name for m in migrations}):
        problems.append(f"{name} is in {MANIFEST_NAME} but its file is missing")
    return problems


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


def _same(migration, checksum, manifest):
    """Whether a database that recorded `checksum` for this file applied what it holds."""
    return checksum == migration.checksum or manifest.accepts(migration.name, checksum)


def _verify(applied, migrations, manifest):
    known = {m.name: m for m in migrations}
    for name, checksum in applied.items():
        if name not in known:
            raise MigrationError(f"{name} is applied but its file is missing")
        if not _same(known[name], checksum, manifest):
            raise MigrationError(
                f"{name} changed after it was applied (checksum {checksum[:12]}… in the "
                f"database, {known[name].checksum[:12]}… on disk); add a new migration instead")


def status(dsn, directory=MIGRATIONS_DIR, functions_dir=FUNCTIONS_DIR):
    """[(name, state)] in the order migrate() applies them: migrations ('applied' |
    'pending'), then function files ('applied' | 'pending' | 'changed', named functions/...)."""
    migrations = discover(directory)
    manifest = read_manifest(directory)
    functions = discover_functions(functions_dir)
    conn = psycopg2.connect(dsn)
    try:
        applied = _applied(conn)
        recorded = _functions_applied(conn)
    finally:
        conn.close()
    _verify(applied, migrations, manifest)
    return ([(m.name, "applied" if m.name in applied else "pending") for m in migrations]
            + [(FUNCTIONS_PREFIX + f.name, _function_state(recorded, f)) for f in functions])


def _up_to_date(conn, migrations, manifest, functions):
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
    return (set(applied) == {m.name for m in migrations}
            and all(_same(m, applied[m.name], manifest) for m in migrations)
            and all(_function_state(recorded, f) == "applied" for f in functions))


def migrate(dsn, directory=MIGRATIONS_DIR, log=print, functions_dir=FUNCTIONS_DIR):
    """Apply every pending migration, then every new or changed function file; return the
    names applied (function files as functions/<name>)."""
    migrations = discover(directory)
    manifest = read_manifest(directory)
    functions = discover_functions(functions_dir)
    conn = psycopg2.connect(dsn)
    try:
        if _up_to_date(conn, migrations, manifest, functions):
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
            _verify(applied, migrations, manifest)
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


def print_manifest_lines(directory=MIGRATIONS_DIR):
    """`--manifest`: the lines to append for migrations without one (exit 0), or why the
    directory and its MANIFEST disagree otherwise (exit 1)."""
    try:
        manifest = read_manifest(directory)
        migrations = discover(directory)
    except MigrationError as exc:
        print(f"migration error: {exc}", file=sys.stderr)
        return 1
    for migration in migrations:
        if migration.name not in manifest.current:
            print(manifest_line(migration))
    others = [p for p in manifest_problems(directory) if " has no line in " not in p]
    for problem in others:
        print(f"migration error: {problem}", file=sys.stderr)
    return 1 if others else 0


def main(argv=None):
    from db.config import database_from_environment, exit_code

    parser = argparse.ArgumentParser(prog="python -m sql.migrate", description=__doc__.split("\n")[0])
    parser.add_argument("--status", action="store_true", help="list applied, pending and changed files")
    parser.add_argument("--data-dir", help="embedded server data directory (without DATABASE_URL)")
    parser.add_argument("--manifest", action="store_true",
                        help=f"print the {MANIFEST_NAME} line of each migration that has none (no database needed)")
    args = parser.parse_args(argv)
    if args.manifest:
        return print_manifest_lines()

    def run():
        # --status only looks: on a directory without a database it says so, creating nothing.
        with database_from_environment(args.data_dir, attach="existing" if args.status else None) as database:
            if args.status:
                for name, state in status(database.dsn):
                    print(f"{state:8} {name}")
                return
            done = migrate(database.dsn)
            functions = sum(name.startswith(FUNCTIONS_PREFIX) for name in done)
            print(f"{len(done) - functions} migration(s) and {functions} function file(s) applied")
    return exit_code("migrate", run, (MigrationError,))


if __name__ == "__main__":
    sys.exit(main())
