"""What a tool's key may write on: only what its own tool made.

A tool's key (an operator key with an origin other than "operator", migration 0015) is what
a load tool pointed at a deployment is handed. Its players, providers and their games are
marked with its origin when it makes them; every other write it makes must land on those
alone, never on a real player (a deposit, a limit, a launch that a round then pays), a real
provider (its keys, its endpoint) or a real game. What a call writes on is declared by its
handler (`writes_on`: a kind and where its id is), and checked here before the call runs,
after its body is read -- as the scope is, refused with 403 FORBIDDEN and nothing written.
A jurisdiction is no tool's: a tool's key writes none. An object that does not exist is let
through, for the call to answer its own 404. An origin never changes once set (the database
refuses it), so a check made before the call's transaction still holds in it.
"""
from psycopg2.extensions import cursor as Cursor

from db.pool import Database

from . import refusals
from .operators import Operator
from .refusals import Refused

OPERATOR = "operator"

# The origin of each kind of object a call writes on, by its id; None: no tool's ever.
ORIGIN_OF = {
    "player": "SELECT origin FROM CASINO_USERS WHERE id = %s",
    "provider": "SELECT origin FROM CASINO_GAME_PROVIDERS WHERE code = %s",
    "game": """SELECT p.origin FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id
               WHERE g.id = %s""",
    "session": """SELECT u.origin FROM CASINO_GAME_SESSIONS s JOIN CASINO_USERS u ON u.id = s.user_id
                  WHERE s.id = %s""",
    "bonus": """SELECT u.origin FROM CASINO_BONUSES b JOIN CASINO_WALLETS w ON w.id = b.wallet_id
                JOIN CASINO_USERS u ON u.id = w.user_id WHERE b.id = %s""",
    "jurisdiction": None,
}


def origin_of(cur: Cursor, kind: str, object_id: int | str | None) -> str | None:
    """The origin of the object, or None when there is no such object."""
    query = ORIGIN_OF[kind]
    assert query is not None, f"no {kind} is a tool's: check() reads no origin of one"
    cur.execute(query, (object_id,))
    row = cur.fetchone()
    origin: str | None = row[0] if row else None
    return origin


def refusal(tool: str, kind: str, origin: str | None) -> Refused | None:
    """403 FORBIDDEN when a key of `tool` may not write on an object of `origin`; None when it
    may (its own tool's object, or none at all: the call answers its 404)."""
    if ORIGIN_OF[kind] is None:
        return refusals.error("FORBIDDEN", f"this key is a {tool} tool's: it writes no {kind}")
    if origin is None or origin == tool:
        return None
    whose = "a real one" if origin == OPERATOR else f"{origin}'s"
    return refusals.error("FORBIDDEN", f"this key is a {tool} tool's: it writes only on what {tool} made, "
                                       f"and this {kind} is {whose}")


def trust_refusal(operator: Operator | None) -> Refused | None:
    """403 FORBIDDEN when a tool's key would give a provider what lets it move money (a
    signing key, an endpoint, v1 signatures: operators.PROVIDER_TRUST), on any provider, its
    own tool's too: else a tool's key could make a provider, sign its callbacks and pay any
    player a lobby launches on its game. A load tool signs with the key it is handed."""
    if operator is None or operator.origin == OPERATOR:
        return None
    return refusals.error("FORBIDDEN", f"this key is a {operator.origin} tool's: it gives no provider a signing key, "
                                       "an endpoint or v1 signatures (an operator's key does)")


async def check(db: Database, operator: Operator | None, kind: str, object_id: int | str | None) -> None:
    """Raise 403 FORBIDDEN when `operator` is a tool's key and the object is not its tool's."""
    if operator is None or operator.origin == OPERATOR:
        return
    origin = None if ORIGIN_OF[kind] is None else await db.transaction(origin_of, kind, object_id)
    refused = refusal(operator.origin, kind, origin)
    if refused is not None:
        raise refused
