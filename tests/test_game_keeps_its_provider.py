"""A game is never moved to another provider (migration 0025): its open sessions carry its
provider, the one a money call must be signed by, so the database refuses the move, whoever
tries, and the game, its sessions and their copies stay as they were."""
import uuid

import psycopg2
import pytest

from sql.migrate import migrate
from tests.support import Ledger


def test_a_game_is_never_moved_to_another_provider(fresh_dsn):
    migrate(fresh_dsn, log=lambda _: None)
    ledger = Ledger(fresh_dsn)
    game = ledger.game()
    user_id, wallets = ledger.player(funds=1_000)
    token = ledger.session(user_id, wallets["USD"], game)
    [(other,)] = ledger.query("""INSERT INTO CASINO_GAME_PROVIDERS (code, name) VALUES (%s, 'Another')
                                 RETURNING id""", "P-" + uuid.uuid4().hex[:8])
    [(before,)] = ledger.query("SELECT provider_id FROM CASINO_GAMES WHERE id = %s", game)
    assert before != other

    with pytest.raises(psycopg2.errors.RestrictViolation, match="never moved to another provider"):
        ledger.run(lambda cur: cur.execute("UPDATE CASINO_GAMES SET provider_id = %s WHERE id = %s", (other, game)))

    assert ledger.query("SELECT provider_id FROM CASINO_GAMES WHERE id = %s", game) == [(before,)]
    assert ledger.query("SELECT provider_id, provider_enabled FROM CASINO_GAME_SESSIONS WHERE token = %s",
                        token) == [(before, True)]
    # Any other change of the game is still its own to make.
    ledger.run(lambda cur: cur.execute("UPDATE CASINO_GAMES SET name = 'renamed', provider_id = provider_id "
                                       "WHERE id = %s", (game,)))
    assert ledger.query("SELECT name FROM CASINO_GAMES WHERE id = %s", game) == [("renamed",)]
