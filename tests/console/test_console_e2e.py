"""The web console in a real headless Chromium against a real `vahti serve`: sign in as each
role, triage an alert, add a hold, request and approve an extract, and check what each role
must not see. Screenshots go to $VAHTI_SCREENSHOTS when it is set (docs/ keeps them)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pyotp
import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import Select, WebDriverWait

from ingest.pipeline import IngestOptions
from store import open_store
from store.staff import add_person
from store.tokens import ROLES, create_token
from vahti.demo import write_demo_files
from vahti.detection_cli import detect
from vahti.ingesting import run_ingest
from vahti.settings import load_settings
from vahti.shell import now_utc

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PASSWORD = "pia's own long password"


@dataclass
class Console:
    url: str
    tokens: dict[str, str]
    totp: pyotp.TOTP  # of the person "pia" (dpo), whose password is PASSWORD


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    folder = tmp_path_factory.mktemp("console")
    events, _ = write_demo_files(folder, days=30, seed=3)
    db = folder / "vahti.duckdb"
    tokens = {}
    with open_store(db) as store:
        run_ingest(store, load_settings(None), [events], IngestOptions(format="jsonl"))
        detect(store, load_settings(None))
        for role in ROLES:
            _, tokens[role] = create_token(store.con, f"{role}-1", role, now_utc())
        _, secret = add_person(store.con, "pia", "dpo", PASSWORD, None, now_utc())
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAHTI_")}
    env.update(VAHTI_SERVICE_DETECT_EVERY="3s", VAHTI_INGEST_SPOOL_DIR=str(folder / "spool"))
    log = (folder / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "vahti.cli", "serve", "--port", str(port), "--db", str(db)],
        env=env, cwd=folder, stdout=log, stderr=log,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    yield Console(url, tokens, pyotp.TOTP(secret))
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    if not (shutil.which(CHROMIUM) and shutil.which(DRIVER)):
        pytest.fail("Chromium is needed: apt-get install chromium chromium-driver")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def sign_in(browser: WebDriver, console: Console, role: str) -> None:
    browser.get(f"{console.url}/login")
    browser.find_element(By.ID, "token").send_keys(console.tokens[role])
    submit(browser, "form button[type=submit]")
    WebDriverWait(browser, 30).until(until.title_contains("Overview"))


def submit(browser: WebDriver, selector: str, within: WebElement | None = None) -> None:
    """Click a button that submits a form, and wait until the next page has replaced this
    one (reading too early finds the old page's elements, which then go stale)."""
    page = browser.find_element(By.TAG_NAME, "html")
    scope: WebDriver | WebElement = within if within is not None else browser
    scope.find_element(By.CSS_SELECTOR, selector).click()
    WebDriverWait(browser, 30).until(lambda _: _replaced(page))


def _replaced(page: WebElement) -> bool:
    try:
        page.is_enabled()  # any call on an element of a page that is gone raises
    except WebDriverException:  # stale, or Chromium's "node does not belong to the document"
        return True
    return False


def refused(browser: WebDriver) -> None:
    """The page says the role may not open it (waiting for it: right after a navigation
    Chromium may still hand over an empty document)."""
    WebDriverWait(browser, 30).until(lambda b: "may not open this page" in b.page_source)


def nav(browser: WebDriver) -> list[str]:
    return [a.text for a in browser.find_elements(By.CSS_SELECTOR, "nav a")]


def shot(browser: WebDriver, name: str) -> None:
    """The whole page (the window grown to its height for the picture, then put back)."""
    folder = os.environ.get("VAHTI_SCREENSHOTS")
    if not folder:
        return
    size = browser.get_window_size()
    tall = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(size["width"], min(int(tall) + 140, 5000))
    try:
        browser.save_screenshot(str(Path(folder) / f"console-{name}.png"))
    finally:
        browser.set_window_size(size["width"], size["height"])


def test_wrong_token_is_refused_and_pages_need_a_session(
    browser: WebDriver, console: Console
) -> None:
    browser.get(f"{console.url}/alerts")
    assert browser.current_url.endswith("/login")
    browser.find_element(By.ID, "token").send_keys("vahti_wrong")
    submit(browser, "form button[type=submit]")
    assert "not valid" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text


def test_a_person_signs_in_with_password_and_one_time_code(
    browser: WebDriver, console: Console
) -> None:
    browser.get(f"{console.url}/login")
    browser.find_element(By.ID, "user").send_keys("pia")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "code").send_keys(console.totp.now())
    shot(browser, "login")
    submit(browser, "form button[type=submit]")
    WebDriverWait(browser, 30).until(until.title_contains("Overview"))
    assert "pia" in browser.find_element(By.TAG_NAME, "header").text
    assert "Data protection" in nav(browser) and "Alerts" not in nav(browser)
    browser.find_element(By.LINK_TEXT, "pia").click()
    browser.find_element(By.ID, "name").send_keys("pia-laptop")
    submit(browser, "form[action='/account/tokens'] button")
    assert browser.find_element(By.ID, "new-token").text.startswith("vahti_")
    shot(browser, "account")


