"""What the service itself costs per debit, with the database's part taken out.

    python -m loadtests.service_cost [--seconds 8] [--runs 3] [--pool-size 4]
    python -m loadtests.service_cost --instructions [--runs 3] [--requests 640]

Starts `python server.py` (on an embedded PostgreSQL of its own, or DATABASE_URL) with
one change: the worker thread's database call answers a fixed debit instead of running
`casino_debit`. Everything else is the shipped path — HTTP parsing, size and signature
checks, JSON validation, the hand-off to the worker thread and back, the access line and
the metrics. It then sends pre-signed debits over 32 keep-alive connections and prints
requests/s, p50/p99 and the CPU time the service's process used per answered request,
median of the runs.

With --instructions the server runs under valgrind's callgrind (`apt-get install -y
valgrind`) and each run sends --requests debits (after a first run that warms the
process): the instructions the process executed from the run's first request to its last
answer, over the requests, median of the runs. A count, not a time: it repeats to ~1 % on a
busy machine where the CPU time per request moves by a tenth (docs/performance.md). Key
reloads and reconciliation are switched off for it, so nothing but the requests runs.

Together with `loadtests.bench` (CPU per debit in the service and in PostgreSQL with the
real database) this splits a debit's cost into its HTTP side and its database side
(docs/performance.md). A measuring tool only: nothing is written to the database.
"""
import argparse
import asyncio
import glob
import os
import statistics
import subprocess
import sys
import tempfile

from db.config import database_from_environment
from sql.migrate import migrate
from service.demo_data import load_demo_data

from loadtests.debit_rate import debit_requests
from loadtests.http_load import CpuMeter, run_load

from .child_server import DEMO_KEY, ServerProcess

CONCURRENCY = 32
ANSWER = '{"transactionId":"t","balance":1,"currency":"USD"}'

# Run by the child process (in the project directory, as ServerProcess runs it): server.main
# with the worker's money call (the one-statement, autocommit door) answered at once; key
# loading and the rest still reach the database.
SERVE = f"""
import sys
import db.pool, server
from casino.wallet import Answer
answer = Answer(200, {ANSWER!r})
run = db.pool.Database._run
db.pool.Database._run = lambda self, autocommit, fn, *args: answer if autocommit else run(self, autocommit, fn, *args)
sys.exit(server.main(sys.argv[1:]))
"""

# The same under callgrind, its counters dumped into OUT on request (callgrind_control).
UNDER_CALLGRIND = """
import os, sys
os.execvp("valgrind", ["valgrind", "--tool=callgrind", "--callgrind-out-file={out}/callgrind.%p",
                       sys.executable, "-c", {serve!r}, *sys.argv[1:]])
"""


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m loadtests.service_cost", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--instructions", action="store_true", help="count instructions under callgrind")
    parser.add_argument("--requests", type=int, default=640, help="per run, with --instructions")
    args = parser.parse_args(argv)
    if args.instructions:
        return count_instructions(args)

    # The scratch directory (an embedded database, unless DATABASE_URL) goes at the end.
    with tempfile.TemporaryDirectory(prefix="casino-cost-") as scratch, \
            database_from_environment(scratch + "/pg") as database:
        migrate(database.dsn, log=lambda _: None)
        load_demo_data(database.dsn)    # the demo provider JAQPOT signs
        server = ServerProcess(database.dsn, args=["--pool-size", str(args.pool_size)], entry=["-c", SERVE]).start()
        try:
            host, port = server.url.split("//")[1].split(":")
            # The session tokens need not exist: the database is never asked.
            accounts = [(n + 1, f"cost-{n}") for n in range(1_000)]
            runs = []
            for run in range(1, args.runs + 1):
                lists = debit_requests(f"{host}:{port}", accounts, CONCURRENCY, int(args.seconds * 1_000),
                                       DEMO_KEY)
                with CpuMeter(server.proc.pid) as service:
                    result = asyncio.run(run_load(host, int(port), lists, args.seconds))
                per_request = service.used / max(1, len(result.latencies)) * 1e6
                runs.append((result.rate, result.percentile(50) * 1000, result.percentile(99) * 1000, per_request))
                print(f"run {run}: {result.rate:6.0f} req/s  p50 {runs[-1][1]:5.1f} ms  p99 {runs[-1][2]:5.1f} ms  "
                      f"service CPU {per_request:4.0f} us/request  statuses {result.statuses}", flush=True)
        finally:
            server.stop()
    rate, p50, p99, cpu = (statistics.median(column) for column in zip(*runs, strict=True))
    print(f"median of {args.runs}: {rate:.0f} req/s  p50 {p50:.1f} ms  p99 {p99:.1f} ms  "
          f"service CPU {cpu:.0f} us/request (database call stubbed, {CONCURRENCY} connections)")
    return 0


def count_instructions(args):
    with tempfile.TemporaryDirectory(prefix="casino-cost-") as scratch, \
            database_from_environment(scratch + "/pg") as database:
        migrate(database.dsn, log=lambda _: None)
        load_demo_data(database.dsn)
        entry = ["-c", UNDER_CALLGRIND.format(out=scratch, serve=SERVE)]
        server = ServerProcess(database.dsn, args=["--pool-size", str(args.pool_size)], entry=entry,
                               extra_env={"KEY_REFRESH_SECONDS": "86400", "RECONCILE_INTERVAL": "0"}).start()
        try:
            host, port = server.url.split("//")[1].split(":")
            accounts = [(n + 1, f"cost-{n}") for n in range(1_000)]
            per_connection = max(1, args.requests // CONCURRENCY)
            counts = []
            for run in range(args.runs + 1):     # run 0 warms the process
                lists = debit_requests(f"{host}:{port}", accounts, CONCURRENCY, per_connection, DEMO_KEY)
                _callgrind_control("--zero", server.proc.pid)
                result = asyncio.run(run_load(host, int(port), lists, 3600))
                instructions = _callgrind_control("--dump", server.proc.pid, scratch) / len(result.latencies)
                if run:
                    counts.append(instructions)
                    print(f"run {run}: {instructions:9.0f} instructions/request  statuses {result.statuses}", flush=True)
        finally:
            server.stop()
    print(f"median of {args.runs}: {statistics.median(counts):.0f} instructions per request in the service "
          f"(database call stubbed, {CONCURRENCY} connections, callgrind)")
    return 0


def _callgrind_control(action, pid, out=None):
    """--zero the process's counters, or --dump them and return the instructions counted."""
    subprocess.run(["callgrind_control", action, str(pid)], check=True, capture_output=True)
    if out is None:
        return 0
    newest = max(glob.glob(f"{out}/callgrind.{pid}*"), key=os.path.getmtime)
    with open(newest) as dump:
        return next(int(line.split()[1]) for line in dump if line.startswith(("summary:", "totals:")))


if __name__ == "__main__":
    sys.exit(main())
