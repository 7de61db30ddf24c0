"""A jurisdiction's registerUrl is called as a provider's apiEndpoint is (wire/addresses.py):
an http(s) URL whose host resolves to public addresses only, unless OUTBOUND_ALLOWED_NETWORKS
allows its network (the suite's servers: loopback, where the fake register listens); a
cloud's metadata address never. Checked at PUT (422 REGISTER_URL_NOT_ALLOWED, nothing
written; a malformed URL too, which answered 500) and again at each connection by the
register's client: a refused address is a register that cannot be asked, and the
jurisdiction's rule decides (503 EXCLUSION_CHECK_UNAVAILABLE, no money moved)."""
import asyncio
import json

import pytest

from casino.demo_register import FakeRegister
from casino.exclusion_register import ExclusionRegister
from db.pool import Database
from tests.support import Bettor, back_office, error_code, market
from wire.addresses import LOOPBACK, AddressPolicy
from wire.outbound import OutboundLimits, OutboundClient

pytestmark = pytest.mark.usefixtures("clean_audit")

IDENTITY = {"firstName": "Ann", "lastName": "Player", "dateOfBirth": "1990-02-28", "postcode": "SW1A 1AA"}
RULES = {"name": "Register market", "timeZone": "UTC", "coolingOffHours": 24, "increaseWaitsForPeriodEnd": False,
         "depositLimitRequired": False, "timeOutMin": "P1D", "timeOutMax": "P6W", "selfExclusionMin": "P6M",
         "registerName": "REG"}


def row(ledger, code):
    return ledger.query("SELECT row_to_json(j)::text FROM CASINO_JURISDICTIONS j WHERE code = %s", code)


@pytest.mark.parametrize("url, why", [
    ("http://169.254.169.254/latest", "169.254.169.254 is a cloud metadata address"),
    ("http://10.1.2.3/check", "10.1.2.3 is a private address"),
    ("https://[fd00:ec2::254]/check", "fd00:ec2::254 is a cloud metadata address"),
    # Malformed: each answered 500 before.
    ("http://[::1", "it is not a URL"),
    ("http://register.example:99999/check", "it is not a URL"),
    ("http://register..example/check", "register..example is not a host name"),
])
def test_a_register_url_outside_the_policy_is_refused_when_set(api, ledger, url, why):
    existing = market(api, registerName="REG", registerUrl="https://93.184.216.34/check")
    before = row(ledger, existing)
    for code in (existing, "R-" + existing[2:]):
        r = back_office(api, "PUT", f"jurisdictions/{code}", {**RULES, "registerUrl": url})
        assert (r.status_code, error_code(r)) == (422, "REGISTER_URL_NOT_ALLOWED"), r.text
        assert r.json()["error"]["message"].startswith(f"registerUrl refused: {why};")
    assert row(ledger, existing) == before
    assert row(ledger, "R-" + existing[2:]) == []
    assert ledger.query("""SELECT response_status FROM CASINO_ADMIN_AUDIT WHERE action = 'putJurisdiction'
                           AND request ->> 'code' = %s ORDER BY id DESC LIMIT 1""", existing) == [(422,)]


def test_the_bounds_of_the_body_come_before_the_register(api):
    """A body its own checks refuse (400) is refused so whatever its registerUrl."""
    r = back_office(api, "PUT", "jurisdictions/R-BOUNDS", {**RULES, "timeOutMin": "P9W",
                                                          "registerUrl": "http://10.1.2.3/"})
    assert (r.status_code, error_code(r)) == (400, "INVALID_REQUEST")


def test_an_address_refused_at_call_time_is_a_register_that_cannot_be_asked(api, ledger):
    """A row whose address the policy refuses (written before the check, or a name that now
    resolves elsewhere): the deposit is refused as for a register that is down, nothing moves."""
    code = market(api, registerName="REG", registerUrl="https://93.184.216.34/check")
    ledger.run(lambda cur: cur.execute("UPDATE CASINO_JURISDICTIONS SET register_url = %s WHERE code = %s",
                                       ("http://169.254.169.254/latest/meta-data", code)))
    player = Bettor(api, ledger, jurisdiction=code, identity=IDENTITY)
    before = (player.balance(), len(ledger.rows(player.wallet)))
    r = player.cash("deposit", 100)
    assert (r.status_code, error_code(r)) == (503, "EXCLUSION_CHECK_UNAVAILABLE")
    assert (player.balance(), len(ledger.rows(player.wallet))) == before


def test_the_register_client_connects_only_where_the_policy_allows(api, ledger):
    """The same listening register, asked through a client whose policy refuses loopback and
    through one that allows it: the first never reaches it (the register is asked nothing)."""
    register = FakeRegister().start()
    code = market(api, registerName="LOOP", registerUrl=register.url)    # the suite's servers allow loopback
    user_id, _ = ledger.player(funds=0, jurisdiction=code, identity=IDENTITY)

    async def ask(policy):
        db = Database(ledger.dsn, size=2)
        client = ExclusionRegister(2.0, 0, addresses=policy)
        try:
            return await client.verdict(db, user_id, "deposit")
        finally:
            client.close()
            db.close()
    try:
        assert asyncio.run(ask(AddressPolicy())) == "unavailable"
        assert register.asked == []
        assert asyncio.run(ask(AddressPolicy(LOOPBACK))) == "clear"
        assert len(register.asked) == 1
    finally:
        register.stop()


@pytest.mark.parametrize("url", ["http://[::1", "http://[::1]:99999/", "http://a..b/"])
def test_an_outbound_url_that_does_not_parse_is_no_answer(url):
    async def post():
        client = OutboundClient(OutboundLimits(connect_timeout=1.0, request_timeout=1.0))
        try:
            return await client.post(url, json.dumps({}).encode(), {})
        finally:
            client.close()
    assert asyncio.run(post()) is None
