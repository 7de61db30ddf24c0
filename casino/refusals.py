"""Every refusal a casino endpoint can answer, written once, in the order they win.

Each is a protocol code with its HTTP status, its message (a template: `%s` are filled by
the rule that refuses), whether a money call stores it as its answer (and replays it),
and the calls that can answer it. What reads this:

  - the SQL functions, through the table CASINO_REFUSALS (migration 0008), filled by the
    repeatable file sql/functions/casino_refusals.sql that this module generates;
  - the handlers' documented refusals (`documented(call)`), hence the OpenAPI document;
  - the Python services that refuse (`error(code)`), and the README's table.

    python -m casino.refusals --sql    > sql/functions/casino_refusals.sql
    python -m casino.refusals --readme   # the README's table (between its refusals markers)

tests/test_refusals.py fails when a generated copy is stale, when the table differs, or
when a function returns a code that is not here.
"""
import sys
from dataclasses import dataclass

from wire.errors import ApiError

MONEY = ("debit", "credit", "rollback")
CALLBACKS = ("getBalance",) + MONEY
LAUNCH = ("launchGame", "simulateRound")
# The back office (/casino/admin/*): the cashier's two money calls, then the rest.
CASHIER = ("deposit", "withdrawal")
# Bonus money: a grant is idempotent by reference like the cashier's calls.
BONUS_CALLS = ("grantBonus", "cancelBonus", "listBonuses")
PLAYER_CALLS = ("setPlayerStatus", "getPlayer", "listTransactions")
# Player protection: limits and exclusions (scope protection; reads backoffice), a player's
# market and identity (admin).
PROTECTION_CALLS = ("getLimits", "setLimit", "createExclusion", "listExclusions", "getProtectionHistory",
                    "setPlayerJurisdiction", "setPlayerIdentity")
PROVIDER_CALLS = ("importGames", "setProviderStatus", "getProvider", "setProviderV1", "setProviderEndpoint",
                  "addProviderKey", "rotateProviderKey", "revokeProviderKey", "listProviderKeys", "createGame",
                  "setProviderRevenueShare", "providerInvoice", "createReconciliation", "listReconciliations")
GAME_CALLS = ("getGame", "setGameLimits", "setGameStatus")
# Reports and reconciliation (casino/reports.py, casino/reconciliation.py).
REPORTS = ("ggrReport", "playerFunds", "providerInvoice", "largeWins")


@dataclass(frozen=True)
class Refusal:
    code: str
    status: int
    message: str
    stored: bool
    calls: tuple

    def error(self, *details: object) -> ApiError:
        return ApiError(self.status, self.code, self.message % details if details else self.message)


