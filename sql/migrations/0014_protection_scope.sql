-- Operator keys may hold the scope `protection`: players' limits and exclusions
-- (PROTOCOL.md, "Player protection"). The scopes a key may hold are this CHECK's list,
-- replaced whole. Dropped IF EXISTS, the new one included: any migration that adds a
-- scope replaces this same list, and may run before or after this one.
ALTER TABLE CASINO_OPERATOR_KEYS
    DROP CONSTRAINT IF EXISTS casino_operator_keys_scopes_check,
    DROP CONSTRAINT IF EXISTS casino_operator_keys_scopes_known,
    ADD CONSTRAINT casino_operator_keys_scopes_known
        CHECK (scopes <@ ARRAY['lobby', 'test-driver', 'backoffice', 'cashier', 'protection', 'admin']
               AND cardinality(scopes) > 0);
