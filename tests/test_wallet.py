"""The four casino callbacks over real HTTP: rules, idempotency, and races."""
import json
import uuid

import pytest

from tests.support import KEYS_BY_TOKEN, Player, parallel
from tests.support import error_code as code

pytestmark = pytest.mark.usefixtures("clean_audit")


@pytest.fixture
def player(api, ledger):
    return Player(api, ledger)


# --- getBalance ---------------------------------------------------------------------------

def test_get_balance(api, player):
    r = api.casino("getBalance", {"sessionToken": player.token, "userId": player.user_id})
    assert r.status_code == 200
    assert r.json() == {"userId": player.user_id, "balance": 1_000, "bonus": 0, "currency": "USD"}


def test_get_balance_of_another_users_session(api, player):
    r = api.casino("getBalance", {"sessionToken": player.token, "userId": player.user_id + 1})
    assert (r.status_code, code(r)) == (403, "USER_MISMATCH")


def test_get_balance_unknown_session(api, player):
    r = api.casino("getBalance", {"sessionToken": "nope", "userId": player.user_id})
    assert (r.status_code, code(r)) == (404, "SESSION_NOT_FOUND")


# --- debit ----------------------------------------------------------------------------------

def test_debit_takes_the_bet_and_answers_the_balance(player):
    r = player.debit("d1", 250)
    assert r.status_code == 200
    assert r.json() == {"transactionId": "d1", "balance": 750, "bonus": 0, "currency": "USD"}
    assert "Idempotent-Replay" not in r.headers
    assert player.balance() == 750
    assert player.ledger.rows(player.wallet) == [("d1", "debit", "applied", -250)]


def test_debit_resend_is_replayed_byte_for_byte(player):
    first = player.debit("d1", 250)
    again = player.debit("d1", 250)
    assert again.status_code == 200
    assert again.content == first.content
    assert again.headers["Idempotent-Replay"] == "true"
    assert player.balance() == 750


def test_resend_serialised_differently_still_replays(api, player):
    player.debit("d1", 250)
    body = player.body(transactionId="d1", amount=250)
    data = json.dumps(dict(reversed(list(body.items()))), indent=2).encode()
    r = api.casino("debit", data)
    assert r.status_code == 200 and r.headers["Idempotent-Replay"] == "true"
    assert player.balance() == 750


@pytest.mark.parametrize("change", [{"amount": 251}, {"roundId": "r2"}, {"currency": "EUR"}])
def test_same_id_other_content_is_a_conflict(player, change):
    player.debit("d1", 250)
    body = player.body(transactionId="d1", amount=250)
    body.update(change)
    r = player.api.casino("debit", body)
    assert (r.status_code, code(r)) == (409, "IDEMPOTENCY_CONFLICT")
    assert player.balance() == 750
    assert len(player.ledger.rows(player.wallet)) == 1


def test_same_id_as_another_kind_is_a_conflict(player):
    player.debit("d1", 250)
    r = player.credit("d1", 250)
    assert (r.status_code, code(r)) == (409, "IDEMPOTENCY_CONFLICT")
    r = player.rollback("d1", "d1")
    assert (r.status_code, code(r)) == (409, "IDEMPOTENCY_CONFLICT")
    assert player.balance() == 750


def test_insufficient_funds(player):
    r = player.debit("d1", 1_001)
    assert (r.status_code, code(r)) == (422, "INSUFFICIENT_FUNDS")
    assert player.balance() == 1_000
    assert player.ledger.rows(player.wallet) == [("d1", "debit", "refused", 0)]


def test_whole_balance_can_be_bet(player):
    assert player.debit("d1", 1_000).json()["balance"] == 0


def test_refused_bet_is_replayed_even_after_a_top_up(player):
    refused = player.debit("d1", 1_500)
    assert refused.status_code == 422
    player.ledger.run(lambda cur: __import__("casino.players").players.deposit(
        cur, player.wallet, 5_000, "top-up-" + uuid.uuid4().hex))
    again = player.debit("d1", 1_500)
    assert again.status_code == 422
    assert again.content == refused.content
    assert again.headers["Idempotent-Replay"] == "true"
    assert player.balance() == 6_000


