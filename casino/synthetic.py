"""Players and providers made by tools, told apart from real ones and retired when done.

    python -m casino.synthetic status [--data-dir DIR]
    python -m casino.synthetic retire [--origin test|locust|bench|demo ...] [--data-dir DIR]

Every player and provider carries an origin (migration 0012): "operator" for the real
ones an operator registers, else the tool that made it -- "demo" (the demo data), "test"
(the test suite), "locust" (loadtests/retries.py), "bench" (loadtests.bench, debit_rate,
ledger_cost). `status` counts them per origin; `retire` takes the synthetic ones out of
play: their open game sessions are closed, the players disabled, the providers and their
games disabled, and the providers' signing keys revoked (the tool is gone: a callback
signed with one of its keys could only come from someone who kept it). Nothing is
deleted: ledger rows are the money's history and stay, so the ledger audit still explains
every balance, and a retired player's page still shows it.
By default `retire` leaves the demo players alone (the --demo round plays with them);
`--origin demo` retires them too. Locust and the bench retire what they made themselves
when their run ends; this command is for runs that were killed, and for a final sweep.

Over the API, `POST /casino/admin/synthetic/retire` (scope admin, retire_over_api below)
does the same: a tool's key retires only its own tool's players and providers -- what a
load tool pointed at a deployment calls when its run ends -- and an operator's key any
tool's, as this command does.

Exit status: 0 done, 2 the database cannot be reached (one line).
"""
import json
import sys
from collections.abc import Collection, Iterable
from typing import TypedDict

from psycopg2.extensions import cursor as Cursor

from .backoffice import _audited, forbidden
from .wallet import Answer, Outcome, Request

TOOLS = ("test", "locust", "bench")
OPERATOR = "tool:synthetic"     # the name the back office's audit records a sweep under

# None for user_ids / provider_codes: every synthetic one of those origins; a list: only
# those (a tool retiring its own run, while another may still be going).
PLAYERS = """
    SELECT id FROM CASINO_USERS
    WHERE origin = ANY(%(origins)s) AND (%(user_ids)s::bigint[] IS NULL OR id = ANY(%(user_ids)s))
"""
PROVIDERS = """
    SELECT id FROM CASINO_GAME_PROVIDERS
    WHERE origin = ANY(%(origins)s) AND (%(codes)s::text[] IS NULL OR code = ANY(%(codes)s))
"""

# As the back office closes one (casino/catalogue.py): a bet racing it lands before or is
# refused; payouts and refunds of bets already taken still land.
CLOSE_SESSIONS = f"""
    UPDATE CASINO_GAME_SESSIONS SET is_active = false, updated_at = now()
    WHERE is_active
      AND (user_id IN ({PLAYERS})
           OR game_id IN (SELECT id FROM CASINO_GAMES WHERE provider_id IN ({PROVIDERS})))
"""
DISABLE_PLAYERS = f"UPDATE CASINO_USERS SET enabled = false WHERE enabled AND id IN ({PLAYERS})"
DISABLE_GAMES = f"UPDATE CASINO_GAMES SET enabled = false WHERE enabled AND provider_id IN ({PROVIDERS})"
DISABLE_PROVIDERS = f"""
    UPDATE CASINO_GAME_PROVIDERS SET enabled = false WHERE enabled AND id IN ({PROVIDERS})
"""

# Both signers' keys, of every matching provider, retired before or now: its rounds' late
# payouts and refunds are refused (401 INVALID_SIGNATURE) within KEY_REFRESH_SECONDS.
REVOKE_KEYS = f"""
    UPDATE CASINO_PROVIDER_KEYS SET revoked_at = now() WHERE revoked_at IS NULL AND provider_id IN ({PROVIDERS})
"""

AUDIT = """
    INSERT INTO CASINO_ADMIN_AUDIT (operator_key_id, action, request, response_status)
    VALUES (%s, 'retireSynthetic', %s, 200)
"""

STATUS = """
    SELECT origin,
           count(*) FILTER (WHERE enabled),
           count(*) FILTER (WHERE NOT enabled),
           (SELECT count(*) FROM CASINO_GAME_SESSIONS s JOIN CASINO_USERS su ON su.id = s.user_id
            WHERE su.origin = u.origin AND s.is_active),
           (SELECT count(*) FROM CASINO_GAME_PROVIDERS p WHERE p.origin = u.origin AND p.enabled)
    FROM CASINO_USERS u WHERE origin <> 'operator'
    GROUP BY origin ORDER BY origin
"""


class Retired(TypedDict):
    """What a retirement did: rows changed by each of its statements."""
    sessionsClosed: int
    playersDisabled: int
    gamesDisabled: int
    providersDisabled: int
    keysRevoked: int


