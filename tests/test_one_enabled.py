"""Migration 0022 writes "enabled" one way (`enabled` on players, games and providers, the
bet path's copies game_enabled, provider_enabled and player_enabled) and names the
provider's game code game_code. A database of the release before it keeps what it said: a
disabled player, a disabled game and a disabled provider stay disabled, the copies their
open sessions and wallets carry say the same, and a bet on those sessions is still
refused, while the copies' triggers go on following the catalogue."""
from datetime import timedelta

import psycopg2

from casino import catalogue, players, wallet
from sql.migrate import FUNCTIONS_PREFIX, migrate
from tests.databases import create_database, migrations_before
from tests.support import Ledger, Service

IDLE = timedelta(minutes=30)

# Rows as a release at 0021 wrote them, its own columns.
AT_0021 = """
    WITH providers AS (
        INSERT INTO CASINO_GAME_PROVIDERS (code, name, is_disabled, origin)
        VALUES ('UP-ON', 'Enabled', false, 'test'), ('UP-OFF', 'Disabled', true, 'test')
        RETURNING id, code),
    games AS (
        INSERT INTO CASINO_GAMES (provider_id, provider_game_id, name, default_currency, is_active, min_bet, max_bet)
        SELECT p.id, g.code, g.code, 'USD', g.active, 1, 1000
        FROM (VALUES ('UP-ON', 'on', true), ('UP-ON', 'off', false), ('UP-OFF', 'of-off', true)) g (provider, code, active)
        JOIN providers p ON p.code = g.provider
        RETURNING id, provider_game_id)
    SELECT provider_game_id, id FROM games
"""
PLAYER = "INSERT INTO CASINO_USERS (username, email) VALUES (%s, %s) RETURNING id"
WALLET = "INSERT INTO CASINO_WALLETS (user_id, currency_code) VALUES (%s, 'USD') RETURNING id"
SESSION = """
    INSERT INTO CASINO_GAME_SESSIONS (token, user_id, wallet_id, game_id, provider_session_id, is_active)
    VALUES (%s, %s, %s, %s, %s, true)
"""
PROVIDER_GAME = "INSERT INTO PROVIDER_GAMES (game_id, name, currency, is_active, min_bet, max_bet) VALUES (%s, %s, 'USD', %s, 1, 10)"

# What each release calls the same facts: (at 0021, from 0022), rows in id order.
FACTS = {
    "players": ("SELECT id, status = 'active' FROM CASINO_USERS", "SELECT id, enabled FROM CASINO_USERS"),
    "games": ("SELECT id, is_active FROM CASINO_GAMES", "SELECT id, enabled FROM CASINO_GAMES"),
    "providers": ("SELECT id, NOT is_disabled FROM CASINO_GAME_PROVIDERS",
                  "SELECT id, enabled FROM CASINO_GAME_PROVIDERS"),
    "sessions": tuple(f"""SELECT id, is_active, last_activity_at, provider_id, bet_min, bet_max, {copies}
                          FROM CASINO_GAME_SESSIONS""" for copies in ("game_active, provider_active",
                                                                      "game_enabled, provider_enabled")),
    "wallets": ("SELECT id, player_active FROM CASINO_WALLETS", "SELECT id, player_enabled FROM CASINO_WALLETS"),
    "provider games": ("SELECT id, game_id, is_active FROM PROVIDER_GAMES",
                       "SELECT id, game_code, enabled FROM PROVIDER_GAMES"),
}
AT_0021_NAMES, AT_0022_NAMES = 0, 1


def facts(ledger, release):
    return {name: ledger.query(queries[release] + " ORDER BY id") for name, queries in FACTS.items()}


