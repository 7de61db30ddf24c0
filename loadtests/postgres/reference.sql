-- The reference debit: the least an idempotent debit can do, the yardstick `loadtests.bench`
-- holds casino_debit against. Created by the bench in a schema of its own (the search_path
-- names it, so nothing here is qualified) and dropped when the bench ends; never a migration.
--
-- Two row writes per debit and no more: the balance update, which also locks the wallet,
-- then the ledger row with its answer in it. Everything else ours does -- session lookup,
-- provider scoping, the request fingerprint, the rules, redeemable money, foreign keys and
-- CHECK constraints, the advisory lock -- is left out on purpose.

CREATE TABLE reference_wallets (
    id        BIGINT PRIMARY KEY,
    currency  TEXT NOT NULL,
    balance   BIGINT NOT NULL
);

CREATE TABLE reference_ledger (
    transaction_id  TEXT PRIMARY KEY,    -- the idempotency key: one answer per id
    wallet_id       BIGINT NOT NULL,
    amount          BIGINT NOT NULL,
    status          SMALLINT NOT NULL,
    body            TEXT NOT NULL        -- the answer, replayed as is
);

CREATE FUNCTION reference_debit(p_wallet_id BIGINT, p_transaction_id TEXT, p_amount BIGINT, p_currency TEXT,
                                OUT status SMALLINT, OUT body TEXT, OUT replay BOOLEAN)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_balance BIGINT;
BEGIN
    replay := false;
    -- The one rule: never below zero. The update takes the wallet's row lock, so a second
    -- debit of the same wallet waits here and then re-reads the balance.
    UPDATE reference_wallets SET balance = balance - p_amount
    WHERE id = p_wallet_id AND currency = p_currency AND balance >= p_amount
    RETURNING balance INTO v_balance;
    IF FOUND THEN
        status := 200;
        body := json_build_object('transactionId', p_transaction_id, 'balance', v_balance,
                                  'currency', p_currency)::text;
    ELSE
        status := 422;
        body := '{"error":{"code":"INSUFFICIENT_FUNDS","message":"the wallet does not cover the bet in that currency"}}';
    END IF;

    INSERT INTO reference_ledger (transaction_id, wallet_id, amount, status, body)
    VALUES (p_transaction_id, p_wallet_id, p_amount, status, body)
    ON CONFLICT (transaction_id) DO NOTHING;
    IF NOT FOUND THEN
        -- A resend (a concurrent one waits on the unique index until the first commits):
        -- give back what this call took, and answer what the first call stored.
        IF v_balance IS NOT NULL THEN
            UPDATE reference_wallets SET balance = balance + p_amount WHERE id = p_wallet_id;
        END IF;
        SELECT l.status, l.body INTO status, body FROM reference_ledger l WHERE l.transaction_id = p_transaction_id;
        replay := true;
    END IF;
END $$;
