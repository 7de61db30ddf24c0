"""A ledger row stores what a replay needs and no more (migration 0023): a money call's
success stores no body -- its answer is rebuilt from the row by casino_ledger_answer() --
while a refusal, and a success whose answer the row cannot tell (a payout or refund whose
bonus share was forfeited), store theirs. Every kind of answer replays byte for byte --
status, body bytes, `Idempotent-Replay: true` -- across a restart of the server, and across
an upgrade from the schema before the migration, whose rows (every answer stored, those
before bonus money without "bonus") replay exactly as stored. transactionStatus and the back
office's round view read the same answer."""
import json
import uuid

import psycopg2
import pytest

from casino import credentials
from casino.wallet import fingerprint
from sql.migrate import migrate
from tests.databases import create_database, migrations_before
from tests.support import BOX, KEYS_BY_TOKEN, Api, Bettor, Gambler, Ledger, Player, ServerProcess, back_office

REPLAYED = "Idempotent-Replay"


def server_on(dsn):
    return ServerProcess(dsn, extra_env={"BONUS_EXPIRY_INTERVAL": "0"}).start()


def replays_of(url, calls, answers):
    """Each call sent again to the server at url: (status, body bytes, replay header) per label,
    beside what it was first answered."""
    api = Api(url)
    again = {label: api.casino(endpoint, body) for label, (endpoint, body) in calls.items()}
    return ({label: (r.status_code, r.content, r.headers.get(REPLAYED)) for label, r in again.items()},
            {label: (status, content, "true") for label, (status, content) in answers.items()})


def transaction_status(api, token, tx):
    return api.casino("transactionStatus", {"transactionId": tx}, key=KEYS_BY_TOKEN[token])


