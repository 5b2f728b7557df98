"""Worker tests: a worker context on the session's Redis (own DB), a fresh SQLite store and a live mock SAP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from runtime.settings import Settings
from store import Command, NewCommand
from tests.conftest import MockSap, vapid_key_file
from workers.bootstrap import WorkerContext, bootstrap, set_context

TECH = ("EXT_API_TECH", "tech-pass-1")
USER_PASSWORD = "user-pass-1"
PRODORD = "/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV"
CONF = "/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV"
TASKS = "/sap/opu/odata/IWPGW/TASKPROCESSING;mo;v=2"
WORKER_REDIS_DB = 5  # the worker tests' own database on the session's Redis server


def redis_db_url(redis_url: str, db: int = WORKER_REDIS_DB) -> str:
    return redis_url.rsplit("/", 1)[0] + f"/{db}"


@pytest.fixture
def worker_settings(redis_url: str, trusting_sap: MockSap, tmp_path: Path, dev_idp_key_file: str) -> Settings:
    """Small back-off and bounds so that retries happen within a test."""
    return Settings(
        redis_url=redis_db_url(redis_url),
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        sap_url=trusting_sap.url,
        dev_idp_key_file=dev_idp_key_file,
        vapid_key_file=vapid_key_file(dev_idp_key_file),
        log_level="WARNING",
        writeback_max_attempts=3,
        writeback_backoff_base=0.05,
        writeback_backoff_max=0.2,
        reconcile_interval=0.2,
        reconcile_accepted_after=0.0,
        worker_heartbeat_interval=40.0,  # a running command is reclaimed after 60 s without a heartbeat
    )


@pytest.fixture
def context(worker_settings: Settings) -> Iterator[WorkerContext]:
    context = bootstrap(worker_settings)
    context.redis.flushdb()
    set_context(context)
    yield context
    set_context(None)
    context.redis.flushdb()
    context.close()


def accept(
    context: WorkerContext,
    type: str,
    payload: dict[str, Any],
    *,
    user: str,
    role: str,
    target: tuple[str, str],
    attributes: dict[str, list[str]] | None = None,
    if_match: str | None = None,
) -> Command:
    """What the web layer does before enqueueing: store the command with its snapshot."""
    command, created = context.store.accept(
        NewCommand(
            type=type,
            requested_by=user,
            role=role,
            target_type=target[0],
            target_id=target[1],
            payload=payload,
            idempotency_key=str(uuid.uuid4()),
            attributes=attributes or {},
            if_match=if_match,
            correlation_id=f"req-{uuid.uuid4().hex[:12]}",
        )
    )
    assert created
    return command


def sap_get(sap: MockSap, path: str, auth: tuple[str, str] = TECH, **params: str) -> Any:
    response = requests.get(f"{sap.url}{path}", params={"$format": "json", **params}, auth=auth, timeout=30)
    response.raise_for_status()
    return response.json()["d"]


def released_operation(sap: MockSap, plant: str = "1010", skip: int = 0) -> dict[str, Any]:
    """An open, released operation (and so a released order) in `plant`."""
    rows = sap_get(
        sap,
        f"{PRODORD}/A_ProductionOrderOperation_2",
        **{
            "$filter": f"OperationIsReleased eq 'X' and OperationIsConfirmed eq '' and ProductionPlant eq '{plant}'",
            "$top": "1",
            "$skip": str(skip),
        },
    )["results"]
    assert rows, f"the seed has no released operation in plant {plant}"
    return dict(rows[0])


def order(sap: MockSap, order_id: str) -> dict[str, Any]:
    return dict(sap_get(sap, f"{PRODORD}/A_ProductionOrder_2('{order_id}')"))


def created_order(sap: MockSap, plant: str = "1010") -> dict[str, Any]:
    rows = sap_get(
        sap,
        f"{PRODORD}/A_ProductionOrder_2",
        **{"$filter": f"OrderIsReleased eq '' and ProductionPlant eq '{plant}'", "$top": "1"},
    )["results"]
    assert rows
    return dict(rows[0])


def confirmations_with(sap: MockSap, external_id: str) -> list[dict[str, Any]]:
    rows = sap_get(sap, f"{CONF}/ProdnOrdConf2", **{"$filter": f"ExternalSystemConfirmation eq guid'{external_id}'"})[
        "results"
    ]
    return [dict(r) for r in rows]


def inbox(sap: MockSap, user: str) -> list[dict[str, Any]]:
    return [dict(r) for r in sap_get(sap, f"{TASKS}/TaskCollection", auth=(user, USER_PASSWORD))["results"]]


def positive_decision(sap: MockSap, user: str, task: dict[str, Any]) -> str:
    return decision_key(sap, user, task, "POSITIVE")


def decision_key(sap: MockSap, user: str, task: dict[str, Any], nature: str) -> str:
    """SAP's DecisionKey for the POSITIVE or NEGATIVE option of the task."""
    options = sap_get(
        sap,
        f"{TASKS}/DecisionOptions",
        auth=(user, USER_PASSWORD),
        SAP__Origin=f"'{task['SAP__Origin']}'",
        InstanceID=f"'{task['InstanceID']}'",
    )
    rows = options["results"] if isinstance(options, dict) and "results" in options else options
    return str(next(o["DecisionKey"] for o in rows if o["Nature"] == nature))


