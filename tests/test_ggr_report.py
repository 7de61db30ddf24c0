"""GGR and NGR by day, provider and game (GET /casino/admin/reports/ggr): the figures count
exactly what PROTOCOL.md says -- applied bets, payouts and refunds in the day of their own
row, nothing for refusals, tombstones and replays, nothing for deposits, withdrawals, bonus
grants and forfeits; the bonus parts of bets, refunds and payouts and the bonus completions
as README "Reports" defines them -- add up over any grouping to the totals, and the totals
are what the audit finds from the balances: deposits + grants - withdrawals - forfeits -
what the wallets hold.

Ledgers are written through the real wallet functions at times the tests choose
(tests/clocked.py), each in a currency of its own, so a report's figures in that currency
are the test's alone.
"""
import csv
import io
import itertools
import string
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta, UTC
from zoneinfo import ZoneInfo

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from casino import reports
from casino.audit import players_losses
from casino.currencies import major
from tests.clocked import ClockedLedger
from tests.support import OPERATOR_KEY

pytestmark = pytest.mark.usefixtures("clean_audit")

MIN_BET, MAX_BET, FUNDS = 5, 300, 1_000
DAY0 = datetime(2025, 3, 28, tzinfo=UTC)   # Europe's clocks go forward on the 30th, 01:00 UTC
SPAN_MINUTES = 4 * 24 * 60
ZONES = ("UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kathmandu")
FIGURES = reports.FIGURES
_codes = ("".join(c) for c in itertools.product("XZ", string.ascii_uppercase, string.ascii_uppercase))


def new_currency():
    """A currency no other test of this worker's database uses (XAA, XAB, ...)."""
    return next(_codes)


@pytest.fixture(scope="module")
def clocked(database_dsn):
    books = ClockedLedger(database_dsn)
    yield books
    books.close()


@pytest.fixture(scope="module")
def games(ledger):
    """Two games, each of a provider of its own."""
    return [ledger.game(min_bet=MIN_BET, max_bet=MAX_BET) for _ in range(2)]


