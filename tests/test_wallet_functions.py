"""The wallet's service layer without HTTP: casino/wallet.py's money calls on the worker's
database, each run as its handler runs it (one statement in autocommit, through
db.pool.Database), the outcome an Answer or a Refused. Each test names the rule it shows;
together they are the spec of the layer. tests/test_wallet.py shows the same rules over
HTTP, with what only HTTP has (signatures, the Idempotent-Replay header, field types)."""
import uuid
from datetime import timedelta

import pytest

from casino import players, sessions, wallet
from wire.refusals import Refused

pytestmark = pytest.mark.usefixtures("clean_audit")

# What the server passes the debit unless SESSION_IDLE_TIMEOUT says otherwise.
IDLE = timedelta(seconds=sessions.DEFAULT_IDLE_TIMEOUT_SECONDS)


class Seat:
    """A player with 1 000 USD and an open session on a game of a provider of its own; the
    provider's calls for it, in round r1 unless told."""

    def __init__(self, service, ledger, funds=1_000):
        self.service, self.ledger = service, ledger
        game = ledger.game()
        [(self.provider_id,)] = ledger.query("SELECT provider_id FROM CASINO_GAMES WHERE id = %s", game)
        self.user_id, wallets = ledger.player(funds=funds)
        self.wallet = wallets["USD"]
        self.token = ledger.session(self.user_id, self.wallet, game)

    def request(self, transaction_id, round_id, **fields):
        return {"sessionToken": self.token, "userId": self.user_id, "transactionId": transaction_id,
                "roundId": round_id, **fields}

    def debit(self, tx, amount, round_id="r1"):
        req = self.request(tx, round_id, amount=amount, currency="USD")
        return self.service.statement(wallet.debit, self.provider_id, req, IDLE)

    def credit(self, tx, amount, related=None, round_id="r1"):
        req = self.request(tx, round_id, amount=amount, currency="USD",
                           **({"relatedTransactionId": related} if related else {}))
        return self.service.statement(wallet.credit, self.provider_id, req)

    def rollback(self, tx, original, round_id="r1"):
        req = self.request(tx, round_id, originalTransactionId=original)
        return self.service.statement(wallet.rollback, self.provider_id, req)

    def balance(self):
        return self.ledger.balance(self.wallet)[0]

    def rows(self):
        """The wallet's ledger rows but its deposit: (transactionId, kind, outcome, movement)."""
        return self.ledger.rows(self.wallet)


@pytest.fixture
def seat(service, ledger):
    return Seat(service, ledger)


def refusal(outcome):
    """(status, code) of a Refused; fails on a success."""
    assert isinstance(outcome, Refused), outcome
    return outcome.status, outcome.code


# --- debit ------------------------------------------------------------------------------------

def test_rule_a_debit_takes_the_bet_in_one_ledger_row_and_answers_the_balance(seat):
    answer = seat.debit("d1", 250)
    assert (answer.status, answer.replay) == (200, False)
    assert answer.json() == {"transactionId": "d1", "balance": 750, "bonus": 0, "currency": "USD"}
    assert seat.balance() == 750
    assert seat.rows() == [("d1", "debit", "applied", -250)]


def test_rule_a_resent_debit_replays_its_stored_answer_byte_for_byte_and_moves_nothing(seat):
    first = seat.debit("d1", 250)
    again = seat.debit("d1", 250)
    assert (again.status, again.replay) == (200, True)
    assert again.body == first.body
    assert seat.balance() == 750
    assert seat.rows() == [("d1", "debit", "applied", -250)]


def test_rule_one_id_with_other_content_is_an_idempotency_conflict_that_stores_nothing(seat):
    seat.debit("d1", 250)
    conflict = seat.debit("d1", 251)
    assert refusal(conflict) == (409, "IDEMPOTENCY_CONFLICT")
    assert refusal(seat.credit("d1", 250)) == (409, "IDEMPOTENCY_CONFLICT")
    assert seat.balance() == 750
    assert seat.rows() == [("d1", "debit", "applied", -250)]


