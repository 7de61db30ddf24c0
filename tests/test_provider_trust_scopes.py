"""A provider's money-relevant writes need admin and cashier both (operators.PROVIDER_TRUST):
its signing keys (add, rotate, revoke), its apiEndpoint and its v1 switch. The review's
attack: an admin-only key gave a provider a key of its own, signed that provider's payout
and paid itself -- a deposit the same key is refused. Each write is refused 403 FORBIDDEN
to a key lacking either scope, and nothing changes: no key row, the endpoint and the v1
flag as they were, the balance untouched."""
import uuid

import pytest

from casino import operators
from tests.support import back_office
from tests.support import Admin, key_with
from tests.support import error_code as code

pytestmark = pytest.mark.usefixtures("clean_audit")

PUBLIC = "https://93.184.216.34/api"


def state(ledger, provider_code):
    return ledger.query("""SELECT p.api_endpoint, p.allows_v1,
                                  (SELECT array_agg((k.key_id, k.signer, k.revoked_at IS NULL)::text ORDER BY k.id)
                                   FROM CASINO_PROVIDER_KEYS k WHERE k.provider_id = p.id)
                           FROM CASINO_GAME_PROVIDERS p WHERE p.code = %s""", provider_code)


def writes(provider_code, kid):
    return [(f"providers/{provider_code}/keys", {"signer": "provider", "secret": "s" * 32}),
            (f"providers/{provider_code}/keys/rotate", {"signer": "provider"}),
            (f"providers/{provider_code}/keys/{kid}/revoke", {}),
            (f"providers/{provider_code}/endpoint", {"apiEndpoint": PUBLIC}),
            (f"providers/{provider_code}/v1", {"allowed": True})]


@pytest.fixture
def arranged(api, ledger):
    provider_code = "TRUST-" + uuid.uuid4().hex[:8]
    assert back_office(api, "POST", "providers", {"providerCode": provider_code, "name": "Trust"}).status_code == 201
    added = back_office(api, "POST", f"providers/{provider_code}/keys", {"signer": "provider"})
    assert added.status_code == 201, added.text
    return provider_code, added.json()["keyId"]


@pytest.mark.parametrize("scopes", [("admin",), ("cashier",),
                                    tuple(s for s in operators.SCOPES if s != "cashier"),
                                    tuple(s for s in operators.SCOPES if s != "admin")])
def test_a_key_lacking_admin_or_cashier_changes_no_providers_trust(api, ledger, arranged, scopes):
    provider_code, kid = arranged
    key = key_with(ledger, *scopes)
    before = state(ledger, provider_code)
    for path, body in writes(provider_code, kid):
        r = Admin(api, key).post(path, body)
        assert (r.status_code, code(r)) == (403, "FORBIDDEN"), (path, r.text)
        lacking = [s for s in operators.PROVIDER_TRUST if s not in scopes]
        assert r.json()["error"]["message"] == "this key lacks the scope " + " and ".join(f"'{s}'" for s in lacking)
        assert "secret" not in r.json()
    assert state(ledger, provider_code) == before
    # Refused before the call ran: nothing audited under the key.
    assert ledger.query("SELECT count(*) FROM CASINO_ADMIN_AUDIT WHERE operator_key_id = %s",
                        key.split(".")[0]) == [(0,)]


def test_the_reviews_attack_an_admin_only_key_cannot_pay_itself(api, ledger):
    """Its own provider and game it may make (admin); a key to sign that provider's
    callbacks it may not, so no payout of its can be signed, and no balance moves."""
    admin = Admin(api, key_with(ledger, "admin"), ledger)
    _, wallets = ledger.player(funds=1_000)
    wallet_id = wallets["USD"]
    provider_code = "TRUST-" + uuid.uuid4().hex[:8]
    assert admin.post("providers", {"providerCode": provider_code, "name": "Mine"}).status_code == 201
    r = admin.post(f"providers/{provider_code}/keys", {"signer": "provider", "keyId": "mine",
                                                       "secret": "a-secret-i-chose-" + uuid.uuid4().hex})
    assert (r.status_code, code(r)) == (403, "FORBIDDEN")
    assert ledger.query("""SELECT count(*) FROM CASINO_PROVIDER_KEYS k JOIN CASINO_GAME_PROVIDERS p
                           ON p.id = k.provider_id WHERE p.code = %s""", provider_code) == [(0,)]
    assert (admin.post(f"providers/{provider_code}/v1", {"allowed": True}).status_code,
            state(ledger, provider_code)[0][1]) == (403, False)
    assert ledger.balance(wallet_id) == (1_000, 1_000)


def test_a_key_holding_admin_and_cashier_writes_them_all(api, ledger, arranged):
    provider_code, kid = arranged
    both = Admin(api, key_with(ledger, *operators.PROVIDER_TRUST))
    statuses = [both.post(path, body).status_code for path, body in writes(provider_code, kid)]
    assert statuses == [201, 201, 200, 200, 200]
    endpoint, allows_v1, keys = state(ledger, provider_code)[0]
    assert (endpoint, allows_v1, len(keys)) == (PUBLIC, True, 3)


def test_the_document_states_both_scopes(api):
    document = api.http.get(f"{api.base_url}/openapi.json", timeout=30).json()
    for path, verb in (("/casino/admin/providers/{providerCode}/keys", "post"),
                       ("/casino/admin/providers/{providerCode}/keys/rotate", "post"),
                       ("/casino/admin/providers/{providerCode}/keys/{keyId}/revoke", "post"),
                       ("/casino/admin/providers/{providerCode}/endpoint", "post"),
                       ("/casino/admin/providers/{providerCode}/v1", "post")):
        assert document["paths"][path][verb]["description"] == \
            "Needs an operator key with the scopes `admin` and `cashier`."
    assert document["paths"]["/casino/admin/providers"]["post"]["description"] == \
        "Needs an operator key with the scope `admin`."
