"""Plant manager, "what is late?": exception lists, missing parts, statuses in words, release and reschedule
results, all through the API against the live mock SAP (expected values worked out here from SAP's raw rows)."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from odata_clients.gateways import production_orders
from odata_clients.gateways.production_orders import messages_result, operation_dates
from runtime.settings import Settings
from store import Status
from tests.conftest import MockSap
from tests.integration.roles.conftest import Token, bearer, sap_rows
from workers.bootstrap import WorkerContext, bootstrap, set_context
from workers.jobs import run

ORDER_FIELDS = (
    "ManufacturingOrder,ProductionPlant,OrderIsCreated,OrderIsPartiallyReleased,OrderIsReleased,"
    "OrderIsPartiallyConfirmed,OrderIsConfirmed,OrderIsDelivered,OrderIsTechnicallyCompleted,OrderIsClosed,"
    "OrderIsMarkedForDeletion,MfgOrderPlannedStartDate,MfgOrderPlannedEndDate"
)
COMPONENT_FIELDS = "ManufacturingOrder,RequiredQuantity,WithdrawnQuantity,ConfirmedAvailableQuantity"
DATE_EXCEPTIONS = ("late_to_start", "late_to_finish", "due_for_release", "in_progress")
PRECEDENCE = (
    ("OrderIsMarkedForDeletion", "DLFL"),
    ("OrderIsClosed", "CLSD"),
    ("OrderIsTechnicallyCompleted", "TECO"),
    ("OrderIsDelivered", "DLV"),
    ("OrderIsConfirmed", "CNF"),
    ("OrderIsPartiallyConfirmed", "PCNF"),
    ("OrderIsReleased", "REL"),
    ("OrderIsPartiallyReleased", "PREL"),
    ("OrderIsCreated", "CRTD"),
)


# -- SAP's raw rows and what the badges must make of them -----------------------------------------------


def day(value: str) -> dt.date:
    return dt.datetime.fromtimestamp(int(value[len("/Date(") : -len(")/")]) / 1000, dt.UTC).date()


def orders_of(sap: MockSap, plant: str) -> list[dict[str, Any]]:
    return sap_rows(sap, "A_ProductionOrder_2", **{"$filter": f"ProductionPlant eq '{plant}'", "$select": ORDER_FIELDS})


def alive(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        o
        for o in orders
        if not (o["OrderIsTechnicallyCompleted"] or o["OrderIsClosed"] or o["OrderIsMarkedForDeletion"])
    ]


def expected_ids(orders: list[dict[str, Any]], today: dt.date, window: int = 7) -> dict[str, set[str]]:
    open_ = alive(orders)

    def ids(rule: Callable[[dict[str, Any]], bool]) -> set[str]:
        return {o["ManufacturingOrder"] for o in open_ if rule(o)}

    last_day = today + dt.timedelta(days=window - 1)
    return {
        "late_to_start": ids(lambda o: not o["OrderIsReleased"] and day(o["MfgOrderPlannedStartDate"]) < today),
        "late_to_finish": ids(lambda o: not o["OrderIsDelivered"] and day(o["MfgOrderPlannedEndDate"]) < today),
        "due_for_release": ids(
            lambda o: not o["OrderIsReleased"] and today <= day(o["MfgOrderPlannedStartDate"]) <= last_day
        ),
        "in_progress": ids(
            lambda o: o["OrderIsReleased"] == "X" and not o["OrderIsConfirmed"] and not o["OrderIsDelivered"]
        ),
    }


def missing_part_orders(sap: MockSap, plant: str) -> set[str]:
    """Orders with a component still needed that SAP's availability check did not confirm in full."""
    components = sap_rows(
        sap,
        "A_ProductionOrderComponent_4",
        **{
            "$filter": f"ProductionPlant eq '{plant}' and ReservationIsFinallyIssued eq false"
            " and MatlCompIsMarkedForDeletion eq false",
            "$select": COMPONENT_FIELDS,
        },
    )
    short = set()
    for c in components:
        still_needed = Decimal(c["RequiredQuantity"]) - Decimal(c["WithdrawnQuantity"])
        if still_needed > 0 and Decimal(c["ConfirmedAvailableQuantity"]) < still_needed:
            short.add(c["ManufacturingOrder"])
    return short & {o["ManufacturingOrder"] for o in alive(orders_of(sap, plant))}


