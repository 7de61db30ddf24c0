"""Provider side of a game launch: the casino's player becomes a customer with a session."""
import secrets
from dataclasses import dataclass

from wire.refusals import error

GAME_BY_CODE = """
    SELECT id, game_code, enabled, min_bet, max_bet FROM PROVIDER_GAMES WHERE game_code = %s
"""

# The customer is found by the casino's identity; a concurrent first launch of the same
# player is absorbed by the unique key instead of failing.
UPSERT_CUSTOMER = """
    INSERT INTO PROVIDER_CUSTOMERS (player_id, casino_code, external_user_id)
    VALUES (%s, %s, %s)
    ON CONFLICT (casino_code, external_user_id) DO UPDATE SET casino_code = EXCLUDED.casino_code
    RETURNING id
"""

# One provider session per casino session (a token is unique within its casino only): a
# launch the casino resends gets the same one.
CREATE_SESSION = """
    INSERT INTO PROVIDER_SESSIONS (provider_session_id, customer_id, game_id, casino_code, casino_session_token,
                                   currency)
    VALUES (%s, %s, %s, %s, %s, %s)
    ON CONFLICT (casino_code, casino_session_token) DO UPDATE SET casino_code = EXCLUDED.casino_code
    RETURNING provider_session_id, customer_id, game_id, currency
"""

SESSION = """
    SELECT s.id, s.provider_session_id, s.casino_session_token, s.currency,
           c.id, c.external_user_id, g.id, g.game_code, g.min_bet, g.max_bet, c.casino_code
    FROM PROVIDER_SESSIONS s
    JOIN PROVIDER_CUSTOMERS c ON c.id = s.customer_id
    JOIN PROVIDER_GAMES g ON g.id = s.game_id
    WHERE s.provider_session_id = %s
"""


@dataclass
class ProviderSession:
    id: int
    provider_session_id: str
    casino_session_token: str
    currency: str
    customer_id: int
    casino_user_id: str
    game_id: int
    game_code: str
    min_bet: int
    max_bet: int
    casino_code: str


def launch(cur, casino_code, req):
    """casino_code: the casino whose key signed the call; the body must name the same."""
    if req["casinoCode"] != casino_code:
        raise error("CASINO_MISMATCH")
    cur.execute(GAME_BY_CODE, (req["gameId"],))
    game = cur.fetchone()
    if game is None:
        raise error("GAME_NOT_FOUND")
    game_pk, code, enabled, min_bet, max_bet = game
    if not enabled:
        raise error("GAME_DISABLED")
    cur.execute(UPSERT_CUSTOMER, ("JQ-" + secrets.token_hex(8), req["casinoCode"], str(req["userId"])))
    customer_id = cur.fetchone()[0]
    cur.execute(CREATE_SESSION, ("ps-" + secrets.token_urlsafe(16), customer_id, game_pk, casino_code,
                                 req["sessionToken"], req["currency"]))
    provider_session_id, *launched = cur.fetchone()
    if launched != [customer_id, game_pk, req["currency"]]:
        # Launched before for another player, game or currency.
        raise error("IDEMPOTENCY_CONFLICT", "sessionToken")
    return {"providerSessionId": provider_session_id, "gameId": code, "currency": req["currency"],
            "minBet": min_bet, "maxBet": max_bet}


def find_session(cur, casino_code, provider_session_id, casino_session_token, user_id):
    """The calling casino's provider session the three identifiers agree on, or the
    protocol's error (another casino's session is as unknown as a made-up one)."""
    cur.execute(SESSION, (provider_session_id,))
    row = cur.fetchone()
    if row is None or row[2] != casino_session_token or row[-1] != casino_code:
        raise error("SESSION_NOT_FOUND", "providerSessionId and sessionToken")
    session = ProviderSession(*row)
    if session.casino_user_id != str(user_id):
        raise error("USER_MISMATCH")
    return session
