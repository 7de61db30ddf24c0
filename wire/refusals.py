"""Every refusal either system answers: one type, one catalogue, and the order each call's
refusals win in.

A refusal is a `Refused`, whichever layer refuses: the base handler (a bad signature, a
malformed body), a SQL function's reply (casino/wallet.py turns its row into one, keeping
the stored bytes), a back-office verb (which returns it, so its audit row commits with it),
the launch and the provider (which raise it). Each is made from the catalogue: a code, its
HTTP status, its message (a template whose `%s` the refuser fills, so the words fit the
call: a withdrawal's INSUFFICIENT_FUNDS names the withdrawal, not a bet) and whether a
money call stores it as its answer. A code both systems answer (SESSION_NOT_FOUND,
IDEMPOTENCY_CONFLICT, ...) is written once, in SHARED.

PRECEDENCE states, per call, the conditions that refuse it in the order they win: the first
that holds answers. The code follows that order (the SQL functions test their conditions in
it), `documented(call)` gives the OpenAPI document the call's refusals from it, and
tests/test_refusal_precedence.py arranges every pair of a call's conditions on a real
database and checks which one answers. What every call checks before its own conditions
(method, size, credentials, the body's types) is stated once, for the two kinds of
endpoint: "every signed call" and "every operator call".

    python -m casino.refusals --readme     # the README's tables of both (a test compares)
"""
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tornado.web import HTTPError


class Refused(HTTPError):
    """A refusal: a code of the catalogue with its status and message, and for a refusal
    that names a limit its `details`. Raised, it answers the request, and the database
    transaction it escapes from is rolled back; returned where an answer is (a back-office
    verb, a money call's reply), it is recorded first and answered like one (`status`,
    `body`, `replay`). Built by `error(code, ...)`, or from a SQL function's reply
    (`from_reply`), whose bytes it keeps: a stored refusal is replayed byte for byte."""

    def __init__(self, status: int, code: str, message: str, details: Mapping[str, Any] | None = None,
                 replay: bool = False, body: str | None = None) -> None:
        super().__init__(status)
        self.code = code
        self.message = message
        self.details = dict(details) if details is not None else None
        self.replay = replay
        self._body = body

    @classmethod
    def from_reply(cls, status: int, body: str, replay: bool = False) -> "Refused":
        """The refusal a SQL function answered: its JSON text, as stored."""
        error = json.loads(body)["error"]
        return cls(status, error["code"], error["message"], error.get("details"), replay, body)

    @property
    def status(self) -> int:
        return self.status_code

    @property
    def body(self) -> str:
        """The protocol's error body: the stored text of a SQL reply, else built."""
        if self._body is None:
            self._body = error_body(self.code, self.message, self.details)
        return self._body

    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"Refused({self.status}, {self.code!r}, {self.message!r})"


def error_body(code: str, message: str, details: Mapping[str, Any] | None = None) -> str:
    """{"error": {"code", "message"}} (and "details" when a refusal names a limit)."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = dict(details)
    return json.dumps({"error": error}, separators=(",", ":"))


@dataclass(frozen=True)
class Refusal:
    """A code of the catalogue. `message` is a template: each `%s` is filled, in order, by
    the details the refuser gives (`error(code, *details)`); `stored`: a money call stores
    it as its answer and replays it."""
    code: str
    status: int
    message: str
    stored: bool = False

    def error(self, *details: object, limit: Mapping[str, Any] | None = None) -> Refused:
        """The refusal, its message filled with details; `limit`: the "details" object of a
        refusal that names a limit."""
        placeholders = self.message.count("%s")
        if len(details) != placeholders:
            raise TypeError(f"{self.code}'s message takes {placeholders} detail(s), not {len(details)}")
        return Refused(self.status, self.code, self.message % details if details else self.message, limit)

    def worded(self, message: str) -> Refused:
        """The refusal in words of the refuser's own, for what the template cannot say: a
        counterpart's refusal passed on (PROVIDER_UNAVAILABLE naming the provider's code),
        or Tornado's own reason for an error it raised."""
        return Refused(self.status, self.code, message)


