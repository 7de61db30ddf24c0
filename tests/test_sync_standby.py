"""The synchronous standby goes away under load: no call waits for ever, none is answered
200 unless the standby has it, and the provider's resend settles every outcome once the
standby is back.

A commit on a primary whose synchronous_standby_names names a standby that is gone waits
for that standby for ever (statement_timeout does not cover the wait); cancelling the wait
leaves the commit on the primary with only a WARNING. The service cancels at
DB_CALL_TIMEOUT and answers 503, so the outcome stays the provider's to settle by resending.
"""
import json
import threading
import time

import requests

from db.watchdog import CANCEL_GRACE
from tests.fault_load import scripts
from tests.replication import SyncPair, sql
from tests.support import Ledger, ServerProcess, casino_headers

CALL_TIMEOUT = 2.0
# The longest a caller may wait: the bound, the grace after the cancel, and HTTP/scheduling.
LONGEST_WAIT = CALL_TIMEOUT + CANCEL_GRACE + 1.0
OUTAGE_CALLS = 2


def post(http, url, kind, data):
    started = time.monotonic()
    response = http.post(f"{url}/casino/{kind}", data=data, headers=casino_headers(kind, data), timeout=30)
    return response, time.monotonic() - started


def test_standby_gone_every_call_503_within_the_bound_then_resends_settle_on_the_standby():
    with SyncPair() as pair:
        ledger = Ledger(pair.primary_dsn)
        per_thread = scripts(ledger)
        server = ServerProcess(pair.primary_dsn, extra_env={"DB_CALL_TIMEOUT": str(CALL_TIMEOUT)}).start()
        lock = threading.Lock()
        answers = {}            # body -> (status, content), the last answer seen
        outage = []             # (status, seconds) of calls sent while the standby was down
        unsettled = []          # (kind, body) answered 5xx or not at all
        standby_back = threading.Event()
        # Every thread sends a few calls, waits while the standby is stopped, sends
        # OUTAGE_CALLS calls (each twice, as a provider resends after a 503), then waits until
        # the standby is back: no call is in flight when it stops or restarts.
        warmed = threading.Barrier(len(per_thread) + 1)
        parked = threading.Barrier(len(per_thread) + 1)

        def thread(calls):
            http = requests.Session()
            for i, (kind, data) in enumerate(calls):
                if i == 4:
                    warmed.wait(60)
                    warmed.wait(60)          # the standby is down now
                outage_call = 4 <= i < 4 + OUTAGE_CALLS
                response, took = post(http, server.url, kind, data)
                sent = [(response.status_code, took)]
                if outage_call:
                    response, took = post(http, server.url, kind, data)
                    sent.append((response.status_code, took))
                with lock:
                    answers[data] = (response.status_code, response.content)
                    if response.status_code >= 500:
                        unsettled.append((kind, data))
                    if outage_call:
                        outage.extend(sent)
                if i == 3 + OUTAGE_CALLS:
                    parked.wait(120)
                    standby_back.wait(120)

        threads = [threading.Thread(target=thread, args=(calls,)) for calls in per_thread]
        try:
            for t in threads:
                t.start()
            warmed.wait(60)
            pair.standby.stop()
            assert sql(pair.primary.dsn(), "SELECT count(*) FROM pg_stat_replication")[0][0] == 0
            warmed.wait(60)
            parked.wait(120)
            pair.standby.start()
            standby_back.set()
            for t in threads:
                t.join(180)

            assert len(outage) == 2 * OUTAGE_CALLS * len(per_thread)
            assert {status for status, _ in outage} == {503}, outage      # none 200, no other 5xx
            assert max(took for _, took in outage) <= LONGEST_WAIT, outage
            assert server.proc.poll() is None

            # The provider resends what it is unsure of, same bytes: each gets its definitive answer.
            http = requests.Session()
            for kind, data in unsettled:
                response, _ = post(http, server.url, kind, data)
                assert 200 <= response.status_code < 500, (response.status_code, response.text)
                answers[data] = (response.status_code, response.content)

            # Every answered call is on the standby: a 200 was never given for a commit it lacks.
            pair.standby.wait_caught_up(pair.primary.dsn())
            on_standby = {row[0] for row in sql(pair.standby.dsn(), "SELECT external_transaction_id "
                                                "FROM CASINO_TRANSACTIONS WHERE response_status IS NOT NULL")}
            answered = {json.loads(data)["transactionId"] for data, (status, _) in answers.items() if status < 500}
            assert len(answered) == sum(len(c) for c in per_thread)
            assert answered <= on_standby
            assert ledger.violations() == []
        finally:
            warmed.abort()
            parked.abort()
            standby_back.set()
            for t in threads:
                t.join(60)
            server.stop()
