"""Bonus money against a model: random sequences of grants, bets, wins, refunds, the
completions they cause, the clock passing expiries, expiry passes, cancels, deposits and
withdrawals, with resends of any of them, played against the real HTTP API and against a
small pure-Python model of PROTOCOL.md's "Bonus money" and the README's stated rules. Both
must give the same status, error code, balance and bonus after every step, and the same
balances (cash and bonus) in the database."""
import asyncio
import uuid
from dataclasses import dataclass, field

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from casino import bonuses
from db.pool import Database
from tests import model_support
from tests.model_support import TRANSACTION_IDS, round_ids
from tests.support import Gambler, error_code

MIN_BET, MAX_BET, CASH = 1, 200, 100
LIMIT = 2**53 - 1
BASE = "2100-01-01T00:{:02d}:00Z"           # the model's minute m, on the test clock
IDS = TRANSACTION_IDS
ROUNDS = round_ids(5)


@dataclass(kw_only=True)
class Bet(model_support.Bet):
    """What the bet took of each: cash first, then the bonus `bonus_id` (the model's number)."""
    cash: int = 0
    bonus: int = 0
    bonus_id: int | None = None


@dataclass
class Bonus:
    required: int
    expires: int            # the minute it expires at
    wagered: int = 0
    status: str = "active"


@dataclass
class BonusModel:
    """One wallet's cash and bonus money under the rules, nothing else."""
    cash: int = CASH
    bonus: int = 0
    minute: int = 0
    active: int | None = None                     # the model's bonus number
    bonuses: dict = field(default_factory=dict)   # number -> Bonus
    answers: dict = field(default_factory=dict)   # transactionId or reference -> (request, answer)
    bets: dict = field(default_factory=dict)
    tombstones: set = field(default_factory=set)
    paid_rounds: set = field(default_factory=set)

    @property
    def playable(self):
        return self.cash + self.bonus

    def expire_if_due(self):
        if self.active is not None and self.bonuses[self.active].expires <= self.minute:
            self.forfeit()

    def forfeit(self):
        self.bonuses[self.active].status = "forfeited"
        self.bonus, self.active = 0, None

    def answer(self, status, code=None):
        return (status, code, self.playable if status < 300 else None, self.bonus if status < 300 else None)

    # --- the provider's calls --------------------------------------------------------------

    def call(self, tx, request):
        if tx in self.answers:
            stored, answer = self.answers[tx]
            return answer if stored == request else (409, "IDEMPOTENCY_CONFLICT", None, None)
        if tx in self.tombstones:
            if request[0] == "debit":
                self.bets[tx] = Bet(round_id=request[1], amount=request[2], accepted=False)
            answer = (409, "TRANSACTION_ROLLED_BACK", None, None)
        else:
            self.expire_if_due()
            answer = getattr(self, request[0])(tx, *request[1:])
        self.answers[tx] = (request, answer)
        return answer

    def debit(self, tx, round_id, amount):
        if not MIN_BET <= amount <= MAX_BET or amount > self.playable:
            self.bets[tx] = Bet(round_id=round_id, amount=amount, accepted=False)
            return self.answer(422, "BET_LIMIT_EXCEEDED" if not MIN_BET <= amount <= MAX_BET else "INSUFFICIENT_FUNDS")
        cash = min(self.cash, amount)
        bet = self.bets[tx] = Bet(round_id=round_id, amount=amount, accepted=True, cash=cash, bonus=amount - cash,
                                     bonus_id=self.active)
        self.cash -= bet.cash
        self.bonus -= bet.bonus
        if self.active is not None:
            active = self.bonuses[self.active]
            active.wagered += amount
            if active.wagered >= active.required:
                active.status = "completed"
                self.cash, self.bonus, self.active = self.cash + self.bonus, 0, None
        return self.answer(200)

    def fate(self, bonus_id, share):
        """(kept, cashed) of money that was bonus_id's; the rest is forfeited."""
        if bonus_id is not None and bonus_id == self.active:
            return share, 0
        if bonus_id is not None and self.bonuses[bonus_id].status == "completed":
            return 0, share
        return 0, 0

    def credit(self, tx, round_id, amount, related):
        accepted = [b for b in self.bets.values() if b.round_id == round_id and b.accepted]
        if not accepted:
            return self.answer(404, "ROUND_NOT_FOUND")
        if related is not None:
            bet = self.bets.get(related)
            if bet is None or not bet.accepted or bet.round_id != round_id:
                return self.answer(409, "BET_NOT_FOUND")
            if bet.refunded:
                return self.answer(409, "TRANSACTION_ROLLED_BACK")
        elif all(b.refunded for b in accepted):
            return self.answer(409, "TRANSACTION_ROLLED_BACK")
        if self.playable + amount > LIMIT:
            return self.answer(422, "BALANCE_LIMIT_EXCEEDED")
        standing = [b for b in accepted if not b.refunded]
        staked = sum(b.bonus for b in standing)
        share = amount * staked // sum(b.amount for b in standing)
        # The whole share follows the least favourable fate of the bonuses staked: forfeited,
        # else kept by the active one, else cash.
        def rank(bonus_id):
            return 1 if bonus_id == self.active else 2 if self.bonuses[bonus_id].status == "completed" else 0
        from_bonus = min((b.bonus_id for b in standing if b.bonus > 0), key=lambda i: (rank(i), -i), default=None)
        kept, cashed = self.fate(from_bonus, share)
        self.cash += amount - share + cashed
        self.bonus += kept
        self.paid_rounds.add(round_id)
        return self.answer(200)

    def rollback(self, tx, round_id, original):
        if original == tx or (original in self.answers and original not in self.bets):
            return self.answer(409, "ROLLBACK_NOT_ALLOWED")
        if original not in self.bets:
            self.tombstones.add(original)
            return self.answer(200)
        bet = self.bets[original]
        if bet.round_id != round_id:
            return self.answer(409, "BET_NOT_FOUND")
        if not bet.accepted or bet.refunded:
            return self.answer(200)
        if round_id in self.paid_rounds:
            return self.answer(409, "ROLLBACK_NOT_ALLOWED")
        if self.playable + bet.amount > LIMIT:
            return self.answer(422, "BALANCE_LIMIT_EXCEEDED")
        bet.refunded = True
        if bet.bonus_id is not None and bet.bonus_id == self.active:
            self.bonuses[self.active].wagered -= bet.amount
        kept, cashed = self.fate(bet.bonus_id, bet.bonus)
        self.cash += bet.cash + cashed
        self.bonus += kept
        return self.answer(200)

    # --- the cashier's calls, by reference ------------------------------------------------

    def cashier(self, reference, request):
        if reference in self.answers:
            stored, answer = self.answers[reference]
            return answer if stored == request else (409, "IDEMPOTENCY_CONFLICT", None, None)
        self.expire_if_due()
        kind, amount = request[0], request[1]
        if kind == "grant":
            answer = self.grant(amount, *request[2:])
        elif kind == "withdrawal" and amount > self.cash:
            answer = (422, "INSUFFICIENT_FUNDS", None, None)
        elif kind == "deposit" and self.playable + amount > LIMIT:
            answer = (422, "BALANCE_LIMIT_EXCEEDED", None, None)
        else:
            self.cash += amount if kind == "deposit" else -amount
            answer = self.answer(200)
        self.answers[reference] = (request, answer)
        return answer

    def grant(self, amount, wagering, expires):
        if expires <= self.minute:
            return (422, "BONUS_EXPIRY_PASSED", None, None)
        if self.active is not None:
            return (409, "BONUS_ACTIVE", None, None)
        self.active = len(self.bonuses) + 1
        self.bonuses[self.active] = Bonus(amount * wagering, expires)
        self.bonus += amount
        return (201, None, None, amount)       # the grant answers the bonus: what it holds


