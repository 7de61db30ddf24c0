"""The casino's reconciliation with a provider (POST /casino/admin/reconciliations, GET
/casino/admin/reconciliations/{id}, python -m casino.reconcile, the daily run): the
provider's round feed against the ledger, round by round. Each kind of difference is
caused as it happens -- a bet whose answer the provider lost, a round the provider never
recorded, a payout the provider recorded as accepted that the casino refused, a round left
open, a forged amount, a round the casino never saw -- and found; a clean day finds none.

The provider's books are written by hand only where a provider's own defect is the
point (a refusal it took for an acceptance, a forged amount, a round it made up).
"""
import asyncio
import json
import socket
import uuid
from datetime import date, datetime, time, timedelta, UTC

import pytest

from casino import credentials, reconciliation
from casino.provider_link import ProviderLink
from db.pool import Database
from service.settings import SettingsError, read_settings
from tests.fake_peer import FakePeer
from tests.reconciliation_support import Books, page
from tests.support import (
    CASINO_SECRET,
    KEYS_ENCRYPTION_KEY,
    PROVIDER_SECRET,
    run_cli,
)
from wire.secrets_env import read_secrets


@pytest.fixture(scope="module")
def books():
    setup = Books(proxy=True)
    yield setup
    setup.stop()


def provider_round(books, round_id, status, calls, session_from=None, user_id=None):
    """Provider books as a defective provider would hold them: a round in `status` with
    calls [(kind, transactionId, amount, status)], on a provider session of the player's."""
    if session_from is None:
        session_from = books.api.client("launchGame", {"userId": user_id, "gameId": books.game}).json()[
            "providerSessionId"]

    def write(cur):
        cur.execute("""INSERT INTO PROVIDER_GAME_ROUNDS (round_id, session_id, player_id, game_id, currency, status)
                       SELECT %s, s.id, s.customer_id, s.game_id, s.currency, %s FROM PROVIDER_SESSIONS s
                       WHERE s.provider_session_id = %s RETURNING id""", (round_id, status, session_from))
        round_pk = cur.fetchone()[0]
        for kind, tx, amount, bet_status in calls:
            cur.execute("""INSERT INTO PROVIDER_BETS (transaction_id, round_id, bet_type, amount, request_cache, status)
                           VALUES (%s, %s, %s, %s, '{}', %s)""", (tx, round_pk, kind, amount, bet_status))
    books.ledger.run(write)


def figures(stakes, refunds, wins, state):
    return {"stakes": stakes, "refunds": refunds, "wins": wins, "state": state}


def sides(difference):
    """A difference's two sides without their openedAt (checked apart)."""
    return tuple(None if side is None else {k: v for k, v in side.items() if k != "openedAt"}
                 for side in (difference["casino"], difference["provider"]))


def test_a_bet_whose_answer_the_provider_lost_is_found(books):
    user_id, _ = books.ledger.player(funds=5_000)
    # Every answer to the round's first bet is lost: the provider cancels it with a rollback,
    # which refunds it -- the casino had taken it. Money agrees; the books do not.
    books.proxy.cut["/casino/debit"] = 4
    round_id = books.play(user_id)["roundId"]
    assert books.proxy.lost["/casino/debit"] == 4
    # Until the provider settles its round, the round is open on its side.
    found = books.differences(books.reconcile(), round_id)
    assert [(d["kind"], *sides(d)) for d in found] == [
        ("ROUND_OPEN", figures(300, 100, 400, "settled"), figures(200, 0, 400, "open"))]
    # The provider's own reconciliation closes it; what the two sides hold then differs.
    provider_reconcile = run_cli("provider.reconcile", "--stale-after", "0", "--round-timeout", "0",
                                 "--casino-url", books.server.url, dsn=books.dsn)
    assert provider_reconcile.returncode == 0, provider_reconcile.stdout + provider_reconcile.stderr
    found = books.differences(books.reconcile(), round_id)
    assert [(d["kind"], *sides(d)) for d in found] == [
        ("AMOUNT_MISMATCH", figures(300, 100, 400, "settled"), figures(200, 0, 400, "settled"))]


