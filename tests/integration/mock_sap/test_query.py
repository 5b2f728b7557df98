"""Query options against production orders: $filter, $select, $expand, $orderby, $top, $skip, counts, paging.

Expected results are computed client-side from the full collection, so the tests hold for any seed data.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pyodata
import pytest

from .conftest import PRODORD, SERVICE_PATHS, TASKS, TECH_USER, Sap, assert_sap_error, decimal, parse_date
from .odata_reader import parse_metadata

ORDERS = "A_ProductionOrder_2"


def all_orders(sap: Sap, **params: str) -> list[dict[str, Any]]:
    entities, count, _ = sap.collect(PRODORD, ORDERS, {"$orderby": "ManufacturingOrder", **params})
    assert len(entities) == count
    return entities


def keys(entities: list[dict[str, Any]]) -> set[str]:
    return {e["ManufacturingOrder"] for e in entities}


def server_filter(sap: Sap, expression: str) -> set[str]:
    entities, count, _ = sap.collect(PRODORD, ORDERS, {"$filter": expression})
    assert len(entities) == count, f"{expression}: __count {count} but {len(entities)} collected"
    found = keys(entities)
    assert len(found) == len(entities), f"{expression}: duplicates across pages"
    return found


@pytest.fixture
def orders(tech: Sap) -> list[dict[str, Any]]:
    entities = all_orders(tech)
    assert len(entities) >= 10, "the seed should hold enough production orders to query"
    return entities


def test_collection_is_verbose_json_with_metadata_and_deferred_navigations(tech: Sap):
    payload = tech.read(PRODORD, ORDERS, {"$top": "3"})
    assert set(payload) >= {"results"}
    assert "__count" not in payload, "__count only with $inlinecount=allpages"
    entity = payload["results"][0]
    meta = entity["__metadata"]
    key = entity["ManufacturingOrder"]
    assert meta["type"] == "API_PRODUCTION_ORDER_2_SRV.A_ProductionOrder_2Type"
    assert meta["uri"] == tech.url(PRODORD, f"{ORDERS}('{key}')")
    assert meta["id"] == meta["uri"]
    assert entity["to_ProductionOrderOperation"]["__deferred"]["uri"] == meta["uri"] + "/to_ProductionOrderOperation"


def test_single_entity_by_key(tech: Sap, orders: list[dict[str, Any]]):
    key = orders[len(orders) // 2]["ManufacturingOrder"]
    entity = tech.read(PRODORD, f"{ORDERS}('{key}')")
    assert entity["ManufacturingOrder"] == key
    assert "results" not in entity


def test_unknown_key_is_404_with_sap_error(tech: Sap):
    assert_sap_error(tech.get(PRODORD, f"{ORDERS}('NOSUCHORDER')"), 404)


def test_unknown_entity_set_is_404_with_sap_error(tech: Sap):
    assert_sap_error(tech.get(PRODORD, "A_NoSuchEntitySet"), 404)


def test_inlinecount_and_dollar_count_agree(tech: Sap, orders: list[dict[str, Any]]):
    page = tech.read(PRODORD, ORDERS, {"$inlinecount": "allpages", "$top": "1"})
    assert page["__count"] == str(len(orders))
    assert len(page["results"]) == 1
    response = tech.get(PRODORD, f"{ORDERS}/$count")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text.strip() == str(len(orders))
    assert "__count" not in tech.read(PRODORD, ORDERS, {"$inlinecount": "none", "$top": "1"})


def test_count_honours_filter(tech: Sap, orders: list[dict[str, Any]]):
    plant = orders[0]["ProductionPlant"]
    expected = sum(1 for o in orders if o["ProductionPlant"] == plant)
    response = tech.get(PRODORD, f"{ORDERS}/$count", {"$filter": f"ProductionPlant eq '{plant}'"})
    assert response.status_code == 200
    assert int(response.text) == expected


def test_top_and_skip_slice_a_stable_order(tech: Sap, orders: list[dict[str, Any]]):
    window = tech.results(PRODORD, ORDERS, {"$orderby": "ManufacturingOrder", "$skip": "3", "$top": "4"})
    assert [o["ManufacturingOrder"] for o in window] == [o["ManufacturingOrder"] for o in orders[3:7]]
    beyond = tech.results(PRODORD, ORDERS, {"$skip": str(len(orders))})
    assert beyond == []


def test_orderby_descending_and_multiple_keys(tech: Sap, orders: list[dict[str, Any]]):
    by_quantity = tech.results(PRODORD, ORDERS, {"$orderby": "TotalQuantity desc", "$top": "20"})
    quantities = [decimal(o["TotalQuantity"]) for o in by_quantity]
    assert quantities == sorted(quantities, reverse=True)
    assert quantities[0] == max(decimal(o["TotalQuantity"]) for o in orders)
    entities, _, _ = tech.collect(PRODORD, ORDERS, {"$orderby": "ProductionPlant asc,ManufacturingOrder desc"})
    pairs = [(o["ProductionPlant"], o["ManufacturingOrder"]) for o in entities]
    expected = sorted(sorted(pairs, key=lambda p: p[1], reverse=True), key=lambda p: p[0])
    assert pairs == expected


def test_select_returns_only_the_selected_properties(tech: Sap):
    entities = tech.results(PRODORD, ORDERS, {"$select": "ManufacturingOrder,ProductionPlant", "$top": "5"})
    assert entities
    for entity in entities:
        assert set(entity) == {"__metadata", "ManufacturingOrder", "ProductionPlant"}


def test_expand_embeds_operations_and_status_of_each_order(tech: Sap):
    entities = tech.results(
        PRODORD, ORDERS, {"$expand": "to_ProductionOrderOperation,to_ProductionOrderStatus", "$top": "5"}
    )
    assert entities
    for order in entities:
        key = order["ManufacturingOrder"]
        operations = order["to_ProductionOrderOperation"]["results"]
        assert operations, f"order {key} has no operations"
        assert {op["ManufacturingOrder"] for op in operations} == {key}
        via_navigation = tech.results(PRODORD, f"{ORDERS}('{key}')/to_ProductionOrderOperation")
        assert sorted(op["OrderIntBillOfOperationsItem"] for op in operations) == sorted(
            op["OrderIntBillOfOperationsItem"] for op in via_navigation
        )
        statuses = order["to_ProductionOrderStatus"]["results"]
        assert statuses and {s["ManufacturingOrder"] for s in statuses} == {key}


def test_expand_with_select_on_single_entity(tech: Sap, orders: list[dict[str, Any]]):
    key = orders[0]["ManufacturingOrder"]
    entity = tech.read(PRODORD, f"{ORDERS}('{key}')", {"$expand": "to_ProductionOrderOperation"})
    assert isinstance(entity["to_ProductionOrderOperation"]["results"], list)


# --- $filter -------------------------------------------------------------------------------------


def test_filter_eq_and_ne(tech: Sap, orders: list[dict[str, Any]]):
    plant = orders[0]["ProductionPlant"]
    assert server_filter(tech, f"ProductionPlant eq '{plant}'") == keys(
        [o for o in orders if o["ProductionPlant"] == plant]
    )
    assert server_filter(tech, f"ProductionPlant ne '{plant}'") == keys(
        [o for o in orders if o["ProductionPlant"] != plant]
    )


def test_filter_decimal_literal_comparisons(tech: Sap, orders: list[dict[str, Any]]):
    quantities = sorted(decimal(o["TotalQuantity"]) for o in orders)
    pivot = quantities[len(quantities) // 2]
    literal = f"{pivot}M"
    for op, check in {
        "gt": lambda q: q > pivot,
        "ge": lambda q: q >= pivot,
        "lt": lambda q: q < pivot,
        "le": lambda q: q <= pivot,
        "eq": lambda q: q == pivot,
    }.items():
        expected = keys([o for o in orders if check(decimal(o["TotalQuantity"]))])
        assert server_filter(tech, f"TotalQuantity {op} {literal}") == expected, op
    half = pivot + Decimal("0.5")
    assert server_filter(tech, f"TotalQuantity lt {half}M") == keys(
        [o for o in orders if decimal(o["TotalQuantity"]) < half]
    )


def test_filter_and_or_not_with_parentheses(tech: Sap, orders: list[dict[str, Any]]):
    plants = sorted({o["ProductionPlant"] for o in orders})
    assert len(plants) >= 2, "several plants expected in the seed"
    a, b = plants[0], plants[1]
    expression = f"(ProductionPlant eq '{a}' or ProductionPlant eq '{b}') and not (OrderIsReleased eq 'X')"
    expected = keys([o for o in orders if o["ProductionPlant"] in (a, b) and o["OrderIsReleased"] != "X"])
    assert server_filter(tech, expression) == expected
    # precedence: and binds tighter than or
    expression = f"ProductionPlant eq '{a}' or ProductionPlant eq '{b}' and OrderIsReleased eq 'X'"
    expected = keys(
        [o for o in orders if o["ProductionPlant"] == a or (o["ProductionPlant"] == b and o["OrderIsReleased"] == "X")]
    )
    assert server_filter(tech, expression) == expected


def test_filter_string_functions(tech: Sap, orders: list[dict[str, Any]]):
    material = max((o["Material"] for o in orders), key=len)
    assert len(material) >= 4
    middle, prefix, suffix = material[1:-1], material[:3], material[-3:]
    assert server_filter(tech, f"substringof('{middle}',Material)") == keys(
        [o for o in orders if middle in o["Material"]]
    )
    assert server_filter(tech, f"substringof('{middle}',Material) eq true") == keys(
        [o for o in orders if middle in o["Material"]]
    )
    assert server_filter(tech, f"startswith(Material,'{prefix}')") == keys(
        [o for o in orders if o["Material"].startswith(prefix)]
    )
    assert server_filter(tech, f"endswith(Material,'{suffix}') eq true") == keys(
        [o for o in orders if o["Material"].endswith(suffix)]
    )


def test_filter_string_literal_with_escaped_quote_matches_nothing(tech: Sap):
    assert server_filter(tech, "Material eq 'O''BRIEN'") == set()


def test_filter_datetime_literal(tech: Sap, orders: list[dict[str, Any]]):
    dates = sorted(parse_date(o["MfgOrderPlannedStartDate"]) for o in orders if o["MfgOrderPlannedStartDate"])
    assert dates, "planned start dates expected"
    pivot = dates[len(dates) // 2]
    literal = f"datetime'{pivot.strftime('%Y-%m-%dT%H:%M:%S')}'"
    expected = keys(
        [o for o in orders if o["MfgOrderPlannedStartDate"] and parse_date(o["MfgOrderPlannedStartDate"]) >= pivot]
    )
    assert server_filter(tech, f"MfgOrderPlannedStartDate ge {literal}") == expected
    later = pivot + timedelta(days=1)
    literal = f"datetime'{later.strftime('%Y-%m-%dT%H:%M')}'"  # seconds are optional in the literal
    expected = keys(
        [o for o in orders if o["MfgOrderPlannedStartDate"] and parse_date(o["MfgOrderPlannedStartDate"]) < later]
    )
    assert server_filter(tech, f"MfgOrderPlannedStartDate lt {literal}") == expected


def test_filter_on_navigation_target_set_with_composite_keys(tech: Sap, orders: list[dict[str, Any]]):
    key = orders[0]["ManufacturingOrder"]
    operations = tech.results(PRODORD, "A_ProductionOrderOperation_2", {"$filter": f"ManufacturingOrder eq '{key}'"})
    assert operations
    op = operations[0]
    path = "A_ProductionOrderOperation_2(OrderInternalBillOfOperations='{}',OrderIntBillOfOperationsItem='{}')".format(
        op["OrderInternalBillOfOperations"], op["OrderIntBillOfOperationsItem"]
    )
    single = tech.read(PRODORD, path)
    assert single["ManufacturingOrder"] == key
    assert single["ManufacturingOrderOperation"] == op["ManufacturingOrderOperation"]


@pytest.mark.parametrize(
    "expression",
    [
        "ProductionPlant eq",
        "ProductionPlant eq 'unterminated",
        "(ProductionPlant eq '1010'",
        "ProductionPlant equals '1010'",
        "nosuchfunction(Material,'A')",
        "TotalQuantity gt 10.5.5M",
        "MfgOrderPlannedStartDate ge datetime'not-a-date'",
    ],
)
def test_malformed_filter_is_400_with_sap_error(tech: Sap, expression: str):
    assert_sap_error(tech.get(PRODORD, ORDERS, {"$filter": expression}), 400)


def test_filter_on_unknown_property_is_400(tech: Sap):
    assert_sap_error(tech.get(PRODORD, ORDERS, {"$filter": "NoSuchProperty eq 'X'"}), 400)


def test_unknown_query_values_are_rejected(tech: Sap):
    assert_sap_error(tech.get(PRODORD, ORDERS, {"$select": "NoSuchProperty"}), 400)
    assert_sap_error(tech.get(PRODORD, ORDERS, {"$expand": "to_NoSuchNavigation"}), 400)
    assert_sap_error(tech.get(PRODORD, ORDERS, {"$orderby": "NoSuchProperty"}), 400)
    assert_sap_error(tech.get(PRODORD, ORDERS, {"$top": "-1"}), 400)
    assert_sap_error(tech.get(PRODORD, ORDERS, {"$inlinecount": "sometimes"}), 400)


def test_format_json_is_accepted(tech: Sap):
    response = tech.session.get(tech.url(PRODORD, ORDERS, {"$top": "1", "$format": "json"}), timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert len(response.json()["d"]["results"]) == 1


# --- paging ------------------------------------------------------------------------------------------


def test_paging_collects_exactly_count_entities_without_duplicates(tech: Sap):
    entities, count, _ = tech.collect(PRODORD, ORDERS)
    assert len(entities) == count
    assert len(keys(entities)) == count
    count_text = tech.get(PRODORD, f"{ORDERS}/$count").text
    assert int(count_text) == count


# --- pyodata -----------------------------------------------------------------------------------------


def test_pyodata_reads_filters_counts_and_expands(pyodata_client: Callable[..., pyodata.Client], tech: Sap):
    client = pyodata_client(PRODORD)
    orders = all_orders(tech)
    plant = orders[0]["ProductionPlant"]
    expected = keys([o for o in orders if o["ProductionPlant"] == plant])

    request = client.entity_sets.A_ProductionOrder_2.get_entities()
    found: set[str] = set()
    page = request.filter(f"ProductionPlant eq '{plant}'").count(inline=True).execute()
    total = page.total_count
    while True:
        found |= {e.ManufacturingOrder for e in page}
        if page.next_url is None:
            break
        page = client.entity_sets.A_ProductionOrder_2.get_entities().next_url(page.next_url).execute()
    assert total == len(expected)
    assert found == expected

    assert client.entity_sets.A_ProductionOrder_2.get_entities().count().execute() == len(orders)
    filtered_count = (
        client.entity_sets.A_ProductionOrder_2.get_entities().filter(f"ProductionPlant eq '{plant}'").count().execute()
    )
    assert filtered_count == len(expected)

    key = sorted(expected)[0]
    order = (
        client.entity_sets.A_ProductionOrder_2.get_entity(ManufacturingOrder=key)
        .expand("to_ProductionOrderOperation")
        .execute()
    )
    assert order.ManufacturingOrder == key
    assert order.ProductionPlant == plant
    operations = order.to_ProductionOrderOperation
    assert operations and all(op.ManufacturingOrder == key for op in operations)
    navigated = order.nav("to_ProductionOrderStatus").get_entities().execute()
    assert navigated and all(s.ManufacturingOrder == key for s in navigated)


def test_pyodata_top_skip_orderby_select(pyodata_client: Callable[..., pyodata.Client], tech: Sap):
    client = pyodata_client(PRODORD)
    orders = all_orders(tech)
    window = (
        client.entity_sets.A_ProductionOrder_2.get_entities()
        .order_by("ManufacturingOrder desc")
        .skip(2)
        .top(3)
        .select("ManufacturingOrder,TotalQuantity")
        .execute()
    )
    expected = [o["ManufacturingOrder"] for o in reversed(orders)][2:5]
    assert [e.ManufacturingOrder for e in window] == expected
    for entity in window:
        assert Decimal(str(entity.TotalQuantity)) >= 0


def test_properties_marked_not_filterable_are_rejected(sap: Callable[..., Sap]):
    """sap:filterable="false" (absent means true) must be enforced; the set is discovered from $metadata."""
    checked = 0
    for service in SERVICE_PATHS:
        helper = sap("EXEC_ANNA" if service == TASKS else TECH_USER)
        md = parse_metadata(helper.session.get(helper.url(service, "$metadata"), timeout=30).content)
        for name in md.entity_sets:
            for prop in md.entity_type_of(name).properties.values():
                if prop.sap.get("filterable") == "false" and prop.type == "Edm.String":
                    response = helper.get(service, name, {"$filter": f"{prop.name} eq 'X'"})
                    assert_sap_error(response, 400)
                    checked += 1
                if prop.sap.get("sortable") == "false":
                    assert_sap_error(helper.get(service, name, {"$orderby": prop.name}), 400)
                    checked += 1
    if not checked:
        pytest.skip("no served property is marked sap:filterable/sortable='false' (as in the real specs)")


@pytest.mark.parametrize(
    "expression",
    [
        "ProductionPlant eq 1010",  # Int32 literal against Edm.String
        "MfgOrderPlannedStartDate ge '2024-01-01'",  # string literal against Edm.DateTime
        "TotalQuantity gt '10'",  # string literal against Edm.Decimal
    ],
)
def test_literals_of_the_wrong_type_are_400(tech: Sap, expression: str):
    """Gateway checks literal types; a client that gets away with loose literals here would fail on S/4HANA."""
    assert_sap_error(tech.get(PRODORD, ORDERS, {"$filter": expression}), 400)


def test_boolean_and_integer_literals(tech: Sap, sap: Callable[..., Sap]):
    statuses, _, _ = tech.collect(PRODORD, "A_ProductionOrderStatus_2")
    system = tech.collect(PRODORD, "A_ProductionOrderStatus_2", {"$filter": "IsUserStatus eq false"})[0]
    assert len(system) == sum(1 for s in statuses if s["IsUserStatus"] is False)
    assert_sap_error(tech.get(PRODORD, "A_ProductionOrderStatus_2", {"$filter": "IsUserStatus eq 'X'"}), 400)
    anna = sap("EXEC_ANNA")
    tasks = anna.results(TASKS, "TaskCollection")
    urgent = anna.results(TASKS, "TaskCollection", {"$filter": "PriorityNumber ge 3"})
    assert {t["InstanceID"] for t in urgent} == {t["InstanceID"] for t in tasks if t["PriorityNumber"] >= 3}


def test_navigation_collections_support_count_and_inlinecount(tech: Sap, orders: list[dict[str, Any]]):
    key = orders[0]["ManufacturingOrder"]
    path = f"{ORDERS}('{key}')/to_ProductionOrderOperation"
    operations = tech.results(PRODORD, path)
    assert tech.read(PRODORD, path, {"$inlinecount": "allpages"})["__count"] == str(len(operations))
    assert tech.get(PRODORD, f"{path}/$count").text.strip() == str(len(operations))
    first = tech.results(PRODORD, path, {"$orderby": "ManufacturingOrderOperation desc", "$top": "1"})
    assert first[0]["ManufacturingOrderOperation"] == max(op["ManufacturingOrderOperation"] for op in operations)


def test_select_together_with_expand(tech: Sap):
    entities = tech.results(
        PRODORD,
        ORDERS,
        {
            "$select": "ManufacturingOrder,to_ProductionOrderOperation/ManufacturingOrderOperation",
            "$expand": "to_ProductionOrderOperation",
            "$top": "2",
        },
    )
    for entity in entities:
        assert set(entity) == {"__metadata", "ManufacturingOrder", "to_ProductionOrderOperation"}
        for op in entity["to_ProductionOrderOperation"]["results"]:
            assert set(op) == {"__metadata", "ManufacturingOrderOperation"}