class BonusMachine(RuleBasedStateMachine):
    api = ledger = clock = None   # set by the test
    bets = Bundle("bets")
    cancelled = Bundle("cancelled")
    references = Bundle("references")

    def __init__(self):
        super().__init__()
        self.clock.set(BASE.format(0))
        self.g = Gambler(self.api, self.ledger, cash=CASH, min_bet=MIN_BET, max_bet=MAX_BET)
        self.model = BonusModel()
        self.run = uuid.uuid4().hex[:8]     # references are the casino's own: unique per example
        self.sent = []
        self.bonus_ids = {}                 # the model's bonus number -> the API's bonusId
        self.db = Database(self.ledger.dsn, size=1)     # the expiry pass's

    def teardown(self):
        self.db.close()

    def check(self, what, response, expected):
        """(status, code, balance, bonus) of an answer: a grant's is the bonus's remaining, a
        deposit's or withdrawal's bonus its balance - redeemable."""
        body = response.json()
        got = (response.status_code, error_code(response), None, None)
        if response.status_code >= 300:
            pass
        elif what[0] == "grant":
            got = got[:3] + (body["remaining"],)
        elif what[0] in ("deposit", "withdrawal"):
            got = got[:2] + (body["balance"], body["balance"] - body["redeemable"])
        else:
            got = got[:2] + (body["balance"], body["bonus"])
        assert got == expected, f"{what}: API {got}, model {expected}"

    def send(self, tx, request):
        kind, round_id = request[0], request[1]
        if kind == "debit":
            response = self.g.debit(tx, request[2], round_id)
        elif kind == "credit":
            response = self.g.credit(tx, request[2], round_id, related=request[3])
        else:
            response = self.g.rollback(tx, request[2], round_id)
        self.check(request, response, self.model.call(tx, request))
        self.sent.append(("call", tx, request))

    def cash_call(self, reference, request):
        kind = request[0]
        if kind == "grant":
            response = self.g.grant(request[1], wagering=request[2], expires_at=BASE.format(request[3]),
                                    reference=reference)
        elif kind == "deposit":
            response = self.g.deposit(request[1], reference=reference)
        else:
            response = self.g.withdraw(request[1], reference=reference)
        before = self.model.active
        expected = self.model.cashier(reference, request)
        if kind == "grant" and response.status_code == 201 and response.headers.get("Idempotent-Replay") != "true":
            self.bonus_ids[self.model.active] = response.json()["bonusId"]
            assert before != self.model.active
        self.check(request, response, expected)
        self.sent.append(("cash", reference, request))

    # --- the provider's calls -------------------------------------------------------------

    @rule(target=bets, tx=IDS, round_id=ROUNDS, amount=st.integers(1, 250))
    def debit(self, tx, round_id, amount):
        self.send(tx, ("debit", round_id, amount))
        return tx, round_id

    @rule(tx=IDS, bet=bets, amount=st.integers(0, 700), name_it=st.booleans())
    def pay_out_bet(self, tx, bet, amount, name_it):
        self.send(tx, ("credit", bet[1], amount, bet[0] if name_it else None))

    @rule(tx=IDS, round_id=ROUNDS, amount=st.integers(0, 700))
    def credit(self, tx, round_id, amount):
        self.send(tx, ("credit", round_id, amount, None))

    @rule(tx=IDS, bet=bets)
    def roll_back_bet(self, tx, bet):
        self.send(tx, ("rollback", bet[1], bet[0]))

    @rule(target=cancelled, tx=IDS, round_id=ROUNDS, original=IDS)
    def rollback(self, tx, round_id, original):
        self.send(tx, ("rollback", round_id, original))
        return original, round_id

    @rule(original=cancelled, amount=st.integers(1, 400))
    def late_bet(self, original, amount):
        self.send(original[0], ("debit", original[1], amount))

    # --- the cashier's, the clock and the pass --------------------------------------------

    # Every example starts with a bonus (most steps then have one to play with), and may get more.
    @initialize(target=references, amount=st.integers(100, 600), wagering=st.integers(1, 4), lasts=st.integers(1, 4))
    def first_grant(self, amount, wagering, lasts):
        return self.grant(amount, wagering, lasts)

    @rule(target=references, amount=st.integers(100, 600), wagering=st.integers(1, 4), lasts=st.integers(1, 4))
    def grant(self, amount, wagering, lasts):
        reference = f"g-{self.run}-{len(self.sent)}"
        self.cash_call(reference, ("grant", amount, wagering, self.model.minute + lasts))
        return reference

    @rule(amount=st.integers(1, 600), wagering=st.integers(1, 4))
    def grant_already_expired(self, amount, wagering):
        self.cash_call(f"g-{self.run}-{len(self.sent)}", ("grant", amount, wagering, self.model.minute))

    @rule(amount=st.integers(1, 100))
    def deposit(self, amount):
        self.cash_call(f"d-{self.run}-{len(self.sent)}", ("deposit", amount))

    @rule(amount=st.integers(1, 400))
    def withdraw(self, amount):
        self.cash_call(f"w-{self.run}-{len(self.sent)}", ("withdrawal", amount))

    @rule(minutes=st.integers(1, 3))
    def time_passes(self, minutes):
        self.model.minute = min(self.model.minute + minutes, 59)
        self.clock.set(BASE.format(self.model.minute))

    @rule()
    def expiry_pass(self):
        asyncio.run(bonuses.expire_due(self.db))
        self.model.expire_if_due()

    @rule(which=st.integers(0, 10))
    def cancel(self, which):
        numbers = sorted(self.bonus_ids)
        if not numbers:
            return
        number = numbers[which % len(numbers)]
        response = self.g.cancel(self.bonus_ids[number])
        if number == self.model.active:
            self.model.forfeit()
            assert response.status_code == 200, response.text
        else:
            assert (response.status_code, error_code(response)) == (409, "BONUS_NOT_ACTIVE")

    @rule(pick=st.integers(0, 10_000))
    def resend(self, pick):
        if self.sent:
            how, key, request = self.sent[pick % len(self.sent)]
            (self.send if how == "call" else self.cash_call)(key, request)

    @rule(reference=references, amount=st.integers(1, 600))
    def reuse_a_grants_reference(self, reference, amount):
        self.cash_call(reference, ("deposit", amount))

    @invariant()
    def balances_match(self):
        assert self.g.balances() == (self.model.playable, self.model.cash, self.model.bonus)
        balance = self.g.get_balance().json()
        expired = self.model.active is not None and self.model.bonuses[self.model.active].expires <= self.model.minute
        assert (balance["balance"], balance["bonus"]) == (
            (self.model.cash, 0) if expired else (self.model.playable, self.model.bonus))

    @invariant()
    def the_active_bonus_matches(self):
        if self.model.active is None:
            return
        listed = self.g.bonus(self.bonus_ids[self.model.active])
        active = self.model.bonuses[self.model.active]
        assert (listed["status"], listed["wagered"], listed["remaining"]) == ("active", active.wagered,
                                                                              self.model.bonus)


def test_bonus_money_behaves_like_the_model(api, ledger, clock):
    BonusMachine.api, BonusMachine.ledger, BonusMachine.clock = api, ledger, clock
    run_state_machine_as_test(BonusMachine, settings=settings(
        max_examples=30, stateful_step_count=40, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))
    assert ledger.violations() == []
