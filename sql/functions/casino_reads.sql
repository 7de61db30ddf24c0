-- The two callbacks that change nothing: a player's balance, and what the casino recorded
-- for a transactionId (reconciliation). Their answers are built here, beside the money
-- calls' (casino_calls.sql), so every body a provider's callback gets is built in SQL.

-- getBalance, for the provider whose key signed it. Never stores anything. bonus: the
-- bonus part of balance; a bonus past its expiresAt counts for nothing, whether or not the
-- expiry pass or a money call has forfeited it yet, so the balance is the one the next bet
-- will see (casino_bonus.sql).
CREATE OR REPLACE FUNCTION casino_get_balance(p_provider_id BIGINT, p_token TEXT, p_user_id BIGINT)
RETURNS casino_reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s RECORD;
BEGIN
    SELECT ses.user_id, w.playable_balance, w.redeemable_balance, w.currency_code, g.provider_id,
           w.bonus_id IS NOT NULL AND w.bonus_expires_at <= casino_clock() AS bonus_expired
    INTO s
    FROM CASINO_GAME_SESSIONS ses
    JOIN CASINO_WALLETS w ON w.id = ses.wallet_id
    JOIN CASINO_GAMES g ON g.id = ses.game_id
    WHERE ses.token = p_token;
    IF NOT FOUND THEN
        RETURN casino_refusal('SESSION_NOT_FOUND', 'sessionToken');
    ELSIF s.provider_id IS DISTINCT FROM p_provider_id THEN
        RETURN casino_refusal('PROVIDER_MISMATCH');
    ELSIF s.user_id <> p_user_id THEN
        RETURN casino_refusal('USER_MISMATCH');
    END IF;
    RETURN ROW(200, json_build_object(
                        'userId', s.user_id,
                        'balance', CASE WHEN s.bonus_expired THEN s.redeemable_balance ELSE s.playable_balance END,
                        'bonus', CASE WHEN s.bonus_expired THEN 0 ELSE s.playable_balance - s.redeemable_balance END,
                        'currency', s.currency_code)::text, false, NULL)::casino_reply;
END $$;

-- transactionStatus: only the calling provider's own ids (transactionIds are unique per
-- provider, and one provider must learn nothing about another's). Deposits are not
-- reported. rolledBack: a bet some rollback refunded.
CREATE OR REPLACE FUNCTION casino_transaction_status(p_provider_id BIGINT, p_transaction_id TEXT)
RETURNS casino_reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_body TEXT;
BEGIN
    SELECT json_build_object(
               'transactionId', t.external_transaction_id, 'kind', t.transaction_type, 'outcome', t.outcome,
               'rolledBack', t.transaction_type = 'debit' AND casino_refunded(t.provider_id, t.external_transaction_id),
               'status', t.response_status,
               'response', casino_ledger_answer(t.response_cache, t.external_transaction_id, t.transaction_type,
                                                t.outcome, t.balance_after, t.answer_bonus, t.answer_currency)::json,
               'createdAt', to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text
    INTO v_body
    FROM CASINO_TRANSACTIONS t
    WHERE t.provider_id = p_provider_id AND t.external_transaction_id = p_transaction_id;
    IF NOT FOUND THEN
        RETURN casino_refusal('TRANSACTION_NOT_FOUND');
    END IF;
    RETURN ROW(200, v_body, false, NULL)::casino_reply;
END $$;
