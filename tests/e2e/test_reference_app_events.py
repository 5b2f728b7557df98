"""Live events in the reference app, at a phone's size, against the live stack and its event stream process: SAP's
changes redraw the screen they concern with a short notice (never while the user is typing), a writeback is settled
by its event rather than by polling, and "Notify me on this device" behaves where the browser has no push service."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from app.dev_idp import mint_token
from tests.conftest import MockSap, migrated_app, serve
from tests.e2e.event_stream_env import events_server
from tests.e2e.reference_app import (
    CuttableProxy,
    Live,
    accessibility_problems,
    heading,
    needs_chromium,
    phone,
    sign_in,
    wait,
    workers,
    writeback_strip,
)
from tests.e2e.test_event_stream import release_in_sap, subscribe_api
from tests.e2e.writeback_env import Workers, poll

__all__ = ["phone", "streaming_live", "workers"]  # the fixtures
pytestmark = [needs_chromium, pytest.mark.slow]


@pytest.fixture
def streaming_live(workers: Workers, trusting_sap: MockSap) -> Iterator[Live]:
    """`live` with the event stream process beside the API (its own origin, as `python3 dev.py run` has it), the
    mock SAP's business events delivered to the API, and the inbox poller looking every half second."""
    workers.start(INBOX_POLL_INTERVAL="0.5")
    with events_server(workers.env) as events:
        settings = workers.context.settings.replace(events_url=f"{events}/api/v1/events")
        with serve(migrated_app(settings)) as api_url:
            subscribe_api(trusting_sap, api_url)
            proxy = CuttableProxy(int(api_url.rsplit(":", 1)[1]))
            try:
                yield Live(proxy.url, proxy, workers, trusting_sap)
            finally:
                proxy.cut()


class Network:
    """What the page asked for over the network (Chromium's performance log, which each read empties: kept here)."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser
        self.messages: list[dict[str, Any]] = []

    def read(self) -> list[dict[str, Any]]:
        for entry in self.browser.get_log("performance"):
            self.messages.append(json.loads(entry["message"])["message"])
        return self.messages

    def streaming(self) -> bool:
        """The event stream answered 200: from now on the page hears every event."""
        return any(
            m["method"] == "Network.responseReceived"
            and m["params"]["response"]["url"].endswith("/api/v1/events")
            and m["params"]["response"]["status"] == 200
            for m in self.read()
        )

    def gets(self, path: str) -> list[str]:
        """URLs of the GETs the page sent whose path ends with `path`."""
        return [
            m["params"]["request"]["url"]
            for m in self.read()
            if m["method"] == "Network.requestWillBeSent"
            and m["params"]["request"]["method"] == "GET"
            and m["params"]["request"]["url"].split("?")[0].endswith(path)
        ]


def shown(browser: Any, selector: str) -> str:
    return str(browser.execute_script("return document.querySelector(arguments[0])?.innerText ?? ''", selector))


def news(browser: Any, text: str) -> str:
    """The live notice above the screen, once it says `text`."""
    return str(wait(browser, lambda driver: text in (said := shown(driver, "#news")) and said, 30))


def mark_document(browser: Any) -> None:
    """A mark on this page's window: gone if the page is ever loaded again."""
    browser.execute_script("window.sameDocument = true")


def same_document(browser: Any) -> bool:
    return bool(browser.execute_script("return window.sameDocument === true"))


def badge_count(browser: Any, key: str) -> int:
    text = shown(browser, f'a.app-badge[href$="exception={key}"] strong')
    return int(re.sub(r"\D", "", text))


