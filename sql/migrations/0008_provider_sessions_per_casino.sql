-- A casino's session token names a provider session only within that casino: two casinos
-- may pick the same token, and neither may read or take over the other's session.

ALTER TABLE PROVIDER_SESSIONS ADD COLUMN casino_code TEXT;

UPDATE PROVIDER_SESSIONS s
SET casino_code = c.casino_code
FROM PROVIDER_CUSTOMERS c
WHERE c.id = s.customer_id;

ALTER TABLE PROVIDER_SESSIONS ALTER COLUMN casino_code SET NOT NULL;
ALTER TABLE PROVIDER_SESSIONS DROP CONSTRAINT provider_sessions_casino_session_token_key;
ALTER TABLE PROVIDER_SESSIONS ADD CONSTRAINT provider_sessions_casino_token UNIQUE (casino_code, casino_session_token);
