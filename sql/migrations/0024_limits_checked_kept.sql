-- What a bet of a wallet with limits is checked against (the ledger's limits_checked: the
-- deposit slots empty, then loss and wager per day, week, month), kept on the windows' row
-- it comes from. It changes only when the windows do (a refresh, a limit's change: rare);
-- each bet read it where it built the array for itself (docs/performance.md, "Issue 23":
-- the limits' own budget, issue 20). Generated: no writer can let it disagree.
ALTER TABLE CASINO_LIMIT_WINDOWS
    ADD COLUMN bet_checked BIGINT[] GENERATED ALWAYS AS (
        ARRAY[NULL, NULL, NULL, loss_day, loss_week, loss_month, wager_day, wager_week, wager_month]::BIGINT[]) STORED;