def body(response: TestResponse) -> Any:
    """The JSON of an answer of the API (every answer of it is JSON)."""
    assert response.is_json, response.data[:200]
    return response.json


def read(api: FlaskClient, url: str, headers: dict[str, str] | None = None) -> Any:
    response = api.get(url, headers=headers)
    assert response.status_code == 200, response.data[:500]
    return body(response)


def every(api: FlaskClient, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """All items of a list, page by page (next_cursor), checking each page."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        response = api.get(f"{url}&{urlencode({'cursor': cursor})}" if cursor else url, headers=headers)
        assert response.status_code == 200, body(response)
        items += body(response)["items"]
        cursor = body(response)["next_cursor"]
        if cursor is None:
            return items
        assert len(items) < 5000, "paging does not end"


def days_around(zone: str, call: Callable[[], Any]) -> tuple[Any, set[dt.date]]:
    """The call's result and the day(s) in `zone` while it ran (two only across midnight)."""
    before = dt.datetime.now(zoneinfo.ZoneInfo(zone)).date()
    result = call()
    return result, {before, dt.datetime.now(zoneinfo.ZoneInfo(zone)).date()}


@pytest.fixture
def pm(token: Token) -> dict[str, str]:
    return bearer(token("PlantManager", user="PM_1010", Plant=["1010"]))


# -- 1. the exceptions view -----------------------------------------------------------------------------


@pytest.mark.parametrize("exception", DATE_EXCEPTIONS)
def test_an_exception_lists_what_its_badge_counts(
    api: FlaskClient, pm: dict[str, str], trusting_sap: MockSap, exception: str
) -> None:
    (listed, counts), days = days_around(
        "UTC",
        lambda: (
            every(api, f"/api/v1/production-orders?exception={exception}&limit=200", pm),
            read(api, "/api/v1/production-orders/counts", pm),
        ),
    )
    ids = {order["order_id"] for order in listed}
    assert len(ids) == len(listed), "pages do not overlap"
    orders = orders_of(trusting_sap, "1010")
    assert ids in [expected_ids(orders, today)[exception] for today in days]
    assert ids, f"the seed gives {exception} something to list"
    assert len(ids) == counts[exception], "the list holds exactly what the badge counts"
    total = read(api, f"/api/v1/production-orders?exception={exception}&limit=1&include_total=true", pm)
    assert total["total"] == counts[exception]


def test_due_for_release_takes_the_window_of_the_counts(
    api: FlaskClient, pm: dict[str, str], trusting_sap: MockSap
) -> None:
    (listed, counts, default), days = days_around(
        "UTC",
        lambda: (
            every(api, "/api/v1/production-orders?exception=due_for_release&due_within_days=21&limit=200", pm),
            read(api, "/api/v1/production-orders/counts?due_within_days=21", pm),
            read(api, "/api/v1/production-orders/counts", pm),
        ),
    )
    today = dt.date.fromisoformat(counts["today"])
    assert counts["due_within_days"] == 21 and default["due_within_days"] == 7
    assert counts["release_window_end"] == (today + dt.timedelta(days=20)).isoformat()
    ids = {order["order_id"] for order in listed}
    orders = orders_of(trusting_sap, "1010")
    assert ids in [expected_ids(orders, d, window=21)["due_for_release"] for d in days]
    assert len(ids) == counts["due_for_release"] > default["due_for_release"], "a wider window holds more"
    assert {
        k: v for k, v in counts.items() if k not in ("due_for_release", "due_within_days", "release_window_end")
    } == {k: v for k, v in default.items() if k not in ("due_for_release", "due_within_days", "release_window_end")}


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_an_exception_judges_dates_by_the_day_in_tz(
    api: FlaskClient, pm: dict[str, str], trusting_sap: MockSap, zone: str
) -> None:
    url = f"/api/v1/production-orders?exception=late_to_start&tz={zone}&limit=200"
    listed, days = days_around(zone, lambda: every(api, url, pm))
    orders = orders_of(trusting_sap, "1010")
    assert {o["order_id"] for o in listed} in [expected_ids(orders, today)["late_to_start"] for today in days]


def test_an_exception_combines_with_the_other_filters(api: FlaskClient, pm: dict[str, str]) -> None:
    late = every(api, "/api/v1/production-orders?exception=late_to_finish&limit=200", pm)
    released = every(api, "/api/v1/production-orders?exception=late_to_finish&status=released&limit=200", pm)
    assert released and {o["order_id"] for o in released} == {o["order_id"] for o in late if o["is_released"]}
    assert len(released) < len(late)


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("exception=overdue", "exception"),
        ("exception=late_to_start&exception=in_progress", "exception"),
        ("exception=due_for_release&due_within_days=0", "due_within_days"),
        ("exception=due_for_release&due_within_days=61", "due_within_days"),
        ("exception=due_for_release&due_within_days=1e1", "due_within_days"),
        ("exception=late_to_start&due_within_days=14", "due_within_days"),
        ("due_within_days=14", "due_within_days"),
        ("exception=late_to_start&tz=Mars/Olympus", "tz"),
    ],
)
def test_bad_exception_arguments_are_a_400_naming_them(
    api: FlaskClient, pm: dict[str, str], query: str, name: str
) -> None:
    response = api.get(f"/api/v1/production-orders?{query}", headers=pm)
    assert response.status_code == 400, body(response)
    assert name in body(response)["errors"]["query"], body(response)


