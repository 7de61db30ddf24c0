-- A bet (see casino_calls.sql for what every money call shares).

-- The version of migration 0003 had no idle timeout.
DROP FUNCTION IF EXISTS casino_debit(TEXT, BIGINT, TEXT, TEXT, BIGINT, TEXT, TEXT);

-- Without the signing provider's id (p_provider_id), before keys per provider.
DROP FUNCTION IF EXISTS casino_debit(TEXT, BIGINT, TEXT, TEXT, BIGINT, TEXT, TEXT, INTERVAL);

CREATE OR REPLACE FUNCTION casino_debit(
    p_provider_id BIGINT, p_token TEXT, p_user_id BIGINT, p_transaction_id TEXT, p_round_id TEXT, p_amount BIGINT,
    p_currency TEXT, p_fingerprint TEXT, p_session_idle_timeout INTERVAL,
    OUT status SMALLINT, OUT body TEXT, OUT replay BOOLEAN, OUT error_code TEXT)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    c RECORD;
    v_live BOOLEAN;
    v_redeemable_after BIGINT;
    refusal_status SMALLINT;
    refusal_code TEXT;
    refusal_message TEXT;
BEGIN
    replay := false;
    SELECT * INTO c FROM casino_open_call(p_provider_id, p_token, 'debit', p_transaction_id, p_round_id, p_amount,
                                          NULL, p_fingerprint);
    IF c.claim_id IS NULL THEN
        status := c.status; body := c.body; replay := c.replay; error_code := c.error_code;
        RETURN;
    END IF;

    v_live := c.active AND c.last_activity > now() - p_session_idle_timeout;
    IF c.owner_id <> p_user_id THEN
        refusal_status := 403; refusal_code := 'USER_MISMATCH';
        refusal_message := 'the session belongs to another user';
    ELSIF NOT c.player_active THEN
        refusal_status := 403; refusal_code := 'PLAYER_DISABLED'; refusal_message := 'the player is disabled';
    ELSIF NOT c.game_active THEN
        refusal_status := 403; refusal_code := 'GAME_DISABLED'; refusal_message := 'the game is disabled';
    ELSIF NOT c.provider_active THEN
        refusal_status := 403; refusal_code := 'PROVIDER_DISABLED';
        refusal_message := 'the game''s provider is disabled';
    ELSIF NOT v_live THEN
        refusal_status := 403; refusal_code := 'SESSION_INACTIVE';
        refusal_message := 'the session is closed or has expired';
    ELSIF c.wallet_currency <> p_currency THEN
        refusal_status := 422; refusal_code := 'CURRENCY_MISMATCH';
        refusal_message := format('the session''s wallet is in %s, not %s', c.wallet_currency, p_currency);
    ELSIF p_amount < c.bet_min OR p_amount > c.bet_max THEN
        refusal_status := 422; refusal_code := 'BET_LIMIT_EXCEEDED';
        refusal_message := format('bets on this game are from %s to %s', c.bet_min, c.bet_max);
    ELSIF p_amount > c.playable THEN
        refusal_status := 422; refusal_code := 'INSUFFICIENT_FUNDS';
        refusal_message := 'the balance does not cover the bet';
    END IF;

    IF refusal_code IS NOT NULL THEN
        status := refusal_status;
        body := casino_refuse(c.claim_id, c.wallet, p_amount, c.playable, status, refusal_code, refusal_message);
        RETURN;
    END IF;

    -- An accepted bet keeps the session alive. Refreshed only when the mark is older than
    -- a minute (half the timeout, when that is shorter), so a busy session does not cost
    -- a row write per bet while idleness is still measured to within that margin.
    IF c.last_activity < now() - least(interval '1 minute', p_session_idle_timeout / 2) THEN
        UPDATE CASINO_GAME_SESSIONS SET last_activity_at = now() WHERE id = c.session_pk;
    END IF;

    -- A bet spends playable money; what stays redeemable never exceeds what is left.
    v_redeemable_after := least(c.redeemable, c.playable - p_amount);
    status := 200;
    body := casino_money_body(p_transaction_id, c.playable - p_amount, c.wallet_currency);
    PERFORM casino_answer(c.claim_id, c.wallet, 'applied', p_amount, -p_amount,
                          v_redeemable_after - c.redeemable, c.playable - p_amount, status, body);
END $$;
