-- A tool's operator key: a load tool pointed at a deployment (Locust, the bench's HTTP
-- part) holds nothing but an operator key, so what it makes must be marked by the key.
-- A key made with an origin other than 'operator' is that tool's key: every player and
-- provider it creates is marked with its origin (never read from a request body), and a
-- key it makes in turn is the same tool's. 'demo' is not a key's origin: the demo data is
-- made in-process, by no key.
ALTER TABLE CASINO_OPERATOR_KEYS
    ADD COLUMN origin TEXT NOT NULL DEFAULT 'operator'
        CHECK (origin IN ('operator', 'test', 'locust', 'bench'));

-- An origin is set once, when the row is made, and never changed: no verb changes one, and
-- this makes it a rule of the database too, so no later code, key or hand-written UPDATE
-- can label a real player a tool's (which would drop it from the operator's lists and
-- get it retired) or pass a tool's player off as real.
CREATE FUNCTION casino_origin_is_fixed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.origin is set when the row is made and never changed', TG_TABLE_NAME
        USING ERRCODE = 'check_violation';
END;
$$;

CREATE TRIGGER casino_users_origin_fixed
    BEFORE UPDATE OF origin ON CASINO_USERS
    FOR EACH ROW WHEN (OLD.origin IS DISTINCT FROM NEW.origin)
    EXECUTE FUNCTION casino_origin_is_fixed();

CREATE TRIGGER casino_game_providers_origin_fixed
    BEFORE UPDATE OF origin ON CASINO_GAME_PROVIDERS
    FOR EACH ROW WHEN (OLD.origin IS DISTINCT FROM NEW.origin)
    EXECUTE FUNCTION casino_origin_is_fixed();

CREATE TRIGGER casino_operator_keys_origin_fixed
    BEFORE UPDATE OF origin ON CASINO_OPERATOR_KEYS
    FOR EACH ROW WHEN (OLD.origin IS DISTINCT FROM NEW.origin)
    EXECUTE FUNCTION casino_origin_is_fixed();
