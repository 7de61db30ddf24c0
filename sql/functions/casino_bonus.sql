-- Bonus money (PROTOCOL.md, "Bonus money"; README, "Bonus money"): one function per
-- concept, which the money calls (casino_debit/credit/rollback.sql), the cashier and the
-- back office call. Migration 0018 has the table, the wallet's columns and why they are
-- there.
--
-- The rules, stated once:
--   - balance = cash + bonus; redeemable = cash. What remains of a wallet's active bonus is
--     playable_balance - redeemable_balance; a ledger row's bonus part is its
--     playable_movement - redeemable_movement, and its bonus_id names whose it is.
--   - a bet spends cash first, then bonus; with a bonus active it counts toward that
--     bonus's wagering (the wagered counter is on the wallet row, written with the balance);
--   - a payout is split in the proportion of its round's standing cash and bonus stakes,
--     the bonus share rounded down (the odd cent is cash); a refund gives back its bet's
--     own parts and takes back the bet's count;
--   - money that belonged to a bonus (a payout's bonus share, a refund's bonus part)
--     follows that bonus: bonus money while it is active, cash once it completed,
--     forfeited (a ledger row of its own) once it was forfeited;
--   - crossing the wagering requirement completes the bonus in the bet's transaction;
--     expiry, an exclusion or an operator's cancel forfeit it: what remains leaves, cash
--     is never touched. From its expiresAt on a bonus counts for nothing: the first call
--     on the wallet, or the expiry pass, whichever comes first, forfeits it.
--
-- Lock order, as for every money call (casino_calls.sql): the wallet row first
-- (FOR NO KEY UPDATE); the bonus row is written only under its wallet's lock.
--
-- Time: a bonus's expiry is a rule of time, read on the casino's one clock, casino_clock()
-- (casino_calls.sql; a test freezes it: casino/clock.py). A money call compares expiresAt
-- with its own instant (c.at, read once it holds the wallet's lock) and stamps a bonus row it
-- writes with that instant, as its own row is; the back office and the expiry pass read the
-- clock once they hold the wallet's lock. So a bet and the completion it causes share their
-- instant, and a wallet's rows are in the order of their instants.
--
-- This file is applied before casino_calls.sql and casino_protection.sql (name order): a
-- function here that calls one of their functions is PL/pgSQL, whose body is resolved when
-- it first runs (an SQL function's is resolved when it is created).

-- The bonus's own clock before it was folded into casino_clock().
DROP FUNCTION IF EXISTS casino_bonus_clock();
-- Without the instant (p_at) a forfeit, a completion and a bonus's row are written at.
DROP FUNCTION IF EXISTS casino_forfeit_bonus(BIGINT, TEXT);
DROP FUNCTION IF EXISTS casino_complete_bonus(BIGINT);
DROP FUNCTION IF EXISTS casino_bonus_row(BIGINT, BIGINT, TEXT, TEXT, BIGINT, BIGINT, BIGINT, BIGINT, TEXT, TEXT);

-- A bonus as the back office shows it (the grant's answer, the list, a cancel's answer).
-- remaining: what it holds now while active (the wallet's playable - redeemable), 0 once
-- ended; converted: what its completion made cash; forfeited: what left the wallet with it
-- (at its end, and any share of a later payout or refund that came back to it). PL/pgSQL:
-- casino_rfc3339 is casino_protection.sql's, applied after this file.
CREATE OR REPLACE FUNCTION casino_bonus_view(p_bonus_id BIGINT) RETURNS JSON
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT json_build_object(
        'bonusId', b.id, 'reference', b.reference, 'userId', w.user_id, 'currency', w.currency_code,
        'amount', b.amount, 'wagering', b.wagering, 'wageringRequired', b.wagering_required,
        -- Shown up to the requirement: the bet that crosses it may take the count past
        -- 2^53-1, beyond what a JSON number holds exactly, and nothing beyond it matters.
        'wagered', LEAST(CASE WHEN b.status = 'active' THEN w.bonus_wagered ELSE b.wagered_at_end END,
                         b.wagering_required),
        'remaining', CASE WHEN b.status = 'active' THEN w.playable_balance - w.redeemable_balance ELSE 0 END,
        'status', b.status, 'expiresAt', casino_rfc3339(b.expires_at),
        'grantedAt', casino_rfc3339(b.granted_at), 'endedAt', casino_rfc3339(b.ended_at),
        'endReason', b.end_reason,
        'converted', CASE WHEN b.status = 'completed' THEN b.remaining_at_end ELSE 0 END,
        'forfeited', (SELECT coalesce(sum(f.amount), 0) FROM CASINO_TRANSACTIONS f
                      WHERE f.wallet_id = b.wallet_id AND f.bonus_id = b.id AND f.transaction_type = 'bonus_forfeit'))
            FROM CASINO_BONUSES b
            JOIN CASINO_WALLETS w ON w.id = b.wallet_id
            WHERE b.id = p_bonus_id);
END $$;

-- A bonus's own ledger row (its completion, a forfeit), the casino's own (provider_id
-- NULL). Its id holds a space, which no operator's reference can (they are identifiers),
-- so it never meets one; the unique index makes each happen once. Its "answer" is what
-- happened, for whoever reads the row. Written at p_at, the instant of the call that
-- caused it.
CREATE OR REPLACE FUNCTION casino_bonus_row(
    p_wallet_id BIGINT, p_bonus_id BIGINT, p_kind TEXT, p_row_id TEXT, p_amount BIGINT, p_playable BIGINT,
    p_redeemable BIGINT, p_balance_after BIGINT, p_why TEXT, p_at TIMESTAMPTZ, p_related_id TEXT DEFAULT NULL)
RETURNS VOID
LANGUAGE sql VOLATILE AS $$
    INSERT INTO CASINO_TRANSACTIONS (
        provider_id, external_transaction_id, transaction_type, wallet_id, amount, related_external_transaction_id,
        request_fingerprint, outcome, playable_movement, redeemable_movement, balance_after, response_status,
        response_cache, bonus_id, created_at)
    VALUES (NULL, p_row_id, p_kind, p_wallet_id, p_amount, p_related_id, p_why, 'applied', p_playable, p_redeemable,
            p_balance_after, 200,
            json_build_object('bonusId', p_bonus_id, 'kind', p_kind, 'amount', p_amount, 'why', p_why), p_bonus_id,
            p_at)
$$;

-- The stored answer of one of the casino's own rows by its reference (a deposit, a
-- withdrawal, a grant): replayed when the request is the same, else 409
-- IDEMPOTENCY_CONFLICT; NULL when none. Read after the reference's advisory lock.
CREATE OR REPLACE FUNCTION casino_own_stored_reply(p_reference TEXT, p_fingerprint TEXT) RETURNS casino_reply
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN (SELECT CASE WHEN t.request_fingerprint = p_fingerprint
                        THEN ROW(t.response_status, t.response_cache::text, true, NULL)::casino_reply
                        ELSE casino_refusal('IDEMPOTENCY_CONFLICT', 'reference') END
            FROM CASINO_TRANSACTIONS t
            WHERE t.provider_id IS NULL AND t.external_transaction_id = p_reference);
END $$;

-- Whether casino_record wrote the call's row (rather than meeting the unique index and
-- replaying what it met): only then do a bonus's follow-up rows belong to this call.
CREATE OR REPLACE FUNCTION casino_recorded(p_reply casino_reply) RETURNS BOOLEAN
LANGUAGE sql IMMUTABLE AS $$
    SELECT NOT p_reply.replay AND p_reply.error_code IS NULL