@pytest.mark.parametrize("days", ["0", "61", "seven"])
def test_the_counts_refuse_a_window_out_of_range(api: FlaskClient, pm: dict[str, str], days: str) -> None:
    response = api.get(f"/api/v1/production-orders/counts?due_within_days={days}", headers=pm)
    assert response.status_code == 400, body(response)
    assert "due_within_days" in body(response)["errors"]["query"]


def test_a_cursor_of_one_exception_is_refused_for_another(api: FlaskClient, pm: dict[str, str]) -> None:
    cursor = read(api, "/api/v1/production-orders?exception=late_to_finish&limit=2", pm)["next_cursor"]
    assert cursor
    response = api.get(f"/api/v1/production-orders?exception=in_progress&limit=2&cursor={cursor}", headers=pm)
    assert response.status_code == 400


# -- 2. missing components ------------------------------------------------------------------------------


def test_missing_components_are_counted_and_listed(api: FlaskClient, pm: dict[str, str], trusting_sap: MockSap) -> None:
    counts = read(api, "/api/v1/production-orders/counts", pm)
    listed = every(api, "/api/v1/production-orders?exception=missing_components&limit=200", pm)
    expected = missing_part_orders(trusting_sap, "1010")
    assert expected, "the seed has orders with missing parts"
    assert {o["order_id"] for o in listed} == expected and len(listed) == len(expected)
    assert counts["missing_components"] == len(expected)
    assert {o["status"]["code"] for o in listed} >= {"CRTD", "REL"}, "released orders can miss parts too"


def test_missing_components_of_two_plants(api: FlaskClient, token: Token, trusting_sap: MockSap) -> None:
    headers = bearer(token("PlantManager", Plant=["1010", "1020"]))
    counts = read(api, "/api/v1/production-orders/counts", headers)
    listed = every(api, "/api/v1/production-orders?exception=missing_components&limit=100", headers)
    expected = missing_part_orders(trusting_sap, "1010") | missing_part_orders(trusting_sap, "1020")
    assert {o["order_id"] for o in listed} == expected
    assert counts["missing_components"] == len(expected) > production_orders.MISSING_ORDERS_PER_FILTER * 2


MISSING_CHUNK = 7


