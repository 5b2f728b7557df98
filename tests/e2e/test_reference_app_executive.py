"""The executive's main flow in the reference app, at a phone's size, against the live stack: sign in, the badge
counts and the inbox (overdue first, the overdue badge as a filter), open a purchase requisition and see what is
requested, approve it with a comment, see the writeback succeed and SAP record the decision; approve two tasks at
once with a result per task; find all three under "Decided by me"; forward a task and be told it left the inbox."""

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
    screenshot,
    sign_in,
    wait,
    workers,
    writeback_strip,
)

__all__ = ["live", "phone", "workers"]  # the fixtures
pytestmark = [needs_chromium, pytest.mark.slow]

USER = "EXEC_ANNA"
TASK_ROWS = 'main ul[aria-label^="Tasks to decide"] .app-row'
TASKS = "/sap/opu/odata/IWPGW/TASKPROCESSING;mo;v=2"


def in_sap(live: Live, approval_id: str) -> tuple[str, bool, list[tuple[str, str]]]:
    """The task in SAP's inbox, read as its processor: its status, whether it has comments, and the decisions in
    its workflow log (result, by whom)."""
    import requests

    origin, instance = approval_id.split("~")
    task = f"{live.sap.url}{TASKS}/TaskCollection(SAP__Origin='{origin}',InstanceID='{instance}')"

    def read(url: str) -> Any:
        response = requests.get(url, params={"$format": "json"}, auth=(USER, "user-pass-1"), timeout=30)
        response.raise_for_status()
        return response.json()["d"]

    row, logs = read(task), read(f"{task}/WorkflowLogs")["results"]
    decisions = [(str(entry["Result"]), str(entry["PerformedBy"])) for entry in logs if entry["ResultType"]]
    return str(row["Status"]), bool(row["HasComments"]), decisions


def inbox_in_sap(live: Live, user: str) -> list[str]:
    """The ids (as the API writes them) of the tasks in `user`'s inbox in SAP."""
    import requests

    response = requests.get(
        f"{live.sap.url}{TASKS}/TaskCollection", params={"$format": "json"}, auth=(user, "user-pass-1"), timeout=30
    )
    response.raise_for_status()
    return [f"{task['SAP__Origin']}~{task['InstanceID']}" for task in response.json()["d"]["results"]]


def open_inbox(browser: Any) -> None:
    """Back to the inbox by its tab."""
    from selenium.webdriver.common.by import By

    press(browser, browser.find_element(By.CSS_SELECTOR, '.app-tab[href="#/approvals"]'))
    wait(browser, lambda driver: driver.find_elements(By.CSS_SELECTOR, TASK_ROWS))


def press(browser: Any, element: Any) -> None:
    """Click it in the middle of the screen, where neither the sticky header nor the floating footer covers it."""
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def approval_id(url: str) -> str:
    from urllib.parse import unquote

    return unquote(url.rsplit("#/approvals/", 1)[1])


