"""Operator keys: make, list, rotate, change scopes, revoke -- each within the calling
key's own scopes and origin."""
from collections.abc import Callable
from typing import Any

from wire.openapi import STRING, obj
from wire.validation import IDENTIFIER, LABEL, one_of

from .. import backoffice, operators
from ..refusals import documented
from ..wallet import Outcome
from .base import AdminHandler
from .fields import BOOLEAN, SCOPE_LIST
from .shapes import OPERATOR_KEY, TIMESTAMP


class OperatorKeyHandler(AdminHandler):
    """A write to operator keys: scope admin, and only within the calling key's own scopes
    (403 FORBIDDEN, audited, nothing written)."""
    operator_scope = "admin"

    async def within(self, verb: Callable[..., Outcome], *args: Any) -> Outcome:
        """verb(cursor, the calling key's id, its scopes, its origin, *args), in a transaction."""
        answer = await self.db.transaction(verb, self.operator.key_id, self.operator.scopes, self.operator.origin,
                                           *args)
        # A key made (or changed) here works at once here, whatever ids were asked for in
        # vain a moment ago (wire/keyring.py, Refreshed.find).
        self.settings["operators"].keys.invalidate()
        return answer


class CreateOperatorKeyHandler(OperatorKeyHandler):
    summary = ("Creates an operator key with scopes the calling key holds itself, an operator's or (origin) a "
               "tool's, whose players and providers are marked as that tool's; `key` (id.secret) is shown in "
               "this answer only")
    status = 201
    answer = obj(**OPERATOR_KEY["properties"], key=STRING)
    refusals = documented("createOperatorKey")
    # origin: only an operator's key makes a tool's key; a tool's key makes its own tool's
    # (403 FORBIDDEN for any other), so no key makes keys that mark rows other than as it does.
    schema = {"scopes": SCOPE_LIST, "label": LABEL.optional(), "origin": one_of(*operators.KEY_ORIGINS).optional()}

    async def post(self) -> None:
        self.render_answer(await self.within(backoffice.create_operator_key, self.body))


class OperatorKeysHandler(AdminHandler):
    operator_scope = "admin"
    summary = "Every operator key, active and revoked, with its origin (a tool's key or not; never a secret)"
    answer = obj(keys={"type": "array", "items": OPERATOR_KEY})
    refusals = documented("listOperatorKeys")

    async def get(self) -> None:
        self.render_answer(await self.db.transaction(backoffice.list_operator_keys))


class RotateOperatorKeyHandler(OperatorKeyHandler):
    summary = ("A new key with the same scopes (and label unless given), `key` shown in this answer only; the old "
               "one (`replaces`) stays active until revoked, or is revoked at once with revokeOld")
    status = 201
    answer = obj(**OPERATOR_KEY["properties"], key=STRING, replaces=OPERATOR_KEY)
    refusals = documented("rotateOperatorKey")
    parameters = {"keyId": IDENTIFIER}
    schema = {"label": LABEL.optional(), "revokeOld": BOOLEAN.optional()}

    async def post(self, **_: str) -> None:
        self.render_answer(await self.within(backoffice.rotate_operator_key, self.params["keyId"], self.body))


class OperatorKeyScopesHandler(OperatorKeyHandler):
    summary = ("Replaces an operator key's scopes (every process uses them within KEY_REFRESH_SECONDS); its scopes "
               "and the new ones must be among the calling key's")
    answer = OPERATOR_KEY
    refusals = documented("setOperatorKeyScopes")
    parameters = {"keyId": IDENTIFIER}
    schema = {"scopes": SCOPE_LIST}

    async def post(self, **_: str) -> None:
        self.render_answer(await self.within(backoffice.set_operator_key_scopes, self.params["keyId"], self.body))


class RevokeOperatorKeyHandler(OperatorKeyHandler):
    summary = ("Revokes an operator key holding no scope the calling key lacks (every process refuses it within "
               "KEY_REFRESH_SECONDS)")
    answer = obj(keyId=STRING, revokedAt=TIMESTAMP)
    refusals = documented("revokeOperatorKey")
    parameters = {"keyId": IDENTIFIER}

    async def post(self, **_: str) -> None:
        self.render_answer(await self.within(backoffice.revoke_operator_key, self.params["keyId"]))
