-- The catalogue of refusals, generated from casino/refusals.py: do not edit; regenerate with
--     python -m casino.refusals --sql > sql/functions/casino_refusals.sql
-- (a test fails when this file is stale). Repeatable: re-applied whenever it changes.

INSERT INTO CASINO_REFUSALS (code, status, message, stored) VALUES
    ('SESSION_NOT_FOUND', 404, 'no session with that token', false),
    ('PROVIDER_MISMATCH', 403, 'the session belongs to another provider''s game', false),
    ('IDEMPOTENCY_CONFLICT', 409, 'transactionId was already used for a different request', false),
    ('TRANSACTION_ROLLED_BACK', 409, 'a rollback cancelled this transactionId, or the bet it pays', true),
    ('USER_MISMATCH', 403, 'the session belongs to another user', true),
    ('PLAYER_DISABLED', 403, 'the player is disabled', true),
    ('GAME_DISABLED', 403, 'the game is disabled', true),
    ('PROVIDER_DISABLED', 403, 'the game''s provider is disabled', true),
    ('SESSION_INACTIVE', 403, 'the session is closed or has expired', true),
    ('CURRENCY_MISMATCH', 422, 'the session''s wallet is in %s, not %s', true),
    ('BET_LIMIT_EXCEEDED', 422, 'bets on this game are from %s to %s', true),
    ('INSUFFICIENT_FUNDS', 422, 'the balance does not cover the bet', true),
    ('ROUND_NOT_FOUND', 404, 'the round holds no accepted bet of this wallet', true),
    ('BET_NOT_FOUND', 409, 'no accepted bet of this round and wallet has that id', true),
    ('ROLLBACK_NOT_ALLOWED', 409, 'only a bet of a round without a payout can be rolled back', true),
    ('BALANCE_LIMIT_EXCEEDED', 422, 'the balance would pass 2^53-1', true),
    ('TRANSACTION_NOT_FOUND', 404, 'the casino has no record of that transactionId', false),
    ('USER_NOT_FOUND', 404, 'no such user', false),
    ('GAME_NOT_FOUND', 404, 'no such game', false),
    ('WALLET_NOT_FOUND', 404, 'the user has no %s wallet', false),
    ('PROVIDER_UNAVAILABLE', 502, 'the game provider refused or did not answer', false),
    ('TOO_MANY_REQUESTS', 429, 'more than %s %s at once in this process; retry shortly', false),
    ('PLAYER_EXISTS', 409, 'a player with that username or e-mail exists', false),
    ('WALLET_EXISTS', 409, 'the user has a %s wallet already', false),
    ('ROUND_UNKNOWN', 404, 'the ledger holds no row of that provider''s round', false),
    ('KEY_NOT_FOUND', 404, 'no active operator key has that id', false),
    ('PROVIDER_EXISTS', 409, 'a provider with that code exists', false),
    ('PROVIDER_NOT_FOUND', 404, 'no provider has that code', false),
    ('PROVIDER_KEY_EXISTS', 409, 'a %s key with that id exists, or it is the environment''s demo key id', false),
    ('PROVIDER_KEY_NOT_FOUND', 404, 'the provider has no active %s key with that id', false),
    ('GAME_EXISTS', 409, 'the provider has a game with that providerGameId', false),
    ('BET_LIMITS_INVALID', 422, 'minBet must not exceed maxBet', false),
    ('SESSION_UNKNOWN', 404, 'no game session has that id', false),
    ('PERIOD_INVALID', 422, '%s', false),
    ('RECONCILIATION_NOT_FOUND', 404, 'no reconciliation has that id', false)
ON CONFLICT (code) DO UPDATE SET status = EXCLUDED.status, message = EXCLUDED.message, stored = EXCLUDED.stored;

DELETE FROM CASINO_REFUSALS WHERE code NOT IN ('SESSION_NOT_FOUND', 'PROVIDER_MISMATCH', 'IDEMPOTENCY_CONFLICT', 'TRANSACTION_ROLLED_BACK', 'USER_MISMATCH', 'PLAYER_DISABLED', 'GAME_DISABLED', 'PROVIDER_DISABLED', 'SESSION_INACTIVE', 'CURRENCY_MISMATCH', 'BET_LIMIT_EXCEEDED', 'INSUFFICIENT_FUNDS', 'ROUND_NOT_FOUND', 'BET_NOT_FOUND', 'ROLLBACK_NOT_ALLOWED', 'BALANCE_LIMIT_EXCEEDED', 'TRANSACTION_NOT_FOUND', 'USER_NOT_FOUND', 'GAME_NOT_FOUND', 'WALLET_NOT_FOUND', 'PROVIDER_UNAVAILABLE', 'TOO_MANY_REQUESTS', 'PLAYER_EXISTS', 'WALLET_EXISTS', 'ROUND_UNKNOWN', 'KEY_NOT_FOUND', 'PROVIDER_EXISTS', 'PROVIDER_NOT_FOUND', 'PROVIDER_KEY_EXISTS', 'PROVIDER_KEY_NOT_FOUND', 'GAME_EXISTS', 'BET_LIMITS_INVALID', 'SESSION_UNKNOWN', 'PERIOD_INVALID', 'RECONCILIATION_NOT_FOUND');
