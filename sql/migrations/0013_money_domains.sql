-- The single-column rules of the money columns move from table CHECK constraints to
-- domains: the same rules, the same error (check_violation, 23514), at a fraction of the
-- cost. PostgreSQL reads a table's CHECK constraints from the catalogue and compiles them
-- again for every statement that writes one of its rows, and checks all of them on every
-- UPDATE, whichever columns it sets; a domain's rule is compiled once per connection and
-- checked only where a value of that domain is written. Measured with
-- `python -m loadtests.instructions` (callgrind: instructions, the same on a busy machine):
-- the CHECKs were 22 % of a debit's instructions in PostgreSQL (docs/performance.md).
--
-- Rules that compare two columns stay table CHECKs (redeemable <= playable; only an
-- applied row moves money), as does the ledger's kind, which its generated column
-- refunded_bet_id reads (a column read by a generated column cannot change type).

CREATE DOMAIN casino_minor_units AS BIGINT
    CONSTRAINT casino_minor_units_not_negative CHECK (VALUE >= 0);

-- A playable balance: never negative, never above 2^53-1 (what every JSON client reads exactly).
CREATE DOMAIN casino_balance AS BIGINT
    CONSTRAINT casino_balance_not_negative CHECK (VALUE >= 0)
    CONSTRAINT casino_balance_within_limit CHECK (VALUE <= casino_balance_limit());

CREATE DOMAIN casino_currency AS CHAR(3)
    CONSTRAINT casino_currency_code CHECK (VALUE ~ '^[A-Z]{3}$');

-- A stored answer: a success or a refusal of the caller's request, never a server error.
CREATE DOMAIN casino_answer_status AS SMALLINT
    CONSTRAINT casino_answer_status_range CHECK (VALUE BETWEEN 200 AND 499);

CREATE DOMAIN casino_ledger_outcome AS TEXT
    CONSTRAINT casino_ledger_outcome_known CHECK (VALUE IN ('applied', 'refused', 'tombstone'));

-- PostgreSQL rewrites a table whose column changes to a domain with constraints: both
-- tables and every index on them are written again, under an exclusive lock (a large
-- ledger: plan the pause, as for 0009).
ALTER TABLE CASINO_WALLETS
    DROP CONSTRAINT casino_wallets_playable_balance_check,
    DROP CONSTRAINT casino_wallets_playable_within_limit,
    DROP CONSTRAINT casino_wallets_redeemable_balance_check,
    DROP CONSTRAINT casino_wallets_currency_code_check,
    ALTER COLUMN playable_balance TYPE casino_balance,
    ALTER COLUMN redeemable_balance TYPE casino_minor_units,
    ALTER COLUMN currency_code TYPE casino_currency;

ALTER TABLE CASINO_TRANSACTIONS
    DROP CONSTRAINT casino_transactions_amount_check,
    DROP CONSTRAINT casino_transactions_balance_after_check,
    DROP CONSTRAINT casino_transactions_response_status_check,
    DROP CONSTRAINT casino_transactions_outcome_check,
    ALTER COLUMN amount TYPE casino_minor_units,
    ALTER COLUMN balance_after TYPE casino_minor_units,
    ALTER COLUMN response_status TYPE casino_answer_status,
    ALTER COLUMN outcome TYPE casino_ledger_outcome;
