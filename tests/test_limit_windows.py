"""The calendar windows a limit counts in: a day from 00:00, a week from Monday, a month from
the 1st, each in the player's jurisdiction's time zone (also across a DST change), and what
counts in them (PROTOCOL.md): wager = bets - refunds, loss = bets - refunds - payouts (it may
be negative), each row in the window of its own instant. Times are the database's test
clock, frozen where each step says."""
from datetime import UTC, datetime

import pytest

from tests.support import Bettor, back_office, error_code, market

pytestmark = pytest.mark.usefixtures("clean_audit")


def utc(*fields):
    return datetime(*fields, tzinfo=UTC)


def refused_by(response):
    assert response.status_code == 403, response.text
    return error_code(response), response.json()["error"]["details"]


def test_a_day_starts_at_midnight_in_the_jurisdictions_time_zone(api, ledger, clock):
    # Stockholm is UTC+2 in summer: its day of 11 June 2026 starts on 10 June at 22:00 UTC.
    clock.set(utc(2026, 6, 10, 21, 59, 59))
    sweden = Bettor(api, ledger, jurisdiction=market(api, timeZone="Europe/Stockholm"))
    sweden.limit("wager", "day", 1_000)
    assert sweden.bet("late", 800).status_code == 200
    code, details = refused_by(sweden.bet("too-much", 300))
    assert code == "WAGER_LIMIT_REACHED"
    assert details == {"limitType": "wager", "period": "day", "currency": "USD", "limit": 1_000, "used": 800,
                       "resetsAt": "2026-06-10T22:00:00.000000Z"}
    clock.set(utc(2026, 6, 10, 22, 0, 0))               # midnight in Stockholm, still 10 June in UTC
    assert sweden.bet("next-day", 1_000).status_code == 200
    assert sweden.limits()[("wager", "day")]["used"] == 1_000
    assert sweden.limits()[("wager", "day")]["resetsAt"] == "2026-06-11T22:00:00.000000Z"


def test_a_week_starts_on_monday(api, ledger, clock):
    clock.set(utc(2026, 5, 10, 22, 59, 0))            # Sunday 10 May, 23:59 in London (BST)
    briton = Bettor(api, ledger, jurisdiction="GB")
    briton.limit("loss", "week", 500)
    assert briton.bet("sunday", 500).status_code == 200
    code, details = refused_by(briton.bet("sunday-more", 1))
    assert (code, details["period"], details["resetsAt"]) == ("LOSS_LIMIT_REACHED", "week",
                                                              "2026-05-10T23:00:00.000000Z")
    clock.set(utc(2026, 5, 10, 23, 0, 0))             # Monday 00:00 in London
    assert briton.bet("monday", 500).status_code == 200
    assert briton.limits()[("loss", "week")]["resetsAt"] == "2026-05-17T23:00:00.000000Z"


def test_a_month_starts_on_the_first(api, ledger, clock):
    clock.set(utc(2026, 1, 31, 22, 0, 0))
    ontario = Bettor(api, ledger, jurisdiction="ON")    # Toronto: UTC-5 in winter
    ontario.limit("wager", "month", 2_000)
    assert ontario.bet("january", 2_000).status_code == 200
    clock.set(utc(2026, 2, 1, 4, 59, 59))             # 31 January 23:59:59 in Toronto
    _, details = refused_by(ontario.bet("january-more", 1))
    assert (details["period"], details["resetsAt"]) == ("month", "2026-02-01T05:00:00.000000Z")
    clock.set(utc(2026, 2, 1, 5, 0, 0))               # 1 February 00:00 in Toronto
    assert ontario.bet("february", 2_000).status_code == 200
    assert ontario.limits()[("wager", "month")]["resetsAt"] == "2026-03-01T05:00:00.000000Z"


def test_a_day_is_23_hours_when_the_clocks_go_forward(api, ledger, clock):
    # London, 29 March 2026: 01:00 GMT becomes 02:00 BST. That day runs from 00:00 GMT to
    # 23:00 UTC (midnight BST): 23 hours.
    clock.set(utc(2026, 3, 29, 0, 30, 0))
    briton = Bettor(api, ledger, jurisdiction="GB")
    briton.limit("wager", "day", 1_000)
    assert briton.limits()[("wager", "day")]["resetsAt"] == "2026-03-29T23:00:00.000000Z"
    assert briton.bet("before-the-change", 600).status_code == 200
    clock.set(utc(2026, 3, 29, 22, 59, 59))           # 23:59:59 BST, the same day
    _, details = refused_by(briton.bet("same-day", 401))
    assert details["used"] == 600 and details["resetsAt"] == "2026-03-29T23:00:00.000000Z"
    clock.set(utc(2026, 3, 29, 23, 0, 0))             # 30 March 00:00 BST
    assert briton.bet("next-day", 1_000).status_code == 200


def test_a_day_is_25_hours_when_the_clocks_go_back(api, ledger, clock):
    # London, 25 October 2026: 02:00 BST becomes 01:00 GMT; that day runs from 24 October
    # 23:00 UTC to 26 October 00:00 UTC: 25 hours.
    clock.set(utc(2026, 10, 24, 23, 0, 0))
    briton = Bettor(api, ledger, jurisdiction="GB")
    briton.limit("wager", "day", 1_000)
    assert briton.limits()[("wager", "day")]["resetsAt"] == "2026-10-26T00:00:00.000000Z"
    assert briton.bet("first-hour", 999).status_code == 200
    clock.set(utc(2026, 10, 25, 23, 59, 59))          # 23:59:59 GMT, still the same day
    assert error_code(briton.bet("late", 2)) == "WAGER_LIMIT_REACHED"
    clock.set(utc(2026, 10, 26, 0, 0, 0))
    assert briton.bet("next-day", 1_000).status_code == 200