def test_every_kind_of_answer_replays_byte_for_byte_across_a_restart(database_dsn):
    ledger = Ledger(database_dsn)
    first = server_on(database_dsn)
    try:
        api = Api(first.url)
        plain = Player(api, ledger, funds=300, max_bet=500)
        bonus = Gambler(api, ledger, cash=100)
        bonus.granted(500, wagering=100)
        completing = Gambler(api, ledger, cash=0)
        completing.granted(100, wagering=1)
        forfeiting = Gambler(api, ledger, cash=300)
        forfeited_bonus = forfeiting.granted(500, wagering=10)["bonusId"]
        limited = Bettor(api, ledger, funds=1_000)
        assert limited.limit("wager", "day", 100).status_code in (200, 201)

        def plain_call(endpoint, **fields):
            body = plain.body(**fields)
            if endpoint == "rollback":
                del body["currency"]
            return endpoint, body

        calls = {
            "bet": plain_call("debit", transactionId="d1", amount=100),
            "payout": plain_call("credit", transactionId="c1", amount=50),
            "bet to refund": plain_call("debit", transactionId="d2", amount=30, roundId="r2"),
            "refund": plain_call("rollback", transactionId="rb2", originalTransactionId="d2", roundId="r2"),
            "refund again, nothing moved": plain_call("rollback", transactionId="rb2b", originalTransactionId="d2",
                                                      roundId="r2"),
            "tombstone": plain_call("rollback", transactionId="rb3", originalTransactionId="late", roundId="r3"),
            "refused: tombstoned": plain_call("debit", transactionId="late", amount=10, roundId="r3"),
            "refused: funds": plain_call("debit", transactionId="d4", amount=499, roundId="r4"),
            "refused: bet limits": plain_call("debit", transactionId="d5", amount=501, roundId="r4"),
            "refused: round paid": plain_call("rollback", transactionId="rb6", originalTransactionId="d1"),
            "bet with bonus money": ("debit", bonus.body(transactionId="g1", amount=300, currency="USD")),
            "payout with a bonus share": ("credit", bonus.body(transactionId="g2", amount=60, currency="USD")),
            "bet completing a bonus": ("debit", completing.body(transactionId="k1", amount=100, currency="USD")),
            "limited bet": ("debit", limited.body(transactionId="l1", amount=80)),
            "refused: limit, with details": ("debit", limited.body(transactionId="l2", amount=50)),
        }
        answers = {label: Api(first.url).casino(endpoint, body) for label, (endpoint, body) in calls.items()}
        # A round staked from a bonus cancelled before its payout and its refund: their bonus
        # share is forfeited by a row of its own, so their answers (the balance after that
        # row) are stored.
        for label, (endpoint, body) in {
                "bet from a bonus": ("debit", forfeiting.body(transactionId="f1", amount=400, currency="USD")),
                "bet from a bonus, to refund": ("debit", forfeiting.body("r2", transactionId="f2", amount=100,
                                                                         currency="USD"))}.items():
            calls[label] = (endpoint, body)
            answers[label] = api.casino(endpoint, body)
        assert forfeiting.cancel(forfeited_bonus).status_code == 200
        for label, (endpoint, body) in {
                "payout, share forfeited": ("credit", forfeiting.body(transactionId="f3", amount=600, currency="USD")),
                "refund, share forfeited": ("rollback", forfeiting.body("r2", transactionId="f4",
                                                                        originalTransactionId="f2"))}.items():
            calls[label] = (endpoint, body)
            answers[label] = api.casino(endpoint, body)

        statuses = {label: (r.status_code, r.json().get("error", {}).get("code")) for label, r in answers.items()}
        assert statuses == {
            "bet": (200, None), "payout": (200, None), "bet to refund": (200, None), "refund": (200, None),
            "refund again, nothing moved": (200, None), "tombstone": (200, None),
            "refused: tombstoned": (409, "TRANSACTION_ROLLED_BACK"), "refused: funds": (422, "INSUFFICIENT_FUNDS"),
            "refused: bet limits": (422, "BET_LIMIT_EXCEEDED"), "refused: round paid": (409, "ROLLBACK_NOT_ALLOWED"),
            "bet with bonus money": (200, None), "payout with a bonus share": (200, None),
            "bet completing a bonus": (200, None), "limited bet": (200, None),
            "refused: limit, with details": (403, "WAGER_LIMIT_REACHED"),
            "bet from a bonus": (200, None), "bet from a bonus, to refund": (200, None),
            "payout, share forfeited": (200, None), "refund, share forfeited": (200, None)}
        assert answers["tombstone"].json()["tombstone"] is True and answers["refund"].json()["tombstone"] is False
        assert answers["bet with bonus money"].json()["bonus"] == 300
        assert answers["bet completing a bonus"].json()["bonus"] == 0
        assert "details" in answers["refused: limit, with details"].json()["error"]
        assert answers["payout, share forfeited"].json()["balance"] == 450
        assert all(REPLAYED not in r.headers for r in answers.values())
        answered = {label: (r.status_code, r.content) for label, r in answers.items()}
    finally:
        first.stop()

    # What each row stores: no body for a success the row tells, its body for the others.
    txids = {body["transactionId"]: label for label, (_, body) in calls.items()}
    stored = dict(ledger.query("""SELECT external_transaction_id, response_cache IS NOT NULL FROM CASINO_TRANSACTIONS
                                  WHERE external_transaction_id = ANY(%s) AND provider_id IS NOT NULL""", list(txids)))
    assert len(stored) == len(calls)
    assert {txids[tx] for tx, body_stored in stored.items() if body_stored} == {
        label for label in calls if label.startswith("refused") or "share forfeited" in label}

    second = server_on(database_dsn)
    try:
        replayed, expected = replays_of(second.url, calls, answered)
        assert replayed == expected
        # transactionStatus embeds the same bytes; the back office's round view the same answer.
        api = Api(second.url)
        for label in ("bet", "tombstone", "refused: funds"):
            tx = calls[label][1]["transactionId"]
            status = transaction_status(api, plain.token, tx)
            assert status.status_code == 200 and answered[label][1].decode() in status.text
        provider_code, = ledger.query("""SELECT p.code FROM CASINO_GAME_PROVIDERS p JOIN CASINO_GAMES g
                                         ON g.provider_id = p.id WHERE g.id = %s""", bonus.game)[0]
        view = back_office(api, "GET", f"rounds/{provider_code}/r1")
        assert view.status_code == 200, view.text
        assert {row["transactionId"]: row["answer"] for row in view.json()["rows"]} == {
            tx: {"status": answered[txids[tx]][0], "body": json.loads(answered[txids[tx]][1])} for tx in ("g1", "g2")}
    finally:
        second.stop()