@pytest.mark.parametrize("sort", ["-planned_start", "planned_end", "order_id"])
def test_missing_components_page_in_order_across_chunks(
    api: FlaskClient,
    pm: dict[str, str],
    trusting_sap: MockSap,
    monkeypatch: pytest.MonkeyPatch,
    sort: str,
) -> None:
    # Small chunks: the orders go to SAP in several $filters whose pages are merged into one.
    monkeypatch.setattr(production_orders, "MISSING_ORDERS_PER_FILTER", MISSING_CHUNK)
    expected = missing_part_orders(trusting_sap, "1010")
    assert len(expected) > 3 * MISSING_CHUNK
    listed = every(api, f"/api/v1/production-orders?exception=missing_components&sort={sort}&limit=9", pm)
    assert [o["order_id"] for o in listed] == [
        o["order_id"] for o in sorted_like_sap(every(api, "/api/v1/production-orders?limit=200", pm), sort, expected)
    ]
    first = api.get(
        f"/api/v1/production-orders?exception=missing_components&sort={sort}&limit=9&include_total=true", headers=pm
    )
    assert body(first)["total"] == len(expected)
    assert read(api, "/api/v1/production-orders/counts", pm)["missing_components"] == len(expected)


def sorted_like_sap(orders: list[dict[str, Any]], sort: str, wanted: set[str]) -> list[dict[str, Any]]:
    field = sort.lstrip("-")
    chosen = sorted((o for o in orders if o["order_id"] in wanted), key=lambda o: o["order_id"])
    if field != "order_id":
        chosen.sort(key=lambda o: o[field], reverse=sort.startswith("-"))  # stable: ties stay by order number
    return chosen


def short_components(sap: MockSap, order_id: str) -> dict[tuple[str, str], Decimal]:
    """(reservation, item) -> quantity still missing, of the order's components as SAP has them."""
    components = sap_rows(
        sap,
        "A_ProductionOrderComponent_4",
        **{"$filter": f"ManufacturingOrder eq '{order_id}'"},
    )
    short = {}
    for c in components:
        if c["ReservationIsFinallyIssued"] or c["MatlCompIsMarkedForDeletion"]:
            continue
        still_needed = Decimal(c["RequiredQuantity"]) - Decimal(c["WithdrawnQuantity"])
        if still_needed > 0 and Decimal(c["ConfirmedAvailableQuantity"]) < still_needed:
            short[c["Reservation"], c["ReservationItem"]] = still_needed - Decimal(c["ConfirmedAvailableQuantity"])
    return short


def test_the_detail_names_the_missing_parts_of_each_listed_order(
    api: FlaskClient, pm: dict[str, str], trusting_sap: MockSap
) -> None:
    listed = every(api, "/api/v1/production-orders?exception=missing_components&limit=200", pm)
    assert listed, "the seed has orders with missing parts"
    for order in listed:
        missing = read(api, f"/api/v1/production-orders/{order['order_id']}", pm)["missing_components"]
        assert missing, order["order_id"]
        for part in missing:
            required, withdrawn, confirmed, short = (
                Decimal(part[name]["value"])
                for name in (
                    "required_quantity",
                    "withdrawn_quantity",
                    "confirmed_available_quantity",
                    "missing_quantity",
                )
            )
            assert required > confirmed and short == required - withdrawn - confirmed > 0, part
            assert part["material"] and part["plant"] == "1010" and part["requirement_date"], part
            assert part["missing_quantity"]["unit"] == part["required_quantity"]["unit"] != "", part
        assert {
            (p["reservation"], p["reservation_item"]): Decimal(p["missing_quantity"]["value"]) for p in missing
        } == (short_components(trusting_sap, order["order_id"]))


def test_an_order_without_missing_parts_has_none_in_its_detail(
    api: FlaskClient, pm: dict[str, str], trusting_sap: MockSap
) -> None:
    short = {o["order_id"] for o in every(api, "/api/v1/production-orders?exception=missing_components&limit=200", pm)}
    others = [o for o in every(api, "/api/v1/production-orders?limit=200", pm) if o["order_id"] not in short]
    # Orders still to be issued (created, released) and one that consumed all it needed (confirmed or later).
    picked = [next(o for o in others if o["status"]["code"] == code) for code in ("CRTD", "REL", "CNF")]
    for order in picked:
        detail = read(api, f"/api/v1/production-orders/{order['order_id']}", pm)
        assert detail["missing_components"] == [], order
        assert sap_rows(
            trusting_sap, "A_ProductionOrderComponent_4", **{"$filter": f"ManufacturingOrder eq '{order['order_id']}'"}
        ), "the order has components; none of them is short"


