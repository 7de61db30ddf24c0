"""Wallets for the tools that drive PostgreSQL directly (pgbench, callgrind): made in the
database with the back office's own functions, as an operator's calls would make them, and
marked origin "bench".

provision() makes a provider of its own (BENCH-<tag>, with a signing key), a game on it
with no practical bet limit, and funded players with an open session each whose token is
f"bench-{tag}-{n}" and whose user ids are consecutive, so a pgbench script can name them
by number. retire() takes them out of play again (casino/synthetic.py).

hosted_game() is the bench's game for its HTTP rows, whose wallets are made through the
server's API (loadtests/client.py): a launch needs a provider that accepts it, and the
only one a server hosts is the demo provider JAQPOT.
"""
import psycopg2

from casino import catalogue, credentials, players, sessions, synthetic

FUNDS = 10**12
ORIGIN = "bench"                          # what its players and provider are marked as
OPERATOR = players.operator_for(ORIGIN)   # and the name the back office's audit gives them

HOSTED_PROVIDER = credentials.DEMO_PROVIDER_CODE
# The casino's row of the hosted provider, as sql/demo.sql writes it, when it is missing.
HOSTED_PROVIDER_ROW = """
    INSERT INTO CASINO_GAME_PROVIDERS (code, name, api_endpoint) VALUES (%s, 'Jaqpot Games', NULL)
    ON CONFLICT (code) DO NOTHING
"""
# The hosted provider's own side of the game (its table; the casino's is the back office's).
PROVIDER_GAME = """
    INSERT INTO PROVIDER_GAMES (game_code, name, currency, enabled, min_bet, max_bet)
    VALUES (%s, %s, 'USD', true, 1, %s)
"""
PROVIDER_GAME_OFF = "UPDATE PROVIDER_GAMES SET enabled = false WHERE game_code = %s"


def provision(dsn, wallets, box, tag):
    """([(user_id, session token)] per wallet, the provider's signing key (kid, secret)), on
    a game with no practical bet limit. Session tokens are f"bench-{tag}-{n}", so pgbench
    can name them too. Everything is made with the back office's own verbs (provider, key,
    game, players, deposits) and marked "bench"; retire() takes it out of play again."""
    conn = psycopg2.connect(dsn)
    code = "BENCH-" + tag
    try:
        with conn, conn.cursor() as cur:
            checked(catalogue.create_provider(cur, OPERATOR, {"providerCode": code, "name": "Load test",
                                                              "apiEndpoint": None}, origin=ORIGIN))
            kid, secret = credentials.add_key(cur, box, set(), code, "provider")
            game_id = checked(catalogue.create_game(cur, OPERATOR, {
                "providerCode": code, "providerGameId": "bench", "name": "Bench", "currency": "USD",
                "minBet": 1, "maxBet": FUNDS}))["gameId"]
            accounts = []
            for i in range(wallets):
                user_id, wallet_ids = players.create_player(cur, f"bench-{tag}-{i}", origin=ORIGIN)
                players.deposit(cur, wallet_ids["USD"], FUNDS, f"bench-{tag}-{i}", OPERATOR)
                # What a launch the provider accepted leaves: an active session.
                token = sessions.create_session(cur, user_id, wallet_ids["USD"], game_id, token=f"bench-{tag}-{i}")
                sessions.activate_session(cur, token, token)
                accounts.append((user_id, token))
        return accounts, (kid, secret.encode())
    finally:
        conn.close()


def checked(answer):
    if answer.status not in (200, 201):
        raise RuntimeError(f"provisioning refused: {answer.status} {answer.body}")
    return answer.body


def retire(dsn, accounts, tag):
    """Takes what provision() made out of play: sessions closed, players, provider and game
    disabled (the ledger keeps every row). Returns the counts."""
    return synthetic.retire_in(dsn, OPERATOR, (ORIGIN,), [user for user, _ in accounts], ["BENCH-" + tag])


def hosted_game(dsn, tag):
    """A game of the hosted provider JAQPOT on both sides (the casino's through the back
    office's verb), bets from 1 to FUNDS: what the bench's HTTP wallets launch. Its id."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(HOSTED_PROVIDER_ROW, (HOSTED_PROVIDER,))
            cur.execute(PROVIDER_GAME, (f"bench-{tag}", f"Bench {tag}", FUNDS))
            return checked(catalogue.create_game(cur, OPERATOR, {
                "providerCode": HOSTED_PROVIDER, "providerGameId": f"bench-{tag}", "name": f"Bench {tag}",
                "currency": "USD", "minBet": 1, "maxBet": FUNDS}))["gameId"]
    finally:
        conn.close()


def retire_hosted_game(dsn, game_id, tag):
    """hosted_game()'s game disabled on both sides: the demo provider is no tool's, so
    retiring its players leaves its games alone."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            checked(catalogue.set_game_status(cur, OPERATOR, game_id, {"status": "disabled"}))
            cur.execute(PROVIDER_GAME_OFF, (f"bench-{tag}",))
    finally:
        conn.close()
