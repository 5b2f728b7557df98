"""Mock administration: fault injection (runtime and CLI), stats, health, reset to the seed."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import requests

from .conftest import PRODCONF, PRODORD, SERVICE_PATHS, TASKS, Sap, assert_sap_error, new_session

if TYPE_CHECKING:
    from tests.conftest import MockSap

ORDERS = "A_ProductionOrder_2"


@pytest.fixture
def faults(mock_sap: MockSap) -> Iterator[Callable[..., requests.Response]]:
    """Factory: `faults(service, **options)` posts a fault; all faults are deleted afterwards."""

    def inject(service: str, **options: Any) -> requests.Response:
        response = requests.post(f"{mock_sap.url}/mock-admin/faults", json={"service": service, **options}, timeout=10)
        assert response.status_code in (200, 201, 204), response.text
        return response

    yield inject
    requests.delete(f"{mock_sap.url}/mock-admin/faults", timeout=10).raise_for_status()


def clear_faults(mock_sap: MockSap) -> None:
    response = requests.delete(f"{mock_sap.url}/mock-admin/faults", timeout=10)
    assert response.status_code in (200, 204)


def read_orders(sap: Sap, timeout: float = 30) -> requests.Response:
    return sap.session.get(
        sap.url(PRODORD, ORDERS, {"$top": "1"}), headers={"Accept": "application/json"}, timeout=timeout
    )


def test_health(mock_sap: MockSap):
    response = requests.get(f"{mock_sap.url}/mock-admin/health", timeout=10)
    assert response.status_code == 200


def test_status_fault_with_rate_one_hits_only_that_service_until_deleted(
    tech: Sap, faults: Callable[..., requests.Response], mock_sap: MockSap
):
    faults(PRODORD, status=503, rate=1.0)
    for _ in range(5):
        assert read_orders(tech).status_code == 503
    assert tech.get(PRODCONF, "ProdnOrdConf2", {"$top": "1"}).status_code == 200
    clear_faults(mock_sap)
    assert read_orders(tech).status_code == 200


def test_status_fault_applies_to_writes_and_metadata_too(tech: Sap, faults: Callable[..., requests.Response]):
    tech.fetch_csrf(PRODORD)
    faults(PRODORD, status=500, rate=1.0)
    assert tech.get(PRODORD, "$metadata").status_code == 500
    assert tech.call(PRODORD, "ReleaseOrder", ManufacturingOrder="'1'").status_code == 500


def test_fault_rate_is_probabilistic(tech: Sap, faults: Callable[..., requests.Response]):
    faults(PRODORD, status=503, rate=0.5)
    statuses = [read_orders(tech).status_code for _ in range(60)]
    assert set(statuses) == {200, 503}, "with rate 0.5, 60 requests see both outcomes (p of failure ~1e-18)"


def test_retry_after_header(tech: Sap, faults: Callable[..., requests.Response]):
    faults(PRODORD, status=503, rate=1.0, retry_after=7)
    response = read_orders(tech)
    assert response.status_code == 503
    assert response.headers.get("Retry-After") == "7"


def test_latency(tech: Sap, faults: Callable[..., requests.Response]):
    started = time.monotonic()
    assert read_orders(tech).status_code == 200
    baseline = time.monotonic() - started
    faults(PRODORD, latency_ms=400)
    started = time.monotonic()
    assert read_orders(tech).status_code == 200
    elapsed = time.monotonic() - started
    assert elapsed >= 0.4, elapsed
    assert elapsed >= baseline + 0.3


def test_drop_closes_the_connection(tech: Sap, faults: Callable[..., requests.Response]):
    faults(PRODORD, drop=True, rate=1.0)
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        read_orders(tech, timeout=10)
    assert tech.get(TASKS, "$metadata").status_code == 200


def test_hang_never_answers(tech: Sap, faults: Callable[..., requests.Response]):
    faults(PRODORD, hang=True, rate=1.0)
    with pytest.raises(requests.ReadTimeout):
        read_orders(tech, timeout=1.0)


def test_locked_answers_423_with_sap_error(tech: Sap, faults: Callable[..., requests.Response]):
    ops = tech.results(PRODORD, "A_ProductionOrderOperation_2", {"$filter": "OperationIsReleased eq 'X'", "$top": "1"})
    op = ops[0]
    faults(PRODCONF, locked=True, rate=1.0)
    body = {
        "OrderID": op["ManufacturingOrder"],
        "OrderOperation": op["ManufacturingOrderOperation"],
        "Sequence": op["ManufacturingOrderSequence"],
        "ConfirmationYieldQuantity": "1",
        "ConfirmationUnit": op["OperationUnit"],
        "ExternalSystemConfirmation": str(uuid.uuid4()),
    }
    response = tech.write("POST", PRODCONF, "ProdnOrdConf2", body=body)
    assert_sap_error(response, 423)
    filtered = {"$filter": f"ExternalSystemConfirmation eq guid'{body['ExternalSystemConfirmation']}'"}
    assert tech.results(PRODCONF, "ProdnOrdConf2", filtered) == []


def test_csrf_expire_forces_a_refetch(tech: Sap, faults: Callable[..., requests.Response]):
    orders = tech.results(PRODORD, ORDERS, {"$filter": "OrderIsReleased eq ''", "$top": "2"})
    token = tech.fetch_csrf(PRODORD)
    faults(PRODORD, csrf_expire=True)
    response = tech.write(
        "POST", PRODORD, "ReleaseOrder", {"ManufacturingOrder": f"'{orders[0]['ManufacturingOrder']}'"}
    )
    assert response.status_code == 403
    assert response.headers.get("x-csrf-token", "").lower() == "required"
    new_token = tech.fetch_csrf(PRODORD)
    assert new_token != token
    response = tech.write(
        "POST", PRODORD, "ReleaseOrder", {"ManufacturingOrder": f"'{orders[1]['ManufacturingOrder']}'"}
    )
    assert response.status_code == 200, response.text


def test_delete_faults_restores_service(tech: Sap, faults: Callable[..., requests.Response], mock_sap: MockSap):
    faults(PRODORD, status=503, rate=1.0)
    faults(TASKS, status=502, rate=1.0)
    assert read_orders(tech).status_code == 503
    clear_faults(mock_sap)
    assert read_orders(tech).status_code == 200
    assert tech.get(TASKS, "$metadata").status_code == 200


def test_fault_given_on_the_command_line(mock_sap_factory: Callable[..., MockSap]):
    server = mock_sap_factory("--fault", json.dumps({"service": PRODCONF, "status": 503, "rate": 1.0}))
    session = new_session("EXT_API_TECH")
    root = server.url
    assert session.get(f"{root}{SERVICE_PATHS[PRODCONF]}ProdnOrdConf2", timeout=30).status_code == 503
    assert session.get(f"{root}{SERVICE_PATHS[PRODORD]}{ORDERS}?$top=1", timeout=30).status_code == 200
    requests.delete(f"{root}/mock-admin/faults", timeout=10).raise_for_status()
    assert session.get(f"{root}{SERVICE_PATHS[PRODCONF]}ProdnOrdConf2", timeout=30).status_code == 200


def _numbers(node: Any, path: str = "") -> dict[str, float]:
    if isinstance(node, bool):
        return {}
    if isinstance(node, int | float):
        return {path: node}
    if isinstance(node, dict):
        found: dict[str, float] = {}
        for key, value in node.items():
            found.update(_numbers(value, f"{path}/{key}"))
        return found
    if isinstance(node, list):
        found = {}
        for i, value in enumerate(node):
            found.update(_numbers(value, f"{path}/{i}"))
        return found
    return {}


def stats(mock_sap: MockSap) -> dict[str, float]:
    response = requests.get(f"{mock_sap.url}/mock-admin/stats", timeout=10)
    assert response.status_code == 200
    return _numbers(response.json())


def test_stats_count_requests_per_service_and_method_and_csrf_fetches(tech: Sap, mock_sap: MockSap):
    before = stats(mock_sap)
    for _ in range(3):
        assert read_orders(tech).status_code == 200
    tech.fetch_csrf(PRODCONF)
    after = stats(mock_sap)
    delta = {path: after[path] - before.get(path, 0) for path in after}
    get_orders = [p for p, d in delta.items() if PRODORD.lower() in p.lower() and "get" in p.lower() and d >= 3]
    assert get_orders, f"no per-service GET counter grew by 3: {delta}"
    csrf = [p for p, d in delta.items() if "csrf" in p.lower() and d >= 1]
    assert csrf, f"no CSRF fetch counter grew: {delta}"


def test_reset_restores_the_seed(tech: Sap, mock_sap: MockSap):
    confirmations_before = tech.get(PRODCONF, "ProdnOrdConf2/$count").text
    order = tech.results(PRODORD, ORDERS, {"$filter": "OrderIsReleased eq ''", "$top": "1"})[0]
    key = order["ManufacturingOrder"]
    assert tech.write("POST", PRODORD, "ReleaseOrder", {"ManufacturingOrder": f"'{key}'"}).status_code == 200
    assert tech.read(PRODORD, f"{ORDERS}('{key}')")["OrderIsReleased"] == "X"
    op = tech.results(PRODORD, "A_ProductionOrderOperation_2", {"$filter": f"ManufacturingOrder eq '{key}'"})[0]
    body = {
        "OrderID": key,
        "OrderOperation": op["ManufacturingOrderOperation"],
        "Sequence": op["ManufacturingOrderSequence"],
        "ConfirmationYieldQuantity": "1",
        "ConfirmationUnit": op["OperationUnit"],
    }
    assert tech.write("POST", PRODCONF, "ProdnOrdConf2", body=body).status_code == 201
    assert tech.get(PRODCONF, "ProdnOrdConf2/$count").text != confirmations_before
    response = requests.post(f"{mock_sap.url}/mock-admin/reset", timeout=30)
    assert response.status_code in (200, 204)
    restored = tech.read(PRODORD, f"{ORDERS}('{key}')")
    assert restored["OrderIsReleased"] == ""
    assert restored["LastChangeDateTime"] == order["LastChangeDateTime"]
    assert tech.get(PRODCONF, "ProdnOrdConf2/$count").text == confirmations_before


def test_reset_is_deterministic(tech: Sap, mock_sap: MockSap):
    first = tech.collect(PRODORD, ORDERS, {"$orderby": "ManufacturingOrder"})[0]
    requests.post(f"{mock_sap.url}/mock-admin/reset", timeout=30).raise_for_status()
    second = tech.collect(PRODORD, ORDERS, {"$orderby": "ManufacturingOrder"})[0]
    assert first == second
