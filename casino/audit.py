"""The ledger's invariants, checked against the database.

    python -m casino.audit        exit 0 when clean; else prints each violation, exit 1;
                                  exit 2 (one line) when there is no database to audit or
                                  it cannot be reached

  1. every wallet's playable and redeemable balances equal the sums of its ledger
     movements (deposits, withdrawals, bets, payouts, refunds): the ledger explains every
     cent;
  2. no transactionId moved money twice: one ledger row per (provider, transactionId)
     is a unique index, and a bet is refunded at most once (a unique index on the bet a
     refund names, refunded_bet_id; checked here too, should the index be dropped);
  3. a refund gives back exactly what its bet took, and a bet took exactly its amount; a
     deposit adds and a withdrawal takes exactly its amount, playable and redeemable alike;
  4. what the money rules forbid (PROTOCOL.md, "Rules every money call shares"), should a
     row break them anyway (written by hand, or by an older version): a payout or refund
     whose transactionId a rollback or payout names as its bet; an applied bet whose id a
     tombstone names; a balance, or an answered balance_after, above 2^53-1; a ledger row
     whose answer can be neither read nor rebuilt (no stored body, and not a money call's
     success with its bonus part and its wallet's currency: migration 0023), or that has
     both; a ledger row on a session of another wallet; a payout or refund of another
     wallet's bet;
  5. player protection (PROTOCOL.md, "Player protection"), from the ledger and the
     append-only history of limits and exclusions: no accepted bet took a wager or loss
     window above the limit in force at its instant, and no accepted deposit a deposit
     window (each window recounted row by row in the player's jurisdiction's time zone;
     the limit in force derived from the history: the last decision before the row, its
     new amount once effective, else the amount it found); no bet, deposit or bonus grant
     was accepted during an exclusion, and no bonus stayed active when one began; and a
     limited wallet's counters equal its ledger's;
  6. bonus money (PROTOCOL.md, "Bonus money"; a row's bonus part is its playable minus its
     redeemable movement): no row moves bonus money without naming its bonus, nor names
     another wallet's; every bonus has its one grant row; for every wallet, what its ledger
     holds as bonus money (balance - redeemable, by check 1 the wallet's own) is what
     remains of its active bonus -- the rows naming that bonus, which is active and agrees
     with the wallet's counters, its wagered the bets counted minus the refunds of them --
     and nothing without one; an ended bonus's rows sum to nothing, its one ending row
     moved what remained, and a completed one was wagered. So every bonus cent is
     explained: grant, bets' bonus parts, payouts' bonus shares, refunds, completion,
     forfeits;
  7. the reports agree with the balances: per currency, over the ledger's whole life, what
     was deposited and granted as bonuses, less what was withdrawn, forfeited with bonuses
     and what the wallets hold, is what the players lost -- the GGR report's total
     (casino/reports.py), to the cent (README, "Reports", derives it);
  8. what a money call reads instead of the catalogue (migration 0020) agrees with it: each
     session's provider, bet limits and whether its game and provider are enabled; each
     wallet's whether its player is (triggers keep them; this names one they did not); and
     every ledger row names a wallet, session and provider that exist (the ledger has no
     foreign key to them since migration 0020; none of them is ever deleted).
Balances that are never negative and never above 2^53-1 are the columns' domains
(migration 0013), redeemable <= playable a CHECK constraint. Every ledger row is written
once, with its answer (no claim waits for one), so there is no unanswered row to look for.
"""
import sys
from typing import TypedDict

from psycopg2.extensions import cursor as Cursor

from .reports import lifetime_ggr

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
    SELECT min(r.wallet_id), r.refunded_bet_id, count(*)
    FROM CASINO_TRANSACTIONS r
    WHERE r.refunded_bet_id IS NOT NULL
    GROUP BY r.provider_id, r.refunded_bet_id
    HAVING count(*) > 1
