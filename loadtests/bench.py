"""The debit path against PostgreSQL's own limit, in one command.

    python -m loadtests.bench [--wallets 10000] [--seconds 8] [--runs 3] [--processes 1 2]

Starts an embedded PostgreSQL of its own (or uses DATABASE_URL), provisions funded
wallets with open sessions, and for each --processes value starts `python server.py`,
then measures, median of --runs:

  http spread   signed debits over 32 keep-alive connections, spread over the wallets
  http hot      the same, all on one wallet
  pgbench       the very statement the debit handler runs (SELECT * FROM casino_debit(...)),
                simple protocol like psycopg2, same concurrency, same database, spread and hot

and prints the ratio http/pgbench, p50/p99, the server's RSS per process, the load
generator's CPU share, and the CPU time one debit costs in the service's processes and
in PostgreSQL's (embedded database only), ending with one line:

  ratio spread=<x.xx> hot=<y.yy> p99_ms=<z> rss_mb=<n>

(for the last --processes value). The generator pre-signs every request and speaks
HTTP/1.1 over asyncio streams, so the ratio measures the service, not the client.
"""
import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from statistics import median

import psutil
import psycopg2

from casino.sessions import idle_timeout
from db import embedded
from db.config import database_from_environment
from tests.support import BOX, ServerProcess

from .debit_rate import debit_requests, provision
from .http_load import CpuMeter, run_load

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 32

# {tag} is filled in by Python; :names are pgbench variables.
PGBENCH_SCRIPT = """\\set n random(0, :wallets - 1)
\\set t random(1, 9000000000000000)
SELECT * FROM casino_debit({provider_id}, 'bench-{tag}-' || :n, :first_user + :n, 'pgb-' || :client_id || '-' || :t, 'pgb-round', 1, 'USD', 'bench', make_interval(secs => {idle_seconds}));
"""


def pgbench(dsn, db_pid, tag, first_user, wallets, seconds):
    """(transactions/s, PostgreSQL CPU ms per transaction)."""
    provider_id = provider_of(dsn, f"BENCH-{tag}")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH_SCRIPT.format(tag=tag, provider_id=provider_id,
                                           idle_seconds=idle_timeout().total_seconds()))
    with CpuMeter(db_pid) as database:
        run = subprocess.run(
            [str(embedded.bin_dir() / "pgbench"), "-n", "-M", "simple", "-c", str(CONCURRENCY),
             "-j", "2", "-T", str(int(seconds)), "-f", script.name, "-D", f"wallets={wallets}",
             "-D", f"first_user={first_user}", dsn],
            capture_output=True, text=True, timeout=seconds + 60)
    os.unlink(script.name)
    match = re.search(r"tps = ([\d.]+)", run.stdout)
    if not match:
        raise RuntimeError(f"pgbench failed:\n{run.stdout}\n{run.stderr}")
    tps = float(match.group(1))
    return tps, database.used / max(1.0, tps * seconds) * 1000


def provider_of(dsn, code):
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT id FROM CASINO_GAME_PROVIDERS WHERE code = %s", (code,))
            return cur.fetchone()[0]
    finally:
        conn.close()


def server_rss_mb(server):
    parent = psutil.Process(server.proc.pid)
    workers = parent.children() or [parent]
    return [p.memory_info().rss / 2**20 for p in workers]


def http_run(server, db_pid, accounts, key, seconds):
    host, port = server.url.split("//")[1].split(":")
    lists = debit_requests(f"{host}:{port}", accounts, CONCURRENCY, int(seconds * 1_000), key)
    with CpuMeter(server.proc.pid) as service, CpuMeter(db_pid) as database:
        result = asyncio.run(run_load(host, int(port), lists, seconds))
    answered = max(1, len(result.latencies))
    result.service_ms = service.used / answered * 1000
    result.database_ms = database.used / answered * 1000
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--wallets", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--data-dir", default=None, help="embedded data directory (default: a new temporary one)")
    args = parser.parse_args(argv)

    data_dir = args.data_dir or tempfile.mkdtemp(prefix="casino-bench-") + "/pg"
    with database_from_environment(data_dir) as database:
        from sql.migrate import migrate
        migrate(database.dsn, log=lambda _: None)
        # PostgreSQL's CPU is read from the embedded server's processes; not for DATABASE_URL.
        db_pid = database.embedded.pid() if database.embedded else None
        tag = uuid.uuid4().hex[:8]
        print(f"provisioning {args.wallets} wallets ...", flush=True)
        accounts, key = provision(database.dsn, args.wallets, BOX, tag)
        first_user = accounts[0][0]
        assert [a[0] for a in accounts] == list(range(first_user, first_user + args.wallets)), "user ids not contiguous"
        hot = accounts[:1]

        print(f"pgbench, {CONCURRENCY} clients, {args.runs} x {args.seconds:.0f} s ...", flush=True)
        pg_spread = [pgbench(database.dsn, db_pid, tag, first_user, args.wallets, args.seconds)
                     for _ in range(args.runs)]
        pg_hot = [pgbench(database.dsn, db_pid, tag, first_user, 1, args.seconds)
                  for _ in range(args.runs)]

        rows = []
        for processes in args.processes:
            server = ServerProcess(database.dsn, args=["--processes", str(processes)]).start()
            try:
                spread = [http_run(server, db_pid, accounts, key, args.seconds) for _ in range(args.runs)]
                hot_runs = [http_run(server, db_pid, hot, key, args.seconds) for _ in range(args.runs)]
                rss = server_rss_mb(server)
            finally:
                server.stop()
            rows.append((processes, spread, hot_runs, rss))

    print(f"\nmedian of {args.runs} runs of {args.seconds:.0f} s, {CONCURRENCY} connections, "
          f"{args.wallets} wallets (hot: 1 wallet)\n")
    print(f"{'':24} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>6} {'errors':>7} {'gen CPU':>8} "
          f"{'RSS MB/proc':>12} {'CPU ms/req: service':>20} {'db':>5}")
    for name, runs in (("pgbench spread", pg_spread), ("pgbench hot", pg_hot)):
        print(f"{name:24} {median(r[0] for r in runs):8.0f} {'':56} {median(r[1] for r in runs):5.2f}")
    pg_spread = median(r[0] for r in pg_spread)
    pg_hot = median(r[0] for r in pg_hot)
    summary = None
    for processes, spread, hot_runs, rss in rows:
        for name, runs, base in (("spread", spread, pg_spread), ("hot", hot_runs, pg_hot)):
            rate = median(r.rate for r in runs)
            p50 = median(r.percentile(50) for r in runs) * 1000
            p99 = median(r.percentile(99) for r in runs) * 1000
            errors = sum(n for r in runs for status, n in r.statuses.items() if status != 200)
            cpu = median(r.cpu / r.elapsed for r in runs)
            service_ms = median(r.service_ms for r in runs)
            database_ms = median(r.database_ms for r in runs)
            print(f"{f'http {name}, {processes} proc':24} {rate:8.0f} {p50:7.1f} {p99:7.1f} {rate / base:6.2f} "
                  f"{errors:7d} {cpu:8.0%} {max(rss):12.0f} {service_ms:20.2f} {database_ms:5.2f}")
            if name == "spread":
                summary = {"spread": rate / base, "p99": p99, "rss": max(rss)}
            else:
                summary["hot"] = rate / base
    print(f"\nratio spread={summary['spread']:.2f} hot={summary['hot']:.2f} "
          f"p99_ms={summary['p99']:.0f} rss_mb={summary['rss']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