# Rows as casino_record wrote them before migration 0023 (and before 0018, for the one
# without "bonus"): every answer stored, its body made by PostgreSQL exactly as the money
# calls' functions made it -- json_build_object's own text, cast to json -- and the
# fingerprint as casino/wallet.py computes it. (The function files of before are not kept,
# so the rows are written here, by SQL, as those functions wrote them.)
OLD_ROW = """
    INSERT INTO CASINO_TRANSACTIONS (provider_id, external_transaction_id, transaction_type, wallet_id, session_id,
        round_id, amount, related_external_transaction_id, request_fingerprint, outcome, playable_movement,
        redeemable_movement, balance_after, response_status, response_cache, refunded_bet_id)
    VALUES (%(provider)s, %(tx)s, %(kind)s, %(wallet)s, %(session)s, %(round)s, %(amount)s, %(related)s,
            %(fingerprint)s, %(outcome)s, %(playable)s, %(redeemable)s, %(balance)s, %(status)s,
            (SELECT {body}::text)::json, %(refunded)s)
    RETURNING response_cache::text
"""
SUCCESS = "json_build_object('transactionId', %(tx)s, 'balance', %(balance)s, 'bonus', %(bonus)s, 'currency', 'USD')"
SUCCESS_BEFORE_BONUS = "json_build_object('transactionId', %(tx)s, 'balance', %(balance)s, 'currency', 'USD')"
ROLLBACK = """json_build_object('transactionId', %(tx)s, 'balance', %(balance)s, 'bonus', %(bonus)s,
                                'currency', 'USD', 'tombstone', %(outcome)s = 'tombstone')"""
REFUSAL = "json_build_object('error', json_build_object('code', %(code)s, 'message', %(message)s))"
REFUSAL_WITH_DETAILS = """json_build_object('error', json_build_object('code', %(code)s, 'message', %(message)s,
                                                                       'details', %(details)s::json))"""


@pytest.fixture
def before_0023(tmp_path):
    """A database migrated up to the migration before 0023 (no function file: those of then
    are not kept), and the migrations directory that says so."""
    dsn = create_database("answers_upgrade")
    migrate(dsn, directory=migrations_before("0023", tmp_path / "migrations"), functions_dir=None,
            log=lambda _: None)
    return dsn


