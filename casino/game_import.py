"""The casino's games from the provider's own catalogue (POST /provider/games), so a
casino game always names one the provider knows: the two systems still share no table.

import_games asks the provider (signed, through casino/provider_link.py) for its catalogue,
then creates or updates a CASINO_GAMES row for each game it listed, and only for those:

  - a new game takes the provider's name, currency, limits and enabled flag;
  - a game the casino has keeps its id, currency and any narrower limits of its own (its
    limits are clamped into the provider's; where they no longer overlap it takes the
    provider's), takes the provider's name, and is disabled when the provider disabled it
    (turning it on again is the operator's call, never an import's);
  - a casino game whose code the provider did not list is left alone and reported
    (`notListed`): the provider would refuse its launches.

At start, a server that loads the demo data imports its hosted provider's catalogue
(import_demo_games): sql/demo.sql writes the provider's games, never the casino's.

An operator's import (POST /casino/admin/providers/{providerCode}/games/import) is
recorded in CASINO_ADMIN_AUDIT, refusals included; operator None (tools, the demo) is not.
"""
from typing import Any, cast

from psycopg2.extensions import cursor as Cursor

from db.pool import Database
from wire.validation import CURRENCY, IDENTIFIER, MAX_SAFE_INTEGER

from .backoffice import _audited, _refusal
from .provider_link import ProviderLink, Reply, unavailable
from .wallet import Answer, Outcome

PROVIDER = "SELECT id, api_endpoint FROM CASINO_GAME_PROVIDERS WHERE code = %s"

UPSERT_GAME = """
    INSERT INTO CASINO_GAMES AS g (provider_id, provider_game_id, name, default_currency, enabled,
                                   min_bet, max_bet)
    VALUES (%(provider)s, %(code)s, %(name)s, %(currency)s, %(enabled)s, %(min)s, %(max)s)
    ON CONFLICT (provider_id, provider_game_id) DO UPDATE SET
        name = EXCLUDED.name,
        enabled = g.enabled AND EXCLUDED.enabled,
        min_bet = CASE WHEN GREATEST(g.min_bet, EXCLUDED.min_bet) <= LEAST(g.max_bet, EXCLUDED.max_bet)
                       THEN GREATEST(g.min_bet, EXCLUDED.min_bet) ELSE EXCLUDED.min_bet END,
        max_bet = CASE WHEN GREATEST(g.min_bet, EXCLUDED.min_bet) <= LEAST(g.max_bet, EXCLUDED.max_bet)
                       THEN LEAST(g.max_bet, EXCLUDED.max_bet) ELSE EXCLUDED.max_bet END
    RETURNING id, provider_game_id, name, default_currency, min_bet, max_bet, enabled, xmax = 0
"""

NOT_LISTED = """
    SELECT provider_game_id FROM CASINO_GAMES
    WHERE provider_id = %s AND NOT (provider_game_id = ANY(%s))
    ORDER BY provider_game_id
"""


def _limit(value: object) -> bool:
    return type(value) is int and 1 <= value <= MAX_SAFE_INTEGER


def _is_game(game: object) -> bool:
    return bool(isinstance(game, dict) and IDENTIFIER.check(game.get("gameId"))
                and isinstance(game.get("name"), str) and 0 < len(game["name"]) <= 200
                and CURRENCY.check(game.get("currency")) and _limit(game.get("minBet"))
                and _limit(game.get("maxBet")) and game["minBet"] <= game["maxBet"]
                and type(game.get("enabled")) is bool)


def catalogue(answer: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """The games of a provider's 200 answer, or None when it is not the protocol's answer
    (a malformed game spoils the whole answer: half a catalogue would look like a full one)."""
    games = (answer or {}).get("games")
    if not isinstance(games, list) or not all(_is_game(g) for g in games):
        return None
    if len({g["gameId"] for g in games}) != len(games):
        return None
    return games


def find_provider(cur: Cursor, provider_code: str) -> tuple[int, str | None] | None:
    """(id, api_endpoint) of the provider, or None."""
    cur.execute(PROVIDER, (provider_code,))
    return cast(tuple[int, str | None] | None, cur.fetchone())


def store(cur: Cursor, provider_id: int, games: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Creates or updates the listed games; the rows as answered, and the codes not listed."""
    stored: list[dict[str, Any]] = []
    for game in games:
        cur.execute(UPSERT_GAME, {"provider": provider_id, "code": game["gameId"], "name": game["name"],
                                  "currency": game["currency"], "enabled": game["enabled"],
                                  "min": game["minBet"], "max": game["maxBet"]})
        row = cur.fetchone()
        assert row is not None, "INSERT ... ON CONFLICT DO UPDATE ... RETURNING answers one row"
        game_id, code, name, currency, min_bet, max_bet, active, created = row
        stored.append({"gameId": game_id, "providerGameId": code, "name": name, "currency": currency,
                       "minBet": min_bet, "maxBet": max_bet, "enabled": active, "created": created})
    cur.execute(NOT_LISTED, (provider_id, [g["gameId"] for g in games]))
    return stored, [row[0] for row in cur.fetchall()]


async def _record(db: Database, operator: str | None, provider_code: str, answer: Outcome) -> Outcome:
    if operator is None:
        return answer
    return await db.transaction(_audited, operator, "importGames", {"providerCode": provider_code}, answer)


async def import_games(db: Database, link: ProviderLink, casino_code: str, provider_code: str,
                       operator: str | None = None) -> Outcome:
    """Answer 200 {"providerCode", "games": [...], "notListed": [...]}, or 404
    PROVIDER_NOT_FOUND, or 502 PROVIDER_UNAVAILABLE (its message naming the provider's code
    when it refused with one); nothing is written unless the whole catalogue came."""
    provider = await db.transaction(find_provider, provider_code)
    if provider is None:
        return await _record(db, operator, provider_code, _refusal("PROVIDER_NOT_FOUND"))
    provider_id, endpoint = provider
    reply = await link.exchange(provider_code, endpoint, "games", {"casinoCode": casino_code})
    games = catalogue(reply.answer)
    if games is None:
        return await _record(db, operator, provider_code, _failure(reply))

    def write(cur: Cursor) -> Outcome:
        stored, not_listed = store(cur, provider_id, games)
        answer = Answer(200, {"providerCode": provider_code, "games": stored, "notListed": not_listed})
        return _audited(cur, operator, "importGames", {"providerCode": provider_code}, answer) if operator \
            else answer
    return await db.transaction(write)


def _failure(reply: Reply) -> Outcome:
    return unavailable(reply)


# The provider this process hosts, whose games sql/demo.sql writes on the provider's side.
DEMO_PROVIDER = "JAQPOT"


async def import_demo_games(db: Database, link: ProviderLink, casino_code: str) -> Outcome:
    """The demo casino's games, from the hosted provider's catalogue (server start, with the
    demo data loaded). Returns the Answer; idempotent, so every process may run it."""
    return await import_games(db, link, casino_code, DEMO_PROVIDER)
