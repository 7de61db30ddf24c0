"""Signed debits per second against a deployment: the bench's HTTP part, on its own.

    python -m loadtests.debit_rate --runs 3                      # a server of its own
    OPERATOR_KEY=... SIGNING_KEY_ID=... SIGNING_KEY_SECRET=... \\
        python -m loadtests.debit_rate --url https://staging.example --game-id 7 --runs 3

It speaks HTTP only (loadtests/client.py): given --url, it needs nothing but that URL, an
operator key (OPERATOR_KEY: scopes admin, backoffice, cashier, lobby), the game to play
(--game-id, required with --url) and the key of that game's provider (SIGNING_KEY_ID /
SIGNING_KEY_SECRET; default JAQPOT's, CASINO_SECRET); without --url it starts a server of
its own on a scratch database (loadtests/local_server.py) and plays its demo game.

With the operator key it makes the run's own key, a bench key (origin "bench"), and with
it --wallets funded players, each with a session launched through POST /casino/launchGame:
the server marks them as the bench's because the key is. It then sends pre-signed (v2)
debits of the game's minimum bet, in the game's currency, over keep-alive connections and
prints requests/s, p50 and p99 per run and the median of the runs; each run is bounded by
--seconds. Every debit is funded and new, so every answer must be 200. At the end it checks
through the API what Locust's run checks (loadtests/client.py's wallet_problems): each
player's balance as getBalance, the back office and its ledger pages say it, against
FUNDS less the debits answered 200, and the ledger audit (--no-ledger-audit skips it).
Then its players are retired (sessions closed, players disabled, ledger rows kept) and its
key revoked. A refused debit or a broken invariant is printed (VIOLATION ...) and the exit
code is 1.
"""
import argparse
import asyncio
import json
import os
import statistics
import sys
import uuid
from urllib.parse import urlsplit

from loadtests.client import Run, ToolError, describe, signing_key_from_environment, wallet_problems
from loadtests.http_load import build_request, run_load
from loadtests.local_server import LocalServer
from wire.signing import sign_v2

FUNDS = 10**12
ORIGIN = "bench"            # what the run's key, hence its players, are marked as


def provision_over_api(run: Run, wallets, game_id):
    """([(userId, sessionToken)] of `wallets` players funded with FUNDS, each with a
    launched session on the game; the game (its minBet the debit's amount, its currency
    the debit's))."""
    game = run.api.game(game_id)
    return run.provision(wallets, game, FUNDS), game


def account_of(accounts, connections, c, k):
    """The account the k-th debit of connection c is on."""
    return accounts[(c + k * connections) % len(accounts)]


def debit_requests(host, accounts, connections, per_connection, key, amount=1, currency="USD"):
    kid, secret = key
    run = uuid.uuid4().hex[:8]
    lists = []
    for c in range(connections):
        requests = []
        for k in range(per_connection):
            user_id, token = account_of(accounts, connections, c, k)
            body = json.dumps({"sessionToken": token, "userId": user_id, "transactionId": f"{run}-{c}-{k}",
                               "roundId": f"{run}-{c}", "amount": amount, "currency": currency},
                              separators=(",", ":")).encode()
            requests.append(build_request(host, "/casino/debit", body,
                                          {"x-casino-signature": sign_v2(secret, kid, "POST", "/casino/debit", body)}))
        lists.append(requests)
    return lists


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m loadtests.debit_rate", description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="the deployment (default: a server of its own on a scratch database)")
    parser.add_argument("--game-id", type=int,
                        help="a game of the signing key's provider (required with --url; default: the demo's "
                             "Jaqpot Slots of a server of its own)")
    parser.add_argument("--wallets", type=int, default=1000, help="1 = one hot wallet")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-ledger-audit", dest="ledger_audit", action="store_false",
                        help="no ledger audit at the end (a ledger too large to audit within the deployment's "
                             "REPORT_TIMEOUT)")
    args = parser.parse_args(argv)

    local = None
    if args.url:
        url, operator_key, key, game_id = args.url, os.environ.get("OPERATOR_KEY"), \
            signing_key_from_environment(), args.game_id
        if not operator_key:
            parser.error("OPERATOR_KEY is not set: an operator key with the scopes admin, backoffice, cashier, lobby")
        if game_id is None:
            # No default against a deployment: its game 1 is whatever it imported first.
            parser.error("--game-id is required with --url: a game of the signing key's provider")
    else:
        local = LocalServer().start()
        url, operator_key, key, game_id = local.url, local.operator_key, local.signing_key, local.game_id
        print(f"a server of its own: {url} (a scratch database, removed at the end)", flush=True)
    try:
        run = Run(url, operator_key, ORIGIN).start()
        try:
            accounts, game = provision_over_api(run, args.wallets, game_id)
            rates, answered, problems = measure(args, url, accounts, key, game)
            balances = expected(accounts, answered, args.concurrency, game["minBet"])
            problems += wallet_problems(run.api, key, game["currency"], balances, dict(accounts), args.ledger_audit)
        finally:
            print(f"retired: {describe(run.finish())}", flush=True)
    except ToolError as exc:
        print(f"debit_rate: not run: {exc}", file=sys.stderr)
        return 1
    finally:
        if local is not None:
            local.stop()
    for problem in problems:
        print(f"VIOLATION {problem}")
    print(f"check: {len(accounts)} wallets, {len(problems)} violation(s) -> {'FAILED' if problems else 'ok'}")
    print(f"median of {args.runs}: {statistics.median(rates):.0f} debits/s "
          f"({args.concurrency} connections, {args.wallets} wallet(s))")
    return 1 if problems else 0


def expected(accounts, answered, connections, amount):
    """{userId: FUNDS less `amount` for each of its debits answered 200}."""
    balances = {user_id: FUNDS for user_id, _ in accounts}
    for run in answered:
        for c, statuses in run.items():
            for k, status in enumerate(statuses):
                if status == 200:
                    balances[account_of(accounts, connections, c, k)[0]] -= amount
    return balances


def measure(args, url, accounts, key, game):
    """(the runs' rates; their answers, http_load's LoadResult.answered of each; refusals,
    as lines: none is expected)."""
    target = urlsplit(url)
    rates, answered, problems = [], [], []
    for run in range(1, args.runs + 1):
        # The lists bound the run too: at most 1 000 requests a second per connection.
        lists = debit_requests(target.netloc, accounts, args.concurrency, int(args.seconds * 1_000), key,
                               game["minBet"], game["currency"])
        https = target.scheme == "https"
        result = asyncio.run(run_load(target.hostname, target.port or (443 if https else 80), lists, args.seconds,
                                      ssl=https or None))
        rates.append(result.rate)
        answered.append(result.answered)
        refused = {status: count for status, count in result.statuses.items() if status != 200}
        if refused:
            problems.append(f"run {run}: debits answered {refused}: each was funded and new, so each must "
                            "be 200 (the game's currency, bets and sessions: see the server's answers)")
        print(f"run {run}: {result.rate:8.0f} debits/s  p50 {result.percentile(50) * 1000:6.1f} ms  "
              f"p99 {result.percentile(99) * 1000:6.1f} ms  statuses {result.statuses}  "
              f"client CPU {result.cpu / result.elapsed:.0%}")
    return rates, answered, problems


if __name__ == "__main__":
    sys.exit(main())
