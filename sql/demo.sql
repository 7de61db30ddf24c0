-- Demo data that must exist before the first key: the JAQPOT provider at the casino, its
-- games and the demo casino at the provider. The players and their funding come after it,
-- through the back office's own verbs (casino/demo_players.py), and the casino's games from
-- the provider's catalogue at start. Idempotent: every row is keyed, so re-applying it
-- (each server start that loads it does) changes nothing, and balances played since are kept.
-- Loaded by service/demo_data.py, which binds %(v1)s: true in development mode only.

-- JAQPOT's key is CASINO_SECRET from the environment. In development mode it may sign v1
-- (body only) for the brief's sake, until an operator turns that off (python -m casino.keys
-- provider v1 JAQPOT off); loaded elsewhere (--demo-data), v1 starts off.
INSERT INTO CASINO_GAME_PROVIDERS (code, name, api_endpoint, allows_v1) VALUES
    ('JAQPOT', 'Jaqpot Games', NULL, %(v1)s)
ON CONFLICT (code) DO NOTHING;

-- The casino's games are not written here: the server imports them from JAQPOT's own
-- catalogue (POST /provider/games, casino/game_import.py) once it listens, as an operator
-- would (POST /casino/admin/providers/JAQPOT/games/import), so each names a game the
-- provider knows. In the catalogue's order: slots is game 1, roulette 2, classic 3.

INSERT INTO PROVIDER_GAMES (game_code, name, currency, enabled, min_bet, max_bet) VALUES
    ('jaqpot-slots',    'Jaqpot Slots',    'USD', true,  10,  10000),
    ('jaqpot-roulette', 'Jaqpot Roulette', 'EUR', true,  100, 50000),
    ('jaqpot-classic',  'Jaqpot Classic',  'USD', false, 10,  1000)
ON CONFLICT (game_code) DO NOTHING;

-- The provider's side of the demo pair: casino DEMO-CASINO signs with PROVIDER_SECRET and,
-- as JAQPOT, may use v1 in development mode (python -m provider.keys casino v1 DEMO-CASINO off).
INSERT INTO PROVIDER_CASINOS (casino_code, name, allows_v1) VALUES
    ('DEMO-CASINO', 'Demo casino', %(v1)s)
ON CONFLICT (casino_code) DO NOTHING;
