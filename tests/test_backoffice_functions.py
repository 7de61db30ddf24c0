"""The back office's service layer without HTTP: casino/backoffice.py's verbs on the worker's
database, each run as its handler runs it (the cashier as one statement in autocommit, the
other verbs in one transaction, through db.pool.Database), called by an operator key's id;
the outcome an Answer or a Refused. Each test names the rule it shows; together they are
the spec of the layer. tests/test_backoffice.py shows the same calls over HTTP, with what
only HTTP has (keys and scopes, the Idempotent-Replay header, input validation)."""
import uuid

import pytest

from casino import backoffice, operators
from wire.refusals import Refused

pytestmark = pytest.mark.usefixtures("clean_audit")


class Operator:
    """An operator key's holder calling the verbs, by the key's id as the handlers do."""

    def __init__(self, service, ledger):
        self.service, self.ledger = service, ledger
        self.key_id = ledger.run(lambda cur: operators.create_key(cur, ["admin", "cashier"], "functions test")[1])

    def create_player(self, username):
        # In-process, as a tool makes its players: marked as the test suite's.
        return self.service.transaction(backoffice.create_player, self.key_id,
                                        {"username": username, "email": f"{username}@example.com"}, "test")

    def create_wallet(self, user_id, currency="USD"):
        return self.service.transaction(backoffice.create_wallet, self.key_id, {"userId": user_id, "currency": currency})

    def cash(self, kind, user_id, amount, reference):
        """A deposit or a withdrawal (kind)."""
        req = {"userId": user_id, "currency": "USD", "amount": amount, "reference": reference}
        return self.service.statement(backoffice.cashier, kind, self.key_id, req)

    def set_status(self, user_id, status):
        return self.service.transaction(backoffice.set_status, self.key_id, user_id, {"status": status})

    def audit(self):
        """What CASINO_ADMIN_AUDIT holds of this key's calls: (action, status, replay)."""
        return self.ledger.query("""SELECT action, response_status, replay FROM CASINO_ADMIN_AUDIT
                                    WHERE operator_key_id = %s ORDER BY id""", self.key_id)

    def movements(self, user_id):
        """The player's ledger rows: (kind, outcome, movement)."""
        return self.ledger.query("""SELECT t.transaction_type, t.outcome, t.playable_movement
                                    FROM CASINO_TRANSACTIONS t JOIN CASINO_WALLETS w ON w.id = t.wallet_id
                                    WHERE w.user_id = %s ORDER BY t.id""", user_id)

    def player_with_wallet(self):
        user_id = self.create_player(new("fn")).json()["userId"]
        assert self.create_wallet(user_id).status == 201
        return user_id


@pytest.fixture
def operator(service, ledger):
    return Operator(service, ledger)


