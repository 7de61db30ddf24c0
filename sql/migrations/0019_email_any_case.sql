-- A player's e-mail is unique whatever its case: a self-excluded foo@x.example must not
-- register again as Foo@x.example. The UNIQUE of migration 0001 compares the bytes; this
-- index compares lower(email), and createPlayer's INSERT ... ON CONFLICT DO NOTHING answers
-- 409 PLAYER_EXISTS on it as on the other.
--
-- Players who already share an address but for its case cannot be told apart here (which
-- one is the person's?): the migration refuses, naming them, and changes nothing. An
-- operator decides, changes the others' e-mail, and migrates again (README, "Migrations").
DO $$
DECLARE
    clashes TEXT;
BEGIN
    SELECT string_agg(format('%s (players %s)', address, ids), '; ' ORDER BY address) INTO clashes
    FROM (SELECT lower(email) AS address, string_agg(id::text, ', ' ORDER BY id) AS ids
          FROM CASINO_USERS GROUP BY lower(email) HAVING count(*) > 1
          ORDER BY lower(email) LIMIT 50) AS shared;
    IF clashes IS NOT NULL THEN
        RAISE EXCEPTION 'players share an e-mail but for its case: %', clashes
            USING HINT = 'give all but one of each such player another e-mail, then migrate again';
    END IF;
END $$;

CREATE UNIQUE INDEX casino_users_email_any_case ON CASINO_USERS (lower(email));