class Model:
    """What PROTOCOL.md says each answered call adds to the report, from the answers alone
    (the bonus figures too: each answer says the wallet's balance and bonus after it, so a
    payout's or refund's bonus part -- kept, or forfeited -- is what they say moved; a bet's
    is what cash first leaves; a completion is what the bonus held when a bet wagered it)."""

    def __init__(self, tz, wallets):
        """wallets: {wallet id: its cash at the start}."""
        self.zone = ZoneInfo(tz)
        self.groups = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
        self.accepted = {}          # (provider, bet id) -> amount
        self.refunded = set()
        self.opened = set()         # (provider, round id)
        # wallet id -> its balance, bonus part and active bonus ({id, required, wagered}) as answered
        self.wallets = {wallet_id: {"balance": cash, "bonus": 0, "active": None} for wallet_id, cash in wallets.items()}
        self.bet_bonus = {}         # (provider, bet id) -> the bonus active when it was accepted

    def day(self, moment):
        return moment.astimezone(self.zone).date().isoformat()

    def add(self, moment, seat, call, reply, **call_args):
        if reply.replay or reply.status != 200 or reply.body.get("tombstone"):
            return      # a replay writes nothing; a refusal and a tombstone move nothing
        # An applied row, if only of 0 (a lost round's payout, the rollback of a refused bet): its group is listed.
        figures = self.groups[(self.day(moment), seat.provider_code, seat.game_id)]
        key = (seat.provider_id, call_args.get("original_id") or call_args["transaction_id"])
        w = self.wallets[seat.wallet_id]
        balance, bonus = reply.body["balance"], reply.body["bonus"]
        if call == "bet":
            amount = call_args["amount"]
            self.accepted[key] = amount
            figures["bets"] += 1
            figures["stakes"] += amount
            if (seat.provider_id, call_args["round_id"]) not in self.opened:
                self.opened.add((seat.provider_id, call_args["round_id"]))
                figures["rounds"] += 1
            bonus_part = amount - min(w["balance"] - w["bonus"], amount)       # cash first
            figures["bonusStakes"] += bonus_part
            active = w["active"]
            self.bet_bonus[key] = active and active["id"]
            if active:
                active["wagered"] += amount
                if active["wagered"] >= active["required"]:
                    # Completed in the bet's transaction: a row of no provider or game, its day.
                    self.groups[(self.day(moment), None, None)]["bonusCompleted"] += w["bonus"] - bonus_part
                    w["active"] = None
        elif call == "win":
            figures["wins"] += call_args["amount"]
            kept, forfeited = bonus - w["bonus"], w["balance"] + call_args["amount"] - balance
            figures["bonusWins"] += kept + forfeited
        elif call == "rollback" and key in self.accepted and key not in self.refunded:
            self.refunded.add(key)
            refund = self.accepted[key]
            figures["refunds"] += refund
            kept, forfeited = bonus - w["bonus"], w["balance"] + refund - balance
            figures["bonusStakes"] -= kept + forfeited
            if w["active"] and self.bet_bonus[key] == w["active"]["id"]:
                w["active"]["wagered"] -= refund
        w["balance"], w["bonus"] = balance, bonus

    def cashier(self, wallet_id, reply):
        if reply.status == 200:
            body = reply.body
            self.wallets[wallet_id].update(balance=body["balance"], bonus=body["balance"] - body["redeemable"])

    def granted(self, wallet_id, reply):
        if reply.status == 201 and not reply.replay:
            w = self.wallets[wallet_id]
            w["balance"] += reply.body["amount"]
            w["bonus"] += reply.body["amount"]
            w["active"] = {"id": reply.body["bonusId"], "required": reply.body["wageringRequired"], "wagered": 0}

    def cancelled(self, wallet_id, reply):
        if reply.status == 200:
            w = self.wallets[wallet_id]
            w["balance"] -= w["bonus"]
            w.update(bonus=0, active=None)

    def rows(self):
        return {key: reports.figures(*(f[name] for name in FIGURES[:5]), f["bonusStakes"], f["bonusWins"],
                                     f["bonusCompleted"])
                for key, f in self.groups.items()}


OPS = st.lists(st.tuples(
    st.sampled_from(["bet", "bet", "bet", "win", "win", "settle", "rollback", "rollback", "tombstone", "late bet",
                     "replay", "deposit", "withdraw", "grant", "grant", "grant", "cancel"]),
    st.integers(0, 3),                  # which seat
    st.integers(0, 3),                  # which round
    st.integers(0, 400),                # amount (beyond the game's limits too)
    st.integers(0, SPAN_MINUTES - 1),   # when, from DAY0
    st.integers(0, 10**6),              # which earlier call, bet or tombstone
), min_size=10, max_size=40)


