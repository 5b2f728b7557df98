"""Fixtures for odata_clients against a live mock SAP: destinations, connectivity, faults and stats."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import requests

from odata_clients.connectivity import SapConnectivity
from odata_clients.destinations import Destination, build_destination

if TYPE_CHECKING:
    from tests.conftest import MockSap

TECH_USER = "EXT_API_TECH"
TECH_PASSWORD = "tech-pass-1"
USER_PASSWORD = "user-pass-1"
PRODORD = "API_PRODUCTION_ORDER_2_SRV"
PRODCONF = "API_PROD_ORDER_CONFIRMATION_2_SRV"
TASKS = "TASKPROCESSING"


def destination(url: str, user: str = TECH_USER, **tuning: Any) -> Destination:
    """A destination tuned for tests: quick back-off, a breaker that stays out of the way unless asked."""
    defaults: dict[str, Any] = {
        "connect_timeout": 2.0,
        "read_timeout": 15.0,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "breaker_failure_threshold": 1000,
    }
    password = TECH_PASSWORD if user == TECH_USER else USER_PASSWORD
    return build_destination("s4", url, user=user, password=password, **{**defaults, **tuning})


@pytest.fixture
def connect(mock_sap: MockSap) -> Iterator[Callable[..., SapConnectivity]]:
    """Factory: `connect(**tuning)` -> SapConnectivity on the mock, technical user unless `user=`."""
    made: list[SapConnectivity] = []

    def factory(user: str = TECH_USER, metadata_dir: str | None = None, **tuning: Any) -> SapConnectivity:
        connectivity = SapConnectivity(destination(mock_sap.url, user, **tuning), metadata_dir=metadata_dir)
        made.append(connectivity)
        return connectivity

    yield factory
    for connectivity in made:
        connectivity.close()


@pytest.fixture
def sap(connect: Callable[..., SapConnectivity]) -> SapConnectivity:
    return connect()


@pytest.fixture
def faults(mock_sap: MockSap) -> Iterator[Callable[..., None]]:
    """`faults(service, **options)` injects a fault into the mock; all are removed afterwards."""

    def inject(service: str, **options: Any) -> None:
        response = requests.post(f"{mock_sap.url}/mock-admin/faults", json={"service": service, **options}, timeout=10)
        assert response.status_code in (200, 201, 204), response.text

    yield inject
    requests.delete(f"{mock_sap.url}/mock-admin/faults", timeout=10).raise_for_status()


def clear_faults(mock_sap: MockSap) -> None:
    requests.delete(f"{mock_sap.url}/mock-admin/faults", timeout=10).raise_for_status()


def _numbers(node: Any, path: str = "") -> dict[str, float]:
    if isinstance(node, bool):
        return {}
    if isinstance(node, int | float):
        return {path: node}
    found: dict[str, float] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            found.update(_numbers(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.update(_numbers(value, f"{path}/{index}"))
    return found


def stats(mock_sap: MockSap) -> dict[str, float]:
    response = requests.get(f"{mock_sap.url}/mock-admin/stats", timeout=10)
    response.raise_for_status()
    return _numbers(response.json())


def csrf_fetches(before: dict[str, float], after: dict[str, float]) -> float:
    """CSRF fetches between two stats snapshots (the largest csrf counter delta: total or per service)."""
    deltas = [after[p] - before.get(p, 0) for p in after if "csrf" in p.lower() and "fetch" in p.lower()]
    if not deltas:
        deltas = [after[p] - before.get(p, 0) for p in after if "csrf" in p.lower()]
    assert deltas, f"the mock's stats have no CSRF counter: {sorted(after)}"
    return max(deltas)


def total_requests(before: dict[str, float], after: dict[str, float]) -> float:
    deltas = [after[p] - before.get(p, 0) for p in after if "request" in p.lower() and "total" in p.lower()]
    if not deltas:
        deltas = [after[p] - before.get(p, 0) for p in after if "csrf" not in p.lower()]
    return max(deltas) if deltas else 0
