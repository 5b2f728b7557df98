"""Server-driven paging and the scale knob, on an extra mock started with `--orders 300 --page-size 25`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pyodata
import pytest
import requests

from .conftest import PRODORD, SERVICE_PATHS, TASKS, TECH_USER, Sap, new_session

if TYPE_CHECKING:
    from tests.conftest import MockSap

ORDERS = "A_ProductionOrder_2"
SCALE_ORDERS = 300
PAGE_SIZE = 25


@pytest.fixture(scope="module")
def scaled(mock_sap_factory: Callable[..., MockSap]) -> MockSap:
    return mock_sap_factory("--orders", str(SCALE_ORDERS), "--page-size", str(PAGE_SIZE))


@pytest.fixture
def big(scaled: MockSap) -> Iterator[Sap]:
    scaled.reset()
    helper = Sap(root=scaled.url, user=TECH_USER, session=new_session(TECH_USER))
    yield helper
    helper.session.close()


def test_scale_knob_sets_the_number_of_orders(big: Sap, tech: Sap):
    count = int(big.get(PRODORD, f"{ORDERS}/$count").text)
    assert count == SCALE_ORDERS
    assert int(tech.get(PRODORD, f"{ORDERS}/$count").text) != SCALE_ORDERS, "the default seed differs"


def test_pages_are_limited_and_next_links_carry_a_skiptoken(big: Sap):
    first = big.read(PRODORD, ORDERS, {"$inlinecount": "allpages"})
    assert len(first["results"]) == PAGE_SIZE
    assert first["__count"] == str(SCALE_ORDERS)
    next_url = first["__next"]
    parts = urlsplit(next_url)
    assert parts.scheme in ("http", "https") and parts.netloc == urlsplit(big.root).netloc, "absolute, same origin"
    assert parts.path == urlsplit(big.url(PRODORD, ORDERS)).path
    assert "$skiptoken" in parse_qs(parts.query)


def test_following_next_collects_exactly_count_without_duplicates(big: Sap):
    entities, count, pages = big.collect(PRODORD, ORDERS)
    assert count == SCALE_ORDERS
    assert len(entities) == count
    assert len({e["ManufacturingOrder"] for e in entities}) == count
    assert pages == -(-SCALE_ORDERS // PAGE_SIZE)


def test_paging_keeps_filter_and_order(big: Sap):
    everything, _, _ = big.collect(PRODORD, ORDERS, {"$orderby": "ManufacturingOrder desc"})
    keys = [e["ManufacturingOrder"] for e in everything]
    assert keys == sorted(keys, reverse=True)
    plant = everything[0]["ProductionPlant"]
    filtered, count, _ = big.collect(
        PRODORD, ORDERS, {"$filter": f"ProductionPlant eq '{plant}'", "$orderby": "ManufacturingOrder desc"}
    )
    assert count == sum(1 for e in everything if e["ProductionPlant"] == plant) == len(filtered)
    assert [e["ManufacturingOrder"] for e in filtered] == [
        k for k, e in zip(keys, everything, strict=True) if e["ProductionPlant"] == plant
    ]


def test_top_larger_than_a_page_is_paged_and_honoured(big: Sap):
    everything, _, _ = big.collect(PRODORD, ORDERS, {"$orderby": "ManufacturingOrder"})
    entities, _, pages = big.collect(PRODORD, ORDERS, {"$orderby": "ManufacturingOrder", "$top": "60", "$skip": "10"})
    assert [e["ManufacturingOrder"] for e in entities] == [e["ManufacturingOrder"] for e in everything[10:70]]
    assert pages == 3


def test_small_top_has_no_next_link(big: Sap):
    payload = big.read(PRODORD, ORDERS, {"$top": "10"})
    assert len(payload["results"]) == 10
    assert "__next" not in payload


def test_expanded_collections_are_not_cut_by_paging(big: Sap):
    orders = big.results(PRODORD, ORDERS, {"$expand": "to_ProductionOrderOperation", "$top": "3"})
    for order in orders:
        via_navigation = big.results(PRODORD, f"{ORDERS}('{order['ManufacturingOrder']}')/to_ProductionOrderOperation")
        assert len(order["to_ProductionOrderOperation"]["results"]) == len(via_navigation)


def test_pyodata_follows_next_links(big: Sap):
    session = new_session(TECH_USER)
    client = pyodata.Client(f"{big.root}{SERVICE_PATHS[PRODORD]}", session)
    seen: list[str] = []
    page = client.entity_sets.A_ProductionOrder_2.get_entities().count(inline=True).execute()
    assert page.total_count == SCALE_ORDERS
    while True:
        assert len(page) <= PAGE_SIZE
        seen.extend(e.ManufacturingOrder for e in page)
        if page.next_url is None:
            break
        page = client.entity_sets.A_ProductionOrder_2.get_entities().next_url(page.next_url).execute()
    assert len(seen) == len(set(seen)) == SCALE_ORDERS


def test_scaled_server_still_serves_tasks(big: Sap):
    anna = requests.get(
        f"{big.root}{SERVICE_PATHS[TASKS]}TaskCollection",
        auth=("EXEC_ANNA", "user-pass-1"),
        headers={"Accept": "application/json"},
        timeout=30,
    )
    assert anna.status_code == 200
    assert anna.json()["d"]["results"]


def test_next_links_keep_sap_client_and_query_options(big: Sap):
    params = {"$filter": "OrderIsReleased eq 'X' or OrderIsReleased eq ''", "$select": "ManufacturingOrder"}
    first = big.read(PRODORD, ORDERS, {**params, "sap-client": "100"})
    query = parse_qs(urlsplit(first["__next"]).query)
    assert query.get("sap-client") == ["100"]
    second = big.session.get(first["__next"], headers={"Accept": "application/json"}, timeout=30).json()["d"]
    assert all(set(e) == {"__metadata", "ManufacturingOrder"} for e in second["results"])
