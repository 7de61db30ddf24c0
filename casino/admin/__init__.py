"""The back office's endpoints (/casino/admin/*), on operator keys: each handler validates
(the base handler and its schemas), makes one call of casino/backoffice.py (or of the
service module it names), and renders. By what they serve:

    base.py           AdminHandler: path and query parameters, what a tool's key may write on,
                      the reports' pool, the read-only views' database
    shapes.py         the answers' JSON shapes (players, ledger rows, keys, providers, ...)
    fields.py         the request fields and rules beyond the shared ones of wire/validation.py
    players.py        players and their wallets
    cashier.py        deposits, withdrawals and bonuses
    ledger.py         a player's ledger rows, a round's, the ledger audit
    operator_keys.py  operator keys
    providers.py      providers, their endpoints, v1 switch and signing keys
    games.py          games, their import from a provider's catalogue, game sessions
    protection.py     jurisdictions, limits, exclusions, a player's market and identity
    synthetic.py      retiring a tool's players and providers

Scopes (casino/operators.py): admin for players, wallets, operator keys (within the calling
key's own scopes and origin), providers, games, closing sessions, jurisdictions, a player's
market and identity, and retiring a tool's players; admin and cashier both for a provider's
signing keys, apiEndpoint and v1 switch (operators.PROVIDER_TRUST); cashier for
deposits, withdrawals and bonuses; protection for a player's limits and exclusions; backoffice
for the read-only views (the ledger audit among them), which read through self.read_db: the
replica of DATABASE_READ_URL when set, else the primary.
"""
from .base import AdminHandler
from .cashier import CancelBonusHandler, DepositHandler, GrantBonusHandler, PlayerBonusesHandler, WithdrawalHandler
from .games import (
    CloseSessionHandler,
    CreateGameHandler,
    GameHandler,
    GameLimitsHandler,
    GameStatusHandler,
    ImportGamesHandler,
    SessionsHandler,
)
from .ledger import LedgerAuditHandler, RoundHandler, TransactionsHandler
from .operator_keys import (
    CreateOperatorKeyHandler,
    OperatorKeyScopesHandler,
    OperatorKeysHandler,
    RevokeOperatorKeyHandler,
    RotateOperatorKeyHandler,
)
from .players import CreatePlayerHandler, CreateWalletHandler, ListPlayersHandler, PlayerHandler, PlayerStatusHandler
from .protection import (
    ExclusionsHandler,
    JurisdictionHandler,
    JurisdictionsHandler,
    LimitsHandler,
    PlayerIdentityHandler,
    PlayerJurisdictionHandler,
    ProtectionHistoryHandler,
)
from .providers import (
    AddProviderKeyHandler,
    CreateProviderHandler,
    ProviderHandler,
    ProviderKeysHandler,
    ProviderStatusHandler,
    ProviderV1Handler,
    RevokeProviderKeyHandler,
    RotateProviderKeyHandler,
    SetProviderEndpointHandler,
)
from .synthetic import RetireSyntheticHandler


def routes() -> list[tuple[str, type[AdminHandler]]]:
    """(path, handler) pairs; {name} in a path is a parameter of the handler's `parameters`."""
    return [
        (r"/casino/admin/players", CreatePlayerHandler),
        (r"/casino/admin/wallets", CreateWalletHandler),
        (r"/casino/admin/deposits", DepositHandler),
        (r"/casino/admin/withdrawals", WithdrawalHandler),
        (r"/casino/admin/bonuses", GrantBonusHandler),
        (r"/casino/admin/bonuses/{bonusId}/cancel", CancelBonusHandler),
        (r"/casino/admin/players/{userId}/bonuses", PlayerBonusesHandler),
        (r"/casino/admin/players/{userId}/status", PlayerStatusHandler),
        # Before players/{userId}, whose pattern would take "list" too.
        (r"/casino/admin/players/list", ListPlayersHandler),
        (r"/casino/admin/players/{userId}", PlayerHandler),
        (r"/casino/admin/players/{userId}/transactions", TransactionsHandler),
        (r"/casino/admin/rounds/{providerCode}/{roundId}", RoundHandler),
        (r"/casino/admin/keys", CreateOperatorKeyHandler),
        (r"/casino/admin/keys/list", OperatorKeysHandler),
        (r"/casino/admin/keys/{keyId}/revoke", RevokeOperatorKeyHandler),
        (r"/casino/admin/keys/{keyId}/rotate", RotateOperatorKeyHandler),
        (r"/casino/admin/keys/{keyId}/scopes", OperatorKeyScopesHandler),
        (r"/casino/admin/providers", CreateProviderHandler),
        (r"/casino/admin/providers/{providerCode}", ProviderHandler),
        (r"/casino/admin/providers/{providerCode}/status", ProviderStatusHandler),
        (r"/casino/admin/providers/{providerCode}/v1", ProviderV1Handler),
        (r"/casino/admin/providers/{providerCode}/endpoint", SetProviderEndpointHandler),
        (r"/casino/admin/providers/{providerCode}/keys", AddProviderKeyHandler),
        (r"/casino/admin/providers/{providerCode}/keys/rotate", RotateProviderKeyHandler),
        (r"/casino/admin/providers/{providerCode}/keys/list", ProviderKeysHandler),
        (r"/casino/admin/providers/{providerCode}/keys/{keyId}/revoke", RevokeProviderKeyHandler),
        (r"/casino/admin/games", CreateGameHandler),
        (r"/casino/admin/games/{gameId}", GameHandler),
        (r"/casino/admin/games/{gameId}/limits", GameLimitsHandler),
        (r"/casino/admin/games/{gameId}/status", GameStatusHandler),
        (r"/casino/admin/players/{userId}/sessions", SessionsHandler),
        (r"/casino/admin/sessions/{sessionId}/close", CloseSessionHandler),
        (r"/casino/admin/providers/{providerCode}/games/import", ImportGamesHandler),
        (r"/casino/admin/jurisdictions", JurisdictionsHandler),
        (r"/casino/admin/jurisdictions/{code}", JurisdictionHandler),
        (r"/casino/admin/players/{userId}/limits", LimitsHandler),
        (r"/casino/admin/players/{userId}/exclusions", ExclusionsHandler),
        (r"/casino/admin/players/{userId}/protection-history", ProtectionHistoryHandler),
        (r"/casino/admin/players/{userId}/jurisdiction", PlayerJurisdictionHandler),
        (r"/casino/admin/players/{userId}/identity", PlayerIdentityHandler),
        (r"/casino/admin/synthetic/retire", RetireSyntheticHandler),
        (r"/casino/admin/ledger/audit", LedgerAuditHandler),
    ]
