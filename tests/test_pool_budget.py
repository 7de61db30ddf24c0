"""DB_POOL_SIZE is the service's budget of database connections: `--processes 2` shares it
out, so a second process does not double the backends queueing on a hot wallet's row
lock (which made two processes slower than one: docs/performance.md)."""
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import psycopg2
import requests

from service.settings import read_settings, worker_arguments
from sql.migrate import migrate
from tests.databases import create_database
from tests.support import Ledger, ServerProcess, casino_headers


def backends(dsn):
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("""SELECT count(*) FROM pg_stat_activity
                           WHERE datname = current_database() AND application_name = 'casino'""")
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_two_processes_share_the_pool_size():
    dsn = create_database("pool_budget")
    migrate(dsn, log=lambda _: None)
    server = ServerProcess(dsn, args=["--processes", "2", "--pool-size", "4"]).start()
    try:
        ledger = Ledger(dsn)
        user_id, wallets = ledger.player(funds=10_000)
        token = ledger.session(user_id, wallets["USD"], ledger.game())

        def bets(_):
            # A new connection per call, so the kernel spreads the calls over both workers;
            # all on one wallet, so every worker has more calls waiting than connections.
            for _ in range(5):
                data = json.dumps({"sessionToken": token, "userId": user_id, "roundId": "r", "currency": "USD",
                                   "transactionId": uuid.uuid4().hex, "amount": 1}).encode()
                r = requests.post(server.url + "/casino/debit", data=data, timeout=30,
                                  headers={**casino_headers("debit", data), "Connection": "close"})
                assert r.status_code == 200, r.text

        with ThreadPoolExecutor(32) as pool:
            list(pool.map(bets, range(32)))
        assert len(server.proc_children()) == 2
        # Each worker opened its share (2) under that load, and kept it; with a pool of 4
        # each, the same load opens 8.
        assert backends(dsn) == 4
        assert ledger.balance(wallets["USD"])[0] == 10_000 - 32 * 5
    finally:
        server.stop()


def test_each_workers_share():
    """pool_size // processes, at least one each (so more workers than connections open one
    each); 0 processes is one per core; a worker is passed its share, not the budget."""
    def share(*argv, cores=2):
        with mock.patch("os.cpu_count", return_value=cores):
            settings = read_settings(list(argv), environ={})
            return settings.worker_pool_size, worker_arguments(settings, 8000)

    assert share("--pool-size", "4", "--processes", "2")[0] == 2
    assert share("--pool-size", "5", "--processes", "2")[0] == 2
    assert share("--pool-size", "4", "--processes", "8")[0] == 1
    assert share("--pool-size", "16", "--processes", "0", cores=8)[0] == 2
    assert share("--pool-size", "4")[0] == 4
    _, args = share("--pool-size", "8", "--processes", "4")
    assert args[args.index("--pool-size") + 1] == "2" and "--processes" not in args


def test_a_budget_below_the_workers_is_said_at_start():
    dsn = create_database("pool_budget_small")
    migrate(dsn, log=lambda _: None)
    server = ServerProcess(dsn, args=["--processes", "2", "--pool-size", "1"]).start()
    try:
        assert "DB_POOL_SIZE 1 is below the 2 workers: each opens one connection, 2 in all" in server.output()
    finally:
        server.stop()