def test_an_order_released_in_sap_shows_in_the_plant_managers_list_and_waits_while_they_type(
    streaming_live: Live, phone: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    live = streaming_live
    network = Network(phone)
    sign_in(phone, live, "PM_1010", "Production orders")
    phone.execute_script("location.hash = '#/orders?exception=due_for_release'")
    wait(phone, lambda driver: shown(driver, "main h2").startswith("Due for release"))
    rows = [row.text.split(" · ")[0] for row in phone.find_elements(By.CSS_SELECTOR, "main .app-row")]
    assert len(rows) >= 2, "two orders due for release are needed"
    due = badge_count(phone, "due_for_release")
    wait(phone, lambda _: network.streaming())
    mark_document(phone)

    # Released in SAP itself: the list drops it and says why, without a reload.
    release_in_sap(live.sap, rows[0])
    assert f"Order {rows[0]} was released in SAP." in news(phone, rows[0])
    wait(phone, lambda driver: badge_count(driver, "due_for_release") == due - 1)
    listed = [row.text.split(" · ")[0] for row in phone.find_elements(By.CSS_SELECTOR, "main .app-row")]
    assert rows[0] not in listed and rows[1] in listed
    assert same_document(phone) and heading(phone) == "Production orders"
    assert accessibility_problems(phone) == []  # with the notice on show

    # On an order's screen, with a date in hand: the screen stays as it is until the user asks.
    phone.find_element(By.XPATH, f"//main//a[contains(., '{rows[1]}')]").click()
    wait(phone, lambda driver: heading(driver) == f"Order {rows[1]}")
    assert not shown(phone, "#news"), "a new screen starts without the last one's notice"
    start = phone.find_element(By.NAME, "planned_start")
    phone.execute_script("arguments[0].scrollIntoView({block: 'center'})", start)
    start.click()
    start.send_keys(Keys.ARROW_UP)  # a change, as typing makes it
    typed = start.get_attribute("value")
    release_in_sap(live.sap, rows[1])
    assert "Tap Refresh to see it" in news(phone, f"Order {rows[1]} was released in SAP.")
    assert phone.find_element(By.NAME, "planned_start").get_attribute("value") == typed
    assert "Released" not in shown(phone, ".pm-states--lead")
    assert accessibility_problems(phone) == []

    phone.find_element(By.CSS_SELECTOR, "#news button[aria-label^='Refresh']").click()
    wait(phone, lambda driver: "Released" in shown(driver, ".pm-states--lead"))
    assert same_document(phone)


def test_a_supervisors_confirmation_is_settled_by_its_event_not_by_polling(streaming_live: Live, phone: Any) -> None:
    from selenium.webdriver.common.by import By

    network = Network(phone)
    sign_in(phone, streaming_live, "SUP_ASSY1010", "My work")
    phone.find_elements(By.CSS_SELECTOR, "main .app-row")[0].click()
    wait(phone, lambda driver: driver.find_elements(By.CSS_SELECTOR, "form.app-form"))
    wait(phone, lambda _: network.streaming())

    good = phone.find_element(By.NAME, "yield")
    good.clear()
    good.send_keys("1")
    phone.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    assert "done in SAP" in writeback_strip(phone, "succeeded")
    writeback = phone.find_element(By.CSS_SELECTOR, "#activity [data-status=succeeded]").get_attribute("data-writeback")
    assert streaming_live.workers.ended(writeback).status.value == "succeeded"
    # With the stream up the tracker asked the API nothing about it: its writeback.succeeded event settled it.
    assert network.gets(f"/api/v1/writebacks/{writeback}") == []


def test_a_new_task_appears_in_the_executives_inbox_with_a_notice(streaming_live: Live, phone: Any) -> None:
    from selenium.webdriver.common.by import By

    network = Network(phone)
    sign_in(phone, streaming_live, "EXEC_ANNA", "Approvals")
    wait(phone, lambda _: network.streaming())
    # The inbox poller's first look at Anna's inbox only marks where it stands: a task after it is new.
    checkpoint = "sapext:pollers:inbox:checkpoint:EXEC_ANNA"
    poll(lambda: streaming_live.workers.context.redis.exists(checkpoint), 30, "the inbox poller's first look")
    mark_document(phone)

    title = "Safety boots for the night shift"
    created = requests.post(
        f"{streaming_live.sap.url}/mock-admin/tasks", json={"user": "EXEC_ANNA", "title": title}, timeout=10
    )
    assert created.status_code == 201, created.text
    assert f"New approval in your inbox: {title}." in news(phone, title)
    wait(phone, lambda driver: title in [e.text for e in driver.find_elements(By.CSS_SELECTOR, "main .app-row__title")])
    assert same_document(phone)


def test_notify_me_on_this_device_without_a_push_service_and_the_service_workers_notifications(
    streaming_live: Live, phone: Any
) -> None:
    """Headless Chromium reaches no push service (its subscribe() never answers): the app gives up after a while,
    says so and leaves the switch off. The service worker's push handler gets a message through DevTools instead."""
    from selenium.webdriver.common.by import By

    live = streaming_live
    sign_in(phone, live, "SUP_ASSY1010", "My work")
    phone.execute_async_script("navigator.serviceWorker.ready.then(() => arguments[0]())")
    phone.execute_script("location.hash = '#/activity'")
    toggle = wait(phone, lambda driver: driver.find_elements(By.ID, "push-switch"))[0]
    assert toggle.get_attribute("role") == "switch" and not toggle.is_selected()
    assert phone.find_element(By.CSS_SELECTOR, "label[for=push-switch]").text == "Notify me on this device"
    wait(phone, lambda _: toggle.is_enabled())
    assert accessibility_problems(phone) == []

    # Permission is asked only now, when the user turns it on (granted here as the user would).
    phone.execute_cdp_cmd("Browser.grantPermissions", {"origin": live.url, "permissions": ["notifications"]})
    phone.execute_script("arguments[0].scrollIntoView({block: 'center'})", toggle)
    toggle.click()
    said = wait(phone, lambda driver: shown(driver, "section[aria-label=Notifications] .fd-message-strip"))
    assert said == "Could not turn notifications on: the browser's push service does not answer"
    assert not toggle.is_selected() and toggle.is_enabled()
    token = mint_token(live.workers.context.settings, "SUP_ASSY1010", ["Supervisor"], {})
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{live.url}/api/v1/push/subscriptions", headers=headers, timeout=10).json()["items"] == []
    assert accessibility_problems(phone) == []

    # A push message as workers/push.py sends it: the service worker shows it, tagged with the event's id.
    message = {
        "id": "1700000000000-0",
        "type": "production-order.released",
        "data": {"order": "1000123", "plant": "1010"},
        "title": "Order 1000123 released",
        "body": "Plant 1010",
        "url": "/app/#/orders/1000123",
    }
    # DevTools' "Push" button: registration ids count from 0 in a new browser profile, and this is its only one.
    # DevTools now and then drops a message for a worker it is starting: given again until one shows (the same
    # tag, so a second delivery replaces the first: still one notification).
    phone.execute_cdp_cmd("ServiceWorker.enable", {})
    push = {"origin": live.url, "registrationId": "0", "data": json.dumps(message)}
    phone.set_script_timeout(10)
    look = (
        "const [wait, done] = arguments; const until = Date.now() + wait;"
        "const look = () => navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((all) => all.length"
        " || Date.now() > until ? done(all.map((n) => [n.title, n.body, n.tag, n.icon, n.data.url]))"
        " : setTimeout(look, 100), (error) => done(String(error)));"
        "look();"
    )
    for _ in range(5):
        phone.execute_cdp_cmd("ServiceWorker.deliverPushMessage", push)
        if notifications := phone.execute_async_script(look, 3000):
            break
    icon = f"{live.url}/app/icons/icon-192.png"
    assert notifications == [["Order 1000123 released", "Plant 1010", "1700000000000-0", icon, message["url"]]]
