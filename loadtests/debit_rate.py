"""Signed debits per second against a running server.

    python server.py &                       # embedded database under ./.data/postgres
    python -m loadtests.debit_rate --url http://127.0.0.1:8000 --runs 3

Provisions funded wallets with open sessions through the back office's own verbs, in the
database the server uses (DATABASE_URL, or the embedded server's --data-dir), on a game of
a provider of its own whose signing key it adds (sealed with the KEYS_ENCRYPTION_KEY the
server uses; the development default without one), all marked origin "bench"; then sends
pre-signed (v2) debits of 1 cent over keep-alive connections and prints requests/s, p50
and p99 per run and the median of the runs. Each run is bounded by --seconds. At the end
its sessions are closed and its players, provider and game disabled (the ledger keeps
their rows).
"""
import argparse
import asyncio
import json
import statistics
import uuid
from urllib.parse import urlsplit

import psycopg2

from casino import catalogue, credentials, players, sessions, synthetic
from db.config import database_from_environment
from wire.secrets_env import read_secrets
from wire.signing import sign_v2

from .http_load import build_request, run_load

FUNDS = 10**12


ORIGIN = "bench"                          # what its players and provider are marked as
OPERATOR = players.operator_for(ORIGIN)   # and the name the back office's audit gives them


def provision(dsn, wallets, box, tag=None):
    """([(user_id, session token)] per wallet, the provider's signing key (kid, secret)), on
    a game with no practical bet limit. Session tokens are f"bench-{tag}-{n}", so other
    tools (pgbench) can name them too. Everything is made with the back office's own verbs
    (provider, key, game, players, deposits) and marked "bench"; retire() takes it out of
    play again."""
    conn = psycopg2.connect(dsn)
    tag = tag or uuid.uuid4().hex[:8]
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
    if answer.status != 201:
        raise RuntimeError(f"provisioning refused: {answer.status} {answer.body}")
    return answer.body


def retire(dsn, accounts, tag):
    """Takes what provision() made out of play: sessions closed, players, provider and game
    disabled (the ledger keeps every row). Returns the counts."""
    return synthetic.retire_in(dsn, OPERATOR, (ORIGIN,), [user for user, _ in accounts], ["BENCH-" + tag])


def debit_requests(host, accounts, connections, per_connection, key):
    kid, secret = key
    run = uuid.uuid4().hex[:8]
    lists = []
    for c in range(connections):
        requests = []
        for k in range(per_connection):
            user_id, token = accounts[(c + k * connections) % len(accounts)]
            body = json.dumps({"sessionToken": token, "userId": user_id, "transactionId": f"{run}-{c}-{k}",
                               "roundId": f"{run}-{c}", "amount": 1, "currency": "USD"},
                              separators=(",", ":")).encode()
            requests.append(build_request(host, "/casino/debit", body,
                                          {"x-casino-signature": sign_v2(secret, kid, "POST", "/casino/debit", body)}))
        lists.append(requests)
    return lists


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m loadtests.debit_rate", description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--wallets", type=int, default=1000, help="1 = one hot wallet")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data-dir", help="the running server's embedded data directory")
    args = parser.parse_args(argv)

    box = read_secrets().box
    tag = uuid.uuid4().hex[:8]
    with database_from_environment(args.data_dir, attach="running") as database:
        accounts, key = provision(database.dsn, args.wallets, box, tag)
        try:
            rates = measure(args, accounts, key)
        finally:
            print(f"retired: {synthetic.describe(retire(database.dsn, accounts, tag))}")
    print(f"median of {args.runs}: {statistics.median(rates):.0f} debits/s "
          f"({args.concurrency} connections, {args.wallets} wallet(s))")


def measure(args, accounts, key):
    target = urlsplit(args.url)
    rates = []
    for run in range(1, args.runs + 1):
        # The lists bound the run too: at most 1 000 requests a second per connection.
        lists = debit_requests(target.netloc, accounts, args.concurrency, int(args.seconds * 1_000), key)
        result = asyncio.run(run_load(target.hostname, target.port, lists, args.seconds))
        rates.append(result.rate)
        print(f"run {run}: {result.rate:8.0f} debits/s  p50 {result.percentile(50) * 1000:6.1f} ms  "
              f"p99 {result.percentile(99) * 1000:6.1f} ms  statuses {result.statuses}  "
              f"client CPU {result.cpu / result.elapsed:.0%}")
    return rates


if __name__ == "__main__":
    main()
