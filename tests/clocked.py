"""Money moved through the real functions at a time the test chooses: each call runs the
casino's own verb (casino/wallet.py's money calls, the cashier of casino/backoffice.py, the
players of casino/players.py, the grants and cancels of casino/bonuses.py) in a transaction
of the test's connection that first freezes the database's test clock (casino/clock.py)
for that transaction only, so its ledger row -- and a wallet made then -- is stamped at that
instant. Nothing else differs from a call over HTTP: the same SQL functions, rules, locks
and answers. For the reports' tests: days, months and time zones without waiting for them.
"""
import uuid
from dataclasses import dataclass
from datetime import timedelta

import psycopg2

from casino import backoffice, bonuses, clock, players, sessions, wallet

IDLE = timedelta(days=3650)    # sessions never expire on a scripted day (the rule has tests of its own)


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict
    replay: bool


@dataclass(frozen=True)
class Seat:
    """A player's session on a game: what a provider's calls name."""
    provider_id: int
    provider_code: str
    game_id: int
    user_id: int
    wallet_id: int
    token: str
    currency: str


class ClockedLedger:
    def __init__(self, dsn):
        self.conn = psycopg2.connect(dsn)
        self.now = None     # the instant the next call is stamped with

    def close(self):
        self.conn.close()

    def at(self, moment):
        self.now = moment
        return self

    def run(self, fn, *args):
        with self.conn, self.conn.cursor() as cur:
            previous = clock.freeze(cur, self.now)
            result = fn(cur, *args)
            clock.restore(cur, previous)
            return result

    def player(self, currencies, funds=0):
        """A new player with a wallet per currency, funded by a deposit each; returns
        (user_id, {currency: wallet_id})."""
        user_id, wallets = self.run(players.create_player, "u-" + uuid.uuid4().hex[:12], currencies)
        if funds:
            for currency in currencies:
                self.deposit(user_id, currency, funds)
        return user_id, wallets

    def seat(self, user_id, wallet_id, currency, game_id):
        def make(cur):
            cur.execute("""SELECT p.id, p.code FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id
                           WHERE g.id = %s""", (game_id,))
            provider_id, code = cur.fetchone()
            token = sessions.create_session(cur, user_id, wallet_id, game_id)
            sessions.activate_session(cur, token, "ps-" + uuid.uuid4().hex[:8])
            return Seat(provider_id, code, game_id, user_id, wallet_id, token, currency)
        return self.run(make)

    def _reply(self, answer):
        return Reply(answer.status, answer.json(), answer.replay)

    def deposit(self, user_id, currency, amount, reference=None):
        return self._cashier("deposit", user_id, currency, amount, reference)

    def withdraw(self, user_id, currency, amount, reference=None):
        return self._cashier("withdrawal", user_id, currency, amount, reference)

    def _cashier(self, kind, user_id, currency, amount, reference):
        req = {"userId": user_id, "currency": currency, "amount": amount,
               "reference": reference or f"{kind}-{uuid.uuid4().hex}"}
        return self._reply(self.run(backoffice.cashier, kind, None, req))

    def bet(self, seat, transaction_id, round_id, amount, currency=None):
        req = {"sessionToken": seat.token, "userId": seat.user_id, "transactionId": transaction_id,
               "roundId": round_id, "amount": amount, "currency": currency or seat.currency}
        return self._reply(self.run(wallet.debit, seat.provider_id, req, IDLE))

    def win(self, seat, transaction_id, round_id, amount, related_id=None, currency=None):
        req = {"sessionToken": seat.token, "userId": seat.user_id, "transactionId": transaction_id,
               "roundId": round_id, "amount": amount, "currency": currency or seat.currency}
        if related_id is not None:
            req["relatedTransactionId"] = related_id
        return self._reply(self.run(wallet.credit, seat.provider_id, req))

    def rollback(self, seat, transaction_id, round_id, original_id):
        req = {"sessionToken": seat.token, "userId": seat.user_id, "transactionId": transaction_id,
               "roundId": round_id, "originalTransactionId": original_id}
        return self._reply(self.run(wallet.rollback, seat.provider_id, req))

    def grant(self, user_id, currency, amount, wagering=1, expires_at="2100-01-01T00:00:00Z", reference=None):
        req = {"userId": user_id, "currency": currency, "amount": amount, "wagering": wagering,
               "expiresAt": expires_at, "reference": reference or f"bonus-{uuid.uuid4().hex}"}
        return self._reply(self.run(bonuses.grant, None, req))

    def cancel(self, bonus_id):
        return self._reply(self.run(bonuses.cancel, players.operator_for("test"), bonus_id))
