"""PROTOCOL.md's "Rules every money call shares", each written as the attack it stops:
disabled players, games and providers; idle sessions; the balance limit; tombstoned ids;
a tombstone racing the bet it names on another wallet's session."""
import threading
import time

import psycopg2
import pytest

from casino import players
from tests.support import Player, ServerProcess, idle_for, parallel
from tests.support import error_code as code
from wire.refusals import Refused

pytestmark = pytest.mark.usefixtures("clean_audit")

LIMIT = 2**53 - 1


@pytest.fixture
def player(api, ledger):
    return Player(api, ledger)


def seconds_idle(ledger, token):
    return ledger.query("""SELECT extract(epoch FROM now() - last_activity_at)::float
                           FROM CASINO_GAME_SESSIONS WHERE token = %s""", token)[0][0]


# --- disabled player, game, provider ---------------------------------------------------------

DISABLE = {
    "PLAYER_DISABLED": "UPDATE CASINO_USERS SET enabled = %s = 'active' WHERE id = %s RETURNING 1",
    "GAME_DISABLED": "UPDATE CASINO_GAMES SET enabled = %s = 'active' WHERE id = %s RETURNING 1",
    "PROVIDER_DISABLED": """UPDATE CASINO_GAME_PROVIDERS SET enabled = %s = 'active'
                            WHERE id = (SELECT provider_id FROM CASINO_GAMES WHERE id = %s) RETURNING 1""",
}


@pytest.mark.parametrize("error", DISABLE)
def test_disabled_takes_no_bet_on_a_session_opened_before_but_settles_its_rounds(player, error):
    target = player.user_id if error == "PLAYER_DISABLED" else player.game
    assert player.debit("d1", 100).status_code == 200
    assert player.debit("d2", 100).status_code == 200
    player.ledger.query(DISABLE[error], "disabled", target)

    refused = player.debit("d3", 100)
    assert (refused.status_code, code(refused)) == (403, error)
    assert player.rollback("rb2", "d2").status_code == 200
    assert player.credit("c1", 300, relatedTransactionId="d1").status_code == 200
    assert player.balance() == 1_000 - 100 + 300

    player.ledger.query(DISABLE[error], "active", target)
    again = player.debit("d3", 100)   # the refusal was stored like any other
    assert again.content == refused.content and again.headers["Idempotent-Replay"] == "true"
    assert player.debit("d4", 100, roundId="r2").status_code == 200


RACING_SESSIONS = 3


@pytest.mark.parametrize("error", DISABLE)
def test_no_bet_sent_after_a_disable_is_accepted(api, ledger, error):
    """Bets race the disable on several sessions at once (a player's on one wallet, so some
    wait for its lock while the disable commits; a game's and a provider's on several
    wallets): every bet sent after the disable's commit is refused, and only what was
    accepted moved money."""
    first = Player(api, ledger, funds=100_000)
    if error == "PLAYER_DISABLED":
        bettors = [(first.user_id, first.wallet, ledger.session(first.user_id, first.wallet, first.game))
                   for _ in range(RACING_SESSIONS)]
    else:
        bettors = [(first.user_id, first.wallet, first.token)]
        for _ in range(RACING_SESSIONS - 1):
            user_id, wallets = ledger.player(funds=100_000)
            bettors.append((user_id, wallets["USD"], ledger.session(user_id, wallets["USD"], first.game)))
    target = first.user_id if error == "PLAYER_DISABLED" else first.game
    accepted, disabled_at = threading.Event(), []

    def bets(n, user_id, token):
        def run():
            answers, refused_after = [], 0
            for i in range(500):
                sent = time.monotonic()
                r = api.casino("debit", {"sessionToken": token, "userId": user_id, "currency": "USD",
                                         "roundId": f"r{n}", "transactionId": f"race-{n}-{i}", "amount": 1})
                answers.append((sent, r.status_code, None if r.status_code == 200 else code(r)))
                if r.status_code == 200:
                    accepted.set()
                elif disabled_at and sent > disabled_at[0]:
                    refused_after += 1
                    if refused_after == 3:
                        break
            return answers
        return run

    def disable():
        assert accepted.wait(60), "no bet was accepted"
        ledger.query(DISABLE[error], "disabled", target)
        disabled_at.append(time.monotonic())
        return []

    results = parallel([bets(n, user_id, token) for n, (user_id, _, token) in enumerate(bettors)] + [disable])
    for answers in results[:-1]:
        late = [(status, error_code) for sent, status, error_code in answers if sent > disabled_at[0]]
        assert late and set(late) == {(403, error)}
        assert all(status in (200, 403) for _, status, _ in answers)
    ok = {}
    for (_, wallet, _), answers in zip(bettors, results[:-1], strict=True):
        ok[wallet] = ok.get(wallet, 0) + sum(status == 200 for _, status, _ in answers)
    for wallet, count in ok.items():
        assert ledger.balance(wallet)[0] == 100_000 - count
        applied = ledger.query("""SELECT count(*) FROM CASINO_TRANSACTIONS
                                  WHERE wallet_id = %s AND transaction_type = 'debit' AND outcome = 'applied'""",
                               wallet)
        assert applied == [(count,)]


