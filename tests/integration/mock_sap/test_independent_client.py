"""A second, independent OData V2 client (lxml + json, see odata_reader.py) checks model and wire format.

If pyodata and this reader both accept the mock, a client that is neither is likely to accept it too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .conftest import PRODCONF, PRODORD, SERVICE_PATHS, TASKS, TECH_USER, Sap
from .odata_reader import Metadata, consistency_problems, entity_problems, parse_metadata, structured_problems

# TaskCollection is per user: read it as an executive, everything else as the technical user
READER = {TASKS: "EXEC_ANNA"}


def load(sap: Sap, service: str) -> Metadata:
    response = sap.session.get(sap.url(service, "$metadata"), timeout=30)
    assert response.status_code == 200
    return parse_metadata(response.content)


@pytest.fixture(params=list(SERVICE_PATHS))
def service(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def reader(service: str, sap: Callable[..., Sap]) -> Sap:
    return sap(READER.get(service, TECH_USER))


def test_model_is_internally_consistent(service: str, reader: Sap):
    md = load(reader, service)
    assert md.entity_sets
    problems = consistency_problems(md)
    assert not problems, "\n".join(problems)


def test_service_document_lists_the_entity_sets(service: str, reader: Sap):
    md = load(reader, service)
    document = reader.read(service, "")
    assert sorted(document["EntitySets"]) == sorted(md.entity_sets)


def test_every_served_entity_has_the_declared_wire_format(service: str, reader: Sap):
    md = load(reader, service)
    root = reader.url(service)
    problems: list[str] = []
    populated = 0
    for name in md.entity_sets:
        entity_type = md.entity_type_of(name)
        response = reader.get(service, name, {"$top": "5", "$inlinecount": "allpages"})
        assert response.status_code == 200, f"{name}: {response.status_code} {response.text[:300]}"
        assert response.headers["Content-Type"].startswith("application/json")
        payload = response.json()["d"]
        if not (isinstance(payload.get("__count"), str) and payload["__count"].isdigit()):
            problems.append(f"{name}: __count {payload.get('__count')!r} must be a digit string")
        if payload["results"]:
            populated += 1
        for entity in payload["results"]:
            problems.extend(entity_problems(md, entity_type, entity, root))
    assert populated, f"no entity set of {service} holds data"
    assert not problems, "\n".join(sorted(set(problems))[:60])


def test_single_entities_and_their_etags(service: str, reader: Sap):
    md = load(reader, service)
    root = reader.url(service)
    problems: list[str] = []
    for name in md.entity_sets:
        entity_type = md.entity_type_of(name)
        listing = reader.results(service, name, {"$top": "1"})
        if not listing:
            continue
        uri = listing[0]["__metadata"]["uri"]
        response = reader.session.get(uri, headers={"Accept": "application/json"}, timeout=30)
        assert response.status_code == 200, uri
        entity = response.json()["d"]
        problems.extend(entity_problems(md, entity_type, entity, root))
        for key in entity_type.keys:
            if entity[key] != listing[0][key]:
                problems.append(f"{uri}: key {key} differs between feed and single read")
        has_etag = any(p.concurrency_mode == "Fixed" for p in entity_type.properties.values())
        if has_etag and response.headers.get("ETag") != entity["__metadata"].get("etag"):
            problems.append(f"{uri}: ETag header {response.headers.get('ETag')!r} != __metadata.etag")
    assert not problems, "\n".join(problems)


def test_expanded_navigations_have_the_declared_shape(service: str, reader: Sap):
    md = load(reader, service)
    root = reader.url(service)
    problems: list[str] = []
    for name in md.entity_sets:
        entity_type = md.entity_type_of(name)
        if not entity_type.navigations:
            continue
        navs = ",".join(entity_type.navigations)
        response = reader.get(service, name, {"$top": "2", "$expand": navs})
        assert response.status_code == 200, f"{name} $expand={navs}: {response.text[:300]}"
        for entity in response.json()["d"]["results"]:
            for nav in entity_type.navigations.values():
                association = md.associations[md.qualify(nav.relationship)]
                end = association.ends[nav.to_role]
                target = md.entity_types[md.qualify(end.type)]
                value = entity.get(nav.name)
                if end.multiplicity == "*":
                    if not (isinstance(value, dict) and isinstance(value.get("results"), list)):
                        problems.append(f"{name}/{nav.name}: expanded to-many must be {{'results': [...]}}")
                        continue
                    targets = value["results"]
                else:
                    if value is not None and not isinstance(value, dict):
                        problems.append(f"{name}/{nav.name}: expanded to-one must be an object or null")
                        continue
                    targets = [value] if value else []
                for child in targets:
                    problems.extend(entity_problems(md, target, child, root))
    assert not problems, "\n".join(sorted(set(problems))[:60])


def _complex_result(md: Metadata, function: str, payload: dict[str, Any]) -> list[str]:
    return_type = md.function_imports[function].return_type or ""
    complex_type = md.complex_types[md.qualify(return_type)]
    if function not in payload:
        return [f"{function}: complex result must be wrapped as {{'d': {{'{function}': {{...}}}}}}"]
    return structured_problems(md, complex_type, payload[function])


def test_function_import_results_have_the_declared_shape(sap: Callable[..., Sap]):
    tech = sap(TECH_USER)
    md = load(tech, PRODORD)
    order = tech.results(PRODORD, "A_ProductionOrder_2", {"$filter": "OrderIsReleased eq ''", "$top": "1"})[0]
    response = tech.call(PRODORD, "ReleaseOrder", ManufacturingOrder=f"'{order['ManufacturingOrder']}'")
    assert response.status_code == 200, response.text
    problems = _complex_result(md, "ReleaseOrder", response.json()["d"])

    conf_md = load(tech, PRODCONF)
    op = tech.results(PRODORD, "A_ProductionOrderOperation_2", {"$filter": "OperationIsReleased eq 'X'", "$top": "1"})[
        0
    ]
    response = tech.call(
        PRODCONF,
        "GetConfProposal",
        OrderID=f"'{op['ManufacturingOrder']}'",
        OrderOperation=f"'{op['ManufacturingOrderOperation']}'",
        Sequence=f"'{op['ManufacturingOrderSequence']}'",
        ConfirmationYieldQuantity="1M",
    )
    assert response.status_code == 200, response.text
    problems += _complex_result(conf_md, "GetConfProposal", response.json()["d"])

    anna = sap("EXEC_ANNA")
    task_md = load(anna, TASKS)
    task = anna.results(TASKS, "TaskCollection", {"$top": "1"})[0]
    claimed = anna.call(TASKS, "Claim", SAP__Origin=f"'{task['SAP__Origin']}'", InstanceID=f"'{task['InstanceID']}'")
    assert claimed.status_code == 200, claimed.text
    problems += entity_problems(task_md, task_md.entity_type_of("TaskCollection"), claimed.json()["d"], anna.url(TASKS))
    options = anna.call(
        TASKS, "DecisionOptions", "GET", SAP__Origin=f"'{task['SAP__Origin']}'", InstanceID=f"'{task['InstanceID']}'"
    )
    assert options.status_code == 200, options.text
    option_type_name = (task_md.function_imports["DecisionOptions"].return_type or "")[len("Collection(") : -1]
    option_type = task_md.complex_types.get(task_md.qualify(option_type_name))
    assert option_type is not None, "DecisionOptions returns a collection of a complex type"
    results = options.json()["d"]["results"]
    assert results
    for option in results:
        problems += structured_problems(task_md, option_type, option)
    assert not problems, "\n".join(problems)


def test_created_confirmation_and_goods_movements_have_the_declared_wire_format(sap: Callable[..., Sap]):
    """ProdnOrdConfMatlDocItm is empty in the seed: create data through a deep insert, then check it."""
    tech = sap(TECH_USER)
    md = load(tech, PRODCONF)
    op = tech.results(PRODORD, "A_ProductionOrderOperation_2", {"$filter": "OperationIsReleased eq 'X'", "$top": "1"})[
        0
    ]
    order = tech.read(PRODORD, f"A_ProductionOrder_2('{op['ManufacturingOrder']}')")
    body = {
        "OrderID": op["ManufacturingOrder"],
        "OrderOperation": op["ManufacturingOrderOperation"],
        "Sequence": op["ManufacturingOrderSequence"],
        "ConfirmationUnit": op["OperationUnit"],
        "ConfirmationYieldQuantity": "1",
        "to_ProdnOrdConfMatlDocItm": {
            "results": [
                {
                    "Material": order["Material"],
                    "Plant": order["ProductionPlant"],
                    "GoodsMovementType": "101",
                    "EntryUnit": order["ProductionUnit"],
                    "QuantityInEntryUnit": "1",
                }
            ]
        },
    }
    response = tech.write("POST", PRODCONF, "ProdnOrdConf2", body=body)
    assert response.status_code == 201, response.text
    created = response.json()["d"]
    root = tech.url(PRODCONF)
    confirmation_type = md.entity_type_of("ProdnOrdConf2")
    problems = entity_problems(
        md, confirmation_type, {**created, "to_ProdnOrdConfMatlDocItm": _deferred(created)}, root
    )
    uri = created["__metadata"]["uri"]
    items = tech.session.get(f"{uri}/to_ProdnOrdConfMatlDocItm", headers={"Accept": "application/json"}, timeout=30)
    assert items.status_code == 200
    item_type = md.entity_type_of("ProdnOrdConfMatlDocItm")
    for item in items.json()["d"]["results"]:
        problems += entity_problems(md, item_type, item, root)
    assert not problems, "\n".join(problems)


def _deferred(created: dict[str, Any]) -> Any:
    """The create response may echo the deep-inserted items inline; the checker expects the deferred shape."""
    value = created.get("to_ProdnOrdConfMatlDocItm")
    if isinstance(value, dict) and "__deferred" in value:
        return value
    return {"__deferred": {"uri": created["__metadata"]["uri"] + "/to_ProdnOrdConfMatlDocItm"}}
