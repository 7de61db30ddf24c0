"""The debit path against the least a debit can cost, in one command.

    python -m loadtests.bench [--wallets 10000] [--seconds 8] [--runs 3] [--processes 1 2]
                              [--pool-size 4] [--peer URL (--peer-dsn DSN | --peer-accounts FILE)]
                              [--pgbouncer]

Starts an embedded PostgreSQL of its own in a temporary directory, removed at the end (or
uses --data-dir, kept, or DATABASE_URL), provisions --wallets funded wallets with open
sessions twice, all marked origin "bench" and retired at the end (sessions closed, players
disabled, the bench's provider and games disabled -- see casino/synthetic.py):

  for pgbench        in the database, with the back office's functions (provision.py): a
                     provider of its own, sessions named by number for pgbench's script;
  for HTTP           through a server's API, as loadtests/debit_rate.py does against any
                     deployment (loadtests/client.py: a bench key made with the server's
                     OPERATOR_KEY, players, wallets, deposits, POST /casino/launchGame), on
                     a game of the hosted demo provider JAQPOT made for the run (provision.py:
                     the only provider a server hosts; disabled at the end);

and next to them two yardsticks in a schema of their own (bench_reference_<tag>, dropped
at the end):

  reference debit    reference_debit() (reference.sql): the least an idempotent
                     debit can do -- one conditional balance update, one ledger insert
                     ON CONFLICT DO NOTHING that stores the answer; as many wallets as ours
  reference service  reference_service.py: one Tornado handler on the
                     same thread-pooled psycopg2 (pool and threads sized like ours) that
                     checks the same v2 HMAC over the raw body, parses the same JSON and
                     calls the reference debit

Then, median of --runs, ours and the reference taken turn about (ours, reference, ours,
reference, ...) so that the machine's drift hits both alike:

  pgbench spread/hot      the very statement the debit handler runs (casino_debit), and
                          reference_debit, simple protocol like psycopg2, 32 clients, over
                          the wallets and on one wallet
  http spread/hot         signed debits over 32 keep-alive connections from the same
                          generator, the same pre-signed requests sent to ours and to the
                          reference service; ours with each --processes value (the
                          reference is one process, run beside the first value)
  http spread/hot, peer   with --peer: any other server speaking our wire protocol for
                          /casino/debit, driven the same way (its wallets: --peer-dsn, a
                          database of our schema that the peer serves, provisioned like ours
                          and its key sealed with this environment's KEYS_ENCRYPTION_KEY; or
                          --peer-accounts, a JSON file {"kid", "secret", "accounts":
                          [[userId, sessionToken], ...]} of funded accounts with open sessions)
  http spread/hot,        with --pgbouncer: ours again, first --processes value, its database
  pgbouncer               reached through a PgBouncer in transaction pooling mode
                          (db/pgbouncer.py, pool of 20) on the same wallets, in turn with
                          the rows above; PgBouncer's own CPU is in neither CPU column

It prints req/s, p50/p99, each row's rate over its reference's ("vs ref"), errors, the
generator's CPU share, RSS per process, and the CPU one debit costs in the service's
processes and in PostgreSQL's (embedded database only), and ends with one line:

  ratio db=<d.dd> http=<h.hh> hot=<t.tt> p99=<p.pp>

db: ours / reference under pgbench, spread; http and hot: ours / reference service, spread
and on one wallet; p99: ours / reference service, spread -- ours with the first --processes
value. Above 1 is faster than the reference for db/http/hot, slower for p99.
"""
import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from urllib.parse import urlsplit

import psutil
import psycopg2
import psycopg2.extensions

from casino.sessions import session_idle_timeout
from casino.synthetic import describe
from db import embedded
from db.config import database_from_environment
from loadtests.client import Run
from loadtests.debit_rate import debit_requests, provision_over_api
from loadtests.http_load import CpuMeter, run_load
from loadtests.local_server import stop_child
from wire.secrets_env import read_secrets

from . import reference_service
from .child_server import BOX, DEMO_KEY, OPERATOR_KEY, ServerProcess
from .provision import FUNDS, hosted_game, provision, retire, retire_hosted_game

ROOT = Path(__file__).resolve().parent.parent.parent
CONCURRENCY = 32
KINDS = ("spread", "hot")

# {names} are filled in by Python; :names are pgbench variables.
OURS_SCRIPT = """\\set n random(0, :wallets - 1)
\\set t random(1, 9000000000000000)
SELECT * FROM casino_debit({provider_id}, 'bench-{tag}-' || :n, :first_user + :n, 'pgb-' || :client_id || '-' || :t, 'pgb-round', 1, 'USD', 'bench', '{idle_seconds} seconds'::interval);
"""
# The reference wallets carry our users' ids, so :first_user + :n names the same wallet.
REFERENCE_SCRIPT = """\\set n random(0, :wallets - 1)
\\set t random(1, 9000000000000000)
SELECT * FROM reference_debit(:first_user + :n, 'pgb-' || :client_id || '-' || :t, 1, 'USD');
"""


