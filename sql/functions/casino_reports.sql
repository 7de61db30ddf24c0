-- Bonus money's part of a ledger row, as the reports count it (casino/reports.py; README,
-- "Reports"). A row's bonus part is its playable movement less its redeemable (cash)
-- movement (migration 0018), so each figure is read from the row alone:
--   bonusStakes     the bonus money bets took, less what refunds of them gave back as bonus
--                   money: on a bet or a refund, -(playable - redeemable movement). It is
--                   net of refunds, as the GGR is (stakes - refunds); a refund whose bonus
--                   part was made cash (its bonus completed meanwhile) gives back none;
--   bonusWins       the bonus share of payouts: what a payout paid as bonus money (its
--                   share kept by an active bonus, or forfeited with an ended one; the share
--                   of a completed bonus is paid as cash and is a cash win);
--   bonusCompleted  what completions made cash: a bonus_completion row's amount.
--
-- Each function is given an applied ledger row of a kind the reports count
-- (casino/reports.py, REPORTED_KINDS) and answers 0 for the kinds its figure is not of.
--
-- A repeatable file: edited in place, applied again whenever it changes. SQL functions of
-- one expression are inlined into the report's plan, so they cost nothing per row.

CREATE OR REPLACE FUNCTION casino_report_bonus_stake(t CASINO_TRANSACTIONS) RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN t.transaction_type IN ('debit', 'rollback') THEN t.redeemable_movement - t.playable_movement
                ELSE 0 END
$$;

CREATE OR REPLACE FUNCTION casino_report_bonus_win(t CASINO_TRANSACTIONS) RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN t.transaction_type = 'credit' THEN t.playable_movement - t.redeemable_movement ELSE 0 END
$$;

CREATE OR REPLACE FUNCTION casino_report_bonus_completed(t CASINO_TRANSACTIONS) RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN t.transaction_type = 'bonus_completion' THEN t.amount ELSE 0 END
$$;
