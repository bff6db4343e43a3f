"""Requests, holds and productions in a real browser (Debian's chromium, one driver for the
module) on SQLite and PostgreSQL: a custodian takes a request from registration to a downloaded
package whose bag validates; legal staff place a hold from a search's link, preview it and
produce it; a viewer's export is refused with no file; a form without its CSRF token is
refused; every page passes axe; the flows are reachable from the keyboard. Background jobs run
in a runner beside the desk, woken by the pages, as in ``archiver web serve``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import func, select

from archiver.access.roles import Role
from archiver.exports.bagzip import validate_with_bagit
from archiver.jobs.runner import JobRunner
from archiver.store.models import Job, OpenRecordsRequest
from archiver.web.background import attach_runner, stop_runner
from tests.support.browser import axe_violations, describe, screenshot, sign_in, sign_out
from tests.support.web import PASSWORD, Desk, user_of

WAIT = 90  # seconds: a package on a busy machine, PDFs and bag validation included


@pytest.fixture(scope="module")
def runner(desk: Desk) -> Iterator[JobRunner]:
    started = JobRunner(desk.archive, poll=0.5).start()
    attach_runner(desk.app, started)
    yield started
    stop_runner(desk.app)


@pytest.fixture(scope="module")
def downloads(browser: WebDriver, desk: Desk, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A download folder of the desk's own (one per database)."""
    folder = tmp_path_factory.mktemp("downloads")
    browser.execute_cdp_cmd("Browser.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(folder)})
    return folder


@pytest.fixture
def signed_out(browser: WebDriver, desk: Desk) -> Iterator[WebDriver]:
    browser.get(desk.url("/sign-in"))
    sign_out(browser)
    yield browser
    sign_out(browser)


def as_user(browser: WebDriver, desk: Desk, role: Role, path: str) -> None:
    sign_in(browser, desk.base_url, user_of(role), PASSWORD, "/")
    WebDriverWait(browser, 10).until(lambda d: d.current_url == desk.url("/"))
    browser.get(desk.url(path))


def accessible(browser: WebDriver, page: str) -> None:
    found = axe_violations(browser)
    assert found == [], f"{page}: {describe(found)}"


def type_into(browser: WebDriver, element_id: str, text: str) -> None:
    field = browser.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def heading(browser: WebDriver) -> str:
    return str(browser.find_element(By.TAG_NAME, "h1").text)


def arrive(browser: WebDriver, title: str) -> None:
    """Wait for the page whose heading is ``title`` (a click does not wait for the page it
    leads to)."""
    WebDriverWait(browser, 20, ignored_exceptions=(StaleElementReferenceException,
                                                   NoSuchElementException)).until(
        lambda d: heading(d) == title)


def shown_in(browser: WebDriver, class_name: str) -> str:
    return str(browser.find_element(By.CLASS_NAME, class_name).text)


def wait_for_done(browser: WebDriver) -> None:
    """The job page follows its job (jobs.js) and loads again when it has finished."""
    def finished(driver: WebDriver) -> bool:
        try:
            state = driver.find_element(By.ID, "job-state").text
        except Exception:  # the page is loading again
            return False
        assert state != "Failed", driver.find_element(By.TAG_NAME, "main").text
        return bool(state == "Done")

    WebDriverWait(browser, WAIT, poll_frequency=0.5).until(finished)


def snap(browser: WebDriver, name: str) -> None:
    """A screenshot of the whole page from its top (for the README)."""
    browser.execute_script("window.scrollTo(0, 0);")
    screenshot(browser, name)


def downloaded(folder: Path, name: str) -> Path:
    path = folder / name
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if path.exists() and not list(folder.glob("*.crdownload")):
            return path
        time.sleep(0.2)
    raise AssertionError(f"{name} was not downloaded: {sorted(p.name for p in folder.iterdir())}")


FOCUSED_NAME = """
const e = document.activeElement;
if (e.labels && e.labels.length) { return e.labels[0].textContent.trim(); }
return (e.textContent || e.value || "").replace(/\\s+/g, " ").trim();
"""


def tab_to(browser: WebDriver, name: str, limit: int = 150) -> Any:
    """Press Tab from the top of the page until the focused control is named ``name`` (its
    label, or its text); returns it."""
    browser.execute_script("window.scrollTo(0, 0); document.activeElement.blur();"
                           "document.body.setAttribute('tabindex', '-1'); document.body.focus();"
                           "document.body.removeAttribute('tabindex');")
    seen: list[str] = []
    for _ in range(limit):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        label = str(browser.execute_script(FOCUSED_NAME))
        seen.append(label)
        if label == name:
            return browser.switch_to.active_element
    raise AssertionError(f"Tab never reached {name!r}: {seen}")


def test_a_custodian_takes_a_request_to_a_downloaded_package(
        desk: Desk, signed_out: WebDriver, runner: JobRunner, downloads: Path) -> None:
    browser = signed_out
    rid = "KORA-BROWSER-1"
    as_user(browser, desk, Role.CUSTODIAN, "/requests")
    accessible(browser, "the register")
    browser.find_element(By.LINK_TEXT, "Register a request").click()
    arrive(browser, "Register a records request")
    accessible(browser, "the registration form")
    type_into(browser, "request_id", rid)
    type_into(browser, "received_on", "2024-06-03")
    type_into(browser, "requester", "A. Reporter")
    type_into(browser, "description", "Everything on the department's page")
    Select(browser.find_element(By.ID, "account")).select_by_value(str(desk.accounts["city"]))
    browser.find_element(By.XPATH, "//button[text()='Register the request']").click()
    arrive(browser, f"Request {rid}")
    assert "2024-06-06" in shown_in(browser, "facts")  # the third business day after

    browser.find_element(By.XPATH, "//button[text()='Preview the redactions']").click()
    WebDriverWait(browser, 20).until(lambda d: "preview=1" in d.current_url)
    assert "[REDACTED: telephone number]" in browser.find_element(By.TAG_NAME, "main").text
    accessible(browser, "the workspace with its redaction preview")
    snap(browser, "request-workspace")

    browser.find_element(By.XPATH, "//button[text()='Build the package']").click()
    arrive(browser, f"Open-records package: {rid}")
    accessible(browser, "the job's progress page")
    wait_for_done(browser)
    accessible(browser, "the finished job's page")
    snap(browser, "request-package-done")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Download the open-records package").click()
    package = downloaded(downloads, f"open-records-{rid}.zip")
    validate_with_bagit(package, f"open-records-{rid}")

    browser.find_element(By.PARTIAL_LINK_TEXT, f"Back to request {rid}").click()
    arrive(browser, f"Request {rid}")
    browser.find_element(By.XPATH, f"//button[text()='Mark request {rid} fulfilled']").click()
    WebDriverWait(browser, 20, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: "Fulfilled (closed)" in shown_in(d, "facts"))
    browser.get(desk.url("/jobs"))
    accessible(browser, "the jobs list")
    browser.get(desk.url("/requests?all=1"))
    snap(browser, "requests-register")


def test_legal_staff_hold_from_a_search_preview_and_produce(
        desk: Desk, signed_out: WebDriver, runner: JobRunner) -> None:
    browser = signed_out
    city = desk.accounts["city"]
    # The search page links here with its own query and filters.
    as_user(browser, desk, Role.LEGAL, f"/holds/new?q=parade&account={city}")
    count = browser.find_element(By.ID, "scope-count").text
    assert "would be held now" in count and not count.startswith("0 ")
    accessible(browser, "the hold's scope preview")
    snap(browser, "hold-preview")
    type_into(browser, "hold-name", "parade-matter")
    type_into(browser, "hold-matter", "Doe v. City of Springfield")
    browser.find_element(By.XPATH, "//button[text()='Place the hold']").click()
    arrive(browser, "Hold parade-matter")
    accessible(browser, "the hold's page")

    type_into(browser, "bates-prefix", "SPD")
    browser.find_element(By.XPATH, "//button[text()='Produce the hold']").click()
    arrive(browser, "Production: parade-matter")
    wait_for_done(browser)
    assert "SPD-0000001" in browser.find_element(By.TAG_NAME, "main").text
    snap(browser, "production-done")
    for path, page in (("/holds", "the holds list"), ("/productions", "the productions list")):
        browser.get(desk.url(path))
        accessible(browser, page)


def test_a_viewers_export_is_refused_and_no_file_arrives(
        desk: Desk, signed_out: WebDriver, downloads: Path) -> None:
    browser = signed_out
    before = set(downloads.iterdir())
    with desk.archive.sessions() as s:
        jobs = s.scalar(select(func.count()).select_from(Job))
    as_user(browser, desk, Role.VIEWER, "/")
    assert "Requests" not in browser.find_element(By.CLASS_NAME, "site-nav").text
    # A viewer who knows the address and builds the form by hand (with a valid CSRF token).
    browser.execute_script(
        "const f = document.createElement('form'); f.method = 'post';"
        "f.action = '/requests/package/KORA-BROWSER-1';"
        "const t = document.querySelector('input[name=csrf_token]').cloneNode();"
        "f.appendChild(t); document.body.appendChild(f); f.submit();")
    WebDriverWait(browser, 10).until(lambda d: "/requests/package/" in d.current_url)
    arrive(browser, "Not allowed")
    browser.get(desk.url("/jobs/1/download"))
    arrive(browser, "Not allowed")
    time.sleep(1)
    assert set(downloads.iterdir()) == before
    with desk.archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == jobs


def test_a_form_without_its_csrf_token_is_refused(desk: Desk, signed_out: WebDriver) -> None:
    browser = signed_out
    as_user(browser, desk, Role.CUSTODIAN, "/requests/new")
    browser.execute_script("document.querySelector('main input[name=csrf_token]').remove();")
    type_into(browser, "request_id", "KORA-FORGED")
    type_into(browser, "received_on", "2024-06-03")
    browser.find_element(By.XPATH, "//button[text()='Register the request']").click()
    arrive(browser, "Form refused")
    with desk.archive.sessions() as s:
        assert s.scalar(select(OpenRecordsRequest).where(
            OpenRecordsRequest.request_id == "KORA-FORGED")) is None


def test_the_flows_are_reachable_from_the_keyboard(desk: Desk, signed_out: WebDriver,
                                                   runner: JobRunner) -> None:
    browser = signed_out
    as_user(browser, desk, Role.LEGAL, "/requests")
    tab_to(browser, "Register a request").send_keys(Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda d: d.current_url.endswith("/requests/new"))
    tab_to(browser, "Request id")  # the skip link and the navigation come first
    browser.switch_to.active_element.send_keys("KORA-KEYS")
    browser.switch_to.active_element.send_keys(Keys.TAB)  # received on: today by default
    tab_to(browser, "Everything, now and later (instead of the fields above)")
    browser.switch_to.active_element.send_keys(Keys.SPACE)
    tab_to(browser, "Register the request").send_keys(Keys.ENTER)
    arrive(browser, "Request KORA-KEYS")
    tab_to(browser, "Build the package").send_keys(Keys.ENTER)
    arrive(browser, "Open-records package: KORA-KEYS")
    wait_for_done(browser)
    tab_to(browser, "Download the open-records package")

    browser.get(desk.url("/holds"))
    tab_to(browser, "Place a hold").send_keys(Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda d: d.current_url.endswith("/holds/new"))
    tab_to(browser, "Search query").send_keys("parade")
    tab_to(browser, "Preview the scope").send_keys(Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "scope-count"))
    tab_to(browser, "Hold name").send_keys("keyboard-hold")
    browser.switch_to.active_element.send_keys(Keys.TAB, "Keyboard matter")
    tab_to(browser, "Place the hold").send_keys(Keys.ENTER)
    arrive(browser, "Hold keyboard-hold")
    tab_to(browser, "Produce the hold")
