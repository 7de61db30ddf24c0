-- A ledger row stores what a replay needs and no more (issue 23, item 3).
--
-- A money call's success answers with its row's own facts: the transactionId, the balance
-- after it, the bonus part of that balance, the wallet's currency, and for a rollback
-- whether it left a tombstone. From here on such a row stores no body: response_cache is
-- NULL, and the two facts the row did not hold already are columns of their own,
-- answer_bonus and answer_currency (balance_after is the balance answered). Its answer is
-- rebuilt, byte for byte, by casino_success_body() below -- the one function that builds it
-- when the call is answered (casino_record, from the values it writes to the row) and every
-- time it is read again (through casino_ledger_answer: a replay, transactionStatus, the back
-- office, the support page).
--
-- What keeps its stored body:
--   - a refusal: its message comes from the catalogue (CASINO_REFUSALS), which may change,
--     and a limit's refusal carries details of the windows at that moment;
--   - a payout or refund whose bonus part was forfeited (a row of its own follows): it
--     answers the balance after that row, not its own balance_after;
--   - the casino's own rows (deposits, withdrawals, bonus rows): their answers are other
--     shapes, written by other functions;
--   - every row written before this migration, whatever it was: it replays as stored
--     (an answer stored before migration 0018 has no "bonus", and keeps having none).
--
-- Both functions live here, not in a repeatable file, for the reason casino_ledger_row_rules
-- does (migration 0020): the rows whose answers they rebuild are already written, so what
-- they build may never change. A new shape of success answer is a new migration, with a
-- new function and a way to tell its rows apart.

ALTER TABLE CASINO_TRANSACTIONS
    ALTER COLUMN response_cache DROP NOT NULL,
    ADD COLUMN answer_bonus BIGINT,
    ADD COLUMN answer_currency TEXT;

COMMENT ON COLUMN CASINO_TRANSACTIONS.response_cache IS
    'The stored answer body (JSON, not JSONB: replays are byte for byte); NULL for a success rebuilt from the row (migration 0023: casino_ledger_answer)';
COMMENT ON COLUMN CASINO_TRANSACTIONS.answer_bonus IS
    'A rebuilt success''s bonus part of its balance, as answered; NULL where response_cache holds the answer';
COMMENT ON COLUMN CASINO_TRANSACTIONS.answer_currency IS
    'A rebuilt success''s currency, as answered; NULL where response_cache holds the answer';

-- A money call's success answer: exactly what casino_money_body built (the money calls'
-- answers since migration 0018): json_build_object's own text, a rollback's with its
-- tombstone flag last.
CREATE FUNCTION casino_success_body(p_transaction_id TEXT, p_kind TEXT, p_outcome TEXT, p_balance BIGINT,
                                    p_bonus BIGINT, p_currency TEXT)
RETURNS TEXT
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_kind = 'rollback'
                THEN json_build_object('transactionId', p_transaction_id, 'balance', p_balance,
                                       'bonus', p_bonus, 'currency', p_currency, 'tombstone', p_outcome = 'tombstone')
                ELSE json_build_object('transactionId', p_transaction_id, 'balance', p_balance,
                                       'bonus', p_bonus, 'currency', p_currency) END::text
$$;

-- A ledger row's answer body: the stored one, else the success rebuilt from the row. Every
-- reader of an answer reads it through this (called with the row's columns of the same
-- names). PL/pgSQL, not an inlined SQL function, on purpose: the stored-answer read of
-- every money call names it, and finds no row but for a resend; inlined, its expression
-- would be compiled in every call.
CREATE FUNCTION casino_ledger_answer(p_stored JSON, p_transaction_id TEXT, p_kind TEXT, p_outcome TEXT,
                                     p_balance_after BIGINT, p_bonus BIGINT, p_currency TEXT)
RETURNS TEXT
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN coalesce(p_stored::text,
                    casino_success_body(p_transaction_id, p_kind, p_outcome, p_balance_after, p_bonus, p_currency));
END $$;

-- Which rows store their answer is casino_record's to write (the only writer of a money
-- call's row): a CHECK saying so was measured at ~33 000 instructions per bet (the row's
-- rules function with four more arguments, read and run for every row written:
-- docs/performance.md, issue 23), so the audit checks it instead (casino/audit.py, check
-- 4: a row whose answer can be neither read nor rebuilt).