def test_payouts_and_refunds_count_as_the_protocol_says(api, ledger, clock):
    clock.set(utc(2026, 4, 14, 9, 0, 0))
    player = Bettor(api, ledger, funds=100_000)
    player.limit("loss", "day", 1_000)
    player.limit("wager", "day", 3_000)
    assert player.bet("bet-1", 1_000, round_id="r1").status_code == 200         # loss 1000, wager 1000
    assert error_code(player.bet("past-the-loss-limit", 1, round_id="r2")) == "LOSS_LIMIT_REACHED"
    assert player.pay("win-1", 800, round_id="r1").status_code == 200            # a 1000 bet that wins 800: 200
    limits = player.limits()
    assert (limits[("loss", "day")]["used"], limits[("wager", "day")]["used"]) == (200, 1_000)
    assert player.bet("bet-3", 800, round_id="r3").status_code == 200            # loss 1000, wager 1800
    assert player.refund("undo-3", "bet-3", round_id="r3").status_code == 200    # loss 200, wager 1000
    limits = player.limits()
    assert (limits[("loss", "day")]["used"], limits[("wager", "day")]["used"]) == (200, 1_000)
    assert player.bet("bet-4", 500, round_id="r4").status_code == 200
    assert player.pay("win-4", 5_000, round_id="r4").status_code == 200          # loss may be negative
    assert player.limits()[("loss", "day")]["used"] == 200 + 500 - 5_000
    assert player.counters()[3] == 200 + 500 - 5_000                              # the wallet's, as kept
    assert player.bet("bet-5", 1_500, round_id="r5").status_code == 200          # wager 3000: at the limit
    assert error_code(player.bet("bet-6", 1, round_id="r6")) == "WAGER_LIMIT_REACHED"


def test_each_row_counts_in_the_window_of_its_own_instant(api, ledger, clock):
    clock.set(utc(2026, 4, 14, 23, 0, 0))
    player = Bettor(api, ledger, funds=100_000)
    player.limit("loss", "day", 1_000)
    assert player.bet("tuesday-bet", 1_000).status_code == 200
    clock.set(utc(2026, 4, 15, 0, 30, 0))
    # The payout of Tuesday's bet lands on Wednesday: it lowers Wednesday's loss, not Tuesday's.
    assert player.pay("wednesday-win", 600).status_code == 200
    assert player.limits()[("loss", "day")]["used"] == -600
    assert player.bet("wednesday-bet", 1_600).status_code == 200
    assert error_code(player.bet("wednesday-more", 1, round_id="r2")) == "LOSS_LIMIT_REACHED"


def test_a_new_time_zone_recounts_the_windows(api, ledger, clock):
    code = market(api, timeZone="UTC")
    clock.set(utc(2026, 4, 14, 20, 0, 0))
    player = Bettor(api, ledger, jurisdiction=code)
    player.limit("wager", "day", 1_000)
    assert player.bet("evening", 700).status_code == 200
    row = back_office(api, "GET", f"jurisdictions/{code}").json()
    row = {k: v for k, v in row.items() if k not in ("code", "updatedAt")}
    assert back_office(api, "PUT", f"jurisdictions/{code}", {**row, "timeZone": "Asia/Tokyo"}).status_code == 200
    # 20:00 UTC is 05:00 on 15 April in Tokyo: the evening bet was on the 15th's window too.
    clock.set(utc(2026, 4, 14, 21, 0, 0))
    assert player.limits()[("wager", "day")] == {
        "type": "wager", "period": "day", "currency": "USD", "amount": 1_000, "pendingAmount": None,
        "pendingFrom": None, "used": 700, "resetsAt": "2026-04-15T15:00:00.000000Z"}
    assert error_code(player.bet("more", 301)) == "WAGER_LIMIT_REACHED"
    clock.set(utc(2026, 4, 15, 15, 0, 0))
    assert player.bet("tokyo-next-day", 1_000).status_code == 200


def test_a_day_ends_while_the_week_and_the_month_go_on(api, ledger, clock):
    clock.set(utc(2026, 4, 13, 9, 0, 0))              # Monday
    player = Bettor(api, ledger, funds=100_000)
    clock.set(utc(2026, 4, 13, 10, 0, 0))
    player.limit("wager", "day", 1_000)
    player.limit("wager", "week", 2_500)
    player.limit("loss", "month", 100_000)
    assert player.bet("monday", 1_000, round_id="r1").status_code == 200
    clock.set(utc(2026, 4, 14, 10, 0, 0))             # Tuesday: a new day, the same week
    assert player.pay("monday-win-on-tuesday", 300, round_id="r1").status_code == 200
    assert player.bet("tuesday", 1_000, round_id="r2").status_code == 200
    limits = player.limits()
    assert [limits[key]["used"] for key in (("wager", "day"), ("wager", "week"), ("loss", "month"))] == [
        1_000, 2_000, 1_700]
    code, details = refused_by(player.bet("tuesday-more", 600, round_id="r3"))
    assert (code, details["period"], details["used"]) == ("WAGER_LIMIT_REACHED", "week", 2_000)
    assert player.counters()[3:] == (1_000 - 300, 1_700, 1_700, 1_000, 2_000, 2_000)
