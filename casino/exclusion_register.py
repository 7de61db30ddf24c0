"""The external self-exclusion register (GAMSTOP, Spelpaus, OASIS...): one small client,
asked at launch and at deposit for a player whose jurisdiction names one.

What it asks: `POST <the jurisdiction's registerUrl>` with the player's identity,
`{"firstName", "lastName", "dateOfBirth", "postcode", "email"}`; what it understands: `200
{"status": "excluded" | "not-excluded" | "previously-excluded", "reference": "<the
register's id for this check>"}`. Anything else -- no answer within REGISTER_TIMEOUT, a
refusal, a redirect (never followed), a body of another shape -- is "could not be asked",
and the jurisdiction's rule decides: refuse (the default: 503 EXCLUSION_CHECK_UNAVAILABLE)
or allow. A real register speaking its own protocol gets an adapter in front of it that
speaks this one (casino/demo_register.py is a fake one, for the tests and the demo).

Every check is a row of CASINO_REGISTER_CHECKS: the answer and reference, or the error; a
definite answer is reused for REGISTER_CACHE_SECONDS (the reuse is a row too, naming the
answer it reused), as long as the identity it was asked with has not changed. The
verdict a caller acts on: None (no register for this player), "clear", "excluded",
"identity-missing" (the register cannot be asked without it: 422), or "unavailable" (could
not be asked, and the jurisdiction refuses then).
"""
import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from psycopg2.extensions import cursor as Cursor
from tornado.httpclient import HTTPResponse

from db.pool import Database
from wire.addresses import AddressPolicy
from wire.outbound import OutboundClient, OutboundLimits

from . import refusals

ANSWERS = ("excluded", "not-excluded", "previously-excluded")
_REFERENCE = re.compile(r"[\x20-\x7e]{1,200}")

SUBJECT = """
    SELECT u.jurisdiction, j.register_name, j.register_url, j.register_unreachable,
           u.first_name, u.last_name, to_char(u.date_of_birth, 'YYYY-MM-DD'), u.postcode, u.email
    FROM CASINO_USERS u JOIN CASINO_JURISDICTIONS j ON j.code = u.jurisdiction
    WHERE u.id = %s AND j.register_name IS NOT NULL
"""

# A definite answer about this identity, young enough to reuse (its own row, never a reuse).
CACHED = """
    SELECT id, answer FROM CASINO_REGISTER_CHECKS
    WHERE user_id = %s AND register_name = %s AND identity_hash = %s AND answer IS NOT NULL
      AND cached_from IS NULL AND created_at > casino_clock() - %s * interval '1 second'
    ORDER BY id DESC LIMIT 1
"""

RECORD = """
    INSERT INTO CASINO_REGISTER_CHECKS (user_id, jurisdiction, register_name, purpose, identity_hash, answer,
                                        reference, error, cached_from, duration_ms, created_at)
    VALUES (%(user_id)s, %(jurisdiction)s, %(register)s, %(purpose)s, %(identity_hash)s, %(answer)s,
            %(reference)s, %(error)s, %(cached_from)s, %(duration_ms)s, casino_clock())
"""


@dataclass(frozen=True)
class Subject:
    user_id: int
    jurisdiction: str
    register: str
    url: str | None
    allow_when_unreachable: bool
    identity: dict[str, str | None]

    @property
    def identity_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.identity, sort_keys=True).encode()).hexdigest()

    @property
    def identity_complete(self) -> bool:
        return all(self.identity.values())


def _subject(cur: Cursor, user_id: int) -> Subject | None:
    cur.execute(SUBJECT, (user_id,))
    row = cur.fetchone()
    if row is None:
        return None
    jurisdiction, register, url, unreachable, first_name, last_name, birth, postcode, email = row
    return Subject(user_id, jurisdiction, register, url, unreachable == "allow",
                   {"firstName": first_name, "lastName": last_name, "dateOfBirth": birth, "postcode": postcode,
                    "email": email})