def retire(cur: Cursor, operator: str, origins: Collection[str] = TOOLS, user_ids: Iterable[int] | None = None,
           provider_codes: Iterable[str] | None = None) -> Retired:
    """Closes the sessions of, and disables, the synthetic players and providers of
    `origins` (only `user_ids` / `provider_codes` when given), and revokes those providers'
    signing keys; returns the counts. One transaction (the caller's), one audit row."""
    if "operator" in origins:
        raise ValueError("real players are never retired in bulk")
    params = {"origins": list(origins), "user_ids": None if user_ids is None else list(user_ids),
              "codes": None if provider_codes is None else list(provider_codes)}

    def changed(statement: str) -> int:
        cur.execute(statement, params)
        return cur.rowcount

    # The players first: disabling one locks its wallets (the copy's trigger), then the
    # sessions are closed, the order a bet takes them (its wallet, then its session's
    # activity mark), so a bet at the same moment waits instead of deadlocking.
    players_disabled = changed(DISABLE_PLAYERS)
    counts: Retired = {"sessionsClosed": changed(CLOSE_SESSIONS), "playersDisabled": players_disabled,
                       "gamesDisabled": changed(DISABLE_GAMES), "providersDisabled": changed(DISABLE_PROVIDERS),
                       "keysRevoked": changed(REVOKE_KEYS)}
    # The filter as given (a count, not the ids: a bench names thousands) and what it did.
    cur.execute(AUDIT, (operator, json.dumps({
        "origins": list(origins), "players": "all" if user_ids is None else len(params["user_ids"] or ()),
        "providerCodes": params["codes"], **counts})))
    return counts


def retire_over_api(cur: Cursor, key_id: str, key_origin: str, req: Request) -> Outcome:
    """What a key may retire, retired (POST /casino/admin/synthetic/retire). The origins: a
    tool's key's own, whatever it asks (naming another is 403); an operator's key's
    `origin`, or every tool's. `userIds` / `providerCodes` name a run's own rows: given
    either, only those listed (the other list absent: none), so a run never retires
    another run's; neither: every one of those origins, the sweep. Audited by retire(),
    a refusal here."""
    asked = req["origin"]
    if key_origin != "operator" and asked not in (None, key_origin):
        return _audited(cur, key_id, "retireSynthetic", req,
                        forbidden(f"a {key_origin} key retires only {key_origin} players and providers"))
    origins = (key_origin,) if key_origin != "operator" else ((asked,) if asked else TOOLS)
    user_ids, codes = req["userIds"], req["providerCodes"]
    if user_ids is not None or codes is not None:
        user_ids, codes = user_ids or [], codes or []
    counts = retire(cur, key_id, origins, user_ids, codes)
    return Answer(200, {"origins": list(origins), **counts})


def retire_in(dsn: str, operator: str, origins: Collection[str] = TOOLS, user_ids: Iterable[int] | None = None,
              provider_codes: Iterable[str] | None = None) -> Retired:
    """retire() in a transaction of its own on dsn: what the load tools call at the end."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            return retire(cur, operator, origins, user_ids, provider_codes)
    finally:
        conn.close()


def describe(counts: Retired) -> str:
    return (f"{counts['sessionsClosed']} session(s) closed, {counts['playersDisabled']} player(s) disabled, "
            f"{counts['providersDisabled']} provider(s) and {counts['gamesDisabled']} game(s) disabled, "
            f"{counts['keysRevoked']} signing key(s) revoked")


def main(argv: list[str] | None = None) -> int:
    import argparse

    import psycopg2

    from db.config import UNUSABLE, database_from_environment, why_unusable

    data_dir_help = "embedded server data directory (without DATABASE_URL)"
    parser = argparse.ArgumentParser(prog="python -m casino.synthetic", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help=data_dir_help)
    # Also after the command, as the usage above writes it; SUPPRESS: one given before it stays.
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("--data-dir", default=argparse.SUPPRESS, help=data_dir_help)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", parents=[after], help="synthetic players per origin: active, disabled, open sessions")
    retiring = commands.add_parser("retire", parents=[after],
                                   help="close their sessions, disable them, their providers and games; "
                                        "revoke the providers' keys")
    retiring.add_argument("--origin", action="append", choices=(*TOOLS, "demo"),
                          help=f"repeatable; default: {', '.join(TOOLS)}")
    args = parser.parse_args(argv)
    try:
        with database_from_environment(args.data_dir, attach="existing") as database:
            conn = psycopg2.connect(database.dsn)
            try:
                with conn, conn.cursor() as cur:
                    if args.command == "retire":
                        counts = retire(cur, OPERATOR, tuple(args.origin or TOOLS))
                    else:
                        cur.execute(STATUS)
                        rows = cur.fetchall()
            finally:
                conn.close()
    except UNUSABLE as exc:
        print(f"synthetic: not run: {why_unusable(exc)}", file=sys.stderr)
        return 2
    if args.command == "retire":
        print(f"retired ({', '.join(args.origin or TOOLS)}): {describe(counts)}")
    else:
        print(f"{'origin':<8} {'active':>8} {'disabled':>9} {'open sessions':>14} {'active providers':>17}")
        for origin, active, disabled, sessions, providers in rows:
            print(f"{origin:<8} {active:>8} {disabled:>9} {sessions:>14} {providers:>17}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
