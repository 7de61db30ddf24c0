"""Game launch and the demo round, as the casino runs them for a player."""
import uuid
from dataclasses import dataclass
from typing import Any

from psycopg2.extensions import cursor as Cursor

from db.pool import Database
from wire.validation import IDENTIFIER

from . import exclusion_register, refusals, sessions
from .provider_link import ProviderLink, unavailable
from .wallet import Request

# Whether the player is enabled, and the end of an exclusion in force (PLAYER_EXCLUDED's words).
USER = """
    SELECT enabled, CASE WHEN casino_exclusion_until(id) > casino_clock()
                        THEN casino_exclusion_text(casino_exclusion_until(id)) END
    FROM CASINO_USERS WHERE id = %s
"""

GAME_AND_PROVIDER = """
    SELECT g.provider_game_id, g.default_currency, g.enabled, p.code, p.api_endpoint, p.enabled
    FROM CASINO_GAMES g
    JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id
    WHERE g.id = %s
"""

WALLET = "SELECT id, playable_balance FROM CASINO_WALLETS WHERE user_id = %s AND currency_code = %s"


@dataclass
class PendingLaunch:
    token: str
    user_id: int
    game_id: int
    provider_game_id: str
    provider_code: str
    provider_endpoint: str | None
    currency: str
    balance: int


def prepare_launch(cur: Cursor, req: Request) -> PendingLaunch:
    """Validate user (present, active), game, provider and wallet; create the (inactive) session."""
    cur.execute(USER, (req["userId"],))
    user = cur.fetchone()
    if user is None:
        raise refusals.error("USER_NOT_FOUND")
    if not user[0]:
        raise refusals.error("PLAYER_DISABLED")
    if user[1] is not None:
        raise refusals.error("PLAYER_EXCLUDED", user[1])
    cur.execute(GAME_AND_PROVIDER, (req["gameId"],))
    game = cur.fetchone()
    if game is None:
        raise refusals.error("GAME_NOT_FOUND")
    provider_game_id, default_currency, game_enabled, provider_code, endpoint, provider_enabled = game
    if not game_enabled:
        raise refusals.error("GAME_DISABLED")
    if not provider_enabled:
        raise refusals.error("PROVIDER_DISABLED")
    currency = req["currency"] or default_currency
    cur.execute(WALLET, (req["userId"], currency))
    wallet = cur.fetchone()
    if wallet is None:
        raise refusals.error("WALLET_NOT_FOUND", currency)
    wallet_id, balance = wallet
    token = sessions.create_session(cur, req["userId"], wallet_id, req["gameId"])
    return PendingLaunch(token, req["userId"], req["gameId"], provider_game_id, provider_code, endpoint, currency,
                         balance)


def _is_round(answer: dict[str, Any]) -> bool:
    """Whether a provider's simulate answer has what the casino passes on, typed as promised."""
    final = answer.get("finalBalance")
    return (IDENTIFIER.check(answer.get("roundId")) and isinstance(answer.get("steps"), list)
            and "finalBalance" in answer and (final is None or type(final) is int))


def _activate(cur: Cursor, pending: PendingLaunch, provider_session_id: str) -> None:
    if not sessions.activate_session(cur, pending.token, provider_session_id):
        # Excluded while the provider was launching: the session stays inactive.
        cur.execute(USER, (pending.user_id,))
        user = cur.fetchone()
        assert user is not None, "a session's player is never deleted"
        raise refusals.error("PLAYER_EXCLUDED", user[1])


async def launch_game(db: Database, link: ProviderLink, casino_code: str, req: Request, request_id: str | None = None,
                      register: exclusion_register.ExclusionRegister | None = None) -> tuple[PendingLaunch, dict[str, Any]]:
    """register: the casino's ExclusionRegister, asked (after the casino's own checks, with
    the session still inactive) when the player's jurisdiction names one."""
    pending = await db.transaction(prepare_launch, req)
    if register is not None:
        exclusion_register.refuse(await register.verdict(db, pending.user_id, "launch"))
    reply = await link.exchange(pending.provider_code, pending.provider_endpoint, "launch", {
        "sessionToken": pending.token, "userId": pending.user_id, "gameId": pending.provider_game_id,
        "currency": pending.currency, "casinoCode": casino_code}, request_id)
    provider_session_id = (reply.answer or {}).get("providerSessionId")
    if not IDENTIFIER.check(provider_session_id):
        raise unavailable(reply)
    await db.transaction(_activate, pending, provider_session_id)
    return pending, {"sessionToken": pending.token, "providerSessionId": provider_session_id,
                     "userId": pending.user_id, "gameId": pending.game_id,
                     "currency": pending.currency, "balance": pending.balance}


async def simulate_round(db: Database, link: ProviderLink, casino_code: str, req: Request, request_id: str | None = None,
                         register: exclusion_register.ExclusionRegister | None = None) -> dict[str, Any]:
    pending, launched = await launch_game(db, link, casino_code, req, request_id, register)
    # A fresh requestId per call: the provider plays at most one round for it, so a
    # replayed simulate body cannot play again.
    reply = await link.exchange(pending.provider_code, pending.provider_endpoint, "simulate", {
        "providerSessionId": launched["providerSessionId"], "sessionToken": pending.token,
        "userId": pending.user_id, "requestId": "sim-" + uuid.uuid4().hex}, request_id)
    result = reply.answer
    if result is None or not _is_round(result):
        raise unavailable(reply)
    return {"sessionToken": pending.token, "providerSessionId": launched["providerSessionId"],
            "roundId": result["roundId"], "startingBalance": pending.balance,
            "finalBalance": result["finalBalance"], "steps": result["steps"]}