def decide_in_sap(sap: MockSap, user: str, task: dict[str, Any], key: str, comments: str = "") -> None:
    """The user decides in SAP directly (My Inbox, SAP GUI), not through us."""
    session = requests.Session()
    session.auth = (user, USER_PASSWORD)
    token = session.head(f"{sap.url}{TASKS}/", headers={"X-CSRF-Token": "Fetch"}, timeout=10).headers["x-csrf-token"]
    session.post(
        f"{sap.url}{TASKS}/Decision",
        params={
            "SAP__Origin": f"'{task['SAP__Origin']}'",
            "InstanceID": f"'{task['InstanceID']}'",
            "DecisionKey": f"'{key}'",
            "Comments": f"'{comments}'",
        },
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
        timeout=10,
    ).raise_for_status()


def confirm_payload(operation: dict[str, Any], quantity: str = "1") -> dict[str, Any]:
    return {
        "order_id": operation["ManufacturingOrder"],
        "operation": operation["ManufacturingOrderOperation"],
        "sequence": operation["ManufacturingOrderSequence"],
        "plant": operation["ProductionPlant"],
        "work_center": operation["WorkCenter"],
        "yield_quantity": {"value": quantity, "unit": operation["OperationUnit"]},
        "is_final": False,
        "text": "worker test",
    }


def confirm_command(context: WorkerContext, operation: dict[str, Any], **overrides: Any) -> Command:
    return accept(
        context,
        "operation.confirm",
        confirm_payload(operation),
        user=overrides.pop("user", "SUP_ASSY1010"),
        role=overrides.pop("role", "Supervisor"),
        target=("ProductionOrder", operation["ManufacturingOrder"]),
        attributes=overrides.pop("attributes", supervisor_attributes(operation)),
    )


def supervisor_attributes(operation: dict[str, Any]) -> dict[str, list[str]]:
    return {"Plant": [operation["ProductionPlant"]], "WorkCenter": [operation["WorkCenter"]]}


def mock_faults(sap: MockSap, **fault: Any) -> None:
    requests.post(f"{sap.url}/mock-admin/faults", json=fault, timeout=10).raise_for_status()


def clear_faults(sap: MockSap) -> None:
    requests.delete(f"{sap.url}/mock-admin/faults", timeout=10).raise_for_status()


def writes_applied(sap: MockSap) -> int:
    return int(requests.get(f"{sap.url}/mock-admin/stats", timeout=10).json()["writes_applied"])


def flush(context: WorkerContext) -> None:
    redis.Redis.from_url(context.settings.redis_url).flushdb()