def play(clocked, seats, users, currency, ops, model):
    """Runs ops through the real functions at their times. users: [(user_id, wallet_id)]; a
    cashier's or a bonus's op is of user seat % 2. A grant's wagering is 1-4 times its amount
    (completions happen), its expiry never reached."""
    calls, bets, tombstones = [], [], []
    prefix = uuid.uuid4().hex[:8]
    for n, (kind, seat_no, round_no, amount, minute, pick) in enumerate(ops):
        moment = DAY0 + timedelta(minutes=minute)
        clocked.at(moment)
        seat = seats[seat_no]
        round_id, tx = f"{prefix}-r{round_no}", f"{prefix}-{n}"
        if kind == "replay" and calls:
            seat, call, args = calls[pick % len(calls)]
            model.add(moment, seat, call, getattr(clocked, call)(seat, **args), **args)
            continue
        user_id, wallet_id = users[seat_no % 2]
        if kind in ("deposit", "withdraw"):
            model.cashier(wallet_id, getattr(clocked, kind)(user_id, currency, max(amount, 1)))
            continue
        if kind == "grant":
            model.granted(wallet_id, clocked.grant(user_id, currency, max(amount, 1), wagering=1 + round_no))
            continue
        if kind == "cancel":
            active = model.wallets[wallet_id]["active"]
            if active:
                model.cancelled(wallet_id, clocked.cancel(active["id"]))
            continue
        if kind in ("bet", "late bet"):
            if kind == "late bet" and tombstones:
                seat, tx = tombstones[pick % len(tombstones)]
            args = {"transaction_id": tx, "round_id": round_id, "amount": max(amount, 1)}
            bets.append((seat, args))
            call = "bet"
        elif kind == "win" or (kind == "settle" and not bets):
            args = {"transaction_id": tx, "round_id": round_id, "amount": amount}
            call = "win"
        elif kind == "settle":      # a payout of the round of an earlier bet, on its seat
            seat, bet = bets[pick % len(bets)]
            args = {"transaction_id": tx, "round_id": bet["round_id"], "amount": amount}
            call = "win"
        elif kind == "rollback" and bets:
            seat, bet = bets[pick % len(bets)]
            args = {"transaction_id": tx, "round_id": bet["round_id"], "original_id": bet["transaction_id"]}
            call = "rollback"
        else:   # a rollback of a bet never sent: a tombstone, its id dead for good
            args = {"transaction_id": tx, "round_id": round_id, "original_id": f"{prefix}-unseen-{n}"}
            tombstones.append((seat, args["original_id"]))
            call = "rollback"
        reply = getattr(clocked, call)(seat, **args)
        assert reply.status in (200, 403, 404, 409, 422), reply
        model.add(moment, seat, call, reply, **args)
        calls.append((seat, call, args))


def report(clocked, tz, currency, group_by):
    answer = clocked.run(reports.ggr, tz, DAY0.date() - timedelta(days=1), DAY0.date() + timedelta(days=5),
                         group_by)
    assert answer.status == 200
    rows = [r for r in answer.body["rows"] if r["currency"] == currency]
    return rows, answer.body["totals"].get(currency)