def on_its_own_connection(dsn, statement, *params):
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, params)
    finally:
        conn.close()


def test_a_game_and_its_provider_changed_at_once_leave_every_session_right(api, ledger):
    """Both changes re-derive the same sessions (migration 0020): neither waits for the
    other forever, and whichever commits last, every session reads what the catalogue says."""
    first = Player(api, ledger)
    for _ in range(RACING_SESSIONS):
        user_id, wallets = ledger.player(funds=1_000)
        ledger.session(user_id, wallets["USD"], first.game)
    for state in ("disabled", "active", "disabled", "active"):
        parallel([lambda error=error, state=state: on_its_own_connection(ledger.dsn, DISABLE[error], state, first.game)
                  for error in ("GAME_DISABLED", "PROVIDER_DISABLED")])
        copies = ledger.query("""SELECT DISTINCT s.game_enabled, s.provider_enabled FROM CASINO_GAME_SESSIONS s
                                 WHERE s.game_id = %s""", first.game)
        assert copies == [(state == "active", state == "active")]
    assert first.debit("after", 100).status_code == 200


# --- idle sessions ---------------------------------------------------------------------------

def test_an_idle_session_takes_no_bet_but_settles_its_round(player):
    assert player.debit("d1", 100).status_code == 200
    assert player.debit("d2", 100).status_code == 200
    idle_for(player.ledger, player.token, 31 * 60)   # the default timeout is 30 minutes
    r = player.debit("d3", 100)
    assert (r.status_code, code(r)) == (403, "SESSION_INACTIVE")
    assert player.rollback("rb2", "d2").status_code == 200
    assert player.credit("c1", 50, relatedTransactionId="d1").status_code == 200
    assert seconds_idle(player.ledger, player.token) > 30 * 60   # settling is not activity
    assert player.balance() == 950


def test_a_bet_refreshes_the_session_at_most_once_a_minute(player):
    idle_for(player.ledger, player.token, 29 * 60)
    assert player.debit("d1", 100).status_code == 200
    assert seconds_idle(player.ledger, player.token) < 5
    idle_for(player.ledger, player.token, 30)
    assert player.debit("d2", 100).status_code == 200
    assert seconds_idle(player.ledger, player.token) >= 30   # not written again within the minute


def test_the_idle_timeout_is_a_setting(service_dsn, api, ledger):
    short = ServerProcess(service_dsn, extra_env={"SESSION_IDLE_TIMEOUT": "120"}).start()
    try:
        quick, slow = Player(api, ledger), Player(api, ledger)
        idle_for(ledger, quick.token, 90)
        idle_for(ledger, slow.token, 150)
        for p in (quick, slow):
            p.api = type(api)(short.url)
        assert quick.debit("d1", 100).status_code == 200
        r = slow.debit("d1", 100)
        assert (r.status_code, code(r)) == (403, "SESSION_INACTIVE")
        # 150 seconds is nothing to the default half hour.
        assert Player(api, ledger).debit("d1", 100).status_code == 200
        slow.api = api
        assert slow.debit("d2", 100).status_code == 200
    finally:
        short.stop()


# --- the balance limit -----------------------------------------------------------------------

def test_payouts_past_the_balance_limit_are_refused_and_stored(player):
    assert player.debit("d1", 100).status_code == 200
    # The attack: payouts of the largest amount until the balance overflows BIGINT.
    for i in range(3):
        r = player.credit(f"huge{i}", LIMIT)
        assert (r.status_code, code(r)) == (422, "BALANCE_LIMIT_EXCEEDED")
    assert player.credit("huge0", LIMIT).headers["Idempotent-Replay"] == "true"
    r = player.credit("to-the-limit", LIMIT - 900)
    assert r.status_code == 200 and r.json()["balance"] == LIMIT
    r = player.credit("one-more", 1)
    assert (r.status_code, code(r)) == (422, "BALANCE_LIMIT_EXCEEDED")
    assert player.ledger.balance(player.wallet) == (LIMIT, LIMIT)


