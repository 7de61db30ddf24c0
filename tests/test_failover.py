"""Failover under load on a Patroni cluster (db.cluster): every process of the leader is
killed with SIGKILL mid-load, Patroni promotes the synchronous standby, and the service,
on the libpq multi-host DATABASE_URL, finds the new primary by itself. Then the old leader
rejoins as a standby, rewound by pg_rewind (its Patroni log says so), and a second
failover goes back to it.

Marked `failover` (about two minutes: Patroni's leader key lives ttl = 20 s): not part of
the default run; `.ci/run` runs it after the main suite (`pytest -m failover`)."""
import json
import shutil
import tempfile
import time

import pytest
import requests

from db.cluster import Cluster
from sql.migrate import migrate
from tests.fault_load import TimedLoad, scripts, transaction_ids
from tests.support import Ledger, ServerProcess, needs

pytestmark = [pytest.mark.failover, needs("etcd")]


@pytest.fixture
def cluster():
    directory = tempfile.mkdtemp(prefix="casino-cluster-")
    cluster = Cluster(directory)
    try:
        migrate(cluster.up(), log=lambda _: None)
        yield cluster
    finally:
        cluster.down()
        shutil.rmtree(directory, ignore_errors=True)


def fail_over_under_load(cluster, server, ledger):
    """One failover of the current leader under load; returns the timeline."""
    old = cluster.leader()
    load = TimedLoad(server.url, scripts(ledger))
    total = sum(len(c) for c in load.per_thread)
    load.start()
    try:
        deadline = time.monotonic() + 60
        while load.answered() < total // 4:
            assert time.monotonic() < deadline, "the load did not get going"
            time.sleep(0.05)
        killed_at = time.monotonic()
        cluster.kill_node(old)
        load.join()
    finally:
        load.join()
    new = cluster.leader()
    assert new is not None and new != old

    statuses = {status for _, status, _ in load.events}
    assert all(s is None or s < 500 or s == 503 for s in statuses), statuses    # no 5xx but 503
    outage = [t - killed_at for t, status, _ in load.events if status in (503, None)]
    # Every call answered 200 (before the kill, or after it) is on the new primary.
    on_new = transaction_ids(cluster.node_dsn(new))
    answered_ok = {json.loads(data)["transactionId"] for _, status, data in load.events if status == 200}
    assert answered_ok <= set(on_new)

    resent = []
    http = requests.Session()
    for kind, data in load.unanswered:      # the provider's resend: same id, same bytes
        response = load.send(http, kind, data)
        resent.append(response.status_code)
    assert all(200 <= s < 500 for s in resent), resent
    on_new = transaction_ids(cluster.node_dsn(new))
    assert all(n == 1 for n in on_new.values())              # each id moved money at most once
    assert Ledger(cluster.database_url()).violations() == []    # ledger's connection died with `old`
    return {"from": old, "to": new, "calls": total, "first_503": min(outage, default=None),
            "last_503": max(outage, default=None), "answered_503": len(outage), "resent": len(resent)}


def test_failover_under_load_then_rejoin_and_fail_back(cluster):
    url = cluster.database_url()
    ledger = Ledger(url)
    server = ServerProcess(url, extra_env={"DB_CALL_TIMEOUT": "5"}).start()
    try:
        first = fail_over_under_load(cluster, server, ledger)
        assert server.proc.poll() is None, "the service had to be restarted"

        # The old leader comes back as a standby of the new one.
        log_before = len(cluster.patroni_log(first["from"]))
        started = time.monotonic()
        cluster.start_node(first["from"])
        cluster.wait_healthy(120)
        rejoined = time.monotonic() - started
        roles = {m["name"]: m["role"] for m in cluster.members()}
        assert roles == {first["to"]: "leader", first["from"]: "sync_standby"}
        # A primary killed mid-write always has WAL past the point where the new timeline
        # branched off (its crash recovery's checkpoint, at least), so it can only follow
        # the new leader after pg_rewind has cut that off; Patroni logs the tool's exit code.
        rejoin_log = cluster.patroni_log(first["from"])[log_before:]
        assert "pg_rewind exit code=0" in rejoin_log, rejoin_log[-4000:]

        ledger = Ledger(url)                        # its connection died with the old leader
        second = fail_over_under_load(cluster, server, ledger)
        assert second["to"] == first["from"]
        assert server.proc.poll() is None
        rewind = [line for line in rejoin_log.splitlines() if "rewind" in line or "crash recovery" in line]
        print(f"\nfailover timeline: first {first}\nrejoined in {rejoined:.1f}s\n" + "\n".join(rewind)
              + f"\nsecond {second}")
    finally:
        server.stop()
