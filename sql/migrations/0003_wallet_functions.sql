-- The wallet's money calls as SQL functions: one round trip per call instead of eight.
--
-- Same algorithm as before (see casino/wallet.py): claim the transactionId, lock the
-- wallet, apply the rules reading other ledger rows in statements of their own after the
-- lock (a VOLATILE function takes a fresh snapshot per statement under READ COMMITTED),
-- store the balance and the answer in the claimed row. Called in autocommit mode, each
-- call is exactly one transaction.
--
-- Every function answers (status, body, replay, error_code). error_code set means "not an
-- answer to store": nothing was written (unknown session, idempotency conflict) and the
-- caller renders the error itself.

CREATE FUNCTION casino_error_body(p_code TEXT, p_message TEXT) RETURNS TEXT
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('error', json_build_object('code', p_code, 'message', p_message))::text
$$;

CREATE FUNCTION casino_money_body(p_transaction_id TEXT, p_balance BIGINT, p_currency TEXT) RETURNS TEXT
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('transactionId', p_transaction_id, 'balance', p_balance,
                             'currency', p_currency)::text
$$;

-- Opens a money call: finds the session, claims the transactionId (a 'pending' row;
-- a concurrent duplicate waits here, on the unique index, until the first commits), and
-- locks the wallet. claim_id is NULL when there is nothing left to do: the id was
-- answered before (status, body, replay) or the call must not be stored (error_code:
-- unknown session, or the same id with other content).
CREATE FUNCTION casino_open_call(
    p_token TEXT, p_kind TEXT, p_transaction_id TEXT, p_round_id TEXT, p_amount BIGINT,
    p_related_id TEXT, p_fingerprint TEXT,
    OUT claim_id BIGINT, OUT status SMALLINT, OUT body TEXT, OUT replay BOOLEAN, OUT error_code TEXT,
    OUT owner_id BIGINT, OUT wallet BIGINT, OUT active BOOLEAN, OUT provider BIGINT,
    OUT bet_min BIGINT, OUT bet_max BIGINT, OUT wallet_currency TEXT,
    OUT playable BIGINT, OUT redeemable BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    v_session_id BIGINT;
    v_fingerprint TEXT;
BEGIN
    replay := false;
    SELECT s.id, s.user_id, s.wallet_id, s.is_active, g.provider_id, g.min_bet, g.max_bet, w.currency_code
    INTO v_session_id, owner_id, wallet, active, provider, bet_min, bet_max, wallet_currency
    FROM CASINO_GAME_SESSIONS s
    JOIN CASINO_GAMES g ON g.id = s.game_id
    JOIN CASINO_WALLETS w ON w.id = s.wallet_id
    WHERE s.token = p_token;
    IF NOT FOUND THEN
        status := 404; error_code := 'SESSION_NOT_FOUND';
        RETURN;
    END IF;

    INSERT INTO CASINO_TRANSACTIONS (
        provider_id, external_transaction_id, transaction_type, wallet_id, session_id,
        round_id, amount, related_external_transaction_id, request_fingerprint, outcome)
    VALUES (provider, p_transaction_id, p_kind, wallet, v_session_id,
            p_round_id, p_amount, p_related_id, p_fingerprint, 'pending')
    ON CONFLICT (provider_id, external_transaction_id) DO NOTHING
    RETURNING id INTO claim_id;
    IF claim_id IS NULL THEN
        SELECT t.request_fingerprint, t.response_status, t.response_cache::text
        INTO v_fingerprint, status, body
        FROM CASINO_TRANSACTIONS t
        WHERE t.provider_id = provider AND t.external_transaction_id = p_transaction_id;
        IF v_fingerprint = p_fingerprint THEN
            replay := true;
        ELSE
            status := 409; body := NULL; error_code := 'IDEMPOTENCY_CONFLICT';
        END IF;
        RETURN;
    END IF;

    -- NO KEY UPDATE, not UPDATE: the claim's foreign key holds a KEY SHARE lock on this row,
    -- and two calls holding KEY SHARE and asking for FOR UPDATE would deadlock.
    SELECT w.playable_balance, w.redeemable_balance INTO playable, redeemable
    FROM CASINO_WALLETS w WHERE w.id = wallet
    FOR NO KEY UPDATE;
END $$;

-- Writes the answer into the claimed row, and the movement into the wallet.
CREATE FUNCTION casino_answer(
    p_claim_id BIGINT, p_wallet_id BIGINT, p_outcome TEXT, p_amount BIGINT,
    p_playable BIGINT, p_redeemable BIGINT, p_balance_after BIGINT, p_status SMALLINT, p_body TEXT)
RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    IF p_playable <> 0 OR p_redeemable <> 0 THEN
        UPDATE CASINO_WALLETS
        SET playable_balance = playable_balance + p_playable,
            redeemable_balance = redeemable_balance + p_redeemable,
            updated_at = now()
        WHERE id = p_wallet_id;
    END IF;
    UPDATE CASINO_TRANSACTIONS
    SET outcome = p_outcome, amount = p_amount, playable_movement = p_playable,
        redeemable_movement = p_redeemable, balance_after = p_balance_after,
        response_status = p_status, response_cache = p_body::json
    WHERE id = p_claim_id;
END $$;

-- Stores a refusal by a rule as the call's answer; returns its body.
CREATE FUNCTION casino_refuse(
    p_claim_id BIGINT, p_wallet_id BIGINT, p_amount BIGINT, p_balance BIGINT,
    p_status SMALLINT, p_code TEXT, p_message TEXT)
RETURNS TEXT
LANGUAGE plpgsql AS $$
DECLARE
    v_body TEXT := casino_error_body(p_code, p_message);
BEGIN
    PERFORM casino_answer(p_claim_id, p_wallet_id, 'refused', p_amount, 0, 0, p_balance, p_status, v_body);
    RETURN v_body;
END $$;

-- A bet.
CREATE FUNCTION casino_debit(
    p_token TEXT, p_user_id BIGINT, p_transaction_id TEXT, p_round_id TEXT, p_amount BIGINT,
    p_currency TEXT, p_fingerprint TEXT,
    OUT status SMALLINT, OUT body TEXT, OUT replay BOOLEAN, OUT error_code TEXT)
LANGUAGE plpgsql AS $$
DECLARE
    c RECORD;
    v_redeemable_after BIGINT;
    refusal_status SMALLINT;
    refusal_code TEXT;
    refusal_message TEXT;
BEGIN
    replay := false;
    SELECT * INTO c FROM casino_open_call(p_token, 'debit', p_transaction_id, p_round_id, p_amount,
                                          NULL, p_fingerprint);
    IF c.claim_id IS NULL THEN
        status := c.status; body := c.body; replay := c.replay; error_code := c.error_code;
        RETURN;
    END IF;

    IF c.owner_id <> p_user_id THEN
        refusal_status := 403; refusal_code := 'USER_MISMATCH';
        refusal_message := 'the session belongs to another user';
    ELSIF NOT c.active THEN
        refusal_status := 403; refusal_code := 'SESSION_INACTIVE'; refusal_message := 'the session is not active';
    ELSIF c.wallet_currency <> p_currency THEN
        refusal_status := 422; refusal_code := 'CURRENCY_MISMATCH';
        refusal_message := format('the session''s wallet is in %s, not %s', c.wallet_currency, p_currency);
    ELSIF p_amount < c.bet_min OR p_amount > c.bet_max THEN
        refusal_status := 422; refusal_code := 'BET_LIMIT_EXCEEDED';
        refusal_message := format('bets on this game are from %s to %s', c.bet_min, c.bet_max);
    ELSIF EXISTS (SELECT 1 FROM CASINO_TRANSACTIONS r
                  WHERE r.provider_id = c.provider AND r.related_external_transaction_id = p_transaction_id
                    AND r.transaction_type = 'rollback' AND r.outcome = 'tombstone') THEN
        refusal_status := 409; refusal_code := 'TRANSACTION_ROLLED_BACK';
        refusal_message := 'this bet was rolled back before it arrived';
    ELSIF p_amount > c.playable THEN
        refusal_status := 422; refusal_code := 'INSUFFICIENT_FUNDS';
        refusal_message := 'the balance does not cover the bet';
    END IF;

    IF refusal_code IS NOT NULL THEN
        status := refusal_status;
        body := casino_refuse(c.claim_id, c.wallet, p_amount, c.playable, status, refusal_code, refusal_message);
        RETURN;
    END IF;

    -- A bet spends playable money; what stays redeemable never exceeds what is left.
    v_redeemable_after := least(c.redeemable, c.playable - p_amount);
    status := 200;
    body := casino_money_body(p_transaction_id, c.playable - p_amount, c.wallet_currency);
    PERFORM casino_answer(c.claim_id, c.wallet, 'applied', p_amount, -p_amount,
                          v_redeemable_after - c.redeemable, c.playable - p_amount, status, body);
END $$;

-- A payout for an accepted bet of the round; 0 settles a lost round.
CREATE FUNCTION casino_credit(
    p_token TEXT, p_user_id BIGINT, p_transaction_id TEXT, p_round_id TEXT, p_amount BIGINT,
    p_currency TEXT, p_related_id TEXT, p_fingerprint TEXT,
    OUT status SMALLINT, OUT body TEXT, OUT replay BOOLEAN, OUT error_code TEXT)
LANGUAGE plpgsql AS $$
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
    SELECT * INTO c FROM casino_open_call(p_token, 'credit', p_transaction_id, p_round_id, p_amount,
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
        WHERE b.wallet_id = c.wallet AND b.round_id = p_round_id
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

-- Cancels a bet, refunding exactly what it took (PROTOCOL.md's rollback rules).
CREATE FUNCTION casino_rollback(
    p_token TEXT, p_user_id BIGINT, p_transaction_id TEXT, p_round_id TEXT, p_original_id TEXT,
    p_fingerprint TEXT,
    OUT status SMALLINT, OUT body TEXT, OUT replay BOOLEAN, OUT error_code TEXT)
LANGUAGE plpgsql AS $$
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
    SELECT * INTO c FROM casino_open_call(p_token, 'rollback', p_transaction_id, p_round_id, 0,
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
                   WHERE p.wallet_id = b.wallet_id AND p.round_id = b.round_id
                     AND p.transaction_type = 'credit' AND p.outcome = 'applied') AS round_paid
    INTO bet
    FROM CASINO_TRANSACTIONS b
    WHERE b.provider_id = c.provider AND b.external_transaction_id = p_original_id;

    IF c.owner_id <> p_user_id THEN
        refusal_status := 403; refusal_code := 'USER_MISMATCH';
        refusal_message := 'the session belongs to another user';
    ELSIF bet IS NULL THEN
        v_outcome := 'tombstone';   -- remembered, so the bet is refused if it arrives late
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