def test_the_missing_parts_of_the_detail_are_documented(api: FlaskClient) -> None:
    schemas = read(api, "/openapi.json")["components"]["schemas"]
    assert schemas["ProductionOrderDetail"]["properties"]["missing_components"].get("description")
    assert "missing_components" in schemas["ProductionOrderDetail"]["required"]
    part = schemas["MissingComponent"]["properties"]
    assert set(part) == {
        "material",
        "reservation",
        "reservation_item",
        "reservation_record_type",
        "plant",
        "storage_location",
        "required_quantity",
        "withdrawn_quantity",
        "confirmed_available_quantity",
        "missing_quantity",
        "requirement_date",
    }
    for name, prop in part.items():
        assert prop.get("description") or any(p.get("description") for p in prop.get("allOf", [])), name


# -- 3. statuses in words -------------------------------------------------------------------------------


def test_every_order_says_where_it_stands_in_words(api: FlaskClient, pm: dict[str, str], trusting_sap: MockSap) -> None:
    listed = {o["order_id"]: o for o in every(api, "/api/v1/production-orders?limit=200", pm)}
    orders = orders_of(trusting_sap, "1010")
    assert set(listed) == {o["ManufacturingOrder"] for o in orders}
    for raw in orders:
        code = next(code for flag, code in PRECEDENCE if raw[flag] == "X")
        status = listed[raw["ManufacturingOrder"]]["status"]
        assert status["code"] == code, raw
        assert status["text"] and status["text"] != code and status["text"][0].isupper()
    assert {o["status"]["code"] for o in listed.values()} >= {"CRTD", "REL", "PCNF", "CNF", "TECO"}


def test_the_detail_shows_each_sap_status_in_words(api: FlaskClient, pm: dict[str, str]) -> None:
    order = read(api, "/api/v1/production-orders?exception=in_progress&limit=1", pm)["items"][0]
    detail = read(api, f"/api/v1/production-orders/{order['order_id']}", pm)
    assert detail["status"] == order["status"] and detail["status"]["code"] in ("REL", "PCNF")
    assert detail["statuses"]
    for status in detail["statuses"]:
        assert status["text"] and status["text"] != status["short_name"], status
        assert {"code", "short_name", "name", "is_user_status"} <= set(status)
    assert {"code": "REL", "text": "Released"} in [
        {"code": s["short_name"], "text": s["text"]} for s in detail["statuses"]
    ]


def test_new_fields_and_parameters_are_documented(api: FlaskClient) -> None:
    spec = read(api, "/openapi.json")
    listing = spec["paths"]["/api/v1/production-orders"]["get"]
    parameters = {p["name"]: p for p in listing["parameters"] if "name" in p}
    for name in ("exception", "due_within_days", "tz"):
        assert parameters[name]["description"] and "example" in parameters[name]["schema"] | parameters[name], name
    assert parameters["exception"]["schema"]["enum"] == [
        "late_to_start",
        "late_to_finish",
        "due_for_release",
        "missing_components",
        "in_progress",
    ]
    counts = {
        p["name"]: p for p in spec["paths"]["/api/v1/production-orders/counts"]["get"]["parameters"] if "name" in p
    }
    assert counts["due_within_days"]["schema"]["default"] == 7
    schemas = spec["components"]["schemas"]
    for schema, fields in (
        ("OrderCounts", ("missing_components", "due_within_days")),
        ("MainStatus", ("code", "text")),
        ("OrderStatus", ("text",)),
    ):
        for name in fields:
            prop = schemas[schema]["properties"][name]
            assert prop.get("description") and "example" in prop, f"{schema}.{name}"
    assert schemas["ProductionOrder"]["properties"]["status"].get("description")


# -- 4. and 5. release and reschedule as SAP answered them ----------------------------------------------


