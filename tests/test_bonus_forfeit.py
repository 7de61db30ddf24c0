"""Forfeit: at expiresAt (a clock the tests control in the database), on an operator's
cancel (and on an exclusion: tests/test_bonus_exclusion.py), what remains of a bonus leaves
the wallet -- a ledger row -- and cash is never touched. The expiry pass is safe to run twice and on two processes at once;
a withdrawal takes only cash."""
import asyncio
import time

import pytest

from casino import bonuses
from db.pool import Database
from tests.support import Gambler, ServerProcess, error_code, parallel, run_cli

pytestmark = pytest.mark.usefixtures("clean_audit")

EXPIRES = "2100-01-01T00:00:00Z"
BEFORE, AT = "2099-12-31T23:59:59.999999Z", "2100-01-01T00:00:00Z"


@pytest.fixture
def gambler(api, ledger):
    return Gambler(api, ledger, cash=300)


def forfeit_rows(g, bonus_id):
    return [row for row in g.rows() if row[1] == "bonus_forfeit" and row[6] == bonus_id]


def test_from_its_expiry_a_bonus_counts_for_nothing_and_the_next_call_forfeits_it(gambler, clock):
    bonus = gambler.granted(500, wagering=10, expires_at=EXPIRES)["bonusId"]
    gambler.debit("b1", 400)                             # cash 300, bonus 100
    clock.set(BEFORE)
    assert gambler.get_balance().json()["bonus"] == 400
    clock.set(AT)
    # getBalance changes nothing, but answers the balance the next bet will see.
    assert gambler.get_balance().json() == {"userId": gambler.user_id, "balance": 0, "bonus": 0, "currency": "USD"}
    assert gambler.balances() == (400, 0, 400) and gambler.bonus(bonus)["status"] == "active"
    r = gambler.debit("b2", 50)
    assert (r.status_code, error_code(r)) == (422, "INSUFFICIENT_FUNDS")
    assert gambler.balances() == (0, 0, 0)
    listed = gambler.bonus(bonus)
    assert {k: listed[k] for k in ("status", "endReason", "wagered", "forfeited")} == {
        "status": "forfeited", "endReason": "expired", "wagered": 400, "forfeited": 400}
    assert listed["endedAt"] == "2100-01-01T00:00:00.000000Z"
    assert forfeit_rows(gambler, bonus) == [(f"bonus {bonus} forfeit", "bonus_forfeit", "applied", 400, 0, -400, bonus)]


@pytest.mark.parametrize("call", ["credit", "rollback", "deposit", "withdrawal", "grant"])
def test_every_write_on_the_wallet_forfeits_an_expired_bonus_first(gambler, clock, call):
    bonus = gambler.granted(500, wagering=10, expires_at=EXPIRES)["bonusId"]
    gambler.debit("b1", 100)                             # cash 100
    clock.set(AT)
    r = {"credit": lambda: gambler.credit("w1", 50),
         "rollback": lambda: gambler.rollback("rb1", "b1"),
         "deposit": lambda: gambler.deposit(50),
         "withdrawal": lambda: gambler.withdraw(50),
         "grant": lambda: gambler.grant(70, expires_at="2100-02-01T00:00:00Z")}[call]()
    assert r.status_code in (200, 201), r.text
    assert gambler.bonus(bonus)["status"] == "forfeited"
    assert len(forfeit_rows(gambler, bonus)) == 1
    balance, cash, bonus_money = gambler.balances()
    assert bonus_money == (70 if call == "grant" else 0)
    if call in ("credit", "rollback"):
        assert r.json()["balance"] == balance and r.json()["bonus"] == 0


def test_the_expiry_pass_forfeits_what_is_due_and_twice_is_once(api, ledger, clock):
    due = [Gambler(api, ledger, cash=100) for _ in range(3)]
    later = Gambler(api, ledger, cash=100)
    ids = [g.granted(200, expires_at=EXPIRES)["bonusId"] for g in due]
    kept = later.granted(200, expires_at="2100-01-01T00:00:01Z")["bonusId"]
    clock.set(AT)
    first = run_cli("casino.bonuses", "expire", dsn=ledger.dsn)
    assert first.returncode == 0, first.stderr
    assert int(first.stdout.split()[1]) >= 3       # and any other test's bonus this clock makes due
    for g, bonus in zip(due, ids, strict=True):
        assert g.balances() == (100, 100, 0) and len(forfeit_rows(g, bonus)) == 1
    assert later.bonus(kept)["status"] == "active" and later.balances() == (300, 100, 200)
    second = run_cli("casino.bonuses", "expire", dsn=ledger.dsn)
    assert second.stdout.strip() == "forfeited 0 expired bonus(es)"