"""

# A bet's cash part is at most its amount, a payout's too; a refund gives back its bet's cash
# part, and its bonus part as cash only once the bet's bonus completed (before the refund);
# the bonus's own rows move exactly their amount: a grant into balance only, a completion
# into cash only, a forfeit out of balance only.
WRONG_AMOUNTS = """
    SELECT t.wallet_id, t.external_transaction_id, t.transaction_type, t.amount, t.playable_movement,
           t.redeemable_movement
    FROM CASINO_TRANSACTIONS t
    LEFT JOIN CASINO_TRANSACTIONS b
           ON b.provider_id = t.provider_id AND b.external_transaction_id = t.refunded_bet_id
    WHERE t.outcome = 'applied' AND (
           (t.transaction_type = 'debit' AND (t.playable_movement <> -t.amount
                                              OR t.redeemable_movement NOT BETWEEN -t.amount AND 0))
        OR (t.transaction_type IN ('credit', 'deposit') AND t.playable_movement <> t.amount)
        OR (t.transaction_type = 'credit' AND t.redeemable_movement NOT BETWEEN 0 AND t.amount)
        OR (t.transaction_type = 'withdrawal' AND t.playable_movement <> -t.amount)
        OR (t.transaction_type IN ('deposit', 'withdrawal') AND t.redeemable_movement <> t.playable_movement)
        OR (t.transaction_type = 'rollback' AND t.playable_movement < 0)
        OR (t.refunded_bet_id IS NOT NULL
            AND (b.outcome IS DISTINCT FROM 'applied' OR t.playable_movement <> b.amount
                 OR t.bonus_id IS DISTINCT FROM b.bonus_id
                 OR NOT (t.redeemable_movement = -b.redeemable_movement
                         OR (t.redeemable_movement = b.amount
                             AND EXISTS (SELECT 1 FROM CASINO_TRANSACTIONS e
                                         WHERE e.provider_id IS NULL
                                           AND e.external_transaction_id = format('bonus %s completion', b.bonus_id)
                                           AND e.id < t.id)))))
        OR (t.transaction_type = 'bonus_grant' AND (t.playable_movement <> t.amount OR t.redeemable_movement <> 0))
        OR (t.transaction_type = 'bonus_completion'
            AND (t.playable_movement <> 0 OR t.redeemable_movement <> t.amount))
        OR (t.transaction_type = 'bonus_forfeit'
            AND (t.playable_movement <> -t.amount OR t.redeemable_movement <> 0)))
"""


# Only a bet may be named by a rollback's original or a payout's related id; a refused
# namer was told so, an applied one or a tombstone treated the id as a bet.
PAYOUTS_NAMED_AS_BETS = """
    SELECT t.wallet_id, t.transaction_type, t.external_transaction_id, r.transaction_type,
           r.outcome, r.external_transaction_id
    FROM CASINO_TRANSACTIONS t
    JOIN CASINO_TRANSACTIONS r ON r.provider_id = t.provider_id
                              AND r.related_external_transaction_id = t.external_transaction_id
    WHERE t.transaction_type IN ('credit', 'rollback') AND t.outcome = 'applied'
      AND r.transaction_type IN ('credit', 'rollback') AND r.outcome IN ('applied', 'tombstone')
    ORDER BY t.id, r.id
"""

TOMBSTONED_BETS_APPLIED = """
    SELECT b.wallet_id, b.external_transaction_id, r.wallet_id, r.external_transaction_id
    FROM CASINO_TRANSACTIONS r
    JOIN CASINO_TRANSACTIONS b ON b.provider_id = r.provider_id
                              AND b.external_transaction_id = r.related_external_transaction_id
    WHERE r.transaction_type = 'rollback' AND r.outcome = 'tombstone'
      AND b.transaction_type = 'debit' AND b.outcome = 'applied'
    ORDER BY b.id, r.id
"""

WALLETS_ABOVE_LIMIT = """
    SELECT id, currency_code, playable_balance, redeemable_balance FROM CASINO_WALLETS
    WHERE playable_balance > casino_balance_limit() OR redeemable_balance > casino_balance_limit()
    ORDER BY id
"""

ANSWERS_ABOVE_LIMIT = """
    SELECT wallet_id, transaction_type, external_transaction_id, balance_after FROM CASINO_TRANSACTIONS
    WHERE balance_after > casino_balance_limit()
    ORDER BY id
"""

# A row whose answer can be neither read nor rebuilt exactly (migration 0023): without a
# stored body it must be a money call's success, its bonus part and currency written, that
# currency its wallet's; with one, it has neither.
ANSWERS_UNREADABLE = """
    SELECT t.wallet_id, t.transaction_type, t.external_transaction_id, t.outcome, t.response_status
    FROM CASINO_TRANSACTIONS t
    LEFT JOIN CASINO_WALLETS w ON w.id = t.wallet_id
    WHERE CASE WHEN t.response_cache IS NULL
               THEN NOT coalesce(t.provider_id IS NOT NULL AND t.transaction_type IN ('debit', 'credit', 'rollback')
                                 AND t.outcome IN ('applied', 'tombstone') AND t.response_status = 200
                                 AND t.answer_bonus IS NOT NULL AND t.answer_currency = w.currency_code, false)
               ELSE t.answer_bonus IS NOT NULL OR t.answer_currency IS NOT NULL END
    ORDER BY t.id