$$;

-- A grant (POST /casino/admin/bonuses, scope cashier), idempotent by reference exactly
-- like a deposit (casino_cashier.sql says why in this order): the wallet's lock, the
-- reference's lock, its stored answer, the call's instant; then an expired bonus is
-- forfeited (it counts for nothing) and the rules -- the player not excluded (403
-- PLAYER_EXCLUDED: no promotion reaches a player who asked to be kept from play),
-- expiresAt after the instant (422 BONUS_EXPIRY_PASSED), no active bonus (409
-- BONUS_ACTIVE), the balance within 2^53-1 (422 BALANCE_LIMIT_EXCEEDED), each stored --
-- then the bonus, its ledger row (balance up, redeemable not) and the wallet's counters in
-- one transaction. A grant is not a deposit: no deposit limit counts it. p_operator set:
-- audited in the same transaction.
CREATE OR REPLACE FUNCTION casino_grant_bonus(
    p_user_id BIGINT, p_currency TEXT, p_amount BIGINT, p_wagering INTEGER, p_expires_at TIMESTAMPTZ,
    p_reference TEXT, p_fingerprint TEXT, p_operator TEXT, p_request JSONB)
RETURNS casino_reply
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    w RECORD;
    v_at TIMESTAMPTZ;
    v_reply casino_reply;
    v_bonus_id BIGINT;
