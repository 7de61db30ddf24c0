"""Player funds at an instant (GET /casino/admin/reports/player-funds): taken now, the sum of
the wallets' balances; taken at a past instant, reconstructed from the ledger -- at every
instant of a scripted day, what the wallets held then, whichever side of the instant the
report reads (the rows before it, or the balances less the rows after it); bonus money
(balance - cash) included: a grant, bets that spend it, its forfeit.
"""
import csv
import io
import uuid
from datetime import datetime, timedelta, UTC

import pytest

from casino import reports
from tests.clocked import ClockedLedger
from tests.support import OPERATOR_KEY

pytestmark = pytest.mark.usefixtures("clean_audit")

DAY = datetime(2025, 6, 12, tzinfo=UTC)
CURRENCY = "XPF"        # a currency of this test's own on the worker's database (no minor unit)


@pytest.fixture(scope="module")
def clocked(database_dsn):
    books = ClockedLedger(database_dsn)
    yield books
    books.close()


def held(clocked, currency):
    """What the currency's wallets hold now: (wallets, balance, redeemable)."""
    return clocked.run(lambda cur: (cur.execute("""
        SELECT count(*), coalesce(sum(playable_balance), 0), coalesce(sum(redeemable_balance), 0)
        FROM CASINO_WALLETS WHERE currency_code = %s""", (currency,)), cur.fetchone())[1])


def funds(clocked, at, currency, before=None):
    """The report's row for the currency at `at` (None: now), or None when it has none;
    before: force the side of the instant the report reads (None: the report's choice)."""
    if before is None:
        body = clocked.run(reports.player_funds, at).body
        rows = [r for r in body["rows"] if r["currency"] == currency]
    else:
        rows = [{"currency": c, "wallets": w, "balance": int(b), "cash": int(r), "bonus": int(b - r)}
                for c, w, b, r in clocked.run(reports.funds_at, at, before) if c == currency and w]
    return rows[0] if rows else None


def test_funds_at_every_instant_of_a_scripted_day(clocked, ledger):
    game = ledger.game(min_bet=1, max_bet=100_000)
    expected = {}       # instant -> (wallets, balance, cash) once that step is done

    def step(hour, minute, action):
        clocked.at(DAY + timedelta(hours=hour, minutes=minute))
        action()
        expected[clocked.now] = held(clocked, CURRENCY)

    p = uuid.uuid4().hex[:8]
    players = {}
    step(7, 0, lambda: players.update(ann=clocked.player([CURRENCY])))
    step(7, 30, lambda: players.update(bob=clocked.player([CURRENCY])))
    ann, bob = players["ann"], players["bob"]
    seat_ann = clocked.seat(ann[0], ann[1][CURRENCY], CURRENCY, game)
    seat_bob = clocked.seat(bob[0], bob[1][CURRENCY], CURRENCY, game)
    step(8, 0, lambda: clocked.deposit(ann[0], CURRENCY, 50_000))
    step(8, 15, lambda: clocked.deposit(bob[0], CURRENCY, 20_000))
    step(9, 0, lambda: clocked.bet(seat_ann, f"{p}-1", f"{p}-r1", 4_000))
    step(9, 1, lambda: clocked.bet(seat_bob, f"{p}-2", f"{p}-r2", 30_000))          # refused: funds
    step(10, 0, lambda: clocked.win(seat_ann, f"{p}-3", f"{p}-r1", 9_000))
    step(11, 0, lambda: clocked.bet(seat_bob, f"{p}-4", f"{p}-r2", 2_500))
    step(12, 0, lambda: clocked.rollback(seat_bob, f"{p}-5", f"{p}-r2", f"{p}-4"))   # refunded
    step(13, 0, lambda: clocked.rollback(seat_bob, f"{p}-6", f"{p}-r2", f"{p}-x"))   # a tombstone
    step(14, 0, lambda: clocked.withdraw(ann[0], CURRENCY, 30_000))
    step(15, 0, lambda: clocked.withdraw(bob[0], CURRENCY, 90_000))                 # refused: funds
    bonus = {}
    step(16, 0, lambda: bonus.update(clocked.grant(bob[0], CURRENCY, 5_000, wagering=10).body))
    step(18, 0, lambda: clocked.bet(seat_bob, f"{p}-7", f"{p}-r3", 19_999))          # cash first
    step(20, 0, lambda: clocked.bet(seat_bob, f"{p}-9", f"{p}-r4", 3_000))           # cash 1, bonus 2 999
    step(21, 0, lambda: clocked.cancel(bonus["bonusId"]))                           # 2 001 forfeited
    step(23, 59, lambda: clocked.win(seat_bob, f"{p}-8", f"{p}-r3", 0))

    # Before the first wallet there is nothing to owe; then at each step, what the wallets
    # held once it was done, and a second before the next step the same.
    assert funds(clocked, DAY + timedelta(hours=6, minutes=59), CURRENCY) is None
    instants = sorted(expected)
    for n, instant in enumerate(instants):
        wallets, balance, cash = expected[instant]
        row = {"currency": CURRENCY, "wallets": wallets, "balance": balance, "cash": cash, "bonus": balance - cash}
        later = (instants[n + 1] if n + 1 < len(instants) else DAY + timedelta(days=1)) - timedelta(seconds=1)
        for at in (instant, later):
            assert funds(clocked, at, CURRENCY) == row, at
            # Both ways of reading the ledger give it.
            assert funds(clocked, at, CURRENCY, before=True) == funds(clocked, at, CURRENCY, before=False) == row
    assert [expected[i][1] for i in instants] == [0, 0, 50_000, 70_000, 66_000, 66_000, 75_000, 72_500, 75_000,
                                                  75_000, 45_000, 45_000, 50_000, 30_001, 27_001, 25_000, 25_000]
    assert [expected[i][1] - expected[i][2] for i in instants][11:16] == [0, 5_000, 5_000, 2_001, 0]
    # Now: the wallets' balances, summed; the same as the ledger says at any later instant.
    wallets, balance, cash = held(clocked, CURRENCY)
    assert funds(clocked, None, CURRENCY) == {"currency": CURRENCY, "wallets": wallets, "balance": balance,
                                              "cash": cash, "bonus": balance - cash}
    assert funds(clocked, datetime.now(UTC) - timedelta(seconds=1), CURRENCY)["balance"] == balance