"""

ROWS_ON_ANOTHER_WALLETS_SESSION = """
    SELECT t.wallet_id, t.transaction_type, t.external_transaction_id, s.id, s.wallet_id
    FROM CASINO_TRANSACTIONS t
    JOIN CASINO_GAME_SESSIONS s ON s.id = t.session_id
    WHERE s.wallet_id <> t.wallet_id
    ORDER BY t.id
"""

SETTLEMENTS_OF_ANOTHER_WALLETS_BET = """
    SELECT t.wallet_id, t.transaction_type, t.external_transaction_id, b.external_transaction_id, b.wallet_id
    FROM CASINO_TRANSACTIONS t
    JOIN CASINO_TRANSACTIONS b ON b.provider_id = t.provider_id
                              AND b.external_transaction_id = t.related_external_transaction_id
    WHERE t.transaction_type IN ('credit', 'rollback') AND t.outcome = 'applied'
      AND b.transaction_type = 'debit' AND b.wallet_id <> t.wallet_id
    ORDER BY t.id
"""

# Round ids are each provider's own: a payout stands on a bet of its provider's round.
PAYOUTS_WITHOUT_A_BET_OF_THEIR_PROVIDER = """
    SELECT t.wallet_id, t.external_transaction_id, t.round_id
    FROM CASINO_TRANSACTIONS t
    WHERE t.transaction_type = 'credit' AND t.outcome = 'applied'
      AND NOT EXISTS (SELECT 1 FROM CASINO_TRANSACTIONS b
                      WHERE b.provider_id = t.provider_id AND b.wallet_id = t.wallet_id
                        AND b.round_id = t.round_id AND b.transaction_type = 'debit' AND b.outcome = 'applied')
    ORDER BY t.id
"""

COPIES_OFF_THE_CATALOGUE = """
    SELECT 'session', s.id FROM CASINO_GAME_SESSIONS s
    JOIN CASINO_GAMES g ON g.id = s.game_id
    JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id
    WHERE (s.provider_id, s.bet_min, s.bet_max, s.game_enabled, s.provider_enabled)
          IS DISTINCT FROM (g.provider_id, g.min_bet, g.max_bet, g.enabled, p.enabled)
    UNION ALL
    SELECT 'wallet', w.id FROM CASINO_WALLETS w JOIN CASINO_USERS u ON u.id = w.user_id
    WHERE w.player_enabled IS DISTINCT FROM u.enabled
    ORDER BY 1, 2
"""

ROWS_NAMING_NOTHING = """
    SELECT t.wallet_id, t.transaction_type, t.external_transaction_id,
           CASE WHEN w.id IS NULL THEN t.wallet_id END,
           CASE WHEN s.id IS NULL THEN t.session_id END, CASE WHEN p.id IS NULL THEN t.provider_id END
    FROM CASINO_TRANSACTIONS t
    LEFT JOIN CASINO_WALLETS w ON w.id = t.wallet_id
    LEFT JOIN CASINO_GAME_SESSIONS s ON s.id = t.session_id
    LEFT JOIN CASINO_GAME_PROVIDERS p ON p.id = t.provider_id
    WHERE w.id IS NULL OR (t.session_id IS NOT NULL AND s.id IS NULL) OR (t.provider_id IS NOT NULL AND p.id IS NULL)
    ORDER BY t.id
"""


# Bonus money on a row that names no bonus; a row naming a bonus that does not exist (the
# column has no foreign key: migration 0018 says why), or another wallet's.
BONUS_PARTS_WITHOUT_THEIR_BONUS = """
    SELECT t.wallet_id, t.transaction_type, t.external_transaction_id, t.playable_movement - t.redeemable_movement,
           t.bonus_id, b.wallet_id
    FROM CASINO_TRANSACTIONS t
    LEFT JOIN CASINO_BONUSES b ON b.id = t.bonus_id
    WHERE (t.outcome = 'applied' AND t.bonus_id IS NULL AND t.playable_movement <> t.redeemable_movement)
       OR (t.bonus_id IS NOT NULL AND b.id IS NULL)
       OR b.wallet_id <> t.wallet_id
    ORDER BY t.id
"""

GRANTS_NOT_ONE = """
    SELECT b.wallet_id, b.id, b.amount, count(g.id), min(g.amount), max(g.amount)
    FROM CASINO_BONUSES b
    LEFT JOIN CASINO_TRANSACTIONS g ON g.bonus_id = b.id AND g.transaction_type = 'bonus_grant'
                                   AND g.outcome = 'applied' AND g.provider_id IS NULL
                                   AND g.external_transaction_id = b.reference
    GROUP BY b.id
    HAVING count(g.id) <> 1 OR min(g.amount) <> b.amount
    ORDER BY b.id
