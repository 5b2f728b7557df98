"""CSRF exactly as SAP Gateway: fetch on GET/HEAD, token bound to the session cookie, 403 `Required` otherwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .conftest import PRODCONF, PRODORD, TASKS, Sap

ORDERS = "A_ProductionOrder_2"


def unreleased_order(sap: Sap) -> str:
    orders = sap.results(PRODORD, ORDERS, {"$filter": "OrderIsReleased eq ''", "$top": "1"})
    assert orders, "the seed should hold an order that is not released yet"
    return orders[0]["ManufacturingOrder"]


def release(sap: Sap, order: str, **kw: Any):
    return sap.write("POST", PRODORD, "ReleaseOrder", {"ManufacturingOrder": f"'{order}'"}, **kw)


def assert_csrf_refused(response) -> None:
    assert response.status_code == 403, f"{response.status_code} {response.text}"
    assert response.headers.get("x-csrf-token", "").lower() == "required"
    assert response.headers.get("Content-Type", "").startswith("text/plain")
    assert "csrf" in response.text.lower()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_fetch_returns_token_and_xsrf_cookie(tech: Sap, method: str):
    response = tech.session.request(method, tech.url(PRODORD), headers={"X-CSRF-Token": "Fetch"}, timeout=30)
    assert response.status_code == 200
    token = response.headers.get("x-csrf-token")
    assert token and token.lower() not in ("fetch", "required")
    cookie_names = [cookie.name for cookie in tech.session.cookies]
    assert any(name.startswith("sap-XSRF_") for name in cookie_names), cookie_names


def test_fetch_works_on_entity_paths_with_and_without_trailing_slash(tech: Sap):
    for url in (tech.url(PRODORD, ORDERS), tech.url(PRODORD).rstrip("/")):
        response = tech.session.head(url, headers={"X-CSRF-Token": "Fetch"}, timeout=30)
        assert response.status_code == 200, url
        assert response.headers.get("x-csrf-token"), url


def test_no_token_without_fetch_header(tech: Sap):
    response = tech.session.get(tech.url(PRODORD), timeout=30)
    assert response.status_code == 200
    assert response.headers.get("x-csrf-token", "").lower() in ("", "required")


def test_write_without_token_is_refused(tech: Sap):
    order = unreleased_order(tech)
    assert_csrf_refused(release(tech, order, csrf=False))
    assert tech.read(PRODORD, f"{ORDERS}('{order}')")["OrderIsReleased"] == ""


def test_write_with_valid_token_and_cookie_succeeds(tech: Sap):
    order = unreleased_order(tech)
    tech.fetch_csrf(PRODORD)
    response = release(tech, order)
    assert response.status_code == 200, response.text
    assert tech.read(PRODORD, f"{ORDERS}('{order}')")["OrderIsReleased"] == "X"


def test_token_without_its_session_cookie_is_refused(sap: Callable[..., Sap]):
    owner = sap()
    token = owner.fetch_csrf(PRODORD)
    stranger = sap()  # same user, but a fresh session without the cookies
    order = unreleased_order(stranger)
    response = release(stranger, order, headers={"X-CSRF-Token": token}, csrf=False)
    assert_csrf_refused(response)
    assert token not in response.headers.get("x-csrf-token", "")


def test_token_of_another_session_is_refused(sap: Callable[..., Sap]):
    first, second = sap(), sap()
    token_first = first.fetch_csrf(PRODORD)
    second.fetch_csrf(PRODORD)  # second has its own cookies; the first session's token must not fit them
    order = unreleased_order(second)
    assert_csrf_refused(release(second, order, headers={"X-CSRF-Token": token_first}, csrf=False))


def test_wrong_token_is_refused(tech: Sap):
    tech.fetch_csrf(PRODORD)
    order = unreleased_order(tech)
    assert_csrf_refused(release(tech, order, headers={"X-CSRF-Token": "not-the-token"}))


@pytest.mark.parametrize("method", ["PATCH", "PUT", "MERGE", "DELETE"])
def test_every_modifying_method_needs_the_token(tech: Sap, method: str):
    order = unreleased_order(tech)
    response = tech.write(method, PRODORD, f"{ORDERS}('{order}')", body={}, csrf=False, headers={"If-Match": "*"})
    assert_csrf_refused(response)


def test_create_needs_the_token(tech: Sap):
    response = tech.write("POST", PRODCONF, "ProdnOrdConf2", body={"OrderID": "1"}, csrf=False)
    assert_csrf_refused(response)


def test_function_import_post_needs_the_token(sap: Callable[..., Sap]):
    anna = sap("EXEC_ANNA")
    tasks = anna.results(TASKS, "TaskCollection", {"$top": "1"})
    assert tasks
    task = tasks[0]
    params = {"SAP__Origin": f"'{task['SAP__Origin']}'", "InstanceID": f"'{task['InstanceID']}'"}
    assert_csrf_refused(anna.write("POST", TASKS, "Claim", params, csrf=False))


def test_batch_needs_the_token(tech: Sap):
    body = (
        "--batch_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        f"GET {ORDERS}?$top=1 HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n--batch_1--\r\n"
    )
    response = tech.session.post(
        tech.url(PRODORD, "$batch"),
        data=body,
        headers={"Content-Type": "multipart/mixed;boundary=batch_1"},
        timeout=30,
    )
    assert_csrf_refused(response)


def test_reads_do_not_need_a_token(tech: Sap):
    assert tech.get(PRODORD, ORDERS, {"$top": "1"}).status_code == 200


def test_token_stays_valid_for_several_writes(tech: Sap):
    orders = tech.results(PRODORD, ORDERS, {"$filter": "OrderIsReleased eq ''", "$top": "2"})
    assert len(orders) == 2
    tech.fetch_csrf(PRODORD)
    for order in orders:
        assert release(tech, order["ManufacturingOrder"]).status_code == 200