def test_bet_limits(api, ledger):
    p = Player(api, ledger, min_bet=10, max_bet=500)
    for tx, amount in (("low", 9), ("high", 501)):
        r = p.debit(tx, amount)
        assert (r.status_code, code(r)) == (422, "BET_LIMIT_EXCEEDED")
    assert p.debit("min", 10).status_code == 200
    assert p.debit("max", 500).status_code == 200
    assert p.balance() == 490


def test_inactive_session_refuses_bets_but_takes_payouts_and_rollbacks(player):
    assert player.debit("d1", 100).status_code == 200
    assert player.debit("d2", 100).status_code == 200
    player.ledger.query("UPDATE CASINO_GAME_SESSIONS SET is_active = false WHERE token = %s RETURNING id",
                        player.token)
    r = player.debit("d3", 100)
    assert (r.status_code, code(r)) == (403, "SESSION_INACTIVE")
    assert player.rollback("rb1", "d1").status_code == 200
    assert player.credit("c1", 300, relatedTransactionId="d2").status_code == 200
    assert player.balance() == 1_000 - 100 + 300


def test_currency_mismatch(player):
    r = player.debit("d1", 100, currency="EUR")
    assert (r.status_code, code(r)) == (422, "CURRENCY_MISMATCH")
    assert player.debit("d2", 100).status_code == 200
    r = player.credit("c1", 100, currency="EUR")
    assert (r.status_code, code(r)) == (422, "CURRENCY_MISMATCH")
    assert player.balance() == 900


def test_user_mismatch(player):
    r = player.debit("d1", 100, userId=player.user_id + 10_000)
    assert (r.status_code, code(r)) == (403, "USER_MISMATCH")
    assert player.balance() == 1_000


def test_unknown_session(player):
    r = player.debit("d1", 100, sessionToken="no-such-token")
    assert (r.status_code, code(r)) == (404, "SESSION_NOT_FOUND")
    # Nothing was stored: the same id is still free for the real session.
    assert player.debit("d1", 100).status_code == 200


BAD_AMOUNTS = [1.0, 1.5, True, "100", -1, 0, 2**53, None, [100], {"v": 100}]


@pytest.mark.parametrize("amount", BAD_AMOUNTS, ids=repr)
def test_debit_amount_must_be_a_positive_safe_integer(player, amount):
    r = player.debit("d-bad", amount)
    assert (r.status_code, code(r)) == (400, "INVALID_REQUEST")
    assert player.balance() == 1_000
    assert player.ledger.rows(player.wallet) == []


def test_largest_safe_integer_is_valid_input(player):
    r = player.debit("d-huge", 2**53 - 1)
    assert (r.status_code, code(r)) == (422, "BET_LIMIT_EXCEEDED")


@pytest.mark.parametrize("field,value", [
    ("sessionToken", ""), ("sessionToken", "has space"), ("sessionToken", "x" * 101),
    ("sessionToken", 5), ("transactionId", "tab\there"), ("transactionId", "é"),
    ("roundId", None), ("userId", "1"), ("userId", 1.0), ("userId", True), ("userId", 0),
    ("currency", "usd"), ("currency", "US"), ("currency", 840),
])
def test_debit_field_types(player, field, value):
    body = player.body(transactionId="d-types", amount=100)
    body[field] = value
    r = player.api.casino("debit", body)
    assert (r.status_code, code(r)) == (400, "INVALID_REQUEST")
    assert field in r.json()["error"]["message"]
    assert player.balance() == 1_000


@pytest.mark.parametrize("endpoint,field", [
    ("debit", "sessionToken"), ("debit", "userId"), ("debit", "transactionId"), ("debit", "roundId"),
    ("debit", "amount"), ("debit", "currency"), ("credit", "amount"), ("credit", "currency"),
    ("rollback", "originalTransactionId"), ("rollback", "roundId"), ("getBalance", "userId"),
])
def test_missing_fields(player, endpoint, field):
    body = player.body(transactionId="m1", amount=100, originalTransactionId="x")
    del body[field]
    r = player.api.casino(endpoint, body)
    assert (r.status_code, code(r)) == (400, "INVALID_REQUEST")
    assert player.balance() == 1_000