def new(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def refusal(outcome):
    """(status, code) of a Refused; fails on a success."""
    assert isinstance(outcome, Refused), outcome
    return outcome.status, outcome.code


# --- players and wallets ------------------------------------------------------------------------

def test_rule_a_username_or_email_names_one_player(operator):
    name = new("fn")
    made = operator.create_player(name)
    assert made.status == 201
    assert made.json() == {"userId": made.json()["userId"], "username": name, "email": f"{name}@example.com",
                           "status": "active", "origin": "test", "jurisdiction": "DEFAULT",
                           "createdAt": made.json()["createdAt"]}
    assert refusal(operator.create_player(name)) == (409, "PLAYER_EXISTS")
    assert operator.audit() == [("createPlayer", 201, False), ("createPlayer", 409, False)]


def test_rule_a_player_has_one_wallet_per_currency_and_it_starts_empty(operator):
    user_id = operator.create_player(new("fn")).json()["userId"]
    opened = operator.create_wallet(user_id)
    assert opened.json() == {"walletId": opened.json()["walletId"], "userId": user_id, "currency": "USD",
                             "balance": 0, "redeemable": 0}
    assert refusal(operator.create_wallet(user_id)) == (409, "WALLET_EXISTS")
    assert refusal(operator.create_wallet(2**53 - 2)) == (404, "USER_NOT_FOUND")
    assert operator.audit() == [("createPlayer", 201, False), ("createWallet", 201, False),
                                ("createWallet", 409, False), ("createWallet", 404, False)]


def test_rule_a_status_change_is_audited_with_the_player_it_names(operator):
    user_id = operator.player_with_wallet()
    assert operator.set_status(user_id, "disabled").json()["status"] == "disabled"
    assert refusal(operator.set_status(2**53 - 2, "disabled")) == (404, "USER_NOT_FOUND")
    assert operator.audit()[-2:] == [("setPlayerStatus", 200, False), ("setPlayerStatus", 404, False)]


# --- the cashier --------------------------------------------------------------------------------

def test_rule_a_deposit_is_applied_once_per_reference_and_replayed_byte_for_byte(operator):
    user_id = operator.player_with_wallet()
    reference = new("dep")
    first = operator.cash("deposit", user_id, 700, reference)
    assert (first.status, first.replay) == (200, False)
    assert first.json() == {"reference": reference, "balance": 700, "redeemable": 700, "currency": "USD"}
    again = operator.cash("deposit", user_id, 700, reference)
    assert again.replay and again.body == first.body
    assert operator.movements(user_id) == [("deposit", "applied", 700)]
    assert operator.audit()[-2:] == [("deposit", 200, False), ("deposit", 200, True)]


def test_rule_a_reference_used_for_other_content_is_an_idempotency_conflict_that_moves_nothing(operator):
    user_id = operator.player_with_wallet()
    reference = new("dep")
    operator.cash("deposit", user_id, 700, reference)
    assert refusal(operator.cash("deposit", user_id, 701, reference)) == (409, "IDEMPOTENCY_CONFLICT")
    assert refusal(operator.cash("withdrawal", user_id, 700, reference)) == (409, "IDEMPOTENCY_CONFLICT")
    assert operator.movements(user_id) == [("deposit", "applied", 700)]


def test_rule_a_withdrawal_is_applied_once_per_reference(operator):
    user_id = operator.player_with_wallet()
    operator.cash("deposit", user_id, 1_000, new("dep"))
    reference = new("wd")
    first = operator.cash("withdrawal", user_id, 400, reference)
    assert first.json() == {"reference": reference, "balance": 600, "redeemable": 600, "currency": "USD"}
    again = operator.cash("withdrawal", user_id, 400, reference)
    assert again.replay and again.body == first.body
    assert operator.movements(user_id) == [("deposit", "applied", 1_000), ("withdrawal", "applied", -400)]


def test_rule_a_withdrawal_beyond_the_balance_is_refused_stored_and_replayed_even_after_a_deposit(operator):
    user_id = operator.player_with_wallet()
    operator.cash("deposit", user_id, 1_000, new("dep"))
    reference = new("wd")
    refused = operator.cash("withdrawal", user_id, 1_001, reference)
    assert refusal(refused) == (422, "INSUFFICIENT_FUNDS")
    operator.cash("deposit", user_id, 5_000, new("dep"))
    again = operator.cash("withdrawal", user_id, 1_001, reference)
    assert again.replay and again.body == refused.body
    assert [kind for kind, outcome, _ in operator.movements(user_id) if outcome == "applied"] == ["deposit", "deposit"]
    assert operator.audit()[-1] == ("withdrawal", 422, True)


def test_rule_money_goes_only_to_a_wallet_that_exists(operator):
    user_id = operator.create_player(new("fn")).json()["userId"]
    assert refusal(operator.cash("deposit", user_id, 1, new("dep"))) == (404, "WALLET_NOT_FOUND")
    assert refusal(operator.cash("deposit", 2**53 - 2, 1, new("dep"))) == (404, "USER_NOT_FOUND")
