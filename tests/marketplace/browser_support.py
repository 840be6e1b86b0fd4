"""Real-browser support: the app served on loopback, headless Chromium, and a page helper that acts by labels.

A pytest plugin (test modules load it with `pytest_plugins`): it adds the `browser` fixture and keeps a
screenshot and the page source of every failing browser test in test-artifacts/browser/.
"""

from __future__ import annotations

import base64
import os
import re
import threading
from collections.abc import Callable, Generator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait
from werkzeug.serving import make_server

from marketplace.extensions import db

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
WINDOW = (1280, 900)
# The first form that embeds text loads the sentence encoders; a page may take that long.
PAGE_SECONDS = 180
# Everything that could reach the network or change between runs is off; the rest is what CI containers need.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=en-US",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
)
_FAILED = pytest.StashKey[bool]()


def missing_browser() -> str | None:
    """Why headless Chromium cannot run here, or None when it can."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if not missing:
        return None
    return f"{' and '.join(missing)} not installed (apt-get install chromium chromium-driver)"


def start_chromium(profile_dir: Path) -> WebDriver:
    """The system Chromium through the system chromedriver, so Selenium Manager never downloads anything."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(PAGE_SECONDS)
    return driver


class Browser:
    """One person at the keyboard: finds fields by their label and buttons by their text, as people do."""

    def __init__(self, driver: WebDriver, base_url: str):
        self.driver = driver
        self.base_url = base_url

    # --- moving around ----------------------------------------------------------------------------

    def visit(self, path: str = "/") -> None:
        """Type an address into the address bar."""
        self.driver.get(self.base_url + path)
        self._check_page()

    def follow(self, link_text: str, within: WebElement | None = None) -> None:
        """Click the link with exactly this text (the first one, as a reader scanning the page would)."""
        self._navigate_by(self._one(f'.//a[normalize-space()="{link_text}"]', within, f"link “{link_text}”"))

    def press(self, button_text: str, within: WebElement | None = None) -> None:
        """Click the button with exactly this text and wait for the page it leads to."""
        xpath = f'.//button[normalize-space()="{button_text}"] | .//input[@type="submit" and @value="{button_text}"]'
        self._navigate_by(self._one(xpath, within, f"button “{button_text}”"))

    def click(self, element: WebElement) -> None:
        """Click a link or button found some other way (e.g. the first unread notification)."""
        self._navigate_by(element)

    # --- filling in forms ---------------------------------------------------------------------------

    def field(self, label: str) -> WebElement:
        """The form control a <label> with exactly this text belongs to."""
        element = self._one(f'//label[normalize-space()="{label}"]', None, f"label “{label}”")
        return self.driver.find_element(By.ID, element.get_attribute("for"))

    def fill(self, label: str, text: str) -> None:
        """Replace what the labelled field holds with `text`, keystroke by keystroke."""
        control = self.field(label)
        control.clear()
        control.send_keys(text)

    def fill_date(self, label: str, day: date) -> None:
        """Chromium's date input in en-US (see --lang) takes month, day and year as typed digits."""
        control = self.field(label)
        control.send_keys(day.strftime("%m%d%Y"))
        assert control.get_attribute("value") == day.isoformat(), f"{label}: {control.get_attribute('value')!r}"

    def choose(self, label: str, option: str) -> None:
        """Pick an option of the labelled drop-down by the text people see."""
        Select(self.field(label)).select_by_visible_text(option)

    def tick(self, label: str) -> None:
        """Tick the labelled checkbox (left ticked if it already was)."""
        box = self.field(label)
        if not box.is_selected():
            box.click()

    def attach(self, label: str, path: Path) -> None:
        """Choose a file for the labelled file input, as the file dialog would."""
        self.field(label).send_keys(str(path))

    # --- reading the page ---------------------------------------------------------------------------

    @property
    def heading(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "h1").text

    @property
    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    @property
    def flashes(self) -> list[str]:
        return [flash.text for flash in self.driver.find_elements(By.CSS_SELECTOR, ".flashes .flash")]

    def find(self, xpath: str, what: str) -> WebElement:
        """The first element at `xpath`; the failure names `what` and shows the page's text."""
        return self._one(xpath, None, what)

    def table_rows(self) -> list[list[str]]:
        """The cells' text of every body row in the page's tables."""
        return [
            [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
            for row in self.driver.find_elements(By.CSS_SELECTOR, "table tbody tr")
        ]

    def images(self) -> list[dict[str, Any]]:
        """Each <img> on the page as the browser sees it: loaded (complete, with a width) or broken."""
        return self.driver.execute_script(
            "return Array.from(document.images, img => "
            "({src: img.currentSrc, complete: img.complete, width: img.naturalWidth}));"
        )

    # --- accounts -----------------------------------------------------------------------------------

    def log_in(self, email: str, password: str) -> None:
        self.visit("/")
        self.follow("Log in")
        self.fill("E-mail", email)
        self.fill("Password", password)
        self.press("Log in")
        assert "You are logged in." in self.flashes, self.text[:500]

    def log_out(self) -> None:
        self.press("Log out")
        assert "You are logged out." in self.flashes, self.text[:500]

    # --- evidence -----------------------------------------------------------------------------------

    def screenshot(self, name: str) -> Path:
        """The whole page (not just the window) as test-artifacts/browser/<name>.png."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        width = max(size["width"], self.driver.execute_script("return window.innerWidth;"))
        clip = {"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1}
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        path = ARTIFACTS / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def save_evidence(self, name: str) -> None:
        """Screenshot and HTML of the page as it was when a test failed."""
        self.screenshot(name)
        (ARTIFACTS / f"{name}.html").write_text(self.driver.page_source, encoding="utf-8")

    # --- internals ----------------------------------------------------------------------------------

    def _one(self, xpath: str, within: WebElement | None, what: str) -> WebElement:
        found = (within or self.driver).find_elements(By.XPATH, xpath)
        assert found, f"no {what} on {self.driver.current_url}: {self.text[:800]}"
        return found[0]

    def _navigate_by(self, element: WebElement) -> None:
        """Click, then wait for the next page to finish loading (a new page has a new `window`)."""
        self.driver.execute_script("window.tandemPageBefore = true;")
        element.click()
        # While the old document goes away, chromedriver can answer with assorted errors: just ask again.
        WebDriverWait(self.driver, PAGE_SECONDS, ignored_exceptions=(WebDriverException,)).until(
            lambda driver: driver.execute_script(
                "return !window.tandemPageBefore && document.readyState === 'complete';"
            )
        )
        self._check_page()

    def _check_page(self) -> None:
        """What a person would notice at once: a server error, an unstyled page, errors in the console."""
        assert "Internal Server Error" not in self.driver.title, self.driver.current_url
        styled = self.driver.execute_script(
            "return Array.from(document.styleSheets).some(sheet => "
            "(sheet.href || '').endsWith('/static/tandem.css') && sheet.cssRules.length > 0);"
        )
        assert styled, f"tandem.css did not load on {self.driver.current_url}"
        errors = [entry["message"] for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, f"console errors on {self.driver.current_url}: {errors}"


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember a failed test body, so the `browser` fixture keeps the page for the post-mortem."""
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_FAILED] = True
    return report


@pytest.fixture
def chromium() -> None:
    """Skip without a browser on a developer machine; CI sets TANDEM_REQUIRE_BROWSER, where that is a failure."""
    reason = missing_browser()
    if reason is None:
        return
    if os.environ.get("TANDEM_REQUIRE_BROWSER", "") not in ("", "0"):
        pytest.fail(f"{reason}, and TANDEM_REQUIRE_BROWSER is set")
    pytest.skip(reason)


@pytest.fixture
def live_app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    """The app with CSRF protection on, as in production (cookies stay non-Secure: it is http on loopback)."""
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def live_server(live_app: Flask) -> Iterator[str]:
    """The app served on a free loopback port from a thread of the test process; yields its base URL."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture
def browser(chromium, live_server: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Browser]:
    """A fresh headless Chromium (new profile: no cookies) pointed at the live server."""
    driver = start_chromium(tmp_path / "chromium-profile")
    page = Browser(driver, live_server)
    try:
        yield page
        if request.node.stash.get(_FAILED, False):
            page.save_evidence(re.sub(r"[^\w.-]+", "_", request.node.name) + "-failed")
    finally:
        driver.quit()