def test_answers_stored_before_the_upgrade_replay_as_stored(before_0023):
    dsn = before_0023
    code = "P-up-" + uuid.uuid4().hex[:6]
    token = "up-" + uuid.uuid4().hex
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("INSERT INTO CASINO_USERS (username, email) VALUES (%s, %s) RETURNING id",
                        (code, f"{code}@example.com"))
            user_id = cur.fetchone()[0]
            cur.execute("""INSERT INTO CASINO_WALLETS (user_id, currency_code, playable_balance, redeemable_balance)
                           VALUES (%s, 'USD', 1020, 1020) RETURNING id""", (user_id,))
            wallet_id = cur.fetchone()[0]
            cur.execute("""INSERT INTO CASINO_GAME_PROVIDERS (code, name, origin) VALUES (%s, 'Old provider', 'test')
                           RETURNING id""", (code,))
            provider_id = cur.fetchone()[0]
            key = credentials.add_key(cur, BOX, set(), code, "provider")
            cur.execute("""INSERT INTO CASINO_GAMES (provider_id, provider_game_id, name, default_currency, min_bet,
                                                    max_bet)
                           VALUES (%s, %s, 'Old game', 'USD', 1, 500) RETURNING id""", (provider_id, code))
            game_id = cur.fetchone()[0]
            cur.execute("""INSERT INTO CASINO_GAME_SESSIONS (token, user_id, wallet_id, game_id, is_active,
                                                            provider_session_id, last_activity_at)
                           VALUES (%s, %s, %s, %s, true, 'ps-old', now()) RETURNING id""",
                        (token, user_id, wallet_id, game_id))
            session_id = cur.fetchone()[0]

            def request(endpoint, tx, round_id, amount=None, related=None):
                body = {"sessionToken": token, "userId": user_id, "roundId": round_id, "transactionId": tx}
                if endpoint == "rollback":
                    body["originalTransactionId"] = related
                    print_ = fingerprint("rollback", user_id, round_id, 0, None, related)
                else:
                    body.update(amount=amount, currency="USD")
                    if related:
                        body["relatedTransactionId"] = related
                    print_ = fingerprint(endpoint, user_id, round_id, amount, "USD", related)
                return (endpoint, body), print_

            def row(kind, outcome, amount, movement, balance, **extra):
                return {"kind": kind, "outcome": outcome, "amount": amount, "playable": movement,
                        "redeemable": movement, "balance": balance, **extra}

            # (label, request, row, body): the wallet went 1000 -> 900 -> 950 -> 920 -> 950.
            limit_details = json.dumps({"limit": {"type": "wager", "period": "day", "amount": 100}})
            rows = [
                ("bet, before bonus money", request("debit", "o1", "r1", 100),
                 row("debit", "applied", 100, -100, 900), SUCCESS_BEFORE_BONUS),
                ("payout", request("credit", "o2", "r1", 50), row("credit", "applied", 50, 50, 950), SUCCESS),
                ("bet to refund", request("debit", "o3", "r2", 30), row("debit", "applied", 30, -30, 920), SUCCESS),
                ("refund", request("rollback", "o4", "r2", related="o3"),
                 row("rollback", "applied", 30, 30, 950, refunded="o3"), ROLLBACK),
                ("tombstone", request("rollback", "o5", "r3", related="late"),
                 row("rollback", "tombstone", 0, 0, 950), ROLLBACK),
                ("refused: funds", request("debit", "o6", "r4", 499),
                 row("debit", "refused", 499, 0, 950, status=422, code="INSUFFICIENT_FUNDS",
                     message="an older wording of the catalogue's message"), REFUSAL),
                ("refused: limit, with details", request("debit", "o7", "r4", 60),
                 row("debit", "refused", 60, 0, 950, status=403, code="WAGER_LIMIT_REACHED",
                     message="the day's wager limit is reached", details=limit_details), REFUSAL_WITH_DETAILS),
            ]
            calls, answered = {}, {}
            for label, (call, print_), row, body in rows:
                values = {"provider": provider_id, "tx": call[1]["transactionId"], "wallet": wallet_id,
                          "session": session_id, "round": call[1]["roundId"],
                          "related": call[1].get("originalTransactionId") or call[1].get("relatedTransactionId"),
                          "fingerprint": print_, "status": 200, "refunded": None, "bonus": 0, **row}
                cur.execute(OLD_ROW.format(body=body), values)
                calls[label] = call
                answered[label] = (row.get("status", 200), cur.fetchone()[0].encode())
            cur.execute("UPDATE CASINO_WALLETS SET playable_balance = 950, redeemable_balance = 950 WHERE id = %s",
                        (wallet_id,))
    finally:
        conn.close()
    assert b'"bonus"' not in answered["bet, before bonus money"][1]

    migrate(dsn, log=lambda _: None)   # 0023 and every function file
    KEYS_BY_TOKEN[token] = (key[0], key[1].encode())
    server = server_on(dsn)
    try:
        replayed, expected = replays_of(server.url, calls, answered)
        assert replayed == expected
        api = Api(server.url)
        # The tombstone written before the upgrade still refuses the id it names.
        late = api.casino("debit", {"sessionToken": token, "userId": user_id, "roundId": "r3",
                                    "transactionId": "late", "amount": 10, "currency": "USD"})
        assert (late.status_code, late.json()["error"]["code"]) == (409, "TRANSACTION_ROLLED_BACK")
        for label in ("bet, before bonus money", "tombstone", "refused: limit, with details"):
            status = transaction_status(api, token, calls[label][1]["transactionId"])
            assert status.status_code == 200 and answered[label][1].decode() in status.text
        view = back_office(api, "GET", f"rounds/{code}/r1")
        assert view.status_code == 200, view.text
        assert [row["answer"] for row in view.json()["rows"]] == [
            {"status": 200, "body": json.loads(answered[label][1])} for label in ("bet, before bonus money", "payout")]
        # A call after the upgrade stores no body, and replays the same.
        new = api.casino("debit", {"sessionToken": token, "userId": user_id, "roundId": "r5", "transactionId": "n1",
                                   "amount": 50, "currency": "USD"})
        assert new.json() == {"transactionId": "n1", "balance": 900, "bonus": 0, "currency": "USD"}
        again = api.casino("debit", {"sessionToken": token, "userId": user_id, "roundId": "r5", "transactionId": "n1",
                                     "amount": 50, "currency": "USD"})
        assert (again.status_code, again.content, again.headers.get(REPLAYED)) == (200, new.content, "true")
    finally:
        server.stop()
        KEYS_BY_TOKEN.pop(token, None)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("""SELECT external_transaction_id FROM CASINO_TRANSACTIONS WHERE response_cache IS NULL""")
        assert cur.fetchall() == [("n1",)]
    conn.close()


