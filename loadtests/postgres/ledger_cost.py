"""What each constraint of the ledger costs a bet, measured with pgbench.

    python -m loadtests.ledger_cost [--wallets 1000] [--seconds 5] [--runs 5] [--compare-with DIR]
                                    [--only VARIANT ...] [--async-commit]

Starts an embedded PostgreSQL of its own (default settings: fsync and synchronous_commit
on, as the bench runs), migrates one database, provisions funded wallets with open
sessions (as loadtests.bench does), and runs pgbench of casino_debit — the statement the
debit handler runs, spread over the wallets, 32 clients — once per variant per run, the
variants interleaved so that the shared machine's drift falls on all of them alike:

  all             every constraint in place
  no <name>       that constraint (or group) dropped for the run, then restored

--compare-with DIR adds the variant `DIR`: a second database migrated from DIR's
migrations/ and functions/ (e.g. a copy of main's sql/), so an older design is measured
in the same run (its schema must have the back office's verbs the wallets are provisioned
with, migration 0012 or later). Prints per variant the median transactions/s and PostgreSQL CPU ms per
transaction (embedded server's processes) over --runs.
"""
import argparse
import os
import re
import subprocess
import tempfile
import uuid
from pathlib import Path
from statistics import median

import psycopg2

from casino.sessions import session_idle_timeout
from db import embedded
from db.embedded import EmbeddedPostgres
from sql.migrate import migrate

from loadtests.http_load import CpuMeter

from .child_server import BOX
from .provision import provision

CONCURRENCY = 32
SCRIPT = """\\set n random(0, :wallets - 1)
\\set t random(1, 9000000000000000)
SELECT * FROM casino_debit({provider_id}, 'bench-{tag}-' || :n, :first_user + :n, 'pgb-' || :client_id || '-' || :t, 'pgb-round', 1, 'USD', 'bench', '{idle_seconds} seconds'::interval);
"""

def constraint_variants(cur):
    """name -> (drop, restore) SQL, for every constraint of the ledger and the wallets that a
    bet touches and that this schema has."""
    cur.execute("""SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
                   WHERE conrelid IN ('casino_transactions'::regclass, 'casino_wallets'::regclass)
                     AND contype IN ('c', 'f')""")
    found = {name: (table, definition) for table, name, definition in cur.fetchall()}
    variants = {}

    def group(label, names):
        names = [n for n in names if n in found]
        if names:
            variants[label] = (
                ";".join(f"ALTER TABLE {found[n][0]} DROP CONSTRAINT {n}" for n in names),
                ";".join(f"ALTER TABLE {found[n][0]} ADD CONSTRAINT {n} {found[n][1]}" for n in names))

    group("no ledger CHECKs", [n for n in found if found[n][0] == "casino_transactions"
                             and found[n][1].startswith("CHECK")])
    group("no wallet CHECKs", [n for n in found if found[n][0] == "casino_wallets"
                             and found[n][1].startswith("CHECK")])
    for name, (table, definition) in sorted(found.items()):
        if table == "casino_transactions" and definition.startswith("FOREIGN KEY"):
            group("no " + name.removeprefix("casino_transactions_"), [name])
    cur.execute("""SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger
                   WHERE tgrelid = 'casino_transactions'::regclass AND NOT tgisinternal""")
    for name, definition in cur.fetchall():
        variants["no trigger " + name] = (f"DROP TRIGGER {name} ON casino_transactions", definition)
    return variants


def pgbench(dsn, db_pid, script, first_user, wallets, seconds):
    with CpuMeter(db_pid) as database:
        run = subprocess.run(
            [str(embedded.bin_dir() / "pgbench"), "-n", "-M", "simple", "-c", str(CONCURRENCY), "-j", "2",
             "-T", str(int(seconds)), "-f", script, "-D", f"wallets={wallets}", "-D", f"first_user={first_user}",
             dsn], capture_output=True, text=True, timeout=seconds + 60, check=False)
    match = re.search(r"tps = ([\d.]+)", run.stdout)
    if not match:
        raise RuntimeError(f"pgbench failed:\n{run.stdout}\n{run.stderr}")
    tps = float(match.group(1))
    return tps, database.used / max(1.0, tps * seconds) * 1000