@pytest.fixture
def worker(role_settings: Settings) -> Iterator[WorkerContext]:
    """A worker on the API's own store and Redis: writebacks the API accepted are run here, in-process."""
    context = bootstrap(role_settings)
    set_context(context)
    yield context
    set_context(None)
    context.close()


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def sap_messages(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(severity, text) of a writeback result's `message_details`; `messages` keeps the texts alone."""
    assert result["messages"] == [m["text"] for m in result["message_details"]]
    return [(m["severity"], m["text"]) for m in result["message_details"]]


def test_release_with_missing_parts_shows_sap_warning(
    api: FlaskClient, api_app: Flask, pm: dict[str, str], trusting_sap: MockSap, worker: WorkerContext
) -> None:
    unreleased = every(api, "/api/v1/production-orders?exception=missing_components&status=created&limit=200", pm)
    assert unreleased, "the seed has an unreleased order with a missing part"
    order_id = unreleased[0]["order_id"]

    accepted = api.post(f"/api/v1/production-orders/{order_id}/release", headers={**pm, **key()})
    assert accepted.status_code == 202, body(accepted)
    done = run(worker, body(accepted)["id"])

    assert done is not None and done.status == Status.SUCCEEDED, done
    writeback = read(api, accepted.headers["Location"], pm)
    assert writeback["status"] == "succeeded" and writeback["result"]["released"] is True
    messages = sap_messages(writeback["result"])
    assert len(messages) == 2, messages
    (warning_severity, warning), (success_severity, success) = messages
    assert warning.startswith("Availability check:") and order_id in warning and "missing part" in warning
    assert success == f"Order {order_id} released"
    assert (warning_severity, success_severity) == ("warning", "success")
    after = read(api, f"/api/v1/production-orders/{order_id}", pm)
    assert after["is_released"] and after["status"] == {"code": "REL", "text": "Released"}


def test_the_gateway_gives_release_messages_with_their_severity(
    api: FlaskClient, pm: dict[str, str], worker: WorkerContext
) -> None:
    short = every(api, "/api/v1/production-orders?exception=missing_components&status=created&limit=200", pm)
    created = every(api, "/api/v1/production-orders?status=created&limit=200", pm)
    fine = next(o for o in created if o["order_id"] not in {s["order_id"] for s in short})
    warned = messages_result(worker.sap.production_orders.release(short[0]["order_id"]))
    assert [(m["severity"], m["code"]) for m in warned] == [("warning", "CO/263"), ("success", "CO/093")]
    plain = messages_result(worker.sap.production_orders.release(fine["order_id"]))
    assert [(m["severity"], m["code"]) for m in plain] == [("success", "CO/093")]


def test_reschedule_moves_the_operations_with_the_order(
    api: FlaskClient, pm: dict[str, str], worker: WorkerContext
) -> None:
    order = read(api, "/api/v1/production-orders?status=released&limit=1", pm)["items"][0]
    before = read(api, f"/api/v1/production-orders/{order['order_id']}", pm)
    new_start = dt.date.fromisoformat(before["planned_start"]) + dt.timedelta(days=12)
    new_end = dt.date.fromisoformat(before["planned_end"]) + dt.timedelta(days=12)
    accepted = api.patch(
        f"/api/v1/production-orders/{order['order_id']}",
        json={"planned_start": new_start.isoformat(), "planned_end": new_end.isoformat()},
        headers={**pm, **key(), "If-Match": before["sap_etag"]},
    )
    assert accepted.status_code == 202, body(accepted)
    done = run(worker, body(accepted)["id"])
    assert done is not None and done.status == Status.SUCCEEDED, done

    after = read(api, f"/api/v1/production-orders/{order['order_id']}", pm)
    assert after["planned_start"] == new_start.isoformat()
    assert len(after["operations"]) == len(before["operations"]) >= 2
    for old, new in zip(before["operations"], after["operations"], strict=True):
        assert new["operation"] == old["operation"]
        for name in ("earliest_start", "earliest_end"):
            moved = dt.date.fromisoformat(new[name]) - dt.date.fromisoformat(old[name])
            assert moved == dt.timedelta(days=12), (name, old, new)
    # What the reschedule's result would carry (see operation_dates), read back from SAP as the worker would.
    read_back = operation_dates(worker.sap.production_orders.get(order["order_id"], with_status=False))
    assert read_back == [
        {"operation": op["operation"], "scheduled_start": op["earliest_start"], "scheduled_end": op["earliest_end"]}
        for op in after["operations"]
    ]