def test_credit_amount_may_be_zero_but_not_negative_or_float(player):
    player.debit("d1", 100)
    for amount in (-1, 0.5, 1e3, False):
        r = player.credit("c-bad", amount)
        assert (r.status_code, code(r)) == (400, "INVALID_REQUEST")
    r = player.credit("c0", 0)
    assert r.status_code == 200 and r.json()["balance"] == 900


# --- credit ---------------------------------------------------------------------------------

def test_credit_pays_out_a_round_with_a_bet(player):
    player.debit("d1", 100)
    r = player.credit("c1", 350, relatedTransactionId="d1")
    assert r.json() == {"transactionId": "c1", "balance": 1_250, "bonus": 0, "currency": "USD"}
    assert player.credit("c1", 350, relatedTransactionId="d1").headers["Idempotent-Replay"] == "true"
    assert player.balance() == 1_250


def test_credit_without_a_bet_in_the_round(player):
    r = player.credit("c1", 100)
    assert (r.status_code, code(r)) == (404, "ROUND_NOT_FOUND")
    player.debit("d1", 100, roundId="other")
    r = player.credit("c2", 100)
    assert (r.status_code, code(r)) == (404, "ROUND_NOT_FOUND")
    assert player.balance() == 900


def test_credit_related_to_no_such_bet(player):
    player.debit("d1", 100)
    player.debit("d-other-round", 100, roundId="r2")
    player.debit("d-refused", 5_000)
    for related in ("nope", "d-other-round", "d-refused"):
        r = player.credit("c-" + related, 100, relatedTransactionId=related)
        assert (r.status_code, code(r)) == (409, "BET_NOT_FOUND"), related
    assert player.balance() == 800


def test_credit_for_a_rolled_back_bet_is_refused(player):
    player.debit("d1", 100)
    assert player.rollback("rb1", "d1").status_code == 200
    r = player.credit("c1", 500, relatedTransactionId="d1")
    assert (r.status_code, code(r)) == (409, "TRANSACTION_ROLLED_BACK")
    r = player.credit("c2", 500)  # no related id, and every bet of the round is cancelled
    assert (r.status_code, code(r)) == (409, "TRANSACTION_ROLLED_BACK")
    assert player.balance() == 1_000


# --- rollback -------------------------------------------------------------------------------

def test_rollback_refunds_exactly_the_bet(player):
    player.debit("d1", 300)
    r = player.rollback("rb1", "d1")
    assert r.status_code == 200
    assert r.json() == {"transactionId": "rb1", "balance": 1_000, "bonus": 0, "currency": "USD", "tombstone": False}
    assert player.ledger.balance(player.wallet) == (1_000, 1_000)


def test_double_rollback_refunds_once(player):
    player.debit("d1", 300)
    assert player.rollback("rb1", "d1").json()["balance"] == 1_000
    again = player.rollback("rb1", "d1")
    assert again.headers["Idempotent-Replay"] == "true"
    other = player.rollback("rb2", "d1")
    assert other.status_code == 200 and other.json()["balance"] == 1_000
    assert "Idempotent-Replay" not in other.headers
    assert player.balance() == 1_000


def test_rollback_before_its_bet_leaves_a_tombstone(player):
    r = player.rollback("rb1", "d-late")
    assert r.status_code == 200
    assert r.json() == {"transactionId": "rb1", "balance": 1_000, "bonus": 0, "currency": "USD", "tombstone": True}
    late = player.debit("d-late", 100)
    assert (late.status_code, code(late)) == (409, "TRANSACTION_ROLLED_BACK")
    assert player.debit("d-late", 100).headers["Idempotent-Replay"] == "true"
    assert player.balance() == 1_000
    assert player.ledger.rows(player.wallet) == [
        ("rb1", "rollback", "tombstone", 0), ("d-late", "debit", "refused", 0)]


def test_rollback_of_a_credit_or_rollback_is_not_allowed(player):
    player.debit("d1", 100)
    player.debit("d2", 100)
    player.rollback("rb2", "d2")
    player.credit("c1", 50, relatedTransactionId="d1")
    for tx, original in (("rb-c", "c1"), ("rb-rb", "rb2")):
        r = player.rollback(tx, original)
        assert (r.status_code, code(r)) == (409, "ROLLBACK_NOT_ALLOWED")
    assert player.balance() == 950


