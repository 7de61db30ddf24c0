-- What every money call shares: its result type, answer bodies, refusals, opening a call
-- (session, locks, a stored answer, the tombstone rule) and recording its answer.
--
-- A repeatable file: edited in place, re-applied by `python -m sql.migrate` whenever its
-- checksum changes. CREATE OR REPLACE cannot change a function's result type or drop a
-- parameter, so a function whose signature changes is dropped first, by its old argument
-- types. The types casino_reply and casino_call are schema (migration 0008).
--
-- Every function that takes locks and then reads is VOLATILE, on purpose: under READ
-- COMMITTED each statement of a VOLATILE function takes a fresh snapshot, so a read made
-- after a lock was granted sees what the lock's previous holder committed. The STABLE
-- ones are single expressions read within such a statement (casino_refunded is inlined
-- into it), bodies, or the catalogue.
--
-- A money call is one transaction that
--   1. finds the session and locks its wallet (FOR NO KEY UPDATE: a foreign key check of
--      another transaction, a KEY SHARE lock, does not wait for it);
--   2. locks its transactionId, and a rollback also the id it cancels, with transaction-
--      scoped advisory locks in key order: the wallet lock orders calls on one wallet
--      only, these make a bet and a rollback naming it take turns across wallets, and a
--      duplicate sent on another wallet's session waits for the first;
--   3. reads, in a statement of its own after those locks, whether the id was answered
--      (a replay, or 409 IDEMPOTENCY_CONFLICT) or is named by a tombstone, and the call's
--      instant (casino_clock(): the time of its ledger row, of the windows it counts in
--      and of a bonus's expiry);
--   4. applies the rules, reading other ledger rows only after the locks (a bonus past its
--      expiry is forfeited first: casino_bonus.sql);
--   5. inserts its ledger row once, answered, and moves the wallet (and, for a wallet with
--      limits, what counts against them: casino_protection.sql; with a bonus active, what
--      counts toward its wagering: casino_bonus.sql).
-- The wallet lock is also what makes a replay wait for a synchronous standby: a row lock
-- gives the transaction an id, so its commit waits for the standby like any write, and a
-- stored answer the standby never confirmed is not replayed as 200 before it has it.
-- Locks are taken in one order (the one wallet, then advisory locks by key), so calls
-- never deadlock. The row's unique index (provider, transactionId) stays the last word:
-- an insert that meets it stores and moves nothing and replays the row it met.

-- Earlier versions: migration 0003's, and the one that claimed a 'pending' row.
DROP FUNCTION IF EXISTS casino_open_call(TEXT, TEXT, TEXT, TEXT, BIGINT, TEXT, TEXT);
DROP FUNCTION IF EXISTS casino_open_call(BIGINT, TEXT, TEXT, TEXT, TEXT, BIGINT, TEXT, TEXT);
DROP FUNCTION IF EXISTS casino_answer(BIGINT, BIGINT, TEXT, BIGINT, BIGINT, BIGINT, BIGINT, SMALLINT, TEXT);
DROP FUNCTION IF EXISTS casino_refuse(BIGINT, BIGINT, BIGINT, BIGINT, SMALLINT, TEXT, TEXT);
DROP FUNCTION IF EXISTS casino_money_body(TEXT, BIGINT, TEXT);
-- Without details (before migration 0016's limits).
DROP FUNCTION IF EXISTS casino_error_body(TEXT, TEXT);
-- Without the bonus part (before migration 0018's bonus money).
DROP FUNCTION IF EXISTS casino_money_body(TEXT, BIGINT, TEXT, BOOLEAN);
-- A success's body: migration 0023's casino_success_body, also the one that rebuilds it.
DROP FUNCTION IF EXISTS casino_money_body(TEXT, BIGINT, BIGINT, TEXT, BOOLEAN);
-- Storing every answer's body (before migration 0023).
DROP FUNCTION IF EXISTS casino_record(casino_call, TEXT, BIGINT, BIGINT, BIGINT, SMALLINT, TEXT);

-- The instant a rule of time reads: the moment the call holds its locks, so calls on one
-- wallet get their instants in the order they take its lock. In production it is the
-- clock, one inlined read. A test database may freeze it: casino_install_test_clock()
-- swaps this body for one that reads CASINO_TEST_CLOCK (migration 0016), and only in a
-- database whose setting casino.test_clock is on; re-applying this file swaps the real
-- clock back; a server refuses to start on a database whose clock was swapped unless it
-- drives test rounds (--test-driver). Production pays nothing for the possibility.
CREATE OR REPLACE FUNCTION casino_clock() RETURNS TIMESTAMPTZ
LANGUAGE sql VOLATILE AS $$
    SELECT clock_timestamp()
$$;

-- The test clock: the frozen instant when a test set one, else the clock.
CREATE OR REPLACE FUNCTION casino_test_clock() RETURNS TIMESTAMPTZ
LANGUAGE sql VOLATILE AS $$
    SELECT coalesce((SELECT frozen_at FROM CASINO_TEST_CLOCK), clock_timestamp())
$$;

CREATE OR REPLACE FUNCTION casino_install_test_clock() RETURNS VOID
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF current_setting('casino.test_clock', true) IS DISTINCT FROM 'on' THEN
        RAISE EXCEPTION 'casino_install_test_clock: only in a database whose casino.test_clock setting is on';
    END IF;
    CREATE OR REPLACE FUNCTION casino_clock() RETURNS TIMESTAMPTZ
    LANGUAGE sql VOLATILE AS 'SELECT casino_test_clock()';
END $$;

-- A refusal's body, byte for byte what is stored and replayed. A refusal that names a limit
-- adds "details" inside "error" (PROTOCOL.md, "Player protection"). A success's body is
-- casino_success_body (migration 0023), rebuilt from its row.
CREATE OR REPLACE FUNCTION casino_error_body(p_code TEXT, p_message TEXT, p_details JSON DEFAULT NULL) RETURNS TEXT
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_details IS NULL
                THEN json_build_object('error', json_build_object('code', p_code, 'message', p_message))
                ELSE json_build_object('error', json_build_object('code', p_code, 'message', p_message,
                                                                  'details', p_details)) END::text
$$;

-- Whether a bet was refunded: the one statement of the rule (refunds name their bet in
-- refunded_bet_id, at most one per bet: migration 0008). Also read by casino/wallet.py and
-- casino/audit.py.
CREATE OR REPLACE FUNCTION casino_refunded(p_provider_id BIGINT, p_bet_id TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM CASINO_TRANSACTIONS r
                   WHERE r.provider_id = p_provider_id AND r.refunded_bet_id = p_bet_id)
$$;

-- A refusal's reply, from the catalogue (CASINO_REFUSALS): the status and the message,
-- its %s filled with p_details. Not stored by itself: see casino_refuse. A code missing
-- from the catalogue is an error (the call is rolled back), never a silent NULL.
CREATE OR REPLACE FUNCTION casino_refusal(p_code TEXT, VARIADIC p_details TEXT[] DEFAULT '{}')
RETURNS casino_reply
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN casino_refusal_with(p_code, NULL, VARIADIC p_details);
END $$;

-- The same, with the "details" object of a refusal that names a limit.
CREATE OR REPLACE FUNCTION casino_refusal_with(p_code TEXT, p_error_details JSON, VARIADIC p_details TEXT[] DEFAULT '{}')
RETURNS casino_reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_reply casino_reply;
BEGIN
    SELECT r.status, casino_error_body(r.code, format(r.message, VARIADIC p_details), p_error_details), false,
           CASE WHEN NOT r.stored THEN r.code END
    INTO v_reply.status, v_reply.body, v_reply.replay, v_reply.error_code
    FROM CASINO_REFUSALS r WHERE r.code = p_code;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'refusal % is not in CASINO_REFUSALS (the catalogue: wire/refusals.py)', p_code;
    END IF;
    RETURN v_reply;
END $$;

-- Records the call's answer: its one ledger row, at the call's instant, and the movement
-- into the wallet, with the wallet's bonus wagering counter as the call's rules left it
-- (c.bonus_wagered, when they loaded it: casino_bonus.sql) and, for a wallet with limits,
-- what the row counts against them (after the insert, so a row that is not written counts
-- nothing; the caller brought the windows up to c.at before: casino_debit's check,
-- casino_credit, casino_rollback) -- all in the one row write a call makes. When the row
-- meets the unique index (the same id answered meanwhile, which the locks of
-- casino_open_call leave only to an id sent on a session of another wallet without them),
-- nothing is stored or moved and the stored answer is replayed.
-- The answer is p_body. With p_bonus NULL it is stored with the row (a refusal, or a
-- success whose answer the row cannot tell). With p_bonus set it is a success the row
-- tells, not stored: the caller built it with casino_success_body from the row's own
-- values -- this call's id and kind, p_outcome, the balance after (c.playable +
-- p_playable), p_bonus (its bonus part) and the wallet's currency -- exactly as every later
-- read rebuilds it from the row (casino_ledger_answer, migration 0023). The caller builds
-- it, rather than this function, so that its kind is a constant there (a call of one kind
-- compiles one shape of body: docs/performance.md, issue 23).
CREATE OR REPLACE FUNCTION casino_record(
    c casino_call, p_outcome TEXT, p_amount BIGINT, p_playable BIGINT, p_redeemable BIGINT,
    p_status SMALLINT, p_body TEXT, p_bonus BIGINT DEFAULT NULL)
RETURNS casino_reply
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_id BIGINT;
    v_wager BIGINT;
    v_loss BIGINT;
BEGIN
    INSERT INTO CASINO_TRANSACTIONS (
        provider_id, external_transaction_id, transaction_type, wallet_id, session_id,
        round_id, amount, related_external_transaction_id, request_fingerprint, outcome,
        playable_movement, redeemable_movement, balance_after, response_status, response_cache,
        limits_checked, created_at, bonus_id, refunded_bet_id, answer_bonus, answer_currency)
    VALUES (c.provider_id, c.transaction_id, c.kind, c.wallet_id, c.session_id,
            c.round_id, p_amount, c.related_id, c.fingerprint, p_outcome,
            p_playable, p_redeemable, c.playable + p_playable, p_status,
            CASE WHEN p_bonus IS NULL THEN p_body::json END,
            c.limits_checked, c.at, c.row_bonus_id,
            CASE WHEN c.kind = 'rollback' AND p_playable > 0 THEN c.related_id END,
            p_bonus, CASE WHEN p_bonus IS NOT NULL THEN c.currency END)
    ON CONFLICT (provider_id, external_transaction_id) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RETURN casino_stored_reply(c);
    END IF;
    IF (p_playable <> 0 OR p_redeemable <> 0) AND NOT c.limited THEN
        UPDATE CASINO_WALLETS
        SET playable_balance = playable_balance + p_playable,
            redeemable_balance = redeemable_balance + p_redeemable,
            bonus_wagered = coalesce(c.bonus_wagered, bonus_wagered),
            updated_at = now()
        WHERE id = c.wallet_id;
    ELSIF c.kind = 'debit' AND (p_playable <> 0 OR p_redeemable <> 0) THEN
        -- A bet of a wallet with limits: its check brought the windows up to c.at, so what
        -- it counts goes on in the same row write. (One test, not two nested: each costs a
        -- bet; docs/performance.md, issue 23.)
        UPDATE CASINO_WALLETS
        SET playable_balance = playable_balance + p_playable,
            redeemable_balance = redeemable_balance + p_redeemable,
            bonus_wagered = coalesce(c.bonus_wagered, bonus_wagered),
            updated_at = now(),
            wager_day_used = wager_day_used + p_amount, wager_week_used = wager_week_used + p_amount,
            wager_month_used = wager_month_used + p_amount,
            loss_day_used = loss_day_used + p_amount, loss_week_used = loss_week_used + p_amount,
            loss_month_used = loss_month_used + p_amount
        WHERE id = c.wallet_id;
    ELSIF p_playable <> 0 OR p_redeemable <> 0 THEN
        -- A payout or refund (casino_credit and casino_rollback brought the windows up to
        -- c.at): what it counts goes on in the same row write.
        v_wager := casino_counted_wager(c.kind, p_amount);
        v_loss := casino_counted_loss(c.kind, p_amount);
        UPDATE CASINO_WALLETS
        SET playable_balance = playable_balance + p_playable,
            redeemable_balance = redeemable_balance + p_redeemable,
            bonus_wagered = coalesce(c.bonus_wagered, bonus_wagered),
            updated_at = now(),
            wager_day_used = wager_day_used + v_wager, wager_week_used = wager_week_used + v_wager,
            wager_month_used = wager_month_used + v_wager,
            loss_day_used = loss_day_used + v_loss, loss_week_used = loss_week_used + v_loss,
            loss_month_used = loss_month_used + v_loss
        WHERE id = c.wallet_id;
    END IF;
    RETURN ROW(p_status, p_body, false, NULL)::casino_reply;
END $$;

-- A refusal by a rule, stored as the call's answer (moves nothing).
CREATE OR REPLACE FUNCTION casino_refuse(c casino_call, p_code TEXT, VARIADIC p_details TEXT[] DEFAULT '{}')
RETURNS casino_reply
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_refusal casino_reply := casino_refusal(p_code, VARIADIC p_details);
BEGIN
    RETURN casino_record(c, 'refused', c.amount, 0, 0, v_refusal.status, v_refusal.body);
END $$;

-- The same for a refusal that names a limit: its "details" are stored with it.
CREATE OR REPLACE FUNCTION casino_refuse_with(c casino_call, p_code TEXT, p_error_details JSON,
                                              VARIADIC p_details TEXT[] DEFAULT '{}')
RETURNS casino_reply
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_refusal casino_reply := casino_refusal_with(p_code, p_error_details, VARIADIC p_details);
BEGIN
    RETURN casino_record(c, 'refused', c.amount, 0, 0, v_refusal.status, v_refusal.body);
END $$;

-- The stored answer for the call's id: a replay when the request is the same, else
-- 409 IDEMPOTENCY_CONFLICT (not stored). NULL when the id has no row.
CREATE OR REPLACE FUNCTION casino_stored_reply(c casino_call) RETURNS casino_reply
LANGUAGE sql VOLATILE AS $$
    SELECT CASE WHEN t.request_fingerprint = c.fingerprint
                THEN ROW(t.response_status,
                         casino_ledger_answer(t.response_cache, t.external_transaction_id, t.transaction_type,
                                              t.outcome, t.balance_after, t.answer_bonus, t.answer_currency),
                         true, NULL)::casino_reply
                ELSE casino_refusal('IDEMPOTENCY_CONFLICT', 'transactionId') END
    FROM CASINO_TRANSACTIONS t
    WHERE t.provider_id = c.provider_id AND t.external_transaction_id = c.transaction_id
$$;

-- Opens a money call for the provider whose key signed it (p_provider_id): steps 1-3
-- above. The call is over when c.reply is set: the session is unknown or another
-- provider's, the id was answered before (replayed or a conflict), or a tombstone names
-- it (refused and stored here: that refusal outranks every other rule).
CREATE FUNCTION casino_open_call(
    p_provider_id BIGINT, p_token TEXT, p_kind TEXT, p_transaction_id TEXT, p_round_id TEXT, p_amount BIGINT,
    p_related_id TEXT, p_fingerprint TEXT)
RETURNS casino_call
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    c casino_call;
    v_lock_key INTEGER;
    v_tombstoned BOOLEAN;
BEGIN
    c.provider_id := p_provider_id; c.kind := p_kind; c.transaction_id := p_transaction_id;
    c.round_id := p_round_id; c.amount := p_amount; c.related_id := p_related_id; c.fingerprint := p_fingerprint;

    SELECT s.id, s.user_id, s.wallet_id, s.is_active, s.last_activity_at, s.game_enabled, s.provider_enabled,
           s.bet_min, s.bet_max
    INTO c.session_id, c.owner_id, c.wallet_id, c.session_active, c.last_activity, c.game_enabled, c.provider_enabled,
         c.bet_min, c.bet_max
    FROM CASINO_GAME_SESSIONS s
    WHERE s.token = p_token AND s.provider_id = p_provider_id;
    -- transactionIds are the signing provider's namespace: nothing is stored under
    -- another provider's name, and another provider's call never waits for (or holds)
    -- this wallet's lock.
    IF NOT FOUND THEN
        c.reply := CASE WHEN EXISTS (SELECT 1 FROM CASINO_GAME_SESSIONS WHERE token = p_token)
                        THEN casino_refusal('PROVIDER_MISMATCH') ELSE casino_refusal('SESSION_NOT_FOUND', 'sessionToken') END;
        RETURN c;
    END IF;
    SELECT w.player_enabled, w.currency_code, w.playable_balance, w.redeemable_balance, w.excluded_until, w.limited,
           w.bonus_id
    INTO c.player_enabled, c.currency, c.playable, c.redeemable, c.excluded_until, c.limited, c.bonus_id
    FROM CASINO_WALLETS w WHERE w.id = c.wallet_id
    FOR NO KEY UPDATE;

    IF p_kind = 'rollback' THEN
        FOR v_lock_key IN
            SELECT DISTINCT hashtext(id) FROM unnest(ARRAY[p_transaction_id, p_related_id]) AS id
            WHERE id IS NOT NULL
            ORDER BY 1
        LOOP
            PERFORM pg_advisory_xact_lock(c.provider_id::integer, v_lock_key);
        END LOOP;
    ELSE
        PERFORM pg_advisory_xact_lock(c.provider_id::integer, hashtext(p_transaction_id));
    END IF;

    -- After the locks, in a statement of its own: what an earlier holder committed. The
    -- id's own answer, or a tombstone, which promised the provider that this id will never
    -- move money, whatever kind of call brings it: a late bet, or a bet's bytes resent as
    -- a payout. And the call's instant, now that it holds the wallet.
    SELECT casino_stored_reply(c),
           EXISTS (SELECT 1 FROM CASINO_TRANSACTIONS r
                   WHERE r.provider_id = c.provider_id AND r.related_external_transaction_id = p_transaction_id
                     AND r.transaction_type = 'rollback' AND r.outcome = 'tombstone'),
           casino_clock()
    INTO c.reply, v_tombstoned, c.at;
    IF (c.reply).status IS NOT NULL THEN
        RETURN c;
    ELSIF v_tombstoned THEN
        c.reply := casino_refuse(c, 'TRANSACTION_ROLLED_BACK');
    END IF;
    RETURN c;
END $$;