BEGIN
    SELECT id, playable_balance, redeemable_balance, bonus_id, bonus_expires_at, excluded_until INTO w
    FROM CASINO_WALLETS WHERE user_id = p_user_id AND currency_code = p_currency
    FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        v_reply := CASE WHEN EXISTS (SELECT 1 FROM CASINO_USERS WHERE id = p_user_id)
                        THEN casino_refusal('WALLET_NOT_FOUND', p_currency) ELSE casino_refusal('USER_NOT_FOUND') END;
    ELSE
        PERFORM pg_advisory_xact_lock(0, hashtext(p_reference));
        v_reply := casino_own_stored_reply(p_reference, p_fingerprint);
        v_at := casino_clock();
        IF v_reply.status IS NULL THEN
            IF w.bonus_expires_at <= v_at AND casino_forfeit_bonus(w.bonus_id, 'expired', v_at) THEN
                w.playable_balance := w.redeemable_balance;     -- what remained of it has left
                w.bonus_id := NULL;
            END IF;
            IF v_at < w.excluded_until THEN
                v_reply := casino_refusal('PLAYER_EXCLUDED', casino_exclusion_text(w.excluded_until));
            ELSIF p_expires_at <= v_at THEN
                v_reply := casino_refusal('BONUS_EXPIRY_PASSED');
            ELSIF w.bonus_id IS NOT NULL THEN
                v_reply := casino_refusal('BONUS_ACTIVE', w.bonus_id::text);
            ELSIF w.playable_balance + p_amount > casino_balance_limit() THEN
                v_reply := casino_refusal('BALANCE_LIMIT_EXCEEDED');
            END IF;
            IF v_reply.status IS NOT NULL THEN
                INSERT INTO CASINO_TRANSACTIONS (
                    provider_id, external_transaction_id, transaction_type, wallet_id, amount, request_fingerprint,
                    outcome, balance_after, response_status, response_cache, created_at)
                VALUES (NULL, p_reference, 'bonus_grant', w.id, p_amount, p_fingerprint, 'refused', w.playable_balance,
                        v_reply.status, v_reply.body::json, v_at);
            ELSE
                INSERT INTO CASINO_BONUSES (wallet_id, reference, amount, wagering, wagering_required, expires_at,
                                            granted_by, granted_at)
                VALUES (w.id, p_reference, p_amount, p_wagering, p_amount * p_wagering, p_expires_at, p_operator, v_at)
                RETURNING id INTO v_bonus_id;
                UPDATE CASINO_WALLETS
                SET playable_balance = playable_balance + p_amount,
                    bonus_id = v_bonus_id, bonus_wagered = 0, bonus_wagering_required = p_amount * p_wagering,
                    bonus_expires_at = p_expires_at, updated_at = now()
                WHERE id = w.id;
                v_reply := ROW(201, casino_bonus_view(v_bonus_id)::text, false, NULL)::casino_reply;
                INSERT INTO CASINO_TRANSACTIONS (
                    provider_id, external_transaction_id, transaction_type, wallet_id, amount, request_fingerprint,
                    outcome, playable_movement, redeemable_movement, balance_after, response_status, response_cache,
                    bonus_id, created_at)
                VALUES (NULL, p_reference, 'bonus_grant', w.id, p_amount, p_fingerprint, 'applied', p_amount, 0,
                        w.playable_balance + p_amount, v_reply.status, v_reply.body::json, v_bonus_id, v_at);
            END IF;
        END IF;
    END IF;
    IF p_operator IS NOT NULL THEN
        INSERT INTO CASINO_ADMIN_AUDIT (operator_key_id, action, request, response_status, replay)
        VALUES (p_operator, 'grantBonus', p_request, v_reply.status, coalesce(v_reply.replay, false));
    END IF;
    RETURN v_reply;
END $$;

