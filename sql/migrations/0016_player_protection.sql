-- Player protection (PROTOCOL.md, "Player protection"): each market's rules as rows,
-- players' deposit, loss and wager limits, exclusions, the external register's answers, the
-- append-only history of every change, and what a money call needs to enforce them cheaply.
-- The functions that use these tables are in sql/functions/casino_protection.sql.

-- A market's rules (README, "Player protection"). Every player belongs to one; the setting
-- DEFAULT_JURISDICTION names the one a player registered over the API gets. Intervals are
-- calendar durations (P6M is six months in the market's time zone, not 180 days).
CREATE TABLE CASINO_JURISDICTIONS (
    code                       TEXT PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9-]{1,15}$'),
    name                       TEXT NOT NULL,
    -- Its calendar periods' zone (day from 00:00, week from Monday, month from the 1st);
    -- a name PostgreSQL knows (checked by the back office before it is written).
    time_zone                  TEXT NOT NULL,
    -- How long an increased or removed limit waits before it applies.
    cooling_off_hours          INTEGER NOT NULL CHECK (cooling_off_hours BETWEEN 0 AND 8784),
    -- Whether it also waits for the end of the limit's current period (Sweden).
    increase_waits_period_end  BOOLEAN NOT NULL,
    -- Whether a deposit limit must be in force before a deposit is taken (Sweden, Germany).
    deposit_limit_required     BOOLEAN NOT NULL,
    time_out_min               INTERVAL NOT NULL,
    time_out_max               INTERVAL NOT NULL,
    self_exclusion_min         INTERVAL NOT NULL,
    self_exclusion_max         INTERVAL,           -- NULL: no longest, an indefinite one allowed
    -- The external self-exclusion register asked at launch and deposit (NULL: none), where
    -- it answers (NULL: nowhere yet, which counts as unreachable), and what an unreachable
    -- one means: refuse (the default, fail closed) or allow.
    register_name              TEXT,
    register_url               TEXT CHECK (register_url ~ '^https?://'),
    register_unreachable       TEXT NOT NULL DEFAULT 'refuse' CHECK (register_unreachable IN ('refuse', 'allow')),
    updated_at                 TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (time_out_min > interval '0' AND time_out_min <= time_out_max),
    CHECK (self_exclusion_min > interval '0' AND self_exclusion_min <= self_exclusion_max)
);

-- The markets of issue 20 as their regulators' pages describe them, and the default for
-- players of no regulated market; README says which figures are the regulators' and which
-- the operator's. Registers are named but have no address yet: until an operator sets one,
-- a GB, SE or DE player's launch or deposit is refused as the register's failure rule says.
INSERT INTO CASINO_JURISDICTIONS (code, name, time_zone, cooling_off_hours, increase_waits_period_end,
                                  deposit_limit_required, time_out_min, time_out_max, self_exclusion_min,
                                  self_exclusion_max, register_name) VALUES
    ('DEFAULT', 'No regulated market', 'UTC', 24, false, false, 'P1D', 'P6W', 'P6M', NULL, NULL),
    ('GB', 'Great Britain (UKGC)', 'Europe/London', 24, false, false, 'P1D', 'P6W', 'P6M', NULL, 'GAMSTOP'),
    ('SE', 'Sweden (Spelinspektionen)', 'Europe/Stockholm', 72, true, true, 'P1D', 'P1M', 'P1M', NULL, 'Spelpaus'),
    ('ON', 'Ontario (AGCO)', 'America/Toronto', 24, false, false, 'P1D', 'P6W', 'P3M', NULL, NULL),
    ('DE', 'Germany (GGL)', 'Europe/Berlin', 168, false, true, 'P1D', 'P1M', 'P3M', NULL, 'OASIS');

-- Players carry a market, and the identity an external register is asked with (optional:
-- a player of a market without a register needs none).
ALTER TABLE CASINO_USERS
    ADD COLUMN jurisdiction TEXT NOT NULL DEFAULT 'DEFAULT' REFERENCES CASINO_JURISDICTIONS (code),
    ADD COLUMN first_name TEXT,
    ADD COLUMN last_name TEXT,
    ADD COLUMN date_of_birth DATE,
    ADD COLUMN postcode TEXT;

