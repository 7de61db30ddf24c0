-- One list of the scopes a key may hold: migration 0014's CHECK
-- (casino_operator_keys_scopes_known). Migration 0016, written on a branch before 0014
-- existed, adds the same list again under the table's first CHECK's name; that copy is
-- dropped here, so the next migration that adds a scope replaces one list, not two. The
-- rule itself does not change: both lists are the same.
ALTER TABLE CASINO_OPERATOR_KEYS
    DROP CONSTRAINT IF EXISTS casino_operator_keys_scopes_check;
