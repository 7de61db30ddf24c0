"""On the wire: getBalance, debit, credit and rollback answers carry "bonus", the bonus
part of balance; an answer stored before bonus money existed -- without it -- replays byte
for byte as it was stored."""
import pytest

from casino.wallet import fingerprint
from tests.support import Gambler

pytestmark = pytest.mark.usefixtures("clean_audit")


def test_every_answer_of_the_four_callbacks_carries_bonus(api, ledger):
    g = Gambler(api, ledger, cash=100)
    g.granted(400, wagering=5)
    assert g.get_balance().json() == {"userId": g.user_id, "balance": 500, "bonus": 400, "currency": "USD"}
    assert g.debit("b1", 150).json() == {"transactionId": "b1", "balance": 350, "bonus": 350, "currency": "USD"}
    assert g.debit("b2", 50, round_id="r2").json() == {"transactionId": "b2", "balance": 300, "bonus": 300,
                                                       "currency": "USD"}
    # r1's stakes: 100 cash, 50 bonus; a payout of 30 is 20 cash, 10 bonus.
    assert g.credit("w1", 30).json() == {"transactionId": "w1", "balance": 330, "bonus": 310, "currency": "USD"}
    assert g.rollback("rb2", "b2", round_id="r2").json() == {
        "transactionId": "rb2", "balance": 380, "bonus": 360, "currency": "USD", "tombstone": False}
    assert g.rollback("rb3", "never-sent", round_id="r3").json() == {
        "transactionId": "rb3", "balance": 380, "bonus": 360, "currency": "USD", "tombstone": True}
    # A replay is the stored answer, bonus and all.
    again = g.credit("w1", 30)
    assert again.headers["Idempotent-Replay"] == "true" and again.json()["bonus"] == 310


# The body the money calls stored before bonus money (casino_money_body before migration
# 0018), computed by PostgreSQL exactly as it was: json_build_object's own spacing.
OLD_BODY = "SELECT json_build_object('transactionId', %s, 'balance', %s, 'currency', 'USD')::text"


def test_an_answer_stored_in_the_old_format_replays_unchanged(api, ledger):
    g = Gambler(api, ledger, cash=1_000)
    (old_body,), = ledger.query(OLD_BODY, "old-1", 750)
    assert '"bonus"' not in old_body

    def record_the_old_way(cur):
        # The row the debit of before would have written: its movement, its answer, its
        # fingerprint (as casino/wallet.py computes it), no bonus.
        cur.execute("""
            INSERT INTO CASINO_TRANSACTIONS (provider_id, external_transaction_id, transaction_type, wallet_id,
                session_id, round_id, amount, request_fingerprint, outcome, playable_movement, redeemable_movement,
                balance_after, response_status, response_cache)
            SELECT g.provider_id, 'old-1', 'debit', s.wallet_id, s.id, 'r1', 250, %s, 'applied', -250, -250, 750, 200,
                   %s::json
            FROM CASINO_GAME_SESSIONS s JOIN CASINO_GAMES g ON g.id = s.game_id WHERE s.token = %s""",
                    (fingerprint("debit", g.user_id, "r1", 250, "USD", None), old_body, g.token))
        cur.execute("UPDATE CASINO_WALLETS SET playable_balance = 750, redeemable_balance = 750 WHERE id = %s",
                    (g.wallet,))
    ledger.run(record_the_old_way)

    g.granted(500)          # bonus money now, which the old answer knew nothing of
    replay = g.debit("old-1", 250)
    assert replay.status_code == 200 and replay.headers["Idempotent-Replay"] == "true"
    assert replay.text == old_body
    assert g.balances() == (1_250, 750, 500)
    # A new call on the same wallet answers in the new format.
    assert g.debit("new-1", 250).json() == {"transactionId": "new-1", "balance": 1_000, "bonus": 500,
                                            "currency": "USD"}
