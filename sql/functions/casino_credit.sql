-- A payout for an accepted bet of the round; 0 settles a lost round (see casino_calls.sql
-- for what every money call shares).

-- Without the signing provider's id (p_provider_id), before keys per provider.
DROP FUNCTION IF EXISTS casino_credit(TEXT, BIGINT, TEXT, TEXT, BIGINT, TEXT, TEXT, TEXT);

CREATE OR REPLACE FUNCTION casino_credit(
    p_provider_id BIGINT, p_token TEXT, p_user_id BIGINT, p_transaction_id TEXT, p_round_id TEXT, p_amount BIGINT,
    p_currency TEXT, p_related_id TEXT, p_fingerprint TEXT,
    OUT status SMALLINT, OUT body TEXT, OUT replay BOOLEAN, OUT error_code TEXT)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    c RECORD;
    bet RECORD;
    v_accepted BIGINT;
    v_live BIGINT;
    refusal_status SMALLINT;
    refusal_code TEXT;
    refusal_message TEXT;
BEGIN
    replay := false;
    SELECT * INTO c FROM casino_open_call(p_provider_id, p_token, 'credit', p_transaction_id, p_round_id, p_amount,
                                          p_related_id, p_fingerprint);
    IF c.claim_id IS NULL THEN
        status := c.status; body := c.body; replay := c.replay; error_code := c.error_code;
        RETURN;
    END IF;

    IF c.owner_id <> p_user_id THEN
        refusal_status := 403; refusal_code := 'USER_MISMATCH';
        refusal_message := 'the session belongs to another user';
    ELSIF c.wallet_currency <> p_currency THEN
        refusal_status := 422; refusal_code := 'CURRENCY_MISMATCH';
        refusal_message := format('the session''s wallet is in %s, not %s', c.wallet_currency, p_currency);
    ELSE
        SELECT count(*),
               count(*) FILTER (WHERE NOT EXISTS (
                   SELECT 1 FROM CASINO_TRANSACTIONS r
                   WHERE r.provider_id = b.provider_id
                     AND r.related_external_transaction_id = b.external_transaction_id
                     AND r.transaction_type = 'rollback' AND r.playable_movement > 0))
        INTO v_accepted, v_live
        FROM CASINO_TRANSACTIONS b
        WHERE b.wallet_id = c.wallet AND b.round_id = p_round_id AND b.provider_id = c.provider
          AND b.transaction_type = 'debit' AND b.outcome = 'applied';
        IF v_accepted = 0 THEN
            refusal_status := 404; refusal_code := 'ROUND_NOT_FOUND';
            refusal_message := 'the round holds no accepted bet of this wallet';
        ELSIF p_related_id IS NOT NULL THEN
            SELECT b.transaction_type, b.outcome, b.wallet_id, b.round_id,
                   EXISTS (SELECT 1 FROM CASINO_TRANSACTIONS r
                           WHERE r.provider_id = b.provider_id
                             AND r.related_external_transaction_id = b.external_transaction_id
                             AND r.transaction_type = 'rollback' AND r.playable_movement > 0) AS rolled_back
            INTO bet
            FROM CASINO_TRANSACTIONS b
            WHERE b.provider_id = c.provider AND b.external_transaction_id = p_related_id;
            IF bet IS NULL OR bet.transaction_type <> 'debit' OR bet.outcome <> 'applied'
               OR bet.wallet_id <> c.wallet OR bet.round_id <> p_round_id THEN
                refusal_status := 409; refusal_code := 'BET_NOT_FOUND';
                refusal_message := 'relatedTransactionId names no accepted bet of this round';
            ELSIF bet.rolled_back THEN
                refusal_status := 409; refusal_code := 'TRANSACTION_ROLLED_BACK';
                refusal_message := 'the related bet was rolled back';
            END IF;
        ELSIF v_live = 0 THEN
            refusal_status := 409; refusal_code := 'TRANSACTION_ROLLED_BACK';
            refusal_message := 'every bet of the round was rolled back';
        END IF;
    END IF;

    IF refusal_code IS NULL AND c.playable + p_amount > casino_balance_limit() THEN
        refusal_status := 422; refusal_code := 'BALANCE_LIMIT_EXCEEDED';
        refusal_message := format('the payout would take the balance past %s', casino_balance_limit());
    END IF;

    IF refusal_code IS NOT NULL THEN
        status := refusal_status;
        body := casino_refuse(c.claim_id, c.wallet, p_amount, c.playable, status, refusal_code, refusal_message);
        RETURN;
    END IF;

    -- Winnings are real money: playable and redeemable alike.
    status := 200;
    body := casino_money_body(p_transaction_id, c.playable + p_amount, c.wallet_currency);
    PERFORM casino_answer(c.claim_id, c.wallet, 'applied', p_amount, p_amount, p_amount,
                          c.playable + p_amount, status, body);
END $$;
