"""The measuring tools run end to end (tiny sizes): their figures are only worth what they do."""
import os
import re
import subprocess
import sys

from tests.support import ROOT


def run_module(module, args, database_dsn):
    env = dict(os.environ, DATABASE_URL=database_dsn)
    run = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    return run.stdout


def test_bench_compares_http_with_pgbench_and_ends_with_its_summary_line(database_dsn):
    out = run_module("loadtests.bench", ["--wallets", "40", "--seconds", "1", "--runs", "1", "--processes", "1"],
                     database_dsn)
    rows = {line[:24].strip(): line[24:].split() for line in out.splitlines()
            if line.startswith(("pgbench ", "http "))}
    assert set(rows) == {"pgbench spread", "pgbench hot", "http spread, 1 proc", "http hot, 1 proc"}, out
    for kind in ("spread", "hot"):
        rate, p50, p99, ratio, errors = (float(v) for v in rows[f"http {kind}, 1 proc"][:5])
        pgbench_rate = float(rows[f"pgbench {kind}"][0])
        assert rate > 0 and pgbench_rate > 0 and 0 < p50 <= p99 and errors == 0, out
        assert abs(ratio - rate / pgbench_rate) <= 0.02, out  # both rates are printed rounded
    assert re.fullmatch(r"ratio spread=\d+\.\d\d hot=\d+\.\d\d p99_ms=\d+ rss_mb=\d+", out.splitlines()[-1]), out


def test_service_cost_answers_every_debit_without_the_database(database_dsn):
    out = run_module("loadtests.service_cost", ["--seconds", "1", "--runs", "1"], database_dsn)
    run_line, median = out.splitlines()[-2:]
    assert re.search(r"statuses \{200: \d+\}$", run_line), out
    assert re.fullmatch(r"median of 1: \d+ req/s  p50 [\d.]+ ms  p99 [\d.]+ ms  service CPU \d+ us/request .*", median), out