def test_analyst_triages_and_sees_no_dpo_pages(browser: WebDriver, console: Console) -> None:
    sign_in(browser, console, "analyst")
    assert nav(browser) == ["Overview", "Alerts", "Events", "Look up"]
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart rect")
    shot(browser, "overview")
    browser.get(f"{console.url}/alerts?category=impossible_travel")
    shot(browser, "alerts")
    submit(browser, "#rows a")
    assert browser.find_elements(By.CSS_SELECTOR, "svg.map circle.place")  # the places
    assert "km/h" in browser.page_source
    shot(browser, "alert")
    browser.find_element(By.ID, "note").send_keys("customer confirmed the trip")
    submit(browser, "button[value=false_positive]")
    facts = browser.find_element(By.CSS_SELECTOR, ".facts").text
    assert "false_positive" in facts
    assert "customer confirmed the trip" in browser.find_element(By.TAG_NAME, "main").text
    for page in ("/dpo", "/liaison"):
        browser.get(console.url + page)
        refused(browser)
    submit(browser, ".signout button")
    assert browser.current_url.endswith("/login")


def test_new_alerts_appear_without_a_reload(browser: WebDriver, console: Console) -> None:
    sign_in(browser, console, "analyst")
    browser.get(f"{console.url}/alerts?category=brute_force")
    before = len(browser.find_elements(By.CSS_SELECTOR, "#rows tr"))
    attack = [
        {"ts": f"2026-11-24T03:00:{i:02d}Z", "outcome": "failure", "user": "matti.virtanen",
         "ip": "198.51.100.77", "reason": "bad_password"}
        for i in range(30)
    ]  # fmt: skip
    request = urllib.request.Request(
        f"{console.url}/api/v1/events?batch_id=live-1", data=orjson.dumps(attack), method="POST",
        headers={"Authorization": f"Bearer {console.tokens['admin']}",
                 "Content-Type": "application/json"},
    )  # fmt: skip
    urllib.request.urlopen(request, timeout=60)
    WebDriverWait(browser, 60, poll_frequency=1).until(
        lambda b: "198.51.100.77" in b.find_element(By.ID, "rows").text
    )
    assert len(browser.find_elements(By.CSS_SELECTOR, "#rows tr")) == before + 1


def test_dpo_adds_and_releases_a_hold_and_checks_the_chain(
    browser: WebDriver, console: Console
) -> None:
    sign_in(browser, console, "dpo")
    assert nav(browser) == ["Overview", "Data protection", "Audit log"]
    browser.get(f"{console.url}/dpo")
    retention = browser.find_element(By.TAG_NAME, "table").text
    assert "180 days" in retention and "180.0" not in retention
    submit(browser, "form[action='/dpo/audit/verify'] button")
    assert "Audit chain intact" in browser.find_element(By.CSS_SELECTOR, ".result").text
    form = browser.find_element(By.CSS_SELECTOR, "form[action='/dpo/holds']")
    form.find_element(By.NAME, "user").send_keys("matti.virtanen")
    form.find_element(By.NAME, "case").send_keys("INC-7")
    form.find_element(By.NAME, "reason").send_keys("incident under investigation")
    Select(form.find_element(By.NAME, "kind")).select_by_visible_text("incident")
    _type_date(browser, form.find_element(By.NAME, "since"), "2026-11-01")
    _type_date(browser, form.find_element(By.NAME, "before"), "2026-11-30")
    submit(browser, "button", form)
    assert "Hold 1 added" in browser.find_element(By.CSS_SELECTOR, ".result").text
    held = browser.find_element(By.XPATH, "//h2[text()='Legal holds']/following::table").text
    assert "incident" in held and "2026-11-01" in held and "2026-11-30" in held
    shot(browser, "dpo")
    submit(browser, "form[action='/dpo/holds/1/release'] button")
    assert "Hold 1 released" in browser.find_element(By.CSS_SELECTOR, ".result").text
    submit(browser, "button[value=dry]")
    assert "Dry run" in browser.find_element(By.CSS_SELECTOR, ".result").text
    browser.get(f"{console.url}/alerts")
    refused(browser)


def _type_date(browser: WebDriver, field: WebElement, day: str) -> None:
    """Set a date input as a person's browser would (typing into it depends on the locale)."""
    browser.execute_script("arguments[0].value = arguments[1]", field, day)