def test_a_round_the_provider_never_recorded_as_accepted_is_found(books):
    user_id, _ = books.ledger.player(funds=5_000)
    launch = books.api.client("launchGame", {"userId": user_id, "gameId": books.game}).json()
    round_id, tx = "rnd-" + uuid.uuid4().hex, "bet-" + uuid.uuid4().hex
    bet = {"sessionToken": launch["sessionToken"], "userId": user_id, "transactionId": tx, "roundId": round_id,
           "amount": 250, "currency": "USD"}
    assert books.api.casino("debit", bet).status_code == 200
    assert books.api.casino("credit", {**bet, "transactionId": tx + "-win", "amount": 0}).status_code == 200
    # The provider's record of it: the bet's answer never came, so nothing accepted.
    provider_round(books, round_id, "open", [("debit", tx, 250, "unknown")], launch["providerSessionId"])
    found = books.differences(books.reconcile(), round_id)
    assert [(d["kind"], *sides(d)) for d in found] == [
        ("ROUND_MISSING_AT_PROVIDER", figures(250, 0, 0, "settled"), None)]


def test_a_payout_the_provider_took_as_accepted_but_the_casino_refused_is_found(books):
    user_id, _ = books.ledger.player(funds=5_000)
    played = books.play(user_id)
    round_id, bet = played["roundId"], played["steps"][2]["request"]
    payout = {**bet, "transactionId": round_id + "-extra-payout", "amount": 250, "currency": "EUR"}
    refused = books.api.casino("credit", payout)
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "CURRENCY_MISMATCH")

    def provider_took_it(cur):
        cur.execute("""INSERT INTO PROVIDER_BETS (transaction_id, round_id, bet_type, amount, request_cache, status,
                                                  casino_status)
                       SELECT %s, id, 'credit', 250, %s, 'accepted', 200 FROM PROVIDER_GAME_ROUNDS
                       WHERE round_id = %s""",
                    (payout["transactionId"], json.dumps(payout), round_id))
    books.ledger.run(provider_took_it)
    found = books.differences(books.reconcile(), round_id)
    assert [(d["kind"], *sides(d)) for d in found] == [
        ("AMOUNT_MISMATCH", figures(300, 100, 400, "settled"), figures(300, 100, 650, "settled"))]


def test_an_open_round_is_found(books):
    user_id, _ = books.ledger.player(funds=5_000)
    launch = books.api.client("launchGame", {"userId": user_id, "gameId": books.game}).json()
    round_id, tx = "rnd-" + uuid.uuid4().hex, "bet-" + uuid.uuid4().hex
    assert books.api.casino("debit", {"sessionToken": launch["sessionToken"], "userId": user_id,
                                      "transactionId": tx, "roundId": round_id, "amount": 300,
                                      "currency": "USD"}).status_code == 200
    provider_round(books, round_id, "open", [("debit", tx, 300, "accepted")], launch["providerSessionId"])
    found = books.differences(books.reconcile(), round_id)
    assert [(d["kind"], *sides(d)) for d in found] == [
        ("ROUND_OPEN", figures(300, 0, 0, "open"), figures(300, 0, 0, "open"))]


def test_a_forged_amount_is_found(books):
    user_id, _ = books.ledger.player(funds=5_000)
    round_id = books.play(user_id)["roundId"]
    books.ledger.query("""UPDATE PROVIDER_BETS SET amount = amount + 1
                          WHERE bet_type = 'credit' AND round_id = (SELECT id FROM PROVIDER_GAME_ROUNDS
                                                                    WHERE round_id = %s) RETURNING id""", round_id)
    found = books.differences(books.reconcile(), round_id)
    assert [(d["kind"], *sides(d)) for d in found] == [
        ("AMOUNT_MISMATCH", figures(300, 100, 400, "settled"), figures(300, 100, 401, "settled"))]


def test_a_round_the_casino_never_saw_is_found(books):
    user_id, _ = books.ledger.player(funds=5_000)
    before = books.reconcile()
    round_id = "rnd-" + uuid.uuid4().hex
    provider_round(books, round_id, "settled", [("debit", round_id + "-1-bet", 75, "accepted"),
                                                ("credit", round_id + "-2-payout", 150, "accepted")],
                   user_id=user_id)
    body = books.reconcile()
    found = books.differences(body, round_id)
    assert [(d["kind"], *sides(d)) for d in found] == [
        ("ROUND_MISSING_AT_CASINO", None, figures(75, 0, 150, "settled"))]
    assert found[0]["currency"] == "USD" and found[0]["provider"]["openedAt"].startswith(str(books.today()))
    # Each side's totals count the rounds it holds: the provider's gained this one, the casino's nothing.
    def totals(answer, side):
        return {t["currency"]: t for t in answer["totals"][side]}.get(
            "USD", {"currency": "USD", "rounds": 0, "stakes": 0, "refunds": 0, "wins": 0})
    assert totals(body, "casino") == totals(before, "casino")
    assert totals(body, "provider") == {**totals(before, "provider"),
                                        "rounds": totals(before, "provider")["rounds"] + 1,
                                        "stakes": totals(before, "provider")["stakes"] + 75,
                                        "wins": totals(before, "provider")["wins"] + 150}
    assert body["roundsCompared"] == before["roundsCompared"] + 1
    assert body["differenceCount"] == before["differenceCount"] + 1
    assert books.ledger.violations() == []


