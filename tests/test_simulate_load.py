"""Bursts of simulated rounds: they never starve other players' launches, and the excess
is refused at once (429) instead of queued into timeouts."""
import threading
import time

import pytest

from sql.migrate import migrate
from tests.databases import create_database
from tests.support import Api, Ledger, ServerProcess, parallel

LAUNCH_WITHIN = 1.0     # seconds, for every launch during the burst
REFUSED_WITHIN = 1.0    # seconds, for every 429


def timed(call):
    start = time.monotonic()
    response = call()
    return response, time.monotonic() - start


def burst(base_url, ledger, rounds, launches_at_least=5):
    """`rounds` simulateRound calls of different players at one instant, while other players
    launch one after another until every round has answered. Returns (rounds, launches),
    each a list of (response, seconds)."""
    game = ledger.launchable_game()
    players = [ledger.player(funds=5_000)[0] for _ in range(rounds)]
    others = [ledger.player()[0] for _ in range(5)]
    pending = [rounds]
    lock = threading.Lock()
    done = threading.Event()

    def simulate(user_id):
        def run():
            answer = timed(lambda: Api(base_url).client("simulateRound", {"userId": user_id, "gameId": game}))
            with lock:
                pending[0] -= 1
                if pending[0] == 0:
                    done.set()
            return answer
        return run

    def launch_meanwhile():
        api, timings = Api(base_url), []
        while not done.is_set() or len(timings) < launches_at_least:
            user_id = others[len(timings) % len(others)]
            timings.append(timed(lambda user_id=user_id: api.client("launchGame", {"userId": user_id, "gameId": game})))
        return timings

    *played, launched = parallel([*(simulate(p) for p in players), launch_meanwhile])
    return played, launched


def assert_launches_kept_answering(launched):
    assert [r.status_code for r, _ in launched] == [200] * len(launched)
    assert max(seconds for _, seconds in launched) < LAUNCH_WITHIN, sorted(s for _, s in launched)[-3:]


@pytest.mark.usefixtures("clean_audit")
def test_twenty_rounds_at_once_are_played_or_refused_at_once_and_launches_keep_answering(server, ledger):
    played, launched = burst(server.url, ledger, rounds=20)
    assert {r.status_code for r, _ in played} == {200, 429}
    for response, seconds in played:
        if response.status_code == 429:
            assert response.json()["error"]["code"] == "TOO_MANY_REQUESTS"
            assert seconds < REFUSED_WITHIN
        else:
            assert {s["status"] for s in response.json()["steps"]} == {200}
            assert response.json()["finalBalance"] == 5_200
    assert_launches_kept_answering(launched)


@pytest.fixture(scope="module")
def roomy_server():
    """More rounds allowed at once than the old shared client had connections (10)."""
    dsn = create_database("roomy")
    migrate(dsn, log=lambda _: None)
    server = ServerProcess(dsn, extra_env={"SIMULATE_CONCURRENCY": "12", "RECONCILE_INTERVAL": "0"}).start()
    yield server, Ledger(dsn)
    server.stop()


def test_rounds_holding_the_casinos_client_do_not_block_their_own_callbacks(roomy_server):
    # Each round holds a connection of the casino's client for its whole length while its
    # callbacks need the provider's: on one shared pool, 12 rounds starve themselves.
    server, ledger = roomy_server
    played, launched = burst(server.url, ledger, rounds=12)
    assert [r.status_code for r, _ in played] == [200] * 12
    assert all({s["status"] for s in r.json()["steps"]} == {200} for r, _ in played)
    assert_launches_kept_answering(launched)
    assert ledger.violations() == []
