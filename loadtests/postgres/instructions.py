"""What a debit costs PostgreSQL in instructions: ours against the reference debit, and
what each protection of ours adds, measured the same on a busy machine as on a quiet one.

    python -m loadtests.instructions [--calls 300] [--variants all none ...]

Timings on this shared 2-core machine move by a third within an hour; instruction counts
do not. valgrind's callgrind counts the instructions a program executes, whatever else the
machine does. So this tool migrates and provisions a scratch embedded PostgreSQL (as the
bench does: funded wallets with open sessions through the back office's verbs, and the
reference schema of loadtests/postgres/reference.sql), stops it, and runs the very statement the
bench's pgbench runs through a single-user backend (`postgres --single`) under callgrind,
on a copy of that data directory per variant: once with --warm calls and once with
--warm + --calls. The difference over --calls is one call, without the backend's start-up
and first-call caches. Two settings keep unrelated work out of the count: no checkpoint
during the run, and synchronous_commit off (a WAL flush is a wait, not instructions).
Results repeat to within ~0.5 %.

Variants (each on a fresh copy; `ours` is every variant's baseline):
  ours        the schema as migrated
  no-checks   without the ledger's and wallets' CHECK constraints and domain checks
  no-fks      without the ledger's foreign keys
  no-indexes  without the ledger's secondary indexes but the two a debit reads: the
              (provider, transactionId) unique index that idempotency needs, and the
              index on the id a rollback names, which finds a tombstone
  none        all three removed: what the rules and bookkeeping cost on their own
  limits      the schema as migrated, every player with a loss and a wager limit (a day's
              each, too high to refuse a bet): what player protection adds to a debit
              (README, "Player protection"); `ours` is the same debit with no limit set
  bonus       every wallet with an active bonus and no cash left: each bet spends bonus
              money and counts toward its wagering (never reached in the run)
  bonus-cash  every wallet with an active bonus and its cash: each bet spends cash and
              counts toward the bonus's wagering (README, "Bonus money")
  bonus-limits  `bonus` with `limits`' two limits: both features on one debit
and what the reports' choices cost a debit (migration 0017; docs/performance.md, "Reports"):
  no-report-index     without the BRIN index on the ledger's created_at
  brin-tail           with it, the range rows are appended to not summarized yet
  btree-report-index  a B-tree on created_at instead of the BRIN index
  rollup              a daily rollup every ledger row upserts (a trigger) instead of the index
The reference debit is measured once, on the `ours` copy.
"""
import argparse
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg2

from db import embedded
from db.config import database_from_environment
from sql.migrate import migrate

from . import reference_service
from .child_server import BOX
from .provision import FUNDS, provision

REFERENCE_SCHEMA = "bench_reference"
TIMEOUT = f"'{30 * 60} seconds'::interval"   # the service binds a timedelta: a literal, as here

