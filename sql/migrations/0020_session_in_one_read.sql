-- What a money call needs from its session, on the rows it reads anyway (issue 23, item 1):
-- the session row carries its game's provider, bet limits and whether the game and the
-- provider are enabled; the wallet row, which every call locks, whether its player is. A
-- call then finds everything with one indexed read of the session and the wallet it
-- locks, instead of a five-table join (docs/performance.md, "Issue 23").
--
-- The copies are never written by hand: a trigger derives them from the catalogue
-- whenever a session or wallet is made or a copy is written, and every change of a
-- player's status, a game's status or limits, or a provider's status re-derives them in
-- the same transaction (triggers on those tables, so every writer is covered: the back
-- office, the synthetic retirement, a game import, a test's UPDATE). Races:
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

ALTER TABLE CASINO_GAME_SESSIONS
    ADD COLUMN provider_id BIGINT,
    ADD COLUMN bet_min BIGINT,
    ADD COLUMN bet_max BIGINT,
    ADD COLUMN game_active BOOLEAN,
    ADD COLUMN provider_active BOOLEAN;

UPDATE CASINO_GAME_SESSIONS s
SET provider_id = g.provider_id, bet_min = g.min_bet, bet_max = g.max_bet,
    game_active = g.is_active, provider_active = NOT p.is_disabled
FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id
WHERE g.id = s.game_id;

ALTER TABLE CASINO_GAME_SESSIONS
    ALTER COLUMN provider_id SET NOT NULL,
    ALTER COLUMN bet_min SET NOT NULL,
    ALTER COLUMN bet_max SET NOT NULL,
    ALTER COLUMN game_active SET NOT NULL,
    ALTER COLUMN provider_active SET NOT NULL;

-- The sessions a game's or provider's change re-derives.
CREATE INDEX casino_game_sessions_game ON CASINO_GAME_SESSIONS (game_id);

ALTER TABLE CASINO_WALLETS ADD COLUMN player_active BOOLEAN NOT NULL DEFAULT true;

UPDATE CASINO_WALLETS w SET player_active = false
FROM CASINO_USERS u WHERE u.id = w.user_id AND u.status <> 'active';

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
        SELECT g.provider_id, g.min_bet, g.max_bet, g.is_active, NOT p.is_disabled
        INTO NEW.provider_id, NEW.bet_min, NEW.bet_max, NEW.game_active, NEW.provider_active
        FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id
        WHERE g.id = NEW.game_id
        FOR SHARE;
    ELSE
        SELECT g.provider_id, g.min_bet, g.max_bet, g.is_active, NOT p.is_disabled
        INTO NEW.provider_id, NEW.bet_min, NEW.bet_max, NEW.game_active, NEW.provider_active
        FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id
        WHERE g.id = NEW.game_id;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER casino_game_sessions_copies
    BEFORE INSERT OR UPDATE OF game_id, provider_id, bet_min, bet_max, game_active, provider_active
    ON CASINO_GAME_SESSIONS
    FOR EACH ROW EXECUTE FUNCTION casino_session_copies();

-- A wallet's copy of its player's status.
CREATE FUNCTION casino_wallet_player_active() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    SELECT u.status = 'active' INTO NEW.player_active
    FROM CASINO_USERS u WHERE u.id = NEW.user_id
    FOR SHARE;
    RETURN NEW;
END $$;

CREATE TRIGGER casino_wallets_player_active
    BEFORE INSERT OR UPDATE OF user_id, player_active ON CASINO_WALLETS
    FOR EACH ROW EXECUTE FUNCTION casino_wallet_player_active();

-- Re-deriving: writing a copy (NULL: the deriving trigger above computes it again).
-- Sessions are locked in id order, so a game's and its provider's changes at once cannot
-- deadlock on them.
CREATE FUNCTION casino_game_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE CASINO_GAME_SESSIONS SET game_active = NULL
    WHERE id IN (SELECT id FROM CASINO_GAME_SESSIONS WHERE game_id = NEW.id ORDER BY id FOR NO KEY UPDATE);
    RETURN NULL;
END $$;

CREATE TRIGGER casino_games_changed
    AFTER UPDATE OF is_active, min_bet, max_bet ON CASINO_GAMES
    FOR EACH ROW
    WHEN (OLD.is_active IS DISTINCT FROM NEW.is_active OR OLD.min_bet IS DISTINCT FROM NEW.min_bet
          OR OLD.max_bet IS DISTINCT FROM NEW.max_bet)
    EXECUTE FUNCTION casino_game_changed();

CREATE FUNCTION casino_provider_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE CASINO_GAME_SESSIONS SET game_active = NULL
    WHERE id IN (SELECT s.id FROM CASINO_GAME_SESSIONS s JOIN CASINO_GAMES g ON g.id = s.game_id
                 WHERE g.provider_id = NEW.id ORDER BY s.id FOR NO KEY UPDATE OF s);
    RETURN NULL;
END $$;

CREATE TRIGGER casino_game_providers_changed
    AFTER UPDATE OF is_disabled ON CASINO_GAME_PROVIDERS
    FOR EACH ROW WHEN (OLD.is_disabled IS DISTINCT FROM NEW.is_disabled)
    EXECUTE FUNCTION casino_provider_changed();

CREATE FUNCTION casino_player_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE CASINO_WALLETS SET player_active = NULL WHERE user_id = NEW.id;   -- derived again
    RETURN NULL;
END $$;

CREATE TRIGGER casino_users_changed
    AFTER UPDATE OF status ON CASINO_USERS
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION casino_player_changed();

-- The ledger's foreign keys to sessions and providers (issue 23, item 4): each took a
-- KEY SHARE row lock on the session and the provider row for every ledger row written (a
-- tuple lock written to the row; under concurrency a MultiXact on the provider row every
-- bet shares), ~33 000 instructions each per debit. Their guarantee -- a ledger row names a
-- session and a provider that exist -- is kept another way: a money call writes the ids
-- it has just read, and neither a session nor a provider (nor a game, which sessions name)
-- is ever deleted: the triggers below refuse it, whoever tries. The audit checks every
-- ledger row against both tables (casino/audit.py). The foreign key to the wallet goes
-- too, further down.
ALTER TABLE CASINO_TRANSACTIONS
    DROP CONSTRAINT casino_transactions_session_id_fkey,
    DROP CONSTRAINT casino_transactions_provider_id_fkey;

CREATE FUNCTION casino_never_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never deleted: the ledger names them (migration 0020)', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER casino_game_sessions_never_deleted BEFORE DELETE ON CASINO_GAME_SESSIONS
    FOR EACH ROW EXECUTE FUNCTION casino_never_deleted();
CREATE TRIGGER casino_game_sessions_never_truncated BEFORE TRUNCATE ON CASINO_GAME_SESSIONS
    FOR EACH STATEMENT EXECUTE FUNCTION casino_never_deleted();
CREATE TRIGGER casino_games_never_deleted BEFORE DELETE ON CASINO_GAMES
    FOR EACH ROW EXECUTE FUNCTION casino_never_deleted();
CREATE TRIGGER casino_games_never_truncated BEFORE TRUNCATE ON CASINO_GAMES
    FOR EACH STATEMENT EXECUTE FUNCTION casino_never_deleted();
CREATE TRIGGER casino_game_providers_never_deleted BEFORE DELETE ON CASINO_GAME_PROVIDERS
    FOR EACH ROW EXECUTE FUNCTION casino_never_deleted();
CREATE TRIGGER casino_game_providers_never_truncated BEFORE TRUNCATE ON CASINO_GAME_PROVIDERS
    FOR EACH STATEMENT EXECUTE FUNCTION casino_never_deleted();

-- A ledger row's own rules, in one CHECK that calls one function (issue 23, item 4).
-- PostgreSQL reads a table's CHECK constraints and generated columns from their stored
-- text, and compiles them, for every statement that writes a row (migration 0013 moved the
-- single-column rules to domains, whose compiled checks are cached, for that reason).
-- The ledger's two CHECKs (its kinds; a row moves money only when applied) and its
-- generated refunded_bet_id cost ~45 000 instructions each per debit; a CHECK that is one
-- call of a PL/pgSQL function is read in a fraction of that, and the function's expression
-- is compiled once per connection. The rules are the same three:
--   - a row's kind is one the ledger knows;
--   - a row moves money only when applied;
--   - refunded_bet_id is what it was generated as (migration 0009): the bet a refund
--     names, on a rollback that gave money back, else NULL -- now written by the row's
--     writer (casino_record) and checked here, so the unique index on it still makes "a
--     bet is refunded at most once" the database's rule.
-- IMMUTABLE, as a CHECK's function must be: it reads only its arguments. It lives here,
-- not in a repeatable file: changing it would not re-check the rows already written, so a
-- new kind is a new migration that replaces it (widening the rules, never narrowing).
ALTER TABLE CASINO_TRANSACTIONS ALTER COLUMN refunded_bet_id DROP EXPRESSION;

CREATE FUNCTION casino_ledger_row_rules(p_kind TEXT, p_outcome TEXT, p_playable BIGINT, p_redeemable BIGINT,
                                        p_related TEXT, p_refunded TEXT)
RETURNS BOOLEAN
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN p_kind ~ '^(deposit|withdrawal|debit|credit|rollback|bonus_(grant|completion|forfeit))$'
       AND (p_outcome = 'applied' OR (p_playable = 0 AND p_redeemable = 0))
       AND p_refunded IS NOT DISTINCT FROM CASE WHEN p_kind = 'rollback' AND p_playable > 0 THEN p_related END;
END $$;

ALTER TABLE CASINO_TRANSACTIONS
    DROP CONSTRAINT casino_transactions_check,
    DROP CONSTRAINT casino_transactions_transaction_type_check,
    ADD CONSTRAINT casino_transactions_row_rules
        CHECK (casino_ledger_row_rules(transaction_type, outcome, playable_movement, redeemable_movement,
                                       related_external_transaction_id, refunded_bet_id));

-- The ledger's foreign key to the wallet (issue 23, item 4): ~31 000 instructions per
-- debit for a check whose lock every writer of a ledger row already holds (each locks the
-- wallet FOR NO KEY UPDATE or FOR UPDATE first: the money calls, the cashier, bonus money,
-- exclusions). Its guarantee is kept as the two above are: wallets are never deleted, and
-- the audit names a ledger row whose wallet does not exist.
ALTER TABLE CASINO_TRANSACTIONS DROP CONSTRAINT casino_transactions_wallet_id_fkey;

CREATE TRIGGER casino_wallets_never_deleted BEFORE DELETE ON CASINO_WALLETS
    FOR EACH ROW EXECUTE FUNCTION casino_never_deleted();
CREATE TRIGGER casino_wallets_never_truncated BEFORE TRUNCATE ON CASINO_WALLETS
    FOR EACH STATEMENT EXECUTE FUNCTION casino_never_deleted();
