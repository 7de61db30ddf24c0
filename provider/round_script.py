"""The scripted demo round behind /provider/simulate.

    balance check -> bet A -> bet B -> rollback of bet A -> payout for bet B
    -> resend of bet B (must come back as a replay, moving nothing) -> balance check

Every money call is written to PROVIDER_BETS before it is sent (pending) and updated
with the casino's answer after, so a crash in between leaves a row that says "ask the
casino". A bet whose outcome stays unknown after the client's retries is cancelled by a
rollback, itself resent until the casino answers definitively. A request plays at most
once per (casino, requestId): provider/simulations.py.
"""
import json
from dataclasses import dataclass

from . import rounds, simulations

# Extra rounds of retries for the rollback that cancels an unknown bet (each round is a
# full CasinoClient retry cycle); past that the bet is left 'unknown' for reconciliation.
CANCEL_ROUNDS = 3


def _clamp(amount, session):
    return max(session.min_bet, min(session.max_bet, amount))


class RoundScript:
    def __init__(self, db, client, session, round_pk, round_id, request_id=None):
        self.db, self.client, self.session = db, client, session
        self.request_id = request_id
        self.round_pk, self.round_id = round_pk, round_id
        self.user_id = int(session.casino_user_id)
        self.steps = []
        self._sequence = 0

    def _transaction_id(self, kind):
        self._sequence += 1
        return f"{self.round_id}-{self._sequence}-{kind}"

    def _base(self):
        return {"sessionToken": self.session.casino_session_token, "userId": self.user_id}

    def _record_step(self, step, endpoint, answer):
        self.steps.append({"step": step, "endpoint": f"/casino/{endpoint}", "request": answer.request,
                           "status": answer.status, "response": answer.body,
                           "replay": answer.replay, "attempts": answer.attempts})

    async def balance(self, step):
        answer = await self.client.call("getBalance", self._base(), self.request_id)
        self._record_step(step, "getBalance", answer)
        return answer.body.get("balance") if answer.accepted else None

    async def _money(self, step, kind, body, amount, related_id=None):
        answer, status = await rounds.send_recorded(self.db, self.client, self.round_pk, kind, body, amount,
                                                    related_id, self.request_id)
        self._record_step(step, kind, answer)
        if status == "unknown" and kind == "debit":
            await self.cancel(body, amount)
        return answer

    async def bet(self, step, amount):
        body = {**self._base(), "transactionId": self._transaction_id("bet"), "roundId": self.round_id,
                "amount": _clamp(amount, self.session), "currency": self.session.currency}
        return await self._money(step, "debit", body, body["amount"])

    async def rollback(self, step, bet):
        body = rounds.rollback_of(bet.request, self._transaction_id("rollback"))
        return await self._money(step, "rollback", body, bet.request["amount"], bet.request["transactionId"])

    async def payout(self, step, bet, amount):
        body = {**self._base(), "transactionId": self._transaction_id("payout"), "roundId": self.round_id,
                "amount": amount, "currency": self.session.currency,
                "relatedTransactionId": bet.request["transactionId"]}
        return await self._money(step, "credit", body, amount, bet.request["transactionId"])

    async def resend(self, step, earlier_bet):
        """The same bet again, byte for byte, as a provider does when unsure it got through."""
        return await self._money(step, "debit", earlier_bet.request, earlier_bet.request["amount"])

    async def cancel(self, bet_body, amount):
        """Roll back a bet whose outcome is unknown, until the casino answers definitively."""
        body = rounds.rollback_of(bet_body, self._transaction_id("cancel"))
        for _ in range(CANCEL_ROUNDS):
            # Each round resends the same row's call; its attempts add up.
            answer, status = await rounds.send_recorded(self.db, self.client, self.round_pk, "rollback", body,
                                                        amount, bet_body["transactionId"], self.request_id)
            if answer.definitive:
                self._record_step("cancel unknown bet", "rollback", answer)
                if status == "accepted":
                    await self.db.transaction(rounds.mark_cancelled, bet_body["transactionId"])
                return answer
        self._record_step("cancel unknown bet", "rollback", answer)
        return answer


@dataclass
class SimulateAnswer:
    body: str          # exactly as first given, so a repeat gets the same bytes
    replay: bool


async def play_round(db, client, casino_code, req, request_id=None):
    """Run the script once per (casino, requestId), for one of the calling casino's
    provider sessions; returns the protocol's simulate answer."""
    claim = await db.transaction(simulations.claim_request, casino_code, req)
    if claim.stored_answer is not None:
        return SimulateAnswer(claim.stored_answer, replay=True)
    script = RoundScript(db, client.for_casino(casino_code), claim.session, claim.round_pk, claim.round_id,
                         request_id)

    await script.balance("balance check")
    bet_a = await script.bet("bet", 100)
    bet_b = await script.bet("bet", 200)
    if bet_a.accepted:
        await script.rollback("rollback of the first bet", bet_a)
    if bet_b.accepted:
        await script.payout("payout for the second bet", bet_b, 2 * bet_b.request["amount"])
        await script.resend("resend of the second bet", bet_b)
    final = await script.balance("final balance check")

    settled = bet_b.accepted and all(s["status"] is not None for s in script.steps)
    body = json.dumps({"roundId": claim.round_id, "steps": script.steps, "finalBalance": final},
                      separators=(",", ":"))
    await db.transaction(simulations.store_answer, claim, "settled" if settled else "open", body)
    return SimulateAnswer(body, replay=False)
