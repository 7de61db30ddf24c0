"""What asynchronous replication loses when the primary's machine dies: the failover test's
run (tests/test_failover.py) on a cluster without a synchronous standby, once, by hand.

    python -m tests.async_failover [--maximum-lag-on-failover BYTES] [--wait 90] [--sync]

Starts etcd and two Patroni nodes (db.cluster) in a temporary directory with
synchronous_mode off, one service process on the multi-host DATABASE_URL, and the crash
test's load (8 threads, 1 440 debits/rollbacks/credits); a quarter of the way in it
SIGKILLs every process of the leader, lets the load run on, and waits up to --wait
seconds for Patroni to promote the replica. Then it prints:

  - how far behind the replica was just before the kill (the leader's pg_stat_replication)
    and, after it, by Patroni's own reckoning (its /cluster lag: the dead leader's last
    published WAL position minus the replica's);
  - what the surviving node's Patroni logged about promoting (or refusing to);
  - if the replica was promoted: the calls answered 200 that are missing on the new
    primary (acknowledged, then lost), the resends of the calls left without an answer,
    and casino.audit on the new primary.

--maximum-lag-on-failover raises Patroni's limit (default its own 1 MiB, as db.cluster
ships) for this run only, so that a lagging replica may promote and the loss be counted.
--sync runs the same with the synchronous standby, for comparison. Nothing is asserted:
whether commits are lost depends on a race (how much WAL was in flight at the kill).
Everything it starts is stopped and its directory removed at the end. It lives with the
tests, not the load tools, because it is the failover test's own run, made of its parts.
"""
import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psycopg2
import requests

from db.cluster import MAXIMUM_LAG_ON_FAILOVER, Cluster
from sql.migrate import migrate
from tests.fault_load import TimedLoad, scripts, transaction_ids
from tests.support import Ledger, ServerProcess

# What the surviving node's Patroni says about taking the lead, or not.
PATRONI_EVIDENCE = ("maximum replication lag", "promot", "acquired session lock", "Lock owner",
                    "failsafe", "healthiest", "timeline")


def replication_lag(dsn):
    """{'write'|'flush'|'replay': bytes the replica is behind the leader's current WAL}."""
    conn = psycopg2.connect(dsn, connect_timeout=3)
    try:
        with conn.cursor() as cur:
            cur.execute("""SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), write_lsn),
                                  pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn),
                                  pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), sync_state
                           FROM pg_stat_replication""")
            row = cur.fetchone()
    finally:
        conn.close()
    return None if row is None else {"write": int(row[0]), "flush": int(row[1]), "replay": int(row[2]),
                                     "sync_state": row[3]}


def patroni_lines(cluster, name, since):
    """How often each line of PATRONI_EVIDENCE's kind was written to name's Patroni log
    from offset `since` on (what was appended after the kill), timestamps cut off."""
    text = cluster.patroni_log(name)[since:]
    wanted = [line.split(": ", 1)[-1] for line in text.splitlines()
              if any(word.lower() in line.lower() for word in PATRONI_EVIDENCE)]
    return Counter(wanted)


class RecordingLoad(TimedLoad):
    """The failover test's load, keeping the error code of every refusal (4xx)."""

    def __init__(self, url, per_thread):
        super().__init__(url, per_thread)
        self.refusals = Counter()      # (kind, status, error code)

    def send(self, http, kind, data):
        response = super().send(http, kind, data)
        if 400 <= response.status_code < 500:
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = None
            with self.lock:
                self.refusals[f"{kind} {response.status_code} {code}"] += 1
        return response


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.async_failover", description=__doc__.split("\n")[0])
    parser.add_argument("--maximum-lag-on-failover", type=int, default=MAXIMUM_LAG_ON_FAILOVER,
                        help="bytes; Patroni's limit on the replica's lag for promotion (default 1 MiB)")
    parser.add_argument("--wait", type=float, default=90, help="seconds to wait for a promotion after the kill")
    parser.add_argument("--sync", action="store_true", help="with the synchronous standby, for comparison")
    args = parser.parse_args(argv)
    if shutil.which("etcd") is None and not Path("/usr/bin/etcd").exists():
        parser.error("etcd is not installed: apt-get install -y etcd-server")

    directory = tempfile.mkdtemp(prefix="casino-async-failover-")
    cluster = Cluster(directory, synchronous=args.sync, maximum_lag_on_failover=args.maximum_lag_on_failover)
    server = None
    try:
        print(f"cluster ({'synchronous' if args.sync else 'asynchronous'}, maximum_lag_on_failover "
              f"{args.maximum_lag_on_failover} bytes) ...", flush=True)
        migrate(cluster.up(), log=lambda _: None)
        url = cluster.database_url()
        server = ServerProcess(url, extra_env={"DB_CALL_TIMEOUT": "5"}).start()
        report = fail_over(cluster, server, Ledger(url), args.wait)
    finally:
        if server is not None:
            server.stop()
        cluster.down()
        shutil.rmtree(directory, ignore_errors=True)
    print(json.dumps(report, indent=2))
    return 0


