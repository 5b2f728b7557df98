"""$metadata: pyodata strict parsing, and every served name/type/facet compared with SAP's real specs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyodata.v2.model as pyodata_model
import pytest
from lxml import etree

from mock_sap.edm import Property, ServiceModel
from mock_sap.metadata import build_metadata
from mock_sap.services.confirmation_model import MODEL as CONFIRMATION
from mock_sap.services.production_order_model import MODEL as PRODUCTION_ORDER
from mock_sap.services.purchase_requisition_model import MODEL as PURCHASE_REQUISITION
from mock_sap.services.taskprocessing_model import MODEL as TASKPROCESSING

MODELS = [TASKPROCESSING, PURCHASE_REQUISITION, PRODUCTION_ORDER, CONFIRMATION]
ROOT = Path(__file__).resolve().parents[3]
SPECS = Path(os.environ.get("SAP_API_SPECS", ROOT.parent / "shared" / "sap-api-specs"))
EDMX_SPECS = {
    "TASKPROCESSING": "SPA_Workflow_Inbox_TCM.edmx",
    "API_PURCHASEREQ_PROCESS_SRV": "API_PURCHASEREQ_PROCESS_SRV.edmx",
    "API_PRODUCTION_ORDER_2_SRV": "API_PRODUCTION_ORDER_2_SRV.edmx",
}
# Served on purpose although the TCM sibling lacks them: documented TASKPROCESSING facts (SAP help).
TCM_ALLOWED_EXTRAS = {"Decision", "DecisionOption.fields", "Task.IsEscalated"}
# The Task Gateway's TaskObjects (My Inbox reads `TaskCollection(...)/TaskObjects`), absent from the TCM sibling.
TCM_ALLOWED_EXTRAS |= {"TaskObjectCollection", "TaskObject", "Task.TaskObjects"}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_metadata_parses_in_pyodata_strict_mode(model: ServiceModel) -> None:
    schema = pyodata_model.MetadataBuilder(build_metadata(model)).build()
    assert {s.name for s in schema.entity_sets} == {s.name for s in model.entity_sets}
    assert {f.name for f in schema.function_imports} == {f.name for f in model.function_imports}


def test_sap_annotations_are_written_as_sap_writes_them() -> None:
    xml = etree.fromstring(build_metadata(PRODUCTION_ORDER))
    sap = "{http://www.sap.com/Protocols/SAPData}"
    orders = xml.find(".//{*}EntitySet[@Name='A_ProductionOrder_2']")
    assert orders is not None and orders.get(f"{sap}deletable") == "false"
    assert orders.get(f"{sap}creatable") is None  # absent means true
    quantity = xml.find(".//{*}EntityType[@Name='A_ProductionOrder_2Type']/{*}Property[@Name='TotalQuantity']")
    assert quantity is not None and quantity.get(f"{sap}unit") == "ProductionUnit"
    stamp = xml.find(".//{*}EntityType[@Name='A_ProductionOrder_2Type']/{*}Property[@Name='LastChangeDateTime']")
    assert stamp is not None and stamp.get("ConcurrencyMode") == "Fixed"
    release = xml.find(".//{*}FunctionImport[@Name='ReleaseOrder']")
    assert (
        release is not None and release.get(f"{sap}action-for") == "API_PRODUCTION_ORDER_2_SRV.A_ProductionOrder_2Type"
    )


# -- comparison with the real specifications (skipped where they are not available) ------------


def _facets(prop: Property) -> tuple[str, str | None, str | None, str | None]:
    def text(value: int | None) -> str | None:
        return None if value is None else str(value)

    return prop.type, text(prop.max_length), text(prop.precision), text(prop.scale)


def _spec_types(
    path: Path,
) -> tuple[dict[str, dict[str, tuple[str, str | None, str | None, str | None]]], etree._Element]:
    root = etree.parse(str(path)).getroot()
    types: dict[str, dict[str, tuple[str, str | None, str | None, str | None]]] = {}
    for element in root.iter("{*}EntityType", "{*}ComplexType"):
        types[element.get("Name", "")] = {
            p.get("Name", ""): (p.get("Type", ""), p.get("MaxLength"), p.get("Precision"), p.get("Scale"))
            for p in element.findall("{*}Property")
        }
    return types, root


@pytest.mark.parametrize("model", [TASKPROCESSING, PURCHASE_REQUISITION, PRODUCTION_ORDER], ids=lambda m: m.name)
def test_served_edmx_subset_exists_in_the_real_spec(model: ServiceModel) -> None:
    path = SPECS / EDMX_SPECS[model.name]
    if not path.exists():
        pytest.skip(f"real SAP specs not available ({path})")
    types, root = _spec_types(path)
    problems: list[str] = []
    for entity_set in model.entity_sets:
        if model is TASKPROCESSING and entity_set.name in TCM_ALLOWED_EXTRAS:
            continue
        spec_set = root.find(f".//{{*}}EntitySet[@Name='{entity_set.name}']")
        if spec_set is None or spec_set.get("EntityType", "").split(".")[-1] != entity_set.entity_type:
            problems.append(f"entity set {entity_set.name}")
    for entity_type in model.entity_types:
        spec = types.get(entity_type.name)
        if spec is None:
            if not (model is TASKPROCESSING and entity_type.name in TCM_ALLOWED_EXTRAS):
                problems.append(f"entity type {entity_type.name}")
            continue
        spec_element = root.find(f".//{{*}}EntityType[@Name='{entity_type.name}']")
        assert spec_element is not None
        keys = tuple(r.get("Name") for r in spec_element.findall("{*}Key/{*}PropertyRef"))
        if keys != entity_type.keys:
            problems.append(f"keys of {entity_type.name}: {keys} != {entity_type.keys}")
        spec_navs = {n.get("Name") for n in spec_element.findall("{*}NavigationProperty")}
        problems += [
            f"navigation {entity_type.name}.{n.name}"
            for n in entity_type.navigations
            if n.name not in spec_navs
            and not (model is TASKPROCESSING and f"{entity_type.name}.{n.name}" in TCM_ALLOWED_EXTRAS)
        ]
        for prop in entity_type.properties:
            if model is TASKPROCESSING and f"{entity_type.name}.{prop.name}" in TCM_ALLOWED_EXTRAS:
                continue
            if spec.get(prop.name) != _facets(prop):
                problems.append(f"{entity_type.name}.{prop.name}: {_facets(prop)} != {spec.get(prop.name)}")
    for complex_type in model.complex_types:
        spec = types.get(complex_type.name, {})
        if not spec and "DecisionOption.fields" in TCM_ALLOWED_EXTRAS and model is TASKPROCESSING:
            continue
        for prop in complex_type.properties:
            if spec.get(prop.name) != _facets(prop):
                problems.append(f"{complex_type.name}.{prop.name}: {_facets(prop)} != {spec.get(prop.name)}")
    for function in model.function_imports:
        spec_function = root.find(f".//{{*}}FunctionImport[@Name='{function.name}']")
        if spec_function is None:
            if not (model is TASKPROCESSING and function.name in TCM_ALLOWED_EXTRAS):
                problems.append(f"function import {function.name}")
            continue
        spec_params = {p.get("Name"): p.get("Type") for p in spec_function.findall("{*}Parameter")}
        for param in function.parameters:
            if spec_params.get(param.name) != param.type:
                problems.append(f"{function.name}({param.name}): {param.type} != {spec_params.get(param.name)}")
        spec_return = (spec_function.get("ReturnType") or "").split(".")[-1]
        if (function.return_type or "").split(".")[-1] != spec_return:
            problems.append(f"return type of {function.name}")
    assert not problems, "\n".join(problems)


def _openapi_facets(schema: dict[str, object]) -> tuple[str, str | None, str | None, str | None]:
    kind, fmt = schema.get("type"), schema.get("format")
    example = str(schema.get("example", ""))
    if fmt == "decimal":
        scale = len(str(schema["multipleOf"]).split(".")[1]) if "." in str(schema.get("multipleOf", "")) else 0
        digits = len(str(schema["maximum"]).replace(".", "").replace("-", ""))
        return "Edm.Decimal", None, str(digits), str(scale)
    if fmt == "uuid":
        return "Edm.Guid", None, None, None
    if kind == "boolean":
        return "Edm.Boolean", None, None, None
    if example.startswith("/Date("):
        return "Edm.DateTime", None, "0", None
    if example.startswith("PT"):
        return "Edm.Time", None, "0", None
    max_length = schema.get("maxLength")
    return "Edm.String", None if max_length is None else str(max_length), None, None


def test_served_confirmation_subset_exists_in_the_openapi_spec() -> None:
    path = SPECS / "API_PROD_ORDER_CONFIRMATION_2_SRV.openapi.json"
    if not path.exists():
        pytest.skip(f"real SAP specs not available ({path})")
    spec = json.loads(path.read_text())
    schemas = spec["components"]["schemas"]
    problems: list[str] = []
    for name in [t.name for t in CONFIRMATION.entity_types] + [c.name for c in CONFIRMATION.complex_types]:
        schema = schemas.get(f"{CONFIRMATION.namespace}.{name}")
        if schema is None:
            problems.append(f"type {name}")
            continue
        properties = schema["properties"]
        served = (
            CONFIRMATION.types[name].properties if name in CONFIRMATION.types else CONFIRMATION.complex[name].properties
        )
        for prop in served:
            if prop.name not in properties:
                problems.append(f"{name}.{prop.name} missing")
                continue
            if _openapi_facets(properties[prop.name]) != _facets(prop):
                problems.append(f"{name}.{prop.name}: {_facets(prop)} != {_openapi_facets(properties[prop.name])}")
    for entity_set in CONFIRMATION.entity_sets:
        if f"/{entity_set.name}" not in spec["paths"]:
            problems.append(f"entity set {entity_set.name}")
    for function in CONFIRMATION.function_imports:
        operation = spec["paths"].get(f"/{function.name}", {}).get("post")
        if operation is None:
            problems.append(f"function import {function.name}")
            continue
        names = {p.get("name") for p in operation.get("parameters", [])}
        problems += [f"{function.name}({p.name})" for p in function.parameters if p.name not in names]
    assert not problems, "\n".join(problems)
