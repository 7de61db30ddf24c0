"""What replication and PgBouncer cost a debit: one generator, four databases, in turn.

    python -m loadtests.replication_cost [--wallets 2000] [--seconds 4] [--runs 3] [--pool-size 4]

Starts, each in a temporary directory removed at the end:

  single        an embedded PostgreSQL (db/embedded.py: Unix socket, no standby)
  sync          the Patroni cluster of db.cluster (etcd, two nodes), synchronous_mode on:
                a commit returns once the standby has flushed it
  async         the same cluster with synchronous_mode off (PATCH /config, what patronictl
                edit-config does), switched between runs: the commit returns at once
  pgbouncer     the same cluster, synchronous, the service reaching the leader through a
                PgBouncer in transaction pooling mode (db/pgbouncer.py, pool of 20)

and one service process (--processes 1, --pool-size connections) per database, on the
cluster's multi-host DATABASE_URL for sync and async. Then, --runs times, the targets in
turn (single, sync, pgbouncer, async) so that the shared machine's drift hits all alike:

  http          signed debits over 32 keep-alive connections (loadtests/http_load.py,
                the bench's generator), spread over --wallets wallets, --seconds each
  pgbench 32    the statement the debit handler runs (casino_debit), 32 clients
  pgbench 1     the same, one client: its latency is one debit's round trip and commit,
                the synchronous standby's flush included or not

It prints per target the median of the runs and their range: debits/s, p50, p99, the CPU
one debit costs the service process, the primary's PostgreSQL, the standby's PostgreSQL
and PgBouncer (all on this one machine: on two machines the standby's share is not the
primary's), pgbench's rate and its one-client latency.
"""
import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from statistics import median
from urllib.parse import urlsplit

import psycopg2
import psycopg2.extensions

from casino.sessions import session_idle_timeout
from db import embedded
from db.cluster import Cluster
from db.config import database_from_environment
from db.pgbouncer import PgBouncer
from sql.migrate import migrate

from loadtests.debit_rate import debit_requests
from loadtests.http_load import CpuMeter, run_load

from .child_server import BOX, ServerProcess
from .bench import OURS_SCRIPT, provider_of
from .provision import provision

CONCURRENCY = 32
TARGETS = ("single", "sync", "pgbouncer", "async")    # in turn; async last: one switch each way per run


class Target:
    def __init__(self, name, dsn, server, cpu_pids, accounts, key, first_user, script):
        self.name, self.dsn, self.server = name, dsn, server
        self.cpu_pids = cpu_pids            # {"primary"|"standby"|"pgbouncer": pid}
        self.accounts, self.key, self.first_user, self.script = accounts, key, first_user, script


def postmaster_pid(cluster, name):
    return int((cluster.dir / name / "data" / "postmaster.pid").read_text().split("\n", 1)[0])


def http_run(target, seconds):
    url = urlsplit(target.server.url)
    lists = debit_requests(url.netloc, target.accounts, CONCURRENCY, int(seconds * 1_000), target.key)
    meters = {"service": CpuMeter(target.server.proc.pid), **{k: CpuMeter(p) for k, p in target.cpu_pids.items()}}
    for meter in meters.values():
        meter.__enter__()
    result = asyncio.run(run_load(url.hostname, url.port, lists, seconds))
    for meter in meters.values():
        meter.__exit__(None, None, None)
    answered = max(1, len(result.latencies))
    figures = {"rate": result.rate, "p50": result.percentile(50) * 1000, "p99": result.percentile(99) * 1000,
               "errors": sum(n for status, n in result.statuses.items() if status != 200)}
    figures.update({f"{k} ms": m.used / answered * 1000 for k, m in meters.items()})
    return figures


def pgbench(target, clients, seconds):
    """(transactions/s, average latency ms) of casino_debit over target's database."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as file:
        file.write(target.script)
    try:
        run = subprocess.run(
            [str(embedded.bin_dir() / "pgbench"), "-n", "-M", "simple", "-c", str(clients), "-j", "2" if clients > 1 else "1",
             "-T", str(int(seconds)), "-f", file.name, "-D", f"wallets={len(target.accounts)}",
             "-D", f"first_user={target.first_user}", target.dsn],
            check=False, capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(file.name)
    tps = re.search(r"tps = ([\d.]+)", run.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", run.stdout)
    if not (tps and latency):
        raise RuntimeError(f"pgbench failed:\n{run.stdout}\n{run.stderr}")
    return float(tps.group(1)), float(latency.group(1))


SETTINGS = ("fsync", "synchronous_commit", "wal_sync_method", "shared_buffers", "wal_level",
            "synchronous_standby_names")


def settings(dsn):
    """What decides a commit's cost, as the server reports it: the rows must differ only
    in what they are meant to."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%s) ORDER BY name", (list(SETTINGS),))
            return " ".join(f"{name}={value!r}" for name, value in cur.fetchall())
    finally:
        conn.close()