def pgbench(dsn, db_pid, script, first_user, wallets, seconds, env=None):
    """(transactions/s, PostgreSQL CPU ms per transaction)."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as file:
        file.write(script)
    try:
        with CpuMeter(db_pid) as database:
            run = subprocess.run(
                [str(embedded.bin_dir() / "pgbench"), "-n", "-M", "simple", "-c", str(CONCURRENCY),
                 "-j", "2", "-T", str(int(seconds)), "-f", file.name, "-D", f"wallets={wallets}",
                 "-D", f"first_user={first_user}", dsn],
                capture_output=True, text=True, timeout=seconds + 60, env=env)
    finally:
        os.unlink(file.name)
    match = re.search(r"tps = ([\d.]+)", run.stdout)
    if not match:
        raise RuntimeError(f"pgbench failed:\n{run.stdout}\n{run.stderr}")
    tps = float(match.group(1))
    return {"rate": tps, "database_ms": database.used / max(1.0, tps * seconds) * 1000 if db_pid else None}


def provider_of(dsn, code):
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT id FROM CASINO_GAME_PROVIDERS WHERE code = %s", (code,))
            return cur.fetchone()[0]
    finally:
        conn.close()


def http_run(url, service_pid, db_pid, lists, seconds):
    """One run of the generator against url; the CPU of service_pid's processes and of the
    database's per answered request (None: not measured)."""
    target = urlsplit(url)
    with CpuMeter(service_pid) as service, CpuMeter(db_pid) as database:
        result = asyncio.run(run_load(target.hostname, target.port, lists, seconds))
    answered = max(1, len(result.latencies))
    return {"rate": result.rate, "p50": result.percentile(50) * 1000, "p99": result.percentile(99) * 1000,
            "errors": sum(n for status, n in result.statuses.items() if status != 200),
            "gen": result.cpu / result.elapsed,
            "service_ms": service.used / answered * 1000 if service_pid else None,
            "database_ms": database.used / answered * 1000 if db_pid else None,
            "rss": rss_mb(service_pid) if service_pid else None}


def rss_mb(pid):
    parent = psutil.Process(pid)
    workers = parent.children() or [parent]
    return max(p.memory_info().rss for p in workers) / 2**20


class ReferenceService:
    """`python -m loadtests.postgres.reference_service` as a child process, on a port the OS picks."""

    def __init__(self, dsn, schema, key, pool_size):
        kid, secret = key
        self.command = [sys.executable, "-m", "loadtests.postgres.reference_service", "--port", "0", "--dsn", dsn,
                        "--schema", schema, "--kid", kid, "--pool-size", str(pool_size)]
        self.env = dict(os.environ, REFERENCE_SECRET=secret.decode(), PYTHONUNBUFFERED="1")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening"):
            self.stop()
            raise RuntimeError(f"the reference service did not start: {line!r}")
        self.url = line.split()[1]
        return self

    def stop(self):
        stop_child(self.proc)


def peer_wallets(args, tag):
    """([(userId, sessionToken)], (kid, secret)) of the peer's funded accounts."""
    if args.peer_dsn:
        return provision(args.peer_dsn, args.wallets, read_secrets().box, tag)
    data = json.loads(Path(args.peer_accounts).read_text())
    return [(int(user), str(token)) for user, token in data["accounts"]], (data["kid"], data["secret"].encode())


def summarise(runs):
    """The median of each figure over the runs (rss: the largest; errors: all of them); None
    where not measured."""
    def over_runs(name):
        values = [run[name] for run in runs]
        return None if None in values else {"rss": max, "errors": sum}.get(name, median)(values)
    return {name: over_runs(name) for name in runs[0]}


def ratio(a, b):
    return a / b if b else float("nan")


