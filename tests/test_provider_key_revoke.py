"""A provider key is revoked by its id alone: the link a key's creation answers with
(/casino/admin/providers/{code}/keys/{keyId}/revoke) works for a casino key as for a
provider key. The signer is named only to choose between two keys sharing an id."""
import uuid

from tests.support import back_office, error_code


def provider(api):
    code = "RV-" + uuid.uuid4().hex[:8].upper()
    assert back_office(api, "POST", "providers", {"providerCode": code, "name": "Revoked"}).status_code == 201
    return code


def add(api, code, **fields):
    r = back_office(api, "POST", f"providers/{code}/keys", fields)
    assert r.status_code == 201, r.text
    return r.json()


def active(api, code):
    return {(k["keyId"], k["signer"]) for k in back_office(api, "GET", f"providers/{code}/keys/list").json()["keys"]
            if k["revokedAt"] is None}


def test_a_key_made_over_the_api_is_revoked_by_its_id_alone(api):
    code = provider(api)
    for signer in ("casino", "provider"):
        created = add(api, code, signer=signer)
        r = back_office(api, "POST", f"providers/{code}/keys/{created['keyId']}/revoke", {})
        assert r.status_code == 200, r.text
        assert (r.json()["keyId"], r.json()["signer"]) == (created["keyId"], signer)
    assert active(api, code) == set()
    again = back_office(api, "POST", f"providers/{code}/keys/{created['keyId']}/revoke", {})
    assert (again.status_code, error_code(again)) == (404, "PROVIDER_KEY_NOT_FOUND")
    assert again.json()["error"]["message"] == "the provider has no active key with that id"


def test_two_keys_sharing_an_id_are_told_apart_by_their_signer(api, ledger):
    code = provider(api)
    kid = "shared-" + uuid.uuid4().hex[:8]
    add(api, code, signer="casino", keyId=kid)
    add(api, code, signer="provider", keyId=kid)
    both = back_office(api, "POST", f"providers/{code}/keys/{kid}/revoke", {})
    assert (both.status_code, error_code(both)) == (409, "PROVIDER_KEY_AMBIGUOUS")
    assert active(api, code) == {(kid, "casino"), (kid, "provider")}
    named = back_office(api, "POST", f"providers/{code}/keys/{kid}/revoke", {"signer": "casino"})
    assert (named.status_code, named.json()["signer"]) == (200, "casino")
    # One left with that id: the id suffices again.
    alone = back_office(api, "POST", f"providers/{code}/keys/{kid}/revoke", {})
    assert (alone.status_code, alone.json()["signer"]) == (200, "provider")
    assert ledger.query("""SELECT response_status, request->>'signer' FROM CASINO_ADMIN_AUDIT
                           WHERE action = 'revokeProviderKey' AND request->>'keyId' = %s ORDER BY id""", kid) == [
        (409, None), (200, "casino"), (200, "provider")]
