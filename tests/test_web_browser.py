"""The desk in a real browser (Debian's chromium through chromedriver), on SQLite and
PostgreSQL: signing in, searching, reading a thread and a history, hostile text, CSRF, the
account limit, lock-out, redirects, axe-core and the keyboard. Screenshots go to
tests/screenshots/ for the README."""

from __future__ import annotations

from urllib.parse import quote

from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from sqlalchemy import select

from archiver.access.roles import Role
from archiver.access.users import add_user
from archiver.store.models import Item
from tests.support.browser import (
    axe_violations,
    describe,
    screenshot,
    sign_in,
    sign_out,
    submit_and_wait,
)
from tests.support.web import LOCKOUT, PASSWORD, UNIT, Desk, user_of


def _check_page(browser: WebDriver, shot: str | None, desk: Desk) -> None:
    """No serious or critical axe finding; a screenshot (SQLite run only: one set suffices)."""
    found = axe_violations(browser)
    assert not found, f"{browser.current_url}: {describe(found)}"
    if shot and desk.settings.db_url.startswith("sqlite"):
        screenshot(browser, shot)


def _no_dialog(browser: WebDriver) -> bool:
    try:
        browser.switch_to.alert.dismiss()
    except NoAlertPresentException:
        return True
    return False


def _heading(browser: WebDriver) -> str:
    return browser.find_element(By.TAG_NAME, "h1").text


def test_sign_in_search_open_a_thread_and_its_history(browser: WebDriver, desk: Desk) -> None:
    browser.get(desk.url("/sign-in"))
    _check_page(browser, "sign-in", desk)
    sign_in(browser, desk.base_url, user_of(Role.RECORDS_MANAGER), PASSWORD)
    assert _heading(browser) == "Dashboard"
    _check_page(browser, "dashboard", desk)

    browser.find_element(By.LINK_TEXT, "Search").click()
    query = browser.find_element(By.ID, "q")
    query.send_keys("closure", Keys.ENTER)
    hits = browser.find_elements(By.CSS_SELECTOR, ".hit")
    assert hits and browser.find_elements(By.CSS_SELECTOR, ".hit mark")
    _check_page(browser, "search", desk)

    hits[0].find_element(By.LINK_TEXT, "Thread").click()
    assert _heading(browser).startswith("Thread:")
    _check_page(browser, "thread", desk)

    browser.find_element(By.CSS_SELECTOR, ".thread-item.focus .item-links a").click()
    assert _heading(browser).startswith("History of")
    _check_page(browser, "item-history", desk)
    sign_out(browser)


def test_a_removed_items_history_and_thread_pass_axe(browser: WebDriver, desk: Desk) -> None:
    with desk.archive.sessions() as s:
        removed = s.scalar(select(Item.id).where(Item.status == "removed"))
    sign_in(browser, desk.base_url, user_of(Role.VIEWER), PASSWORD, f"/items/{removed}")
    assert browser.find_elements(By.CSS_SELECTOR, "pre.evidence")
    _check_page(browser, "removed-item-history", desk)
    browser.get(desk.url("/search?q=*&status=removed"))
    _check_page(browser, None, desk)
    sign_out(browser)


def test_hostile_comment_renders_as_text_and_opens_no_dialog(browser: WebDriver,
                                                            desk: Desk) -> None:
    item = desk.hostile_item_id
    sign_in(browser, desk.base_url, user_of(Role.VIEWER), PASSWORD, f"/items/{item}/thread")
    text = browser.find_element(By.CSS_SELECTOR, f"#item-{item} .item-text").text
    assert "<script>alert(1)</script>" in text and "<img src=x onerror=alert(1)>" in text
    assert _no_dialog(browser)
    assert browser.execute_script("return document.querySelectorAll('img[src=\"x\"]').length") \
        == 0
    _check_page(browser, "hostile-comment-thread", desk)
    browser.get(desk.url(f"/items/{item}"))
    assert _no_dialog(browser)
    browser.get(desk.url("/search?q=visitor"))
    assert _no_dialog(browser)
    sign_out(browser)


def test_a_form_without_its_csrf_token_is_refused(browser: WebDriver, desk: Desk) -> None:
    browser.get(desk.url("/sign-in"))
    browser.execute_script("document.querySelector('input[name=csrf_token]').remove()")
    sign_form = browser.find_element(By.CSS_SELECTOR, "form.sign-in")
    sign_form.find_element(By.ID, "name").send_keys(user_of(Role.VIEWER))
    sign_form.find_element(By.ID, "password").send_keys(PASSWORD)
    submit_and_wait(browser, sign_form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert _heading(browser) == "Form refused"
    browser.get(desk.url("/"))
    assert _heading(browser) == "Sign in"  # not signed in


def test_a_limited_user_never_sees_another_units_items(browser: WebDriver, desk: Desk) -> None:
    with desk.archive.sessions() as s:
        other = s.scalar(select(Item.id).where(Item.account_id == desk.accounts["county"]))
    sign_in(browser, desk.base_url, UNIT, PASSWORD, "/search?q=*")
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "county-sheriff" not in page and "Synthetic" not in page
    assert "springfield-pd" in page
    for path in (f"/items/{other}", f"/items/{other}/thread"):
        browser.get(desk.url(path))
        assert _heading(browser) == "Not found"
    sign_out(browser)


def test_lock_out_after_repeated_failed_sign_ins(browser: WebDriver, desk: Desk) -> None:
    add_user(desk.archive, "browser-lock", Role.VIEWER, password=PASSWORD, actor="test")
    for _ in range(LOCKOUT.max_failures):
        sign_in(browser, desk.base_url, "browser-lock", "not the password")
    sign_in(browser, desk.base_url, "browser-lock", PASSWORD)
    alert = browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
    assert "locked" in alert
    assert _heading(browser) == "Sign in"


def test_sign_in_refuses_to_redirect_off_site(browser: WebDriver, desk: Desk) -> None:
    for target in ("//evil.example/", "https://evil.example/"):
        sign_in(browser, desk.base_url, user_of(Role.VIEWER), PASSWORD, quote(target, safe=""))
        assert browser.current_url.startswith(desk.base_url), browser.current_url
        assert _heading(browser) == "Dashboard"
        sign_out(browser)


def _tab_to(browser: WebDriver, wanted: str, limit: int = 80) -> WebElement:
    """Press Tab until the focused element's text or id is ``wanted``; return it."""
    for _ in range(limit):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        focused = browser.switch_to.active_element
        label = (focused.get_attribute("textContent") or "").strip()
        if wanted in (label, focused.get_attribute("id")):
            return focused
    raise AssertionError(f"{wanted!r} not reachable by Tab on {browser.current_url}")


def test_the_main_flow_works_from_the_keyboard(browser: WebDriver, desk: Desk) -> None:
    browser.get(desk.url("/sign-in"))
    first = _tab_to(browser, "Skip to main content", limit=3)
    assert first.tag_name == "a"
    _tab_to(browser, "name").send_keys(user_of(Role.VIEWER))
    _tab_to(browser, "password").send_keys(PASSWORD, Keys.ENTER)
    assert _heading(browser) == "Dashboard"
    _tab_to(browser, "Search").send_keys(Keys.ENTER)
    _tab_to(browser, "q").send_keys("closure", Keys.ENTER)
    assert browser.find_elements(By.CSS_SELECTOR, ".hit")
    _tab_to(browser, "Thread").send_keys(Keys.ENTER)
    assert _heading(browser).startswith("Thread:")
    _tab_to(browser, "Sign out").send_keys(Keys.ENTER)
    assert _heading(browser) == "Sign in"