# --- the catalogue -----------------------------------------------------------------------------

# What the base handler (wire/handlers.py) answers before any call's own rules, and what any
# call may meet: an outage, or a bug.
WIRE = (
    Refusal("METHOD_NOT_ALLOWED", 405, "%s takes %s"),
    Refusal("PAYLOAD_TOO_LARGE", 413, "body exceeds %s bytes"),
    Refusal("INVALID_SIGNATURE", 401, "missing, stale or wrong %s header"),
    Refusal("UNAUTHORIZED", 401, "missing, unknown or revoked operator key (Authorization: Bearer)"),
    Refusal("FORBIDDEN", 403, "%s"),
    Refusal("INVALID_REQUEST", 400, "%s"),
    Refusal("NOT_FOUND", 404, "no such endpoint"),
    Refusal("SERVICE_UNAVAILABLE", 503, "database unavailable, retry later"),
    Refusal("INTERNAL_ERROR", 500, "internal error, request id %s"),
)

# Codes both systems answer, each in words that fit either.
SHARED = (
    Refusal("SESSION_NOT_FOUND", 404, "no session has that %s"),
    Refusal("USER_MISMATCH", 403, "the session belongs to another user", True),
    Refusal("IDEMPOTENCY_CONFLICT", 409, "%s was already used for a different request"),
    Refusal("GAME_NOT_FOUND", 404, "no such game"),
    Refusal("GAME_DISABLED", 403, "the game is disabled", True),
    # A report's, a reconciliation's or the round feed's period: the reason is the refuser's.
    Refusal("PERIOD_INVALID", 422, "%s"),
)

