-- Player protection (PROTOCOL.md, "Player protection"; tables: migration 0016): what counts
-- against a limit, a wallet's calendar windows, the checks a bet and a deposit pass, and
-- the back office's verbs that set a limit or exclude a player.
--
-- Where it is enforced: casino_debit (after the game's bet limits, before funds),
-- casino_cashier (deposits), casino_record (every applied row of a wallet with limits
-- counts in its windows, in the update that moves its balance). A wallet without limits
-- and without an exclusion costs a money call two more columns of the row it already locks
-- (excluded_until, limited) and nothing else.
--
-- Exactness under concurrency: a wallet's money calls take its row lock one at a time,
-- read their instant after it (casino_clock()), and count on that row while holding it;
-- so its counters are what the ledger's rows of that wallet add up to, in the order of
-- their instants, which is what the audit recounts (casino/audit.py). A limit change and
-- an exclusion take the same lock before they read or write.

-- What one applied ledger row counts (PROTOCOL.md, "What is counted"): deposits; wager =
-- bets - refunds; loss = bets - refunds - payouts. The one statement of the rule: the
-- windows, the back office's "used" and the audit all read these.
CREATE OR REPLACE FUNCTION casino_counted_deposit(p_kind TEXT, p_amount BIGINT) RETURNS BIGINT
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_kind = 'deposit' THEN p_amount ELSE 0 END
$$;

CREATE OR REPLACE FUNCTION casino_counted_wager(p_kind TEXT, p_amount BIGINT) RETURNS BIGINT
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_kind WHEN 'debit' THEN p_amount WHEN 'rollback' THEN -p_amount ELSE 0 END
$$;

CREATE OR REPLACE FUNCTION casino_counted_loss(p_kind TEXT, p_amount BIGINT) RETURNS BIGINT
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_kind WHEN 'debit' THEN p_amount WHEN 'rollback' THEN -p_amount WHEN 'credit' THEN -p_amount
                       ELSE 0 END
$$;

-- RFC 3339 UTC, as every answer writes times; NULL for 'infinity' (an indefinite exclusion).
CREATE OR REPLACE FUNCTION casino_rfc3339(p_at TIMESTAMPTZ) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN isfinite(p_at) THEN to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END
$$;

-- A jurisdiction's calendar duration as ISO 8601 (P6M, P1D, P42D), as the API writes it.
CREATE OR REPLACE FUNCTION casino_iso_interval(p_interval INTERVAL) RETURNS TEXT
LANGUAGE sql IMMUTABLE SET intervalstyle = 'iso_8601' AS $$
    SELECT p_interval::text
$$;

-- The end of an exclusion, as PLAYER_EXCLUDED's message says it.
CREATE OR REPLACE FUNCTION casino_exclusion_text(p_until TIMESTAMPTZ) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN isfinite(p_until) THEN 'until ' || casino_rfc3339(p_until) ELSE 'indefinitely' END
$$;

-- The end of the player's exclusion (the latest an exclusion runs to; 'infinity':
-- indefinite), NULL when they never had one. Compare it with the call's instant.
CREATE OR REPLACE FUNCTION casino_exclusion_until(p_user_id BIGINT) RETURNS TIMESTAMPTZ
LANGUAGE sql STABLE AS $$
    SELECT max(new_until) FROM CASINO_PROTECTION_HISTORY WHERE user_id = p_user_id AND change = 'exclusion'
$$;

-- What an exclusion does beyond protection's own rows: it forfeits the player's active
-- bonuses (PROTOCOL.md, "Bonus money": "on an exclusion ... it is forfeited"; cash is never
-- touched), in the exclusion's transaction and at its instant (casino_bonus.sql). Called
-- by casino_exclude with the player's wallets locked.
CREATE OR REPLACE FUNCTION casino_on_exclusion(p_user_id BIGINT, p_at TIMESTAMPTZ) RETURNS VOID
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM casino_forfeit_player_bonuses(p_user_id, 'excluded', p_at);
END $$;

-- The start and end of the calendar day, week (from Monday) and month (from the 1st) that
-- hold p_at in a time zone: a local midnight, whatever the offset that day (a day is 23 or
-- 25 hours across a DST change).
CREATE OR REPLACE FUNCTION casino_calendar(p_at TIMESTAMPTZ, p_time_zone TEXT,
    OUT day_starts TIMESTAMPTZ, OUT day_ends TIMESTAMPTZ, OUT week_starts TIMESTAMPTZ, OUT week_ends TIMESTAMPTZ,
    OUT month_starts TIMESTAMPTZ, OUT month_ends TIMESTAMPTZ)
