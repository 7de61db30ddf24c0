"""The credentials the environment gives both systems, read once.

    CASINO_SECRET          provider JAQPOT's key at the casino (key id JAQPOT)
    PROVIDER_SECRET        the casino's key at the provider (key id = CASINO_CODE)
    CASINO_CODE            this casino's code at its providers (default DEMO-CASINO)
    KEYS_ENCRYPTION_KEY    seals the signing secrets kept in the database
    OPERATOR_KEY           the bootstrap operator key, with every scope

Development mode is a server on development secrets (CASINO_SECRET or PROVIDER_SECRET
unset): public defaults stand in for them and for KEYS_ENCRYPTION_KEY, and the server
listens on loopback addresses only.
"""
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .secretbox import SecretBox

DEV_SECRETS = {"CASINO_SECRET": "dev-casino-secret", "PROVIDER_SECRET": "dev-provider-secret"}
DEMO_CASINO_CODE = "DEMO-CASINO"


@dataclass(frozen=True)
class Secrets:
    casino_secret: bytes = field(repr=False)
    provider_secret: bytes = field(repr=False)
    casino_code: str
    operator_key: str | None = field(repr=False)
    on_defaults: tuple[str, ...]    # names of the secrets running on development defaults
    box: SecretBox = field(repr=False)

    @property
    def development(self) -> bool:
        return bool(self.on_defaults)


def read_secrets(environ: Mapping[str, str] = os.environ) -> Secrets:
    """Raises SecretBoxError when KEYS_ENCRYPTION_KEY is missing off development mode, or malformed."""
    on_defaults = tuple(name for name in DEV_SECRETS if not environ.get(name))
    values = {name: (environ.get(name) or default).encode() for name, default in DEV_SECRETS.items()}
    if "KEYS_ENCRYPTION_KEY" not in environ and on_defaults:
        on_defaults += ("KEYS_ENCRYPTION_KEY",)
    return Secrets(values["CASINO_SECRET"], values["PROVIDER_SECRET"],
                   environ.get("CASINO_CODE", DEMO_CASINO_CODE), environ.get("OPERATOR_KEY") or None,
                   on_defaults, SecretBox.from_environment(bool(on_defaults), environ))