def api(console: Console, role: str, path: str, body: object = None) -> object:
    request = urllib.request.Request(
        console.url + path, data=None if body is None else orjson.dumps(body),
        method="GET" if body is None else "POST",
        headers={"Authorization": f"Bearer {console.tokens[role]}",
                 "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        data = response.read()
    return (
        orjson.loads(data)
        if response.headers["Content-Type"].startswith("application/json")
        else data
    )


def traveller(console: Console) -> str:
    """The account of the demo's impossible travel: logins on a map, a profile to read."""
    found = api(console, "analyst", "/api/v1/alerts?category=impossible_travel&limit=1")
    return str(found["alerts"][0]["entity"])  # type: ignore[index]


def column(browser: WebDriver, label: str) -> list[str]:
    return [td.text.split(": ")[-1] for td in browser.find_elements(
        By.CSS_SELECTOR, f"#rows td[data-label='{label}']")]  # fmt: skip


def test_analyst_sorts_filters_and_looks_up_an_account(
    browser: WebDriver, console: Console
) -> None:
    sign_in(browser, console, "analyst")
    browser.get(f"{console.url}/alerts")
    submit(browser, "th[aria-sort] a[href*='sort=-events']")
    counts = [int(n) for n in column(browser, "events")]
    assert counts == sorted(counts, reverse=True) and len(counts) > 3
    submit(browser, "th[aria-sort=descending] a")  # again: the other way round
    counts = [int(n) for n in column(browser, "events")]
    assert counts == sorted(counts)
    account = traveller(console)
    form = browser.find_element(By.CSS_SELECTOR, "form.filters")
    form.find_element(By.NAME, "entity").send_keys(account)
    Select(form.find_element(By.NAME, "sort")).select_by_visible_text("most severe")
    submit(browser, "button[type=submit]", form)
    assert set(column(browser, "entity")) == {account}
    shot(browser, "alerts")
    submit(browser, "#rows td[data-label=entity] a")
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Account")
    assert browser.find_elements(By.CSS_SELECTOR, "svg.map circle.place")
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart rect")
    profile = browser.find_element(By.CSS_SELECTOR, ".profile").text
    assert (
        "Countries" in profile
        and "Browsers" in profile
        and "none" not in profile.split("Countries")[1][:40]
    )
    assert "impossible_travel" in browser.find_element(By.TAG_NAME, "main").text
    shot(browser, "entity")
    submit(browser, "a[href^='/events?']")
    rows = browser.find_elements(By.CSS_SELECTOR, "main table tbody tr")
    assert len(rows) > 3 and all(account in row.text for row in rows)
    shot(browser, "events")
    browser.get(f"{console.url}/events?user={account}")  # no purpose: asked for, nothing shown
    assert "say why" in browser.find_element(By.CSS_SELECTOR, ".result").text
    assert not browser.find_elements(By.CSS_SELECTOR, "main table")


def test_dpo_reads_who_looked_up_whom_the_purges_and_the_disclosures(
    browser: WebDriver, console: Console
) -> None:
    account = traveller(console)
    api(console, "analyst", f"/api/v1/entities/user?value={account}&purpose=INC-9%20check")
    made = api(console, "liaison", "/api/v1/extracts", {
        "authority": "Tulli", "legal_basis": "Tullilaki 1", "reference": "T-5",
        "scope": {"users": [account]},
    })  # fmt: skip
    extract = made["id"]  # type: ignore[index]
    api(console, "dpo", f"/api/v1/extracts/{extract}/approve", {})
    api(console, "liaison", f"/api/v1/extracts/{extract}/package")
    old = [{"ts": "2024-01-05T10:00:00Z", "outcome": "success", "user": "old.timer",
            "ip": "192.0.2.9"}]  # fmt: skip
    api(console, "admin", "/api/v1/events?batch_id=old-1", old)  # past every retention period
    sign_in(browser, console, "dpo")
    browser.get(f"{console.url}/dpo/audit?touching={account}")
    log = browser.find_element(By.CSS_SELECTOR, "table.audit").text
    assert "entity.view" in log and "INC-9 check" in log and "analyst-1" in log
    shot(browser, "audit")
    browser.get(f"{console.url}/dpo")
    browser.find_element(By.NAME, "confirm").click()
    submit(browser, "button[value=run]")
    assert "Purge started" in browser.find_element(By.CSS_SELECTOR, ".result").text

    def purged(b: WebDriver) -> bool:
        b.get(f"{console.url}/dpo/purges")
        return "events" in b.find_element(By.TAG_NAME, "table").text

    WebDriverWait(browser, 90, poll_frequency=2).until(purged)
    rows = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert any(" purge events 1 " in f" {r} " for r in rows), rows
    shot(browser, "purges")
    browser.get(f"{console.url}/dpo/disclosures")
    register = browser.find_element(By.TAG_NAME, "table").text
    assert "Tulli" in register and account in register and "T-5" in register
    shot(browser, "disclosures")


def test_liaison_requests_dpo_approves_liaison_downloads(
    browser: WebDriver, console: Console
) -> None:
    sign_in(browser, console, "liaison")
    assert nav(browser) == ["Overview", "Authority requests"]
    browser.get(f"{console.url}/liaison")
    form = browser.find_element(By.CSS_SELECTOR, "form[action='/liaison/extracts']")
    for name, value in (("authority", "Keskusrikospoliisi"), ("legal_basis", "PKL 10:6"),
                        ("reference", "KRP/2026/5"), ("users", "matti.virtanen")):  # fmt: skip
        form.find_element(By.NAME, name).send_keys(value)
    submit(browser, "button", form)
    assert "recorded" in browser.find_element(By.CSS_SELECTOR, ".result").text
    shot(browser, "liaison")
    submit(browser, ".signout button")
    sign_in(browser, console, "dpo")
    browser.get(f"{console.url}/dpo")
    submit(browser, "form[action$='/approve'] button")
    assert "approved" in browser.find_element(By.CSS_SELECTOR, ".result").text
    submit(browser, ".signout button")
    sign_in(browser, console, "liaison")
    browser.get(f"{console.url}/liaison")
    link = browser.find_element(By.LINK_TEXT, "Download package")
    assert (link.get_attribute("href") or "").endswith("/package")
    assert "approved" in browser.find_element(By.TAG_NAME, "table").text


PAGES = {
    "/alerts": "Alert queue", "/events": "Event search",
    "/entity": "Look up an address, account or session", "/dpo": "Data protection",
    "/dpo/audit": "Audit log", "/dpo/purges": "Purge history",
    "/dpo/disclosures": "Disclosure register", "/liaison": "Authority requests",
    "/account": "My API tokens",
}  # fmt: skip


def test_admin_sees_every_page(browser: WebDriver, console: Console) -> None:
    sign_in(browser, console, "admin")
    assert nav(browser) == [
        "Overview", "Alerts", "Events", "Look up", "Data protection", "Audit log",
        "Authority requests",
    ]  # fmt: skip
    for page, heading in PAGES.items():
        browser.get(console.url + page)
        assert browser.find_element(By.TAG_NAME, "h1").text == heading


def test_api_docs_render_without_the_internet(browser: WebDriver, console: Console) -> None:
    """This machine reaches no CDN: Swagger UI and ReDoc draw from vahti's own assets."""
    browser.get(f"{console.url}/docs")
    title = WebDriverWait(browser, 20).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, ".swagger-ui .info .title")
    )
    assert "vahti" in title[0].text
    assert browser.find_elements(By.CSS_SELECTOR, ".opblock-tag")  # the routes, by tag
    browser.get(f"{console.url}/redoc")
    heading = WebDriverWait(browser, 20).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, ".api-info h1")
    )
    assert "vahti" in heading[0].text


