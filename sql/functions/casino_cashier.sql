-- Deposits and withdrawals: money the casino itself moves into or out of a wallet, on a
-- cashier's operator key (POST /casino/admin/deposits, /casino/admin/withdrawals). They are
-- money calls like the provider's (casino_calls.sql says why in this order), keyed by the
-- caller's `reference` among the casino's own rows (provider_id NULL):
--   1. find the wallet and lock it (404 USER_NOT_FOUND / WALLET_NOT_FOUND, not stored);
--   2. lock the reference (an advisory lock under key 0: provider ids start at 1), so a
--      duplicate sent for another wallet waits too;
--   3. the reference's stored answer: replayed, or 409 IDEMPOTENCY_CONFLICT; then a bonus
--      past its expiry is forfeited (it counts for nothing: casino_bonus.sql);
--   4. the rules: a withdrawal takes at most the redeemable balance, which is cash only,
--      never bonus money (422 INSUFFICIENT_FUNDS); a deposit is refused to an excluded
--      player (403 PLAYER_EXCLUDED, also when the jurisdiction's external register says so:
--      p_register, casino/exclusion_register.py), without a deposit limit where the
--      jurisdiction requires one (422 DEPOSIT_LIMIT_REQUIRED), past a deposit limit (422
--      DEPOSIT_LIMIT_REACHED, with details), and past 2^53-1 (422 BALANCE_LIMIT_EXCEEDED);
--      all stored but 503 EXCLUSION_CHECK_UNAVAILABLE (a register that could not be asked);
--   5. insert the answered ledger row once, at the call's instant, and move the wallet (and
--      count a deposit against the wallet's limits: casino_protection.sql).
-- Withdrawals are never refused by a limit or an exclusion.
-- With p_operator set, the call is also written to CASINO_ADMIN_AUDIT, in the same
-- transaction (fixtures and tools that fund players pass NULL).

-- Before the external register's answer (p_register).
DROP FUNCTION IF EXISTS casino_cashier(TEXT, BIGINT, TEXT, BIGINT, TEXT, TEXT, TEXT, JSONB);

CREATE OR REPLACE FUNCTION casino_cashier(
    p_kind TEXT, p_user_id BIGINT, p_currency TEXT, p_amount BIGINT, p_reference TEXT, p_fingerprint TEXT,
    p_operator TEXT, p_request JSONB, p_register TEXT DEFAULT NULL)
RETURNS casino_reply
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    w RECORD;
    v_at TIMESTAMPTZ;
    v_reply casino_reply;
    v_playable BIGINT := 0;
    v_outcome TEXT := 'applied';
    v_status SMALLINT := 200;
    v_body TEXT;
    v_checked BIGINT[];
    rules RECORD;
