"""The support page's cookies are Secure behind a proxy that ends TLS: SUPPORT_COOKIE_SECURE
(on by default outside development mode, off in it) flags them Secure whatever the
request's scheme; and its sign-in takes only a key holding its scope, backoffice -- a key
holding every other scope is refused, one holding backoffice and more is let in."""
import pytest
import requests

from casino import operators
from service.settings import SettingsError, read_settings
from sql.migrate import migrate
from tests.databases import create_database
from tests.support import CASINO_SECRET, KEYS_ENCRYPTION_KEY, OPERATOR_KEY, PROVIDER_SECRET, Ledger, ServerProcess

PRODUCTION = {"CASINO_SECRET": CASINO_SECRET.decode(), "PROVIDER_SECRET": PROVIDER_SECRET.decode(),
              "KEYS_ENCRYPTION_KEY": KEYS_ENCRYPTION_KEY}


def test_on_by_default_outside_development_mode_off_in_it():
    assert read_settings([], PRODUCTION).support_cookies_secure is True
    assert read_settings([], {}).support_cookies_secure is False
    assert read_settings([], {**PRODUCTION, "SUPPORT_COOKIE_SECURE": "off"}).support_cookies_secure is False
    assert read_settings([], {"SUPPORT_COOKIE_SECURE": "ON"}).support_cookies_secure is True
    with pytest.raises(SettingsError, match="SUPPORT_COOKIE_SECURE=yes: must be on or off"):
        read_settings([], {"SUPPORT_COOKIE_SECURE": "yes"})


@pytest.fixture(scope="module")
def behind_a_proxy():
    """A production server reached over plain http, as behind a proxy that ends TLS, with
    the setting's default (on)."""
    dsn = create_database("support_cookie")
    migrate(dsn, log=lambda _: None)
    server = ServerProcess(dsn, extra_env={"SUPPORT_COOKIE_SECURE": "", "RECONCILE_INTERVAL": "0"}).start()
    yield server.url, Ledger(dsn)
    server.stop()


def sign_in(url, key):
    """The form, and its post -- with the XSRF cookie given by hand: over plain http a client
    keeps a Secure cookie but does not send it back, as the proxy's https would."""
    form = requests.get(url + "/support/signin", timeout=30)
    token = form.cookies["_xsrf"]
    r = requests.post(url + "/support/signin", data={"key": key, "_xsrf": token}, cookies={"_xsrf": token},
                      allow_redirects=False, timeout=30)
    return form, r


def test_every_support_cookie_is_secure_over_plain_http(behind_a_proxy):
    url, _ = behind_a_proxy
    form, r = sign_in(url, OPERATOR_KEY)
    assert r.status_code == 303
    xsrf = form.headers["Set-Cookie"]
    assert all(flag in xsrf for flag in ("_xsrf=", "Secure", "HttpOnly", "SameSite=Strict"))
    cookie = r.headers["Set-Cookie"]
    assert all(flag in cookie for flag in ("support_key=", "Secure", "HttpOnly", "SameSite=Strict",
                                           "Path=/support")), cookie


def test_sign_in_takes_only_a_key_holding_backoffice(behind_a_proxy):
    url, ledger = behind_a_proxy
    without = ledger.run(lambda cur: operators.create_key(
        cur, [s for s in operators.SCOPES if s != "backoffice"], "no backoffice")[0])
    _, r = sign_in(url, without)
    assert r.status_code == 401 and "support_key" not in r.headers.get("Set-Cookie", "")
    assert "lacks the scope <code>backoffice</code>" in r.text
    more = ledger.run(lambda cur: operators.create_key(cur, ["backoffice", "cashier"], "backoffice and more")[0])
    _, r = sign_in(url, more)
    assert r.status_code == 303 and "support_key=" in r.headers["Set-Cookie"]
