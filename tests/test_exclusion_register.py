"""An external self-exclusion register (casino/exclusion_register.py), asked at launch and
at deposit for a player whose jurisdiction names one: its answer and reference recorded for
every check, reused for REGISTER_CACHE_SECONDS, never followed to another address, bounded
by REGISTER_TIMEOUT; a register that cannot be asked refuses (503
EXCLUSION_CHECK_UNAVAILABLE) unless the jurisdiction allows. The register is the fake one
(casino/demo_register.py), in a thread of the test process like the other test servers."""
import time
from datetime import UTC, datetime, timedelta

import pytest

from casino.demo_register import FakeRegister
from tests.support import Bettor, back_office, error_code, market

pytestmark = pytest.mark.usefixtures("clean_audit")

T0 = datetime(2026, 4, 14, 12, 0, tzinfo=UTC)
IDENTITY = {"firstName": "Ann", "lastName": "Player", "dateOfBirth": "1990-02-28", "postcode": "SW1A 1AA"}


@pytest.fixture(scope="module")
def register():
    fake = FakeRegister(excluded=["Excluded"], previously=["Previously"]).start()
    yield fake
    fake.stop()


@pytest.fixture
def jurisdiction(api, register):
    """A market that asks the fake register, and refuses when it cannot."""
    register.mode = "up"
    return market(api, registerName="FAKE", registerUrl=register.url)


@pytest.fixture
def game(ledger):
    return ledger.launchable_game()


def launch(api, player, game):
    return api.client("launchGame", {"userId": player.user_id, "gameId": game, "currency": "USD"})


def checks(ledger, player):
    return ledger.query("""SELECT purpose, answer, reference IS NOT NULL, error, cached_from IS NOT NULL
                           FROM CASINO_REGISTER_CHECKS WHERE user_id = %s ORDER BY id""", player.user_id)


def test_launch_and_deposit_ask_the_register_and_record_its_answer(api, ledger, register, jurisdiction, game, clock):
    clock.set(T0)
    player = Bettor(api, ledger, jurisdiction=jurisdiction, identity=IDENTITY)
    asked = len(register.asked)
    assert launch(api, player, game).status_code == 200
    assert register.asked[asked] == {**IDENTITY, "email": register.asked[asked]["email"]}
    assert player.cash("deposit", 500).status_code == 200
    assert checks(ledger, player) == [("launch", "not-excluded", True, None, False),
                                      ("deposit", "not-excluded", False, None, True)]
    # The deposit reused the launch's answer (within REGISTER_CACHE_SECONDS): asked once.
    assert len(register.asked) == asked + 1
    clock.set(T0 + timedelta(seconds=901))
    assert player.cash("deposit", 500).status_code == 200
    assert len(register.asked) == asked + 2 and checks(ledger, player)[-1] == ("deposit", "not-excluded", True,
                                                                               None, False)


def test_a_player_the_register_excludes_is_refused(api, ledger, jurisdiction, game):
    player = Bettor(api, ledger, jurisdiction=jurisdiction, identity={**IDENTITY, "lastName": "Excluded"})
    r = launch(api, player, game)
    assert (r.status_code, r.json()["error"]) == (403, {
        "code": "PLAYER_EXCLUDED", "message": "the player is excluded by the external self-exclusion register"})
    deposit = player.cash("deposit", 100, f"dep-{player.user_id}")
    assert (deposit.status_code, error_code(deposit)) == (403, "PLAYER_EXCLUDED")
    assert player.cash("deposit", 100, f"dep-{player.user_id}").headers["Idempotent-Replay"] == "true"
    assert checks(ledger, player)[0][:2] == ("launch", "excluded")
    # Its launch's session never became active.
    assert ledger.query("SELECT bool_or(is_active) FROM CASINO_GAME_SESSIONS WHERE user_id = %s AND game_id = %s",
                        player.user_id, game) == [(False,)]


def test_previously_excluded_is_not_excluded(api, ledger, jurisdiction, game):
    player = Bettor(api, ledger, jurisdiction=jurisdiction, identity={**IDENTITY, "lastName": "Previously"})
    assert launch(api, player, game).status_code == 200
    assert checks(ledger, player)[0][:2] == ("launch", "previously-excluded")


@pytest.mark.parametrize("mode, error", [("down", "answered HTTP 500"), ("redirect", "answered HTTP 307"),
                                         ("garbage", "answered something that is not a register's answer")])
def test_a_register_that_cannot_be_asked_refuses_and_stores_nothing(api, ledger, register, jurisdiction, game,
                                                                    mode, error):
    player = Bettor(api, ledger, jurisdiction=jurisdiction, identity=IDENTITY)
    register.mode = mode
    asked = len(register.asked)
    r = launch(api, player, game)
    assert (r.status_code, error_code(r)) == (503, "EXCLUSION_CHECK_UNAVAILABLE")
    assert len(register.asked) == asked + 1             # a redirect is never followed
    reference = f"dep-{player.user_id}"
    deposit = player.cash("deposit", 100, reference)
    assert (deposit.status_code, error_code(deposit)) == (503, "EXCLUSION_CHECK_UNAVAILABLE")
    assert [row[3] for row in checks(ledger, player)] == [error, error]
    # Not stored: once the register answers, the same reference is taken.
    register.mode = "up"
    retried = player.cash("deposit", 100, reference)
    assert (retried.status_code, "Idempotent-Replay" in retried.headers) == (200, False)