BEGIN
    IF p_kind NOT IN ('deposit', 'withdrawal') THEN
        RAISE EXCEPTION 'casino_cashier: unknown kind %', p_kind;
    END IF;
    SELECT wa.id, wa.playable_balance, wa.redeemable_balance, wa.excluded_until, wa.limited,
           wa.bonus_id, wa.bonus_expires_at, j.deposit_limit_required INTO w
    FROM CASINO_WALLETS wa
    JOIN CASINO_USERS u ON u.id = wa.user_id
    JOIN CASINO_JURISDICTIONS j ON j.code = u.jurisdiction
    WHERE wa.user_id = p_user_id AND wa.currency_code = p_currency
    FOR NO KEY UPDATE OF wa;
    IF NOT FOUND THEN
        v_reply := CASE WHEN EXISTS (SELECT 1 FROM CASINO_USERS WHERE id = p_user_id)
                        THEN casino_refusal('WALLET_NOT_FOUND', p_currency) ELSE casino_refusal('USER_NOT_FOUND') END;
    ELSE
        PERFORM pg_advisory_xact_lock(0, hashtext(p_reference));
        -- After the locks, in a statement of its own: what an earlier holder committed.
        v_reply := (SELECT CASE WHEN t.request_fingerprint = p_fingerprint
                                THEN ROW(t.response_status, t.response_cache::text, true, NULL)::casino_reply
                                ELSE casino_refusal('IDEMPOTENCY_CONFLICT', 'reference') END
                    FROM CASINO_TRANSACTIONS t
                    WHERE t.provider_id IS NULL AND t.external_transaction_id = p_reference);
        v_at := casino_clock();
        IF v_reply.status IS NULL THEN
            IF w.bonus_expires_at <= v_at AND casino_forfeit_bonus(w.bonus_id, 'expired', v_at) THEN
                w.playable_balance := w.redeemable_balance;     -- what remained of it has left
            END IF;
            -- A withdrawal takes only cash: what is redeemable. Bonus money stays.
            IF p_kind = 'withdrawal' AND p_amount > w.redeemable_balance THEN
                v_reply := casino_refusal('INSUFFICIENT_FUNDS', 'redeemable', 'withdrawal');
            ELSIF p_kind = 'deposit' THEN
                SELECT * INTO rules
                FROM casino_check_deposit(w.id, v_at, p_currency, p_amount, w.excluded_until, w.limited,
                                          w.deposit_limit_required, p_register);
                v_reply := rules.refusal;
                v_checked := rules.limits_checked;
                IF v_reply.status IS NULL AND w.playable_balance + p_amount > casino_balance_limit() THEN
                    v_reply := casino_refusal('BALANCE_LIMIT_EXCEEDED');
                END IF;
            END IF;
            IF v_reply.error_code IS NOT NULL THEN
                NULL;   -- not stored (the register could not be asked): nothing is written
            ELSIF v_reply.status IS NOT NULL THEN
                v_outcome := 'refused'; v_status := v_reply.status; v_body := v_reply.body;
            ELSE
                v_playable := CASE p_kind WHEN 'deposit' THEN p_amount ELSE -p_amount END;
                v_body := json_build_object('reference', p_reference, 'balance', w.playable_balance + v_playable,
                                            'redeemable', w.redeemable_balance + v_playable,
                                            'currency', p_currency)::text;
            END IF;
            IF v_reply.error_code IS NULL THEN
                INSERT INTO CASINO_TRANSACTIONS (
                    provider_id, external_transaction_id, transaction_type, wallet_id, amount, request_fingerprint,
                    outcome, playable_movement, redeemable_movement, balance_after, response_status, response_cache,
                    limits_checked, created_at)
                VALUES (NULL, p_reference, p_kind, w.id, p_amount, p_fingerprint, v_outcome, v_playable, v_playable,
                        w.playable_balance + v_playable, v_status, v_body::json,
                        CASE WHEN v_outcome = 'applied' THEN v_checked END, v_at);
                IF v_playable <> 0 THEN
                    UPDATE CASINO_WALLETS
                    SET playable_balance = playable_balance + v_playable,
                        redeemable_balance = redeemable_balance + v_playable,
                        updated_at = now(),
                        -- what a deposit counts against the wallet's limits (windows current:
                        -- the deposit's check brought them up to v_at)
                        deposit_day_used = deposit_day_used + casino_counted_deposit(p_kind, p_amount),
                        deposit_week_used = deposit_week_used + casino_counted_deposit(p_kind, p_amount),
                        deposit_month_used = deposit_month_used + casino_counted_deposit(p_kind, p_amount)
                    WHERE id = w.id;
                END IF;
                v_reply := ROW(v_status, v_body, false, NULL)::casino_reply;
            END IF;
        END IF;
    END IF;
    IF p_operator IS NOT NULL THEN
        INSERT INTO CASINO_ADMIN_AUDIT (operator_key_id, action, request, response_status, replay)
        VALUES (p_operator, p_kind, p_request, v_reply.status, coalesce(v_reply.replay, false));
    END IF;
    RETURN v_reply;
END $$;
