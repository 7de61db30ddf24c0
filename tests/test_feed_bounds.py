"""A reconciliation holds at most FEED_MAX_ROUNDS rounds of a provider's feed and reads it
for at most FEED_DEADLINE seconds, every page included: a hostile or broken provider that
lists more, or pages without end, fails the reconciliation (502 PROVIDER_UNAVAILABLE, stored
as failed with why) and nothing of its feed is kept -- no round compared, no difference."""
import time
import uuid

import pytest

from casino.reconciliation import FEED_MAX_PAGES
from tests.fake_peer import FakePeer
from tests.reconciliation_support import Books, page

pytestmark = pytest.mark.usefixtures("clean_audit")


def rounds(n):
    return [{"roundId": f"r-{uuid.uuid4().hex[:10]}", "status": "settled", "currency": "USD", "stakes": 10,
             "refunds": 0, "wins": 5, "openedAt": "2025-01-01T00:00:00Z", "closedAt": None} for _ in range(n)]


@pytest.fixture(scope="module")
def bounded():
    """A server whose reconciliations hold 3 rounds of a feed and read it for 1 s, and a
    provider of its at a fake server."""
    books = Books(extra_env={"FEED_MAX_ROUNDS": "3", "FEED_DEADLINE": "1"})
    peer = FakePeer().start()
    game = books.ledger.launchable_game(endpoint=peer.url + "/provider")
    [(code,)] = books.ledger.query("""SELECT p.code FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p
                                      ON p.id = g.provider_id WHERE g.id = %s""", game)
    yield books, peer, code
    peer.stop()
    books.stop()


def failed(books, code, why):
    body = books.reconcile(provider=code, status=502)
    assert body["error"]["code"] == "PROVIDER_UNAVAILABLE" and why in body["error"]["message"], body
    stored = books.admin("GET", f"reconciliations/list?providerCode={code}&limit=1").json()["items"][0]
    assert (stored["status"], stored["roundsCompared"], stored["differenceCount"]) == ("failed", 0, 0)
    assert why in stored["failure"]
    assert books.ledger.query("SELECT count(*) FROM CASINO_RECONCILIATION_DIFFERENCES WHERE reconciliation_id = %s",
                              stored["reconciliationId"]) == [(0,)]
    return body


def test_a_feed_listing_more_rounds_than_the_bound_fails(bounded):
    books, peer, code = bounded
    peer.answers["/provider/rounds"] = [page(rounds(2), "p2"), page(rounds(2))]
    peer._given.clear()
    failed(books, code, "lists more than FEED_MAX_ROUNDS (3) rounds")
    # Three are held: the same feed cut to three is read whole.
    peer.answers["/provider/rounds"] = [page(rounds(2), "p2"), page(rounds(1))]
    peer._given.clear()
    assert books.reconcile(provider=code)["status"] == "complete"


def test_a_feed_that_pages_without_end_fails_at_the_deadline(bounded):
    books, peer, code = bounded
    # A new cursor on every page, each page taking the peer 2 ms: the whole feed
    # (FEED_MAX_PAGES pages, at least 20 s) takes longer than FEED_DEADLINE lets it read,
    # however fast this machine reads pages.
    peer.answers["/provider/rounds"] = [page([], f"c{n}") for n in range(FEED_MAX_PAGES)]
    peer._given.clear()
    peer.pause = 0.002
    try:
        began = time.monotonic()
        failed(books, code, "was not read whole within FEED_DEADLINE (1 s)")
        assert 1 <= time.monotonic() - began < 5
    finally:
        peer.pause = 0.0
    assert 1 < peer.received["/provider/rounds"] < FEED_MAX_PAGES