# Removals for the variants; each a list of statements for a single-user backend (one per line).
NO_CHECKS = """
SELECT 'ALTER TABLE ' || conrelid::regclass || ' DROP CONSTRAINT ' || quote_ident(conname)
FROM pg_constraint WHERE contype = 'c' AND conrelid IN ('casino_transactions'::regclass, 'casino_wallets'::regclass)
UNION ALL
SELECT 'ALTER DOMAIN ' || contypid::regtype || ' DROP CONSTRAINT ' || quote_ident(conname)
FROM pg_constraint WHERE contype = 'c' AND contypid <> 0 AND contypid::regtype::text LIKE 'casino\\_%'
"""
NO_FKS = """
SELECT 'ALTER TABLE casino_transactions DROP CONSTRAINT ' || quote_ident(conname)
FROM pg_constraint WHERE contype = 'f' AND conrelid = 'casino_transactions'::regclass
"""
NO_INDEXES = """
SELECT 'DROP INDEX ' || indexrelid::regclass
FROM pg_index WHERE indrelid = 'casino_transactions'::regclass AND NOT indisprimary
  AND indexrelid::regclass::text NOT IN ('casino_transactions_provider_id_external_transaction_id_key',
                                         'casino_transactions_related')
"""
# A loss and a wager limit for every player with a wallet (the back office's own function,
# unaudited): each a day's, far above what the run bets, so every debit is checked and taken.
WITH_LIMITS = """
SELECT format('SELECT casino_set_limit(%s, %L, %L, %L, %s, NULL, NULL);', w.user_id, w.currency_code, t.limit_type,
              'day', 1000000000)
FROM CASINO_WALLETS w CROSS JOIN (VALUES ('loss'), ('wager')) AS t (limit_type)
ORDER BY w.id, t.limit_type
"""
# Bonus money (README, "Bonus money"): a grant to every wallet through the back office's
# own function, with a requirement the run never reaches, and for `bonus` the cash taken out.
BONUS_GRANTS = f"""
SELECT format('SELECT status FROM casino_grant_bonus(%s, %L, %s, 1000, now() + interval %L, %L, %L, NULL, %L);',
              w.user_id, w.currency_code, {FUNDS}, '10 years', 'instructions-bonus-' || w.id, 'instructions', '{{}}')
FROM CASINO_WALLETS w ORDER BY w.id
"""
CASH_OUT = """
SELECT format('SELECT status FROM casino_cashier(%L, %s, %L, %s, %L, %L, NULL, %L);',
              'withdrawal', w.user_id, w.currency_code, w.redeemable_balance, 'instructions-out-' || w.id,
              'instructions', '{}')
FROM CASINO_WALLETS w WHERE w.redeemable_balance > 0 ORDER BY w.id
"""
# What the reports added to the ledger (migration 0017): its BRIN index on created_at; and
# what they would have cost read another way: a B-tree on created_at, or a daily rollup that
# every ledger row adds to (a trigger's upsert), which would spare the reports their scan of
# the period's rows. The scratch ledger is small enough to lie in the BRIN index's first
# range of pages, which the index made on the empty table summarizes from the start, so
# every insert widens that summary: the worst case. A running ledger appends to a range not
# summarized yet (a range is summarized once the next begins; VACUUM leaves the last one
# alone), which `brin-tail` measures by unsummarizing the first.
NO_REPORT_INDEX = "SELECT 'DROP INDEX casino_transactions_created_at'"
BRIN_TAIL = "SELECT 'SELECT brin_desummarize_range(''casino_transactions_created_at'', 0)'"
BTREE_REPORT_INDEX = """
SELECT 'DROP INDEX casino_transactions_created_at' UNION ALL
SELECT 'CREATE INDEX casino_transactions_created_at ON casino_transactions (created_at)'
"""
ROLLUP = """
SELECT 'DROP INDEX casino_transactions_created_at' UNION ALL
SELECT 'CREATE TABLE bench_rollup (day date, provider_id bigint, session_id bigint, wallet_id bigint, '
       || 'stakes bigint NOT NULL, refunds bigint NOT NULL, wins bigint NOT NULL, bets bigint NOT NULL, '
       || 'PRIMARY KEY (day, provider_id, session_id, wallet_id))' UNION ALL
SELECT 'CREATE FUNCTION bench_rollup_add() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
       || 'IF NEW.outcome = ''applied'' AND NEW.provider_id IS NOT NULL THEN '
       || 'INSERT INTO bench_rollup VALUES (NEW.created_at::date, NEW.provider_id, NEW.session_id, NEW.wallet_id, '
       || 'CASE WHEN NEW.transaction_type = ''debit'' THEN NEW.amount ELSE 0 END, '
       || 'CASE WHEN NEW.transaction_type = ''rollback'' THEN NEW.playable_movement ELSE 0 END, '
       || 'CASE WHEN NEW.transaction_type = ''credit'' THEN NEW.amount ELSE 0 END, '
       || 'CASE WHEN NEW.transaction_type = ''debit'' THEN 1 ELSE 0 END) '
       || 'ON CONFLICT (day, provider_id, session_id, wallet_id) DO UPDATE SET '
       || 'stakes = bench_rollup.stakes + EXCLUDED.stakes, refunds = bench_rollup.refunds + EXCLUDED.refunds, '
       || 'wins = bench_rollup.wins + EXCLUDED.wins, bets = bench_rollup.bets + EXCLUDED.bets; '
       || 'END IF; RETURN NULL; END $$' UNION ALL
SELECT 'CREATE TRIGGER bench_rollup AFTER INSERT ON casino_transactions FOR EACH ROW '
       || 'EXECUTE FUNCTION bench_rollup_add()'
"""
VARIANTS = {"ours": [], "no-checks": [NO_CHECKS], "no-fks": [NO_FKS], "no-indexes": [NO_INDEXES],
            "none": [NO_CHECKS, NO_FKS, NO_INDEXES], "limits": [WITH_LIMITS], "bonus": [BONUS_GRANTS, CASH_OUT],
            "bonus-cash": [BONUS_GRANTS], "bonus-limits": [BONUS_GRANTS, CASH_OUT, WITH_LIMITS],
            "no-report-index": [NO_REPORT_INDEX], "brin-tail": [BRIN_TAIL], "btree-report-index": [BTREE_REPORT_INDEX],
            "rollup": [ROLLUP]}