def test_a_register_that_does_not_answer_is_waited_for_no_longer_than_the_setting(api, ledger, register,
                                                                                   jurisdiction, game):
    player = Bettor(api, ledger, jurisdiction=jurisdiction, identity=IDENTITY)
    register.mode = "hang"
    started = time.monotonic()
    r = launch(api, player, game)
    waited = time.monotonic() - started
    register.mode = "up"
    assert (r.status_code, error_code(r)) == (503, "EXCLUSION_CHECK_UNAVAILABLE")
    assert 3.0 <= waited < 6.0          # REGISTER_TIMEOUT, 3 s by default
    assert checks(ledger, player)[0][3] == "no answer in time"


def test_a_jurisdiction_may_allow_play_when_its_register_is_down(api, ledger, register, game):
    allowing = market(api, registerName="FAKE", registerUrl=register.url, registerUnavailable="allow")
    player = Bettor(api, ledger, jurisdiction=allowing, identity=IDENTITY)
    register.mode = "down"
    try:
        assert launch(api, player, game).status_code == 200
        assert player.cash("deposit", 100).status_code == 200
    finally:
        register.mode = "up"
    assert [row[3] for row in checks(ledger, player)] == ["answered HTTP 500"] * 2


def test_a_register_needs_the_players_identity(api, ledger, register, jurisdiction, game):
    player = Bettor(api, ledger, jurisdiction=jurisdiction, identity={**IDENTITY, "postcode": None})
    asked = len(register.asked)
    r = launch(api, player, game)
    assert (r.status_code, error_code(r)) == (422, "PLAYER_IDENTITY_MISSING")
    assert len(register.asked) == asked
    r = back_office(api, "POST", f"players/{player.user_id}/identity", IDENTITY)
    assert r.status_code == 200, r.text
    assert launch(api, player, game).status_code == 200
    audited = ledger.query("""SELECT request FROM CASINO_ADMIN_AUDIT WHERE action = 'setPlayerIdentity'
                              AND request ->> 'userId' = %s""", str(player.user_id))
    assert audited == [({"userId": player.user_id, "fields": sorted(IDENTITY)},)]     # never the values


def test_a_changed_identity_is_asked_again(api, ledger, register, jurisdiction, game):
    player = Bettor(api, ledger, jurisdiction=jurisdiction, identity=IDENTITY)
    assert launch(api, player, game).status_code == 200
    back_office(api, "POST", f"players/{player.user_id}/identity", {**IDENTITY, "lastName": "Excluded"})
    assert error_code(launch(api, player, game)) == "PLAYER_EXCLUDED"
    assert [row[1:] for row in checks(ledger, player)] == [("not-excluded", True, None, False),
                                                           ("excluded", True, None, False)]


def test_a_seeded_market_whose_register_has_no_address_fails_closed(api, ledger, game):
    briton = Bettor(api, ledger, jurisdiction="GB", identity=IDENTITY)
    r = launch(api, briton, game)
    assert (r.status_code, error_code(r)) == (503, "EXCLUSION_CHECK_UNAVAILABLE")
    assert checks(ledger, briton) == [("launch", None, False, "no address configured", False)]


def test_a_register_address_with_no_host_name_is_a_register_that_cannot_be_asked(api, ledger, game):
    """A registerUrl whose host IDNA cannot encode (an empty label): no answer, as for any
    register that cannot be asked (Schemathesis found it answered 500). A PUT refuses it now
    (tests/test_register_address_policy.py); a row written before that check still has it."""
    nameless = market(api, registerName="NAMELESS", registerUrl="https://93.184.216.34/check")
    ledger.run(lambda cur: cur.execute("UPDATE CASINO_JURISDICTIONS SET register_url = %s WHERE code = %s",
                                       ("http://register..example/check", nameless)))
    player = Bettor(api, ledger, jurisdiction=nameless, identity=IDENTITY)
    r = launch(api, player, game)
    assert (r.status_code, error_code(r)) == (503, "EXCLUSION_CHECK_UNAVAILABLE")
    deposit = player.cash("deposit", 100)
    assert (deposit.status_code, error_code(deposit)) == (503, "EXCLUSION_CHECK_UNAVAILABLE")
    assert [row[3] for row in checks(ledger, player)] == ["no answer in time"] * 2


def test_a_market_without_a_register_asks_none(api, ledger, register, game):
    player = Bettor(api, ledger)
    asked = len(register.asked)
    assert launch(api, player, game).status_code == 200
    assert player.cash("deposit", 100).status_code == 200
    assert len(register.asked) == asked and checks(ledger, player) == []
