"""Random sequences of debits, credits, rollbacks, resends and reorderings, played against
the HTTP API and against a small pure-Python model of PROTOCOL.md's rules. Both must
give the same status, error code and balances after every step.

Fresh transactionIds are drawn for each call; resends of earlier calls, reuse of an id
for other content, payouts and rollbacks of bets already sent, rollbacks of bets never
sent, those ids arriving late (as a bet, a payout or a rollback), payouts near the
balance limit, disabling and re-enabling the player, game or provider, and the session
sitting idle are rules of their own.
"""
from dataclasses import dataclass, field

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from casino import sessions
from tests import model_support
from tests.model_support import TRANSACTION_IDS, round_ids

MIN_BET, MAX_BET, FUNDS = 5, 300, 1_000
BALANCE_LIMIT = 2**53 - 1
IDLE_TIMEOUT_MINUTES = sessions.DEFAULT_IDLE_TIMEOUT_SECONDS / 60   # the server's default SESSION_IDLE_TIMEOUT
IDS = TRANSACTION_IDS
ROUNDS = round_ids(8)


@dataclass(kw_only=True)
class Bet(model_support.Bet):
    redeemable_taken: int = 0     # what the bet took of the redeemable balance


@dataclass
class WalletModel:
    """PROTOCOL.md's wallet rules for one wallet and one session, nothing else."""
    playable: int = FUNDS
    redeemable: int = FUNDS
    answers: dict = field(default_factory=dict)   # transactionId -> (request, answer)
    bets: dict = field(default_factory=dict)      # transactionId -> Bet
    tombstones: set = field(default_factory=set)
    paid_rounds: set = field(default_factory=set)
    disabled: set = field(default_factory=set)    # of "player", "game", "provider"
    idle_minutes: int = 0

    def call(self, tx, request):
        """(status, error code, balance in the answer): a replay answers what it first did."""
        if tx in self.answers:
            stored_request, answer = self.answers[tx]
            return answer if stored_request == request else (409, "IDEMPOTENCY_CONFLICT", None)
        if tx in self.tombstones:   # dead for every kind of call, before any other rule
            status, code = 409, "TRANSACTION_ROLLED_BACK"
            if request[0] == "debit":
                self._refuse_bet(tx, request[1], request[2], status, code)
        else:
            status, code = getattr(self, request[0])(tx, *request[1:])
        answer = (status, code, self.playable if status == 200 else None)
        self.answers[tx] = (request, answer)
        return answer

    def debit(self, tx, round_id, amount):
        for what in ("player", "game", "provider"):
            if what in self.disabled:
                return self._refuse_bet(tx, round_id, amount, 403, f"{what.upper()}_DISABLED")
        if self.idle_minutes >= IDLE_TIMEOUT_MINUTES:
            return self._refuse_bet(tx, round_id, amount, 403, "SESSION_INACTIVE")
        if not MIN_BET <= amount <= MAX_BET:
            return self._refuse_bet(tx, round_id, amount, 422, "BET_LIMIT_EXCEEDED")
        if amount > self.playable:
            return self._refuse_bet(tx, round_id, amount, 422, "INSUFFICIENT_FUNDS")
        self.idle_minutes = 0
        redeemable_after = min(self.redeemable, self.playable - amount)
        self.bets[tx] = Bet(round_id=round_id, amount=amount, accepted=True,
                           redeemable_taken=self.redeemable - redeemable_after)
        self.playable -= amount
        self.redeemable = redeemable_after
        return 200, None

    def _refuse_bet(self, tx, round_id, amount, status, code):
        self.bets[tx] = Bet(round_id=round_id, amount=amount, accepted=False)
        return status, code

    def credit(self, tx, round_id, amount, related):
        accepted = [b for b in self.bets.values() if b.round_id == round_id and b.accepted]
        if not accepted:
            return 404, "ROUND_NOT_FOUND"
        if related is not None:
            bet = self.bets.get(related)
            if bet is None or not bet.accepted or bet.round_id != round_id:
                return 409, "BET_NOT_FOUND"
            if bet.refunded:
                return 409, "TRANSACTION_ROLLED_BACK"
        elif all(b.refunded for b in accepted):
            return 409, "TRANSACTION_ROLLED_BACK"
        if self.playable + amount > BALANCE_LIMIT:
            return 422, "BALANCE_LIMIT_EXCEEDED"
        self.playable += amount
        self.redeemable += amount
        self.paid_rounds.add(round_id)
        return 200, None

    def rollback(self, tx, round_id, original):
        if original == tx or (original in self.answers and original not in self.bets):
            return 409, "ROLLBACK_NOT_ALLOWED"   # a credit or a rollback
        if original not in self.bets:
            self.tombstones.add(original)
            return 200, None
        bet = self.bets[original]
        if bet.round_id != round_id:
            return 409, "BET_NOT_FOUND"
        if not bet.accepted or bet.refunded:
            return 200, None
        if round_id in self.paid_rounds:
            return 409, "ROLLBACK_NOT_ALLOWED"
        if self.playable + bet.amount > BALANCE_LIMIT:
            return 422, "BALANCE_LIMIT_EXCEEDED"
        bet.refunded = True
        self.playable += bet.amount
        self.redeemable += bet.redeemable_taken
        return 200, None