-- Forfeits a bonus (p_reason: expired, cancelled, excluded): what remains of it leaves the
-- wallet in a ledger row of its own; cash is never touched. True when this call forfeited
-- it; false when it was not the wallet's active bonus any more (ended meanwhile, by a
-- concurrent call or pass) or, for 'expired', is not yet due: so two passes, or a pass and
-- a money call, forfeit it once. Takes the wallet's lock (a money call holds it already).
-- p_at: the instant of the call that holds the lock (a money call's c.at, the exclusion's);
-- NULL: the clock, read once the lock is held (a cancel, the expiry pass).
CREATE OR REPLACE FUNCTION casino_forfeit_bonus(p_bonus_id BIGINT, p_reason TEXT, p_at TIMESTAMPTZ DEFAULT NULL)
RETURNS BOOLEAN
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    w RECORD;
    v_at TIMESTAMPTZ;
    v_remaining BIGINT;
BEGIN
    IF p_reason IS NULL OR p_reason NOT IN ('expired', 'cancelled', 'excluded') THEN
        RAISE EXCEPTION 'casino_forfeit_bonus: unknown reason %', p_reason;
    END IF;
    -- Under READ COMMITTED a row locked here is the latest one committed.
    SELECT wl.id, wl.playable_balance, wl.redeemable_balance, wl.bonus_id, wl.bonus_wagered, wl.bonus_expires_at
    INTO w
    FROM CASINO_WALLETS wl
    WHERE wl.id = (SELECT b.wallet_id FROM CASINO_BONUSES b WHERE b.id = p_bonus_id)
    FOR NO KEY UPDATE;
    v_at := coalesce(p_at, casino_clock());
    IF NOT FOUND OR w.bonus_id IS DISTINCT FROM p_bonus_id
       OR (p_reason = 'expired' AND NOT w.bonus_expires_at <= v_at) THEN
        RETURN false;
    END IF;
    v_remaining := w.playable_balance - w.redeemable_balance;
    UPDATE CASINO_BONUSES
    SET status = 'forfeited', ended_at = v_at, end_reason = p_reason,
        wagered_at_end = w.bonus_wagered, remaining_at_end = v_remaining
    WHERE id = p_bonus_id;
    UPDATE CASINO_WALLETS
    SET playable_balance = redeemable_balance,
        bonus_id = NULL, bonus_wagered = NULL, bonus_wagering_required = NULL, bonus_expires_at = NULL,
        updated_at = now()
    WHERE id = w.id;
    PERFORM casino_bonus_row(w.id, p_bonus_id, 'bonus_forfeit', format('bonus %s forfeit', p_bonus_id),
                             v_remaining, -v_remaining, 0, w.redeemable_balance, p_reason, v_at);
    RETURN true;
END $$;

-- An exclusion forfeits the player's active bonuses, in every currency (PROTOCOL.md:
-- "on an exclusion ... it is forfeited"): what the exclusion calls (casino_on_exclusion,
-- casino_protection.sql), in its transaction and at its instant, with p_reason 'excluded'.
-- A bonus already past its expiresAt then is forfeited as expired, which it was first.
-- Wallets are locked in id order, as one player's calls would (the exclusion holds them).
-- Returns how many it forfeited.
DROP FUNCTION IF EXISTS casino_forfeit_player_bonuses(BIGINT, TEXT);

CREATE OR REPLACE FUNCTION casino_forfeit_player_bonuses(p_user_id BIGINT, p_reason TEXT, p_at TIMESTAMPTZ)
RETURNS INTEGER
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    b RECORD;
    v_count INTEGER := 0;
BEGIN
    FOR b IN
        SELECT bo.id, bo.expires_at FROM CASINO_BONUSES bo JOIN CASINO_WALLETS w ON w.id = bo.wallet_id
        WHERE w.user_id = p_user_id AND bo.status = 'active'
        ORDER BY w.id
    LOOP
        IF casino_forfeit_bonus(b.id, CASE WHEN b.expires_at <= p_at THEN 'expired' ELSE p_reason END, p_at) THEN
            v_count := v_count + 1;
        END IF;
    END LOOP;
    RETURN v_count;
END $$;

-- Completes the wallet's active bonus: what remains of it becomes cash (a ledger row),
-- in the transaction of the bet that crossed its wagering requirement (casino_debit.sql),
-- which holds the wallet's lock and has written the bet's row and the counter already; at
-- that bet's instant.
CREATE OR REPLACE FUNCTION casino_complete_bonus(p_bonus_id BIGINT, p_at TIMESTAMPTZ) RETURNS VOID
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    w RECORD;
    v_remaining BIGINT;