def test_two_passes_at_once_on_two_processes_forfeit_each_bonus_once(api, ledger, clock):
    players = [Gambler(api, ledger, cash=0) for _ in range(12)]
    ids = [g.granted(100 + i, expires_at=EXPIRES)["bonusId"] for i, g in enumerate(players)]
    clock.set(AT)
    runs = parallel([lambda: run_cli("casino.bonuses", "expire", dsn=ledger.dsn)] * 2)
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    for g, bonus in zip(players, ids, strict=True):
        assert len(forfeit_rows(g, bonus)) == 1 and g.balances() == (0, 0, 0)
    forfeited = sum(int(r.stdout.split()[1]) for r in runs)
    total = ledger.query("SELECT count(*) FROM CASINO_TRANSACTIONS WHERE transaction_type = 'bonus_forfeit' "
                         "AND bonus_id = ANY(%s)", ids)[0][0]
    assert total == len(ids) and forfeited >= len(ids)


def test_passes_in_parallel_threads_and_bets_at_the_expiry_forfeit_once(api, ledger, clock):
    """Four passes in threads (each its own pool) and a bet on every wallet, all at once."""
    players = [Gambler(api, ledger, cash=50) for _ in range(8)]
    ids = [g.granted(500, expires_at=EXPIRES)["bonusId"] for g in players]
    clock.set(AT)

    def one_pass():
        db = Database(ledger.dsn, size=2)
        try:
            return asyncio.run(bonuses.expire_due(db))
        finally:
            db.close()

    answers = parallel([one_pass] * 4 + [lambda g=g: g.debit("late", 100) for g in players])
    assert all(error_code(r) == "INSUFFICIENT_FUNDS" for r in answers[4:])
    for g, bonus in zip(players, ids, strict=True):
        assert len(forfeit_rows(g, bonus)) == 1 and g.balances() == (50, 50, 0)


def test_an_operators_cancel_forfeits_what_remains_and_is_audited(gambler):
    bonus = gambler.granted(500, wagering=10)["bonusId"]
    gambler.debit("b1", 350)                             # cash 300, bonus 50
    r = gambler.cancel(bonus)
    assert r.status_code == 200
    assert {k: r.json()[k] for k in ("bonusId", "status", "endReason", "remaining", "forfeited", "wagered")} == {
        "bonusId": bonus, "status": "forfeited", "endReason": "cancelled", "remaining": 0, "forfeited": 450,
        "wagered": 350}
    assert gambler.balances() == (0, 0, 0)
    again = gambler.cancel(bonus)
    assert (again.status_code, error_code(again)) == (409, "BONUS_NOT_ACTIVE")
    assert "forfeited: cancelled" in again.json()["error"]["message"]
    unknown = gambler.cancel(2**53 - 1)
    assert (unknown.status_code, error_code(unknown)) == (404, "BONUS_NOT_FOUND")
    audit = gambler.ledger.query("""SELECT action, response_status FROM CASINO_ADMIN_AUDIT
                                    WHERE action = 'cancelBonus' AND (request ->> 'bonusId')::bigint = %s
                                    ORDER BY id""", bonus)
    assert audit == [("cancelBonus", 200), ("cancelBonus", 409)]


def test_cash_is_never_touched(api, ledger):
    g = Gambler(api, ledger, cash=1_000)
    bonus = g.granted(500, wagering=10)["bonusId"]
    g.debit("b1", 200)                                   # cash
    g.credit("w1", 300)                                  # cash stakes: cash
    g.cancel(bonus)
    assert g.balances() == (1_100, 1_100, 0)


def test_a_withdrawal_takes_only_cash(api, ledger):
    g = Gambler(api, ledger, cash=300)
    bonus = g.granted(500)["bonusId"]
    r = g.withdraw(301)
    assert (r.status_code, error_code(r)) == (422, "INSUFFICIENT_FUNDS")
    r = g.withdraw(300)
    assert r.status_code == 200 and (r.json()["balance"], r.json()["redeemable"]) == (500, 0)
    assert g.balances() == (500, 0, 500)
    assert g.bonus(bonus)["remaining"] == 500


def test_a_forfeit_needs_a_known_reason(gambler):
    bonus = gambler.granted(100)["bonusId"]
    with pytest.raises(Exception, match="unknown reason"):
        gambler.ledger.query("SELECT casino_forfeit_bonus(%s, 'because')", bonus)
    assert gambler.bonus(bonus)["status"] == "active"


def test_the_pass_runs_periodically_in_process(api, ledger, clock):
    g = Gambler(api, ledger, cash=0)
    bonus = g.granted(100, expires_at=EXPIRES)["bonusId"]
    clock.set(AT)
    db = Database(ledger.dsn, size=1)
    try:
        asyncio.run(bonuses.run_periodically(db, interval=0, passes=1))
    finally:
        db.close()
    assert g.bonus(bonus)["status"] == "forfeited"


def test_the_server_runs_the_pass_every_bonus_expiry_interval(api, ledger, service_dsn, clock):
    g = Gambler(api, ledger, cash=0)
    bonus = g.granted(100, expires_at=EXPIRES)["bonusId"]
    clock.set(AT)
    server = ServerProcess(service_dsn, extra_env={"BONUS_EXPIRY_INTERVAL": "0.05"}).start()
    try:
        # The pass runs on its own schedule: wait for its effect, within a bound.
        deadline = time.monotonic() + 20
        while g.bonus(bonus)["status"] == "active":
            assert time.monotonic() < deadline, "the server's pass did not forfeit the bonus within 20 s"
    finally:
        server.stop()
    assert g.balances() == (0, 0, 0)