# Money calls: the first three are decided before any rule and store nothing; then, for a
# debit, the order its rules are applied in (README, "Order of debit checks").
CATALOGUE = (
    Refusal("SESSION_NOT_FOUND", 404, "no session with that token", False, CALLBACKS),
    Refusal("PROVIDER_MISMATCH", 403, "the session belongs to another provider's game", False, CALLBACKS),
    Refusal("IDEMPOTENCY_CONFLICT", 409, "transactionId was already used for a different request", False,
            MONEY + CASHIER + ("grantBonus",)),
    Refusal("TRANSACTION_ROLLED_BACK", 409, "a rollback cancelled this transactionId, or the bet it pays",
            True, MONEY),
    Refusal("USER_MISMATCH", 403, "the session belongs to another user", True, CALLBACKS),
    Refusal("PLAYER_DISABLED", 403, "the player is disabled", True, ("debit",) + LAUNCH),
    Refusal("PLAYER_EXCLUDED", 403, "the player is excluded %s", True,
            ("debit",) + LAUNCH + ("deposit", "grantBonus")),
    Refusal("GAME_DISABLED", 403, "the game is disabled", True, ("debit",) + LAUNCH),
    Refusal("PROVIDER_DISABLED", 403, "the game's provider is disabled", True, ("debit",) + LAUNCH),
    Refusal("SESSION_INACTIVE", 403, "the session is closed or has expired", True, ("debit",)),
    Refusal("CURRENCY_MISMATCH", 422, "the session's wallet is in %s, not %s", True, ("debit", "credit")),
    Refusal("BET_LIMIT_EXCEEDED", 422, "bets on this game are from %s to %s", True, ("debit",)),
    # A player's own limits (README, "Player protection"): after the game's, before funds.
    Refusal("WAGER_LIMIT_REACHED", 403, "this bet would take the %s's wagering past the player's limit", True,
            ("debit",)),
    Refusal("LOSS_LIMIT_REACHED", 403, "this bet could take the %s's losses past the player's limit", True,
            ("debit",)),
    Refusal("INSUFFICIENT_FUNDS", 422, "the balance does not cover the bet", True, ("debit", "withdrawal")),
    Refusal("ROUND_NOT_FOUND", 404, "the round holds no accepted bet of this wallet", True, ("credit",)),
    Refusal("BET_NOT_FOUND", 409, "no accepted bet of this round and wallet has that id", True,
            ("credit", "rollback")),
    Refusal("ROLLBACK_NOT_ALLOWED", 409, "only a bet of a round without a payout can be rolled back", True,
            ("rollback",)),
    # A deposit's protection rules, in the order they win after PLAYER_EXCLUDED; then the
    # balance limit. A register that cannot be asked is an outage, not an answer: not stored.
    Refusal("PLAYER_IDENTITY_MISSING", 422,
            "the player's jurisdiction asks an exclusion register, which needs their first name, last name, "
            "date of birth and postcode", True, LAUNCH + ("deposit",)),
    Refusal("EXCLUSION_CHECK_UNAVAILABLE", 503, "the external self-exclusion register could not be asked; retry later",
            False, LAUNCH + ("deposit",)),
    Refusal("DEPOSIT_LIMIT_REQUIRED", 422,
            "the player's jurisdiction requires a deposit limit in force (before a deposit; the last one stays)", True,
            ("deposit", "setLimit")),
    Refusal("DEPOSIT_LIMIT_REACHED", 422, "this deposit would take the %s's deposits past the player's limit", True,
            ("deposit",)),
    Refusal("BALANCE_LIMIT_EXCEEDED", 422, "the balance would pass 2^53-1", True,
            ("credit", "rollback", "deposit", "grantBonus")),
    # Reconciliation.
    Refusal("TRANSACTION_NOT_FOUND", 404, "the casino has no record of that transactionId", False,
            ("transactionStatus",)),
    # Launching a game (nothing stored: a launch is not idempotent by itself).
    Refusal("USER_NOT_FOUND", 404, "no such user", False,
            LAUNCH + CASHIER + ("createWallet", "listSessions") + PLAYER_CALLS + PROTECTION_CALLS
            + ("grantBonus", "listBonuses")),
    Refusal("GAME_NOT_FOUND", 404, "no such game", False, LAUNCH + GAME_CALLS),
    Refusal("WALLET_NOT_FOUND", 404, "the user has no %s wallet", False, LAUNCH + CASHIER + ("setLimit", "grantBonus")),
    Refusal("PROVIDER_UNAVAILABLE", 502, "the game provider refused or did not answer", False,
            LAUNCH + ("importGames", "createReconciliation")),
    Refusal("TOO_MANY_REQUESTS", 429, "more than %s %s at once in this process; retry shortly", False,
            ("simulateRound", "ledgerAudit")),
    # The back office (nothing stored but the cashier's refusals above).
    Refusal("PLAYER_EXISTS", 409, "a player with that username or e-mail exists", False, ("createPlayer",)),
    Refusal("WALLET_EXISTS", 409, "the user has a %s wallet already", False, ("createWallet",)),
    Refusal("ROUND_UNKNOWN", 404, "the ledger holds no row of that provider's round", False, ("getRound",)),
    Refusal("KEY_NOT_FOUND", 404, "no active operator key has that id", False,
            ("revokeOperatorKey", "rotateOperatorKey", "setOperatorKeyScopes")),
    Refusal("ENDPOINT_NOT_ALLOWED", 422, "apiEndpoint refused: %s; a provider is called at public addresses "
            "only, unless OUTBOUND_ALLOWED_NETWORKS allows its network", False,
            ("createProvider", "setProviderEndpoint")),
    Refusal("PROVIDER_EXISTS", 409, "a provider with that code exists", False, ("createProvider",)),
    Refusal("PROVIDER_NOT_FOUND", 404, "no provider has that code", False, PROVIDER_CALLS),
    Refusal("PROVIDER_KEY_EXISTS", 409, "a %s key with that id exists, or it is the environment's demo key id",
            False, ("addProviderKey", "rotateProviderKey")),
    Refusal("PROVIDER_KEY_NOT_FOUND", 404, "the provider has no active %s key with that id", False,
            ("revokeProviderKey",)),
    Refusal("GAME_EXISTS", 409, "the provider has a game with that providerGameId", False, ("createGame",)),
    Refusal("BET_LIMITS_INVALID", 422, "minBet must not exceed maxBet", False, ("createGame", "setGameLimits")),
    Refusal("SESSION_UNKNOWN", 404, "no game session has that id", False, ("closeSession",)),
    # Player protection's back office.
    Refusal("JURISDICTION_NOT_FOUND", 404, "no jurisdiction has that code", False,
            ("getJurisdiction", "createPlayer", "setPlayerJurisdiction")),
    Refusal("EXCLUSION_ACTIVE", 409, "a %s runs %s: it can be extended, never shortened or lifted", False,
            ("createExclusion",)),
    Refusal("EXCLUSION_PERIOD_INVALID", 422, "a %s in %s lasts from %s to %s", False, ("createExclusion",)),
    # Reports and reconciliation.
    Refusal("PERIOD_INVALID", 422, "%s", False, REPORTS + ("createReconciliation",)),
    Refusal("RECONCILIATION_NOT_FOUND", 404, "no reconciliation has that id", False, ("getReconciliation",)),
    # Bonus money: a grant's refusals are stored as its reference's answer, like a deposit's
    # (after the reference's stored answer, in the order PLAYER_EXCLUDED, these two, then
    # BALANCE_LIMIT_EXCEEDED); a cancel's are not.
    Refusal("BONUS_EXPIRY_PASSED", 422, "expiresAt must be later than now", True, ("grantBonus",)),
    Refusal("BONUS_ACTIVE", 409, "the wallet has an active bonus (bonusId %s)", True, ("grantBonus",)),
    Refusal("BONUS_NOT_FOUND", 404, "no bonus has that id", False, ("cancelBonus",)),
    Refusal("BONUS_NOT_ACTIVE", 409, "the bonus has ended (%s)", False, ("cancelBonus",)),
)
BY_CODE = {r.code: r for r in CATALOGUE}


