-- Who made a player or a provider: an operator (a real one, the default), or a tool whose
-- rows must be told apart from real players and retired when it is done (python -m
-- casino.synthetic retire): the demo data, the test suite, Locust, the bench and its
-- siblings. Set once, at creation (the back office's createPlayer / createProvider take
-- it); no verb changes it, so a real player can never be swept up by a clean-up.
ALTER TABLE CASINO_USERS
    ADD COLUMN origin TEXT NOT NULL DEFAULT 'operator'
        CHECK (origin IN ('operator', 'demo', 'test', 'locust', 'bench'));

ALTER TABLE CASINO_GAME_PROVIDERS
    ADD COLUMN origin TEXT NOT NULL DEFAULT 'operator'
        CHECK (origin IN ('operator', 'demo', 'test', 'locust', 'bench'));

-- Synthetic players are listed and retired by origin; real ones (the vast majority) are
-- left out of the index, which the player list by origin and the clean-up read.
CREATE INDEX casino_users_synthetic ON CASINO_USERS (origin, id) WHERE origin <> 'operator';

-- Rows made before this migration. The demo players were created through the back
-- office under the key id `demo-data` (its audit says so); the load tools' players have
-- always been `locust-<run>-<n>` / `bench-<run>-<n>` with an example.com address, and
-- the bench's providers `BENCH-<run>`. The demo provider JAQPOT is left an operator's: a
-- real installation plays its games.
UPDATE CASINO_USERS u SET origin = 'demo'
WHERE EXISTS (SELECT 1 FROM CASINO_ADMIN_AUDIT a
              WHERE a.operator_key_id = 'demo-data' AND a.action = 'createPlayer'
                AND a.request ->> 'username' = u.username);
UPDATE CASINO_USERS SET origin = 'locust'
WHERE username ~ '^locust-[0-9a-f]{8}-[0-9]+$' AND email = username || '@example.com';
UPDATE CASINO_USERS SET origin = 'bench'
WHERE username ~ '^bench-[0-9a-f]{8}-[0-9]+$' AND email = username || '@example.com';
UPDATE CASINO_GAME_PROVIDERS SET origin = 'bench' WHERE code ~ '^BENCH-[0-9a-f]{8}$' AND name = 'Load test';
