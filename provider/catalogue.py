"""The provider's game catalogue, as a casino reads it (POST /provider/games): every game
this provider runs, enabled or not, oldest first, so a casino adds only games the provider
knows (and, importing them in that order, numbers them as the provider added them)."""
from wire.refusals import error

CASINO_KNOWN = "SELECT 1 FROM PROVIDER_CASINOS WHERE casino_code = %s"

GAMES = """
    SELECT game_code, name, currency, min_bet, max_bet, enabled FROM PROVIDER_GAMES ORDER BY id
"""


def games(cur, casino_code, req):
    """casino_code: the casino whose key signed the call; the body must name the same, and
    the provider must have it on its books (PROVIDER_CASINOS)."""
    if req["casinoCode"] != casino_code:
        raise error("CASINO_MISMATCH")
    cur.execute(CASINO_KNOWN, (casino_code,))
    if cur.fetchone() is None:
        raise error("CASINO_UNKNOWN")
    cur.execute(GAMES)
    return {"games": [{"gameId": game_code, "name": name, "currency": currency, "minBet": min_bet,
                       "maxBet": max_bet, "enabled": enabled}
                      for game_code, name, currency, min_bet, max_bet, enabled in cur.fetchall()]}
