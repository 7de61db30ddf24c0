"""Migrations are append-only, checked: sql/migrations/MANIFEST holds every committed
migration's checksum, and the suite (hence CI) fails when a file's bytes change or a file
comes without its line; the earlier checksum 0013 had is accepted, with its reason, so a
database migrated from either file starts."""
import hashlib
import os
import shutil
import subprocess
import sys

import pytest

from sql.migrate import (
    MANIFEST_NAME,
    MIGRATIONS_DIR,
    MigrationError,
    discover,
    manifest_problems,
    migrate,
    read_manifest,
    status,
)
from tests.support import ROOT

MONEY_DOMAINS = "0013_money_domains.sql"
# The two comment lines 0013 had when databases first applied it (commit 93ee141).
MONEY_DOMAINS_FIRST_COMMENT = (
    "-- Each ALTER TYPE to a domain over the same type rewrites nothing; it checks every row\n"
    "-- against the domain once, under the table's exclusive lock.\n")
MONEY_DOMAINS_COMMENT_NOW = ("-- PostgreSQL rewrites a table whose column changes to a domain with constraints: both\n"
                             "-- tables and every index on them are written again, under an exclusive lock (a large\n"
                             "-- ledger: plan the pause, as for 0009).\n")


@pytest.fixture
def migrations_copy(tmp_path):
    target = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, target)
    return target


def test_every_committed_migration_matches_its_manifest_line():
    # Adding a migration: python -m sql.migrate --manifest >> sql/migrations/MANIFEST
    assert manifest_problems() == []
    assert set(read_manifest().current) == {m.name for m in discover()}


def test_a_changed_migration_is_caught(migrations_copy):
    path = migrations_copy / "0005_provider_simulations.sql"
    path.write_bytes(path.read_bytes() + b"\n-- a harmless-looking comment\n")
    [problem] = manifest_problems(migrations_copy)
    assert problem.startswith("0005_provider_simulations.sql changed after it was committed")


def test_a_migration_added_without_its_line_is_caught_and_the_cli_prints_the_line(migrations_copy):
    added = migrations_copy / "0099_next_thing.sql"
    added.write_text("SELECT 1;\n")
    line = f"0099_next_thing.sql  {hashlib.sha256(added.read_bytes()).hexdigest()}"
    [problem] = manifest_problems(migrations_copy)
    assert problem.startswith("0099_next_thing.sql has no line in MANIFEST") and line in problem
    printed = subprocess.run([sys.executable, "-c", ("import sys, pathlib; from sql.migrate import "
                              "print_manifest_lines; sys.exit(print_manifest_lines(pathlib.Path(sys.argv[1])))"),
                              str(migrations_copy)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (printed.returncode, printed.stdout) == (0, line + "\n")
    with open(migrations_copy / MANIFEST_NAME, "a") as manifest:
        manifest.write(printed.stdout)
    assert manifest_problems(migrations_copy) == []


def test_the_cli_prints_nothing_when_every_migration_has_its_line():
    run = subprocess.run([sys.executable, "-m", "sql.migrate", "--manifest"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"})
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def test_a_line_without_a_file_and_a_malformed_line_are_caught(migrations_copy):
    (migrations_copy / "0004_money_rules.sql").unlink()
    assert manifest_problems(migrations_copy) == ["0004_money_rules.sql is in MANIFEST but its file is missing"]
    with open(migrations_copy / MANIFEST_NAME, "a") as manifest:
        manifest.write(f"{MONEY_DOMAINS}  {'0' * 64}  because\n")
    with pytest.raises(MigrationError, match="needs 'earlier: <reason>'"):
        read_manifest(migrations_copy)


def test_the_earlier_checksum_of_0013_is_accepted_with_its_reason():
    now = (MIGRATIONS_DIR / MONEY_DOMAINS).read_text()
    assert MONEY_DOMAINS_COMMENT_NOW in now
    first = now.replace(MONEY_DOMAINS_COMMENT_NOW, MONEY_DOMAINS_FIRST_COMMENT).encode()
    earlier = read_manifest().earlier[MONEY_DOMAINS]
    assert list(earlier) == [hashlib.sha256(first).hexdigest()]
    assert "93ee141" in earlier[hashlib.sha256(first).hexdigest()]


def test_a_database_migrated_from_the_first_0013_starts(fresh_dsn, migrations_copy):
    first = migrations_copy / MONEY_DOMAINS
    first.write_text(first.read_text().replace(MONEY_DOMAINS_COMMENT_NOW, MONEY_DOMAINS_FIRST_COMMENT))
    migrate(fresh_dsn, directory=migrations_copy, log=lambda _: None)
    # What the server and --status do with the repository's files: nothing to apply, no refusal.
    assert migrate(fresh_dsn, log=lambda _: None) == []
    assert dict(status(fresh_dsn))[MONEY_DOMAINS] == "applied"


def test_any_other_change_to_an_applied_file_is_still_refused(fresh_dsn, migrations_copy):
    migrate(fresh_dsn, directory=migrations_copy, log=lambda _: None)
    changed = migrations_copy / MONEY_DOMAINS
    changed.write_text(changed.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match=f"{MONEY_DOMAINS} changed after it was applied"):
        migrate(fresh_dsn, directory=migrations_copy, log=lambda _: None)