-- What a money call reads where it already looks, on the wallet row it locks: whether the
-- player is excluded (until when; 'infinity' for an indefinite self-exclusion) and whether
-- the wallet has limits to count against. A wallet without either costs a bet nothing
-- more. They live on the locked row, not the player's, so a call that waited for the lock
-- reads what the exclusion or the limit wrote (the row it waited for is read again).
--
-- A limited wallet's current calendar windows count here too, what each of its money calls
-- adds to deposits, wager and loss (PROTOCOL.md, "What is counted"): written by the
-- update that moves the balance, under the row's lock, so they are exact however many
-- calls race, and cost no second row write (docs/performance.md). NULL on a wallet
-- without limits, which counts nothing.
ALTER TABLE CASINO_WALLETS
    ADD COLUMN excluded_until TIMESTAMPTZ,
    ADD COLUMN limited BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN deposit_day_used BIGINT,
    ADD COLUMN deposit_week_used BIGINT,
    ADD COLUMN deposit_month_used BIGINT,
    ADD COLUMN loss_day_used BIGINT,
    ADD COLUMN loss_week_used BIGINT,
    ADD COLUMN loss_month_used BIGINT,
    ADD COLUMN wager_day_used BIGINT,
    ADD COLUMN wager_week_used BIGINT,
    ADD COLUMN wager_month_used BIGINT;

-- A player's limits as they stand: the amount in force and a pending change (a higher
-- amount, or NULL: a removal) that applies from pending_from. Each change is also a row
-- of CASINO_PROTECTION_HISTORY, which is the evidence; this is the working state.
CREATE TABLE CASINO_PLAYER_LIMITS (
    user_id         BIGINT NOT NULL REFERENCES CASINO_USERS (id),
    currency_code   casino_currency NOT NULL,
    limit_type      TEXT NOT NULL CHECK (limit_type IN ('deposit', 'loss', 'wager')),
    period          TEXT NOT NULL CHECK (period IN ('day', 'week', 'month')),
    amount          casino_minor_units,
    pending_amount  casino_minor_units,
    pending_from    TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, currency_code, limit_type, period),
    CHECK (pending_from IS NOT NULL OR pending_amount IS NULL)
);

-- A limited wallet's current calendar windows: where they end and the limits in force in
-- them, good until refresh_at (the end of the day's window, or a pending change's start);
-- the first call at or after it recounts the windows from the ledger
-- (casino_refresh_windows). What counts so far is on the wallet row (above).
CREATE TABLE CASINO_LIMIT_WINDOWS (
    wallet_id      BIGINT PRIMARY KEY REFERENCES CASINO_WALLETS (id),
    refresh_at     TIMESTAMPTZ NOT NULL,
    day_ends       TIMESTAMPTZ NOT NULL,
    week_ends      TIMESTAMPTZ NOT NULL,
    month_ends     TIMESTAMPTZ NOT NULL,
    deposit_day    BIGINT,
    deposit_week   BIGINT,
    deposit_month  BIGINT,
    loss_day       BIGINT,
    loss_week      BIGINT,
    loss_month     BIGINT,
    wager_day      BIGINT,
    wager_week     BIGINT,
    wager_month    BIGINT
);

-- The windows as a money call reads them: the limits and their ends, and what counts.
CREATE VIEW CASINO_WALLET_WINDOWS AS
    SELECT l.*, w.deposit_day_used, w.deposit_week_used, w.deposit_month_used, w.loss_day_used,
           w.loss_week_used, w.loss_month_used, w.wager_day_used, w.wager_week_used, w.wager_month_used
    FROM CASINO_LIMIT_WINDOWS l JOIN CASINO_WALLETS w ON w.id = l.wallet_id;

-- Every change of a limit or an exclusion, who made it and when it takes effect: the
-- evidence a regulator is shown, and what the audit derives the limits in force from. A
-- limit's row: the amount in force when it was decided (old) and the one asked for (new;
-- NULL: none), effective from the decision (a first or lower limit) or from the end of the
-- cooling-off. An exclusion's row: the end of the exclusion it found (old_until) and its
-- own (new_until; 'infinity': indefinite), effective at once. Rows are never updated or
-- deleted (a trigger refuses both).
CREATE TABLE CASINO_PROTECTION_HISTORY (
    id               BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id          BIGINT NOT NULL REFERENCES CASINO_USERS (id),
    change           TEXT NOT NULL CHECK (change IN ('limit', 'exclusion')),
    limit_type       TEXT CHECK (limit_type IN ('deposit', 'loss', 'wager')),
    period           TEXT CHECK (period IN ('day', 'week', 'month')),
    currency_code    casino_currency,
    old_amount       casino_minor_units,
    new_amount       casino_minor_units,
    kind             TEXT CHECK (kind IN ('time-out', 'self-exclusion')),
    old_until        TIMESTAMPTZ,
    new_until        TIMESTAMPTZ,
    effective_from   TIMESTAMPTZ NOT NULL,
    operator_key_id  TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    CHECK ((change = 'limit') = (limit_type IS NOT NULL AND period IS NOT NULL AND currency_code IS NOT NULL)),
    CHECK ((change = 'exclusion') = (kind IS NOT NULL AND new_until IS NOT NULL))
);

