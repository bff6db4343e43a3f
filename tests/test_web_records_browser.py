"""The records pages in a real browser (Debian's chromium), on SQLite and PostgreSQL: an admin
adds a user limited to one account, who then sees only it; the accounts, audit log, users and
settings pages pass axe-core and their main flows work from the keyboard."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.wait import WebDriverWait

from archiver.access.roles import Role
from tests.support.browser import (
    axe_violations,
    describe,
    screenshot,
    sign_in,
    sign_out,
    submit_and_wait,
)
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
