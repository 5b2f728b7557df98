"""Sign-in as on SAP BTP: SAP's application router in front, the development identity provider behind it.

Headless Chromium opens the router, is sent to the login page, picks the plant manager, comes back, and through
the router reads that plant's production orders with the token the router forwards; logout ends the session at
the router and at the identity provider. Needs Node.js (dev.py installs approuter/ with npm) and Chromium.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from devenv import approuter
from devenv.redis_server import die_with_parent, free_port, wait_for_port
from runtime.settings import Settings
from tests.e2e.conftest import CHROMIUM_MISSING, PAGE_TIMEOUT, chromium_available
from tests.e2e.reference_app import Live, heading, live, phone, wait, workers, writeback_strip

pytestmark = [
    pytest.mark.skipif(not chromium_available(), reason=CHROMIUM_MISSING),
    pytest.mark.skipif(not approuter.installed(), reason=approuter.NODE_MISSING),
]


@pytest.fixture
def router(app: Flask, served: str, tmp_path: Path) -> Iterator[str]:
    """@sap/approuter bound to the served app's /dev-idp through an xsuaa binding, as `python3 dev.py run` does."""
    with running_router(app.extensions["settings"], served, tmp_path) as url:
        yield url


@contextlib.contextmanager
def running_router(settings: Settings, api_url: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    base = {k: v for k, v in os.environ.items() if k not in ("VCAP_SERVICES", "destinations", "PORT")}
    env = approuter.bound_to_dev_idp(base, settings, port=port, api_url=api_url)
    log = tmp_path / "approuter.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            approuter.command(),
            cwd=approuter.APPROUTER,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        print(log.read_text()[-3000:])  # shown when the test fails


__all__ = ["live", "phone", "workers"]  # the fixtures


def page_json(browser: Any) -> Any:
    from selenium.webdriver.common.by import By

    return json.loads(browser.find_element(By.TAG_NAME, "body").text)


@pytest.mark.slow
def test_sign_in_through_the_router_lists_the_plant_managers_orders_and_logout_ends_it(
    router: str, served: str, browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, PAGE_TIMEOUT)
    browser.get(f"{router}/")
    wait.until(lambda driver: driver.title == "Sign in")  # the identity provider's login page, not the router's
    assert browser.current_url.startswith(f"{served}/dev-idp/oauth/authorize?")
    browser.find_element(By.CSS_SELECTOR, 'button[value="PM_1010"]').click()
    wait.until(lambda driver: driver.current_url == f"{router}/index.html")
    assert "signed in through SAP's application router" in browser.find_element(By.TAG_NAME, "main").text

    browser.get(f"{router}/api/v1/me")
    me = page_json(browser)
    assert me["user"] == "PM_1010" and me["roles"] == ["PlantManager"] and me["attributes"]["Plant"] == ["1010"]

    browser.get(f"{router}/api/v1/production-orders?limit=5")
    orders = page_json(browser)
    assert orders["items"], orders
    assert {order["plant"] for order in orders["items"]} == {"1010"}

    browser.get(f"{router}/index.html")
    browser.find_element(By.ID, "logout").click()
    wait.until(lambda driver: "signed out" in driver.find_element(By.TAG_NAME, "body").text.lower())
    assert browser.current_url.startswith(router)

    # The router's session is gone and so is the identity provider's: the next call asks for a sign-in again.
    browser.get(f"{router}/api/v1/me")
    wait.until(lambda driver: driver.title == "Sign in")


@pytest.mark.slow
def test_the_reference_app_through_the_router_signs_in_with_its_session_and_writes_with_its_csrf_token(
    live: Live, phone: Any, tmp_path: Path
) -> None:
    """The app under the router's /app: no token of its own (the router's session and its X-CSRF-Token)."""
    from selenium.webdriver.common.by import By

    with running_router(live.workers.context.settings, live.url, tmp_path) as router:
        phone.get(f"{router}/app/")
        wait(phone, lambda driver: driver.title == "Sign in")
        phone.find_element(By.CSS_SELECTOR, 'button[value="SUP_ASSY1010"]').click()
        wait(phone, lambda driver: driver.current_url.startswith(f"{router}/app/") and heading(driver) == "My work")
        assert phone.execute_script("return sessionStorage.getItem('sapext.tokens')") is None

        phone.find_elements(By.CSS_SELECTOR, "main .app-row")[0].click()
        wait(phone, lambda driver: driver.find_elements(By.CSS_SELECTOR, "form.app-form"))
        good = phone.find_element(By.NAME, "yield")
        good.clear()
        good.send_keys("1")
        phone.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        assert "done in SAP" in writeback_strip(phone, "succeeded")