"""

# Per wallet, from its ledger: the bonus money it holds (check 1 makes it the wallet's own
# balance - redeemable), and what the rows naming its active bonus sum to, with that
# bonus's bets and refunds of them for its wagered counter.
WALLETS_BONUS_NOT_EXPLAINED = """
    SELECT w.id, w.currency_code, w.bonus_id, held.bonus, named.bonus, a.status, a.wallet_id,
           w.bonus_wagered, named.wagered, w.bonus_wagering_required, a.wagering_required,
           w.bonus_expires_at = a.expires_at
    FROM CASINO_WALLETS w
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(t.playable_movement - t.redeemable_movement), 0) AS bonus
        FROM CASINO_TRANSACTIONS t WHERE t.wallet_id = w.id AND t.outcome = 'applied') held
    LEFT JOIN CASINO_BONUSES a ON a.id = w.bonus_id
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(t.playable_movement - t.redeemable_movement), 0) AS bonus,
               coalesce(sum(CASE t.transaction_type WHEN 'debit' THEN t.amount
                                                   WHEN 'rollback' THEN -t.amount ELSE 0 END), 0) AS wagered
        FROM CASINO_TRANSACTIONS t
        WHERE t.wallet_id = w.id AND t.bonus_id = w.bonus_id AND t.outcome = 'applied') named
    WHERE (w.bonus_id IS NULL AND (held.bonus <> 0 OR w.bonus_wagered IS NOT NULL
                                   OR w.bonus_wagering_required IS NOT NULL OR w.bonus_expires_at IS NOT NULL))
       OR (w.bonus_id IS NOT NULL
           AND (held.bonus <> named.bonus OR a.status IS DISTINCT FROM 'active' OR a.wallet_id <> w.id
                OR w.bonus_wagered IS DISTINCT FROM named.wagered
                OR w.bonus_wagering_required IS DISTINCT FROM a.wagering_required
                OR w.bonus_expires_at IS DISTINCT FROM a.expires_at))
    ORDER BY w.id
"""

ACTIVE_BONUSES_OFF_THEIR_WALLET = """
    SELECT b.wallet_id, b.id, w.bonus_id
    FROM CASINO_BONUSES b JOIN CASINO_WALLETS w ON w.id = b.wallet_id
    WHERE b.status = 'active' AND w.bonus_id IS DISTINCT FROM b.id
    ORDER BY b.id
"""

# An ended bonus: its rows sum to nothing; it has one ending row (the completion, or the
# first forfeit: later ones forfeit shares that came back), which moved what remained.
ENDED_BONUSES_NOT_EXPLAINED = """
    SELECT b.wallet_id, b.id, b.status, sums.bonus, ending.count, ending.amount, b.remaining_at_end,
           b.wagered_at_end, b.wagering_required
    FROM CASINO_BONUSES b
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(t.playable_movement - t.redeemable_movement), 0) AS bonus
        FROM CASINO_TRANSACTIONS t
        WHERE t.wallet_id = b.wallet_id AND t.bonus_id = b.id AND t.outcome = 'applied') sums
    CROSS JOIN LATERAL (
        SELECT count(*) AS count, min(t.amount) AS amount
        FROM CASINO_TRANSACTIONS t
        WHERE t.wallet_id = b.wallet_id AND t.bonus_id = b.id AND t.provider_id IS NULL
          AND t.external_transaction_id = format('bonus %s %s', b.id,
                                                 CASE b.status WHEN 'completed' THEN 'completion' ELSE 'forfeit' END)
    ) ending
    WHERE b.status <> 'active'
      AND (sums.bonus <> 0 OR ending.count <> 1 OR ending.amount IS DISTINCT FROM b.remaining_at_end
           OR (b.status = 'completed' AND b.wagered_at_end < b.wagering_required))
    ORDER BY b.id
"""


# What the wallets hold as bonus money, and in how many active bonuses: the summary line.
BONUS_MONEY = """
    SELECT count(bonus_id), coalesce(sum(playable_balance - redeemable_balance), 0) FROM CASINO_WALLETS