def test_the_command_line_finds_them_too_and_says_so_by_its_exit_status(books):
    user_id, _ = books.ledger.player(funds=5_000)
    round_id = "rnd-" + uuid.uuid4().hex
    provider_round(books, round_id, "settled", [("debit", round_id + "-1-bet", 75, "accepted")], user_id=user_id)
    today = books.today()
    run = run_cli("casino.reconcile", "--provider", "JAQPOT", "--from", str(today - timedelta(days=1)),
                  "--to", str(today), "--provider-url", books.server.url, dsn=books.dsn)
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stdout.startswith("reconciliation ") and " difference(s)" in run.stdout.splitlines()[0]
    assert f"ROUND_MISSING_AT_CASINO round {round_id} (USD): casino none, provider settled stakes 75" in run.stdout
    stored = books.admin("GET", "reconciliations/list?providerCode=JAQPOT&limit=1").json()["items"][0]
    assert stored["requestedBy"] == "command-line" and stored["differenceCount"] > 0


def test_the_command_line_says_when_the_provider_cannot_be_read(books):
    # A port held bound but not listening: every connection to it is refused at once.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        today = books.today()
        run = run_cli("casino.reconcile", "--provider", "JAQPOT", "--from", str(today),
                      "--provider-url", f"http://127.0.0.1:{held.getsockname()[1]}", dsn=books.dsn)
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stdout.startswith("PROVIDER_UNAVAILABLE: ") and "stored as failed" in run.stdout
    assert "Traceback" not in run.stderr
    stored = books.admin("GET", "reconciliations/list?providerCode=JAQPOT&limit=1").json()["items"][0]
    assert (stored["status"], stored["requestedBy"]) == ("failed", "command-line")


def test_refusals_scopes_and_the_audit(books):
    today = books.today()
    for body, status, code in (
            ({"providerCode": "JAQPOT", "from": str(today), "to": str(today - timedelta(days=1))}, 422,
             "PERIOD_INVALID"),
            ({"providerCode": "JAQPOT", "from": str(today - timedelta(days=31)), "to": str(today)}, 422,
             "PERIOD_INVALID"),
            ({"providerCode": "NO-SUCH", "from": str(today), "to": str(today)}, 404, "PROVIDER_NOT_FOUND"),
            ({"providerCode": "JAQPOT", "from": "yesterday", "to": str(today)}, 400, "INVALID_REQUEST")):
        answer = books.admin("POST", "reconciliations", body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), body
    audited = books.ledger.query("""SELECT request ->> 'providerCode', response_status FROM CASINO_ADMIN_AUDIT
                                    WHERE action = 'createReconciliation' ORDER BY id DESC LIMIT 3""")
    assert audited == [("NO-SUCH", 404), ("JAQPOT", 422), ("JAQPOT", 422)]
    # The backoffice scope reads them; running one takes admin.
    from casino import operators
    reader = books.ledger.run(lambda cur: operators.create_key(cur, ["backoffice"], "reader")[0])
    answer = books.admin("POST", "reconciliations", {"providerCode": "JAQPOT", "from": str(today),
                                                     "to": str(today)}, key=reader)
    assert answer.status_code == 403
    body = books.reconcile()
    again = books.admin("GET", f"reconciliations/{body['reconciliationId']}", key=reader)
    assert again.status_code == 200 and again.json()["reconciliationId"] == body["reconciliationId"]
    assert books.ledger.query("""SELECT response_status FROM CASINO_ADMIN_AUDIT WHERE action = 'createReconciliation'
                                 ORDER BY id DESC LIMIT 1""") == [(201,)]
    answer = books.admin("GET", "reconciliations/999999999")
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "RECONCILIATION_NOT_FOUND")
    answer = books.admin("GET", "reconciliations/list?providerCode=NO-SUCH")
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "PROVIDER_NOT_FOUND")


