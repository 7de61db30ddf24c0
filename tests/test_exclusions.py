"""Time-outs and self-exclusions (POST /casino/admin/players/{userId}/exclusions): effective at
once, open sessions included (a bet sent after the exclusion's answer is refused, also in a
race); launches, bets and deposits refused with 403 PLAYER_EXCLUDED; late payouts and
refunds land and withdrawals are allowed; never shortened or lifted early, only extended;
its length within the jurisdiction's bounds."""
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from casino import operators
from tests.support import Bettor, back_office, error_code, market, parallel

pytestmark = pytest.mark.usefixtures("clean_audit")

T0 = datetime(2026, 4, 14, 12, 0, tzinfo=UTC)


def rfc3339(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def player(api, ledger, clock):
    clock.set(T0)
    return Bettor(api, ledger, funds=10_000)


def launch(api, player, game):
    return api.client("launchGame", {"userId": player.user_id, "gameId": game, "currency": "USD"})


def test_a_time_out_takes_effect_at_once_on_open_sessions(api, ledger, player):
    assert player.bet("before", 1_000, round_id="r1").status_code == 200
    assert player.bet("refund-me", 500, round_id="r2").status_code == 200
    until = T0 + timedelta(days=2)
    r = player.exclude("time-out", rfc3339(until))
    assert r.status_code == 201, r.text
    assert r.json() == {"userId": player.user_id, "kind": "time-out", "from": rfc3339(T0), "until": rfc3339(until),
                        "sessionsClosed": 1}
    refused = player.bet("after", 100, round_id="r3")
    assert (refused.status_code, refused.json()["error"]) == (403, {
        "code": "PLAYER_EXCLUDED", "message": f"the player is excluded until {rfc3339(until)}"})
    assert player.bet("after", 100, round_id="r3").headers["Idempotent-Replay"] == "true"
    # Late payouts and refunds land; withdrawals are allowed; deposits are not.
    assert player.pay("late-win", 2_500, round_id="r1").status_code == 200
    assert player.refund("late-refund", "refund-me", round_id="r2").status_code == 200
    assert player.cash("withdrawal", 1_000).status_code == 200
    deposit = player.cash("deposit", 1_000, "during-time-out")
    assert (deposit.status_code, error_code(deposit)) == (403, "PLAYER_EXCLUDED")
    assert player.cash("deposit", 1_000, "during-time-out").headers["Idempotent-Replay"] == "true"
    assert player.balance() == 10_000 - 1_000 + 2_500 - 1_000
    game = ledger.launchable_game()
    r = launch(api, player, game)
    assert (r.status_code, error_code(r)) == (403, "PLAYER_EXCLUDED")
    view = back_office(api, "GET", f"players/{player.user_id}/sessions").json()["items"]
    assert [s["state"] for s in view] == ["closed"]      # the refused launch opened none


def test_the_exclusion_ends_when_it_says(api, ledger, player, clock):
    until = T0 + timedelta(days=1)
    assert player.exclude("time-out", rfc3339(until)).status_code == 201
    clock.set(until - timedelta(seconds=1))
    game = ledger.launchable_game()
    assert error_code(launch(api, player, game)) == "PLAYER_EXCLUDED"
    clock.set(until)
    launched = launch(api, player, game)
    assert launched.status_code == 200, launched.text
    assert player.cash("deposit", 100).status_code == 200
    view = back_office(api, "GET", f"players/{player.user_id}/exclusions").json()
    assert (view["excluded"], view["kind"], view["until"]) == (False, None, None)


def test_an_exclusion_cannot_be_shortened_or_lifted_only_extended(api, player, clock):
    until = T0 + timedelta(days=10)
    assert player.exclude("time-out", rfc3339(until)).status_code == 201
    clock.set(T0 + timedelta(hours=1))
    for shorter in (until - timedelta(days=1), T0 + timedelta(days=1, hours=2)):
        r = player.exclude("time-out", rfc3339(shorter))
        assert (r.status_code, error_code(r)) == (409, "EXCLUSION_ACTIVE")
        assert r.json()["error"]["message"] == (f"a time-out runs until {rfc3339(until)}: it can be extended, "
                                                "never shortened or lifted")
    longer = until + timedelta(days=5)
    r = player.exclude("time-out", rfc3339(longer))
    assert (r.status_code, r.json()["until"]) == (201, rfc3339(longer))
    # A self-exclusion may follow a time-out; never the other way round.
    assert player.exclude("self-exclusion", None).status_code == 201
    r = player.exclude("time-out", rfc3339(T0 + timedelta(days=30)))
    assert (r.status_code, error_code(r)) == (409, "EXCLUSION_ACTIVE")
    view = back_office(api, "GET", f"players/{player.user_id}/exclusions").json()
    assert (view["excluded"], view["kind"], view["until"]) == (True, "self-exclusion", None)
    assert [(e["kind"], e["until"], e["previousUntil"]) for e in view["items"]] == [
        ("self-exclusion", None, rfc3339(longer)), ("time-out", rfc3339(longer), rfc3339(until)),
        ("time-out", rfc3339(until), None)]


def test_an_indefinite_self_exclusion(player):
    r = player.exclude("self-exclusion", None)
    assert (r.status_code, r.json()["until"]) == (201, None)
    refused = player.bet("b", 1)
    assert refused.json()["error"]["message"] == "the player is excluded indefinitely"
    bad = player.exclude("time-out", None)
    assert (bad.status_code, error_code(bad)) == (400, "INVALID_REQUEST")


def test_lengths_follow_the_jurisdiction(api, ledger, clock):
    clock.set(T0)
    briton = Bettor(api, ledger, jurisdiction="GB")
    r = briton.exclude("self-exclusion", rfc3339(T0 + timedelta(days=90)))
    assert (r.status_code, error_code(r)) == (422, "EXCLUSION_PERIOD_INVALID")
    assert r.json()["error"]["message"] == "a self-exclusion in GB lasts from P6M to indefinitely"
    r = briton.exclude("time-out", rfc3339(T0 + timedelta(weeks=7)))
    assert (r.status_code, error_code(r)) == (422, "EXCLUSION_PERIOD_INVALID")
    r = briton.exclude("time-out", rfc3339(T0 - timedelta(hours=1)))
    assert (r.status_code, error_code(r)) == (422, "EXCLUSION_PERIOD_INVALID")
    # Six calendar months in London's time (13:00 BST on 14 April to 13:00 BST on 14 October).
    assert error_code(briton.exclude("self-exclusion", "2026-10-14T11:00:00Z")) == "EXCLUSION_PERIOD_INVALID"
    assert briton.exclude("self-exclusion", "2026-10-14T12:00:00Z").status_code == 201
    bounded = Bettor(api, ledger, jurisdiction=market(api, selfExclusionMax="P5Y"))
    r = bounded.exclude("self-exclusion", None)
    assert (r.status_code, error_code(r)) == (422, "EXCLUSION_PERIOD_INVALID")


def test_a_wallet_opened_during_an_exclusion_is_excluded(api, player):
    assert player.exclude("self-exclusion", None).status_code == 201
    assert back_office(api, "POST", "wallets", {"userId": player.user_id, "currency": "EUR"}).status_code == 201
    r = back_office(api, "POST", "deposits", {"userId": player.user_id, "currency": "EUR", "amount": 100,
                                              "reference": f"eur-{player.user_id}"})
    assert (r.status_code, error_code(r)) == (403, "PLAYER_EXCLUDED")


def test_a_bet_sent_after_the_exclusions_answer_is_refused(api, ledger, clock):
    """A race: bets keep coming on the open session while the exclusion is made. Every bet
    sent after its answer arrived is refused; those accepted came before its instant (the
    audit checks that too)."""
    clock.release()         # real time: the instants of the race
    player = Bettor(api, ledger, funds=1_000_000)
    done = threading.Event()
    answered_at = []

    def bets(n):
        sent = []
        for i in range(60):
            started = time.monotonic()
            sent.append((started, player.bet(f"race-{n}-{i}", 1, round_id=f"r-{n}")))
            if done.is_set() and len([s for s, _ in sent if s > answered_at[0]]) >= 5:
                break
        return sent

    def exclusion():
        r = player.exclude("time-out", rfc3339(datetime.now(UTC) + timedelta(days=2)))
        answered_at.append(time.monotonic())
        done.set()
        return [(0.0, r)]

    results = parallel([exclusion] + [lambda n=n: bets(n) for n in range(6)])
    assert results[0][0][1].status_code == 201
    after = [r for sent in results[1:] for started, r in sent if started > answered_at[0]]
    assert len(after) >= 5
    assert {(r.status_code, error_code(r)) for r in after} == {(403, "PLAYER_EXCLUDED")}
    accepted = ledger.query("""SELECT count(*) FROM CASINO_TRANSACTIONS t JOIN CASINO_PROTECTION_HISTORY h
                               ON h.user_id = %s AND h.change = 'exclusion'
                               WHERE t.wallet_id = %s AND t.outcome = 'applied' AND t.transaction_type = 'debit'
                                 AND t.created_at >= h.effective_from""", player.user_id, player.wallet)
    assert accepted == [(0,)]


def test_excluding_needs_the_protection_scope(api, ledger, player):
    body = {"kind": "time-out", "until": rfc3339(T0 + timedelta(days=1))}
    path = f"players/{player.user_id}/exclusions"
    key = ledger.run(lambda cur: operators.create_key(cur, ["admin", "cashier", "backoffice"], "exclusion test")[0])
    assert back_office(api, "POST", path, body, key).status_code == 403
    assert back_office(api, "GET", path, key=key).status_code == 200
    r = back_office(api, "POST", f"players/{2**53 - 1}/exclusions", body)
    assert (r.status_code, error_code(r)) == (404, "USER_NOT_FOUND")
    for bad in ({"kind": "break", "until": None}, {"kind": "time-out", "until": "tomorrow"},
                {"kind": "time-out", "until": "2026-04-15T12:00:00"}, {"kind": "time-out"}):
        r = back_office(api, "POST", path, bad)
        assert (r.status_code, error_code(r)) == (400, "INVALID_REQUEST"), bad


def test_every_exclusion_is_history_and_audited(api, ledger, player):
    key = ledger.run(lambda cur: operators.create_key(cur, ["protection"], "exclusion audit")[0])
    assert player.exclude("time-out", rfc3339(T0 + timedelta(days=1)), key=key).status_code == 201
    assert player.exclude("time-out", rfc3339(T0), key=key).status_code == 409
    history = back_office(api, "GET", f"players/{player.user_id}/protection-history").json()["items"]
    assert history == [{"change": "exclusion", "kind": "time-out", "oldUntil": None,
                        "newUntil": rfc3339(T0 + timedelta(days=1)), "effectiveFrom": rfc3339(T0),
                        "operator": key.split(".")[0], "createdAt": rfc3339(T0)}]
    assert ledger.query("SELECT action, response_status FROM CASINO_ADMIN_AUDIT WHERE operator_key_id = %s ORDER BY id",
                        key.split(".")[0]) == [("createExclusion", 201), ("createExclusion", 409)]
