-- The money rules every call shares (PROTOCOL.md): players that can be disabled, sessions
-- that expire after an idle time, and balances that never pass 2^53-1.

-- The largest integer a JSON number carries exactly: every balance must stay a valid
-- protocol amount. A function, so the constraint, the wallet functions, deposits and the
-- audit all name one limit.
CREATE FUNCTION casino_balance_limit() RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 9007199254740991::bigint $$;

-- redeemable_balance <= playable_balance already holds, so capping playable caps both.
ALTER TABLE CASINO_WALLETS
    ADD CONSTRAINT casino_wallets_playable_within_limit CHECK (playable_balance <= casino_balance_limit());

ALTER TABLE CASINO_USERS
    ADD COLUMN status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled'));

-- When the session last took a bet (or was activated); the wallet functions refresh it
-- at most once a minute, so a debit does not pay for an extra row write every call.
ALTER TABLE CASINO_GAME_SESSIONS
    ADD COLUMN last_activity_at TIMESTAMPTZ NOT NULL DEFAULT now();