def test_executive_approves_a_requisition_then_two_at_once_and_forwards_one(
    live: Live, phone: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    sign_in(phone, live, USER, "Approvals")
    wait(phone, lambda driver: driver.find_elements(By.CSS_SELECTOR, TASK_ROWS))
    badges = {
        b.text.split("\n")[1]: int(b.text.split("\n")[0]) for b in phone.find_elements(By.CSS_SELECTOR, ".app-badge")
    }
    assert badges["Open"] > 0 and badges["Overdue"] > 0
    assert sum(badges[p] for p in ("Very high", "High", "Medium", "Low")) == badges["Open"]
    rows = phone.find_elements(By.CSS_SELECTOR, TASK_ROWS)
    assert len(rows) == badges["Open"]
    assert "Overdue" in rows[0].text and "From " in rows[0].text  # overdue first, with the requester
    # Two sections, as the API filters them: exactly the overdue count first, then the rest.
    late = phone.find_elements(By.CSS_SELECTOR, 'main ul[aria-label^="Tasks to decide: overdue"] .app-row')
    rest = phone.find_elements(By.CSS_SELECTOR, 'main ul[aria-label^="Tasks to decide: not overdue"] .app-row')
    assert len(late) == badges["Overdue"] and all("Overdue" in row.text for row in late)
    assert len(rest) == badges["Open"] - badges["Overdue"] and not any("Overdue" in row.text for row in rest)
    assert not [b for b in phone.find_elements(By.XPATH, "//button[normalize-space()='Show more']") if b.is_displayed()]
    assert accessibility_problems(phone) == []
    screenshot(phone, "executive", tmp_path)

    # The overdue badge filters the list to exactly its count.
    press(phone, phone.find_element(By.CSS_SELECTOR, 'a.app-badge[href="#/approvals?show=overdue"]'))
    wait(phone, lambda driver: "Showing overdue tasks" in driver.find_element(By.TAG_NAME, "main").text)
    overdue = phone.find_elements(By.CSS_SELECTOR, TASK_ROWS)
    assert len(overdue) == badges["Overdue"] and all("Overdue" in row.text for row in overdue)
    press(phone, phone.find_element(By.LINK_TEXT, "Show all open tasks"))
    wait(phone, lambda driver: len(driver.find_elements(By.CSS_SELECTOR, TASK_ROWS)) == badges["Open"])

    requisition = next(
        row for row in phone.find_elements(By.CSS_SELECTOR, TASK_ROWS) if "Purchase Requisition" in row.text
    )
    press(phone, requisition)
    wait(phone, lambda driver: driver.find_elements(By.CSS_SELECTOR, ".app-exec-item"))
    task = approval_id(phone.current_url)
    main = phone.find_element(By.TAG_NAME, "main").text
    assert "What is requested" in main and "Total" in main and "Quantity" in main and "Delivery by" in main
    assert "€" in phone.find_element(By.CSS_SELECTOR, ".app-exec-total").text
    assert accessibility_problems(phone) == []

    phone.find_element(By.NAME, "comment").send_keys("Budget confirmed")
    press(phone, phone.find_element(By.XPATH, "//form//button[normalize-space()='Approve']"))
    assert "done in SAP" in writeback_strip(phone, "succeeded")
    wait(phone, lambda driver: f"Approved by {USER}" in driver.find_element(By.TAG_NAME, "main").text)  # SAP's record
    assert in_sap(live, task) == ("COMPLETED", True, [("Approve", USER)])

    # Two at once: select them, approve, one result per task.
    open_inbox(phone)
    press(phone, phone.find_element(By.XPATH, "//button[normalize-space()='Select several']"))
    picks = phone.find_elements(By.CSS_SELECTOR, ".app-exec-pick")
    chosen = [pick.get_attribute("data-task") for pick in picks[:2]]
    assert task not in chosen
    for pick in picks[:2]:
        press(phone, pick.find_element(By.TAG_NAME, "label"))
    assert "2 tasks selected" in phone.find_element(By.TAG_NAME, "main").text
    assert accessibility_problems(phone) == []
    press(phone, phone.find_element(By.XPATH, "//button[normalize-space()='Approve 2 selected']"))
    results = ".app-exec-results li"
    wait(
        phone,
        lambda driver: (
            [r.text.count("Approved in SAP") for r in driver.find_elements(By.CSS_SELECTOR, results)] == [1, 1]
        ),
        timeout=60,
    )
    # The results redraw as each writeback's news arrives (the stream, or the poll): read them in one go.
    shown = wait(
        phone,
        lambda driver: sorted(r.get_attribute("data-task") for r in driver.find_elements(By.CSS_SELECTOR, results)),
    )
    assert shown == sorted(chosen)
    for chosen_task in chosen:
        status, _, decisions = in_sap(live, chosen_task)
        assert (status, decisions) == ("COMPLETED", [("Approve", USER)])

    press(phone, phone.find_element(By.CSS_SELECTOR, 'a[href="#/approvals/decided"]'))
    wait(phone, lambda driver: heading(driver) == "Decided by me")
    decided = wait(
        phone,
        lambda driver: {
            row.get_attribute("href").rsplit("/", 1)[1]: row.text
            for row in driver.find_elements(By.CSS_SELECTOR, "main .app-row")
        },
    )
    assert sorted(decided) == sorted([task, *chosen]) and all("Approved" in text for text in decided.values())
    assert "Budget confirmed" in decided[task]

    # Forwarded, the task leaves the inbox: its screen says so instead of failing on the 404.
    open_inbox(phone)
    # The inbox may draw again as news arrives (a late count, SAP's echo): look the row up at the moment of the tap.
    wait(phone, lambda driver: press(driver, driver.find_element(By.CSS_SELECTOR, TASK_ROWS)) or True)
    wait(phone, lambda driver: driver.find_elements(By.NAME, "forward-to"))
    forwarded = approval_id(phone.current_url)
    phone.find_element(By.NAME, "forward-to").send_keys("exec_ben")
    press(phone, phone.find_element(By.XPATH, "//button[normalize-space()='Forward']"))
    wait(phone, lambda driver: heading(driver) == "No longer in your inbox", timeout=60)
    assert "Forwarded to EXEC_BEN" in phone.find_element(By.TAG_NAME, "main").text
    assert forwarded in inbox_in_sap(live, "EXEC_BEN") and forwarded not in inbox_in_sap(live, USER)
