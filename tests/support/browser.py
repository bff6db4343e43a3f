"""A real browser for the desk's tests: Debian's chromium driven by chromedriver (Selenium),
headless, never downloaded at run time; axe-core's accessibility check; screenshots.

One driver per test module (``browser`` fixture): starting chromium costs seconds.
Screenshots go to ``tests/screenshots/`` (the README shows them): they are what the tests saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
# WCAG 2.1 AA is the bar (the DOJ's 2024 Title II rule); serious and critical findings fail.
FAILING_IMPACTS = frozenset({"serious", "critical"})


def start_browser() -> WebDriver:
    """Headless chromium at a fixed window size (screenshots comparable run to run)."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: apt-get install chromium chromium-driver")
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox",  # CI runs as root: no sandbox there
                     "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000",
                     "--lang=en-US", "--disable-extensions", "--no-first-run"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    driver = start_browser()
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: WebDriver, name: str) -> Path:
    """Save the whole page as ``tests/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(1000, min(int(height), 4000)))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 1000)
    return path


def axe_script() -> str:
    """axe-core 4.x as shipped inside the selenium-axe-python package (no download)."""
    import selenium_axe_python

    return (Path(selenium_axe_python.__file__).parent / "axe-core" / "axe.min.js").read_text(
        encoding="utf-8")


def axe_violations(driver: WebDriver) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of WCAG 2.0 and 2.1, A and AA, and its best
    practices on the page."""
    driver.execute_script(axe_script())
    results = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
        ".then(done, e => done({error: String(e)}));")
    assert "error" not in results, results
    return [v for v in results["violations"] if v.get("impact") in FAILING_IMPACTS]


def describe(violations: list[dict[str, Any]]) -> str:
    return "; ".join(f"{v['id']} ({v['impact']}): {v['help']} at "
                     f"{[n['target'] for n in v['nodes']][:3]}" for v in violations)


def _replaced(page: WebElement) -> bool:
    """Whether the page element is gone. While a navigation commits, Chromium may answer a
    question about the old document's node with "does not belong to the document" instead of
    a stale-element error: that also means the page was replaced."""
    try:
        page.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False


def submit_and_wait(driver: WebDriver, button: WebElement) -> None:
    """Click a submit button and wait until the next page has replaced this one."""
    page = driver.find_element(By.TAG_NAME, "html")
    button.click()
    WebDriverWait(driver, 20).until(lambda _driver: _replaced(page))


def sign_in(driver: WebDriver, base_url: str, name: str, password: str,
            next_path: str = "/") -> None:
    driver.get(f"{base_url}/sign-in?next={next_path}")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    submit_and_wait(driver, driver.find_element(By.CSS_SELECTOR,
                                                "form.sign-in button[type=submit]"))


def sign_out(driver: WebDriver) -> None:
    buttons = driver.find_elements(By.CSS_SELECTOR, ".who button[type=submit]")
    if buttons:
        submit_and_wait(driver, buttons[0])
    driver.delete_all_cookies()