# --- a provider that cannot be read --------------------------------------------------------------

@pytest.fixture(scope="module")
def fake_provider(books):
    """A provider of the casino's at a fake server that answers what a test tells it."""
    peer = FakePeer().start()
    game = books.ledger.launchable_game(endpoint=peer.url + "/provider")
    code = books.ledger.query("""SELECT p.code FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p
                                 ON p.id = g.provider_id WHERE g.id = %s""", game)[0][0]
    yield peer, code
    peer.stop()


ROUND = {"roundId": "r-1", "status": "settled", "currency": "USD", "stakes": 10, "refunds": 0, "wins": 5,
         "openedAt": "2025-01-01T00:00:00Z", "closedAt": None}


@pytest.mark.parametrize("answers,why", [
    ([(503, b"{}", {})], "the game provider refused or did not answer"),
    ([(403, b'{"error":{"code":"CASINO_UNKNOWN","message":"who?"}}', {})], "refused: CASINO_UNKNOWN"),
    ([(200, b'{"rounds": "none"}', {})], "not the protocol's answer"),
    ([page([{**ROUND, "stakes": -1}])], "malformed or repeated round"),
    ([page([ROUND], "7"), page([ROUND])], "malformed or repeated round"),
    ([page([], "7")], "gives the cursor 7 again"),
])
def test_a_feed_that_cannot_be_read_whole_is_stored_as_failed(books, fake_provider, answers, why):
    peer, code = fake_provider
    peer.answers["/provider/rounds"] = answers
    peer._given.clear()
    body = books.reconcile(provider=code, status=502)
    assert body["error"]["code"] == "PROVIDER_UNAVAILABLE" and why in body["error"]["message"]
    stored = books.admin("GET", f"reconciliations/list?providerCode={code}&limit=1").json()["items"][0]
    assert stored["status"] == "failed" and why in stored["failure"] and stored["roundsCompared"] == 0
    assert f"reconciliation {stored['reconciliationId']}, stored as failed" in body["error"]["message"]


def test_a_provider_that_does_not_answer_at_all(books):
    game = books.ledger.launchable_game(endpoint="http://127.0.0.1:9/provider")      # nothing listens there
    code = books.ledger.query("""SELECT p.code FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p
                                 ON p.id = g.provider_id WHERE g.id = %s""", game)[0][0]
    body = books.reconcile(provider=code, status=502)
    assert body["error"]["message"].startswith("the game provider refused or did not answer (reconciliation ")


# --- a clean day, and every day ------------------------------------------------------------------

@pytest.fixture
def clean():
    """A database of its own holding clean days only, on a server that reconciles every day."""
    setup = Books(extra_env={"DAILY_RECONCILIATION": "03:15"})
    yield setup
    setup.stop()


def daily_pass(books, day):
    """The server's daily pass, run now for `day` (what run_daily does at DAILY_RECONCILIATION)."""
    secrets = read_secrets({"CASINO_SECRET": CASINO_SECRET.decode(), "PROVIDER_SECRET": PROVIDER_SECRET.decode(),
                            "KEYS_ENCRYPTION_KEY": KEYS_ENCRYPTION_KEY})

    async def run():
        db = Database(books.dsn, size=2)
        keys = credentials.keyring(db, secrets)
        link = ProviderLink(books.server.url, keys)
        try:
            await keys.keys.load_now()
            return await reconciliation.daily_pass(db, link, secrets.casino_code, "UTC", day)
        finally:
            link.close()
            db.close()
    return asyncio.run(run())


def test_a_clean_day_finds_no_difference(clean):
    players = [clean.ledger.player(funds=5_000)[0] for _ in range(2)]
    played = [clean.play(user_id)["roundId"] for user_id in players for _ in range(3)]
    body = clean.reconcile()
    assert (body["status"], body["roundsCompared"], body["differenceCount"], body["differences"]) == \
        ("complete", 6, 0, [])
    totals = {"currency": "USD", "rounds": 6, "stakes": 6 * 300, "refunds": 6 * 100, "wins": 6 * 400}
    assert body["totals"] == {"casino": [totals], "provider": [totals]}
    assert len(set(played)) == 6

    today = clean.today()
    run = run_cli("casino.reconcile", "--from", str(today), "--provider-url", clean.server.url, dsn=clean.dsn)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "6 round(s) compared, 0 difference(s)" in run.stdout

    # The daily pass: every active provider of an operator's, once a day.
    first = daily_pass(clean, today)
    assert list(first) == ["JAQPOT"] and first["JAQPOT"].status == 201
    assert first["JAQPOT"].body["differenceCount"] == 0 and first["JAQPOT"].body["requestedBy"] == "schedule"
    assert daily_pass(clean, today) == {}
    assert clean.ledger.violations() == []


