"""The provider's HMAC keys per casino: loaded for the key ring, and managed (add, rotate,
revoke, v1 on/off) by `python -m provider.keys`.

signer 'casino':   the casino signs its calls to the provider (x-provider-signature) with it.
signer 'provider': the provider signs its callbacks to that casino (x-casino-signature).

The environment's pair is the demo's: PROVIDER_SECRET is casino DEMO-CASINO's key (key id
= CASINO_CODE), CASINO_SECRET the provider's key at that casino (key id JAQPOT). Database
keys sign in preference to it (the newest first), so a rotation can move off it.
"""
import secrets

from wire.keyring import Key, KeyRing, KeySet

SIGNERS = ("casino", "provider")
OWN_CODE_AT_CASINOS = "JAQPOT"   # the key id the demo casino knows this provider's key by

CASINO_BY_CODE = "SELECT id, allows_v1, callback_url FROM PROVIDER_CASINOS WHERE casino_code = %s"

ENSURE_CASINO = """
    INSERT INTO PROVIDER_CASINOS (casino_code) VALUES (%s)
    ON CONFLICT (casino_code) DO UPDATE SET casino_code = EXCLUDED.casino_code
    RETURNING id
"""

ACTIVE_KEYS = """
    SELECT k.key_id, k.signer, k.secret_sealed, c.id, c.casino_code, c.allows_v1, c.callback_url
    FROM PROVIDER_CASINO_KEYS k
    JOIN PROVIDER_CASINOS c ON c.id = k.casino_id
    WHERE k.revoked_at IS NULL
    ORDER BY k.created_at, k.id
"""

ADD_KEY = """
    INSERT INTO PROVIDER_CASINO_KEYS (casino_id, signer, key_id, secret_sealed)
    VALUES (%s, %s, %s, %s)
"""

REVOKE_KEY = """
    UPDATE PROVIDER_CASINO_KEYS SET revoked_at = now()
    WHERE key_id = %s AND signer = %s AND revoked_at IS NULL
    RETURNING casino_id
"""

LIST_KEYS = """
    SELECT c.casino_code, k.signer, k.key_id, k.created_at, k.revoked_at, c.allows_v1
    FROM PROVIDER_CASINO_KEYS k
    JOIN PROVIDER_CASINOS c ON c.id = k.casino_id
    WHERE %(code)s::text IS NULL OR c.casino_code = %(code)s
    ORDER BY c.casino_code, k.created_at, k.id
"""

SET_V1 = "UPDATE PROVIDER_CASINOS SET allows_v1 = %s WHERE casino_code = %s RETURNING id"

V1_CASINOS = "SELECT casino_code FROM PROVIDER_CASINOS WHERE allows_v1 ORDER BY casino_code"


def sealing_context(casino_id, signer, kid):
    return f"PROVIDER_CASINO_KEYS:{casino_id}:{signer}:{kid}"


def load_keys(cur, box, demo_casino_key, key_at_demo_casino, demo_casino_code, development=False) -> KeySet:
    """development: the demo casino without a row of its own may sign v1 (the brief's flow)
    on development secrets only; elsewhere v1 is off until an operator turns it on."""
    verifying, signing = [], []
    cur.execute(CASINO_BY_CODE, (demo_casino_code,))
    demo = cur.fetchone()
    demo_id, demo_v1, demo_url = demo if demo else (None, development, None)
    if demo_casino_key:
        verifying.append(Key(demo_casino_code, demo_casino_code, demo_id, demo_casino_key, demo_v1))
    if key_at_demo_casino:
        signing.append(Key(OWN_CODE_AT_CASINOS, demo_casino_code, demo_id, key_at_demo_casino, endpoint=demo_url))
    cur.execute(ACTIVE_KEYS)
    for kid, signer, sealed, casino_id, code, allows_v1, callback_url in cur.fetchall():
        secret = box.open(sealed, sealing_context(casino_id, signer, kid))
        if signer == "casino":
            verifying.append(Key(kid, code, casino_id, secret, allows_v1))
        else:
            signing.append(Key(kid, code, casino_id, secret, endpoint=callback_url))
    return KeySet.of(verifying, signing)


def add_key(cur, box, reserved_kids, casino_code, signer, kid=None, secret=None):
    """A new active key (the casino is registered on first use); returns (kid, secret)."""
    if kid in reserved_kids:
        raise ValueError(f"key id {kid} is the environment's demo key")
    cur.execute(ENSURE_CASINO, (casino_code,))
    casino_id = cur.fetchone()[0]
    kid = kid or f"{casino_code}-{secrets.token_hex(4)}"
    secret = secret or secrets.token_urlsafe(32)
    cur.execute(ADD_KEY, (casino_id, signer, kid, box.seal(secret.encode(), sealing_context(casino_id, signer, kid))))
    return kid, secret


def revoke_key(cur, kid, signer):
    cur.execute(REVOKE_KEY, (kid, signer))
    return cur.fetchone() is not None


def list_keys(cur, casino_code=None):
    cur.execute(LIST_KEYS, {"code": casino_code})
    return cur.fetchall()


def set_v1(cur, casino_code, allowed):
    cur.execute(ENSURE_CASINO, (casino_code,))
    cur.execute(SET_V1, (allowed, casino_code))


def v1_casinos(cur):
    """Codes of the casinos whose keys may sign v1 at the provider."""
    cur.execute(V1_CASINOS)
    return [code for code, in cur.fetchall()]


def reserved_kids(secrets):
    return {secrets.casino_code, OWN_CODE_AT_CASINOS}


def keyring(db, secrets, refresh_seconds=1.0, tolerance=300):
    """The provider's key ring: verifies x-provider-signature, signs calls to casinos."""
    return KeyRing(db, lambda cur: load_keys(cur, secrets.box, secrets.provider_secret, secrets.casino_secret,
                                             secrets.casino_code, secrets.development),
                   "x-provider-signature", refresh_seconds, tolerance, "provider signing keys")
