"""Whether a player, a game or a provider is enabled: how the database holds it and how the
back office says it, in one place.

The database holds one encoding (migration 0022): `enabled BOOLEAN NOT NULL` on
CASINO_USERS, CASINO_GAMES and CASINO_GAME_PROVIDERS, and the copies the bet path reads
(CASINO_WALLETS.player_enabled, CASINO_GAME_SESSIONS.game_enabled and .provider_enabled,
derived by triggers). The back office's wire says it as a word, `"status": "active"` or
`"disabled"`, for a player, a game and a provider alike; the word and the column meet only
here.
"""

ACTIVE = "active"
DISABLED = "disabled"
STATUSES = (ACTIVE, DISABLED)


def status(enabled: bool) -> str:
    """The wire's word for a row's `enabled`."""
    return ACTIVE if enabled else DISABLED


def enabled(status: str) -> bool:
    """The `enabled` a wire's word (one of STATUSES, validated by the caller) stands for."""
    return status == ACTIVE


def enabled_filter(status: str | None) -> bool | None:
    """A list's optional status filter as the column's value (None: any)."""
    return None if status is None else enabled(status)