def test_a_row_whose_answer_can_be_neither_read_nor_rebuilt_is_named_by_the_audit(fresh_dsn):
    """No CHECK says which rows store their answer (it cost a bet ~33 000 instructions:
    docs/performance.md, issue 23); casino_record writes them, and the audit names a row
    written otherwise."""
    migrate(fresh_dsn, log=lambda _: None)
    ledger = Ledger(fresh_dsn)
    user_id, wallets = ledger.player(funds=1_000)
    token = ledger.session(user_id, wallets["USD"], ledger.game())

    def write(tx, outcome="applied", status=200, body=None, bonus=0, currency="USD"):
        ledger.run(lambda cur: cur.execute("""
            INSERT INTO CASINO_TRANSACTIONS (provider_id, external_transaction_id, transaction_type, wallet_id,
                session_id, round_id, amount, request_fingerprint, outcome, balance_after, response_status,
                response_cache, answer_bonus, answer_currency)
            SELECT g.provider_id, %s, 'debit', s.wallet_id, s.id, 'r1', 0, 'by hand', %s, 1000, %s, %s, %s, %s
            FROM CASINO_GAME_SESSIONS s JOIN CASINO_GAMES g ON g.id = s.game_id WHERE s.token = %s""",
                                           (tx, outcome, status, body, bonus, currency, token)))

    write("rebuilt")                                    # as casino_record writes a success
    write("stored", outcome="refused", status=422, body='{"error": {}}', bonus=None, currency=None)
    assert ledger.violations() == []
    write("no bonus part", bonus=None)
    write("another currency", currency="EUR")
    write("a refusal without its body", outcome="refused", status=422)
    write("both", body="{}")
    wallet = wallets["USD"]
    assert ledger.violations() == [
        f"wallet {wallet}: debit {tx} ({outcome}, {status}) has an answer that can be neither read nor rebuilt "
        f"from its row" for tx, outcome, status in [("no bonus part", "applied", 200),
                                                    ("another currency", "applied", 200),
                                                    ("a refusal without its body", "refused", 422),
                                                    ("both", "applied", 200)]]
