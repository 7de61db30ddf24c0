-- Cancels a bet, refunding exactly what it took (PROTOCOL.md's rollback rules; see
-- casino_calls.sql for what every money call shares).

-- Without the signing provider's id (p_provider_id), before keys per provider.
DROP FUNCTION IF EXISTS casino_rollback(TEXT, BIGINT, TEXT, TEXT, TEXT, TEXT);

-- The result type (casino_reply) cannot change in place: dropped, then created.
DROP FUNCTION IF EXISTS casino_rollback(BIGINT, TEXT, BIGINT, TEXT, TEXT, TEXT, TEXT);

CREATE FUNCTION casino_rollback(
    p_provider_id BIGINT, p_token TEXT, p_user_id BIGINT, p_transaction_id TEXT, p_round_id TEXT, p_original_id TEXT,
    p_fingerprint TEXT)
RETURNS casino_reply
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    -- Also locks the original's id, so this read and a bet arriving with that id on any
    -- wallet's session happen one after the other.
    c casino_call := casino_open_call(p_provider_id, p_token, 'rollback', p_transaction_id, p_round_id, 0,
                                      p_original_id, p_fingerprint);
    bet RECORD;
    v_outcome TEXT := 'applied';
    v_refund BIGINT := 0;
    v_redeemable_refund BIGINT := 0;
    v_fate RECORD;
    v_kept BIGINT := 0;
    v_forfeited BIGINT := 0;
    v_reply casino_reply;
BEGIN
    IF (c.reply).status IS NOT NULL THEN
        RETURN c.reply;
    END IF;
    -- A wallet with a bonus: its counters, or, past its expiry, its forfeit (casino_bonus.sql).
    IF c.bonus_id IS NOT NULL THEN
        c := casino_bonus_open(c);
    END IF;

    SELECT b.transaction_type, b.outcome, b.wallet_id, b.round_id, b.amount, b.redeemable_movement, b.bonus_id,
           casino_refunded(b.provider_id, b.external_transaction_id) AS refunded,
           EXISTS (SELECT 1 FROM CASINO_TRANSACTIONS p
                   WHERE p.wallet_id = b.wallet_id AND p.round_id = b.round_id AND p.provider_id = b.provider_id
                     AND p.transaction_type = 'credit' AND p.outcome = 'applied') AS round_paid
    INTO bet
    FROM CASINO_TRANSACTIONS b
    WHERE b.provider_id = c.provider_id AND b.external_transaction_id = p_original_id;

    -- The rules, in the order they win (wire/refusals.py, PRECEDENCE["rollback"]).
    IF c.owner_id <> p_user_id THEN
        RETURN casino_refuse(c, 'USER_MISMATCH');
    ELSIF p_original_id = p_transaction_id THEN
        -- Its own original: this very call, a rollback, not a bet (nor a bet to tombstone).
        RETURN casino_refuse(c, 'ROLLBACK_NOT_ALLOWED');
    ELSIF bet IS NULL THEN
        v_outcome := 'tombstone';   -- remembered, so the id is refused whenever it arrives
    ELSIF bet.transaction_type <> 'debit' THEN
        RETURN casino_refuse(c, 'ROLLBACK_NOT_ALLOWED');
    ELSIF bet.wallet_id <> c.wallet_id OR bet.round_id <> p_round_id THEN
        RETURN casino_refuse(c, 'BET_NOT_FOUND');
    ELSIF bet.outcome <> 'applied' OR bet.refunded THEN
        NULL;   -- nothing was taken, or it was given back already: 200, no movement
    ELSIF bet.round_paid THEN
        RETURN casino_refuse(c, 'ROLLBACK_NOT_ALLOWED');
    ELSIF c.playable + bet.amount > casino_balance_limit() THEN
        RETURN casino_refuse(c, 'BALANCE_LIMIT_EXCEEDED');
    ELSE
        v_refund := bet.amount;
        v_redeemable_refund := -bet.redeemable_movement;
        -- A bet that counted toward a bonus: the refund takes its count back while that
        -- bonus is active, and its bonus part follows the bonus (casino_bonus.sql): kept,
        -- cashed once it completed, forfeited (a row of its own, after this one).
        IF bet.bonus_id IS NOT NULL THEN
            c.row_bonus_id := bet.bonus_id;
            IF bet.bonus_id = c.bonus_id THEN
                c.bonus_wagered := c.bonus_wagered - bet.amount;
            END IF;
            v_fate := casino_bonus_fate(c, bet.bonus_id, bet.amount + bet.redeemable_movement);
            v_kept := v_fate.kept;
            v_forfeited := v_fate.forfeited;
            v_redeemable_refund := v_redeemable_refund + v_fate.cashed;
        END IF;
    END IF;

    -- A wallet with limits counts what this moves in its current windows (casino_record).
    IF c.limited THEN
        PERFORM casino_current_windows(c.wallet_id, c.at);
    END IF;
    -- Its answer is its row's, unless a forfeit follows (stored then, as a payout's is).
    v_reply := casino_record(c, v_outcome, v_refund, v_refund, v_redeemable_refund, 200::smallint,
                             casino_success_body(p_transaction_id, 'rollback', v_outcome,
                                                 c.playable + v_refund - v_forfeited,
                                                 c.playable - c.redeemable + v_kept, c.currency),
                             CASE WHEN v_forfeited = 0 THEN c.playable - c.redeemable + v_kept END);
    IF v_forfeited > 0 AND casino_recorded(v_reply) THEN
        PERFORM casino_forfeit_bonus_share(c, bet.bonus_id, v_forfeited);
    END IF;
    RETURN v_reply;
END $$;