"""


# Every applied row of a wallet whose player has had a limit of its currency, counted in each
# of those limits' windows (a window: the calendar day, week or month of the row's instant
# in the player's jurisdiction), running in the order the rows were taken (instant, then
# id). A row that adds to a window (a bet, a deposit) is a violation when the window then
# holds more than the limit in force at its instant. A decision counts from after its own
# instant (a row at the very same instant is judged by the rules before it: a decision
# only makes limits stricter at once, so this never finds what was not there).
WINDOWS_ABOVE_LIMITS = """
    WITH limited AS (
        SELECT DISTINCT user_id, currency_code, limit_type, period
        FROM CASINO_PROTECTION_HISTORY WHERE change = 'limit'),
    counted AS (
        SELECT t.id, t.wallet_id, t.external_transaction_id, t.transaction_type, t.created_at, w.user_id,
               w.currency_code, l.limit_type, l.period,
               CASE l.limit_type WHEN 'deposit' THEN casino_counted_deposit(t.transaction_type, t.amount)
                                 WHEN 'wager' THEN casino_counted_wager(t.transaction_type, t.amount)
                                 ELSE casino_counted_loss(t.transaction_type, t.amount) END AS counts,
               date_trunc(l.period, t.created_at AT TIME ZONE j.time_zone) AS window_starts
        FROM CASINO_TRANSACTIONS t
        JOIN CASINO_WALLETS w ON w.id = t.wallet_id
        JOIN CASINO_USERS u ON u.id = w.user_id
        JOIN CASINO_JURISDICTIONS j ON j.code = u.jurisdiction
        JOIN limited l ON l.user_id = w.user_id AND l.currency_code = w.currency_code
        WHERE t.outcome = 'applied'),
    running AS (
        SELECT c.*, sum(c.counts) OVER (PARTITION BY c.wallet_id, c.limit_type, c.period, c.window_starts
                                        ORDER BY c.created_at, c.id) AS used
        FROM counted c)
    SELECT r.wallet_id, r.transaction_type, r.external_transaction_id, r.limit_type, r.period, r.window_starts,
           r.used, f.in_force
    FROM running r
    CROSS JOIN LATERAL (
        SELECT CASE WHEN h.effective_from <= r.created_at THEN h.new_amount ELSE h.old_amount END AS in_force
        FROM CASINO_PROTECTION_HISTORY h
        WHERE h.change = 'limit' AND h.user_id = r.user_id AND h.currency_code = r.currency_code
          AND h.limit_type = r.limit_type AND h.period = r.period AND h.created_at < r.created_at
        ORDER BY h.created_at DESC, h.id DESC LIMIT 1) AS f
    WHERE r.counts > 0 AND r.used > f.in_force
      AND r.transaction_type = CASE r.limit_type WHEN 'deposit' THEN 'deposit' ELSE 'debit' END
    ORDER BY r.id, r.limit_type, r.period
"""

# A bet, a deposit or a bonus grant accepted after an exclusion began and before it ended
# (the exclusion's instant is taken with the player's wallets locked: a call is before it or
# after).
STAKES_DURING_EXCLUSIONS = """
    SELECT t.wallet_id, t.transaction_type, t.external_transaction_id, h.kind,
           casino_rfc3339(h.effective_from), casino_rfc3339(h.new_until)
    FROM CASINO_PROTECTION_HISTORY h
    JOIN CASINO_WALLETS w ON w.user_id = h.user_id
    JOIN CASINO_TRANSACTIONS t ON t.wallet_id = w.id
    WHERE h.change = 'exclusion' AND t.outcome = 'applied' AND t.transaction_type IN ('debit', 'deposit', 'bonus_grant')
      AND t.created_at > h.effective_from AND t.created_at < h.new_until
    ORDER BY t.id, h.id
"""

# A bonus that was active when an exclusion began and not ended by it: the exclusion
# forfeits the player's active bonuses in its own transaction, at its instant.
BONUSES_ACTIVE_THROUGH_EXCLUSIONS = """
    SELECT b.wallet_id, b.id, h.kind, casino_rfc3339(h.effective_from), casino_rfc3339(b.ended_at)
    FROM CASINO_PROTECTION_HISTORY h
    JOIN CASINO_WALLETS w ON w.user_id = h.user_id
    JOIN CASINO_BONUSES b ON b.wallet_id = w.id
    WHERE h.change = 'exclusion' AND b.granted_at <= h.effective_from
      AND (b.ended_at IS NULL OR b.ended_at > h.effective_from)
    ORDER BY b.id, h.id
