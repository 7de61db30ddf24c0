"""The ledger's invariants, checked against the database.

    python -m casino.audit        exit 0 when clean; else prints each violation, exit 1

  1. every wallet's playable and redeemable balances equal the sums of its ledger
     movements (deposits, bets, payouts, refunds): the ledger explains every cent;
  2. no transactionId moved money twice: one ledger row per (provider, transactionId)
     is a unique index, and no bet was refunded by more than one rollback;
  3. a refund gives back exactly what its bet took, and a bet took exactly its amount;
  4. no claim was left unanswered.
Balances that are never negative and redeemable <= playable are CHECK constraints.
"""
import sys

WALLETS_NOT_EXPLAINED = """
    SELECT w.id, w.currency_code, w.playable_balance, w.redeemable_balance,
           coalesce(sum(t.playable_movement), 0), coalesce(sum(t.redeemable_movement), 0)
    FROM CASINO_WALLETS w
    LEFT JOIN CASINO_TRANSACTIONS t ON t.wallet_id = w.id AND t.outcome = 'applied'
    GROUP BY w.id
    HAVING w.playable_balance <> coalesce(sum(t.playable_movement), 0)
        OR w.redeemable_balance <> coalesce(sum(t.redeemable_movement), 0)
    ORDER BY w.id
"""

BETS_REFUNDED_TWICE = """
    SELECT r.wallet_id, r.related_external_transaction_id, count(*)
    FROM CASINO_TRANSACTIONS r
    WHERE r.transaction_type = 'rollback' AND r.playable_movement > 0
    GROUP BY r.wallet_id, r.provider_id, r.related_external_transaction_id
    HAVING count(*) > 1
"""

WRONG_AMOUNTS = """
    SELECT t.wallet_id, t.external_transaction_id, t.transaction_type, t.amount, t.playable_movement
    FROM CASINO_TRANSACTIONS t
    LEFT JOIN CASINO_TRANSACTIONS b
           ON t.transaction_type = 'rollback' AND b.provider_id = t.provider_id
          AND b.external_transaction_id = t.related_external_transaction_id
    WHERE t.outcome = 'applied' AND (
           (t.transaction_type = 'debit' AND t.playable_movement <> -t.amount)
        OR (t.transaction_type IN ('credit', 'deposit') AND t.playable_movement <> t.amount)
        OR (t.transaction_type = 'rollback' AND t.playable_movement > 0
            AND (b.outcome IS DISTINCT FROM 'applied' OR t.playable_movement <> b.amount
                 OR t.redeemable_movement <> -b.redeemable_movement)))
"""

UNANSWERED = """
    SELECT wallet_id, external_transaction_id FROM CASINO_TRANSACTIONS WHERE outcome = 'pending'
"""


def find_violations(cur):
    """Human-readable violations; empty when the ledger is sound."""
    problems = []
    cur.execute(WALLETS_NOT_EXPLAINED)
    for wallet_id, currency, playable, redeemable, sum_playable, sum_redeemable in cur.fetchall():
        problems.append(
            f"wallet {wallet_id} ({currency}): balance {playable}/{redeemable} (playable/redeemable) "
            f"but its ledger sums to {sum_playable}/{sum_redeemable}")
    cur.execute(BETS_REFUNDED_TWICE)
    for wallet_id, bet_id, count in cur.fetchall():
        problems.append(f"wallet {wallet_id}: bet {bet_id} was refunded {count} times")
    cur.execute(WRONG_AMOUNTS)
    for wallet_id, transaction_id, kind, amount, movement in cur.fetchall():
        problems.append(f"wallet {wallet_id}: {kind} {transaction_id} of {amount} moved {movement}")
    cur.execute(UNANSWERED)
    for wallet_id, transaction_id in cur.fetchall():
        problems.append(f"wallet {wallet_id}: transaction {transaction_id} was never answered")
    return problems


def main(argv=None):
    import argparse

    import psycopg2

    from db.config import UNUSABLE, database_from_environment, why_unusable

    parser = argparse.ArgumentParser(prog="python -m casino.audit", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="embedded server data directory (without DATABASE_URL)")
    args = parser.parse_args(argv)
    try:
        with database_from_environment(args.data_dir, attach="existing") as database:
            conn = psycopg2.connect(database.dsn)
            try:
                # One snapshot for every check, taken while writers may keep going.
                conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
                with conn, conn.cursor() as cur:
                    problems = find_violations(cur)
                    cur.execute("SELECT count(*) FROM CASINO_WALLETS")
                    wallets = cur.fetchone()[0]
                    cur.execute("SELECT count(*) FROM CASINO_TRANSACTIONS")
                    rows = cur.fetchone()[0]
            finally:
                conn.close()
    except UNUSABLE as exc:
        print(f"audit: not run: {why_unusable(exc)}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"VIOLATION {problem}")
    print(f"audit: {wallets} wallets, {rows} ledger rows, {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