def test_a_refund_past_the_balance_limit_is_refused(player):
    player.debit("d1", 100)
    player.debit("d2", 100, roundId="r2")
    assert player.credit("c1", LIMIT - 800, relatedTransactionId="d1").json()["balance"] == LIMIT
    r = player.rollback("rb2", "d2", roundId="r2")
    assert (r.status_code, code(r)) == (422, "BALANCE_LIMIT_EXCEEDED")
    assert player.rollback("rb2", "d2", roundId="r2").headers["Idempotent-Replay"] == "true"
    assert player.balance() == LIMIT


def test_a_deposit_past_the_balance_limit_is_refused(ledger):
    _, wallets = ledger.player(funds=1_000)
    wallet = wallets["USD"]
    with pytest.raises(Refused) as refused:
        ledger.run(players.deposit, wallet, LIMIT, "too-much-" + str(wallet))
    assert (refused.value.status_code, refused.value.code) == (422, "BALANCE_LIMIT_EXCEEDED")
    assert ledger.run(players.deposit, wallet, LIMIT - 1_000, "to-the-limit-" + str(wallet)) is True
    # A repeat of a deposit already made is still recognised, not refused.
    assert ledger.run(players.deposit, wallet, LIMIT - 1_000, "to-the-limit-" + str(wallet)) is False
    assert ledger.balance(wallet) == (LIMIT, LIMIT)


def test_the_wallet_itself_refuses_a_balance_past_the_limit(player):
    with pytest.raises(Exception, match="casino_balance_within_limit"):
        player.ledger.query("UPDATE CASINO_WALLETS SET playable_balance = %s WHERE id = %s RETURNING 1",
                            LIMIT + 1, player.wallet)


# --- tombstones --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["credit", "rollback", "debit"])
def test_an_id_named_by_a_tombstone_is_refused_whatever_the_call(player, kind):
    player.debit("d1", 100)
    assert player.rollback("rb-ghost", "ghost").json()["tombstone"] is True
    # The attack: the cancelled bet's id sent as a payout (or a rollback, or the bet itself).
    r = {"credit": lambda: player.credit("ghost", 5_000),
         "rollback": lambda: player.rollback("ghost", "d1"),
         "debit": lambda: player.debit("ghost", 100)}[kind]()
    assert (r.status_code, code(r)) == (409, "TRANSACTION_ROLLED_BACK")
    assert player.balance() == 900


def test_a_tombstone_outranks_every_other_refusal_of_a_late_bet(player):
    player.rollback("rb-late", "late")
    idle_for(player.ledger, player.token, 3600)
    r = player.debit("late", 10**9)
    assert (r.status_code, code(r)) == (409, "TRANSACTION_ROLLED_BACK")


def test_a_tombstone_and_the_bet_it_names_never_both_stand_across_wallets(api, ledger):
    """Bets on one wallet's session, rollbacks of them on another wallet's session of the
    same provider, all sent at once: each pair is decided one way or the other."""
    bettor = Player(api, ledger)
    other = Player(api, ledger)
    other.game = bettor.game
    other.token = ledger.session(other.user_id, other.wallet, bettor.game)
    applied = 0
    for burst in range(4):
        ids = [f"x{burst}-{i}" for i in range(10)]
        calls = [lambda tx=tx: bettor.debit(tx, 10) for tx in ids]
        calls += [lambda tx=tx: other.rollback("rb-" + tx, tx) for tx in ids]
        answers = parallel(calls)
        for bet, rollback in zip(answers[:10], answers[10:], strict=True):
            if rollback.status_code == 200:
                assert rollback.json() == {"transactionId": rollback.json()["transactionId"], "balance": 1_000,
                                           "bonus": 0, "currency": "USD", "tombstone": True}
                assert (bet.status_code, code(bet)) == (409, "TRANSACTION_ROLLED_BACK")
            else:
                assert (rollback.status_code, code(rollback)) == (409, "BET_NOT_FOUND")
                assert bet.status_code == 200
                applied += 1
    assert bettor.balance() == 1_000 - 10 * applied
    assert other.balance() == 1_000
    assert {row[1:] for row in ledger.rows(bettor.wallet)} <= {("debit", "applied", -10), ("debit", "refused", 0)}