BEGIN
    SELECT wl.id, wl.playable_balance, wl.redeemable_balance, wl.bonus_id, wl.bonus_wagered, wl.bonus_wagering_required
    INTO w
    FROM CASINO_WALLETS wl
    WHERE wl.id = (SELECT b.wallet_id FROM CASINO_BONUSES b WHERE b.id = p_bonus_id)
    FOR NO KEY UPDATE;
    IF NOT FOUND OR w.bonus_id IS DISTINCT FROM p_bonus_id OR w.bonus_wagered < w.bonus_wagering_required THEN
        RAISE EXCEPTION 'casino_complete_bonus: bonus % is not the active bonus of its wallet, wagered', p_bonus_id;
    END IF;
    v_remaining := w.playable_balance - w.redeemable_balance;
    UPDATE CASINO_BONUSES
    SET status = 'completed', ended_at = p_at, end_reason = 'wagered',
        wagered_at_end = w.bonus_wagered, remaining_at_end = v_remaining
    WHERE id = p_bonus_id;
    UPDATE CASINO_WALLETS
    SET redeemable_balance = playable_balance,
        bonus_id = NULL, bonus_wagered = NULL, bonus_wagering_required = NULL, bonus_expires_at = NULL,
        updated_at = now()
    WHERE id = w.id;
    PERFORM casino_bonus_row(w.id, p_bonus_id, 'bonus_completion', format('bonus %s completion', p_bonus_id),
                             v_remaining, 0, v_remaining, w.playable_balance, 'wagered', p_at);
END $$;

-- What a money call on a wallet with a bonus (casino_open_call read only its flag,
-- c.bonus_id, so a wallet without one reads nothing more) knows of it before its rules:
-- its counters, from the wallet row the call holds locked; or, past its expiresAt, nothing,
-- for it is forfeited first, at the call's instant, and the call sees the wallet as it
-- then is.
CREATE OR REPLACE FUNCTION casino_bonus_open(c casino_call) RETURNS casino_call
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    SELECT w.bonus_wagered, w.bonus_wagering_required, w.bonus_expires_at
    INTO c.bonus_wagered, c.bonus_wagering_required, c.bonus_expires_at
    FROM CASINO_WALLETS w WHERE w.id = c.wallet_id;
    IF c.bonus_expires_at <= c.at THEN
        PERFORM casino_forfeit_bonus(c.bonus_id, 'expired', c.at);
        c.playable := c.redeemable;
        c.bonus_id := NULL; c.bonus_wagered := NULL; c.bonus_wagering_required := NULL; c.bonus_expires_at := NULL;
    END IF;
    RETURN c;
END $$;

-- A bet of a wallet with a bonus active, its cash part (p_cash: cash first) decided: it
-- counts toward the bonus's wagering (the counter goes with the balance, in the call's one
-- row write), its row names the bonus, and the bet that crosses the requirement completes
-- the bonus in this transaction, after its own row: what remains becomes cash.
CREATE OR REPLACE FUNCTION casino_bonus_bet(c casino_call, p_amount BIGINT, p_cash BIGINT) RETURNS casino_reply
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_completes BOOLEAN;
    v_bonus BIGINT;
    v_reply casino_reply;
BEGIN
    c.row_bonus_id := c.bonus_id;
    c.bonus_wagered := c.bonus_wagered + p_amount;
    v_completes := c.bonus_wagered >= c.bonus_wagering_required;
    v_bonus := CASE WHEN v_completes THEN 0 ELSE (c.playable - p_amount) - (c.redeemable - p_cash) END;
    v_reply := casino_record(c, 'applied', p_amount, -p_amount, -p_cash, 200::smallint,
                             casino_success_body(c.transaction_id, 'debit', 'applied', c.playable - p_amount, v_bonus,
                                                 c.currency),
                             v_bonus);
    IF v_completes AND casino_recorded(v_reply) THEN
        PERFORM casino_complete_bonus(c.bonus_id, c.at);
    END IF;
    RETURN v_reply;
END $$;