def fail_over(cluster, server, ledger, wait):
    old = cluster.leader()
    survivor = next(m["name"] for m in cluster.members() if m["name"] != old)
    load = RecordingLoad(server.url, scripts(ledger))
    total = sum(len(c) for c in load.per_thread)
    load.start()
    try:
        deadline = time.monotonic() + 60
        while load.answered() < total // 4:
            if time.monotonic() > deadline:
                raise RuntimeError("the load did not get going")
            time.sleep(0.05)
        before_kill = replication_lag(cluster.node_dsn(old))
        log_mark = len(cluster.patroni_log(survivor))
        killed_at = time.monotonic()
        cluster.kill_node(old)
        # Patroni dies first, its PostgreSQL a moment later: commits until then count.
        dead_at = time.monotonic()
        answered_before_kill = load.answered()

        # Patroni's lag after the kill: the dead leader's last published position minus
        # the replica's, as the survivor reports it -- what it compares with the limit.
        patroni_lag = []
        new = None
        while time.monotonic() < killed_at + wait:
            members = cluster.members()
            lags = [m.get("lag") for m in members if m["name"] == survivor]
            if lags and lags[0] not in patroni_lag:
                patroni_lag.append(lags[0])
            new = cluster.leader()
            if new is not None and new != old:
                break
            time.sleep(0.5)
        promoted_after = time.monotonic() - killed_at if new not in (None, old) else None
    finally:
        load.join()

    report = {"mode": "synchronous" if cluster.synchronous else "asynchronous",
              "maximum_lag_on_failover": cluster.maximum_lag_on_failover,
              "calls": total, "answered_before_kill": answered_before_kill,
              "replica_behind_at_kill_bytes": before_kill,
              "patroni_lag_after_kill": patroni_lag,
              "promoted_after_s": None if promoted_after is None else round(promoted_after, 1),
              "survivor_patroni_log": dict(patroni_lines(cluster, survivor, log_mark))}
    statuses = Counter(str(status) for _, status, _ in load.events)
    report["statuses"] = dict(statuses)
    if promoted_after is None:
        report["verdict"] = f"no new primary within {wait:.0f} s: the service stayed at 503"
        return report

    on_new = transaction_ids(cluster.node_dsn(new))
    ok = [(t, json.loads(data)["transactionId"]) for t, status, data in load.events if status == 200]
    lost = sorted(tid for _, tid in ok if tid not in on_new)
    lost_before_death = sum(1 for t, tid in ok if tid not in on_new and t <= dead_at)
    resent = Counter()
    http = requests.Session()
    for kind, data in load.unanswered:      # the provider's resend: same id, same bytes
        resent[str(load.send(http, kind, data).status_code)] += 1
    report.update({
        "answered_200": len(ok),
        "answered_200_missing_on_new_primary": len(lost),
        "of_which_answered_before_the_old_primary_died": lost_before_death,
        "kill_took_s": round(dead_at - killed_at, 2),
        "missing_ids": lost[:20],
        "resends": dict(resent),
        "refusals": dict(load.refusals),
        "applied_twice": sum(1 for n in transaction_ids(cluster.node_dsn(new)).values() if n > 1),
        "audit_violations": len(Ledger(cluster.database_url()).violations()),
    })
    return report


if __name__ == "__main__":
    sys.exit(main())
