"""The plant manager's main flow in the reference app, at a phone's size, against the live stack: sign in, the
exception badges and the most urgent list, release an order due for release (SAP shows it released), then
reschedule another one that someone changes in SAP meanwhile: the app says so and offers to reload, and the
second try lands with the new dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.reference_app import (
    Live,
    accessibility_problems,
    live,
    needs_chromium,
    phone,
    screenshot,
    sign_in,
    wait,
    workers,
)
from tests.integration.workers.conftest import PRODORD, sap_get

__all__ = ["live", "phone", "workers"]  # the fixtures
pytestmark = [needs_chromium, pytest.mark.slow]

BADGES = ["Late to start", "Late to finish", "Missing parts", "Due for release", "In progress"]


def in_sap(live: Live, order_id: str) -> dict[str, Any]:
    row: dict[str, Any] = sap_get(live.sap, f"{PRODORD}/A_ProductionOrder_2('{order_id}')")
    return row


def sap_day(value: str) -> str:
    """OData V2's /Date(ms)/ as an ISO calendar day."""
    millis = int(value.removeprefix("/Date(").removesuffix(")/"))
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC).date().isoformat()


def later(iso: str, days: int) -> str:
    return (dt.date.fromisoformat(iso) + dt.timedelta(days=days)).isoformat()


def shown(browser: Any, selector: str) -> str:
    """The text of the first element `selector` finds, "" if none: read in one step, so a screen rendered again
    meanwhile cannot leave the test holding an element that is gone."""
    return str(browser.execute_script("return document.querySelector(arguments[0])?.innerText ?? ''", selector))


def value(browser: Any, name: str) -> str:
    return str(browser.execute_script("return document.querySelector(`[name=${arguments[0]}]`)?.value ?? ''", name))


def due_for_release(browser: Any) -> list[Any]:
    from selenium.webdriver.common.by import By

    browser.find_element(By.CSS_SELECTOR, 'a.app-badge[href$="exception=due_for_release"]').click()
    wait(browser, lambda driver: shown(driver, "main h2").startswith("Due for release"))
    rows: list[Any] = browser.find_elements(By.CSS_SELECTOR, "main .app-row")
    return rows


def open_order(browser: Any, row: Any) -> str:
    order_id = str(row.text.split(" · ")[0])
    row.click()
    wait(browser, lambda driver: shown(driver, "main h1") == f"Order {order_id}")
    return order_id


def set_dates(browser: Any, start: str, end: str) -> None:
    """Type-independent: a date input's text depends on the browser's locale, its value never does."""
    from selenium.webdriver.common.by import By

    for name, day in (("planned_start", start), ("planned_end", end)):
        browser.execute_script("arguments[0].value = arguments[1]", browser.find_element(By.NAME, name), day)
    send = browser.find_element(By.CSS_SELECTOR, "form button[type=submit]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", send)  # clear of the fixed footer
    send.click()


def succeeded(browser: Any, label: str) -> str:
    """The strip above the screen once the writeback `label` names succeeded."""

    def strip(driver: Any) -> str | None:
        texts: list[str] = driver.execute_script(
            "return [...document.querySelectorAll('#activity [data-status=succeeded]')].map((e) => e.innerText)"
        )
        return next((text for text in texts if label in text), None)

    return str(wait(browser, strip, 60))


def test_plant_manager_releases_an_order_and_reschedules_one_changed_meanwhile(
    live: Live, phone: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    sign_in(phone, live, "PM_1010", "Production orders")
    badges = phone.find_elements(By.CSS_SELECTOR, "main a.app-badge")
    assert [badge.text.split("\n")[1] for badge in badges] == BADGES
    counts = [int(badge.text.split("\n")[0].replace(",", "")) for badge in badges]
    urgent = next(i for i, count in enumerate(counts) if count)
    assert badges[urgent].get_attribute("aria-current") == "true", "opens on the most urgent exception"
    rows = phone.find_elements(By.CSS_SELECTOR, "main .app-row")
    assert rows and len(rows) == min(counts[urgent], 50)
    if urgent < 2:  # late to start or to finish: each row says so
        assert all(BADGES[urgent] in row.text for row in rows[:5])
    assert accessibility_problems(phone) == []
    screenshot(phone, "plant-manager", tmp_path)

    # Release one due for release: not released yet, a Release button; SAP releases it.
    order_id = open_order(phone, due_for_release(phone)[0])
    states = phone.find_element(By.CSS_SELECTOR, ".pm-states--lead")
    assert "Released" not in states.text and in_sap(live, order_id)["OrderIsReleased"] == ""
    assert phone.find_elements(By.CSS_SELECTOR, "form.app-form")  # reschedule
    assert accessibility_problems(phone) == []
    phone.find_element(By.CSS_SELECTOR, ".app-footer button").click()
    assert "done in SAP" in succeeded(phone, f"Release of order {order_id}")
    wait(phone, lambda driver: "Released" in shown(driver, ".pm-states--lead"))
    assert not phone.find_elements(By.CSS_SELECTOR, ".app-footer button"), "no second release"
    assert "You released this order" in shown(phone, ".pm-outcome")
    assert in_sap(live, order_id)["OrderIsReleased"] == "X"

    # Reschedule another; someone moves its end in SAP after the screen read it: refused, reload offered.
    phone.find_element(By.CSS_SELECTOR, '.app-tab[data-home="orders"]').click()
    wait(phone, lambda driver: shown(driver, "main h1") == "Production orders")
    other = open_order(phone, next(row for row in due_for_release(phone) if not row.text.startswith(order_id)))
    start, end = value(phone, "planned_start"), value(phone, "planned_end")
    sap = live.workers.context.sap.production_orders
    etag = sap.get(other).etag
    assert etag
    sap.reschedule(other, etag=etag, planned_end=later(end, 1))
    set_dates(phone, later(start, 14), later(end, 16))
    refusal = wait(phone, lambda driver: shown(driver, "form .pm-errors"))
    assert "Someone changed this in SAP" in refusal
    phone.find_element(By.XPATH, "//form//button[normalize-space()='Reload']").click()
    wait(phone, lambda driver: value(driver, "planned_end") == later(end, 1))

    set_dates(phone, later(start, 14), later(end, 16))
    assert "done in SAP" in succeeded(phone, f"Reschedule of order {other}")
    # The screen read again from SAP (its form, too: not just the values typed into it).
    wait(phone, lambda driver: "You rescheduled this order" in shown(driver, "main"))
    assert (value(phone, "planned_start"), value(phone, "planned_end")) == (later(start, 14), later(end, 16))
    row = in_sap(live, other)
    assert (sap_day(row["MfgOrderPlannedStartDate"]), sap_day(row["MfgOrderPlannedEndDate"])) == (
        later(start, 14),
        later(end, 16),
    )

    # An order missing parts names each short component, as SAP's components say.
    phone.execute_script("location.hash = '#/orders?exception=missing_components'")  # the badge's link
    wait(phone, lambda driver: shown(driver, "main h2").startswith("Missing parts"))
    short = open_order(phone, phone.find_elements(By.CSS_SELECTOR, "main .app-row")[0])
    parts = wait(phone, lambda driver: shown(driver, "section[aria-label='Missing parts'] ul"))
    expected = sap.missing_components(short)
    assert expected and parts.count("missing of") == len(expected)
    assert all(part.material in parts for part in expected)