LANGUAGE sql STABLE AS $$
    SELECT date_trunc('day', l) AT TIME ZONE p_time_zone, (date_trunc('day', l) + interval '1 day') AT TIME ZONE p_time_zone,
           date_trunc('week', l) AT TIME ZONE p_time_zone, (date_trunc('week', l) + interval '1 week') AT TIME ZONE p_time_zone,
           date_trunc('month', l) AT TIME ZONE p_time_zone,
           (date_trunc('month', l) + interval '1 month') AT TIME ZONE p_time_zone
    FROM (SELECT p_at AT TIME ZONE p_time_zone AS l) AS local_time
$$;

-- A wallet's windows at p_at, with the limits in force then (a pending change whose time
-- has come counts as applied), and what counts in each: rolled on from p_before, the
-- windows as the wallet last counted them, when given -- a window that has ended since
-- starts again at zero (the call that brings them up to date is the first of the new one),
-- one that has not keeps what it holds -- else counted from the ledger (a wallet's first
-- limit, a new time zone, the back office's reads, the audit). Reads only.
DROP FUNCTION IF EXISTS casino_windows_at(BIGINT, TIMESTAMPTZ);

CREATE OR REPLACE FUNCTION casino_windows_at(p_wallet_id BIGINT, p_at TIMESTAMPTZ,
                                             p_before CASINO_WALLET_WINDOWS DEFAULT NULL) RETURNS CASINO_WALLET_WINDOWS
LANGUAGE plpgsql STABLE AS $$
DECLARE
    w CASINO_WALLET_WINDOWS;
    cal RECORD;
    v_next_change TIMESTAMPTZ;
BEGIN
    SELECT k.* INTO cal
    FROM CASINO_WALLETS wa
    JOIN CASINO_USERS u ON u.id = wa.user_id
    JOIN CASINO_JURISDICTIONS j ON j.code = u.jurisdiction
    CROSS JOIN LATERAL casino_calendar(p_at, j.time_zone) AS k
    WHERE wa.id = p_wallet_id;

    w.wallet_id := p_wallet_id;
    w.day_ends := cal.day_ends; w.week_ends := cal.week_ends; w.month_ends := cal.month_ends;

    SELECT max(v) FILTER (WHERE l.limit_type = 'deposit' AND l.period = 'day'),
           max(v) FILTER (WHERE l.limit_type = 'deposit' AND l.period = 'week'),
           max(v) FILTER (WHERE l.limit_type = 'deposit' AND l.period = 'month'),
           max(v) FILTER (WHERE l.limit_type = 'loss' AND l.period = 'day'),
           max(v) FILTER (WHERE l.limit_type = 'loss' AND l.period = 'week'),
           max(v) FILTER (WHERE l.limit_type = 'loss' AND l.period = 'month'),
           max(v) FILTER (WHERE l.limit_type = 'wager' AND l.period = 'day'),
           max(v) FILTER (WHERE l.limit_type = 'wager' AND l.period = 'week'),
           max(v) FILTER (WHERE l.limit_type = 'wager' AND l.period = 'month'),
           min(l.pending_from) FILTER (WHERE l.pending_from > p_at)
    INTO w.deposit_day, w.deposit_week, w.deposit_month, w.loss_day, w.loss_week, w.loss_month,
         w.wager_day, w.wager_week, w.wager_month, v_next_change
    FROM CASINO_PLAYER_LIMITS l
    JOIN CASINO_WALLETS wa ON wa.user_id = l.user_id AND wa.currency_code = l.currency_code
    CROSS JOIN LATERAL (SELECT CASE WHEN l.pending_from <= p_at THEN l.pending_amount ELSE l.amount END AS v) AS f
    WHERE wa.id = p_wallet_id;

    w.refresh_at := least(cal.day_ends, v_next_change);
    IF p_before.wager_day_used IS NOT NULL AND p_before.refresh_at > '-infinity' THEN
        w.deposit_day_used := CASE WHEN p_at < p_before.day_ends THEN p_before.deposit_day_used ELSE 0 END;
        w.deposit_week_used := CASE WHEN p_at < p_before.week_ends THEN p_before.deposit_week_used ELSE 0 END;
        w.deposit_month_used := CASE WHEN p_at < p_before.month_ends THEN p_before.deposit_month_used ELSE 0 END;
        w.loss_day_used := CASE WHEN p_at < p_before.day_ends THEN p_before.loss_day_used ELSE 0 END;
        w.loss_week_used := CASE WHEN p_at < p_before.week_ends THEN p_before.loss_week_used ELSE 0 END;
        w.loss_month_used := CASE WHEN p_at < p_before.month_ends THEN p_before.loss_month_used ELSE 0 END;
        w.wager_day_used := CASE WHEN p_at < p_before.day_ends THEN p_before.wager_day_used ELSE 0 END;
        w.wager_week_used := CASE WHEN p_at < p_before.week_ends THEN p_before.wager_week_used ELSE 0 END;
        w.wager_month_used := CASE WHEN p_at < p_before.month_ends THEN p_before.wager_month_used ELSE 0 END;
        RETURN w;
    END IF;

    -- Each applied row counts in the window of its own instant; the ledger's rows of this
    -- wallet all have instants up to p_at (they were taken under its lock).
    SELECT coalesce(sum(casino_counted_deposit(t.transaction_type, t.amount)) FILTER (WHERE t.created_at >= cal.day_starts), 0),
           coalesce(sum(casino_counted_deposit(t.transaction_type, t.amount)) FILTER (WHERE t.created_at >= cal.week_starts), 0),
           coalesce(sum(casino_counted_deposit(t.transaction_type, t.amount)) FILTER (WHERE t.created_at >= cal.month_starts), 0),
           coalesce(sum(casino_counted_loss(t.transaction_type, t.amount)) FILTER (WHERE t.created_at >= cal.day_starts), 0),
           coalesce(sum(casino_counted_loss(t.transaction_type, t.amount)) FILTER (WHERE t.created_at >= cal.week_starts), 0),
           coalesce(sum(casino_counted_loss(t.transaction_type, t.amount)) FILTER (WHERE t.created_at >= cal.month_starts), 0),
           coalesce(sum(casino_counted_wager(t.transaction_type, t.amount)) FILTER (WHERE t.created_at >= cal.day_starts), 0),
           coalesce(sum(casino_counted_wager(t.transaction_type, t.amount)) FILTER (WHERE t.created_at >= cal.week_starts), 0),
           coalesce(sum(casino_counted_wager(t.transaction_type, t.amount)) FILTER (WHERE t.created_at >= cal.month_starts), 0)
    INTO w.deposit_day_used, w.deposit_week_used, w.deposit_month_used, w.loss_day_used, w.loss_week_used,
         w.loss_month_used, w.wager_day_used, w.wager_week_used, w.wager_month_used
    FROM CASINO_TRANSACTIONS t
    WHERE t.wallet_id = p_wallet_id AND t.outcome = 'applied'
      AND t.created_at >= least(cal.week_starts, cal.month_starts) AND t.created_at <= p_at;
    RETURN w;
END $$;

-- Brings a wallet's windows up to p_at, with its wallet row locked by the caller and before
-- the caller's own row is written: applies pending changes whose time has come, drops
-- limits that are gone, rolls the windows on (or recounts them from the ledger: above),
-- and says on the wallet whether it still has limits to count against (a wallet without
-- any counts nothing: its counters are NULL).
CREATE OR REPLACE FUNCTION casino_refresh_windows(p_wallet_id BIGINT, p_at TIMESTAMPTZ) RETURNS CASINO_WALLET_WINDOWS
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    w CASINO_WALLET_WINDOWS;
    v_before CASINO_WALLET_WINDOWS;
    v_limited BOOLEAN;
BEGIN
    SELECT * INTO v_before FROM CASINO_WALLET_WINDOWS WHERE wallet_id = p_wallet_id;
    UPDATE CASINO_PLAYER_LIMITS l
    SET amount = l.pending_amount, pending_amount = NULL, pending_from = NULL, updated_at = p_at
    FROM CASINO_WALLETS wa
    WHERE wa.id = p_wallet_id AND l.user_id = wa.user_id AND l.currency_code = wa.currency_code
      AND l.pending_from <= p_at;
    DELETE FROM CASINO_PLAYER_LIMITS l
    USING CASINO_WALLETS wa
    WHERE wa.id = p_wallet_id AND l.user_id = wa.user_id AND l.currency_code = wa.currency_code
      AND l.amount IS NULL AND l.pending_from IS NULL;

    w := casino_windows_at(p_wallet_id, p_at, v_before);
    INSERT INTO CASINO_LIMIT_WINDOWS (wallet_id, refresh_at, day_ends, week_ends, month_ends, deposit_day, deposit_week,
                                      deposit_month, loss_day, loss_week, loss_month, wager_day, wager_week, wager_month)
    VALUES (p_wallet_id, w.refresh_at, w.day_ends, w.week_ends, w.month_ends, w.deposit_day, w.deposit_week,
            w.deposit_month, w.loss_day, w.loss_week, w.loss_month, w.wager_day, w.wager_week, w.wager_month)
    ON CONFLICT (wallet_id) DO UPDATE SET
        refresh_at = EXCLUDED.refresh_at, day_ends = EXCLUDED.day_ends, week_ends = EXCLUDED.week_ends,
        month_ends = EXCLUDED.month_ends,
        deposit_day = EXCLUDED.deposit_day, deposit_week = EXCLUDED.deposit_week, deposit_month = EXCLUDED.deposit_month,
        loss_day = EXCLUDED.loss_day, loss_week = EXCLUDED.loss_week, loss_month = EXCLUDED.loss_month,
        wager_day = EXCLUDED.wager_day, wager_week = EXCLUDED.wager_week, wager_month = EXCLUDED.wager_month;

    -- A pending change always has an amount in force beside it (a first limit never waits).
    v_limited := num_nonnulls(w.deposit_day, w.deposit_week, w.deposit_month, w.loss_day, w.loss_week,
                              w.loss_month, w.wager_day, w.wager_week, w.wager_month) > 0;
    UPDATE CASINO_WALLETS
    SET limited = v_limited,
        deposit_day_used = CASE WHEN v_limited THEN w.deposit_day_used END,
        deposit_week_used = CASE WHEN v_limited THEN w.deposit_week_used END,
        deposit_month_used = CASE WHEN v_limited THEN w.deposit_month_used END,
        loss_day_used = CASE WHEN v_limited THEN w.loss_day_used END,
        loss_week_used = CASE WHEN v_limited THEN w.loss_week_used END,
        loss_month_used = CASE WHEN v_limited THEN w.loss_month_used END,
        wager_day_used = CASE WHEN v_limited THEN w.wager_day_used END,
        wager_week_used = CASE WHEN v_limited THEN w.wager_week_used END,
        wager_month_used = CASE WHEN v_limited THEN w.wager_month_used END
    WHERE id = p_wallet_id;
    RETURN w;
END $$;

-- A limit's figures in a wallet's windows: (limit in force, used, window's end).
CREATE OR REPLACE FUNCTION casino_window_figures(w CASINO_WALLET_WINDOWS, p_type TEXT, p_period TEXT,
    OUT limit_amount BIGINT, OUT used BIGINT, OUT ends TIMESTAMPTZ)
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_type || ':' || p_period
               WHEN 'deposit:day' THEN w.deposit_day WHEN 'deposit:week' THEN w.deposit_week
               WHEN 'deposit:month' THEN w.deposit_month WHEN 'wager:day' THEN w.wager_day
               WHEN 'wager:week' THEN w.wager_week WHEN 'wager:month' THEN w.wager_month
               WHEN 'loss:day' THEN w.loss_day WHEN 'loss:week' THEN w.loss_week WHEN 'loss:month' THEN w.loss_month END,
           CASE p_type || ':' || p_period
               WHEN 'deposit:day' THEN w.deposit_day_used WHEN 'deposit:week' THEN w.deposit_week_used
               WHEN 'deposit:month' THEN w.deposit_month_used WHEN 'wager:day' THEN w.wager_day_used
               WHEN 'wager:week' THEN w.wager_week_used WHEN 'wager:month' THEN w.wager_month_used
               WHEN 'loss:day' THEN w.loss_day_used WHEN 'loss:week' THEN w.loss_week_used
               WHEN 'loss:month' THEN w.loss_month_used END,
           CASE p_period WHEN 'day' THEN w.day_ends WHEN 'week' THEN w.week_ends ELSE w.month_ends END
$$;

-- The "details" of a refusal by a limit (PROTOCOL.md): used is what counted before this call.
CREATE OR REPLACE FUNCTION casino_limit_details(w CASINO_WALLET_WINDOWS, p_type TEXT, p_period TEXT, p_currency TEXT)
RETURNS JSON
LANGUAGE sql IMMUTABLE AS $$
    SELECT json_build_object('limitType', p_type, 'period', p_period, 'currency', p_currency,
                             'limit', f.limit_amount, 'used', f.used, 'resetsAt', casino_rfc3339(f.ends))
    FROM casino_window_figures(w, p_type, p_period) AS f
$$;

-- The first deposit limit a deposit would take past (limit < used + amount; a limit not in
-- force is NULL and passes), the longest window first (the one that resets last); NULL
-- when every limit allows it.
CREATE OR REPLACE FUNCTION casino_deposit_passes(w CASINO_WALLET_WINDOWS, p_amount BIGINT) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN w.deposit_month < w.deposit_month_used + p_amount THEN 'month'
                WHEN w.deposit_week < w.deposit_week_used + p_amount THEN 'week'
                WHEN w.deposit_day < w.deposit_day_used + p_amount THEN 'day' END
$$;

-- What an accepted deposit records it was checked against (the ledger's limits_checked,
-- migration 0016): the nine limits in force, deposit, loss and wager, each day, week and
-- month; a bet records its loss and wager limits in the same places (casino_debit).
CREATE OR REPLACE FUNCTION casino_deposit_limits_checked(w CASINO_WALLET_WINDOWS) RETURNS BIGINT[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY[w.deposit_day, w.deposit_week, w.deposit_month, NULL, NULL, NULL, NULL, NULL, NULL]
$$;

-- The same, read: {"<type>:<period>": limit, ...} for each limit that was in force.
CREATE OR REPLACE FUNCTION casino_limits_checked_json(p_checked BIGINT[]) RETURNS JSON
LANGUAGE sql IMMUTABLE AS $$
    SELECT json_object_agg(t.limit_type || ':' || p.period, p_checked[(t.ti - 1) * 3 + p.pi] ORDER BY t.ti, p.pi)
    FROM unnest(ARRAY['deposit', 'loss', 'wager']) WITH ORDINALITY AS t (limit_type, ti)
    CROSS JOIN unnest(ARRAY['day', 'week', 'month']) WITH ORDINALITY AS p (period, pi)
    WHERE p_checked[(t.ti - 1) * 3 + p.pi] IS NOT NULL
$$;

-- A wallet's windows as they stand at p_at, read by a call holding the wallet's lock:
-- the kept ones while they are good, else brought up to p_at.
CREATE OR REPLACE FUNCTION casino_current_windows(p_wallet_id BIGINT, p_at TIMESTAMPTZ) RETURNS CASINO_WALLET_WINDOWS
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    w CASINO_WALLET_WINDOWS;
BEGIN
    SELECT * INTO w FROM CASINO_WALLET_WINDOWS WHERE wallet_id = p_wallet_id;
    IF NOT (p_at < w.refresh_at) THEN       -- ended, or never counted (NULL)
        w := casino_refresh_windows(p_wallet_id, p_at);
    END IF;
    RETURN w;
END $$;

-- The stored refusal of a bet that would take a window past a limit ('type:period', as
-- casino_debit finds it): 403 WAGER_LIMIT_REACHED / LOSS_LIMIT_REACHED with its details.
CREATE OR REPLACE FUNCTION casino_refuse_bet(c casino_call, w CASINO_WALLET_WINDOWS, p_passed TEXT)
RETURNS casino_reply
LANGUAGE sql VOLATILE AS $$
    SELECT casino_refuse_with(c, CASE split_part(p_passed, ':', 1) WHEN 'wager' THEN 'WAGER_LIMIT_REACHED'
                                                                    ELSE 'LOSS_LIMIT_REACHED' END,
                              casino_limit_details(w, split_part(p_passed, ':', 1), split_part(p_passed, ':', 2),
                                                   c.currency),
                              split_part(p_passed, ':', 2))
$$;

-- A deposit's protection rules, for casino_cashier (the wallet locked, after the stored
-- answer): NULL when they allow it, else the refusal. p_register: what the jurisdiction's
-- external register said ('excluded', 'identity-missing', 'unavailable' when it could not
-- be asked and the jurisdiction refuses then; NULL when not asked or clear). Sets
-- limits_checked to what an accepted deposit was checked against.
CREATE OR REPLACE FUNCTION casino_check_deposit(
    p_wallet_id BIGINT, p_at TIMESTAMPTZ, p_currency TEXT, p_amount BIGINT, p_excluded_until TIMESTAMPTZ,
    p_limited BOOLEAN, p_limit_required BOOLEAN, p_register TEXT, OUT refusal casino_reply, OUT limits_checked BIGINT[])
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    w CASINO_WALLET_WINDOWS;
    v_period TEXT;
BEGIN
    IF p_at < p_excluded_until THEN
        refusal := casino_refusal('PLAYER_EXCLUDED', casino_exclusion_text(p_excluded_until));
        RETURN;
    ELSIF p_register = 'excluded' THEN
        refusal := casino_refusal('PLAYER_EXCLUDED', 'by the external self-exclusion register');
        RETURN;
    ELSIF p_register = 'identity-missing' THEN
        refusal := casino_refusal('PLAYER_IDENTITY_MISSING');
        RETURN;
    ELSIF p_register = 'unavailable' THEN
        refusal := casino_refusal('EXCLUSION_CHECK_UNAVAILABLE');
        RETURN;
    END IF;
    IF p_limited THEN
        w := casino_current_windows(p_wallet_id, p_at);
    END IF;
    IF p_limit_required AND num_nonnulls(w.deposit_day, w.deposit_week, w.deposit_month) = 0 THEN
        refusal := casino_refusal('DEPOSIT_LIMIT_REQUIRED');
        RETURN;
    END IF;
    IF p_limited THEN
        v_period := casino_deposit_passes(w, p_amount);
        IF v_period IS NOT NULL THEN
            refusal := casino_refusal_with('DEPOSIT_LIMIT_REACHED', casino_limit_details(w, 'deposit', v_period, p_currency),
                                           v_period);
            RETURN;
        END IF;
        limits_checked := casino_deposit_limits_checked(w);
    END IF;
END $$;

-- A limit as the back office answers it (PROTOCOL.md): in force at p_at, its pending
-- change, and its window then (amount null: none in force).
CREATE OR REPLACE FUNCTION casino_limit_item(l CASINO_PLAYER_LIMITS, w CASINO_WALLET_WINDOWS, p_at TIMESTAMPTZ)
RETURNS JSON
LANGUAGE sql IMMUTABLE AS $$
    SELECT json_build_object(
               'type', l.limit_type, 'period', l.period, 'currency', l.currency_code,
               'amount', CASE WHEN l.pending_from <= p_at THEN l.pending_amount ELSE l.amount END,
               'pendingAmount', CASE WHEN l.pending_from > p_at THEN l.pending_amount END,
               'pendingFrom', CASE WHEN l.pending_from > p_at THEN casino_rfc3339(l.pending_from) END,
               'used', f.used, 'resetsAt', casino_rfc3339(f.ends))
    FROM casino_window_figures(w, l.limit_type, l.period) AS f
$$;

-- Every limit of a player at p_at (in force or pending), in a fixed order (currency, type,
-- period); each wallet's windows counted once, from the ledger.
CREATE OR REPLACE FUNCTION casino_player_limits(p_user_id BIGINT, p_at TIMESTAMPTZ) RETURNS JSON
LANGUAGE sql STABLE AS $$
    WITH windows AS MATERIALIZED (
        SELECT wa.currency_code, casino_windows_at(wa.id, p_at) AS w
        FROM CASINO_WALLETS wa
        WHERE wa.user_id = p_user_id
          AND EXISTS (SELECT 1 FROM CASINO_PLAYER_LIMITS l WHERE l.user_id = p_user_id AND l.currency_code = wa.currency_code))
    SELECT coalesce(json_agg(casino_limit_item(l, k.w, p_at)
                             ORDER BY l.currency_code, array_position(ARRAY['deposit', 'loss', 'wager'], l.limit_type),
                                      array_position(ARRAY['day', 'week', 'month'], l.period)), '[]')
    FROM CASINO_PLAYER_LIMITS l
    JOIN windows k ON k.currency_code = l.currency_code
    WHERE l.user_id = p_user_id
      AND ((CASE WHEN l.pending_from <= p_at THEN l.pending_amount ELSE l.amount END) IS NOT NULL
           OR l.pending_from > p_at)
$$;

-- PUT /casino/admin/players/{userId}/limits (PROTOCOL.md): a first limit, or one no higher
-- than the one in force, applies at once (and drops a pending change); a higher one or a
-- removal (p_amount NULL) waits for the jurisdiction's cooling-off, and for the end of the
-- limit's current period where the jurisdiction says so. The wallet is locked first, so
-- the change falls between two of its money calls; a history row records it; the call is
-- audited (CASINO_ADMIN_AUDIT) in the same transaction.
CREATE OR REPLACE FUNCTION casino_set_limit(
    p_user_id BIGINT, p_currency TEXT, p_type TEXT, p_period TEXT, p_amount BIGINT, p_operator TEXT, p_request JSONB)
RETURNS casino_reply
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_wallet_id BIGINT;
    v_at TIMESTAMPTZ;
    j CASINO_JURISDICTIONS;
    l CASINO_PLAYER_LIMITS;
    v_in_force BIGINT;
    v_effective TIMESTAMPTZ;
    v_reply casino_reply;
    w CASINO_WALLET_WINDOWS;
BEGIN
    SELECT id INTO v_wallet_id FROM CASINO_WALLETS
    WHERE user_id = p_user_id AND currency_code = p_currency
    FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        v_reply := CASE WHEN EXISTS (SELECT 1 FROM CASINO_USERS WHERE id = p_user_id)
                        THEN casino_refusal('WALLET_NOT_FOUND', p_currency) ELSE casino_refusal('USER_NOT_FOUND') END;
    ELSE
        v_at := casino_clock();
        SELECT jr.* INTO j FROM CASINO_USERS u JOIN CASINO_JURISDICTIONS jr ON jr.code = u.jurisdiction
        WHERE u.id = p_user_id;
        SELECT * INTO l FROM CASINO_PLAYER_LIMITS
        WHERE user_id = p_user_id AND currency_code = p_currency AND limit_type = p_type AND period = p_period;
        v_in_force := CASE WHEN l.pending_from <= v_at THEN l.pending_amount ELSE l.amount END;

        IF p_amount IS NULL AND v_in_force IS NULL THEN
            NULL;   -- nothing to remove
        ELSIF p_amount IS NULL AND p_type = 'deposit' AND j.deposit_limit_required AND NOT EXISTS (
                SELECT 1 FROM CASINO_PLAYER_LIMITS o
                WHERE o.user_id = p_user_id AND o.currency_code = p_currency AND o.limit_type = 'deposit'
                  AND o.period <> p_period
                  AND (CASE WHEN o.pending_from <= v_at THEN o.pending_amount ELSE o.amount END) IS NOT NULL
                  AND NOT coalesce(o.pending_from > v_at AND o.pending_amount IS NULL, false)) THEN
            v_reply := casino_refusal('DEPOSIT_LIMIT_REQUIRED');
        ELSIF v_in_force IS NULL OR p_amount <= v_in_force THEN
            v_effective := v_at;
            INSERT INTO CASINO_PLAYER_LIMITS (user_id, currency_code, limit_type, period, amount, updated_at)
            VALUES (p_user_id, p_currency, p_type, p_period, p_amount, v_at)
            ON CONFLICT (user_id, currency_code, limit_type, period) DO UPDATE
            SET amount = EXCLUDED.amount, pending_amount = NULL, pending_from = NULL, updated_at = EXCLUDED.updated_at;
        ELSE
            v_effective := v_at + j.cooling_off_hours * interval '1 hour';
            IF j.increase_waits_period_end THEN
                v_effective := greatest(v_effective, (SELECT CASE p_period WHEN 'day' THEN k.day_ends
                                                                           WHEN 'week' THEN k.week_ends
                                                                           ELSE k.month_ends END
                                                      FROM casino_calendar(v_at, j.time_zone) AS k));
            END IF;
            UPDATE CASINO_PLAYER_LIMITS
            SET amount = v_in_force, pending_amount = p_amount, pending_from = v_effective, updated_at = v_at
            WHERE user_id = p_user_id AND currency_code = p_currency AND limit_type = p_type AND period = p_period;
        END IF;

        IF v_effective IS NOT NULL THEN
            INSERT INTO CASINO_PROTECTION_HISTORY (user_id, change, limit_type, period, currency_code, old_amount,
                                                   new_amount, effective_from, operator_key_id, created_at)
            VALUES (p_user_id, 'limit', p_type, p_period, p_currency, v_in_force, p_amount, v_effective,
                    coalesce(p_operator, 'unknown'), v_at);
        END IF;
        IF v_reply.status IS NULL THEN
            w := casino_refresh_windows(v_wallet_id, v_at);
            SELECT * INTO l FROM CASINO_PLAYER_LIMITS
            WHERE user_id = p_user_id AND currency_code = p_currency AND limit_type = p_type AND period = p_period;
            IF NOT FOUND THEN   -- removed, or never there
                l := ROW(p_user_id, p_currency, p_type, p_period, NULL, NULL, NULL, v_at)::CASINO_PLAYER_LIMITS;
            END IF;
            v_reply := ROW(200, casino_limit_item(l, w, v_at)::text, false, NULL)::casino_reply;
        END IF;
    END IF;
    IF p_operator IS NOT NULL THEN
        INSERT INTO CASINO_ADMIN_AUDIT (operator_key_id, action, request, response_status)
        VALUES (p_operator, 'setLimit', p_request, v_reply.status);
    END IF;
    RETURN v_reply;
END $$;

-- POST /casino/admin/players/{userId}/exclusions (PROTOCOL.md): a time-out or a
-- self-exclusion (p_until NULL: indefinite), effective at once. The player row and then
-- every wallet are locked first, so a bet either went before (its instant earlier than the
-- exclusion's) or is refused after; the sessions close; a history row records it. An
-- active exclusion can be extended (a later or equal end, never a weaker kind), never
-- shortened or lifted: 409 EXCLUSION_ACTIVE. Its length must be within the jurisdiction's
-- bounds for its kind, to the minute: 422 EXCLUSION_PERIOD_INVALID.
CREATE OR REPLACE FUNCTION casino_exclude(
    p_user_id BIGINT, p_kind TEXT, p_until TIMESTAMPTZ, p_operator TEXT, p_request JSONB)
RETURNS casino_reply
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    j CASINO_JURISDICTIONS;
    v_at TIMESTAMPTZ;
    v_until TIMESTAMPTZ := coalesce(p_until, 'infinity');
    active RECORD;
    v_min INTERVAL;
    v_max INTERVAL;
    v_local TIMESTAMP;
    v_closed INTEGER;
    v_reply casino_reply;
BEGIN
    SELECT jr.* INTO j FROM CASINO_USERS u JOIN CASINO_JURISDICTIONS jr ON jr.code = u.jurisdiction
    WHERE u.id = p_user_id
    FOR UPDATE OF u;
    IF NOT FOUND THEN
        v_reply := casino_refusal('USER_NOT_FOUND');
    ELSE
        PERFORM 1 FROM CASINO_WALLETS WHERE user_id = p_user_id ORDER BY id FOR NO KEY UPDATE;
        v_at := casino_clock();
        SELECT h.kind, h.new_until INTO active FROM CASINO_PROTECTION_HISTORY h
        WHERE h.user_id = p_user_id AND h.change = 'exclusion' AND h.new_until > v_at
        ORDER BY h.new_until DESC, h.id DESC LIMIT 1;
        v_min := CASE p_kind WHEN 'time-out' THEN j.time_out_min ELSE j.self_exclusion_min END;
        v_max := CASE p_kind WHEN 'time-out' THEN j.time_out_max ELSE j.self_exclusion_max END;
        v_local := v_at AT TIME ZONE j.time_zone;
        IF active.new_until IS NOT NULL
           AND (v_until < active.new_until OR (active.kind = 'self-exclusion' AND p_kind = 'time-out')) THEN
            v_reply := casino_refusal('EXCLUSION_ACTIVE', active.kind, casino_exclusion_text(active.new_until));
        ELSIF v_until < (v_local + v_min) AT TIME ZONE j.time_zone - interval '1 minute'
              OR (v_max IS NOT NULL AND v_until > (v_local + v_max) AT TIME ZONE j.time_zone + interval '1 minute') THEN
            v_reply := casino_refusal('EXCLUSION_PERIOD_INVALID', p_kind, j.code, casino_iso_interval(v_min),
                                      coalesce(casino_iso_interval(v_max), 'indefinitely'));
        ELSE
            UPDATE CASINO_WALLETS SET excluded_until = v_until WHERE user_id = p_user_id;
            UPDATE CASINO_GAME_SESSIONS SET is_active = false, updated_at = now()
            WHERE user_id = p_user_id AND is_active;
            GET DIAGNOSTICS v_closed = ROW_COUNT;
            INSERT INTO CASINO_PROTECTION_HISTORY (user_id, change, kind, old_until, new_until, effective_from,
                                                   operator_key_id, created_at)
            VALUES (p_user_id, 'exclusion', p_kind, active.new_until, v_until, v_at, coalesce(p_operator, 'unknown'), v_at);
            PERFORM casino_on_exclusion(p_user_id, v_at);
            v_reply := ROW(201, json_build_object('userId', p_user_id, 'kind', p_kind, 'from', casino_rfc3339(v_at),
                                                  'until', casino_rfc3339(v_until), 'sessionsClosed', v_closed)::text,
                           false, NULL)::casino_reply;
        END IF;
    END IF;
    IF p_operator IS NOT NULL THEN
        INSERT INTO CASINO_ADMIN_AUDIT (operator_key_id, action, request, response_status)
        VALUES (p_operator, 'createExclusion', p_request, v_reply.status);
    END IF;
    RETURN v_reply;
END $$;
