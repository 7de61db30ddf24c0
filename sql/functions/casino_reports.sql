-- Bonus money's part of a ledger row, as the reports count it (casino/reports.py): the one
-- place the bonus work (PROTOCOL.md, "Bonus money") fills in. There is no bonus money yet,
-- so every part is 0, and the GGR report's bonusStakes, bonusWins and bonusCompleted are 0
-- and its ngr equals its ggr.
--
-- Each function is given an applied ledger row of a kind the reports count (a bet, a
-- payout, a refund), so a bonus's split of a bet or a payout, once the row records it, is
-- read here. A bonus completion is not such a row today: when it becomes one, the GGR
-- report's query must also take its kind (casino/reports.py, REPORTED_KINDS).
--
-- A repeatable file: edited in place, applied again whenever it changes. SQL functions of
-- one expression are inlined into the report's plan, so they cost nothing per row.

CREATE OR REPLACE FUNCTION casino_report_bonus_stake(t CASINO_TRANSACTIONS) RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 0::bigint $$;

CREATE OR REPLACE FUNCTION casino_report_bonus_win(t CASINO_TRANSACTIONS) RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 0::bigint $$;

CREATE OR REPLACE FUNCTION casino_report_bonus_completed(t CASINO_TRANSACTIONS) RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 0::bigint $$;
