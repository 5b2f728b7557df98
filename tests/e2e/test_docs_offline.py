"""/docs works with no network but the app: headless Chromium lists every operation and "Authorize" works."""

# Needs Debian's `chromium` and `chromium-driver` (.ci/run installs them); skipped with a message without them.
# Every host name but 127.0.0.1 resolves to nothing and every other address goes to a proxy that refuses, so a
# page that needed a CDN (or Swagger UI's online validator) would stay blank or show a failed request.

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from app.dev_idp import mint_token
from runtime.settings import Settings
from tests.e2e.conftest import CHROMIUM_MISSING, PAGE_TIMEOUT, chromium_available

pytestmark = pytest.mark.skipif(not chromium_available(), reason=CHROMIUM_MISSING)


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