"""

# A limited wallet's counters, against its ledger recounted at the last instant they were
# counted at (its last row, or the last change of its limits), while its windows are current.
COUNTERS_NOT_EXPLAINED = """
    SELECT w.id, w.currency_code,
           ARRAY[w.deposit_day_used, w.deposit_week_used, w.deposit_month_used, w.loss_day_used, w.loss_week_used,
                 w.loss_month_used, w.wager_day_used, w.wager_week_used, w.wager_month_used],
           ARRAY[r.deposit_day_used, r.deposit_week_used, r.deposit_month_used, r.loss_day_used, r.loss_week_used,
                 r.loss_month_used, r.wager_day_used, r.wager_week_used, r.wager_month_used]
    FROM CASINO_WALLETS w
    JOIN CASINO_LIMIT_WINDOWS l ON l.wallet_id = w.id
    CROSS JOIN LATERAL (
        SELECT greatest((SELECT max(t.created_at) FROM CASINO_TRANSACTIONS t WHERE t.wallet_id = w.id),
                        (SELECT max(h.created_at) FROM CASINO_PROTECTION_HISTORY h
                         WHERE h.user_id = w.user_id AND h.change = 'limit' AND h.currency_code = w.currency_code))
               AS at) AS last
    CROSS JOIN LATERAL casino_windows_at(w.id, last.at) AS r
    WHERE w.limited AND last.at < l.refresh_at
      AND ARRAY[w.deposit_day_used, w.deposit_week_used, w.deposit_month_used, w.loss_day_used, w.loss_week_used,
                w.loss_month_used, w.wager_day_used, w.wager_week_used, w.wager_month_used]
          IS DISTINCT FROM
          ARRAY[r.deposit_day_used, r.deposit_week_used, r.deposit_month_used, r.loss_day_used, r.loss_week_used,
                r.loss_month_used, r.wager_day_used, r.wager_week_used, r.wager_month_used]
    ORDER BY w.id
"""

COUNTER_NAMES = [f"{kind} {period}" for kind in ("deposit", "loss", "wager") for period in ("day", "week", "month")]


def protection_violations(cur: Cursor) -> list[str]:
    """What player protection forbids, found in the ledger (module docstring, 5)."""
    problems: list[str] = []
    cur.execute(WINDOWS_ABOVE_LIMITS)
    for wallet_id, kind, transaction_id, limit_type, period, window_starts, used, in_force in cur.fetchall():
        problems.append(f"wallet {wallet_id}: {kind} {transaction_id} took the {limit_type} {period} window of "
                        f"{window_starts:%Y-%m-%d} to {used}, above the limit of {in_force} in force")
    cur.execute(STAKES_DURING_EXCLUSIONS)
    for wallet_id, kind, transaction_id, exclusion, starts, ends in cur.fetchall():
        problems.append(f"wallet {wallet_id}: {kind} {transaction_id} was accepted during a {exclusion} "
                        f"from {starts} until {ends or 'indefinitely'}")
    cur.execute(BONUSES_ACTIVE_THROUGH_EXCLUSIONS)
    for wallet_id, bonus_id, exclusion, starts, ended in cur.fetchall():
        problems.append(f"wallet {wallet_id}: bonus {bonus_id} was active when a {exclusion} began at {starts}, "
                        f"and {'ended at ' + ended if ended else 'is still active'}")
    cur.execute(COUNTERS_NOT_EXPLAINED)
    for wallet_id, currency, kept, counted in cur.fetchall():
        differ = ", ".join(f"{name} {a} (ledger {b})" for name, a, b in zip(COUNTER_NAMES, kept, counted, strict=True) if a != b)
        problems.append(f"wallet {wallet_id} ({currency}): its limits' counters are not its ledger's: {differ}")
    return problems


# What the players lost, per currency, from the rows that are not gaming and the balances
# alone: a wallet's balance is the sum of its rows' playable movements (check 1), and every
# applied row is a deposit (+), a withdrawal (-), a bonus grant (+), a bonus forfeit (-), a
# bonus completion (0: bonus money made cash, the balance unchanged), or a bet, a payout
# or a refund -- what the GGR report counts. So stakes - refunds - wins = deposits + grants
# - withdrawals - forfeits - balances.
MONEY_IN_LESS_HELD = """
    SELECT currency_code, sum(money_in) - sum(held) FROM (
        SELECT w.currency_code,
               CASE WHEN t.transaction_type IN ('deposit', 'bonus_grant') THEN t.amount ELSE -t.amount END AS money_in,
               0 AS held
        FROM CASINO_TRANSACTIONS t JOIN CASINO_WALLETS w ON w.id = t.wallet_id
        WHERE t.outcome = 'applied' AND t.transaction_type IN ('deposit', 'withdrawal', 'bonus_grant', 'bonus_forfeit')
        UNION ALL
        SELECT currency_code, 0, playable_balance FROM CASINO_WALLETS) money
    GROUP BY currency_code
"""

LEDGER_DAYS = """
    SELECT (min(created_at) AT TIME ZONE 'UTC')::date, (max(created_at) AT TIME ZONE 'UTC')::date
    FROM CASINO_TRANSACTIONS
