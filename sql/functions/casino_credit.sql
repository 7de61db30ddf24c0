-- A payout for an accepted bet of the round; 0 settles a lost round (see casino_calls.sql
-- for what every money call shares).

-- Without the signing provider's id (p_provider_id), before keys per provider.
DROP FUNCTION IF EXISTS casino_credit(TEXT, BIGINT, TEXT, TEXT, BIGINT, TEXT, TEXT, TEXT);

-- The result type (casino_reply) cannot change in place: dropped, then created.
DROP FUNCTION IF EXISTS casino_credit(BIGINT, TEXT, BIGINT, TEXT, TEXT, BIGINT, TEXT, TEXT, TEXT);

CREATE FUNCTION casino_credit(
    p_provider_id BIGINT, p_token TEXT, p_user_id BIGINT, p_transaction_id TEXT, p_round_id TEXT, p_amount BIGINT,
    p_currency TEXT, p_related_id TEXT, p_fingerprint TEXT)
RETURNS casino_reply
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    c casino_call := casino_open_call(p_provider_id, p_token, 'credit', p_transaction_id, p_round_id, p_amount,
                                      p_related_id, p_fingerprint);
    bet RECORD;
    v_accepted BIGINT;
    v_live BIGINT;
    v_bonus_staked BIGINT;
    v_share BIGINT;
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

    -- The rules, in the order they win (wire/refusals.py, PRECEDENCE["credit"]).
    IF c.owner_id <> p_user_id THEN
        RETURN casino_refuse(c, 'USER_MISMATCH');
    ELSIF c.currency <> p_currency THEN
        RETURN casino_refuse(c, 'CURRENCY_MISMATCH', c.currency, p_currency);
    END IF;

    -- v_bonus_staked: whether any bet of the round drew on a bonus (refunded or not), so a
    -- round without bonus money reads nothing more.
    SELECT count(*), count(*) FILTER (WHERE NOT casino_refunded(b.provider_id, b.external_transaction_id)),
           sum(b.redeemable_movement - b.playable_movement)
    INTO v_accepted, v_live, v_bonus_staked
    FROM CASINO_TRANSACTIONS b
    WHERE b.wallet_id = c.wallet_id AND b.round_id = p_round_id AND b.provider_id = c.provider_id
      AND b.transaction_type = 'debit' AND b.outcome = 'applied';
    IF v_accepted = 0 THEN
        RETURN casino_refuse(c, 'ROUND_NOT_FOUND');
    END IF;
    IF p_related_id IS NOT NULL THEN
        SELECT b.transaction_type, b.outcome, b.wallet_id, b.round_id,
               casino_refunded(b.provider_id, b.external_transaction_id) AS refunded
        INTO bet
        FROM CASINO_TRANSACTIONS b
        WHERE b.provider_id = c.provider_id AND b.external_transaction_id = p_related_id;
        IF bet IS NULL OR bet.transaction_type <> 'debit' OR bet.outcome <> 'applied'
           OR bet.wallet_id <> c.wallet_id OR bet.round_id <> p_round_id THEN
            RETURN casino_refuse(c, 'BET_NOT_FOUND');
        ELSIF bet.refunded THEN
            RETURN casino_refuse(c, 'TRANSACTION_ROLLED_BACK');
        END IF;
    ELSIF v_live = 0 THEN
        RETURN casino_refuse(c, 'TRANSACTION_ROLLED_BACK');
    END IF;

    IF c.playable + p_amount > casino_balance_limit() THEN
        RETURN casino_refuse(c, 'BALANCE_LIMIT_EXCEEDED');
    END IF;

    -- A wallet with limits counts what this moves in its current windows (casino_record).
    IF c.limited THEN
        PERFORM casino_current_windows(c.wallet_id, c.at);
    END IF;
    -- Winnings are cash, but for the bonus share: the payout's part in the proportion of the
    -- round's bonus stakes, which follows the bonus they came from (casino_bonus.sql):
    -- kept as bonus money while it is active, cash once it completed, forfeited (a row of
    -- its own, after this one) once it was forfeited.
    IF v_bonus_staked > 0 THEN
        SELECT s.share, s.from_bonus INTO v_share, c.row_bonus_id FROM casino_payout_bonus_share(c, p_amount) s;
        v_fate := casino_bonus_fate(c, c.row_bonus_id, v_share);
        v_kept := v_fate.kept;
        v_forfeited := v_fate.forfeited;
    END IF;
    -- Its answer is its row's (balance_after, the bonus part), unless a forfeit follows: it
    -- answers the balance after that row too, which this row cannot tell, so it is stored.
    v_reply := casino_record(c, 'applied', p_amount, p_amount, p_amount - v_kept - v_forfeited, 200::smallint,
                             casino_success_body(p_transaction_id, 'credit', 'applied',
                                                 c.playable + p_amount - v_forfeited,
                                                 c.playable - c.redeemable + v_kept, c.currency),
                             CASE WHEN v_forfeited = 0 THEN c.playable - c.redeemable + v_kept END);
    IF v_forfeited > 0 AND casino_recorded(v_reply) THEN
        PERFORM casino_forfeit_bonus_share(c, c.row_bonus_id, v_forfeited);
    END IF;
    RETURN v_reply;
END $$;
