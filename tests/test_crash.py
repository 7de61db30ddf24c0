"""Crashes under load: the server killed with SIGKILL mid-flight, and PostgreSQL stopped
and started again. Every call whose answer never came is resent (same id, same bytes),
as a provider would; nothing may be lost or moved twice."""
import json
import threading

import requests

from tests.fault_load import THREADS, scripts
from tests.support import Ledger, ServerProcess, casino_headers


class Load:
    """Threads sending their calls in order; records each answer, or that none came."""

    def __init__(self, url, per_thread, on_answer=None, backoff=None):
        self.url = url
        self.per_thread = per_thread
        self.on_answer = on_answer or (lambda status: None)
        # Like a provider backing off after a 5xx: a thread waits for this before going on.
        self.backoff = backoff
        self.answers = {}          # body -> (status, response bytes)
        self.unanswered = []       # (kind, body)
        self.lock = threading.Lock()
        self.answered = 0

    def send(self, http, kind, data):
        return http.post(f"{self.url}/casino/{kind}", data=data, timeout=10,
                         headers=casino_headers(kind, data))

    def _thread(self, calls):
        http = requests.Session()
        for kind, data in calls:
            try:
                response = self.send(http, kind, data)
            except requests.RequestException:
                with self.lock:
                    self.unanswered.append((kind, data))
                continue
            with self.lock:
                self.answers[data] = (response.status_code, response.content)
                self.answered += 1
            self.on_answer(response.status_code)
            if response.status_code >= 500:
                with self.lock:
                    self.unanswered.append((kind, data))
                if self.backoff is not None:
                    self.backoff.wait(30)

    def run(self):
        threads = [threading.Thread(target=self._thread, args=(calls,)) for calls in self.per_thread]
        for t in threads:
            t.start()
        return threads

    def resend_unanswered(self, url):
        """What a provider does after an outage: every uncertain call again, same bytes."""
        http = requests.Session()
        results = []
        for kind, data in self.unanswered:
            self.url = url
            response = self.send(http, kind, data)
            results.append(response.status_code)
            self.answers[data] = (response.status_code, response.content)
        return results


def assert_answers_are_what_was_stored(load, url):
    """Each answer a caller saw is the one the casino keeps: resending replays it exactly."""
    http = requests.Session()
    load.url = url
    for kind, data in [c for calls in load.per_thread for c in calls]:
        if data not in load.answers or load.answers[data][0] >= 500:
            continue
        status, content = load.answers[data]
        again = load.send(http, kind, data)
        assert (again.status_code, again.content) == (status, content)
        assert again.headers.get("Idempotent-Replay") == "true"


def test_sigkill_mid_flight_loses_nothing_and_moves_nothing_twice(database_dsn):
    ledger = Ledger(database_dsn)
    per_thread = scripts(ledger)
    total = sum(len(c) for c in per_thread)
    server = ServerProcess(database_dsn).start()
    halfway = threading.Event()
    load = Load(server.url, per_thread,
                on_answer=lambda status: halfway.set() if load.answered >= total // 3 else None)
    threads = load.run()
    try:
        assert halfway.wait(60), "the load did not get going"
        server.proc.kill()          # SIGKILL: no shutdown, requests cut mid-transaction
        server.proc.wait()
        for t in threads:
            t.join(60)
        assert load.unanswered, "the kill came after the load had finished"
        assert load.answered < total
    finally:
        server.stop()

    restarted = ServerProcess(database_dsn).start()
    try:
        statuses = load.resend_unanswered(restarted.url)
        assert all(200 <= s < 500 for s in statuses), statuses
        assert_answers_are_what_was_stored(load, restarted.url)
        assert ledger.violations() == []
        # Each of this test's transactionIds has exactly one ledger row (other tests of the
        # worker's database may reuse ids under their own providers).
        sent = [json.loads(data)["transactionId"] for calls in per_thread for _, data in calls]
        rows = ledger.query("""SELECT external_transaction_id, count(*) FROM CASINO_TRANSACTIONS
                               WHERE external_transaction_id = ANY(%s) GROUP BY 1""", sent)
        assert len(rows) == len(set(sent)) and {count for _, count in rows} == {1}
    finally:
        restarted.stop()


def test_database_restart_under_load(own_postgres):
    dsn = own_postgres.dsn("casino")
    per_thread = scripts(Ledger(dsn))
    total = sum(len(c) for c in per_thread)
    server = ServerProcess(dsn).start()
    started, outage_seen = threading.Event(), threading.Event()
    after_restart = []          # statuses answered once the database was back
    database_back = threading.Event()

    def on_answer(status):
        if load.answered >= total // 4:
            started.set()
        if status == 503:
            outage_seen.set()
        if database_back.is_set():
            after_restart.append(status)

    load = Load(server.url, per_thread, on_answer, backoff=database_back)
    try:
        threads = load.run()
        assert started.wait(60)
        own_postgres.stop()
        assert outage_seen.wait(30), "no request saw the outage"
        own_postgres.start()
        database_back.set()
        for t in threads:
            t.join(120)
        five_hundreds = [s for s, _ in load.answers.values() if s >= 500]
        assert set(five_hundreds) == {503}
        assert after_restart and 503 not in after_restart[THREADS:]   # at most the calls already in flight
        assert server.proc.poll() is None, "the service had to be restarted"

        statuses = load.resend_unanswered(server.url)
        assert all(200 <= s < 500 for s in statuses), statuses
        assert_answers_are_what_was_stored(load, server.url)
        assert Ledger(dsn).violations() == []
    finally:
        server.stop()