def test_rule_a_bet_beyond_the_balance_is_refused_stored_and_replayed_even_after_a_top_up(seat):
    refused = seat.debit("d1", 1_001)
    assert refusal(refused) == (422, "INSUFFICIENT_FUNDS") and not refused.replay
    assert seat.balance() == 1_000
    assert seat.rows() == [("d1", "debit", "refused", 0)]
    seat.ledger.run(players.deposit, seat.wallet, 5_000, "top-up-" + uuid.uuid4().hex)
    again = seat.debit("d1", 1_001)
    assert refusal(again) == (422, "INSUFFICIENT_FUNDS")
    assert again.replay and again.body == refused.body
    assert seat.balance() == 6_000


def test_rule_the_whole_balance_can_be_bet(seat):
    assert seat.debit("d1", 1_000).json()["balance"] == 0


# --- credit -----------------------------------------------------------------------------------

def test_rule_a_credit_pays_out_a_bet_of_its_round_once(seat):
    seat.debit("d1", 100)
    paid = seat.credit("c1", 350, related="d1")
    assert paid.json() == {"transactionId": "c1", "balance": 1_250, "bonus": 0, "currency": "USD"}
    again = seat.credit("c1", 350, related="d1")
    assert again.replay and again.body == paid.body
    assert seat.balance() == 1_250
    assert seat.rows() == [("d1", "debit", "applied", -100), ("c1", "credit", "applied", 350)]


def test_rule_a_credit_needs_a_bet_in_its_round(seat):
    seat.debit("d-r2", 100, round_id="r2")
    assert refusal(seat.credit("c1", 100)) == (404, "ROUND_NOT_FOUND")     # another round's bet is none of r1's
    seat.debit("d1", 100)
    assert refusal(seat.credit("c2", 100, related="nope")) == (409, "BET_NOT_FOUND")
    assert seat.balance() == 800


# --- rollback ---------------------------------------------------------------------------------

def test_rule_a_rollback_refunds_exactly_its_bet_and_only_once(seat):
    seat.debit("d1", 300)
    refund = seat.rollback("rb1", "d1")
    assert refund.json() == {"transactionId": "rb1", "balance": 1_000, "bonus": 0, "currency": "USD",
                             "tombstone": False}
    assert seat.rollback("rb1", "d1").replay
    assert seat.rollback("rb2", "d1").json()["balance"] == 1_000     # another id: nothing left to refund
    assert seat.balance() == 1_000
    assert seat.rows() == [("d1", "debit", "applied", -300), ("rb1", "rollback", "applied", 300),
                           ("rb2", "rollback", "applied", 0)]


def test_rule_a_rollback_before_its_bet_leaves_a_tombstone_that_refuses_the_bet(seat):
    tombstone = seat.rollback("rb1", "d-late")
    assert tombstone.json() == {"transactionId": "rb1", "balance": 1_000, "bonus": 0, "currency": "USD",
                                "tombstone": True}
    late = seat.debit("d-late", 100)
    assert refusal(late) == (409, "TRANSACTION_ROLLED_BACK")
    assert seat.debit("d-late", 100).body == late.body
    assert seat.balance() == 1_000
    assert seat.rows() == [("rb1", "rollback", "tombstone", 0), ("d-late", "debit", "refused", 0)]


def test_rule_a_rolled_back_bet_takes_no_payout(seat):
    seat.debit("d1", 100)
    seat.rollback("rb1", "d1")
    assert refusal(seat.credit("c1", 500, related="d1")) == (409, "TRANSACTION_ROLLED_BACK")
    assert seat.balance() == 1_000


def test_rule_a_paid_bet_cannot_be_rolled_back(seat):
    seat.debit("d1", 100)
    seat.credit("c1", 0, related="d1")
    assert refusal(seat.rollback("rb1", "d1")) == (409, "ROLLBACK_NOT_ALLOWED")
    assert seat.balance() == 900
