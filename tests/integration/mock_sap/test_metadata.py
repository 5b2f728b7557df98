"""$metadata: parses in pyodata's strict mode and matches the real SAP specifications name for name, type for type."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyodata
import pytest
import requests

from .conftest import PRODCONF, PRODORD, PURREQ, SERVICE_PATHS, TASKS, TECH_USER, Sap, user_password
from .odata_reader import Metadata, StructuredType, parse_metadata

SERVICES = list(SERVICE_PATHS)

# TASKPROCESSING has no EDMX: these names come from SAP-API-FACTS.md section 6a (SAP help [D1][D2][D3][D4]
# and real TASKPROCESSING JSON). Types are given where the facts or the TCM sibling EDMX state them.
TASK_FACT_PROPERTIES = {
    "SAP__Origin": "Edm.String",
    "InstanceID": "Edm.String",
    "TaskDefinitionID": "Edm.String",
    "TaskDefinitionName": "Edm.String",
    "TaskTitle": "Edm.String",
    "Priority": "Edm.String",
    "Status": "Edm.String",
    "StatusText": "Edm.String",
    "CreatedOn": "Edm.DateTime",
    "CreatedBy": "Edm.String",
    "Processor": "Edm.String",
    "StartDeadLine": "Edm.DateTime",
    "CompletionDeadLine": "Edm.DateTime",
    "ExpiryDate": "Edm.DateTime",
    "IsEscalated": "Edm.Boolean",
    "HasComments": "Edm.Boolean",
    "HasAttachments": "Edm.Boolean",
    "HasPotentialOwners": "Edm.Boolean",
    "SupportsClaim": "Edm.Boolean",
    "SupportsRelease": "Edm.Boolean",
    "SupportsForward": "Edm.Boolean",
    "SupportsComments": "Edm.Boolean",
    "PriorityNumber": "Edm.Int32",
}
DECISION_OPTION_FIELDS = {"SAP__Origin", "InstanceID", "DecisionKey", "DecisionText", "CommentMandatory", "Nature"}


def served_metadata(sap: Sap, service: str) -> bytes:
    response = sap.session.get(sap.url(service, "$metadata"), timeout=30)
    assert response.status_code == 200, response.text
    return response.content


def load_real_edmx(real_specs: Path, name: str) -> Metadata:
    return parse_metadata((real_specs / f"{name}.edmx").read_bytes())


@pytest.mark.parametrize("service", SERVICES)
def test_metadata_is_xml_and_parses_in_pyodata_strict_mode(service: str, service_url: Callable[[str], str]):
    session = requests.Session()
    session.auth = (TECH_USER, user_password(TECH_USER))
    response = session.get(service_url(service) + "$metadata", timeout=30)
    assert response.status_code == 200
    content_type = response.headers["Content-Type"].split(";")[0].strip()
    assert content_type in ("application/xml", "text/xml")
    # default Config is PolicyFatal: any parser problem raises
    client = pyodata.Client(service_url(service), session, config=pyodata.v2.model.Config())
    assert client.schema.entity_sets


@pytest.mark.parametrize("service", SERVICES)
def test_metadata_needs_authentication(service: str, service_url: Callable[[str], str]):
    response = requests.get(service_url(service) + "$metadata", timeout=30)
    assert response.status_code == 401


def test_taskprocessing_model_has_the_documented_shape(tech: Sap):
    md = parse_metadata(served_metadata(tech, TASKS))
    task = md.entity_type_of("TaskCollection")
    assert task.keys == ["SAP__Origin", "InstanceID"]
    functions = md.function_imports
    assert functions["DecisionOptions"].http_method == "GET"
    assert {"SAP__Origin", "InstanceID"} <= set(functions["DecisionOptions"].parameters)
    decision = functions["Decision"]
    assert decision.http_method == "POST"
    assert set(decision.parameters) >= {"SAP__Origin", "InstanceID", "DecisionKey", "Comments"}
    for name in ("Claim", "Release", "Forward"):
        assert functions[name].http_method == "POST", name
        assert {"SAP__Origin", "InstanceID"} <= set(functions[name].parameters), name
        assert md.qualify(functions[name].return_type or "") == task.qualified, name
        assert functions[name].entity_set == "TaskCollection", name
    assert "ForwardTo" in functions["Forward"].parameters
    assert md.qualify(decision.return_type or "") == task.qualified
    options = re.fullmatch(r"Collection\((.+)\)", functions["DecisionOptions"].return_type or "")
    assert options, "DecisionOptions returns a collection"
    option_type = md.complex_types.get(md.qualify(options.group(1))) or md.entity_types[md.qualify(options.group(1))]
    assert {"DecisionKey", "DecisionText", "Nature"} <= set(option_type.properties)
    assert set(option_type.properties) <= DECISION_OPTION_FIELDS


def test_taskprocessing_names_and_types_match_facts_and_tcm_sibling(tech: Sap, real_specs: Path):
    md = parse_metadata(served_metadata(tech, TASKS))
    tcm = load_real_edmx(real_specs, "SPA_Workflow_Inbox_TCM")
    tcm_task = tcm.entity_type_of("TaskCollection")
    task = md.entity_type_of("TaskCollection")
    problems = []
    for prop in task.properties.values():
        expected = tcm_task.properties[prop.name].type if prop.name in tcm_task.properties else None
        expected = expected or TASK_FACT_PROPERTIES.get(prop.name)
        if expected is None:
            problems.append(f"Task.{prop.name} is neither in the facts nor in the TCM Task type")
        elif prop.type != expected:
            problems.append(f"Task.{prop.name}: {prop.type}, real {expected}")
    assert task.properties["SAP__Origin"].max_length == tcm_task.properties["SAP__Origin"].max_length
    # entity sets and function imports that the TCM sibling also has must have the same entity type shape
    for name in md.entity_sets:
        if name == "TaskCollection" or name not in tcm.entity_sets:
            continue
        served, real = md.entity_type_of(name), tcm.entity_type_of(name)
        problems.extend(compare_structured(served, real, facets=False))
    for name, function in md.function_imports.items():
        if name in tcm.function_imports:
            real = tcm.function_imports[name]
            if function.http_method != real.http_method:
                problems.append(f"{name}: HttpMethod {function.http_method}, real {real.http_method}")
            for param in function.parameters.values():
                if param.name not in real.parameters:
                    problems.append(f"{name}: parameter {param.name} not in the real signature")
                elif param.type != real.parameters[param.name].type:
                    problems.append(f"{name}({param.name}): {param.type}, real {real.parameters[param.name].type}")
        elif name != "Decision":
            problems.append(f"function import {name} is neither documented nor in the TCM sibling")
    assert not problems, "\n".join(problems)


def compare_structured(served: StructuredType, real: StructuredType, facets: bool = True) -> list[str]:
    problems = []
    if served.name != real.name:
        problems.append(f"type name {served.name}, real {real.name}")
    if served.keys != real.keys:
        problems.append(f"{served.name}: keys {served.keys}, real {real.keys}")
    for prop in served.properties.values():
        real_prop = real.properties.get(prop.name)
        if real_prop is None:
            problems.append(f"{served.name}.{prop.name} does not exist in the real service")
            continue
        if prop.type != real_prop.type:
            problems.append(f"{served.name}.{prop.name}: {prop.type}, real {real_prop.type}")
        if prop.concurrency_mode != real_prop.concurrency_mode:
            problems.append(
                f"{served.name}.{prop.name}: ConcurrencyMode {prop.concurrency_mode}, real {real_prop.concurrency_mode}"
            )
        if facets:
            checked = {"Edm.String": ("max_length",), "Edm.Decimal": ("precision", "scale")}
            for facet in checked.get(real_prop.type, ()):
                if getattr(prop, facet) != getattr(real_prop, facet):
                    problems.append(
                        f"{served.name}.{prop.name}: {facet} {getattr(prop, facet)}, real {getattr(real_prop, facet)}"
                    )
            for flag in ("filterable", "sortable", "updatable", "creatable"):
                if prop.sap.get(flag, "true") != real_prop.sap.get(flag, "true"):
                    problems.append(f"{served.name}.{prop.name}: sap:{flag} differs from the real service")
    for nav in served.navigations:
        if nav not in real.navigations:
            problems.append(f"{served.name}/{nav} navigation does not exist in the real service")
    return problems


@pytest.mark.parametrize("service", [PRODORD, PURREQ])
def test_edmx_services_match_the_real_specification(service: str, tech: Sap, real_specs: Path):
    md = parse_metadata(served_metadata(tech, service))
    real = load_real_edmx(real_specs, service)
    problems = []
    assert set(md.namespaces.values()) & set(real.namespaces.values()), "schema namespace differs"
    assert md.container == real.container
    for name, entity_set in md.entity_sets.items():
        if name not in real.entity_sets:
            problems.append(f"entity set {name} does not exist in the real service")
            continue
        problems.extend(compare_structured(md.entity_type_of(name), real.entity_type_of(name)))
        for flag in ("creatable", "updatable", "deletable"):
            if entity_set.sap.get(flag, "true") != real.entity_sets[name].sap.get(flag, "true"):
                problems.append(f"{name}: sap:{flag} differs from the real service")
    for name, function in md.function_imports.items():
        real_function = real.function_imports.get(name)
        if real_function is None:
            problems.append(f"function import {name} does not exist in the real service")
            continue
        if function.http_method != real_function.http_method:
            problems.append(f"{name}: HttpMethod {function.http_method}, real {real_function.http_method}")
        if function.return_type != real_function.return_type:
            problems.append(f"{name}: ReturnType {function.return_type}, real {real_function.return_type}")
        if function.entity_set != real_function.entity_set:
            problems.append(f"{name}: EntitySet {function.entity_set}, real {real_function.entity_set}")
        if set(function.parameters) != set(real_function.parameters):
            problems.append(
                f"{name}: parameters {sorted(function.parameters)}, real {sorted(real_function.parameters)}"
            )
        for param in function.parameters.values():
            real_param = real_function.parameters.get(param.name)
            if real_param is not None and param.type != real_param.type:
                problems.append(f"{name}({param.name}): {param.type}, real {real_param.type}")
    for complex_type in md.complex_types.values():
        real_complex = real.complex_types.get(real.qualify(complex_type.qualified))
        if real_complex is None:
            problems.append(f"complex type {complex_type.name} does not exist in the real service")
            continue
        problems.extend(compare_structured(complex_type, real_complex, facets=False))
    assert not problems, "\n".join(problems)


def test_production_order_metadata_has_the_required_parts(tech: Sap):
    md = parse_metadata(served_metadata(tech, PRODORD))
    for name in ("A_ProductionOrder_2", "A_ProductionOrderOperation_2", "A_ProductionOrderStatus_2"):
        assert name in md.entity_sets, name
    order = md.entity_type_of("A_ProductionOrder_2")
    assert order.keys == ["ManufacturingOrder"]
    assert order.properties["LastChangeDateTime"].concurrency_mode == "Fixed"
    assert "MfgOrderPlannedTotalQty" not in order.properties  # the name trap of section 1
    assert {"to_ProductionOrderOperation", "to_ProductionOrderStatus"} <= set(order.navigations)
    assert {"ReleaseOrder", "ReleaseOperation"} <= set(md.function_imports)
    assert md.entity_sets["A_ProductionOrder_2"].sap.get("deletable") == "false"


def test_purchase_requisition_metadata_has_the_required_parts(tech: Sap):
    md = parse_metadata(served_metadata(tech, PURREQ))
    assert md.entity_type_of("A_PurchaseRequisitionHeader").keys == ["PurchaseRequisition"]
    item = md.entity_type_of("A_PurchaseRequisitionItem")
    assert item.keys == ["PurchaseRequisition", "PurchaseRequisitionItem"]
    assert item.properties["ReleaseIsNotCompleted"].type == "Edm.Boolean"
    assert item.properties["PurReqnReleaseStatus"].type == "Edm.String"
    # section 5: the real service has no release or approve action
    assert not {"Release", "Approve", "ReleaseRequisition"} & set(md.function_imports)


# --- API_PROD_ORDER_CONFIRMATION_2_SRV: only an OpenAPI file exists; map its schema to EDM -------------


def openapi_edm_type(schema: dict[str, Any]) -> str:
    typ, fmt, example = schema.get("type"), schema.get("format"), str(schema.get("example", ""))
    if typ == "boolean":
        return "Edm.Boolean"
    if typ == "integer":
        return {"uint8": "Edm.Byte", "int16": "Edm.Int16", "int32": "Edm.Int32", "int64": "Edm.Int64"}[fmt]
    if fmt == "decimal":
        return "Edm.Decimal"
    if fmt == "uuid":
        return "Edm.Guid"
    if fmt == "date-time" or re.match(r"^/Date\(\d+[+-]\d{4}\)/$", example):
        return "Edm.DateTimeOffset"
    if example.startswith("/Date("):
        return "Edm.DateTime"
    if example.startswith("PT"):
        return "Edm.Time"
    return "Edm.String"


def openapi_parameter_type(schema: dict[str, Any]) -> str:
    pattern = schema.get("pattern", "")
    if schema.get("type") == "boolean":
        return "Edm.Boolean"
    if "[mM]" in pattern:
        return "Edm.Decimal"
    if pattern.startswith("^datetime'"):
        return "Edm.DateTime"
    if pattern.startswith("^guid'"):
        return "Edm.Guid"
    return "Edm.String"


def test_confirmation_service_matches_the_real_openapi(tech: Sap, real_specs: Path):
    md = parse_metadata(served_metadata(tech, PRODCONF))
    spec = json.loads((real_specs / f"{PRODCONF}.openapi.json").read_bytes())
    schemas = spec["components"]["schemas"]
    problems = []
    assert "ProdnOrdConf2" in md.entity_sets
    for name in md.entity_sets:
        path = spec["paths"].get(f"/{name}")
        if path is None or "get" not in path:
            problems.append(f"entity set {name} does not exist in the real service")
            continue
        ref = path["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["d"]
        real_schema = schemas[ref["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[1]]
        entity_type = md.entity_type_of(name)
        if entity_type.qualified != ref["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[1]:
            problems.append(f"{name}: entity type {entity_type.qualified} differs from the real one")
        for prop in entity_type.properties.values():
            real_prop = real_schema["properties"].get(prop.name)
            if real_prop is None:
                problems.append(f"{entity_type.name}.{prop.name} does not exist in the real service")
                continue
            expected = openapi_edm_type(real_prop)
            if prop.type != expected:
                problems.append(f"{entity_type.name}.{prop.name}: {prop.type}, real {expected}")
            if expected == "Edm.String" and prop.max_length != real_prop.get("maxLength"):
                problems.append(
                    f"{entity_type.name}.{prop.name}: MaxLength {prop.max_length}, real {real_prop.get('maxLength')}"
                )
            if expected == "Edm.Decimal" and prop.scale != 3:
                problems.append(f"{entity_type.name}.{prop.name}: Scale {prop.scale}, real 3 (multipleOf 0.001)")
        for nav in entity_type.navigations:
            if real_schema["properties"].get(nav, {}).get("type") != "object":
                problems.append(f"{entity_type.name}/{nav} navigation does not exist in the real service")
    for name, function in md.function_imports.items():
        path = spec["paths"].get(f"/{name}")
        if path is None:
            problems.append(f"function import {name} does not exist in the real service")
            continue
        method = next(iter(m for m in path if m in ("get", "post")))
        if function.http_method != method.upper():
            problems.append(f"{name}: HttpMethod {function.http_method}, real {method.upper()}")
        real_params = {p["name"]: p["schema"] for p in path[method].get("parameters", []) if "name" in p}
        for param in function.parameters.values():
            if param.name not in real_params:
                problems.append(f"{name}: parameter {param.name} not in the real signature")
            elif param.type != openapi_parameter_type(real_params[param.name]):
                problems.append(
                    f"{name}({param.name}): {param.type}, real {openapi_parameter_type(real_params[param.name])}"
                )
        result = path[method]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["d"]
        complex_type = md.complex_types.get(md.qualify(function.return_type or ""))
        if complex_type is not None:
            wrapped = result.get("properties", {}).get(name, {}).get("$ref", "")
            real_properties = schemas[wrapped.rsplit("/", 1)[1]]["properties"] if wrapped else {}
            for prop in complex_type.properties.values():
                if prop.name not in real_properties:
                    problems.append(f"{name} result: {prop.name} does not exist in the real result type")
                elif prop.type != (expected := openapi_edm_type(real_properties[prop.name])):
                    problems.append(f"{name} result: {prop.name} is {prop.type}, real {expected}")
    assert {"CancelProdnOrdConf", "GetConfProposal"} <= set(md.function_imports)
    assert not problems, "\n".join(problems)


def test_confirmation_entity_set_is_create_only(tech: Sap):
    md = parse_metadata(served_metadata(tech, PRODCONF))
    confirmation = md.entity_sets["ProdnOrdConf2"]
    assert confirmation.sap.get("updatable") == "false"
    assert confirmation.sap.get("deletable") == "false"
    assert confirmation.sap.get("creatable", "true") == "true"
    entity_type = md.entity_type_of("ProdnOrdConf2")
    assert entity_type.keys == ["ConfirmationGroup", "ConfirmationCount"]
    assert entity_type.properties["ExternalSystemConfirmation"].type == "Edm.Guid"
    assert "to_ProdnOrdConfMatlDocItm" in entity_type.navigations