CASINO = (
    # The provider's callbacks (the SQL functions read these from CASINO_REFUSALS).
    Refusal("PROVIDER_MISMATCH", 403, "the session belongs to another provider's game"),
    Refusal("TRANSACTION_ROLLED_BACK", 409, "a rollback cancelled this transactionId, or the bet it pays", True),
    Refusal("PLAYER_DISABLED", 403, "the player is disabled", True),
    Refusal("PLAYER_EXCLUDED", 403, "the player is excluded %s", True),
    Refusal("PROVIDER_DISABLED", 403, "the game's provider is disabled", True),
    Refusal("SESSION_INACTIVE", 403, "the session is closed or has expired", True),
    Refusal("CURRENCY_MISMATCH", 422, "the session's wallet is in %s, not %s", True),
    Refusal("BET_LIMIT_EXCEEDED", 422, "bets on this game are from %s to %s", True),
    Refusal("WAGER_LIMIT_REACHED", 403, "this bet would take the %s's wagering past the player's limit", True),
    Refusal("LOSS_LIMIT_REACHED", 403, "this bet could take the %s's losses past the player's limit", True),
    Refusal("INSUFFICIENT_FUNDS", 422, "the %s balance does not cover the %s", True),
    Refusal("ROUND_NOT_FOUND", 404, "the round holds no accepted bet of this wallet", True),
    Refusal("BET_NOT_FOUND", 409, "no accepted bet of this round and wallet has that id", True),
    Refusal("ROLLBACK_NOT_ALLOWED", 409, "only a bet of a round without a payout can be rolled back", True),
    Refusal("BALANCE_LIMIT_EXCEEDED", 422, "the balance would pass 2^53-1", True),
    Refusal("TRANSACTION_NOT_FOUND", 404, "the casino has no record of that transactionId"),
    # Player protection at deposits and launches. A register that cannot be asked is an
    # outage, not an answer: not stored.
    Refusal("PLAYER_IDENTITY_MISSING", 422,
            "the player's jurisdiction asks an exclusion register, which needs their first name, last name, "
            "date of birth and postcode", True),
    Refusal("EXCLUSION_CHECK_UNAVAILABLE", 503, "the external self-exclusion register could not be asked; retry later"),
    Refusal("DEPOSIT_LIMIT_REQUIRED", 422,
            "the player's jurisdiction requires a deposit limit in force (before a deposit; the last one stays)", True),
    Refusal("DEPOSIT_LIMIT_REACHED", 422, "this deposit would take the %s's deposits past the player's limit", True),
    # Launching a game (nothing stored: a launch is not idempotent by itself).
    Refusal("USER_NOT_FOUND", 404, "no such user"),
    Refusal("WALLET_NOT_FOUND", 404, "the user has no %s wallet"),
    Refusal("PROVIDER_UNAVAILABLE", 502, "the game provider refused or did not answer"),
    Refusal("TOO_MANY_REQUESTS", 429, "more than %s %s at once in this process; retry shortly"),
    # The back office.
    Refusal("PLAYER_EXISTS", 409, "a player with that username or e-mail exists"),
    Refusal("WALLET_EXISTS", 409, "the user has a %s wallet already"),
    Refusal("ROUND_UNKNOWN", 404, "the ledger holds no row of that provider's round"),
    Refusal("KEY_NOT_FOUND", 404, "no active operator key has that id"),
    Refusal("ENDPOINT_NOT_ALLOWED", 422, "apiEndpoint refused: %s; a provider is called at public addresses "
            "only, unless OUTBOUND_ALLOWED_NETWORKS allows its network"),
    Refusal("REGISTER_URL_NOT_ALLOWED", 422, "registerUrl refused: %s; a register is called at public addresses "
            "only, unless OUTBOUND_ALLOWED_NETWORKS allows its network"),
    Refusal("PROVIDER_EXISTS", 409, "a provider with that code exists"),
    Refusal("PROVIDER_NOT_FOUND", 404, "no provider has that code"),
    Refusal("PROVIDER_KEY_EXISTS", 409, "a %s key with that id exists, or it is the environment's demo key id"),
    Refusal("PROVIDER_KEY_NOT_FOUND", 404, "the provider has no active %s with that id"),
    Refusal("PROVIDER_KEY_AMBIGUOUS", 409, "the provider has an active casino key and an active provider key with "
            "that id: name the signer"),
    Refusal("GAME_EXISTS", 409, "the provider has a game with that providerGameId"),
    Refusal("BET_LIMITS_INVALID", 422, "minBet must not exceed maxBet"),
    Refusal("SESSION_UNKNOWN", 404, "no game session has that id"),
    Refusal("JURISDICTION_NOT_FOUND", 404, "no jurisdiction has that code"),
    # The zones PostgreSQL knows (pg_timezone_names) are its tz database's: no fixed list
    # the document could give as an enum, so a business refusal of its own.
    Refusal("TIME_ZONE_UNKNOWN", 422, "the database knows no time zone %s (e.g. Europe/London)"),
    Refusal("EXCLUSION_ACTIVE", 409, "a %s runs %s: it can be extended, never shortened or lifted"),
    Refusal("EXCLUSION_PERIOD_INVALID", 422, "a %s in %s lasts from %s to %s"),
    # Reports and reconciliation.
    Refusal("RECONCILIATION_NOT_FOUND", 404, "no reconciliation has that id"),
    # Bonus money: a grant's refusals are stored as its reference's answer, like a deposit's;
    # a cancel's are not.
    Refusal("BONUS_EXPIRY_PASSED", 422, "expiresAt must be later than now", True),
    Refusal("BONUS_ACTIVE", 409, "the wallet has an active bonus (bonusId %s)", True),
    Refusal("BONUS_NOT_FOUND", 404, "no bonus has that id"),
    Refusal("BONUS_NOT_ACTIVE", 409, "the bonus has ended (%s)"),
)

PROVIDER = (
    Refusal("CASINO_MISMATCH", 403, "casinoCode is not the casino whose key signed the call"),
    Refusal("CASINO_UNKNOWN", 403, "this provider has no casino of that code"),
    Refusal("REQUEST_IN_PROGRESS", 409, "a round for this requestId is still being played; retry later for its answer"),
)