"""


def players_losses(cur: Cursor) -> dict[str, int]:
    """{currency: deposits + grants - withdrawals - forfeits - balances}: the GGR the
    balances imply."""
    cur.execute(MONEY_IN_LESS_HELD)
    return {currency: int(amount) for currency, amount in cur.fetchall()}


def reported_ggr(cur: Cursor) -> dict[str, int]:
    """{currency: the GGR report's total over the ledger's whole life}."""
    cur.execute(LEDGER_DAYS)
    days = cur.fetchone()
    assert days is not None, "an aggregate answers one row"
    first, last = days
    return {} if first is None else lifetime_ggr(cur, first, last)


def find_violations(cur: Cursor) -> list[str]:
    """Human-readable violations; empty when the ledger is sound."""
    problems: list[str] = []
    cur.execute(WALLETS_NOT_EXPLAINED)
    for wallet_id, currency, playable, redeemable, sum_playable, sum_redeemable in cur.fetchall():
        problems.append(
            f"wallet {wallet_id} ({currency}): balance {playable}/{redeemable} (playable/redeemable) "
            f"but its ledger sums to {sum_playable}/{sum_redeemable}")
    cur.execute(BETS_REFUNDED_TWICE)
    for wallet_id, bet_id, count in cur.fetchall():
        problems.append(f"wallet {wallet_id}: bet {bet_id} was refunded {count} times")
    cur.execute(WRONG_AMOUNTS)
    for wallet_id, transaction_id, kind, amount, movement, cash_movement in cur.fetchall():
        problems.append(f"wallet {wallet_id}: {kind} {transaction_id} of {amount} moved {movement} "
                        f"(cash {cash_movement})")
    cur.execute(PAYOUTS_NAMED_AS_BETS)
    for wallet_id, kind, transaction_id, namer_kind, namer_outcome, namer_id in cur.fetchall():
        problems.append(f"wallet {wallet_id}: {kind} {transaction_id} was applied, but {namer_kind} {namer_id} "
                        f"({namer_outcome}) names it as a bet")
    cur.execute(TOMBSTONED_BETS_APPLIED)
    for wallet_id, bet_id, tombstone_wallet_id, tombstone_id in cur.fetchall():
        problems.append(f"wallet {wallet_id}: bet {bet_id} was applied, but rollback {tombstone_id} "
                        f"(wallet {tombstone_wallet_id}) left a tombstone for it")
    cur.execute(WALLETS_ABOVE_LIMIT)
    for wallet_id, currency, playable, redeemable in cur.fetchall():
        problems.append(f"wallet {wallet_id} ({currency}): balance {playable}/{redeemable} (playable/redeemable) "
                        f"is above 2^53-1")
    cur.execute(ANSWERS_ABOVE_LIMIT)
    for wallet_id, kind, transaction_id, balance_after in cur.fetchall():
        problems.append(f"wallet {wallet_id}: {kind} {transaction_id} answered balance {balance_after}, above 2^53-1")
    cur.execute(ANSWERS_UNREADABLE)
    for wallet_id, kind, transaction_id, outcome, status in cur.fetchall():
        problems.append(f"wallet {wallet_id}: {kind} {transaction_id} ({outcome}, {status}) has an answer that can be "
                        f"neither read nor rebuilt from its row")
    cur.execute(ROWS_ON_ANOTHER_WALLETS_SESSION)
    for wallet_id, kind, transaction_id, session_id, session_wallet_id in cur.fetchall():
        problems.append(f"wallet {wallet_id}: {kind} {transaction_id} was recorded on session {session_id} "
                        f"of wallet {session_wallet_id}")
    cur.execute(SETTLEMENTS_OF_ANOTHER_WALLETS_BET)
    for wallet_id, kind, transaction_id, bet_id, bet_wallet_id in cur.fetchall():
        problems.append(f"wallet {wallet_id}: {kind} {transaction_id} settled bet {bet_id} of wallet {bet_wallet_id}")
    cur.execute(PAYOUTS_WITHOUT_A_BET_OF_THEIR_PROVIDER)
    for wallet_id, transaction_id, round_id in cur.fetchall():
        problems.append(f"wallet {wallet_id}: payout {transaction_id} was applied to round {round_id}, "
                        f"which holds no accepted bet of its provider")
    cur.execute(COPIES_OFF_THE_CATALOGUE)
    for kind, row_id in cur.fetchall():
        problems.append(f"{kind} {row_id}: what a money call reads of its "
                        f"{'game and provider' if kind == 'session' else 'player'} is not what the catalogue says")
    cur.execute(ROWS_NAMING_NOTHING)
    for wallet_id, kind, transaction_id, missing_wallet, session_id, provider_id in cur.fetchall():
        for name, missing in (("wallet", missing_wallet), ("session", session_id), ("provider", provider_id)):
            if missing is not None:
                problems.append(f"wallet {wallet_id}: {kind} {transaction_id} names {name} {missing}, "
                                f"which does not exist")
    problems += protection_violations(cur)
    problems += bonus_violations(cur)
    losses, reported = players_losses(cur), reported_ggr(cur)
    for currency in sorted(set(losses) | set(reported)):
        if losses.get(currency, 0) != reported.get(currency, 0):
            problems.append(f"currency {currency}: the GGR report's total is {reported.get(currency, 0)}, but "
                            f"deposits + grants - withdrawals - forfeits - balances is {losses.get(currency, 0)}")
    return problems


def bonus_violations(cur: Cursor) -> list[str]:
    """Check 6 (bonus money), in words."""
    problems: list[str] = []
    cur.execute(BONUS_PARTS_WITHOUT_THEIR_BONUS)
    for wallet_id, kind, transaction_id, part, bonus_id, bonus_wallet in cur.fetchall():
        whose = (f"of bonus {bonus_id}, which is wallet {bonus_wallet}'s" if bonus_wallet
                 else f"of bonus {bonus_id}, which does not exist" if bonus_id else "naming no bonus")
        problems.append(f"wallet {wallet_id}: {kind} {transaction_id} moved {part} of bonus money {whose}")
    cur.execute(GRANTS_NOT_ONE)
    for wallet_id, bonus_id, amount, grants, least, most in cur.fetchall():
        problems.append(f"wallet {wallet_id}: bonus {bonus_id} of {amount} has {grants} grant row(s)"
                        + (f" of {least}..{most}" if grants else ""))
    cur.execute(WALLETS_BONUS_NOT_EXPLAINED)
    for (wallet_id, currency, bonus_id, held, named, status, bonus_wallet, wagered, counted, required,
         bonus_required, same_expiry) in cur.fetchall():
        if bonus_id is None:
            problems.append(f"wallet {wallet_id} ({currency}): its ledger holds {held} of bonus money (balance - "
                            f"redeemable) and bonus counters, but it has no active bonus")
        else:
            problems.append(
                f"wallet {wallet_id} ({currency}): balance - redeemable is {held} by its ledger, but bonus {bonus_id} "
                f"({status}, of wallet {bonus_wallet}) holds {named} by the rows naming it; wagered {wagered} "
                f"against {counted} counted, required {required} against {bonus_required}"
                + ("" if same_expiry else ", another expiry"))
    cur.execute(ACTIVE_BONUSES_OFF_THEIR_WALLET)
    for wallet_id, bonus_id, wallet_bonus in cur.fetchall():
        problems.append(f"wallet {wallet_id}: bonus {bonus_id} is active, but the wallet's active bonus is "
                        f"{wallet_bonus}")
    cur.execute(ENDED_BONUSES_NOT_EXPLAINED)
    for wallet_id, bonus_id, status, left, endings, moved, remaining, wagered, required in cur.fetchall():
        problems.append(f"wallet {wallet_id}: bonus {bonus_id} ({status}) keeps {left} by its rows; "
                        f"{endings} ending row(s) moved {moved} of the {remaining} it held at its end; "
                        f"wagered {wagered} of {required}")
    return problems


class Summary(TypedDict):
    wallets: int
    ledgerRows: int
    violations: list[str]


def summary(cur: Cursor) -> Summary:
    """{"wallets", "ledgerRows", "violations"}: every check over one snapshot, taken while
    writers may keep going (the caller's transaction, which this makes REPEATABLE READ
    and read-only: it must be its first statement). What `GET /casino/admin/ledger/audit`
    answers and this module's command prints."""
    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    violations = find_violations(cur)
    cur.execute("SELECT (SELECT count(*) FROM CASINO_WALLETS), (SELECT count(*) FROM CASINO_TRANSACTIONS)")
    counts = cur.fetchone()
    assert counts is not None, "a SELECT of two counts answers one row"
    wallets, rows = counts
    return {"wallets": wallets, "ledgerRows": rows, "violations": violations}


def main(argv: list[str] | None = None) -> int:
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
                with conn, conn.cursor() as cur:
                    found = summary(cur)
                    cur.execute(BONUS_MONEY)
                    [(active, held)] = cur.fetchall()
            finally:
                conn.close()
    except UNUSABLE as exc:
        print(f"audit: not run: {why_unusable(exc)}", file=sys.stderr)
        return 2
    for problem in found["violations"]:
        print(f"VIOLATION {problem}")
    print(f"audit: {found['wallets']} wallets, {found['ledgerRows']} ledger rows, "
          f"{len(found['violations'])} violation(s)")
    print(f"audit: bonus money: {active} active bonus(es) holding {held} (balance - redeemable, per currency's "
          f"minor units, summed){'' if found['violations'] else ', every cent explained by ledger rows'}")
    return 1 if found["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
