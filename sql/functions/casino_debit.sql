-- A bet (see casino_calls.sql for what every money call shares).

-- The version of migration 0003 had no idle timeout.
DROP FUNCTION IF EXISTS casino_debit(TEXT, BIGINT, TEXT, TEXT, BIGINT, TEXT, TEXT);

-- Without the signing provider's id (p_provider_id), before keys per provider.
DROP FUNCTION IF EXISTS casino_debit(TEXT, BIGINT, TEXT, TEXT, BIGINT, TEXT, TEXT, INTERVAL);

-- The result type (casino_reply) cannot change in place: dropped, then created.
DROP FUNCTION IF EXISTS casino_debit(BIGINT, TEXT, BIGINT, TEXT, TEXT, BIGINT, TEXT, TEXT, INTERVAL);

CREATE FUNCTION casino_debit(
    p_provider_id BIGINT, p_token TEXT, p_user_id BIGINT, p_transaction_id TEXT, p_round_id TEXT, p_amount BIGINT,
    p_currency TEXT, p_fingerprint TEXT, p_session_idle_timeout INTERVAL)
RETURNS casino_reply
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    c casino_call := casino_open_call(p_provider_id, p_token, 'debit', p_transaction_id, p_round_id, p_amount,
                                      NULL, p_fingerprint);
    v_cash BIGINT;
    v_current BOOLEAN;
    v_passed TEXT;
BEGIN
    IF (c.reply).status IS NOT NULL THEN
        RETURN c.reply;
    END IF;
    -- A wallet with a bonus: its counters, or, past its expiry, its forfeit (casino_bonus.sql).
    IF c.bonus_id IS NOT NULL THEN
        c := casino_bonus_open(c);
    END IF;

    -- The rules, in the order they win (wire/refusals.py, PRECEDENCE["debit"]).
    IF c.owner_id <> p_user_id THEN
        RETURN casino_refuse(c, 'USER_MISMATCH');
    ELSIF NOT c.player_enabled THEN
        RETURN casino_refuse(c, 'PLAYER_DISABLED');
    ELSIF c.at < c.excluded_until THEN
        RETURN casino_refuse(c, 'PLAYER_EXCLUDED', casino_exclusion_text(c.excluded_until));
    ELSIF NOT c.game_enabled THEN
        RETURN casino_refuse(c, 'GAME_DISABLED');
    ELSIF NOT c.provider_enabled THEN
        RETURN casino_refuse(c, 'PROVIDER_DISABLED');
    ELSIF NOT casino_session_live(c.session_active, c.last_activity, p_session_idle_timeout, now()) THEN
        RETURN casino_refuse(c, 'SESSION_INACTIVE');
    ELSIF c.currency <> p_currency THEN
        RETURN casino_refuse(c, 'CURRENCY_MISMATCH', c.currency, p_currency);
    ELSIF p_amount < c.bet_min OR p_amount > c.bet_max THEN
        RETURN casino_refuse(c, 'BET_LIMIT_EXCEEDED', c.bet_min::text, c.bet_max::text);
    END IF;
    -- The player's wager and loss limits (only a wallet that has some reads them): the bet
    -- may not take a window past a limit in force; it counts once its row is written
    -- (casino_record), and records what it was checked against. Then funds.
    IF c.limited THEN
        -- One statement on the windows' row (none: never counted), the counters read from
        -- the wallet row this call holds locked in a subquery, not through the
        -- CASINO_WALLET_WINDOWS view's join; and the usual bet (current windows, no limit
        -- passed) leaves the loop on one test. Both for what they cost a bet
        -- (docs/performance.md, issue 23).
        LOOP
            SELECT c.at < l.refresh_at,
                   (SELECT CASE WHEN l.wager_month < w.wager_month_used + p_amount THEN 'wager:month'
                                WHEN l.wager_week < w.wager_week_used + p_amount THEN 'wager:week'
                                WHEN l.wager_day < w.wager_day_used + p_amount THEN 'wager:day'
                                WHEN l.loss_month < w.loss_month_used + p_amount THEN 'loss:month'
                                WHEN l.loss_week < w.loss_week_used + p_amount THEN 'loss:week'
                                WHEN l.loss_day < w.loss_day_used + p_amount THEN 'loss:day' END
                    FROM CASINO_WALLETS w WHERE w.id = l.wallet_id),
                   l.bet_checked
            INTO v_current, v_passed, c.limits_checked
            FROM CASINO_LIMIT_WINDOWS l WHERE l.wallet_id = c.wallet_id;
            EXIT WHEN v_current AND v_passed IS NULL;
            IF v_current THEN
                RETURN casino_refuse_bet(c, casino_current_windows(c.wallet_id, c.at), v_passed);
            END IF;
            PERFORM casino_refresh_windows(c.wallet_id, c.at);   -- a window ended, or never counted
        END LOOP;
    END IF;
    IF p_amount > c.playable THEN
        RETURN casino_refuse(c, 'INSUFFICIENT_FUNDS', 'playable', 'bet');
    END IF;

    -- An accepted bet keeps the session alive. Refreshed only when the mark is older than
    -- a minute (half the timeout, when that is shorter), so a busy session does not cost
    -- a row write per bet while idleness is still measured to within that margin.
    IF c.last_activity < now() - least(interval '1 minute', p_session_idle_timeout / 2) THEN
        UPDATE CASINO_GAME_SESSIONS SET last_activity_at = now() WHERE id = c.session_id;
    END IF;

    -- A bet spends cash first, then bonus money (README, "Bonus money"); its row records
    -- both parts (the cash part is its redeemable movement). With a bonus active it also
    -- counts toward the bonus's wagering, and may complete it (casino_bonus.sql).
    v_cash := least(c.redeemable, p_amount);
    IF c.bonus_id IS NOT NULL THEN
        RETURN casino_bonus_bet(c, p_amount, v_cash);
    END IF;
    RETURN casino_record(c, 'applied', p_amount, -p_amount, -v_cash, 200::smallint,
                         casino_success_body(p_transaction_id, 'debit', 'applied', c.playable - p_amount,
                                             (c.playable - p_amount) - (c.redeemable - v_cash), c.currency),
                         (c.playable - p_amount) - (c.redeemable - v_cash));
END $$;
