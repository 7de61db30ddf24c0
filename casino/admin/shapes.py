"""The back office's answers, as the OpenAPI document gives them: what players, wallets,
ledger rows, bonuses, keys, providers, games, sessions and a market's rules look like on the
wire (casino/report_handlers.py builds on them too)."""

from wire.openapi import INTEGER, STRING, obj

from .. import backoffice, credentials, enabled, operators, synthetic

NULLABLE_STRING = {"type": "string", "nullable": True}
NULLABLE_INTEGER = {"type": "integer", "nullable": True}
TIMESTAMP = {"type": "string", "format": "date-time"}
NULLABLE_TIMESTAMP = {"type": "string", "nullable": True, "format": "date-time"}
NULLABLE_DURATION = {"type": "string", "nullable": True}
PLAYER = obj(userId=INTEGER, username=STRING, email=STRING, status={"enum": list(enabled.STATUSES)},
             origin={"enum": list(backoffice.ORIGINS)}, jurisdiction=STRING, createdAt=TIMESTAMP)
WALLET = obj(walletId=INTEGER, currency=STRING, balance=INTEGER, redeemable=INTEGER)
ITEM = obj(transactionId=STRING, provider=NULLABLE_STRING,
           type={"enum": ["deposit", "withdrawal", "debit", "credit", "rollback", "bonus_grant", "bonus_completion",
                          "bonus_forfeit"]},
           outcome={"enum": ["applied", "refused", "tombstone"]}, amount=INTEGER, movement=INTEGER,
           cashMovement=INTEGER, bonusMovement=INTEGER, bonusId=NULLABLE_INTEGER,
           balanceAfter=INTEGER, roundId=NULLABLE_STRING, currency=STRING, createdAt=TIMESTAMP)
ROUND_ROW = obj(**ITEM["properties"], userId=INTEGER, relatedTransactionId=NULLABLE_STRING,
                refunded={"type": "boolean"}, answer=obj(status=INTEGER, body={"type": "object"}))
CASHIER_ANSWER = obj(reference=STRING, balance=INTEGER, redeemable=INTEGER, currency=STRING)
BONUS = obj(bonusId=INTEGER, reference=STRING, userId=INTEGER, currency=STRING, amount=INTEGER, wagering=INTEGER,
            wageringRequired=INTEGER, wagered=INTEGER, remaining=INTEGER,
            status={"enum": ["active", "completed", "forfeited"]}, expiresAt=TIMESTAMP, grantedAt=TIMESTAMP,
            endedAt=NULLABLE_TIMESTAMP, endReason={"type": "string", "nullable": True,
                                                "enum": ["wagered", "expired", "cancelled", "excluded", None]},
            converted=INTEGER, forfeited=INTEGER)
OPERATOR_KEY = obj(keyId=STRING, scopes={"type": "array", "items": {"enum": list(operators.SCOPES)}},
                   label=STRING, origin={"enum": list(operators.KEY_ORIGINS)}, createdAt=TIMESTAMP,
                   revokedAt={"type": "string", "nullable": True, "format": "date-time"})
PROVIDER = obj(providerCode=STRING, name=STRING, apiEndpoint=NULLABLE_STRING, status={"enum": list(enabled.STATUSES)},
               allowsV1={"type": "boolean"}, origin={"enum": list(backoffice.ORIGINS)},
               revenueShare=NULLABLE_STRING, createdAt=TIMESTAMP)
PROVIDER_KEY = obj(keyId=STRING, signer={"enum": list(credentials.SIGNERS)}, createdAt=TIMESTAMP,
                   revokedAt={"type": "string", "nullable": True, "format": "date-time"})
NEW_PROVIDER_KEY = obj(providerCode=STRING, **PROVIDER_KEY["properties"], secret=STRING,
                       stillActive={"type": "array", "items": STRING})
GAME = obj(gameId=INTEGER, providerCode=STRING, providerGameId=STRING, name=STRING, currency=STRING, minBet=INTEGER,
           maxBet=INTEGER, status={"enum": list(enabled.STATUSES)}, createdAt=TIMESTAMP)
SESSION = obj(sessionId=INTEGER, userId=INTEGER, gameId=INTEGER, providerCode=STRING, currency=STRING,
              state={"enum": ["pending", "active", "expired", "closed"]}, createdAt=TIMESTAMP,
              lastActivityAt=TIMESTAMP)
IMPORTED_GAME = obj(gameId=INTEGER, providerGameId=STRING, name=STRING, currency=STRING, minBet=INTEGER,
                   maxBet=INTEGER, enabled={"type": "boolean"}, created={"type": "boolean"})
RETIRED = obj(origins={"type": "array", "items": {"enum": list(synthetic.TOOLS + ("demo",))}},
              sessionsClosed=INTEGER, playersDisabled=INTEGER, gamesDisabled=INTEGER, providersDisabled=INTEGER)
JURISDICTION = obj(code=STRING, name=STRING, timeZone=STRING, coolingOffHours=INTEGER,
                   increaseWaitsForPeriodEnd={"type": "boolean"}, depositLimitRequired={"type": "boolean"},
                   timeOutMin=STRING, timeOutMax=STRING, selfExclusionMin=STRING, selfExclusionMax=NULLABLE_DURATION,
                   registerName=NULLABLE_STRING, registerUrl=NULLABLE_STRING,
                   registerUnavailable={"enum": ["refuse", "allow"]}, updatedAt=TIMESTAMP)
LIMIT = obj(type={"enum": ["deposit", "loss", "wager"]}, period={"enum": ["day", "week", "month"]}, currency=STRING,
            amount=NULLABLE_INTEGER, pendingAmount=NULLABLE_INTEGER, pendingFrom=NULLABLE_TIMESTAMP, used=INTEGER,
            resetsAt=TIMESTAMP)
EXCLUSION = obj(kind={"enum": ["time-out", "self-exclusion"]}, **{"from": TIMESTAMP}, until=NULLABLE_TIMESTAMP,
                previousUntil=NULLABLE_TIMESTAMP, operator=STRING)
HISTORY_ITEM = {"type": "object", "required": ["change", "effectiveFrom", "operator", "createdAt"],
                "properties": {"change": {"enum": ["limit", "exclusion"]}, "type": STRING, "period": STRING,
                               "currency": STRING, "oldAmount": NULLABLE_INTEGER, "newAmount": NULLABLE_INTEGER,
                               "kind": STRING, "oldUntil": NULLABLE_TIMESTAMP, "newUntil": NULLABLE_TIMESTAMP,
                               "effectiveFrom": TIMESTAMP, "operator": STRING, "createdAt": TIMESTAMP}}