def styled(browser: WebDriver, url: str) -> None:
    """Load a page whose stylesheet applied: an unstyled page (its stylesheet lost on the
    way, as once on a loaded CI machine) says nothing of the layout, so it is loaded again."""
    for _ in range(2):
        browser.get(url)
        if browser.execute_script("return getComputedStyle(document.body).margin === '0px'"):
            return
    pytest.fail(f"{url}: the console's stylesheet did not apply")


def test_every_page_reflows_at_400_px(browser: WebDriver, console: Console) -> None:
    """On a phone's width no page is wider than the screen: the alert queue becomes one
    card per alert, wide tables scroll inside their card."""
    sign_in(browser, console, "admin")
    entity = f"/entity?kind=user&value={traveller(console)}&purpose=layout"
    search = f"/events?user={traveller(console)}&purpose=layout"
    browser.set_window_size(400, 800)
    try:
        for page in ("/", *PAGES, "/alerts?category=impossible_travel", entity, search):
            styled(browser, console.url + page)
            wide = browser.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth"
            )
            assert wide <= 1, f"{page} is {wide} px wider than the window"
            name = page.strip("/").split("?")[0].replace("/", "-") or "overview"
            shot(browser, f"400-{name}")
        browser.get(console.url + "/alerts?category=impossible_travel")
        submit(browser, "#rows a")
        wide = browser.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert wide <= 1, f"the alert page is {wide} px wider than the window"
        shot(browser, "400-alert")
    finally:
        browser.set_window_size(1400, 900)