def summed(rows):
    return {name: sum(r[name] for r in rows) for name in FIGURES}


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=OPS, tz=st.sampled_from(ZONES), grouping=st.sets(st.sampled_from(reports.GROUPS)))
def test_figures_add_up_over_any_grouping_and_agree_with_the_balances(clocked, games, ops, tz, grouping):
    currency = new_currency()
    clocked.at(DAY0 - timedelta(days=1))
    # The second player starts with a bonus and no cash: its bets spend bonus money from the
    # first, and a few of them complete it.
    users = [clocked.player([currency], funds=funds) for funds in (FUNDS, 0)]
    seats = [clocked.seat(user_id, wallets[currency], currency, game)
             for user_id, wallets in users for game in games]
    model = Model(tz, {wallets[currency]: funds for (_, wallets), funds in zip(users, (FUNDS, 0), strict=True)})
    model.granted(users[1][1][currency], clocked.grant(users[1][0], currency, FUNDS // 2, wagering=1))
    play(clocked, seats, [(user_id, wallets[currency]) for user_id, wallets in users], currency, ops, model)

    rows, totals = report(clocked, tz, currency, ["day", "provider", "game"])
    assert {(r["day"], r["provider"], r["gameId"]): {k: r[k] for k in FIGURES} for r in rows} == model.rows()
    expected = summed(list(model.rows().values())) if model.rows() else None
    if expected is None:
        assert totals is None
        return
    expected.update(ggr=expected["stakes"] - expected["refunds"] - expected["wins"])
    expected.update(ngr=expected["ggr"] - expected["bonusCompleted"])
    assert totals == expected
    # Any grouping: its rows add up to the same totals (the database sums them separately).
    rows, totals_again = report(clocked, tz, currency, sorted(grouping))
    assert summed(rows) == totals == totals_again
    for row in rows:
        assert set(row) == {*({"game": "gameId"}.get(g, g) for g in grouping), "currency", *FIGURES}
    # The audit's figure: what the players were given (deposits, bonuses), less what they took
    # out, what was forfeited and what they hold.
    assert clocked.run(players_losses)[currency] == totals["ggr"]


def test_each_kind_of_row_counts_as_the_protocol_says(clocked, games):
    currency = new_currency()
    clocked.at(DAY0)
    (user_id, wallets), = [clocked.player([currency], funds=FUNDS)]
    seat = clocked.seat(user_id, wallets[currency], currency, games[0])
    p = uuid.uuid4().hex[:8]
    assert clocked.bet(seat, f"{p}-a", f"{p}-r1", 100).status == 200          # refunded below
    assert clocked.bet(seat, f"{p}-b", f"{p}-r1", 200).status == 200
    assert clocked.bet(seat, f"{p}-b", f"{p}-r1", 200).replay                 # a replay: nothing
    assert clocked.bet(seat, f"{p}-c", f"{p}-r1", 900).status == 422          # refused: nothing
    assert clocked.rollback(seat, f"{p}-ra", f"{p}-r1", f"{p}-a").status == 200
    assert clocked.rollback(seat, f"{p}-ra2", f"{p}-r1", f"{p}-a").status == 200   # refunded already: 0
    assert clocked.rollback(seat, f"{p}-rx", f"{p}-r1", f"{p}-x").body["tombstone"]   # a tombstone: nothing
    assert clocked.bet(seat, f"{p}-x", f"{p}-r1", 50).status == 409           # the tombstoned id: nothing
    assert clocked.win(seat, f"{p}-w", f"{p}-r1", 450, related_id=f"{p}-b").status == 200
    assert clocked.bet(seat, f"{p}-d", f"{p}-r2", 60).status == 200
    assert clocked.win(seat, f"{p}-w2", f"{p}-r2", 0).status == 200            # a lost round: 0
    assert clocked.deposit(user_id, currency, 5_000).status == 200             # the cashier's: not gaming
    assert clocked.withdraw(user_id, currency, 700).status == 200

    rows, totals = report(clocked, "UTC", currency, [])
    assert [{k: r[k] for k in FIGURES} for r in rows] == [totals]
    assert totals == {"rounds": 2, "bets": 3, "stakes": 360, "refunds": 100, "wins": 450, "ggr": -190,
                      "bonusStakes": 0, "bonusWins": 0, "bonusCompleted": 0, "ngr": -190}
    assert clocked.run(players_losses)[currency] == -190


def test_the_bonus_figures_count_as_the_readme_says(clocked, games):
    """bonusStakes: the bonus part of bets less what refunds gave back as bonus money (kept or
    forfeited); bonusWins: what payouts paid as bonus money; bonusCompleted: what completions
    made cash, in a row of no provider or game; ngr = ggr - bonusCompleted. And the audit's
    identity with grants and forfeits in the ledger."""
    currency = new_currency()
    clocked.at(DAY0)
    (user_id, wallets), = [clocked.player([currency], funds=100)]
    seat = clocked.seat(user_id, wallets[currency], currency, games[0])
    p = uuid.uuid4().hex[:8]

    def bonus_after(reply):
        assert reply.status == 200, reply
        return reply.body["bonus"]
    first = clocked.grant(user_id, currency, 1_000, wagering=1)
    assert first.status == 201
    assert bonus_after(clocked.bet(seat, f"{p}-a", f"{p}-r1", 300)) == 800          # cash 100, bonus 200
    assert bonus_after(clocked.win(seat, f"{p}-w1", f"{p}-r1", 150)) == 900         # 2/3 of 150 is bonus
    assert bonus_after(clocked.bet(seat, f"{p}-b", f"{p}-r2", 100)) == 850          # cash 50, bonus 50
    assert bonus_after(clocked.rollback(seat, f"{p}-rb", f"{p}-r2", f"{p}-b")) == 900   # its 50 kept
    assert bonus_after(clocked.bet(seat, f"{p}-c1", f"{p}-r3", 300)) == 650         # cash 50, bonus 250
    assert bonus_after(clocked.bet(seat, f"{p}-c2", f"{p}-r3", 300)) == 350
    assert bonus_after(clocked.bet(seat, f"{p}-c3", f"{p}-r3", 100)) == 0           # wagered: 250 made cash
    assert clocked.win(seat, f"{p}-w3", f"{p}-r3", 1_400).body["balance"] == 1_650  # its bonus share paid as cash
    second = clocked.grant(user_id, currency, 200, wagering=5)
    assert second.status == 201
    assert clocked.withdraw(user_id, currency, 1_650).status == 200
    assert bonus_after(clocked.bet(seat, f"{p}-d", f"{p}-r4", 150)) == 50           # bonus 150
    assert clocked.cancel(second.body["bonusId"]).status == 200                     # 50 forfeited
    assert clocked.rollback(seat, f"{p}-rd", f"{p}-r4", f"{p}-d").body["balance"] == 0  # 150 back, forfeited

    rows, totals = report(clocked, "UTC", currency, [])
    assert totals == {"rounds": 4, "bets": 6, "stakes": 1_250, "refunds": 250, "wins": 1_550, "ggr": -550,
                      "bonusStakes": 200 + 50 - 50 + 650 + 150 - 150, "bonusWins": 100, "bonusCompleted": 250,
                      "ngr": -800}
    by_provider, _ = report(clocked, "UTC", currency, ["provider"])
    assert {r["provider"]: (r["rounds"], r["ggr"], r["bonusCompleted"], r["ngr"]) for r in by_provider} == {
        seat.provider_code: (4, -550, 0, -550), None: (0, 0, 250, -250)}
    # deposits 100 + grants 1 200 - withdrawals 1 650 - forfeits 200 - balances 0 = GGR.
    assert clocked.run(players_losses)[currency] == -550


def test_a_row_counts_in_its_own_day_of_the_reporting_time_zone(clocked, games):
    """Berlin's 29 March 2025 starts at 23:00 UTC on the 28th; its 30th is 23 hours long
    (clocks go forward at 01:00 UTC) and ends at 22:00 UTC."""
    currency = new_currency()
    clocked.at(DAY0 - timedelta(days=2))
    (user_id, wallets), = [clocked.player([currency], funds=FUNDS)]
    seat = clocked.seat(user_id, wallets[currency], currency, games[1])
    p = uuid.uuid4().hex[:8]
    for n, (moment, amount) in enumerate([("2025-03-28T22:59:59Z", 10), ("2025-03-28T23:00:00Z", 20),
                                          ("2025-03-30T21:59:59Z", 40), ("2025-03-30T22:00:00Z", 80)]):
        clocked.at(datetime.fromisoformat(moment))
        assert clocked.bet(seat, f"{p}-{n}", f"{p}-r{n}", amount).status == 200

    def stakes_by_day(tz):
        rows, _ = report(clocked, tz, currency, ["day"])
        return {r["day"]: r["stakes"] for r in rows}
    assert stakes_by_day("Europe/Berlin") == {"2025-03-28": 10, "2025-03-29": 20, "2025-03-30": 40,
                                              "2025-03-31": 80}
    assert stakes_by_day("UTC") == {"2025-03-28": 30, "2025-03-30": 120}
    # A period is whole days of the zone: Berlin's 30th alone holds one of the four bets.
    answer = clocked.run(reports.ggr, "Europe/Berlin", date(2025, 3, 30), date(2025, 3, 30), [])
    assert answer.body["totals"][currency]["stakes"] == 40


# --- over HTTP -----------------------------------------------------------------------------------

def get(api, path, key=OPERATOR_KEY):
    return api.http.get(f"{api.base_url}/casino/admin/reports/{path}", timeout=30,
                        headers={"Authorization": f"Bearer {key}"} if key else {})


@pytest.fixture(scope="module")
def yen_and_dinar(clocked, games):
    """A day of play in JPY (no minor unit) and KWD (thousandths): 2025-01-15."""
    clocked.at(datetime(2025, 1, 15, 9, tzinfo=UTC))
    user_id, wallets = clocked.player(["JPY", "KWD"], funds=FUNDS)
    p = uuid.uuid4().hex[:8]
    for currency, bet, win in (("JPY", 250, 100), ("KWD", 275, 1_000)):
        seat = clocked.seat(user_id, wallets[currency], currency, games[0])
        assert clocked.bet(seat, f"{p}-{currency}-bet", f"{p}-{currency}", bet).status == 200
        assert clocked.win(seat, f"{p}-{currency}-win", f"{p}-{currency}", win).status == 200
    return clocked.run(lambda cur: (cur.execute("""SELECT p.code FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p
                                                   ON p.id = g.provider_id WHERE g.id = %s""", (games[0],)),
                                    cur.fetchone()[0])[1])


def test_json_in_minor_units_and_csv_in_major_units(api, yen_and_dinar, games):
    answer = get(api, "ggr?from=2025-01-15&to=2025-01-15&groupBy=provider,day")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["groupBy"] == ["day", "provider"] and body["timeZone"] == "UTC"
    mine = {r["currency"]: r for r in body["rows"] if r["provider"] == yen_and_dinar}
    assert (mine["JPY"]["stakes"], mine["JPY"]["wins"], mine["JPY"]["ggr"]) == (250, 100, 150)
    assert (mine["KWD"]["stakes"], mine["KWD"]["wins"], mine["KWD"]["ggr"]) == (275, 1_000, -725)

    answer = get(api, "ggr?from=2025-01-15&to=2025-01-15&groupBy=provider&format=csv")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="ggr-2025-01-15-2025-01-15.csv"'
    lines = list(csv.reader(io.StringIO(answer.text)))
    assert lines[0] == ["provider", "currency", *FIGURES]
    mine = {line[1]: line for line in lines[1:] if line[0] == yen_and_dinar}
    assert mine["JPY"][2:9] == ["1", "1", "250", "0", "100", "150", "0"]
    assert mine["KWD"][2:9] == ["1", "1", "0.275", "0.000", "1.000", "-0.725", "0.000"]
    # The totals close the file, one line per currency.
    totals = {line[1]: line for line in lines[1:] if line[0] == "total"}
    assert set(totals) == set(body["totals"])
    assert totals["KWD"][4] == major(body["totals"]["KWD"]["stakes"], "KWD")


def test_a_report_refuses_bad_periods_and_parameters(api):
    for path, status, code in (
            ("ggr?from=2025-01-16&to=2025-01-15", 422, "PERIOD_INVALID"),
            ("ggr?from=2024-01-01&to=2025-01-01", 422, "PERIOD_INVALID"),      # 367 days
            ("ggr?from=2025-02-30&to=2025-03-01", 400, "INVALID_REQUEST"),
            ("ggr?from=2025-01-15", 400, "INVALID_REQUEST"),
            ("ggr?from=2025-01-15&to=2025-01-15&groupBy=day,day", 400, "INVALID_REQUEST"),
            ("ggr?from=2025-01-15&to=2025-01-15&groupBy=player", 400, "INVALID_REQUEST"),
            ("ggr?from=2025-01-15&to=2025-01-15&format=xml", 400, "INVALID_REQUEST"),
            ("ggr?from=1969-12-31&to=1970-01-01", 400, "INVALID_REQUEST"),           # years 1970-9998
            ("ggr?from=9998-12-31&to=9999-01-01", 400, "INVALID_REQUEST")):
        answer = get(api, path)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), path
    assert get(api, "ggr?from=2024-01-01&to=2024-12-31").status_code == 200     # 366 days: a leap year


def test_reports_need_the_backoffice_scope(api, ledger):
    from casino import operators
    cashier = ledger.run(lambda cur: operators.create_key(cur, ["cashier", "admin"], "no backoffice")[0])
    reader = ledger.run(lambda cur: operators.create_key(cur, ["backoffice"], "reports")[0])
    for path in ("ggr?from=2025-01-15&to=2025-01-15", "player-funds",
                 "large-wins?from=2025-01-15&to=2025-01-15&multiple=2", "providers/JAQPOT/invoice?month=2025-01"):
        assert get(api, path, key=None).status_code == 401
        assert get(api, path, key=cashier).status_code == 403
        assert get(api, path, key=reader).status_code in (200, 404), path