def arrange_at_0021(cur):
    """Two players (the second disabled after its wallet was made, so 0020's trigger wrote
    its copy), three games (one disabled, one of a disabled provider), and an open session
    per case. {case: (user_id, token, provider_id)}."""
    cur.execute(AT_0021)
    games = dict(cur.fetchall())
    users = {}
    for name in ("on", "off"):
        cur.execute(PLAYER, (f"up-{name}", f"up-{name}@example.com"))
        users[name] = cur.fetchone()[0]
        cur.execute(WALLET, (users[name],))
        users[name] = (users[name], cur.fetchone()[0])
    cur.execute("UPDATE CASINO_USERS SET status = 'disabled' WHERE id = %s", (users["off"][0],))
    cases = {"accepted": ("on", "on"), "PLAYER_DISABLED": ("off", "on"), "GAME_DISABLED": ("on", "off"),
             "PROVIDER_DISABLED": ("on", "of-off")}
    sessions = {}
    for case, (player, game) in cases.items():
        user_id, wallet_id = users[player]
        cur.execute(SESSION, (f"up-{case}", user_id, wallet_id, games[game], f"ps-{case}"))
        cur.execute("SELECT provider_id FROM CASINO_GAMES WHERE id = %s", (games[game],))
        sessions[case] = (user_id, f"up-{case}", cur.fetchone()[0])
    cur.execute(PROVIDER_GAME, ("up-code-on", "On", True))
    cur.execute(PROVIDER_GAME, ("up-code-off", "Off", False))
    return sessions, users, games


def bet(service, session, tx):
    user_id, token, provider_id = session
    outcome = service.statement(wallet.debit, provider_id, {
        "sessionToken": token, "userId": user_id, "transactionId": tx, "roundId": "r-" + tx, "amount": 10,
        "currency": "USD"}, IDLE)
    return getattr(outcome, "code", outcome.status)


def test_0022_keeps_what_a_database_at_0021_said_and_its_bets_are_refused_as_before(tmp_path):
    dsn = create_database("one_enabled")
    migrate(dsn, directory=migrations_before("0022", tmp_path / "migrations"), functions_dir=None,
            log=lambda _: None)
    ledger, service = Ledger(dsn), None
    try:
        assert ledger.query("SELECT max(name) FROM schema_migrations") == [("0021_one_scope_list.sql",)]
        sessions, users, games = ledger.run(arrange_at_0021)
        before = facts(ledger, AT_0021_NAMES)
        assert before["players"] == [(users["on"][0], True), (users["off"][0], False)]
        assert [row[-2:] for row in before["sessions"]] == [(True, True), (True, True), (False, True),
                                                            (True, False)]
        assert before["wallets"] == [(users["on"][1], True), (users["off"][1], False)]

        applied = migrate(dsn, log=lambda _: None)
        # 0022 first, then whatever came after it.
        assert [name for name in applied if not name.startswith(FUNCTIONS_PREFIX)][0] == "0022_one_enabled.sql"
        assert facts(ledger, AT_0022_NAMES) == before
        assert ledger.violations() == []

        # The bets: refused as they were, each for its own reason; the enabled case bets.
        ledger.run(lambda cur: players.deposit(cur, users["on"][1], 1_000, "up-funds"))
        ledger.run(lambda cur: players.deposit(cur, users["off"][1], 1_000, "up-funds-off"))
        service = Service(dsn)
        assert {case: bet(service, session, f"t-{case}") for case, session in sessions.items()} == {
            "accepted": 200, "PLAYER_DISABLED": "PLAYER_DISABLED", "GAME_DISABLED": "GAME_DISABLED",
            "PROVIDER_DISABLED": "PROVIDER_DISABLED"}

        # The triggers made again with the new names still follow the catalogue: the game
        # enabled by the back office reaches its open session's copy, and it bets.
        enabled = ledger.run(catalogue.set_game_status, players.operator_for("test"), games["off"], {"status": "active"})
        assert (enabled.status, enabled.body["status"]) == (200, "active")
        assert bet(service, sessions["GAME_DISABLED"], "t-game-enabled") == 200
        ledger.query("UPDATE CASINO_USERS SET enabled = true WHERE id = %s RETURNING 1", users["off"][0])
        assert bet(service, sessions["PLAYER_DISABLED"], "t-player-enabled") == 200
        assert ledger.violations() == []
    finally:
        if service is not None:
            service.close()


def test_a_provider_game_code_is_not_a_key():
    """The provider's game code and the casino's game key are two names now: no table holds
    a text game_id beside the bigint ones."""
    dsn = create_database("one_enabled_names")
    migrate(dsn, log=lambda _: None)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("""SELECT DISTINCT format_type(atttypid, atttypmod) FROM pg_attribute a
                       JOIN pg_class c ON c.oid = a.attrelid
                       WHERE a.attname = 'game_id' AND c.relkind = 'r' AND NOT a.attisdropped""")
        assert cur.fetchall() == [("bigint",)]
    conn.close()