CREATE INDEX casino_protection_history_user ON CASINO_PROTECTION_HISTORY (user_id, id);

CREATE FUNCTION casino_history_is_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'CASINO_PROTECTION_HISTORY is append-only: rows are never updated or deleted';
END $$;

CREATE TRIGGER casino_protection_history_append_only
    BEFORE UPDATE OR DELETE ON CASINO_PROTECTION_HISTORY
    FOR EACH ROW EXECUTE FUNCTION casino_history_is_append_only();

CREATE TRIGGER casino_protection_history_not_truncated
    BEFORE TRUNCATE ON CASINO_PROTECTION_HISTORY
    FOR EACH STATEMENT EXECUTE FUNCTION casino_history_is_append_only();

-- Every time a launch or a deposit relied on an external register: its answer (NULL when
-- it could not be reached; error says why) and its reference, or the earlier answer it
-- reused (cached_from) while that is younger than REGISTER_CACHE_SECONDS. identity_hash:
-- a SHA-256 of the identity asked with, so a changed identity is asked again (the
-- identity itself stays on the player's row only).
CREATE TABLE CASINO_REGISTER_CHECKS (
    id              BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES CASINO_USERS (id),
    jurisdiction    TEXT NOT NULL REFERENCES CASINO_JURISDICTIONS (code),
    register_name   TEXT NOT NULL,
    purpose         TEXT NOT NULL CHECK (purpose IN ('launch', 'deposit')),
    identity_hash   TEXT NOT NULL,
    answer          TEXT CHECK (answer IN ('excluded', 'not-excluded', 'previously-excluded')),
    reference       TEXT,
    error           TEXT,
    cached_from     BIGINT REFERENCES CASINO_REGISTER_CHECKS (id),
    duration_ms     INTEGER,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((answer IS NULL) = (error IS NOT NULL))
);

CREATE INDEX casino_register_checks_user ON CASINO_REGISTER_CHECKS (user_id, register_name, id);

-- What a bet or a deposit of a wallet with limits was checked against: the nine limits in
-- force at its instant, in the order deposit, loss, wager and each day, week, month (NULL:
-- none, or not one that call is checked against) -- an array, cheap to write where a JSON
-- document is not (docs/performance.md); casino_limits_checked_json() reads it as
-- {"wager:day": 5000, ...}. NULL on every other row.
ALTER TABLE CASINO_TRANSACTIONS ADD COLUMN limits_checked BIGINT[];

-- What an opened money call also carries: its instant (read after the locks, the time of
-- its ledger row and of the windows it counts in), the wallet's exclusion and limits flag,
-- and what a bet was checked against.
ALTER TYPE casino_call
    ADD ATTRIBUTE at TIMESTAMPTZ,
    ADD ATTRIBUTE excluded_until TIMESTAMPTZ,
    ADD ATTRIBUTE limited BOOLEAN,
    ADD ATTRIBUTE limits_checked BIGINT[];

-- The instant a test database's clock is frozen at, when a test froze it: read only by the
-- test clock, which a database gets by casino_install_test_clock() and only when its
-- setting casino.test_clock is on (sql/functions/casino_calls.sql); production's clock
-- never reads it. One row at most.
CREATE TABLE CASINO_TEST_CLOCK (
    one        BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    frozen_at  TIMESTAMPTZ NOT NULL
);

-- The new scope: limits and exclusions (PROTOCOL.md, "Operator access").
ALTER TABLE CASINO_OPERATOR_KEYS
    DROP CONSTRAINT IF EXISTS casino_operator_keys_scopes_check,
    ADD CONSTRAINT casino_operator_keys_scopes_check
        CHECK (scopes <@ ARRAY['lobby', 'test-driver', 'backoffice', 'cashier', 'protection', 'admin']
               AND cardinality(scopes) > 0);
