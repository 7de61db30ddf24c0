"""The support page (/support/*) in a real headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium): sign in with a backoffice key, find a player, read
the wallets and the ledger page by page, open a round and its answers, look a
transaction up, sign out; a wrong key refused, a hostile username shown as text. Plus the
HTTP-level rules a browser does not show: cookie flags, XSRF, headers, no key in URLs.

UPDATE_SCREENSHOT=1 pytest tests/test_support_page.py rewrites docs/support-page.png and
docs/support-page-bonus.png.
"""
import json
import os
import shutil
import tempfile
import uuid
from datetime import datetime, timedelta, UTC
from urllib.parse import quote

import pytest
import requests
import tornado.testing

from casino import operators
from casino.currencies import grouped
from tests.clocked import ClockedLedger
from tests.fake_peer import FakePeer
from tests.support import OPERATOR_KEY, ROOT, Gambler, needs, until_refused

pytestmark = pytest.mark.usefixtures("clean_audit")

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
needs_browser = needs("chromium", "chromedriver")
BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1000")
DEPOSITS, DEPOSIT = 54, 250          # 57 USD rows with the round's three: more than one page of 50


def admin(api, method, path, body=None, key=OPERATOR_KEY):
    r = api.http.request(method, f"{api.base_url}/casino/admin/{path}", timeout=30,
                         data=json.dumps(body).encode() if body is not None else None,
                         headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    assert r.status_code in (200, 201), r.text
    return r.json()


def key_with(ledger, *scopes):
    return ledger.run(lambda cur: operators.create_key(cur, list(scopes), "support page test")[0])


@pytest.fixture(scope="module")
def story(api, ledger):
    """A player named like an attack, with two wallets, a long ledger and one round."""
    name = "<script>alert(1)</script>" + uuid.uuid4().hex[:6]
    player = admin(api, "POST", "players", {"username": name, "email": f"{uuid.uuid4().hex[:8]}@example.com"})
    user_id = player["userId"]
    usd = admin(api, "POST", "wallets", {"userId": user_id, "currency": "USD"})["walletId"]
    admin(api, "POST", "wallets", {"userId": user_id, "currency": "EUR"})
    admin(api, "POST", "deposits", {"userId": user_id, "currency": "EUR", "amount": 777, "reference": "eur-first"
                                    + uuid.uuid4().hex[:6]})
    first_usd = "usd-first-" + uuid.uuid4().hex[:6]
    for n in range(DEPOSITS):
        admin(api, "POST", "deposits", {"userId": user_id, "currency": "USD", "amount": DEPOSIT,
                                        "reference": first_usd if n == 0 else f"usd-{n}-{uuid.uuid4().hex[:6]}"})
    game = ledger.game()
    token = ledger.session(user_id, usd, game)
    provider = ledger.query("""SELECT p.code FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p
                               ON p.id = g.provider_id WHERE g.id = %s""", game)[0][0]
    round_id = "r/" + uuid.uuid4().hex[:8]          # a '/' in the id: links must encode it
    body = {"sessionToken": token, "userId": user_id, "currency": "USD", "roundId": round_id}
    assert api.casino("debit", {**body, "transactionId": "bet-1", "amount": 1_000}).status_code == 200
    assert api.casino("debit", {**body, "transactionId": "bet-2", "amount": 99_999}).status_code == 422
    assert api.casino("credit", {**body, "transactionId": "win-1", "amount": 2_345}).status_code == 200
    return {"user_id": user_id, "username": name, "email": player["email"], "provider": provider,
            "round_id": round_id, "first_usd": first_usd, "view": admin(api, "GET", f"players/{user_id}")}


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="support-page-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*BROWSER_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(15)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def click(driver, by, value):
    """Click what navigates, and wait until the next page has replaced this one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    def replaced(_):
        # Stale: Chrome answers for an element of a document it has replaced either with
        # a stale reference or, mid-navigation, "does not belong to the document".
        try:
            page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" not in str(exc):
                raise
            return True
        return False
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(by, value).click()
    WebDriverWait(driver, 10, poll_frequency=0.02).until(replaced)
    WebDriverWait(driver, 10, poll_frequency=0.02).until(lambda d: d.execute_script("return document.readyState") == "complete")


def sign_in(driver, base_url, key):
    from selenium.webdriver.common.by import By
    driver.get(base_url + "/support/signin")
    driver.find_element(By.ID, "key").send_keys(key)
    click(driver, By.ID, "signin")


@needs_browser
def test_support_staff_follow_a_player_and_a_round(api, ledger, story, browser):
    from selenium.webdriver.common.by import By
    base, text = api.base_url, lambda element_id: browser.find_element(By.ID, element_id).text

    # Signed out, every page leads to the sign-in form; a wrong or under-scoped key is refused.
    browser.get(f"{base}/support/players/{story['user_id']}")
    assert browser.current_url == f"{base}/support/signin"
    for wrong in ("op_nothing.wrong", key_with(ledger, "lobby", "cashier")):
        sign_in(browser, base, wrong)
        assert "That key was refused" in text("refused")
        assert browser.get_cookie("support_key") is None

    key = key_with(ledger, "backoffice")
    sign_in(browser, base, key)
    assert browser.current_url == f"{base}/support/"
    assert text("operator") == key.split(".")[0]
    assert key not in browser.current_url and key.split(".")[1] not in browser.page_source
    cookie = browser.get_cookie("support_key")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/support"

    # Find by e-mail, by username (the hostile one, typed as is), by id: each opens the player.
    for query in (story["email"], story["username"], str(story["user_id"])):
        field = browser.find_element(By.NAME, "q")
        field.send_keys(query)
        click(browser, By.ID, "find")
        assert browser.current_url == f"{base}/support/players/{story['user_id']}"
    # Shown as text, never run: no alert opened, no script element made of it.
    assert text("username") == story["username"]
    assert browser.execute_script("return document.querySelectorAll('main script').length") == 0
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in browser.page_source

    # The wallets' figures, as the API gives them (54 x 250 - 1,000 + 2,345 = 14,845 cents), in
    # major units.
    usd = browser.find_element(By.ID, "wallet-USD")
    assert usd.find_element(By.CLASS_NAME, "balance").text == "148.45"
    wallets = {w["currency"]: w for w in story["view"]["wallets"]}
    assert wallets["USD"]["balance"] == 14_845
    assert usd.find_element(By.CLASS_NAME, "redeemable").text == grouped(wallets["USD"]["redeemable"], "USD")
    eur = browser.find_element(By.ID, "wallet-EUR")
    assert (eur.find_element(By.CLASS_NAME, "balance").text, eur.find_element(By.CLASS_NAME, "redeemable").text) \
        == ("7.77", "7.77")

    # The ledger, newest first, 50 a page; the older page ends with the first deposits.
    first_page = ledger_rows(browser)
    assert len(first_page) == 50
    assert [r[0] for r in first_page[:3]] == ["win-1", "bet-2", "bet-1"]
    assert first_page[1][3] == "refused" and first_page[0][8] == "148.45"
    png = browser.get_screenshot_as_png()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    if os.environ.get("UPDATE_SCREENSHOT"):
        (ROOT / "docs" / "support-page.png").write_bytes(png)
    click(browser, By.ID, "next-page")
    older = ledger_rows(browser)
    assert len(older) == DEPOSITS + 3 + 1 - 50
    assert not {r[0] for r in older} & {r[0] for r in first_page}
    assert older[-1][0].startswith("eur-first") and older[-2][0] == story["first_usd"]
    assert not browser.find_elements(By.ID, "next-page")

    # The round: each call with the answer it got.
    click(browser, By.ID, "first-page")
    click(browser, By.LINK_TEXT, story["round_id"])
    assert browser.current_url == f"{base}/support/rounds/{story['provider']}/{quote(story['round_id'], safe='')}"
    assert text("state") == "settled"
    calls = ledger_rows(browser)
    assert [(c[0], c[2], c[3], c[5]) for c in calls] == [("bet-1", "debit", "applied", "-10.00"),
                                                         ("bet-2", "debit", "refused", "0.00"),
                                                         ("win-1", "credit", "applied", "23.45")]
    answers = [c[-1] for c in calls]
    assert answers[0].startswith("200") and '"balance": 12500' in answers[0]
    assert answers[1].startswith("422") and "INSUFFICIENT_FUNDS" in answers[1]

    # A transaction by id, from the bar.
    browser.find_element(By.NAME, "id").send_keys("bet-2")
    click(browser, By.ID, "lookup")
    found = ledger_rows(browser)
    assert [(f[0], f[1], f[10]) for f in found] == [("bet-2", story["provider"], str(story["user_id"]))]
    assert "INSUFFICIENT_FUNDS" in found[0][-1]

    # Signing out forgets the key: the pages lead to the sign-in form again.
    click(browser, By.ID, "signout")
    assert browser.current_url == f"{base}/support/signin" and browser.get_cookie("support_key") is None
    browser.get(f"{base}/support/players/{story['user_id']}")
    assert browser.current_url == f"{base}/support/signin"


@needs_browser
def test_support_staff_see_a_players_bonuses_and_each_bets_split(api, ledger, browser):
    """A player with a cancelled bonus and an active one, and bets that spent cash, then bonus
    money: the bonuses with what was wagered and what remains, and each row's split."""
    from selenium.webdriver.common.by import By
    g = Gambler(api, ledger, cash=300)
    first = g.granted(200, wagering=5)["bonusId"]
    assert g.cancel(first).status_code == 200
    second = g.granted(500, wagering=10, expires_at="2100-03-01T12:00:00Z")["bonusId"]
    assert g.debit("split-1", 400).json()["bonus"] == 400          # cash 300, bonus 100
    assert g.credit("split-win", 100).json()["bonus"] == 425        # a quarter of the stakes were bonus

    sign_in(browser, api.base_url, key_with(ledger, "backoffice"))
    browser.get(f"{api.base_url}/support/players/{g.user_id}")
    rows = browser.execute_script("""
        return [...document.querySelectorAll("table#bonuses tr")].slice(1)
            .map(row => [...row.cells].map(cell => cell.innerText.trim()));""")
    assert [r[0].split()[0] for r in rows] == [str(second), str(first)]
    assert rows[0][1:8] == ["5.00 USD", "50.00 (10×)", "4.00", "4.25", "active", "2100-03-01T12:00:00.000000Z", ""]
    assert rows[1][5] == "forfeited (cancelled)" and rows[1][9] == "2.00"
    assert browser.find_element(By.ID, f"bonus-{second}").get_attribute("class") == "active"
    # Each row's movement, of it cash, of it bonus (and whose).
    split = {r[0]: r[5:8] for r in ledger_rows(browser)}
    assert split["split-1"] == ["-4.00", "-3.00", f"-1.00 (bonus {second})"]
    assert split["split-win"] == ["1.00", "0.75", f"0.25 (bonus {second})"]
    assert split[f"bonus {first} forfeit"] == ["-2.00", "0.00", f"-2.00 (bonus {first})"]
    if os.environ.get("UPDATE_SCREENSHOT"):
        (ROOT / "docs" / "support-page-bonus.png").write_bytes(browser.get_screenshot_as_png())
    click(browser, By.ID, "signout")


@pytest.fixture(scope="module")
def fortnight(database_dsn, ledger):
    """Two weeks of play in CHF on two providers of this module's own, one round a day on
    each (stamped at the day's first seconds, through the real functions: tests/clocked.py);
    returns ({(day, provider): GGR}, the player's CHF balance)."""
    games = [ledger.game(min_bet=1, max_bet=10**6) for _ in range(2)]
    codes = [ledger.query("SELECT p.code FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id "
                          "WHERE g.id = %s", g)[0][0] for g in games]
    today = ledger.query("SELECT (now() AT TIME ZONE 'UTC')::date")[0][0]
    first = datetime.combine(today - timedelta(days=13), datetime.min.time(), tzinfo=UTC)
    books = ClockedLedger(database_dsn)
    books.at(first - timedelta(days=1))
    user_id, wallets = books.player(["CHF"], funds=1_000_000)
    seats = [books.seat(user_id, wallets["CHF"], "CHF", game) for game in games]
    expected = {}
    for n in range(14):
        for k, (seat, code) in enumerate(zip(seats, codes, strict=True)):
            stake = 1_000 * (n + 1) + 500 * k
            win = [0, 2 * stake, stake // 2][(n + k) % 3]
            books.at(first + timedelta(days=n, seconds=1 + k))
            assert books.bet(seat, f"{code}-{n}-bet", f"{code}-{n}", stake).status == 200
            assert books.win(seat, f"{code}-{n}-win", f"{code}-{n}", win).status == 200
            expected[((first + timedelta(days=n)).date().isoformat(), code)] = stake - win
    books.close()
    return expected, ledger.balance(wallets["CHF"])[0]


@pytest.fixture(scope="module")
def reconciled(api, ledger):
    """A reconciliation with a provider whose feed lists a round the casino never saw."""
    peer = FakePeer().start()
    peer.answers["/provider/rounds"] = [(200, json.dumps({"rounds": [{
        "roundId": "made-up-round", "status": "settled", "currency": "CHF", "stakes": 1_234, "refunds": 0,
        "wins": 0, "openedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "closedAt": None}],
        "nextCursor": None}).encode(), {"Content-Type": "application/json"})]
    game = ledger.launchable_game(endpoint=peer.url + "/provider")
    code = ledger.query("SELECT p.code FROM CASINO_GAMES g JOIN CASINO_GAME_PROVIDERS p ON p.id = g.provider_id "
                        "WHERE g.id = %s", game)[0][0]
    today = ledger.query("SELECT (now() AT TIME ZONE 'UTC')::date")[0][0]
    body = admin(api, "POST", "reconciliations", {"providerCode": code, "from": str(today - timedelta(days=1)),
                                                  "to": str(today)})
    peer.stop()
    return body


@needs_browser
def test_the_reports_view_charts_ggr_and_lists_funds_and_reconciliations(api, ledger, browser, fortnight, reconciled):
    from selenium.webdriver.common.by import By
    expected, balance = fortnight
    sign_in(browser, api.base_url, key_with(ledger, "backoffice"))
    click(browser, By.ID, "reports")
    assert browser.current_url == f"{api.base_url}/support/reports"
    # Two weeks of daily GGR per provider, drawn as inline SVG: a bar per day and provider.
    chart = browser.find_element(By.ID, "chart-CHF")
    bars = {(b.get_attribute("data-day"), b.get_attribute("data-provider")): int(b.get_attribute("data-ggr"))
            for b in chart.find_elements(By.CSS_SELECTOR, "rect.bar")}
    assert bars == expected
    assert any(int(b) < 0 for b in bars.values()) and any(int(b) > 0 for b in bars.values())
    assert chart.find_element(By.CSS_SELECTOR, "rect.bar title").get_attribute("textContent").endswith(" CHF")
    assert browser.execute_script("return document.scripts.length") == 0
    ggr = sum(expected.values())
    assert browser.find_element(By.CSS_SELECTOR, "#ggr-CHF .ggr").text == grouped(ggr, "CHF")
    # Player funds, in major units.
    funds = browser.find_element(By.ID, "funds-CHF")
    assert funds.find_element(By.CLASS_NAME, "balance").text == grouped(balance, "CHF")
    # The last reconciliations, the newest first, with their differences.
    row = browser.find_element(By.ID, f"reconciliation-{reconciled['reconciliationId']}")
    assert row.find_element(By.CLASS_NAME, "differences").text == "1"
    difference = browser.find_element(By.CSS_SELECTOR, "tr.details tr.difference").text
    assert "ROUND_MISSING_AT_CASINO made-up-round CHF none 12.34 / 0.00 / 0.00 (settled)" == difference
    # The whole page in one picture: the window made as tall as the page for it.
    size = browser.get_window_size()
    browser.set_window_size(size["width"], browser.execute_script("return document.body.scrollHeight") + 140)
    png = browser.get_screenshot_as_png()
    browser.set_window_size(size["width"], size["height"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    if os.environ.get("UPDATE_SCREENSHOT"):
        (ROOT / "docs" / "support-reports.png").write_bytes(png)
    click(browser, By.LINK_TEXT, str(reconciled["reconciliationId"]))
    assert browser.find_element(By.ID, "difference-count").text == "1"
    assert "made-up-round" in browser.find_element(By.CSS_SELECTOR, "table.differences").text


def test_the_reports_view_refuses_a_bad_period_as_a_page(api):
    http, _ = signed_in_session(api)
    for query, status in (("from=2025-02-01&to=2025-01-01", 422), ("from=2025-02-30", 400),
                          ("from=2023-01-01&to=2025-01-01", 422)):
        r = http.get(f"{api.base_url}/support/reports?{query}", timeout=30)
        assert r.status_code == status and 'id="error"' in r.text, query
    r = http.get(f"{api.base_url}/support/reports?from=2025-01-01&to=2025-01-14", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "<script" not in r.text
    for path, status in (("/support/reconciliations/999999999", 404), ("/support/reconciliations/abc", 400)):
        assert http.get(api.base_url + path, timeout=30).status_code == status


def ledger_rows(browser):
    """The cells' rendered text, row by row (one script call: a WebDriver call per cell is ~10 ms)."""
    return browser.execute_script("""
        return [...document.querySelectorAll("table.ledger tr")].slice(1)
            .map(row => [...row.cells].map(cell => cell.innerText.trim()));""")


# --- the HTTP rules, without a browser ----------------------------------------------------------

def signed_in_session(api, key=OPERATOR_KEY):
    """A requests session signed in through the form, as a browser would be."""
    http = requests.Session()
    http.get(api.base_url + "/support/signin", timeout=30)
    r = http.post(api.base_url + "/support/signin", data={"key": key, "_xsrf": http.cookies["_xsrf"]},
                  allow_redirects=False, timeout=30)
    assert r.status_code == 303, r.text
    return http, r


def test_the_cookie_holds_the_key_with_its_flags_and_never_a_url(api):
    http, answer = signed_in_session(api)
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/support" in cookie
    assert "Secure" not in cookie      # plain http on the loopback: a Secure cookie would never come back
    assert answer.headers["Location"] == "/support/"
    assert OPERATOR_KEY not in answer.headers["Location"]
    page = http.get(api.base_url + "/support/", timeout=30)
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"
    xsrf = [c for c in page.headers.get("Set-Cookie", "").split(",") if "_xsrf" in c]
    assert all("HttpOnly" in c and "SameSite=Strict" in c for c in xsrf)


def test_sign_in_needs_the_xsrf_token(api):
    http = requests.Session()
    http.get(api.base_url + "/support/signin", timeout=30)
    r = http.post(api.base_url + "/support/signin", data={"key": OPERATOR_KEY}, allow_redirects=False, timeout=30)
    assert r.status_code == 403 and "support_key" not in r.headers.get("Set-Cookie", "")
    assert "text/html" in r.headers["Content-Type"] and "_xsrf" in r.text
    r = requests.post(api.base_url + "/support/signout", allow_redirects=False, timeout=30)
    assert r.status_code == 403


def test_a_key_in_a_header_or_the_url_opens_nothing(api):
    """Only the cookie signs in: a Bearer header or a ?key= does not (no key in URLs)."""
    for r in (requests.get(api.base_url + "/support/", headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
                           allow_redirects=False, timeout=30),
              requests.get(api.base_url + "/support/?key=" + OPERATOR_KEY, allow_redirects=False, timeout=30)):
        assert (r.status_code, r.headers["Location"]) == (303, "/support/signin")


def test_a_revoked_key_is_signed_out(api, ledger):
    key = key_with(ledger, "backoffice")
    http, _ = signed_in_session(api, key)
    assert http.get(api.base_url + "/support/", allow_redirects=False, timeout=30).status_code == 200
    admin(api, "POST", f"keys/{key.split('.')[0]}/revoke", {})
    answers = []

    def page():
        answers.append(http.get(api.base_url + "/support/", allow_redirects=False, timeout=30))
        return answers[-1]
    until_refused(page, refused=303)
    assert answers[-1].headers["Location"] == "/support/signin"


def test_bad_and_unknown_ids_are_html_pages(api):
    http, _ = signed_in_session(api)
    for path, status in ((f"/support/players/{2**53 - 1}", 404), ("/support/players/abc", 400),
                         ("/support/players/1?cursor=x", 400), ("/support/rounds/JAQPOT/no-such-round", 404),
                         ("/support/transactions", 400)):
        r = http.get(api.base_url + path, timeout=30)
        assert r.status_code == status, path
        assert "text/html" in r.headers["Content-Type"] and 'id="error"' in r.text
    r = http.get(api.base_url + "/support/?q=nobody-" + uuid.uuid4().hex, timeout=30)
    assert r.status_code == 200 and "No player is" in r.text
    r = http.get(api.base_url + "/support/transactions?id=" + quote("<b>x</b>"), timeout=30)
    assert r.status_code == 200 and "&lt;b&gt;x&lt;/b&gt;" in r.text and "<b>x</b>" not in r.text


def test_a_deposit_is_found_by_its_reference(api, story):
    http, _ = signed_in_session(api)
    r = http.get(api.base_url + "/support/transactions?id=" + quote(story["first_usd"]), timeout=30)
    assert r.status_code == 200
    assert r.text.count("<td>casino</td>") == 1 and "<td>deposit</td>" in r.text


def test_the_hostile_username_is_escaped_in_the_html(api, story):
    http, _ = signed_in_session(api)
    r = http.get(f"{api.base_url}/support/players/{story['user_id']}", timeout=30)
    assert r.status_code == 200
    assert "<script" not in r.text          # the page has no script of its own, and got none
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    r = http.get(f"{api.base_url}/support/?q={quote(story['username'])}", allow_redirects=False, timeout=30)
    assert (r.status_code, r.headers["Location"]) == (303, f"/support/players/{story['user_id']}")


class OverHttps(tornado.testing.AsyncHTTPSTestCase):
    """The application as service/app.py builds it, served over TLS (Tornado's test
    certificate): there the cookies are Secure too. Only the environment's key is used,
    so no database is needed."""

    def get_app(self):
        from service.app import Application
        from service.settings import Settings
        from wire.secrets_env import read_secrets
        secrets = read_secrets({"CASINO_SECRET": "x", "PROVIDER_SECRET": "y", "KEYS_ENCRYPTION_KEY": "00" * 32,
                                "OPERATOR_KEY": OPERATOR_KEY})
        return Application(db=None, settings=Settings(secrets=secrets), own_url="http://127.0.0.1:1")

    def test_cookies_are_secure_over_https(self):
        form = self.fetch("/support/signin")
        xsrf = form.headers["Set-Cookie"]
        assert form.code == 200 and "Secure" in xsrf and "HttpOnly" in xsrf and "SameSite=Strict" in xsrf
        token = xsrf.split(";")[0].split("=", 1)[1]
        answer = self.fetch("/support/signin", method="POST", follow_redirects=False,
                            headers={"Cookie": f"_xsrf={token}"},
                            body=f"key={quote(OPERATOR_KEY)}&_xsrf={quote(token)}")
        cookie = answer.headers["Set-Cookie"]
        assert answer.code == 303 and cookie.startswith("support_key=")
        assert all(flag in cookie for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/support"))


@pytest.fixture
def protected_story(api, ledger, clock):
    """A player with limits (one pending), refused bets and deposits, a register's answers and
    an exclusion, at fixed instants of the test clock."""
    from casino.demo_register import FakeRegister
    from tests.support import Bettor, market

    register = FakeRegister().start()
    try:
        clock.set("2026-04-01T09:00:00Z")           # funded the week before
        code = market(api, registerName="FAKE", registerUrl=register.url)
        player = Bettor(api, ledger, funds=5_000, jurisdiction=code,
                        identity={"firstName": "Ann", "lastName": "Player", "dateOfBirth": "1990-02-28",
                                  "postcode": "SW1A 1AA"})
        clock.set("2026-04-14T10:00:00Z")
        player.limit("wager", "day", 1_000)
        player.limit("deposit", "week", 300)
        assert player.bet("bet-ok", 700).status_code == 200
        assert player.bet("bet-refused", 400).status_code == 403
        assert player.cash("deposit", 500, "deposit-refused-" + uuid.uuid4().hex[:6]).status_code == 422
        clock.set("2026-04-14T11:00:00Z")
        player.limit("wager", "day", 2_000)                       # pending: 24 h of cooling-off
        clock.set("2026-04-14T12:00:00Z")
        assert player.exclude("time-out", "2026-04-16T12:00:00Z").status_code == 201
    finally:
        register.stop()
    return player, code


@needs_browser
def test_support_staff_see_a_players_protection(api, ledger, browser, protected_story):
    from selenium.webdriver.common.by import By
    player, code = protected_story
    base = api.base_url
    sign_in(browser, base, key_with(ledger, "backoffice"))
    browser.get(f"{base}/support/players/{player.user_id}")
    assert browser.find_element(By.ID, "player-jurisdiction").text.startswith(code)
    click(browser, By.ID, "protection")
    assert browser.current_url == f"{base}/support/players/{player.user_id}/protection"
    text = lambda element_id: browser.find_element(By.ID, element_id).text
    assert text("jurisdiction") == code
    assert text("excluded") == "yes: time-out until 2026-04-16T12:00:00.000000Z"

    def cells(table_id):
        return browser.execute_script(f"""
            return [...document.querySelectorAll("#{table_id} tr")].slice(1)
                .map(row => [...row.cells].map(cell => cell.innerText.trim()));""")

    # Limits: used, left, when the period resets, and the pending increase.
    assert cells("limits") == [
        ["deposit", "week", "USD", "3.00", "0.00", "3.00", "2026-04-20T00:00:00.000000Z", "", ""],
        ["wager", "day", "USD", "10.00", "7.00", "3.00", "2026-04-15T00:00:00.000000Z", "20.00",
         "2026-04-15T11:00:00.000000Z"]]
    assert cells("exclusions") == [["time-out", "2026-04-14T12:00:00.000000Z", "2026-04-16T12:00:00.000000Z", "",
                                    "OPERATOR_KEY"]]
    history = cells("history")
    assert [row[1:5] for row in history] == [
        ["exclusion", "time-out", "", "2026-04-16T12:00:00.000000Z"],
        ["limit", "wager day USD", "10.00", "20.00"],
        ["limit", "deposit week USD", "none", "3.00"],
        ["limit", "wager day USD", "none", "10.00"]]
    # The last refusals, each with the limit it names.
    refusals = cells("refusals")
    assert [(r[0].split("-")[0], r[2], r[5].split("\n")[0], r[6], r[7]) for r in refusals] == [
        ("deposit", "deposit", "422 DEPOSIT_LIMIT_REACHED", "deposit week: 3.00", "0.00"),
        ("bet", "debit", "403 WAGER_LIMIT_REACHED", "wager day: 10.00", "7.00")]
    checks = cells("register-checks")
    assert [(c[1], c[2], c[3]) for c in checks] == [("FAKE", "deposit", "not-excluded")]
    assert checks[0][4].startswith("REG-")
    # A bet's row says which of the player's limits it was checked against.
    browser.find_element(By.NAME, "id").send_keys("bet-ok")
    click(browser, By.ID, "lookup")
    assert browser.find_element(By.CLASS_NAME, "checked").text == "checked against the player's limits: wager:day 10.00"
    if os.environ.get("UPDATE_SCREENSHOT"):
        (ROOT / "docs" / "support-page-protection.png").write_bytes(browser.get_screenshot_as_png())