class WalletMachine(RuleBasedStateMachine):
    api = ledger = None   # set by the test
    # Bets sent so far, so payouts and rollbacks often name a real bet of its round.
    bets = Bundle("bets")
    cancelled = Bundle("cancelled")   # originals named by rollbacks, maybe never sent

    def __init__(self):
        super().__init__()
        self.game = self.ledger.game(min_bet=MIN_BET, max_bet=MAX_BET)
        self.user_id, wallets = self.ledger.player(funds=FUNDS)
        self.wallet = wallets["USD"]
        self.token = self.ledger.session(self.user_id, self.wallet, self.game)
        self.model = WalletModel()
        self.sent = []

    def send(self, tx, request):
        kind, round_id = request[0], request[1]
        body = {"sessionToken": self.token, "userId": self.user_id, "transactionId": tx, "roundId": round_id}
        if kind == "debit":
            body.update(amount=request[2], currency="USD")
        elif kind == "credit":
            body.update(amount=request[2], currency="USD")
            if request[3] is not None:
                body["relatedTransactionId"] = request[3]
        else:
            body["originalTransactionId"] = request[2]
        response = self.api.casino(kind, body)
        expected = self.model.call(tx, request)
        answer = response.json()
        got = (response.status_code, answer.get("error", {}).get("code"), answer.get("balance"))
        assert got == expected, f"{kind} {body}: API {got}, model {expected}"
        self.sent.append((tx, request))

    @rule(target=bets, tx=IDS, round_id=ROUNDS, amount=st.integers(1, 400))
    def debit(self, tx, round_id, amount):
        self.send(tx, ("debit", round_id, amount))
        return tx, round_id

    @rule(tx=IDS, round_id=ROUNDS, amount=st.integers(0, 500), related=st.none() | IDS)
    def credit(self, tx, round_id, amount, related):
        self.send(tx, ("credit", round_id, amount, related))

    @rule(tx=IDS, bet=bets, amount=st.integers(0, 500), name_it=st.booleans())
    def pay_out_bet(self, tx, bet, amount, name_it):
        self.send(tx, ("credit", bet[1], amount, bet[0] if name_it else None))

    @rule(target=cancelled, tx=IDS, round_id=ROUNDS, original=IDS)
    def rollback(self, tx, round_id, original):
        self.send(tx, ("rollback", round_id, original))
        return original, round_id

    @rule(original=cancelled, amount=st.integers(1, 400))
    def late_bet(self, original, amount):
        self.send(original[0], ("debit", original[1], amount))

    @rule(original=cancelled, amount=st.integers(0, 500), bet=bets)
    def late_payout_with_a_cancelled_id(self, original, amount, bet):
        self.send(original[0], ("credit", bet[1], amount, bet[0]))

    @rule(original=cancelled, bet=bets)
    def late_rollback_with_a_cancelled_id(self, original, bet):
        self.send(original[0], ("rollback", bet[1], bet[0]))

    @rule(tx=IDS, bet=bets, amount=st.sampled_from([2**52, BALANCE_LIMIT - FUNDS, BALANCE_LIMIT]))
    def payout_near_the_balance_limit(self, tx, bet, amount):
        self.send(tx, ("credit", bet[1], amount, None))

    @rule(what=st.sampled_from(["player", "game", "provider"]))
    def toggle(self, what):
        statement = {
            "player": "UPDATE CASINO_USERS SET enabled = NOT enabled WHERE id = %s",
            "game": "UPDATE CASINO_GAMES SET enabled = NOT enabled WHERE id = %s",
            "provider": "UPDATE CASINO_GAME_PROVIDERS SET enabled = NOT enabled "
                        "WHERE id = (SELECT provider_id FROM CASINO_GAMES WHERE id = %s)",
        }[what]
        self.ledger.query(statement + " RETURNING 1", self.user_id if what == "player" else self.game)
        self.model.disabled ^= {what}

    # Minutes clear of the timeout, so the test's own duration cannot tip a session over.
    @rule(minutes=st.sampled_from([0, 10, 28, 32, 90]))
    def sit_idle(self, minutes):
        self.ledger.query("UPDATE CASINO_GAME_SESSIONS SET last_activity_at = now() - make_interval(mins => %s) "
                          "WHERE token = %s RETURNING 1", minutes, self.token)
        self.model.idle_minutes = minutes

    @rule(tx=IDS, bet=bets)
    def roll_back_bet(self, tx, bet):
        self.send(tx, ("rollback", bet[1], bet[0]))

    @rule(pick=st.integers(0, 10_000))
    def resend(self, pick):
        if self.sent:
            self.send(*self.sent[pick % len(self.sent)])

    @rule(pick=st.integers(0, 10_000), amount=st.integers(1, 400))
    def reuse_id(self, pick, amount):
        if self.sent:
            self.send(self.sent[pick % len(self.sent)][0], ("debit", "r1", amount))

    @invariant()
    def balances_match(self):
        assert self.ledger.balance(self.wallet) == (self.model.playable, self.model.redeemable)


def test_api_behaves_like_the_model(api, ledger):
    WalletMachine.api, WalletMachine.ledger = api, ledger
    run_state_machine_as_test(WalletMachine, settings=settings(
        max_examples=30, stateful_step_count=40, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))
    assert ledger.violations() == []