def test_a_call_naming_itself_as_its_bet_is_refused(player):
    player.debit("d1", 100)
    r = player.rollback("rb-self", "rb-self")   # its original is itself: a rollback, not a bet
    assert (r.status_code, code(r)) == (409, "ROLLBACK_NOT_ALLOWED")
    r = player.credit("c-self", 100, relatedTransactionId="c-self")
    assert (r.status_code, code(r)) == (409, "BET_NOT_FOUND")
    assert player.balance() == 900


def test_rollback_after_payout_is_not_allowed(player):
    player.debit("d1", 100)
    player.debit("d2", 100)
    player.credit("c1", 0, relatedTransactionId="d1")
    r = player.rollback("rb1", "d2")
    assert (r.status_code, code(r)) == (409, "ROLLBACK_NOT_ALLOWED")
    assert player.balance() == 800


def test_rollback_of_a_refused_bet_moves_nothing(player):
    assert player.debit("d1", 9_999).status_code == 422
    r = player.rollback("rb1", "d1")
    assert r.status_code == 200 and r.json()["tombstone"] is False
    assert player.balance() == 1_000


def test_rollback_names_a_bet_of_another_round(player):
    player.debit("d1", 100, roundId="r2")
    r = player.rollback("rb1", "d1")
    assert (r.status_code, code(r)) == (409, "BET_NOT_FOUND")
    assert player.balance() == 900


def test_redeemable_is_capped_by_bets_and_restored_by_refunds(player):
    player.debit("d1", 600)
    assert player.ledger.balance(player.wallet) == (400, 400)
    player.credit("c1", 200, relatedTransactionId="d1")
    assert player.ledger.balance(player.wallet) == (600, 600)
    player.debit("d2", 100, roundId="r2")
    player.rollback("rb2", "d2", roundId="r2")
    assert player.ledger.balance(player.wallet) == (600, 600)


# --- concurrency ----------------------------------------------------------------------------

def test_same_debit_twenty_times_at_once_moves_money_once(player):
    responses = parallel([lambda: player.debit("d-dup", 100) for _ in range(20)])
    assert [r.status_code for r in responses] == [200] * 20
    replays = [r for r in responses if r.headers.get("Idempotent-Replay") == "true"]
    assert len(replays) == 19
    assert {r.content for r in responses} == {responses[0].content}
    assert player.balance() == 900
    assert player.ledger.rows(player.wallet) == [("d-dup", "debit", "applied", -100)]


def test_one_id_sent_on_two_wallets_sessions_at_once_is_decided_once(api, ledger):
    """The two calls lock different wallets; the id's own lock makes the second wait for the
    first and find its row: one bet, and the other player's call is a conflict."""
    first, second = Player(api, ledger), Player(api, ledger)
    second.game = first.game
    second.token = ledger.session(second.user_id, second.wallet, first.game)
    for i in range(5):
        answers = parallel([lambda i=i: first.debit(f"both-{i}", 100), lambda i=i: second.debit(f"both-{i}", 100)])
        assert sorted((r.status_code, r.json().get("error", {}).get("code")) for r in answers) == [
            (200, None), (409, "IDEMPOTENCY_CONFLICT")]
    assert first.balance() + second.balance() == 2_000 - 500
    assert len(ledger.rows(first.wallet)) + len(ledger.rows(second.wallet)) == 5


def test_an_insert_that_meets_the_unique_index_moves_nothing_and_replays(player):
    """The locks leave no way to reach it over HTTP; the function that records an answer
    still treats the unique index as the last word."""
    first = player.debit("d1", 250)
    reply = player.ledger.query("""
        SELECT (casino_record(c, 'applied', 250, -250, 0, 200::smallint, '{"other": "answer"}')).*
        FROM (SELECT ROW(NULL, t.provider_id, 'debit', 'd1', 'r1', 250, NULL, t.request_fingerprint, t.session_id,
                         NULL, t.wallet_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'USD', 750, 750,
                         clock_timestamp(), NULL, false, NULL, NULL, NULL, NULL, NULL, NULL)::casino_call AS c
              FROM CASINO_TRANSACTIONS t WHERE t.wallet_id = %s AND t.external_transaction_id = 'd1') AS call""",
                                  player.wallet)
    assert reply == [(200, first.text, True, None)]
    assert player.balance() == 750
    assert player.ledger.rows(player.wallet) == [("d1", "debit", "applied", -250)]