def _cached(cur: Cursor, subject: Subject, seconds: float) -> tuple[Any, ...] | None:
    if seconds <= 0:
        return None
    cur.execute(CACHED, (subject.user_id, subject.register, subject.identity_hash, seconds))
    return cur.fetchone()


@dataclass(frozen=True)
class RegisterCheck:
    """One check of a player against the register, as recorded: the register's answer and
    reference, or why there is none; or the earlier check whose answer it reused. (Not
    wire/refusals.py's Check, a condition that refuses a call.)"""
    answer: str | None = None
    reference: str | None = None
    error: str | None = None
    cached_from: int | None = None
    duration_ms: int | None = None


def _record(cur: Cursor, subject: Subject, purpose: str, check: RegisterCheck) -> None:
    cur.execute(RECORD, {"user_id": subject.user_id, "jurisdiction": subject.jurisdiction,
                         "register": subject.register, "purpose": purpose, "identity_hash": subject.identity_hash,
                         "answer": check.answer, "reference": check.reference, "error": check.error,
                         "cached_from": check.cached_from, "duration_ms": check.duration_ms})


def read_answer(response: HTTPResponse | None) -> tuple[str | None, str | None, str | None]:
    """(answer, reference, None) from a register's response, or (None, None, why not)."""
    if response is None:
        return None, None, "no answer in time"
    if response.code != 200:
        return None, None, f"answered HTTP {response.code}"
    try:
        body = json.loads(response.body)
    except (TypeError, ValueError, RecursionError):
        body = None
    if not isinstance(body, dict) or body.get("status") not in ANSWERS \
            or not (isinstance(body.get("reference"), str) and _REFERENCE.fullmatch(body["reference"])):
        return None, None, "answered something that is not a register's answer"
    return body["status"], body["reference"], None


class ExclusionRegister:
    """addresses: the server's wire.addresses.AddressPolicy. A registerUrl was checked when it
    was set; it is checked again at each connection (DNS can change, and a row may predate the
    check), and an address refused is a register that cannot be asked."""

    def __init__(self, timeout: float, cache_seconds: float, max_clients: int = 8,
                 addresses: AddressPolicy | None = None) -> None:
        self.cache_seconds = cache_seconds
        self.http = OutboundClient(OutboundLimits(max_clients=max_clients, connect_timeout=min(timeout, 2.0),
                                                  request_timeout=timeout, queue_timeout=1.0), addresses)

    async def verdict(self, db: Database, user_id: int, purpose: str) -> str | None:
        """What the player's register says for a launch or a deposit (module docstring)."""
        subject = await db.transaction(_subject, user_id)
        if subject is None:
            return None
        if not subject.identity_complete:
            await db.transaction(_record, subject, purpose, RegisterCheck(error="identity incomplete: not asked"))
            return "identity-missing"
        cached = await db.transaction(_cached, subject, self.cache_seconds)
        if cached is not None:
            check_id, answer = cached
            await db.transaction(_record, subject, purpose, RegisterCheck(answer=answer, cached_from=check_id))
            return "excluded" if answer == "excluded" else "clear"
        started = time.monotonic()
        response = None
        if subject.url is not None:
            response = await self.http.post(subject.url, json.dumps(subject.identity).encode(),
                                            {"Content-Type": "application/json"})
        answer, reference, error = read_answer(response) if subject.url else (None, None, "no address configured")
        await db.transaction(_record, subject, purpose,
                             RegisterCheck(answer, reference, error,
                                           duration_ms=round((time.monotonic() - started) * 1000)))
        if answer is None:
            return "clear" if subject.allow_when_unreachable else "unavailable"
        return "excluded" if answer == "excluded" else "clear"

    def close(self) -> None:
        self.http.close()


def refuse(verdict: str | None) -> None:
    """Raise what a launch answers for a verdict that keeps the player out."""
    if verdict == "excluded":
        raise refusals.error("PLAYER_EXCLUDED", "by the external self-exclusion register")
    if verdict == "identity-missing":
        raise refusals.error("PLAYER_IDENTITY_MISSING")
    if verdict == "unavailable":
        raise refusals.error("EXCLUSION_CHECK_UNAVAILABLE")
