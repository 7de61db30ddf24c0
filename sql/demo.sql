-- Demo data: two players with funded USD and EUR wallets, the JAQPOT provider and its few
-- games (the casino's side imported from it at start, see below). Idempotent: every row is keyed, so re-applying it (each server
-- start does) changes nothing, and balances played since are kept.

INSERT INTO CASINO_USERS (username, email) VALUES
    ('alice', 'alice@example.com'),
    ('bob',   'bob@example.com')
ON CONFLICT (username) DO NOTHING;

INSERT INTO CASINO_WALLETS (user_id, currency_code)
SELECT u.id, c.code
FROM CASINO_USERS u CROSS JOIN (VALUES ('USD'), ('EUR')) AS c (code)
WHERE u.username IN ('alice', 'bob')
ON CONFLICT (user_id, currency_code) DO NOTHING;

-- Funding is a ledger entry like any other movement, so the audit explains every cent.
WITH deposit AS (
    INSERT INTO CASINO_TRANSACTIONS (
        provider_id, external_transaction_id, transaction_type, wallet_id, amount,
        request_fingerprint, outcome, playable_movement, redeemable_movement,
        balance_after, response_status, response_cache)
    SELECT NULL, 'demo-deposit-' || u.username || '-' || w.currency_code, 'deposit', w.id, 100000,
           'demo-deposit', 'applied', 100000, 100000,
           w.playable_balance + 100000, 200, '{}'
    FROM CASINO_WALLETS w JOIN CASINO_USERS u ON u.id = w.user_id
    WHERE u.username IN ('alice', 'bob')
    ON CONFLICT (provider_id, external_transaction_id) DO NOTHING
    RETURNING wallet_id, playable_movement, redeemable_movement
)
UPDATE CASINO_WALLETS w
SET playable_balance = w.playable_balance + deposit.playable_movement,
    redeemable_balance = w.redeemable_balance + deposit.redeemable_movement,
    updated_at = now()
FROM deposit
WHERE w.id = deposit.wallet_id;

-- JAQPOT's key is CASINO_SECRET from the environment; it may sign v1 (body only) for the
-- brief's sake, until an operator turns that off (python -m casino.keys provider v1 JAQPOT off).
INSERT INTO CASINO_GAME_PROVIDERS (code, name, api_endpoint, allows_v1) VALUES
    ('JAQPOT', 'Jaqpot Games', NULL, true)
ON CONFLICT (code) DO NOTHING;

-- The casino's games are not written here: the server imports them from JAQPOT's own
-- catalogue (POST /provider/games, casino/game_import.py) once it listens, as an operator
-- would (POST /casino/admin/providers/JAQPOT/games/import), so each names a game the
-- provider knows. In the catalogue's order: slots is game 1, roulette 2, classic 3.

INSERT INTO PROVIDER_GAMES (game_id, name, currency, is_active, min_bet, max_bet) VALUES
    ('jaqpot-slots',    'Jaqpot Slots',    'USD', true,  10,  10000),
    ('jaqpot-roulette', 'Jaqpot Roulette', 'EUR', true,  100, 50000),
    ('jaqpot-classic',  'Jaqpot Classic',  'USD', false, 10,  1000)
ON CONFLICT (game_id) DO NOTHING;

-- The provider's side of the demo pair: casino DEMO-CASINO signs with PROVIDER_SECRET and
-- may use v1 (body only) for the brief's sake (python -m provider.keys casino v1 DEMO-CASINO off).
INSERT INTO PROVIDER_CASINOS (casino_code, name, allows_v1) VALUES
    ('DEMO-CASINO', 'Demo casino', true)
ON CONFLICT (casino_code) DO NOTHING;
