-- What every money call shares: answer bodies, opening a call (session, locks, claim,
-- wallet, the tombstone rule), storing an answer or a refusal.
--
-- A repeatable file: edited in place, re-applied by `python -m sql.migrate` whenever its
-- checksum changes. CREATE OR REPLACE cannot change a function's result columns or drop a
-- parameter, so a function whose signature changes is dropped first, by its old argument
-- types.
--
-- Every function is VOLATILE on purpose: under READ COMMITTED each statement of a VOLATILE
-- function takes a fresh snapshot, so a read made after a lock was granted sees what the
-- lock's previous holder committed.
--
-- Every function answers (status, body, replay, error_code). error_code set means "not an
-- answer to store": nothing was written (unknown session, idempotency conflict) and the
-- caller renders the error itself.

CREATE OR REPLACE FUNCTION casino_error_body(p_code TEXT, p_message TEXT) RETURNS TEXT
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('error', json_build_object('code', p_code, 'message', p_message))::text
$$;

CREATE OR REPLACE FUNCTION casino_money_body(p_transaction_id TEXT, p_balance BIGINT, p_currency TEXT) RETURNS TEXT
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('transactionId', p_transaction_id, 'balance', p_balance,
                             'currency', p_currency)::text
$$;

-- Result columns cannot change in place: every version is dropped, then created.
DROP FUNCTION IF EXISTS casino_open_call(TEXT, TEXT, TEXT, TEXT, BIGINT, TEXT, TEXT);
DROP FUNCTION IF EXISTS casino_open_call(BIGINT, TEXT, TEXT, TEXT, TEXT, BIGINT, TEXT, TEXT);

-- Opens a money call for the provider whose key signed it (p_provider_id): finds the
-- session, refuses one of another provider's game, locks the transactionIds the call is about,
-- claims its own (a 'pending' row), locks the wallet, and refuses an id a tombstone names.
-- claim_id is NULL when there is nothing left to do: the id was answered before (status,
-- body, replay), was refused here (status, body), or the call must not be stored
-- (error_code: unknown session, another provider's session, or the same id with other content).
CREATE FUNCTION casino_open_call(
    p_provider_id BIGINT, p_token TEXT, p_kind TEXT, p_transaction_id TEXT, p_round_id TEXT, p_amount BIGINT,
    p_related_id TEXT, p_fingerprint TEXT,
    OUT claim_id BIGINT, OUT status SMALLINT, OUT body TEXT, OUT replay BOOLEAN, OUT error_code TEXT,
    OUT session_pk BIGINT, OUT owner_id BIGINT, OUT wallet BIGINT, OUT active BOOLEAN,
    OUT last_activity TIMESTAMPTZ, OUT player_active BOOLEAN, OUT game_active BOOLEAN,
    OUT provider_active BOOLEAN, OUT provider BIGINT, OUT bet_min BIGINT, OUT bet_max BIGINT,
    OUT wallet_currency TEXT, OUT playable BIGINT, OUT redeemable BIGINT)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_fingerprint TEXT;
    v_lock_key INTEGER;
BEGIN
    replay := false;
    SELECT s.id, s.user_id, s.wallet_id, s.is_active, s.last_activity_at,
           u.status = 'active', g.is_active, NOT gp.is_disabled,
           g.provider_id, g.min_bet, g.max_bet, w.currency_code
    INTO session_pk, owner_id, wallet, active, last_activity, player_active, game_active, provider_active,
         provider, bet_min, bet_max, wallet_currency
    FROM CASINO_GAME_SESSIONS s
    JOIN CASINO_USERS u ON u.id = s.user_id
    JOIN CASINO_GAMES g ON g.id = s.game_id
    JOIN CASINO_GAME_PROVIDERS gp ON gp.id = g.provider_id
    JOIN CASINO_WALLETS w ON w.id = s.wallet_id
    WHERE s.token = p_token;
    IF NOT FOUND THEN
        status := 404; error_code := 'SESSION_NOT_FOUND';
        RETURN;
    END IF;
    -- transactionIds are the signing provider's namespace: nothing is claimed or stored
    -- under another provider's name.
    IF p_provider_id IS DISTINCT FROM provider THEN
        status := 403; error_code := 'PROVIDER_MISMATCH';
        RETURN;
    END IF;

    -- The wallet lock orders calls on one wallet only. A bet and a rollback naming it may
    -- come on sessions of two wallets, so each call also holds, until commit, a lock on
    -- its own (provider, transactionId), and a rollback one on the id it cancels: a
    -- tombstone and the bet it names are then decided one after the other, the second
    -- seeing what the first committed. Taken in key order, so two rollbacks naming each
    -- other's ids cannot deadlock.
    FOR v_lock_key IN
        SELECT DISTINCT hashtext(id)
        FROM unnest(ARRAY[p_transaction_id, CASE WHEN p_kind = 'rollback' THEN p_related_id END]) AS id
        WHERE id IS NOT NULL
        ORDER BY 1
    LOOP
        PERFORM pg_advisory_xact_lock(provider::integer, v_lock_key);
    END LOOP;

    INSERT INTO CASINO_TRANSACTIONS (
        provider_id, external_transaction_id, transaction_type, wallet_id, session_id,
        round_id, amount, related_external_transaction_id, request_fingerprint, outcome)
    VALUES (provider, p_transaction_id, p_kind, wallet, session_pk,
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
            -- The stored answer may be a commit the synchronous standby never confirmed (its
            -- wait was cancelled: the caller got 503). A row lock writes WAL, so this
            -- transaction's commit waits for the standby, which then holds everything
            -- before it, the replayed row included: a replay is never answered from the
            -- primary alone.
            PERFORM 1 FROM CASINO_TRANSACTIONS t
            WHERE t.provider_id = provider AND t.external_transaction_id = p_transaction_id
            FOR KEY SHARE;
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

    -- A tombstone promised the provider that this id will never move money, whatever kind
    -- of call brings it: a late bet, or a bet's bytes resent as a payout.
    IF EXISTS (SELECT 1 FROM CASINO_TRANSACTIONS r
               WHERE r.provider_id = provider AND r.related_external_transaction_id = p_transaction_id
                 AND r.transaction_type = 'rollback' AND r.outcome = 'tombstone') THEN
        status := 409;
        body := casino_refuse(claim_id, wallet, p_amount, playable, status, 'TRANSACTION_ROLLED_BACK',
                              'a rollback cancelled this transactionId before it arrived');
        claim_id := NULL;
    END IF;
END $$;

-- Writes the answer into the claimed row, and the movement into the wallet.
CREATE OR REPLACE FUNCTION casino_answer(
    p_claim_id BIGINT, p_wallet_id BIGINT, p_outcome TEXT, p_amount BIGINT,
    p_playable BIGINT, p_redeemable BIGINT, p_balance_after BIGINT, p_status SMALLINT, p_body TEXT)
RETURNS VOID
LANGUAGE plpgsql VOLATILE AS $$
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
CREATE OR REPLACE FUNCTION casino_refuse(
    p_claim_id BIGINT, p_wallet_id BIGINT, p_amount BIGINT, p_balance BIGINT,
    p_status SMALLINT, p_code TEXT, p_message TEXT)
RETURNS TEXT
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_body TEXT := casino_error_body(p_code, p_message);
BEGIN
    PERFORM casino_answer(p_claim_id, p_wallet_id, 'refused', p_amount, 0, 0, p_balance, p_status, v_body);
    RETURN v_body;
END $$;