def print_table(rows, runs, seconds, wallets):
    print(f"\nmedian of {runs} runs of {seconds:.0f} s, {CONCURRENCY} connections, "
          f"{wallets} wallets (hot: 1 wallet); vs ref: the row's rate over its reference's\n")
    print(f"{'':28} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'vs ref':>6} {'errors':>7} {'gen CPU':>8} "
          f"{'RSS MB/proc':>12} {'CPU ms/req: service':>20} {'db':>5}")

    def cell(row, name, spec, width):
        value = row.get(name)
        return f"{value:{width}{spec}}" if value is not None else " " * width

    for name, row in rows.items():
        reference = rows.get(reference_of(name))
        versus = ratio(row["rate"], reference["rate"]) if reference is not None and reference is not row else None
        print(f"{name:28} {row['rate']:8.0f} {cell(row, 'p50', '.1f', 7)} {cell(row, 'p99', '.1f', 7)} "
              f"{f'{versus:6.2f}' if versus is not None else ' ' * 6} {cell(row, 'errors', 'd', 7)} "
              f"{cell(row, 'gen', '.0%', 8)} {cell(row, 'rss', '.0f', 12)} {cell(row, 'service_ms', '.2f', 20)} "
              f"{cell(row, 'database_ms', '.2f', 5)}")


def reference_of(name):
    """'pgbench hot' -> 'pgbench hot, reference'; 'http spread, 2 proc' -> 'http spread, reference'."""
    return name.split(",")[0] + ", reference"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--wallets", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--pool-size", type=int, default=4,
                        help="database connections of ours (shared out among its processes) and of the reference's")
    parser.add_argument("--data-dir", default=None,
                        help="embedded data directory, kept (default: a temporary one, removed at the end)")
    parser.add_argument("--peer", metavar="URL", help="also drive this server's /casino/debit")
    peer = parser.add_mutually_exclusive_group()
    peer.add_argument("--peer-dsn", help="the peer's database (our schema): its wallets are provisioned there")
    peer.add_argument("--peer-accounts", metavar="FILE",
                      help='JSON {"kid", "secret", "accounts": [[userId, sessionToken], ...]} at the peer')
    parser.add_argument("--pgbouncer", action="store_true",
                        help="also drive ours with its database behind PgBouncer (transaction pooling)")
    args = parser.parse_args(argv)
    if bool(args.peer) != bool(args.peer_dsn or args.peer_accounts):
        parser.error("--peer goes with --peer-dsn or --peer-accounts: where its wallets come from")

    scratch = None if args.data_dir else tempfile.mkdtemp(prefix="casino-bench-")
    try:
        with database_from_environment(args.data_dir or scratch + "/pg") as database:
            rows = measure(args, database)
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)

    print_table(rows, args.runs, args.seconds, args.wallets)
    first = args.processes[0]
    ours, reference = rows[f"http spread, {first} proc"], rows["http spread, reference"]
    print(f"\nratio db={ratio(rows['pgbench spread']['rate'], rows['pgbench spread, reference']['rate']):.2f} "
          f"http={ratio(ours['rate'], reference['rate']):.2f} "
          f"hot={ratio(rows[f'http hot, {first} proc']['rate'], rows['http hot, reference']['rate']):.2f} "
          f"p99={ratio(ours['p99'], reference['p99']):.2f}")
    return 0