def test_the_daily_run_comes_at_its_time_of_day():
    utc = UTC
    berlin_10 = datetime(2025, 3, 28, 9, 0, tzinfo=utc)                # 10:00 in Berlin
    assert reconciliation.next_daily_run(berlin_10, time(3, 15), "Europe/Berlin") == \
        datetime(2025, 3, 29, 2, 15, tzinfo=utc)
    assert reconciliation.next_daily_run(datetime(2025, 3, 29, 1, 0, tzinfo=utc), time(3, 15), "Europe/Berlin") == \
        datetime(2025, 3, 29, 2, 15, tzinfo=utc)                       # 02:00 local: today's is still ahead
    # 30 March: clocks go from 02:00 to 03:00, so 02:30 never happens; the run comes at 03:30 (01:30 UTC).
    assert reconciliation.next_daily_run(datetime(2025, 3, 29, 23, 0, tzinfo=utc), time(2, 30), "Europe/Berlin") == \
        datetime(2025, 3, 30, 1, 30, tzinfo=utc)
    assert reconciliation.next_daily_run(datetime(2025, 3, 30, 23, 0, tzinfo=utc), time(2, 30), "Europe/Berlin") == \
        datetime(2025, 3, 31, 0, 30, tzinfo=utc)                       # summer time: UTC+2


def test_the_daily_settings():
    assert read_settings([], {}).daily_reconciliation is None
    assert read_settings([], {"DAILY_RECONCILIATION": "OFF"}).daily_reconciliation is None
    assert read_settings([], {"DAILY_RECONCILIATION": "02:30"}).daily_reconciliation == time(2, 30)
    assert read_settings([], {"REPORT_TIME_ZONE": "America/St_Johns"}).report_time_zone == "America/St_Johns"
    for env, line in (({"DAILY_RECONCILIATION": "25:00"}, "DAILY_RECONCILIATION=25:00: must be off or a time of day"),
                      ({"DAILY_RECONCILIATION": "2:30"}, "DAILY_RECONCILIATION=2:30: must be off or a time of day"),
                      ({"REPORT_TIME_ZONE": "Mars/Olympus"}, "REPORT_TIME_ZONE=Mars/Olympus: not a time zone"),
                      ({"REPORT_TIME_ZONE": "../etc/passwd"}, "REPORT_TIME_ZONE=../etc/passwd: not a time zone")):
        with pytest.raises(SettingsError) as refused:
            read_settings([], env)
        assert str(refused.value).startswith(line)


def test_a_period_is_whole_days_of_the_reporting_time_zone(books):
    """Stored with the instants it covered: the server counts in UTC; Berlin's 30 March
    2025 is 23 hours long."""
    body = books.reconcile(start=date(2025, 3, 30), end=date(2025, 3, 30))
    assert (body["status"], body["timeZone"], body["startsAt"], body["endsAt"]) == (
        "complete", "UTC", "2025-03-30T00:00:00.000000Z", "2025-03-31T00:00:00.000000Z")
    starts, ends = books.ledger.run(reconciliation._instants, "Europe/Berlin", date(2025, 3, 30), date(2025, 3, 30))
    assert (starts, ends) == (datetime(2025, 3, 29, 23, tzinfo=UTC),
                              datetime(2025, 3, 30, 22, tzinfo=UTC))


def test_the_first_and_last_days_a_period_may_name_are_reconciled(books):
    """The feed is read an hour either side of the period, but never beyond the years its
    instants may name: 1970-01-01 starts at midnight UTC, and the hour before it is 1969."""
    for day in (date(1970, 1, 1), date(9998, 12, 31)):
        body = books.reconcile(start=day, end=day)
        assert (body["status"], body["roundsCompared"], body["failure"]) == ("complete", 0, None), day