def removals(dsn, queries):
    """The statements a variant runs first, generated from the migrated database (its
    catalogue, or its players)."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            statements = []
            for query in queries:
                cur.execute(query)
                statements += [row[0] for row in cur.fetchall()]
            return statements
    finally:
        conn.close()


def single_user(data_dir, statements, database, callgrind_out=None):
    """Runs the statements (one per line) through `postgres --single`, as the data
    directory's owner (the embedded server's system user when we are root)."""
    command = [str(embedded.bin_dir() / "postgres"), "--single", "-D", str(data_dir),
               "-c", "synchronous_commit=off", "-c", "max_wal_size=20GB", "-c", "checkpoint_timeout=1d",
               "-c", f"search_path={REFERENCE_SCHEMA},public", database]
    if callgrind_out:
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={callgrind_out}"] + command
    owner = pwd.getpwuid(data_dir.stat().st_uid).pw_name
    if os.geteuid() == 0 and owner != "root":
        command = ["runuser", "-u", owner, "--"] + command
    run = subprocess.run(command, input="\n".join(statements) + "\n", capture_output=True, text=True,
                         timeout=1800)
    errors = [line for line in (run.stdout + run.stderr).splitlines() if "ERROR" in line]
    if run.returncode != 0 or errors:
        raise RuntimeError(f"postgres --single failed ({run.returncode}): {errors[:3] or run.stderr[-500:]}")
    return run.stdout


def instructions(data_dir, statements, database, scratch, keep=None):
    out = scratch / "callgrind.out"
    answered = single_user(data_dir, statements, database, callgrind_out=out).count('1: status = "200"')
    if answered != len(statements):
        raise RuntimeError(f"{len(statements) - answered} of {len(statements)} debits were not answered 200")
    totals = [line.split()[1] for line in out.read_text().splitlines() if line.startswith(("summary:", "totals:"))]
    if keep:
        shutil.copyfile(out, keep)
    out.unlink()
    return int(totals[0])


def per_call(data_dir, call, accounts, args, database, scratch, keep=None):
    def calls(n):
        return [call(*accounts[i % len(accounts)]) for i in range(n)]
    small = instructions(data_dir, calls(args.warm), database, scratch)
    large = instructions(data_dir, calls(args.warm + args.calls), database, scratch, keep)
    return (large - small) / args.calls


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m loadtests.instructions", description=__doc__.split("\n")[0])
    parser.add_argument("--wallets", type=int, default=100)
    parser.add_argument("--calls", type=int, default=300, help="calls measured (after --warm)")
    parser.add_argument("--warm", type=int, default=50, help="calls that fill the backend's caches first")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--profile", metavar="FILE",
                        help="keep callgrind's file of ours (the larger run) for callgrind_annotate")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install -y valgrind)")

    scratch = Path(tempfile.mkdtemp(prefix="casino-instructions-"))
    try:
        data_dir, database = scratch / "pg", "casino"
        with database_from_environment(data_dir, database_url="") as db:
            migrate(db.dsn, log=lambda _: None)
            accounts, _ = provision(db.dsn, args.wallets, BOX, "instructions")
            reference_service.install(db.dsn, REFERENCE_SCHEMA, [user for user, _ in accounts], FUNDS)
            conn = psycopg2.connect(db.dsn)
            with conn, conn.cursor() as cur:
                cur.execute("SELECT id FROM CASINO_GAME_PROVIDERS WHERE code = 'BENCH-instructions'")
                provider_id = cur.fetchone()[0]
                # A busy session's bet does not refresh its activity mark (casino_debit
                # refreshes one older than a minute). Marked ahead, no measured bet does: else
                # whichever variant's two runs straddle the minute after provisioning pays
                # a session UPDATE for one call in three of the difference (~+21 000 a call,
                # the "dearer mode" docs/performance.md recorded for limits and bonus).
                cur.execute("UPDATE CASINO_GAME_SESSIONS SET last_activity_at = now() + interval '1 day' "
                            "WHERE provider_id = %s", (provider_id,))
            conn.close()
            ddl = {name: removals(db.dsn, queries) for name, queries in VARIANTS.items()}
            # Nothing to retire: the whole scratch database goes at the end.
        # The server is stopped now: a single-user backend needs the directory to itself.
        # It runs as the data directory's owner, and writes callgrind's file here.
        os.chown(scratch, data_dir.stat().st_uid, -1)

        # Each call's transactionId a literal, as the service sends it: an expression such as
        # 'cg-' || gen_random_uuid() is planned with every call (~23 000 instructions, ours
        # and the reference's alike, that no real debit pays).
        def transaction_id():
            return f"cg-{uuid.uuid4()}"

        def ours(user_id, token):
            return (f"SELECT * FROM casino_debit({provider_id}, '{token}', {user_id}, '{transaction_id()}', "
                    f"'round', 1, 'USD', 'bench', {TIMEOUT});")

        def reference(user_id, _token):
            return f"SELECT * FROM reference_debit({user_id}, '{transaction_id()}', 1, 'USD');"

        results = {}
        for name in args.variants:
            copy = scratch / name
            subprocess.run(["cp", "-a", str(data_dir), str(copy)], check=True)
            if ddl[name]:
                single_user(copy, ddl[name], database)
                # DDL invalidates the relation cache's init file; the next backend rebuilds
                # it. Done here, so the two measured runs start up alike (else the first
                # pays the rebuild, ~7 M instructions, and the difference reads ~23 000
                # cheaper per call than it is).
                single_user(copy, ["SELECT 1;"], database)
            print(f"{name} ...", flush=True)
            results[name] = per_call(copy, ours, accounts, args, database, scratch,
                                     args.profile if name == "ours" else None)
            if name == "ours":
                results["reference"] = per_call(copy, reference, accounts, args, database, scratch)
            shutil.rmtree(copy)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    base = results.get("ours")
    print(f"\n{'':12s} {'instructions/call':>18s} {'vs ours':>8s} {'reference/this':>15s}")
    for name, value in results.items():
        vs = f"{value / base:8.2f}" if base else ""
        ref = f"{results['reference'] / value:15.2f}" if "reference" in results else ""
        print(f"{name:12s} {value:18,.0f} {vs} {ref}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