CATALOGUE = WIRE + SHARED + CASINO + PROVIDER
BY_CODE = {r.code: r for r in CATALOGUE}


def error(code: str, *details: object, limit: Mapping[str, Any] | None = None) -> Refused:
    """The refusal of a code, its message filled with details (Refusal.error)."""
    return BY_CODE[code].error(*details, limit=limit)


def invalid(message: str) -> Refused:
    """400 INVALID_REQUEST: the request is not what the document describes."""
    return error("INVALID_REQUEST", message)


# --- the order each call's refusals win in ----------------------------------------------------

@dataclass(frozen=True)
class Check:
    """A condition that refuses a call: `code` answers when it holds and no condition before
    it does. `name` tells apart two conditions of one code (the tests arrange each by it)."""
    code: str
    name: str
    when: str


def _checks(*rows: tuple[str, str, str]) -> tuple[Check, ...]:
    return tuple(Check(*row) for row in rows)


# Conditions several calls share, in the same words.
NO_USER = ("USER_NOT_FOUND", "no-user", "no player has the userId")
NO_PROVIDER = ("PROVIDER_NOT_FOUND", "no-provider", "no provider has the code")
NO_GAME = ("GAME_NOT_FOUND", "no-game", "no game has the gameId")
OTHER_USER = ("USER_MISMATCH", "other-user", "the session is another user's")
EXCLUDED = ("PLAYER_EXCLUDED", "excluded", "an exclusion of the player is in force")
NO_WALLET = ("WALLET_NOT_FOUND", "no-wallet", "the player has no wallet in the currency")
PLAYER_OFF = ("PLAYER_DISABLED", "player-disabled", "the player is disabled")
GAME_OFF = ("GAME_DISABLED", "game-disabled", "the game is disabled")
PROVIDER_OFF = ("PROVIDER_DISABLED", "provider-disabled", "the game's provider is disabled")
CURRENCY = ("CURRENCY_MISMATCH", "currency", "the currency is not the session wallet's")
REFERENCE_REUSED = ("IDEMPOTENCY_CONFLICT", "reference-reused", "the reference was answered before, for other content")
ENDPOINT = ("ENDPOINT_NOT_ALLOWED", "endpoint", "apiEndpoint resolves to an address outside the allowed networks")
LIMITS = ("BET_LIMITS_INVALID", "limits", "minBet is more than maxBet")
NO_JURISDICTION = ("JURISDICTION_NOT_FOUND", "no-jurisdiction", "no jurisdiction has the code")
OTHER_CASINO = ("CASINO_MISMATCH", "other-casino", "casinoCode is not the casino whose key signed")


def _session(kind: str) -> tuple[tuple[str, str, str], ...]:
    """What opens every callback of a provider (casino_open_call, casino_get_balance)."""
    opened = (("SESSION_NOT_FOUND", "no-session", "no session has the sessionToken"),
              ("PROVIDER_MISMATCH", "other-provider", ("the session is of a game of another provider than the "
                                                      "one whose key signed")))
    if kind == "getBalance":
        return opened + (OTHER_USER,)
    return opened + (
        ("IDEMPOTENCY_CONFLICT", "id-reused", "the transactionId was answered before, for other content"),
        ("TRANSACTION_ROLLED_BACK", "tombstoned", ("a rollback of an unknown bet named the transactionId (a "
                                                  "tombstone)")),
        OTHER_USER)


# What every endpoint of a kind checks before the call's own conditions (wire/handlers.py).
SIGNED = _checks(
    ("METHOD_NOT_ALLOWED", "method", "the method is not the endpoint's"),
    ("PAYLOAD_TOO_LARGE", "size", "the body is over 64 KiB"),
    ("INVALID_SIGNATURE", "signature", "the signature header is missing, stale or wrong"),
    ("INVALID_REQUEST", "body", "the body is not JSON, not an object, or a field is missing or mistyped"))
