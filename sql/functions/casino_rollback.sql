-- Cancels a bet, refunding exactly what it took (PROTOCOL.md's rollback rules; see
-- casino_calls.sql for what every money call shares).

-- Without the signing provider's id (p_provider_id), before keys per provider.
DROP FUNCTION IF EXISTS casino_rollback(TEXT, BIGINT, TEXT, TEXT, TEXT, TEXT);

CREATE OR REPLACE FUNCTION casino_rollback(
    p_provider_id BIGINT, p_token TEXT, p_user_id BIGINT, p_transaction_id TEXT, p_round_id TEXT, p_original_id TEXT,
    p_fingerprint TEXT,
    OUT status SMALLINT, OUT body TEXT, OUT replay BOOLEAN, OUT error_code TEXT)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    c RECORD;
    bet RECORD;
    refusal_status SMALLINT;
    refusal_code TEXT;
    refusal_message TEXT;
    v_outcome TEXT := 'applied';
    v_refund BIGINT := 0;
    v_redeemable_refund BIGINT := 0;
BEGIN
    replay := false;
    -- Also locks the original's id, so this read and a bet arriving with that id on any
    -- wallet's session happen one after the other.
    SELECT * INTO c FROM casino_open_call(p_provider_id, p_token, 'rollback', p_transaction_id, p_round_id, 0,
                                          p_original_id, p_fingerprint);
    IF c.claim_id IS NULL THEN
        status := c.status; body := c.body; replay := c.replay; error_code := c.error_code;
        RETURN;
    END IF;

    SELECT b.transaction_type, b.outcome, b.wallet_id, b.round_id, b.amount, b.redeemable_movement,
           EXISTS (SELECT 1 FROM CASINO_TRANSACTIONS r
                   WHERE r.provider_id = b.provider_id
                     AND r.related_external_transaction_id = b.external_transaction_id
                     AND r.transaction_type = 'rollback' AND r.playable_movement > 0) AS rolled_back,
           EXISTS (SELECT 1 FROM CASINO_TRANSACTIONS p
                   WHERE p.wallet_id = b.wallet_id AND p.round_id = b.round_id AND p.provider_id = b.provider_id
                     AND p.transaction_type = 'credit' AND p.outcome = 'applied') AS round_paid
    INTO bet
    FROM CASINO_TRANSACTIONS b
    WHERE b.provider_id = c.provider AND b.external_transaction_id = p_original_id;

    IF c.owner_id <> p_user_id THEN
        refusal_status := 403; refusal_code := 'USER_MISMATCH';
        refusal_message := 'the session belongs to another user';
    ELSIF bet IS NULL THEN
        v_outcome := 'tombstone';   -- remembered, so the id is refused whenever it arrives
    ELSIF bet.transaction_type <> 'debit' THEN
        refusal_status := 409; refusal_code := 'ROLLBACK_NOT_ALLOWED';
        refusal_message := 'only bets can be rolled back';
    ELSIF bet.wallet_id <> c.wallet OR bet.round_id <> p_round_id THEN
        refusal_status := 409; refusal_code := 'BET_NOT_FOUND';
        refusal_message := 'originalTransactionId is not a bet of this round';
    ELSIF bet.outcome <> 'applied' OR bet.rolled_back THEN
        NULL;   -- nothing was taken, or it was given back already: 200, no movement
    ELSIF bet.round_paid THEN
        refusal_status := 409; refusal_code := 'ROLLBACK_NOT_ALLOWED';
        refusal_message := 'the round already has a payout';
    ELSIF c.playable + bet.amount > casino_balance_limit() THEN
        refusal_status := 422; refusal_code := 'BALANCE_LIMIT_EXCEEDED';
        refusal_message := format('the refund would take the balance past %s', casino_balance_limit());
    ELSE
        v_refund := bet.amount;
        v_redeemable_refund := -bet.redeemable_movement;
    END IF;

    IF refusal_code IS NOT NULL THEN
        status := refusal_status;
        body := casino_refuse(c.claim_id, c.wallet, 0, c.playable, status, refusal_code, refusal_message);
        RETURN;
    END IF;

    status := 200;
    body := json_build_object('transactionId', p_transaction_id, 'balance', c.playable + v_refund,
                              'currency', c.wallet_currency, 'tombstone', v_outcome = 'tombstone')::text;
    PERFORM casino_answer(c.claim_id, c.wallet, v_outcome, v_refund, v_refund, v_redeemable_refund,
                          c.playable + v_refund, status, body);
END $$;
