"""/docs works with no network but the app: headless Chromium lists every operation and "Authorize" works."""

# Needs Debian's `chromium` and `chromium-driver` (.ci/run installs them); skipped with a message without them.
# Every host name but 127.0.0.1 resolves to nothing and every other address goes to a proxy that refuses, so a
# page that needed a CDN (or Swagger UI's online validator) would stay blank or show a failed request.

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app.dev_idp import mint_token
from devenv.redis_server import free_port
from runtime.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PAGE_TIMEOUT = 60  # generous: a busy 2-core machine renders Swagger UI's 1.6 MB bundle slowly

pytestmark = pytest.mark.skipif(
    not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)),
    reason=f"headless docs test needs {CHROMIUM} and {CHROMEDRIVER}: apt-get install chromium chromium-driver",
)


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--no-first-run",
        "--no-default-browser-check",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        # Names: only 127.0.0.1 resolves. Addresses: a proxy on a port nothing listens on (loopback bypasses it).
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--proxy-server=http://127.0.0.1:{free_port()}",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # An explicit driver path: Selenium Manager is never asked to find (or download) one.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()


def requested_urls(driver: Any) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


@pytest.mark.slow
def test_docs_list_every_operation_offline_and_authorize_works(
    served: str, browser: Any, app: Flask, settings: Settings
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    spec = app.test_client().get("/openapi.json").json
    operation_ids = {
        operation["operationId"]
        for item in spec["paths"].values()
        for method, operation in item.items()
        if method != "parameters"
    }
    wait = WebDriverWait(browser, PAGE_TIMEOUT)

    browser.get(f"{served}/docs")
    wait.until(lambda driver: len(driver.find_elements(By.CSS_SELECTOR, ".opblock")) >= len(operation_ids))
    shown = {element.text for element in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-operation-id")}
    assert shown == operation_ids
    assert "SAP extension API" in browser.find_element(By.CSS_SELECTOR, ".info .title").text

    # Authorize with a development token, then call GET /api/v1/me from the page.
    token = mint_token(settings, "PM_1010", ["PlantManager"], {"Plant": ["1010"]})
    browser.find_element(By.CSS_SELECTOR, "button.authorize").click()
    dialog = wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".modal-ux")))
    dialog.find_element(By.CSS_SELECTOR, "input").send_keys(token)
    dialog.find_element(By.CSS_SELECTOR, "button.modal-btn.auth.authorize").click()
    wait.until(lambda driver: any(b.text == "Logout" for b in dialog.find_elements(By.CSS_SELECTOR, "button")))
    dialog.find_element(By.CSS_SELECTOR, "button.btn-done").click()

    me = browser.find_element(By.ID, "operations-me-getMe")
    me.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "#operations-me-getMe .try-out__btn"))).click()
    wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "#operations-me-getMe .execute"))).click()
    status = wait.until(
        ready.visibility_of_element_located(
            (By.CSS_SELECTOR, "#operations-me-getMe .live-responses-table tr.response .response-col_status")
        )
    )
    body = me.find_element(By.CSS_SELECTOR, ".live-responses-table .microlight").text
    assert status.text.strip() == "200", body
    assert json.loads(body)["user"] == "PM_1010"

    # Nothing left the app (chrome:// and data: URLs are the browser's own), and nothing was refused or failed.
    network = [url for url in requested_urls(browser) if url.split(":", 1)[0] in ("http", "https", "ws", "wss")]
    outside = [url for url in network if not url.startswith(served)]
    assert outside == []
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
