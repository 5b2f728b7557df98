"""The reference app without a network: installable, its shell and the last screens served by its service worker
when the API cannot be reached, an action taken offline kept with its Idempotency-Key and sent by itself once the
network is back, applied in SAP exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.reference_app import (
    Live,
    accessibility_problems,
    heading,
    live,
    needs_chromium,
    phone,
    sign_in,
    wait,
    workers,
    writeback_strip,
)
from tests.e2e.test_reference_app_supervisor import in_sap

__all__ = ["live", "phone", "workers"]  # the fixtures
pytestmark = [needs_chromium, pytest.mark.slow]


def controlled(browser: Any) -> bool:
    return bool(browser.execute_script("return !!navigator.serviceWorker.controller"))


def test_an_action_taken_offline_is_sent_once_when_the_network_is_back(live: Live, phone: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    sign_in(phone, live, "SUP_ASSY1010", "My work")
    phone.execute_async_script("navigator.serviceWorker.ready.then(() => arguments[0]())")  # installed, active
    assert phone.execute_cdp_cmd("Page.getInstallabilityErrors", {})["installabilityErrors"] == []

    # Online once under the service worker: the list and one operation's screen are kept for later.
    phone.refresh()
    wait(phone, controlled)
    wait(phone, lambda driver: heading(driver) == "My work" and driver.find_elements(By.CSS_SELECTOR, ".app-row"))
    phone.find_elements(By.CSS_SELECTOR, "main .app-row")[0].click()
    wait(phone, lambda driver: driver.find_elements(By.CSS_SELECTOR, "form.app-form"))
    order, operation = heading(phone).split(" · ")
    before = len(in_sap(live, order, operation))

    live.proxy.cut()
    phone.refresh()  # the shell and the screen come from the service worker
    wait(phone, lambda driver: driver.find_elements(By.CSS_SELECTOR, "form.app-form"))
    assert heading(phone) == f"{order} · {operation}"
    assert "Offline: showing what was loaded at" in phone.find_element(By.ID, "offline").text
    assert accessibility_problems(phone) == []

    good = phone.find_element(By.NAME, "yield")
    good.clear()
    good.send_keys("1")
    phone.find_element(By.NAME, "text").send_keys("taken offline")
    phone.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    assert "sent when you are back online" in writeback_strip(phone, "queued")
    wait(phone, lambda driver: "1 action waiting to be sent" in driver.find_element(By.ID, "offline").text)

    # The installed app opened afresh without a network (a new tab: no session of its own): the device's last user
    # sees their saved list and what waits to be sent.
    first_tab = phone.current_window_handle
    phone.switch_to.new_window("tab")
    phone.get(f"{live.url}/app/#/work")
    wait(phone, lambda driver: heading(driver) == "My work" and driver.find_elements(By.CSS_SELECTOR, ".app-row"))
    assert "1 action waiting to be sent" in phone.find_element(By.ID, "offline").text
    phone.close()
    phone.switch_to.window(first_tab)

    live.proxy.restore()
    assert "done in SAP" in writeback_strip(phone, "succeeded", timeout=90)
    posted = [row for row in in_sap(live, order, operation) if row["ConfirmationText"] == "taken offline"]
    assert len(posted) == 1 and len(in_sap(live, order, operation)) == before + 1
    wait(phone, lambda driver: "waiting to be sent" not in driver.find_element(By.ID, "offline").text)


SHELL_BUDGET = 300_000  # bytes over the wire for the app shell's first load (issue 15): a phone on a slow network


def test_the_app_shell_first_load_stays_under_its_budget(live: Live, phone: Any) -> None:
    """What a phone downloads for the app itself on its first visit (compressed, headers included), measured by the
    browser (Resource Timing's transferSize) with an empty HTTP cache and no service worker."""
    sign_in(phone, live, "SUP_ASSY1010", "My work")
    phone.execute_async_script(
        "const done = arguments[0];"
        "navigator.serviceWorker.getRegistrations().then((all) => Promise.all(all.map((r) => r.unregister())))"
        ".then(() => caches.keys()).then((keys) => Promise.all(keys.map((k) => caches.delete(k)))).then(() => done());"
    )
    phone.execute_cdp_cmd("Network.clearBrowserCache", {})
    phone.refresh()
    wait(phone, lambda driver: heading(driver) == "My work")
    entries = phone.execute_script(
        "return [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]"
        ".map((e) => [e.name, e.transferSize])"
    )
    shell = {url: size for url, size in entries if f"{live.url}/app/" in url}
    total = sum(shell.values())
    print(f"app shell first load: {total} bytes in {len(shell)} files")  # quoted in the closing note
    assert all(size > 0 for size in shell.values()), shell  # really fetched, not from a cache
    assert any(url.endswith("/app/vendor/fiori.css") for url in shell), shell
    assert total < SHELL_BUDGET, sorted(shell.items(), key=lambda item: -item[1])