OPERATOR = _checks(
    ("METHOD_NOT_ALLOWED", "method", "the method is not the endpoint's"),
    ("PAYLOAD_TOO_LARGE", "size", "the body is over 64 KiB"),
    ("UNAUTHORIZED", "key", "the operator key is missing, unknown or revoked"),
    ("FORBIDDEN", "scope", "the key lacks the endpoint's scope"),
    ("INVALID_REQUEST", "body", "the body, a path or a query parameter is not what the document describes"),
    ("FORBIDDEN", "origin", ("the key is a tool's, and the player, provider, game or session the call writes on "
                             "is not that tool's (or it is a jurisdiction)")))

# The player's external register (casino/exclusion_register.py), asked when their jurisdiction
# names one: its verdict is one of these three, or none.
_REGISTER = (
    ("PLAYER_IDENTITY_MISSING", "identity-missing", ("the register needs identity fields the player lacks (it is "
                                                    "not asked)")),
    ("PLAYER_EXCLUDED", "register-excluded", ("the register says the player is excluded (now, or in an answer "
                                             "younger than REGISTER_CACHE_SECONDS)")),
    ("EXCLUSION_CHECK_UNAVAILABLE", "register-unavailable", ("the register cannot be asked and has no answer to "
                                                            "reuse, and the jurisdiction refuses then")))

# What makes a report's period invalid, by report.
PERIOD_WORDS = {"ggrReport": "from is after to, or the period is longer than 366 days",
                "playerFunds": "at is in the future",
                "largeWins": "from is after to, or the period is longer than 366 days"}

_LAUNCH = (
    NO_USER,
    PLAYER_OFF,
    EXCLUDED,
    NO_GAME,
    GAME_OFF,
    PROVIDER_OFF,
    ("WALLET_NOT_FOUND", "no-wallet", "the player has no wallet in the currency (given, else the game's)"),
    # The player's external register, asked after the casino's own checks.
    *_REGISTER,
    ("PROVIDER_UNAVAILABLE", "provider-refused", "the provider refuses the launch or does not answer"))