def test_fifty_concurrent_debits_overdraw_nothing(api, ledger):
    p = Player(api, ledger, funds=1_000)
    responses = parallel([lambda i=i: p.debit(f"d{i}", 100) for i in range(50)])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 10 + [422] * 40
    assert {code(r) for r in responses if r.status_code == 422} == {"INSUFFICIENT_FUNDS"}
    assert sorted(r.json()["balance"] for r in responses if r.status_code == 200) == list(range(0, 1_000, 100))
    assert p.balance() == 0


def test_rollback_racing_a_credit_on_one_round_one_wins(api, ledger):
    for _ in range(5):
        p = Player(api, ledger)
        p.debit("d1", 100)
        rollback, credit = parallel([lambda p=p: p.rollback("rb1", "d1"),
                                     lambda p=p: p.credit("c1", 400, relatedTransactionId="d1")])
        outcomes = {(rollback.status_code, credit.status_code)}
        assert outcomes <= {(200, 409)} | {(409, 200)}
        if rollback.status_code == 200:
            assert code(credit) == "TRANSACTION_ROLLED_BACK" and p.balance() == 1_000
        else:
            assert code(rollback) == "ROLLBACK_NOT_ALLOWED" and p.balance() == 1_300


def test_rollback_racing_its_own_late_bet(api, ledger):
    for _ in range(5):
        p = Player(api, ledger)
        bet, rollback = parallel([lambda p=p: p.debit("d1", 100), lambda p=p: p.rollback("rb1", "d1")])
        assert rollback.status_code == 200
        if rollback.json()["tombstone"]:
            assert code(bet) == "TRANSACTION_ROLLED_BACK"
        else:
            assert bet.status_code == 200
        assert p.balance() == 1_000


def test_concurrent_distinct_rollbacks_of_one_bet_refund_once(player):
    player.debit("d1", 400)
    responses = parallel([lambda i=i: player.rollback(f"rb{i}", "d1") for i in range(10)])
    assert [r.status_code for r in responses] == [200] * 10
    assert player.balance() == 1_000


# --- reconciliation -------------------------------------------------------------------------

def status_of(player, tx):
    return player.api.casino("transactionStatus", {"transactionId": tx}, key=KEYS_BY_TOKEN[player.token])


def test_transaction_status_reports_what_was_recorded(player):
    bet = player.debit("s-bet", 100)
    player.debit("s-refused", 99_999)
    player.rollback("s-tomb", "s-never")
    player.rollback("s-rb", "s-bet")
    before = player.ledger.rows(player.wallet)

    r = status_of(player, "s-bet")
    assert r.status_code == 200
    answer = r.json()
    assert {k: answer[k] for k in ("transactionId", "kind", "outcome", "rolledBack", "status")} == {
        "transactionId": "s-bet", "kind": "debit", "outcome": "applied", "rolledBack": True, "status": 200}
    assert answer["response"] == bet.json()
    assert answer["createdAt"].endswith("Z") and "T" in answer["createdAt"]
    refused = status_of(player, "s-refused").json()
    assert (refused["outcome"], refused["status"], refused["response"]["error"]["code"]) == (
        "refused", 422, "INSUFFICIENT_FUNDS")
    tomb = status_of(player, "s-tomb").json()
    assert (tomb["kind"], tomb["outcome"], tomb["rolledBack"]) == ("rollback", "tombstone", False)
    # Asking changes nothing.
    assert player.ledger.rows(player.wallet) == before


def test_transaction_status_of_an_unknown_id(player):
    r = status_of(player, "s-no-such-id")
    assert (r.status_code, code(r)) == (404, "TRANSACTION_NOT_FOUND")
    r = player.api.casino("transactionStatus", {"transactionId": "x"}, key=(KEYS_BY_TOKEN[player.token][0], b"wrong"))
    assert (r.status_code, code(r)) == (401, "INVALID_SIGNATURE")