def get(api, path):
    return api.http.get(f"{api.base_url}/casino/admin/reports/{path}", timeout=30,
                        headers={"Authorization": f"Bearer {OPERATOR_KEY}"})


def test_over_http_now_a_past_instant_and_csv(api, ledger):
    user_id, wallets = ledger.player(funds=12_345, currencies=("KWD",))
    now = get(api, "player-funds")
    assert now.status_code == 200
    rows = {r["currency"]: r for r in now.json()["rows"]}
    total = ledger.query("""SELECT count(*), sum(playable_balance)::bigint FROM CASINO_WALLETS
                            WHERE currency_code = 'KWD'""")[0]
    assert (rows["KWD"]["wallets"], rows["KWD"]["balance"]) == (total[0], total[1])
    assert rows["KWD"]["cash"] == rows["KWD"]["balance"] and rows["KWD"]["bonus"] == 0

    past = get(api, "player-funds?at=2020-01-01T00:00:00Z")
    assert past.status_code == 200 and past.json() == {"at": "2020-01-01T00:00:00.000000Z", "rows": []}
    # An offset is an instant like any other (+ must be encoded in a URL).
    shifted = get(api, "player-funds?at=2020-01-01T01:00:00%2B01:00")
    assert shifted.json()["at"] == "2020-01-01T00:00:00.000000Z"

    answer = get(api, "player-funds?format=csv")
    lines = list(csv.reader(io.StringIO(answer.text)))
    assert lines[0] == ["at", "currency", "wallets", "balance", "cash", "bonus"]
    kwd = [line for line in lines if line[1] == "KWD"][0]
    assert kwd[3] == f"{total[1] // 1000}.{total[1] % 1000:03d}" and kwd[5] == "0.000"


def test_a_future_instant_or_a_malformed_one_is_refused(api):
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = get(api, f"player-funds?at={future}")
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "PERIOD_INVALID")
    for at in ("2025-06-12", "2025-06-12T25:00:00Z", "2025-06-12T10:00:00", "yesterday", "0001-01-01T00:00:00%2B14:00",
               "9999-12-31T23:59:59Z"):
        answer = get(api, f"player-funds?at={at}")
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "INVALID_REQUEST"), at
