"""A plant manager of one plant (a supervisor of one work centre) never reaches another's data."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.conftest import MockSap
from tests.integration.roles.conftest import Token, bearer, sap_rows


@pytest.fixture
def foreign_order(trusting_sap: MockSap) -> str:
    rows = sap_rows(trusting_sap, "A_ProductionOrder_2", **{"$filter": "ProductionPlant eq '1020'", "$top": "1"})
    return str(rows[0]["ManufacturingOrder"])


@pytest.fixture
def foreign_operation(trusting_sap: MockSap) -> tuple[str, str]:
    """A released operation in plant 1010 at a work centre other than ASSY1010."""
    rows = sap_rows(
        trusting_sap,
        "A_ProductionOrderOperation_2",
        **{
            "$filter": "ProductionPlant eq '1010' and WorkCenter ne 'ASSY1010' and OperationIsReleased eq 'X'",
            "$top": "1",
        },
    )
    return str(rows[0]["ManufacturingOrder"]), str(rows[0]["ManufacturingOrderOperation"])


def test_order_of_another_plant_is_not_found(api: FlaskClient, token: Token, foreign_order: str) -> None:
    response = api.get(
        f"/api/v1/production-orders/{foreign_order}", headers=bearer(token("PlantManager", Plant=["1010"]))
    )
    assert response.status_code == 404
    assert response.json["message"] == "not found"


def test_not_found_and_out_of_scope_look_the_same(api: FlaskClient, token: Token, foreign_order: str) -> None:
    headers = bearer(token("PlantManager", Plant=["1010"]))
    foreign = api.get(f"/api/v1/production-orders/{foreign_order}", headers=headers)
    missing = api.get("/api/v1/production-orders/9999999", headers=headers)
    assert foreign.status_code == missing.status_code == 404
    assert {k: v for k, v in foreign.json.items() if k != "request_id"} == {
        k: v for k, v in missing.json.items() if k != "request_id"
    }


@pytest.mark.parametrize(
    "query",
    ["plant=1020", "plant=1010&plant=1020", "plant=1020&status=released", "plant=%2A", "plant=1010%27%20or%201"],
)
def test_list_parameters_cannot_widen_the_plant_scope(api: FlaskClient, token: Token, query: str) -> None:
    response = api.get(f"/api/v1/production-orders?{query}", headers=bearer(token("PlantManager", Plant=["1010"])))
    assert response.status_code in (400, 403), response.json
    assert "1020" not in str(response.json.get("items", ""))


def test_filters_cannot_reach_another_plants_order(api: FlaskClient, token: Token, foreign_order: str) -> None:
    headers = bearer(token("PlantManager", Plant=["1010"]))
    for query in (f"material={foreign_order}", "sort=plant", "sort=-plant&limit=200"):
        response = api.get(f"/api/v1/production-orders?{query}", headers=headers)
        assert response.status_code in (200, 400), response.json
        assert all(order["plant"] == "1010" for order in response.json.get("items", []))


def test_plant_manager_without_plants_gets_nothing(api: FlaskClient, token: Token) -> None:
    headers = bearer(token("PlantManager"))
    assert api.get("/api/v1/production-orders", headers=headers).status_code == 403
    response = api.get("/api/v1/production-orders/1000000", headers=headers)
    assert response.status_code == 403
    assert "Plant" in response.json["message"]


def test_work_order_at_another_work_centre_is_not_found(
    api: FlaskClient, token: Token, foreign_operation: tuple[str, str]
) -> None:
    order_id, operation = foreign_operation
    headers = bearer(token("Supervisor", Plant=["1010"], WorkCenter=["ASSY1010"]))
    assert api.get(f"/api/v1/work-orders/{order_id}-{operation}", headers=headers).status_code == 404


def test_work_order_list_parameters_cannot_widen_the_scope(
    api: FlaskClient, token: Token, foreign_operation: tuple[str, str]
) -> None:
    headers = bearer(token("Supervisor", Plant=["1010"], WorkCenter=["ASSY1010"]))
    assert api.get("/api/v1/work-orders?work_center=PACK1010", headers=headers).status_code == 403
    by_order = api.get(f"/api/v1/work-orders?order_id={foreign_operation[0]}", headers=headers)
    assert by_order.status_code == 200
    assert all(item["work_center"] == "ASSY1010" for item in by_order.json["items"])


def test_supervisor_of_same_work_centre_name_in_another_plant_sees_nothing_there(
    api: FlaskClient, token: Token
) -> None:
    headers = bearer(token("Supervisor", Plant=["1020"], WorkCenter=["ASSY1010"]))
    response = api.get("/api/v1/work-orders", headers=headers)
    assert response.status_code == 200
    assert response.json["items"] == []


@pytest.mark.parametrize("bad_id", ["1000000", "x-0010", "1000000-00100", "1000000-00%2710", "%27%20or%201-0010"])
def test_malformed_work_order_ids_are_not_found(api: FlaskClient, token: Token, bad_id: str) -> None:
    headers = bearer(token("Supervisor", Plant=["1010"], WorkCenter=["ASSY1010"]))
    assert api.get(f"/api/v1/work-orders/{bad_id}", headers=headers).status_code == 404