def prepare(dsn, wallets, scratch, migrations_dir=None, functions_dir=None):
    """Migrate, provision; returns (pgbench script path, in the scratch directory removed
    at the end, first user id)."""
    kwargs = {}
    if migrations_dir:
        kwargs = {"functions_dir": functions_dir}
        migrate(dsn, migrations_dir, log=lambda _: None, **kwargs)
    else:
        migrate(dsn, log=lambda _: None)
    tag = uuid.uuid4().hex[:8]
    accounts, _ = provision(dsn, wallets, BOX, tag)
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM CASINO_GAME_PROVIDERS WHERE code = %s", ("BENCH-" + tag,))
        provider_id = cur.fetchone()[0]
    conn.close()
    script = Path(scratch) / f"debit-{tag}.sql"
    script.write_text(SCRIPT.format(tag=tag, provider_id=provider_id, idle_seconds=session_idle_timeout().total_seconds()))
    return str(script), accounts[0][0]


def execute(dsn, sql):
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m loadtests.ledger_cost", description=__doc__.split("\n")[0])
    parser.add_argument("--wallets", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--compare-with", type=Path, help="an sql/ directory of another version")
    parser.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    parser.add_argument("--async-commit", action="store_true",
                        help="synchronous_commit off: the commit's WAL flush no longer bounds the rate, so the "
                             "rate shows CPU per call")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="casino-ledger-cost-") as tmp:
        pg = EmbeddedPostgres(os.path.join(tmp, "data")).start()
        try:
            admin = pg.dsn()
            if args.async_commit:
                execute(admin, "ALTER SYSTEM SET synchronous_commit = off")
                execute(admin, "SELECT pg_reload_conf()")
            execute(admin, "CREATE DATABASE current")
            dsn = pg.dsn("current")
            script, first_user = prepare(dsn, args.wallets, tmp)
            conn = psycopg2.connect(dsn)
            with conn, conn.cursor() as cur:
                variants = {"all": ("", ""), **constraint_variants(cur)}
            conn.close()
            targets = {name: (dsn, script, first_user, drop, restore) for name, (drop, restore) in variants.items()}
            if args.compare_with:
                execute(admin, "CREATE DATABASE other")
                other = pg.dsn("other")
                other_script, other_first = prepare(other, args.wallets, tmp, args.compare_with / "migrations",
                                                    args.compare_with / "functions")
                targets[str(args.compare_with)] = (other, other_script, other_first, "", "")
            if args.only:
                targets = {k: v for k, v in targets.items() if k in args.only}
            results = {name: [] for name in targets}
            for run in range(args.runs):
                for name, (target, script_path, first, drop, restore) in targets.items():
                    if drop:
                        execute(target, drop)
                    try:
                        results[name].append(pgbench(target, pg.pid(), script_path, first, args.wallets,
                                                     args.seconds))
                    finally:
                        if restore:
                            execute(target, restore)
                    tps, cpu = results[name][-1]
                    print(f"run {run + 1}: {name:<40} {tps:8.0f} tps  {cpu:5.2f} ms CPU/tx", flush=True)
            print(f"\nmedian of {args.runs} x {args.seconds:.0f} s, {CONCURRENCY} clients, {args.wallets} wallets"
                  + (", synchronous_commit off" if args.async_commit else ""))
            print(f"{'variant':<40} {'tps':>8} {'db CPU ms/tx':>13}")
            for name, runs in results.items():
                print(f"{name:<40} {median(r[0] for r in runs):8.0f} {median(r[1] for r in runs):13.2f}")
        finally:
            pg.stop()


if __name__ == "__main__":
    main()