def measure(args, database):
    """Every run; {row name: the medians of its runs}, in the order printed."""
    from sql.migrate import migrate
    migrate(database.dsn, log=lambda _: None)
    # PostgreSQL's CPU is read from the embedded server's processes; not for DATABASE_URL.
    db_pid = database.embedded.pid() if database.embedded else None
    tag = uuid.uuid4().hex[:8]
    print(f"provisioning {args.wallets} wallets for pgbench in the database, {args.wallets} for HTTP through "
          "the API, and the reference's ...", flush=True)
    accounts, _ = provision(database.dsn, args.wallets, BOX, tag)     # pgbench's
    first_user = accounts[0][0]
    assert [a[0] for a in accounts] == list(range(first_user, first_user + args.wallets)), "user ids not contiguous"
    game_id = hosted_game(database.dsn, tag)
    # A server of ours for provisioning over the API, and for retiring over it at the end.
    control = ServerProcess(database.dsn).start()
    run = Run(control.url, OPERATOR_KEY, "bench")     # a tag of its own: its players are named by it
    schema = f"bench_reference_{tag}"
    runs = {}
    bouncer = None
    peer = None
    peer_tag = uuid.uuid4().hex[:8]     # its own: --peer-dsn may be this very database
    try:
        # HTTP's wallets: a bench key's players on a game with bets from 1 (the debits' amount).
        http_accounts, _ = provision_over_api(run.start(), args.wallets, game_id)
        reference_service.install(database.dsn, schema, [user for user, _ in accounts + http_accounts], FUNDS)
        if args.peer:
            print(f"provisioning {args.wallets} wallets at the peer ..." if args.peer_dsn
                  else "reading the peer's accounts ...", flush=True)
            peer = Target("peer", args.peer, None, *peer_wallets(args, peer_tag))

        print(f"pgbench, {CONCURRENCY} clients, {args.runs} x {args.seconds:.0f} s, ours and the reference in turn ...",
              flush=True)
        scripts = {"": (OURS_SCRIPT.format(tag=tag, provider_id=provider_of(database.dsn, f"BENCH-{tag}"),
                                           idle_seconds=session_idle_timeout().total_seconds()), None),
                   ", reference": (REFERENCE_SCRIPT,
                                   dict(os.environ, PGOPTIONS=reference_service.search_path_option(schema)))}
        for _ in range(args.runs):
            for kind in KINDS:
                for who, (script, env) in scripts.items():
                    runs.setdefault(f"pgbench {kind}{who}", []).append(pgbench(
                        database.dsn, db_pid, script, first_user, args.wallets if kind == "spread" else 1,
                        args.seconds, env))

        if args.pgbouncer:
            from db.pgbouncer import PgBouncer
            bouncer_dir = tempfile.mkdtemp(prefix="casino-bench-pgbouncer-")
            os.chmod(bouncer_dir, 0o755)
            bouncer = PgBouncer(f"{bouncer_dir}/bouncer", database.dsn).start()
        for processes in args.processes:
            beside = processes == args.processes[0]
            print(f"http, {CONCURRENCY} connections, {processes} process(es)"
                  + (f", the reference service{' and the peer' if peer else ''} in turn" if beside else "") + " ...",
                  flush=True)
            server = ServerProcess(database.dsn, args=["--processes", str(processes),
                                                       "--pool-size", str(args.pool_size)]).start()
            reference = bounced = None
            try:
                targets = [Target(f"{processes} proc", server.url, server.proc.pid, http_accounts, DEMO_KEY)]
                if beside:
                    reference = ReferenceService(database.dsn, schema, DEMO_KEY, args.pool_size).start()
                    targets.append(Target("reference", reference.url, reference.proc.pid))
                    targets += [peer] if peer else []
                    if bouncer:
                        dbname = psycopg2.extensions.parse_dsn(database.dsn)["dbname"]
                        bounced = ServerProcess(bouncer.dsn(dbname), args=[
                            "--processes", str(processes), "--pool-size", str(args.pool_size)]).start()
                        targets.append(Target("pgbouncer", bounced.url, bounced.proc.pid,
                                              http_accounts, DEMO_KEY))
                http_runs(targets, db_pid, args, runs)
            finally:
                if reference is not None:
                    reference.stop()
                for child in (server, bounced):
                    if child is not None:
                        child.stop()    # its log file goes with it
    finally:
        if bouncer is not None:
            bouncer.stop()
            shutil.rmtree(bouncer_dir, ignore_errors=True)
        reference_service.uninstall(database.dsn, schema)
        # On the service's own database (--data-dir, DATABASE_URL) what the bench made must
        # not stay in play: its sessions closed, its players, provider and games disabled.
        # A scratch database goes whole; retiring it too costs a few statements.
        print(f"retired: {describe(retire(database.dsn, accounts, tag))}", flush=True)
        if run.api is not None:
            print(f"retired over the API: {describe(run.finish())}", flush=True)
        retire_hosted_game(database.dsn, game_id, tag)
        control.stop()
        if peer is not None and args.peer_dsn:
            print(f"retired at the peer: {describe(retire(args.peer_dsn, peer.accounts, peer_tag))}", flush=True)

    order = [f"pgbench {kind}{who}" for kind in KINDS for who in scripts]
    first = args.processes[0]
    order += [f"http {kind}, {who}" for kind in KINDS
              for who in (f"{first} proc", "reference", "peer", "pgbouncer")]
    order += [f"http {kind}, {p} proc" for p in args.processes[1:] for kind in KINDS]
    return {name: summarise(runs[name]) for name in order if name in runs}


@dataclass
class Target:
    """A server the generator drives. accounts None: it takes the requests made for the
    target before it (the reference service answers ours' very bytes)."""
    label: str
    url: str
    pid: int | None           # its processes' CPU and RSS are measured (None: not ours to measure)
    accounts: list | None = None    # [(userId, sessionToken)]; the hot runs take the first
    key: tuple | None = None        # (kid, secret) the requests are signed with


def http_runs(targets, db_pid, args, runs):
    """--runs runs of each kind, the targets in turn; each run's figures added to runs."""
    for _ in range(args.runs):
        for kind in KINDS:
            lists = None
            for target in targets:
                if target.accounts is not None:
                    lists = debit_requests(urlsplit(target.url).netloc,
                                           target.accounts if kind == "spread" else target.accounts[:1],
                                           CONCURRENCY, int(args.seconds * 1_000), target.key)
                runs.setdefault(f"http {kind}, {target.label}", []).append(
                    http_run(target.url, target.pid, db_pid if target.pid else None, lists, args.seconds))
            del lists


if __name__ == "__main__":
    sys.exit(main())
