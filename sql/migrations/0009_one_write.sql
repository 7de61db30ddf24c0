-- One write per money call, refunds recorded once, and the catalogue of refusals.
--
-- A money call now locks the wallet and its transactionIds first, applies the rules, and
-- inserts its ledger row once, already answered: there is no 'pending' claim any more,
-- so nothing can commit without an answer and the deferred trigger that refused one goes.
-- The row is never updated afterwards; the answer columns are simply required.

DROP TRIGGER casino_transactions_answered ON CASINO_TRANSACTIONS;
DROP FUNCTION casino_transactions_must_be_answered();

ALTER TABLE CASINO_TRANSACTIONS
    DROP CONSTRAINT casino_transactions_check1,     -- (outcome = 'pending') = (response_status IS NULL)
    DROP CONSTRAINT casino_transactions_check2,     -- ... = (response_cache IS NULL)
    DROP CONSTRAINT casino_transactions_check3,     -- ... = (balance_after IS NULL)
    DROP CONSTRAINT casino_transactions_outcome_check,
    ADD CONSTRAINT casino_transactions_outcome_check CHECK (outcome IN ('applied', 'refused', 'tombstone')),
    ALTER COLUMN response_status SET NOT NULL,
    ALTER COLUMN response_cache SET NOT NULL,
    ALTER COLUMN balance_after SET NOT NULL;

-- A refund is a rollback that gave money back; it names its bet here, and only here. The
-- unique index makes "a bet is refunded at most once" the database's rule, and the
-- foreign key makes a refund name a row that exists. NULL (every other row) is neither
-- indexed nor checked, so a bet pays nothing for either. A STORED generated column is
-- written by PostgreSQL itself, so the predicate cannot disagree with the row; adding it
-- rewrites the table once, under an exclusive lock (a large ledger: plan the pause).
ALTER TABLE CASINO_TRANSACTIONS
    ADD COLUMN refunded_bet_id TEXT GENERATED ALWAYS AS (
        CASE WHEN transaction_type = 'rollback' AND playable_movement > 0 THEN related_external_transaction_id END
    ) STORED,
    ADD CONSTRAINT casino_transactions_refund_names_a_row
        FOREIGN KEY (provider_id, refunded_bet_id)
        REFERENCES CASINO_TRANSACTIONS (provider_id, external_transaction_id);

CREATE UNIQUE INDEX casino_transactions_one_refund_per_bet ON CASINO_TRANSACTIONS (provider_id, refunded_bet_id)
    WHERE refunded_bet_id IS NOT NULL;

-- Every refusal a casino endpoint can answer: code, HTTP status, message, and whether a
-- money call stores it as its answer. Filled from casino/refusals.py by the repeatable
-- file sql/functions/casino_refusals.sql (generated: python -m casino.refusals --sql).
CREATE TABLE CASINO_REFUSALS (
    code     TEXT PRIMARY KEY CHECK (code ~ '^[A-Z_]+$'),
    status   SMALLINT NOT NULL CHECK (status BETWEEN 400 AND 599),
    message  TEXT NOT NULL,         -- a format() template: %s are filled by the rule that refuses
    stored   BOOLEAN NOT NULL
);

-- What a money call answers. error_code set means "not stored": nothing was written
-- (unknown session, another provider's session, the same id with other content) and the
-- caller renders that refusal itself; otherwise body is the stored answer, replay true
-- when it was stored by an earlier call.
CREATE TYPE casino_reply AS (status SMALLINT, body TEXT, replay BOOLEAN, error_code TEXT);

-- An opened money call: the request, what its rules need to know, and, when the call was
-- over before any rule (sql/functions/casino_calls.sql), the reply to give.
CREATE TYPE casino_call AS (
    reply           casino_reply,
    provider_id     BIGINT,
    kind            TEXT,
    transaction_id  TEXT,
    round_id        TEXT,
    amount          BIGINT,
    related_id      TEXT,
    fingerprint     TEXT,
    session_id      BIGINT,
    owner_id        BIGINT,
    wallet_id       BIGINT,
    session_active  BOOLEAN,
    last_activity   TIMESTAMPTZ,
    player_active   BOOLEAN,
    game_active     BOOLEAN,
    provider_active BOOLEAN,
    bet_min         BIGINT,
    bet_max         BIGINT,
    currency        TEXT,
    playable        BIGINT,
    redeemable      BIGINT
);

