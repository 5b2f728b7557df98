"""The reference app (/app) in headless Chromium at a phone's size, against the live stack: the API over real HTTP
behind a proxy the test can cut (the network going away for the page and its service worker alike), one real RQ
worker process, the live mock SAP trusting the development identity provider.

A test module imports the fixtures: `from tests.e2e.reference_app import live, phone, workers` (`browser` comes
from conftest).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MockSap, migrated_app, serve
from tests.e2e.conftest import CHROMIUM_MISSING, PAGE_TIMEOUT, chromium_available
from tests.e2e.writeback_env import Workers, workers

__all__ = ["live", "phone", "workers"]  # the fixtures

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "instance" / "test-vendor" / "axe.min.js"  # dev.py fetches it (app/webapp/package-lock.json)
README_SCREENSHOTS = ROOT / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}  # a mid-size phone, portrait

needs_chromium = pytest.mark.skipif(not chromium_available(), reason=CHROMIUM_MISSING)


class CuttableProxy:
    """A TCP proxy in front of the API: `cut()` drops every connection and refuses new ones, `restore()` listens
    again on the same port. To the browser that is the network going away and coming back."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.accepting = threading.Thread(target=self._accept, args=(self.listener,), daemon=True)
        self.accepting.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut or closed
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.connections.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.listener.close()
        with self.lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self.connections.clear()

    def restore(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()


@dataclass
class Live:
    url: str  # the API as the browser reaches it (through the proxy)
    proxy: CuttableProxy
    workers: Workers
    sap: MockSap


@pytest.fixture
def live(workers: Workers, trusting_sap: MockSap) -> Iterator[Live]:
    workers.start()
    app = migrated_app(workers.context.settings)
    with serve(app) as api_url:
        proxy = CuttableProxy(int(api_url.rsplit(":", 1)[1]))
        try:
            yield Live(proxy.url, proxy, workers, trusting_sap)
        finally:
            proxy.cut()


@pytest.fixture
def phone(browser: Any) -> Any:
    """The browser at a phone's size and pixel density, touch on, as a phone's Chromium renders pages."""
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    browser.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True})
    return browser


def wait(browser: Any, condition: Any, timeout: float = PAGE_TIMEOUT) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # A screen re-renders as data arrives: an element found a moment ago may be gone; look again.
    return WebDriverWait(browser, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def heading(browser: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(browser.find_element(By.CSS_SELECTOR, "main h1").text)


def sign_in(browser: Any, live: Live, user: str, expect_heading: str) -> None:
    """Open the app, pick `user` on the identity provider's login page, wait for the role's home screen."""
    from selenium.webdriver.common.by import By

    browser.get(f"{live.url}/app/")
    wait(browser, lambda driver: driver.title == "Sign in")
    browser.find_element(By.CSS_SELECTOR, f'button[value="{user}"]').click()
    app = f"{live.url}/app/"
    wait(browser, lambda driver: driver.current_url.startswith(app) and heading(driver) == expect_heading)


def writeback_strip(browser: Any, status: str, timeout: float = 60) -> str:
    """The text of the strip above the screen once a writeback shows `status` (succeeded, conflict, ...)."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By

    selector = f'#activity [data-status="{status}"]'
    try:
        wait(browser, lambda driver: driver.find_elements(By.CSS_SELECTOR, selector), timeout)
    except TimeoutException:
        shown = browser.find_element(By.CSS_SELECTOR, ".app-messages").text
        pytest.fail(f"no writeback strip with status {status} after {timeout}s; the strips say: {shown!r}")
    return str(browser.find_element(By.CSS_SELECTOR, selector).text)


def accessibility_problems(browser: Any) -> list[str]:
    """axe-core's serious and critical WCAG 2.1 A/AA violations on the page as it is now."""
    assert AXE.exists(), f"{AXE} is missing: dev.py fetches it (python3 dev.py test)"
    browser.execute_script(AXE.read_text())
    result = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
        ".then((r) => done(r.violations), (e) => done([{id: 'axe-error', impact: 'critical', help: String(e),"
        " nodes: []}]));"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(browser: Any, name: str, tmp_path: Path) -> Path:
    """A phone-sized PNG of the screen; also into docs/screenshots/ (the README's) when UPDATE_SCREENSHOTS=1."""
    path = tmp_path / f"{name}.png"
    browser.save_screenshot(str(path))
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, README_SCREENSHOTS / f"{name}.png")
    return path