def error(code, *details):
    """The ApiError of a refusal, its message filled with details."""
    return BY_CODE[code].error(*details)


def documented(call):
    """{status: [codes]} a call can be refused with: a handler's `refusals`."""
    statuses: dict[int, list[str]] = {}
    for refusal in CATALOGUE:
        if call in refusal.calls:
            statuses.setdefault(refusal.status, []).append(refusal.code)
    return statuses


def _literal(text):
    return "'" + text.replace("'", "''") + "'"


def sql():
    rows = ",\n".join(f"    ({_literal(r.code)}, {r.status}, {_literal(r.message)}, {str(r.stored).lower()})"
                      for r in CATALOGUE)
    return f"""-- The catalogue of refusals, generated from casino/refusals.py: do not edit; regenerate with
--     python -m casino.refusals --sql > sql/functions/casino_refusals.sql
-- (a test fails when this file is stale). Repeatable: re-applied whenever it changes.

INSERT INTO CASINO_REFUSALS (code, status, message, stored) VALUES
{rows}
ON CONFLICT (code) DO UPDATE SET status = EXCLUDED.status, message = EXCLUDED.message, stored = EXCLUDED.stored;

DELETE FROM CASINO_REFUSALS WHERE code NOT IN ({", ".join(_literal(r.code) for r in CATALOGUE)});
"""


README_BEGIN = "<!-- refusals: generated by python -m casino.refusals --readme -->"
README_END = "<!-- end of refusals -->"


def readme():
    lines = [README_BEGIN, "",
             "| code | status | stored | calls | message |", "|---|---|---|---|---|"]
    for r in CATALOGUE:
        lines.append(f"| `{r.code}` | {r.status} | {'yes' if r.stored else 'no'} | {', '.join(r.calls)} "
                     f"| {r.message.replace('%s', '…')} |")
    return "\n".join(lines + ["", README_END]) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--sql"]:
        sys.stdout.write(sql())
    elif sys.argv[1:] == ["--readme"]:
        sys.stdout.write(readme())
    else:
        sys.exit("usage: python -m casino.refusals --sql | --readme")