PRECEDENCE: dict[str, tuple[Check, ...]] = {
    "every signed call": SIGNED,
    "every operator call": OPERATOR,
    # The provider's callbacks: casino_get_balance, casino_open_call then each function's rules.
    "getBalance": _checks(*_session("getBalance")),
    "debit": _checks(
        *_session("debit"),
        PLAYER_OFF,
        EXCLUDED,
        GAME_OFF,
        PROVIDER_OFF,
        ("SESSION_INACTIVE", "session-closed", "the session is closed, or idle past SESSION_IDLE_TIMEOUT"),
        CURRENCY,
        ("BET_LIMIT_EXCEEDED", "bet-limits", "the amount is outside the game's minBet..maxBet"),
        ("WAGER_LIMIT_REACHED", "wager-limit", "the bet would take a wager window past the player's limit"),
        ("LOSS_LIMIT_REACHED", "loss-limit", "the bet could take a loss window past the player's limit"),
        ("INSUFFICIENT_FUNDS", "funds", "the amount is more than the playable balance")),
    "credit": _checks(
        *_session("credit"),
        CURRENCY,
        ("ROUND_NOT_FOUND", "no-round", "the round holds no accepted bet of the session's wallet"),
        ("BET_NOT_FOUND", "no-bet", "relatedTransactionId names no accepted bet of the round and wallet"),
        ("TRANSACTION_ROLLED_BACK", "bet-refunded", "relatedTransactionId names a bet a rollback refunded"),
        ("TRANSACTION_ROLLED_BACK", "round-refunded", ("no relatedTransactionId, and every bet of the round was "
                                                       "refunded")),
        ("BALANCE_LIMIT_EXCEEDED", "balance-limit", "the balance would pass 2^53-1")),
    "rollback": _checks(
        *_session("rollback"),
        ("ROLLBACK_NOT_ALLOWED", "itself", "originalTransactionId is the rollback's own transactionId"),
        ("ROLLBACK_NOT_ALLOWED", "not-a-bet", "originalTransactionId names a payout or a rollback"),
        ("BET_NOT_FOUND", "other-round", "originalTransactionId names a bet of another wallet or round"),
        ("ROLLBACK_NOT_ALLOWED", "round-paid", "the bet stands and its round has a payout"),
        ("BALANCE_LIMIT_EXCEEDED", "balance-limit", "the refund would take the balance past 2^53-1")),
    "transactionStatus": _checks(
        ("TRANSACTION_NOT_FOUND", "unknown", "the signing provider has no transaction with that id")),
    "launchGame": _checks(*_LAUNCH),
    "simulateRound": _checks(
        ("TOO_MANY_REQUESTS", "busy", "this process plays SIMULATE_CONCURRENCY rounds already"),
        *_LAUNCH,
        ("PROVIDER_UNAVAILABLE", "round-refused", "the provider refuses to play the round or does not answer")),
    # The cashier (casino_cashier).
    "deposit": _checks(
        NO_USER,
        NO_WALLET,
        REFERENCE_REUSED,
        EXCLUDED,
        *_REGISTER,
        ("DEPOSIT_LIMIT_REQUIRED", "limit-required", ("the jurisdiction requires a deposit limit, and none is in "
                                                     "force")),
        ("DEPOSIT_LIMIT_REACHED", "deposit-limit", "the deposit would take a deposit window past the limit"),
        ("BALANCE_LIMIT_EXCEEDED", "balance-limit", "the balance would pass 2^53-1")),
    "withdrawal": _checks(
        NO_USER,
        NO_WALLET,
        REFERENCE_REUSED,
        ("INSUFFICIENT_FUNDS", "funds", "the amount is more than the redeemable balance")),
    # The back office.
    "createPlayer": _checks(
        ("JURISDICTION_NOT_FOUND", "no-jurisdiction", "no jurisdiction has the code (given, else the default)"),
        ("PLAYER_EXISTS", "taken", "a player has the username or the e-mail")),
    "createWallet": _checks(
        NO_USER,
        ("WALLET_EXISTS", "taken", "the player has a wallet in the currency")),
    "setPlayerStatus": _checks(NO_USER),
    "getPlayer": _checks(NO_USER),
    "listTransactions": _checks(NO_USER),
    "getRound": _checks(("ROUND_UNKNOWN", "no-round", "the ledger holds no row of the provider's round")),
    # Calls refused only by what every operator call checks.
    "listPlayers": (), "listOperatorKeys": (), "listJurisdictions": (),
    # Its bounds are the body's (400, "every operator call"); then its time zone, its register.
    "putJurisdiction": _checks(
        ("TIME_ZONE_UNKNOWN", "time-zone", "the database knows no time zone of the timeZone's name"),
        ("REGISTER_URL_NOT_ALLOWED", "register-url", ("registerUrl is not an http(s) URL with a host, does not "
                                                      "resolve, or resolves to an address outside the allowed "
                                                      "networks"))),
    "createOperatorKey": _checks(
        ("FORBIDDEN", "origin", "the calling key, a tool's, asks for another origin than its own"),
        ("FORBIDDEN", "scopes", "a scope asked for is not the calling key's")),
    **{call: _checks(
        ("KEY_NOT_FOUND", "no-key", "no active operator key has the id"),
        ("FORBIDDEN", "other-tool", "the calling key is a tool's, and the key is not that tool's"),
        ("FORBIDDEN", "scopes", "the key holds a scope the calling key does not"),
        *((("FORBIDDEN", "grant", "a scope asked for is not the calling key's"),)
          if call == "setOperatorKeyScopes" else ()))
       for call in ("rotateOperatorKey", "setOperatorKeyScopes", "revokeOperatorKey")},
    "createProvider": _checks(
        ENDPOINT,
        ("PROVIDER_EXISTS", "taken", "a provider has the code")),
    "setProviderEndpoint": _checks(
        ENDPOINT,
        NO_PROVIDER),
    **{call: _checks(NO_PROVIDER)
       for call in ("getProvider", "setProviderStatus", "setProviderV1", "listProviderKeys")},
    **{call: _checks(
        NO_PROVIDER,
        ("PROVIDER_KEY_EXISTS", "taken", ("a key of the signer has the keyId, or it is the environment's demo "
                                         "key id")))
       for call in ("addProviderKey", "rotateProviderKey")},
    "revokeProviderKey": _checks(
        NO_PROVIDER,
        ("PROVIDER_KEY_NOT_FOUND", "no-key", ("the provider has no active key with the id (of the signer, when "
                                             "given)")),
        ("PROVIDER_KEY_AMBIGUOUS", "both-signers", ("no signer is given, and both a casino key and a provider "
                                                   "key of the provider have the id"))),
    "importGames": _checks(
        NO_PROVIDER,
        ("PROVIDER_UNAVAILABLE", "provider-refused", "the provider refuses to list its games or does not answer")),
    "createGame": _checks(
        LIMITS,
        NO_PROVIDER,
        ("GAME_EXISTS", "taken", "the provider has a game with the providerGameId")),
    "getGame": _checks(NO_GAME),
    "setGameLimits": _checks(
        LIMITS,
        NO_GAME),
    "setGameStatus": _checks(NO_GAME),
    "listSessions": _checks(NO_USER),
    "closeSession": _checks(("SESSION_UNKNOWN", "no-session", "no game session has the id")),
    "retireSynthetic": _checks(
        ("FORBIDDEN", "other-tool", "the calling key is a tool's, and the origin asked for is another")),
    "ledgerAudit": _checks(("TOO_MANY_REQUESTS", "busy", "this process runs the audit already")),
    # Player protection.
    "getJurisdiction": _checks(NO_JURISDICTION),
    "getLimits": _checks(NO_USER),
    "setLimit": _checks(
        NO_USER,
        NO_WALLET,
        ("DEPOSIT_LIMIT_REQUIRED", "last-deposit-limit", ("the jurisdiction requires a deposit limit, and this "
                                                         "removes the last one"))),
    "createExclusion": _checks(
        NO_USER,
        ("EXCLUSION_ACTIVE", "shorter", ("an exclusion in force ends later, or is a self-exclusion and this a "
                                        "time-out")),
        ("EXCLUSION_PERIOD_INVALID", "period", ("the exclusion is shorter or longer than the jurisdiction allows "
                                               "for its kind"))),
    "listExclusions": _checks(NO_USER),
    "getProtectionHistory": _checks(NO_USER),
    "setPlayerJurisdiction": _checks(
        NO_JURISDICTION,
        NO_USER),
    "setPlayerIdentity": _checks(NO_USER),
    # Reports and reconciliation (casino/reports.py, casino/reconciliation.py).
    **{call: _checks(("PERIOD_INVALID", "period", PERIOD_WORDS[call]))
       for call in ("ggrReport", "playerFunds", "largeWins")},
    "providerInvoice": _checks(NO_PROVIDER),
    "setProviderRevenueShare": _checks(NO_PROVIDER),
    # The period needs no database: it is checked before the provider is looked up.
    "createReconciliation": _checks(
        ("PERIOD_INVALID", "period", "from is after to, or the period is longer than 31 days"),
        NO_PROVIDER,
        ("PROVIDER_UNAVAILABLE", "feed", ("the provider's round feed cannot be read whole (no answer, a refusal, "
                                          "a page that is not the protocol's)"))),
    "getReconciliation": _checks(("RECONCILIATION_NOT_FOUND", "no-reconciliation", "no reconciliation has the id")),
    "listReconciliations": _checks(NO_PROVIDER),
    # Bonus money (casino_grant_bonus: the wallet, the reference, then its rules, a bonus
    # past its expiresAt forfeited before them; casino/bonuses.py).
    "grantBonus": _checks(
        NO_USER,
        NO_WALLET,
        REFERENCE_REUSED,
        EXCLUDED,
        ("BONUS_EXPIRY_PASSED", "expiry-passed", "expiresAt is not later than the call's instant"),
        ("BONUS_ACTIVE", "active", "the wallet has an active bonus, not past its expiresAt"),
        ("BALANCE_LIMIT_EXCEEDED", "balance-limit", "the balance would pass 2^53-1")),
    "listBonuses": _checks(NO_USER),
    "cancelBonus": _checks(
        ("BONUS_NOT_FOUND", "no-bonus", "no bonus has the id"),
        ("BONUS_NOT_ACTIVE", "ended", "the bonus was completed or forfeited")),
    # The provider's endpoints (provider/), called by a casino.
    "provider/launch": _checks(
        OTHER_CASINO,
        ("GAME_NOT_FOUND", "no-game", "the provider has no game of that code"),
        ("GAME_DISABLED", "game-disabled", "the provider's game is disabled"),
        ("IDEMPOTENCY_CONFLICT", "token-reused", ("the sessionToken was launched before for another player, game "
                                                 "or currency"))),
    "provider/simulate": _checks(
        ("SESSION_NOT_FOUND", "no-session", ("no session of the calling casino has the providerSessionId and "
                                            "sessionToken")),
        OTHER_USER,
        ("IDEMPOTENCY_CONFLICT", "request-reused", "the requestId was used for another session"),
        ("REQUEST_IN_PROGRESS", "in-progress", "the round of the requestId is still being played")),
    "provider/rounds": _checks(
        OTHER_CASINO,
        ("PERIOD_INVALID", "period", "from is not before to")),
    "provider/games": _checks(
        OTHER_CASINO,
        ("CASINO_UNKNOWN", "unknown-casino", "the provider has no casino of that code")),
}


