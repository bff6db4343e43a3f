"""The records pages in a real browser (Debian's chromium), on SQLite and PostgreSQL: an admin
adds a user limited to one account, who then sees only it; a custodian cannot reach retention;
the records manager runs the report and a dry run, approves a purge re-entering the password
(a wrong one refuses), follows its progress and downloads the certificate. Every page passes
axe-core and the flows work from the keyboard."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.wait import WebDriverWait

from archiver.access.roles import Role
from archiver.jobs.runner import JobRunner
from archiver.web.background import attach_runner, stop_runner
from tests.support.browser import (
    axe_violations,
    describe,
    screenshot,
    sign_in,
    sign_out,
    submit_and_wait,
)
from tests.support.retention import use_schedule
from tests.support.web import PASSWORD, Desk, user_of

# Tab presses allowed to reach a control: more means it is not reasonably reachable.
MAX_TABS = 60


def checked(browser: WebDriver, desk: Desk, shot: str | None = None) -> None:
    """No serious or critical axe finding on the page; a screenshot from the SQLite run."""
    found = axe_violations(browser)
    assert not found, f"{browser.current_url}: {describe(found)}"
    if shot and desk.settings.db_url.startswith("sqlite"):
        screenshot(browser, shot)


def heading(browser: WebDriver) -> str:
    return browser.find_element(By.TAG_NAME, "h1").text


def tab_to(browser: WebDriver, target: WebElement) -> WebElement:
    """Press Tab from the top of the page until ``target`` has the focus (it must)."""
    browser.find_element(By.TAG_NAME, "body").click()
    browser.execute_script("document.activeElement.blur(); window.scrollTo(0, 0);")
    for _ in range(MAX_TABS):
        browser.switch_to.active_element.send_keys(Keys.TAB)
        if browser.switch_to.active_element == target:
            return target
    raise AssertionError(f"{target.tag_name} {target.text!r} is not reachable with Tab")


def press_enter_on(browser: WebDriver, target: WebElement, *keys: str) -> None:
    """Reach ``target`` with Tab, type ``keys`` and Enter, and wait for the next page."""
    page = browser.find_element(By.TAG_NAME, "html")
    tab_to(browser, target).send_keys(*keys, Keys.ENTER)
    WebDriverWait(browser, 20).until(staleness_of(page))


def test_admin_adds_a_user_limited_to_one_account_who_sees_only_it(browser: WebDriver,
                                                                     desk: Desk) -> None:
    sign_in(browser, desk.base_url, user_of(Role.ADMIN), PASSWORD, "/users")
    assert heading(browser) == "Users"
    checked(browser, desk, "users")
    press_enter_on(browser, browser.find_element(By.LINK_TEXT, "Add a user"))
    assert heading(browser) == "Add a user"
    checked(browser, desk)
    browser.find_element(By.ID, "name").send_keys("county-reader")
    browser.find_element(By.ID, "scope-some").send_keys(Keys.SPACE)
    county = browser.find_element(By.ID, f"account-{desk.accounts['county']}")
    tab_to(browser, county).send_keys(Keys.SPACE)
    assert county.is_selected()
    press_enter_on(browser, browser.find_element(By.CSS_SELECTOR, "main button[type=submit]"))
    assert heading(browser) == "User county-reader added"
    password = browser.find_element(By.ID, "shown-password").get_attribute("value")
    assert password
    checked(browser, desk)
    submit_and_wait(browser, browser.find_element(By.LINK_TEXT, "county-reader's page"))
    assert "county-sheriff" in browser.find_element(By.CSS_SELECTOR, "dl.facts").text
    checked(browser, desk, "user")
    sign_out(browser)

    sign_in(browser, desk.base_url, "county-reader", password)
    press_enter_on(browser, browser.find_element(By.LINK_TEXT, "Accounts"))
    assert heading(browser) == "Accounts"
    table = browser.find_element(By.TAG_NAME, "table").text
    assert "county-sheriff" in table and "springfield-pd" not in table
    assert not browser.find_elements(By.LINK_TEXT, "Users")  # not an admin's menu
    checked(browser, desk)
    sign_out(browser)


def test_accounts_audit_log_and_settings_pass_axe_and_work_from_the_keyboard(
        browser: WebDriver, desk: Desk) -> None:
    sign_in(browser, desk.base_url, user_of(Role.ADMIN), PASSWORD, "/accounts")
    checked(browser, desk, "accounts")
    press_enter_on(browser, browser.find_element(By.LINK_TEXT, "facebook: springfield-pd"))
    assert heading(browser) == "facebook: springfield-pd"
    checked(browser, desk, "account")
    browser.get(desk.url("/accounts/new"))
    checked(browser, desk, "account-new")

    press_enter_on(browser, browser.find_element(By.LINK_TEXT, "Audit log"))
    assert heading(browser) == "Audit log"
    actor = browser.find_element(By.ID, "actor")
    press_enter_on(browser, actor, "test")
    assert "actor=test" in browser.current_url
    rows = browser.find_elements(By.CSS_SELECTOR, "table.audit tbody tr")
    assert rows and all(r.find_elements(By.TAG_NAME, "td")[1].text == "test" for r in rows)
    checked(browser, desk, "audit-log")

    press_enter_on(browser, browser.find_element(By.LINK_TEXT, "Your settings"))
    assert heading(browser) == "Your settings"
    label = browser.find_element(By.ID, "label")
    press_enter_on(browser, label, "browser test")
    assert heading(browser).startswith("New API token")
    assert browser.find_element(By.ID, "shown-token").get_attribute("value").startswith("arv_")
    checked(browser, desk)
    submit_and_wait(browser, browser.find_element(By.LINK_TEXT, "Back to your settings"))
    assert "browser test" in browser.find_element(By.TAG_NAME, "table").text
    checked(browser, desk, "settings")
    sign_out(browser)


def test_custodian_cannot_reach_the_retention_pages(browser: WebDriver, desk: Desk) -> None:
    sign_in(browser, desk.base_url, user_of(Role.CUSTODIAN), PASSWORD, "/retention/dry-run")
    assert heading(browser) == "Not allowed"
    assert not browser.find_elements(By.LINK_TEXT, "Retention")
    checked(browser, desk)
    sign_out(browser)


# Last in the module: it destroys the items that are due.
def test_records_manager_approves_a_purge_and_downloads_the_certificate(
        browser: WebDriver, desk: Desk, tmp_path: Path) -> None:
    use_schedule(desk.archive, tmp_path / "schedule")
    desk.clock.moment = datetime(2025, 7, 1, 15, tzinfo=UTC)  # comments and posts are due
    attach_runner(desk.app, JobRunner(desk.archive, poll=0.5).start())
    try:
        sign_in(browser, desk.base_url, user_of(Role.RECORDS_MANAGER), PASSWORD)
        press_enter_on(browser, browser.find_element(By.LINK_TEXT, "Retention"))
        assert heading(browser) == "Retention"
        eligible = int(browser.find_element(By.CSS_SELECTOR, "main p strong + strong").text
                       .split()[0])
        assert eligible > 0
        checked(browser, desk, "retention")
        press_enter_on(browser, browser.find_element(By.PARTIAL_LINK_TEXT, "Dry run as of"))
        assert heading(browser) == "Dry run as of 2025-07-01"
        checked(browser, desk, "retention-dry-run")

        tab_to(browser, browser.find_element(By.ID, "confirm")).send_keys(Keys.SPACE)
        press_enter_on(browser, browser.find_element(By.ID, "password"), "not my password")
        assert "Wrong password" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
        checked(browser, desk)

        tab_to(browser, browser.find_element(By.ID, "confirm")).send_keys(Keys.SPACE)
        press_enter_on(browser, browser.find_element(By.ID, "password"), PASSWORD)
        assert heading(browser) == "Purge as of 2025-07-01"
        checked(browser, desk)
        # records.js follows the job and shows the certificate when it is done.
        link = WebDriverWait(browser, 120).until(lambda b: b.find_elements(
            By.PARTIAL_LINK_TEXT, "Certificate (PDF"))[0]
        assert "done" in browser.find_element(By.CSS_SELECTOR, ".job-state").text
        assert f"{eligible} destroyed" in browser.find_element(By.TAG_NAME, "main").text
        checked(browser, desk, "retention-purge-done")
        folder = tmp_path / "downloads"
        folder.mkdir()
        browser.execute_cdp_cmd("Page.setDownloadBehavior",
                                {"behavior": "allow", "downloadPath": str(folder)})
        tab_to(browser, link).send_keys(Keys.ENTER)
        WebDriverWait(browser, 30).until(lambda _b: any(
            p.suffix == ".pdf" for p in folder.iterdir()))
        [pdf] = folder.iterdir()
        assert pdf.name.startswith("disposition-") and pdf.read_bytes().startswith(b"%PDF")
        disposition = browser.find_element(By.CSS_SELECTOR, "main p a[href*=dispositions]")
        press_enter_on(browser, disposition)
        assert heading(browser).startswith("Disposition ")
        assert browser.find_element(By.ID, "disposition-stage").text == "completed"
        checked(browser, desk, "retention-disposition")
        sign_out(browser)
    finally:
        stop_runner(desk.app)
