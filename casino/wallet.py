"""The casino's wallet: the provider's four callbacks applied to the ledger.

Every money call (debit, credit, rollback) is one call of a SQL function (casino_debit,
casino_credit, casino_rollback in sql/functions/), run in autocommit: one statement, one
database transaction that locks the session's wallet, then its transactionId (and a
rollback's original id) with transaction-scoped advisory locks; finds a stored answer for
the id (replayed) or a tombstone naming it (refused); applies the rules, reading other
ledger rows only after the locks; and inserts its one ledger row, already answered,
moving the wallet with it. sql/functions/casino_calls.sql says why in that order.

A refusal by a rule is an answer like a success: stored and replayed. An unknown session,
another provider's session or an idempotency conflict stores nothing. Every refusal is in
the catalogue (wire/refusals.py), and the order each call's win in with it. getBalance and
transactionStatus are SQL functions too (sql/functions/casino_reads.sql), so every answer
body of the provider's callbacks is built in SQL, in one format, refusals from the
catalogue. This module computes the request's fingerprint, calls the function, and hands
back what it answered: an Answer, or a Refused holding the refusal's stored bytes.
"""
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from psycopg2.extensions import cursor as Cursor

from wire.refusals import Refused

BALANCE = "SELECT status, body, replay, error_code FROM casino_get_balance(%s, %s, %s)"
TRANSACTION_STATUS = "SELECT status, body, replay, error_code FROM casino_transaction_status(%s, %s)"
DEBIT = "SELECT status, body, replay, error_code FROM casino_debit(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
CREDIT = "SELECT status, body, replay, error_code FROM casino_credit(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
ROLLBACK = "SELECT status, body, replay, error_code FROM casino_rollback(%s, %s, %s, %s, %s, %s, %s)"


# A request body as wire.validation parsed it.
Request = dict[str, Any]


@dataclass(frozen=True)
class Answer:
    """A success. A refusal is a Refused (wire/refusals.py), whichever layer refuses: a SQL
    function's (answer_of), a back-office verb's (returned, so its audit row commits)."""
    status: int
    # The JSON text a SQL function built (the wallet's calls, the cashier: stored and
    # replayed byte for byte), or the dict a Python verb built (the back office's others).
    # JsonHandler.render_json takes either; json() reads either.
    body: str | dict[str, Any]
    replay: bool = False

    def __post_init__(self) -> None:
        if self.status >= 400:
            raise TypeError(f"an answer of status {self.status} is a refusal: a Refused, from the catalogue "
                            "(refusals.error(code) / backoffice._refusal(code), or answer_of(row) for a SQL reply)")

    def json(self) -> dict[str, Any]:
        """The body as a dict, whichever form it came in."""
        if isinstance(self.body, str):
            parsed: dict[str, Any] = json.loads(self.body)
            return parsed
        return self.body


# What a service verb gives its handler: a success, or a refusal it recorded.
Outcome = Answer | Refused


def answer_of(row: tuple[Any, ...] | None) -> Outcome:
    """A SQL function's casino_reply (status, body, replay, error_code) as what it is: an
    Answer, or a Refused keeping the body's bytes (a stored refusal replays as stored)."""
    assert row is not None, "a wallet function answers one row"
    status, body, replay, _ = row
    if status >= 400:
        return Refused.from_reply(status, body, replay)
    return Answer(status, body, replay)


# json.dumps builds a new encoder for each call given separators; this one is made once
# (the same bytes, so the same fingerprints as ever).
_compact = json.JSONEncoder(separators=(",", ":"))


def fingerprint(*fields: object) -> str:
    """The meaningful content of a request, so a resend serialised differently still matches."""
    return hashlib.sha256(_compact.encode(fields).encode()).hexdigest()


def get_balance(cur: Cursor, provider_id: int, req: Request) -> Outcome:
    cur.execute(BALANCE, (provider_id, req["sessionToken"], req["userId"]))
    return _answer(cur)


def _answer(cur: Cursor) -> Outcome:
    return answer_of(cur.fetchone())


def debit(cur: Cursor, provider_id: int, req: Request, session_idle_timeout: timedelta) -> Outcome:
    """A bet: takes `amount` from the wallet if every rule allows it. A session idle for
    longer than session_idle_timeout (a timedelta) takes no bet."""
    cur.execute(DEBIT, (provider_id, req["sessionToken"], req["userId"], req["transactionId"], req["roundId"],
                        req["amount"], req["currency"],
                        fingerprint("debit", req["userId"], req["roundId"], req["amount"], req["currency"], None),
                        session_idle_timeout))
    return _answer(cur)


def credit(cur: Cursor, provider_id: int, req: Request) -> Outcome:
    """A payout for an accepted bet of the round; 0 settles a lost round."""
    related = req.get("relatedTransactionId")
    cur.execute(CREDIT, (provider_id, req["sessionToken"], req["userId"], req["transactionId"], req["roundId"],
                         req["amount"], req["currency"], related,
                         fingerprint("credit", req["userId"], req["roundId"], req["amount"], req["currency"],
                                     related)))
    return _answer(cur)


def rollback(cur: Cursor, provider_id: int, req: Request) -> Outcome:
    """Cancels a bet, refunding exactly what it took."""
    original = req["originalTransactionId"]
    cur.execute(ROLLBACK, (provider_id, req["sessionToken"], req["userId"], req["transactionId"], req["roundId"], original,
                           fingerprint("rollback", req["userId"], req["roundId"], 0, None, original)))
    return _answer(cur)


def transaction_status(cur: Cursor, provider_id: int, req: Request) -> Outcome:
    """What the casino recorded for one of the calling provider's transactionIds, changing
    nothing (reconciliation)."""
    cur.execute(TRANSACTION_STATUS, (provider_id, req["transactionId"]))
    return _answer(cur)