def codes(call: str) -> list[str]:
    """The codes a call's own conditions answer, each once, in the order they first win."""
    return list(dict.fromkeys(check.code for check in PRECEDENCE[call]))


def documented(call: str) -> dict[int, list[str]]:
    """{status: [codes]} a call can be refused with by its own conditions: a handler's
    `refusals` (the base handler's are added by the OpenAPI builder)."""
    statuses: dict[int, list[str]] = {}
    for code in codes(call):
        statuses.setdefault(BY_CODE[code].status, []).append(code)
    return statuses


def pairs(call: str) -> list[tuple[Check, Check]]:
    """Every two conditions of a call with different codes, the one that wins first."""
    checks = PRECEDENCE[call]
    return [(first, later) for i, first in enumerate(checks) for later in checks[i + 1:] if first.code != later.code]


# --- the README's tables ---------------------------------------------------------------------------

README_BEGIN = "<!-- refusals: generated by python -m casino.refusals --readme -->"
README_END = "<!-- end of refusals -->"


def _calls_of(code: str) -> list[str]:
    return [call for call, checks in PRECEDENCE.items() if any(check.code == code for check in checks)]


def readme() -> str:
    """The catalogue, then each call's conditions in the order they win."""
    lines = [README_BEGIN, "",
             "| code | status | stored | calls | message |", "|---|---|---|---|---|"]
    for r in CATALOGUE:
        calls = ", ".join(_calls_of(r.code)) or "any call"
        lines.append(f"| `{r.code}` | {r.status} | {'yes' if r.stored else 'no'} | {calls} "
                     f"| {r.message.replace('%s', '…')} |")
    lines += ["", ("Each call's refusals, in the order they win (the first condition that holds answers); "
                  "a signed call checks \"every signed call\" first, an operator call \"every operator call\":"), ""]
    for call, checks in PRECEDENCE.items():
        if not checks:
            continue
        lines += [f"**{call}**", "", "| # | code | status | when |", "|---|---|---|---|"]
        lines += [f"| {i} | `{c.code}` | {BY_CODE[c.code].status} | {c.when} |" for i, c in enumerate(checks, 1)]
        lines.append("")
    return "\n".join(lines + [README_END]) + "\n"