def prepare(dsn, wallets):
    """Wallets with open sessions and the pgbench script naming them."""
    migrate(dsn, log=lambda _: None)
    tag = uuid.uuid4().hex[:8]
    accounts, key = provision(dsn, wallets, BOX, tag)
    script = OURS_SCRIPT.format(tag=tag, provider_id=provider_of(dsn, f"BENCH-{tag}"),
                                idle_seconds=session_idle_timeout().total_seconds())
    return accounts, key, accounts[0][0], script


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m loadtests.replication_cost", description=__doc__.split("\n")[0])
    parser.add_argument("--wallets", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pool-size", type=int, default=4, help="database connections of the service process")
    args = parser.parse_args(argv)

    scratch = tempfile.mkdtemp(prefix="casino-replication-cost-")
    os.chmod(scratch, 0o755)
    cluster = Cluster(f"{scratch}/cluster")
    bouncer = None
    servers = []
    try:
        with database_from_environment(f"{scratch}/single", database_url="") as single:
            print("starting the cluster ...", flush=True)
            cluster_url = cluster.up()
            leader = cluster.leader()
            standby = next(n for n in cluster.state["nodes"] if n != leader)
            bouncer = PgBouncer(f"{scratch}/bouncer", cluster.node_dsn(leader)).start()
            print(f"provisioning {args.wallets} wallets on each database ...", flush=True)
            on_single = prepare(single.dsn, args.wallets)
            on_cluster = prepare(cluster_url, args.wallets)
            server_args = ["--processes", "1", "--pool-size", str(args.pool_size)]

            def server(dsn):
                servers.append(ServerProcess(dsn, args=server_args).start())
                return servers[-1]
            replicated = {"primary": postmaster_pid(cluster, leader), "standby": postmaster_pid(cluster, standby)}
            cluster_server = server(cluster_url)
            dbname = psycopg2.extensions.parse_dsn(cluster.node_dsn(leader))["dbname"]
            targets = {
                "single": Target("single", single.dsn, server(single.dsn), {"primary": single.embedded.pid()},
                                 *on_single),
                "sync": Target("sync", cluster.node_dsn(leader), cluster_server, replicated, *on_cluster),
                "pgbouncer": Target("pgbouncer", bouncer.dsn(dbname), server(bouncer.dsn(dbname)),
                                    {**replicated, "pgbouncer": bouncer.proc.pid}, *on_cluster),
                "async": Target("async", cluster.node_dsn(leader), cluster_server, replicated, *on_cluster),
            }
            runs = {name: [] for name in TARGETS}
            for run in range(1, args.runs + 1):
                for name in TARGETS:
                    if cluster.synchronous != (name != "async"):
                        cluster.set_synchronous(name != "async")
                    target = targets[name]
                    if run == 1:
                        print(f"{name:9} {settings(target.dsn)}", flush=True)
                    figures = http_run(target, args.seconds)
                    figures["pgbench 32/s"], _ = pgbench(target, CONCURRENCY, args.seconds)
                    _, figures["pgbench 1 ms"] = pgbench(target, 1, args.seconds)
                    runs[name].append(figures)
                    print(f"run {run} {name:9} " + "  ".join(f"{k} {v:.2f}" for k, v in figures.items()), flush=True)
                    assert cluster.leader() == leader, "the cluster changed leader during the measurement"
    finally:
        for child in servers:
            child.stop()
        if bouncer is not None:
            bouncer.stop()
        cluster.down()
        shutil.rmtree(scratch, ignore_errors=True)
    print_table(runs, args)
    return 0


def print_table(runs, args):
    print(f"\nmedian (min-max) of {args.runs} runs of {args.seconds:.0f} s; http: {CONCURRENCY} connections, "
          f"{args.wallets} wallets, one service process with {args.pool_size} connections; CPU ms per debit")
    columns = ["rate", "p50", "p99", "errors", "service ms", "primary ms", "standby ms", "pgbouncer ms",
               "pgbench 32/s", "pgbench 1 ms"]
    print(f"{'':10}" + "".join(f"{c:>20}" for c in columns))
    for name, figures in runs.items():
        cells = []
        for column in columns:
            values = [f[column] for f in figures if column in f]
            if not values:
                cells.append(f"{'':>20}")
                continue
            spec = ".0f" if column in ("rate", "errors", "pgbench 32/s") else ".2f" if "ms" in column else ".1f"
            cells.append(f"{f'{median(values):{spec}} ({min(values):{spec}}-{max(values):{spec}})':>20}")
        print(f"{name:10}" + "".join(cells))


if __name__ == "__main__":
    sys.exit(main())
