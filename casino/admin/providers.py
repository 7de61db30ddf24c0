"""Game providers: register, read, enable or disable, where the casino calls them
(apiEndpoint), their v1 switch and their signing keys."""
from wire.openapi import STRING, obj
from wire.validation import IDENTIFIER

from .. import catalogue, credentials, operators
from ..refusals import documented
from .base import AdminHandler
from .fields import BOOLEAN, ENDPOINT, KEY_ID, NAME, NULLABLE_ENDPOINT, PROVIDER_CODE, SECRET, SIGNER, STATUS
from .shapes import NEW_PROVIDER_KEY, PROVIDER, PROVIDER_KEY, TIMESTAMP


class ProviderEndpointHandler(AdminHandler):
    """A write of a provider's apiEndpoint: its host must resolve to public addresses only
    (or to networks OUTBOUND_ALLOWED_NETWORKS allows), else 422 ENDPOINT_NOT_ALLOWED."""

    async def endpoint_refused(self) -> str | None:
        return await self.address_refused(self.body["apiEndpoint"])


class CreateProviderHandler(ProviderEndpointHandler):
    operator_scope = "admin"
    summary = ("Registers a game provider (active, v1 signatures off, no keys, origin: the key's, operator "
               "for an operator's key); no apiEndpoint: hosted here; an apiEndpoint must be http(s) at a "
               "public address")
    status = 201
    answer = PROVIDER
    refusals = documented("createProvider")
    # The origin is the key's, as for players: never the body's.
    schema = {"providerCode": PROVIDER_CODE, "name": NAME, "apiEndpoint": ENDPOINT.optional()}

    async def post(self) -> None:
        refused = await self.endpoint_refused()
        self.render_answer(await self.db.transaction(catalogue.create_provider, self.operator.key_id, self.body,
                                                     self.operator.origin, refused))


class SetProviderEndpointHandler(ProviderEndpointHandler):
    writes_on = ("provider", "providerCode")
    operator_scope = operators.PROVIDER_TRUST
    summary = ("Changes where the casino calls a provider (null: hosted here), from its next call; an http(s) URL "
               "at a public address")
    answer = PROVIDER
    refusals = documented("setProviderEndpoint")
    parameters = {"providerCode": IDENTIFIER}
    schema = {"apiEndpoint": NULLABLE_ENDPOINT}

    async def post(self, **_: str) -> None:
        refused = await self.endpoint_refused()
        self.render_answer(await self.db.transaction(catalogue.set_provider_endpoint, self.operator.key_id,
                                                     self.params["providerCode"], self.body, refused))


class ProviderHandler(AdminHandler):
    operator_scope = "backoffice"
    summary = "A game provider"
    answer = PROVIDER
    refusals = documented("getProvider")
    parameters = {"providerCode": IDENTIFIER}

    async def get(self, **_: str) -> None:
        self.render_answer(await self.db.transaction(catalogue.get_provider, self.params["providerCode"]))


class ProviderStatusHandler(AdminHandler):
    writes_on = ("provider", "providerCode")
    operator_scope = "admin"
    summary = "Enables or disables a provider (a disabled provider's games neither launch nor take bets)"
    answer = PROVIDER
    refusals = documented("setProviderStatus")
    parameters = {"providerCode": IDENTIFIER}
    schema = {"status": STATUS}

    async def post(self, **_: str) -> None:
        self.render_answer(await self.db.transaction(catalogue.set_provider_status, self.operator.key_id,
                                                     self.params["providerCode"], self.body))


class ProviderV1Handler(AdminHandler):
    writes_on = ("provider", "providerCode")
    operator_scope = operators.PROVIDER_TRUST
    summary = "Accepts body-only (v1) signatures from the provider's keys, or not"
    answer = PROVIDER
    refusals = documented("setProviderV1")
    parameters = {"providerCode": IDENTIFIER}
    schema = {"allowed": BOOLEAN}

    async def post(self, **_: str) -> None:
        self.render_answer(await self.db.transaction(catalogue.set_provider_v1, self.operator.key_id,
                                                     self.params["providerCode"], self.body))


class AddProviderKeyHandler(AdminHandler):
    writes_on = ("provider", "providerCode")
    operator_scope = operators.PROVIDER_TRUST
    summary = ("Adds an active HMAC key (signer provider: its callbacks; casino: our calls to it); `secret` is "
               "shown in this answer only")
    status = 201
    answer = NEW_PROVIDER_KEY
    refusals = documented("addProviderKey")
    parameters = {"providerCode": IDENTIFIER}
    schema = {"signer": SIGNER.optional(), "keyId": KEY_ID.optional(), "secret": SECRET.optional()}
    action = "addProviderKey"

    async def post(self, **_: str) -> None:
        reserved = credentials.EnvironmentKeys(None, None, self.settings["casino_code"]).reserved_kids
        answer = await self.db.transaction(catalogue.add_provider_key, self.operator.key_id,
                                           self.settings["keys_box"], reserved, self.params["providerCode"],
                                           self.body, self.action)
        self.settings["casino_keys"].keys.invalidate()     # it signs (or is signed with) at once here
        self.render_answer(answer)


class RotateProviderKeyHandler(AddProviderKeyHandler):
    summary = ("Starts a rotation: a new key (secret shown once) beside the active ones, listed in stillActive "
               "to revoke once the other side uses the new one")
    refusals = documented("rotateProviderKey")
    action = "rotateProviderKey"


class RevokeProviderKeyHandler(AdminHandler):
    writes_on = ("provider", "providerCode")
    operator_scope = operators.PROVIDER_TRUST
    summary = ("Revokes a provider key by its id (signer: only when a casino key and a provider key share it); "
               "every process refuses it within KEY_REFRESH_SECONDS")
    answer = obj(providerCode=STRING, keyId=STRING, signer={"enum": list(credentials.SIGNERS)}, revokedAt=TIMESTAMP)
    refusals = documented("revokeProviderKey")
    parameters = {"providerCode": IDENTIFIER, "keyId": IDENTIFIER}
    schema = {"signer": SIGNER.optional()}

    async def post(self, **_: str) -> None:
        self.render_answer(await self.db.transaction(catalogue.revoke_provider_key, self.operator.key_id,
                                                     self.params["providerCode"], self.params["keyId"], self.body))


class ProviderKeysHandler(AdminHandler):
    operator_scope = "admin"
    summary = "A provider's keys, active and revoked, and its v1 flag (never a secret)"
    answer = obj(providerCode=STRING, allowsV1={"type": "boolean"}, keys={"type": "array", "items": PROVIDER_KEY})
    refusals = documented("listProviderKeys")
    parameters = {"providerCode": IDENTIFIER}

    async def get(self, **_: str) -> None:
        self.render_answer(await self.db.transaction(catalogue.list_provider_keys, self.params["providerCode"]))
