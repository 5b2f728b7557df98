"""The supervisor's main flow in the reference app, at a phone's size, against the live stack: sign in, the work
list, open an operation, confirm with SAP's proposal prefilled (less, with scrap and its reason), see the writeback
succeed and SAP's new quantities, then undo it from the confirmation history."""

from __future__ import annotations

from decimal import Decimal
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

CONFIRMATIONS = "/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV/ProdnOrdConf2"


def in_sap(live: Live, order: str, operation: str) -> list[dict[str, Any]]:
    import requests

    rows: list[dict[str, Any]] = requests.get(
        f"{live.sap.url}{CONFIRMATIONS}",
        params={"$filter": f"OrderID eq '{order}' and OrderOperation eq '{operation}'", "$format": "json"},
        auth=("EXT_API_TECH", "tech-pass-1"),
        timeout=30,
    ).json()["d"]["results"]
    return rows


def test_supervisor_confirms_with_the_proposal_and_undoes_it(live: Live, phone: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    sign_in(phone, live, "SUP_ASSY1010", "My work")
    rows = phone.find_elements(By.CSS_SELECTOR, "main .app-row")
    assert rows, "the work list is empty"
    assert "to go" in rows[0].text
    assert accessibility_problems(phone) == []
    screenshot(phone, "supervisor", tmp_path)

    rows[0].send_keys(Keys.ENTER)  # by keyboard: every row is a link
    wait(phone, lambda driver: driver.find_elements(By.CSS_SELECTOR, "form.app-form"))
    # A new screen: focus is on its title, where a screen reader starts reading.
    assert phone.switch_to.active_element.tag_name == "h1"
    order, operation = heading(phone).split(" · ")
    good = phone.find_element(By.NAME, "yield")
    proposed = Decimal(good.get_attribute("value"))
    assert proposed > 0  # SAP's proposal (GetConfProposal): the quantity still to go
    assert f"SAP proposes {proposed:,}" in phone.find_element(By.CSS_SELECTOR, "form").text.replace(".000", "")
    assert accessibility_problems(phone) == []

    good.clear()
    good.send_keys("2")
    phone.find_element(By.NAME, "scrap").clear()
    phone.find_element(By.NAME, "scrap").send_keys("1")
    Select(phone.find_element(By.NAME, "reason")).select_by_value("0002")
    phone.find_element(By.NAME, "text").send_keys("first pieces")
    phone.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()

    assert "done in SAP" in writeback_strip(phone, "succeeded")
    # SAP's new state, read again by the screen: 2 more confirmed, the confirmation on top of the history.
    wait(phone, lambda driver: "first pieces" in driver.find_element(By.CSS_SELECTOR, ".app-history").text)
    history = phone.find_element(By.CSS_SELECTOR, ".app-history")
    assert "2 PC good, 1 PC scrap" in history.text and "SUP_ASSY1010" in history.text
    [posted] = [row for row in in_sap(live, order, operation) if not row["IsReversal"]]
    assert Decimal(posted["ConfirmationYieldQuantity"]) == 2 and posted["VarianceReasonCode"] == "0002"

    history.find_element(By.CSS_SELECTOR, "button").click()  # Undo
    wait(phone, lambda driver: "Undone" in driver.find_element(By.CSS_SELECTOR, "main").text)
    assert sum(1 for row in in_sap(live, order, operation) if row["IsReversal"]) == 1
