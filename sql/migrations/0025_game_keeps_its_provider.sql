-- A game belongs to the provider that hosts it: its code (provider_game_id) is that
-- provider's, its open sessions carry that provider (migration 0020: the id a money call
-- must be signed by), and its rounds are that provider's to settle. Nothing of the
-- service moves a game to another provider; a hand-written UPDATE that did would leave
-- the sessions' copies naming the old one (the copies' trigger re-derives them on a change
-- of enabled or bet limits only) and the old provider's late payouts refused. So the
-- database refuses it: a game of another provider is a new game.
CREATE FUNCTION casino_game_keeps_its_provider() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'game % belongs to provider %: a game is never moved to another provider (migration 0025)',
        OLD.id, OLD.provider_id
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER casino_games_keep_provider
    BEFORE UPDATE OF provider_id ON CASINO_GAMES
    FOR EACH ROW WHEN (OLD.provider_id IS DISTINCT FROM NEW.provider_id)
    EXECUTE FUNCTION casino_game_keeps_its_provider();
