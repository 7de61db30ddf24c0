-- The provider's catalogue (POST /provider/games) names each game's currency, so a casino
-- that imports it gets the game's default currency from the provider, not by hand.
ALTER TABLE PROVIDER_GAMES
    ADD COLUMN currency CHAR(3) NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$');

-- The demo's roulette is played in EUR (sql/demo.sql); rows loaded before this column keep
-- the default otherwise.
UPDATE PROVIDER_GAMES SET currency = 'EUR' WHERE game_id = 'jaqpot-roulette';
