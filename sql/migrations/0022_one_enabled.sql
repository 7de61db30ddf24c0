-- One encoding of "enabled", one meaning of game_id (issue 19, item 5).
--
-- "Enabled" was written three ways: CASINO_USERS.status ('active' | 'disabled', migration
-- 0004), CASINO_GAMES.is_active, CASINO_GAME_PROVIDERS.is_disabled (0001, inverted), and
-- the provider's PROVIDER_GAMES.is_active (0002); the copies migration 0020 keeps for the
-- bet path as CASINO_GAME_SESSIONS.game_active, .provider_active and
-- CASINO_WALLETS.player_active. From here on it is `enabled BOOLEAN NOT NULL` on players,
-- games, providers and the provider's games, and game_enabled, provider_enabled and
-- player_enabled for the copies (the money calls' casino_call attributes too). The back
-- office still says "status": "active" | "disabled": that mapping is casino/enabled.py's.
--
-- CASINO_GAME_SESSIONS.is_active is left as it is: it says whether a session is open
-- (activated by its provider's launch and not closed), not whether anything is enabled.
--
-- PROVIDER_GAMES.game_id was the provider's text code for a game, where every other
-- game_id (the casino's, and PROVIDER_SESSIONS' and PROVIDER_GAME_ROUNDS' own) is a bigint
-- key: it is game_code now. The wire's gameId does not change (PROTOCOL.md: the casino's
-- is its integer key, the provider's its code).
--
-- The data is kept as it is: each value is carried over, and the copies, already derived
-- by 0020's triggers, are renamed with theirs. The triggers that derive the copies name
-- the old columns in their bodies, so they are dropped first and made again below with
-- the new names, their locking unchanged. Run with the servers stopped: until the
-- function files are re-applied (the same `python -m sql.migrate`, right after), a money
-- call of the old functions names columns that are gone.

DROP TRIGGER casino_game_sessions_copies ON CASINO_GAME_SESSIONS;
DROP TRIGGER casino_wallets_player_active ON CASINO_WALLETS;
DROP TRIGGER casino_games_changed ON CASINO_GAMES;
DROP TRIGGER casino_game_providers_changed ON CASINO_GAME_PROVIDERS;
DROP TRIGGER casino_users_changed ON CASINO_USERS;
DROP FUNCTION casino_session_copies();
DROP FUNCTION casino_wallet_player_active();
DROP FUNCTION casino_game_changed();
DROP FUNCTION casino_provider_changed();
DROP FUNCTION casino_player_changed();

-- Players: a new column with its default (no table rewrite), false where status said
-- 'disabled', then the old column (and its CHECK) dropped.
ALTER TABLE CASINO_USERS ADD COLUMN enabled BOOLEAN NOT NULL DEFAULT true;
UPDATE CASINO_USERS SET enabled = false WHERE status <> 'active';
ALTER TABLE CASINO_USERS DROP COLUMN status;

-- Providers: is_disabled inverted, the same way.
ALTER TABLE CASINO_GAME_PROVIDERS ADD COLUMN enabled BOOLEAN NOT NULL DEFAULT true;
UPDATE CASINO_GAME_PROVIDERS SET enabled = false WHERE is_disabled;
ALTER TABLE CASINO_GAME_PROVIDERS DROP COLUMN is_disabled;

-- Games (the casino's and the provider's) and the copies: the same meaning, renamed.
ALTER TABLE CASINO_GAMES RENAME COLUMN is_active TO enabled;
ALTER TABLE PROVIDER_GAMES RENAME COLUMN is_active TO enabled;
ALTER TABLE CASINO_GAME_SESSIONS RENAME COLUMN game_active TO game_enabled;
ALTER TABLE CASINO_GAME_SESSIONS RENAME COLUMN provider_active TO provider_enabled;
ALTER TABLE CASINO_WALLETS RENAME COLUMN player_active TO player_enabled;
ALTER TYPE casino_call RENAME ATTRIBUTE player_active TO player_enabled;
ALTER TYPE casino_call RENAME ATTRIBUTE game_active TO game_enabled;
ALTER TYPE casino_call RENAME ATTRIBUTE provider_active TO provider_enabled;

ALTER TABLE PROVIDER_GAMES RENAME COLUMN game_id TO game_code;
ALTER TABLE PROVIDER_GAMES RENAME CONSTRAINT provider_games_game_id_key TO provider_games_game_code_key;

-- 0020's triggers, with the new names; what they lock, and why, is unchanged. Races:
--   - a session or wallet made while its game, provider or player changes: the deriving
--     trigger reads those rows FOR SHARE, so it waits for the change's commit and reads
--     what it committed; a change that comes second waits for the new row's commit (its
--     UPDATE needs the row lock the share lock holds), and its re-deriving statement, a
--     new snapshot, sees the new row;
--   - a bet against a disable: a bet's statement that starts after the disable's commit
--     reads the new copies. A bet already waiting for its wallet's lock re-reads the
--     locked wallet row when it gets the lock (EvalPlanQual), so a player's disable
--     reaches even it; the session's copies come from the statement's snapshot, as the
--     game's and provider's rows did in the join they replace.

-- A session's copies, from its game and the game's provider. A new session (or one moved
-- to another game) reads them FOR SHARE: a change of either waits for it, or it for the
-- change. Re-deriving an existing session reads them unlocked: it runs inside a change that
-- holds the changed row's lock, and of two changes at once (a game's and its provider's)
-- the second re-derives each session after the first's commit, its statement seeing it
-- (a share lock here would have each change wait for the other's row: a deadlock).
CREATE FUNCTION casino_session_copies() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.game_id IS DISTINCT FROM OLD.game_id THEN
        SELECT g.provider_id, g.min_bet, g.max_bet, g.enabled, p.enabled
        INTO NEW.provider_id, NEW.bet_min, NEW.bet_max, NEW.game_enabled, NEW.provider_enabled
        FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id
        WHERE g.id = NEW.game_id
        FOR SHARE;
    ELSE
        SELECT g.provider_id, g.min_bet, g.max_bet, g.enabled, p.enabled
        INTO NEW.provider_id, NEW.bet_min, NEW.bet_max, NEW.game_enabled, NEW.provider_enabled
        FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id
        WHERE g.id = NEW.game_id;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER casino_game_sessions_copies
    BEFORE INSERT OR UPDATE OF game_id, provider_id, bet_min, bet_max, game_enabled, provider_enabled
    ON CASINO_GAME_SESSIONS
    FOR EACH ROW EXECUTE FUNCTION casino_session_copies();

-- A wallet's copy of whether its player is enabled.
CREATE FUNCTION casino_wallet_player_enabled() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    SELECT u.enabled INTO NEW.player_enabled
    FROM CASINO_USERS u WHERE u.id = NEW.user_id
    FOR SHARE;
    RETURN NEW;
END $$;

CREATE TRIGGER casino_wallets_player_enabled
    BEFORE INSERT OR UPDATE OF user_id, player_enabled ON CASINO_WALLETS
    FOR EACH ROW EXECUTE FUNCTION casino_wallet_player_enabled();

-- Re-deriving: writing a copy (NULL: the deriving trigger above computes it again).
-- Sessions are locked in id order, so a game's and its provider's changes at once cannot
-- deadlock on them.
CREATE FUNCTION casino_game_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE CASINO_GAME_SESSIONS SET game_enabled = NULL
    WHERE id IN (SELECT id FROM CASINO_GAME_SESSIONS WHERE game_id = NEW.id ORDER BY id FOR NO KEY UPDATE);
    RETURN NULL;
END $$;

CREATE TRIGGER casino_games_changed
    AFTER UPDATE OF enabled, min_bet, max_bet ON CASINO_GAMES
    FOR EACH ROW
    WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled OR OLD.min_bet IS DISTINCT FROM NEW.min_bet
          OR OLD.max_bet IS DISTINCT FROM NEW.max_bet)
    EXECUTE FUNCTION casino_game_changed();

CREATE FUNCTION casino_provider_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE CASINO_GAME_SESSIONS SET game_enabled = NULL
    WHERE id IN (SELECT s.id FROM CASINO_GAME_SESSIONS s JOIN CASINO_GAMES g ON g.id = s.game_id
                 WHERE g.provider_id = NEW.id ORDER BY s.id FOR NO KEY UPDATE OF s);
    RETURN NULL;
END $$;

CREATE TRIGGER casino_game_providers_changed
    AFTER UPDATE OF enabled ON CASINO_GAME_PROVIDERS
    FOR EACH ROW WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled)
    EXECUTE FUNCTION casino_provider_changed();

CREATE FUNCTION casino_player_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE CASINO_WALLETS SET player_enabled = NULL WHERE user_id = NEW.id;   -- derived again
    RETURN NULL;
END $$;

CREATE TRIGGER casino_users_changed
    AFTER UPDATE OF enabled ON CASINO_USERS
    FOR EACH ROW WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled)
    EXECUTE FUNCTION casino_player_changed();
