"""Play requests of a casino, by its requestId: at most one round per (casino, requestId).

The first request claims the id in the same transaction that opens its round; the claim
is committed before any money call is sent, so a repeat -- a replayed body, or a twin
sent at the same instant -- finds it and never plays. A repeat gets the first answer,
byte for byte, once there is one; until then 409 REQUEST_IN_PROGRESS, to retry later.
The casino is the one whose key signed the request; it sees only its own sessions.
"""
from dataclasses import dataclass

from wire.refusals import error

from . import launches, rounds

EARLIER_CLAIM = """
    SELECT session_id, response FROM PROVIDER_SIMULATIONS WHERE casino_code = %s AND request_id = %s
"""

# A twin that got past EARLIER_CLAIM waits here on the unique key until the first
# commits, then inserts nothing.
CLAIM = """
    INSERT INTO PROVIDER_SIMULATIONS (casino_code, request_id, session_id, round_id)
    VALUES (%s, %s, %s, %s)
    ON CONFLICT (casino_code, request_id) DO NOTHING
    RETURNING id
"""

STORE_ANSWER = """
    UPDATE PROVIDER_SIMULATIONS SET response = %s, answered_at = now() WHERE id = %s AND response IS NULL
"""


@dataclass
class Claim:
    """A request to play: a new round (claim_id, round_pk, round_id), or the stored answer."""
    session: launches.ProviderSession
    claim_id: int | None = None
    round_pk: int | None = None
    round_id: str | None = None
    stored_answer: str | None = None


def claim_request(cur, casino_code, req):
    """Find the calling casino's session the request names and claim its requestId,
    opening the round."""
    session = launches.find_session(cur, casino_code, req["providerSessionId"], req["sessionToken"], req["userId"])
    cur.execute(EARLIER_CLAIM, (session.casino_code, req["requestId"]))
    earlier = cur.fetchone()
    if earlier is not None:
        session_id, response = earlier
        if session_id != session.id:
            raise error("IDEMPOTENCY_CONFLICT", "requestId")
        if response is None:
            raise error("REQUEST_IN_PROGRESS")
        return Claim(session, stored_answer=response)
    round_pk, round_id = rounds.open_round(cur, session)
    cur.execute(CLAIM, (session.casino_code, req["requestId"], session.id, round_pk))
    claimed = cur.fetchone()
    if claimed is None:
        raise error("REQUEST_IN_PROGRESS")   # a twin claimed it first; the error rolls our round back
    return Claim(session, claimed[0], round_pk, round_id)


def store_answer(cur, claim, round_status, body):
    """Settle the round's books and keep the answer a repeat will get, in one transaction."""
    rounds.settle_round(cur, claim.round_pk, round_status)
    cur.execute(STORE_ANSWER, (body, claim.claim_id))