-- Where money that belonged to bonus p_bonus_id goes when a payout or refund brings it
-- back (p_share: its bonus part): kept as bonus money while that bonus is the wallet's
-- active one, cashed once it completed, forfeited once it was forfeited (the caller
-- writes that forfeit's row after its own: casino_forfeit_bonus_share).
CREATE OR REPLACE FUNCTION casino_bonus_fate(c casino_call, p_bonus_id BIGINT, p_share BIGINT,
                                             OUT kept BIGINT, OUT forfeited BIGINT, OUT cashed BIGINT)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    kept := 0; forfeited := 0; cashed := 0;
    IF p_share = 0 THEN
        RETURN;
    ELSIF p_bonus_id = c.bonus_id THEN
        kept := p_share;
    ELSIF (SELECT b.status FROM CASINO_BONUSES b WHERE b.id = p_bonus_id) = 'completed' THEN
        cashed := p_share;
    ELSE
        forfeited := p_share;
    END IF;
END $$;

-- A payout's bonus share: its amount in the proportion of its round's standing bonus
-- stakes to all its standing stakes (this wallet's accepted, not refunded bets of the
-- round), rounded down, so the odd cent is cash; and the bonus whose fate it follows
-- (casino_bonus_fate). A round staked from two bonuses (one ended, another granted while
-- it was open) pays its whole share the least favourable of their fates: forfeited if
-- either was forfeited, else kept by the active one, else cash. So neither ending can be
-- undone through the other: a forfeited bonus's winnings never leave as cash through a
-- later bonus, and a later bonus's winnings never become cash through an earlier one that
-- completed (README, "Bonus money"). Integer arithmetic (numeric's div), exact for every
-- amount up to 2^53-1.
CREATE OR REPLACE FUNCTION casino_payout_bonus_share(c casino_call, p_amount BIGINT,
                                                     OUT share BIGINT, OUT from_bonus BIGINT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- One read of the round's standing bets: the share from all of them, the fate from the
    -- bonuses they drew on, worst first (0 forfeited, 1 the active one, 2 completed).
    SELECT coalesce(div(p_amount::numeric * sum(s.bonus_part), nullif(sum(s.amount), 0)), 0)::bigint,
           (array_agg(s.bonus_id ORDER BY s.fate, s.bonus_id DESC) FILTER (WHERE s.bonus_part > 0))[1]
    INTO share, from_bonus
    FROM (SELECT b.amount, b.redeemable_movement - b.playable_movement AS bonus_part, b.bonus_id,
                 CASE WHEN b.bonus_id = c.bonus_id THEN 1 WHEN bo.status = 'completed' THEN 2 ELSE 0 END AS fate
          FROM CASINO_TRANSACTIONS b
          LEFT JOIN CASINO_BONUSES bo ON bo.id = b.bonus_id
          WHERE b.wallet_id = c.wallet_id AND b.round_id = c.round_id AND b.provider_id = c.provider_id
            AND b.transaction_type = 'debit' AND b.outcome = 'applied'
            AND NOT casino_refunded(b.provider_id, b.external_transaction_id)) s;
END $$;

-- The forfeit of a share that came back to a bonus already forfeited, after the call's
-- own row (which brought it in as that bonus's money): a ledger row naming the bonus and
-- the call, and the wallet's balance down by it. Once per call: its id names the call.
CREATE OR REPLACE FUNCTION casino_forfeit_bonus_share(c casino_call, p_bonus_id BIGINT, p_share BIGINT)
RETURNS VOID
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_after BIGINT;
BEGIN
    UPDATE CASINO_WALLETS SET playable_balance = playable_balance - p_share, updated_at = now()
    WHERE id = c.wallet_id
    RETURNING playable_balance INTO v_after;
    PERFORM casino_bonus_row(c.wallet_id, p_bonus_id, 'bonus_forfeit',
                             format('bonus %s forfeit %s %s', p_bonus_id, c.provider_id, c.transaction_id),
                             p_share, -p_share, 0, v_after, 'share of ' || c.kind, c.at, c.transaction_id);
END $$;

-- The active bonuses past their expiresAt, for the expiry pass (casino/bonuses.py), which
-- forfeits each with casino_forfeit_bonus(id, 'expired') in a transaction of its own, which
-- checks again, by the clock, under the wallet's lock.
CREATE OR REPLACE FUNCTION casino_bonuses_due(p_limit INTEGER) RETURNS SETOF BIGINT
LANGUAGE sql VOLATILE AS $$
    SELECT id FROM CASINO_BONUSES
    WHERE status = 'active' AND expires_at <= casino_clock()
    ORDER BY expires_at, id
    LIMIT p_limit
$$;
