"""`python server.py --demo`: one round end to end over real HTTP, printed as a table.

It calls POST /casino/simulateRound on the running server, as any client would, prints
each step and the round's ledger rows, and checks the script went as it should: every
call answered 200, the rollback refunded, the resend came back as a replay of the bet
with the same body, and the final balance is start - second bet + payout.
"""
import json

from tornado.httpclient import AsyncHTTPClient

DEMO_PLAYER = {"userId": 1, "gameId": 1}

ROUND_LEDGER = """
    SELECT external_transaction_id, transaction_type, outcome, amount, playable_movement, balance_after
    FROM CASINO_TRANSACTIONS
    WHERE round_id = %s
    ORDER BY id
"""


def round_ledger(cur, round_id):
    cur.execute(ROUND_LEDGER, (round_id,))
    return cur.fetchall()


def deviations(result):
    """What differs from the script; empty when the round went as designed."""
    steps = result["steps"]
    problems = [f"step {i + 1} ({s['step']}) answered {s['status']}"
                for i, s in enumerate(steps) if s["status"] != 200]
    if problems:
        return problems
    bets = [s for s in steps if s["endpoint"] == "/casino/debit" and not s["replay"]]
    resends = [s for s in steps if s["endpoint"] == "/casino/debit" and s["replay"]]
    rollbacks = [s for s in steps if s["endpoint"] == "/casino/rollback"]
    payouts = [s for s in steps if s["endpoint"] == "/casino/credit"]
    if len(bets) < 2 or not rollbacks or not payouts or not resends:
        return ["the round lacks a bet, a rollback, a payout or a resend"]
    if rollbacks[0]["response"]["tombstone"]:
        problems.append("the rollback found no bet to refund")
    if resends[0]["response"] != bets[1]["response"]:
        problems.append("the resend was not answered with the bet's original answer")
    expected = result["startingBalance"] - bets[1]["request"]["amount"] + payouts[0]["request"]["amount"]
    if result["finalBalance"] != expected:
        problems.append(f"final balance {result['finalBalance']}, expected {expected}")
    return problems


def _amount(step):
    request = step["request"] or {}
    return request.get("amount", "")


def print_round(result, ledger_rows):
    print(f"\nround {result['roundId']}  starting balance {result['startingBalance']}")
    print(f"{'#':>2}  {'step':<28} {'endpoint':<20} {'HTTP':>4} {'amount':>7} {'balance':>8}  replay")
    for i, step in enumerate(result["steps"], 1):
        balance = (step["response"] or {}).get("balance", "")
        print(f"{i:>2}  {step['step']:<28} {step['endpoint']:<20} {step['status'] or '---':>4} "
              f"{_amount(step):>7} {balance:>8}  {'yes' if step['replay'] else ''}")
    print(f"final balance {result['finalBalance']}\n\nledger rows of the round (CASINO_TRANSACTIONS):")
    print(f"  {'transactionId':<44} {'type':<9} {'outcome':<9} {'amount':>7} {'movement':>9} {'after':>8}")
    for tx, kind, outcome, amount, movement, after in ledger_rows:
        print(f"  {tx:<44} {kind:<9} {outcome:<9} {amount:>7} {movement:>+9} {after:>8}")


async def play_demo(base_url, db, operator_key=None):
    """operator_key: sent when set; in development mode the call needs none."""
    headers = {"Content-Type": "application/json"}
    if operator_key:
        headers["Authorization"] = f"Bearer {operator_key}"
    response = await AsyncHTTPClient().fetch(
        f"{base_url}/casino/simulateRound", method="POST", body=json.dumps(DEMO_PLAYER),
        headers=headers, raise_error=False, request_timeout=120)
    if response.code != 200:
        print(f"simulateRound answered {response.code}: {response.body.decode(errors='replace')}")
        return 1
    result = json.loads(response.body)
    print_round(result, await db.transaction(round_ledger, result["roundId"]))
    problems = deviations(result)
    for problem in problems:
        print(f"DEVIATION {problem}")
    print("demo round: " + ("FAILED" if problems else "ok, every step as scripted"))
    return 1 if problems else 0
