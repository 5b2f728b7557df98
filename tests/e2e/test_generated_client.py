"""A typed client generated from the served /openapi.json drives each role's main flow against the live stack."""

# The API listens on a real port (werkzeug in a thread), a real `python -m workers` applies the writebacks to the
# live mock SAP, and tokens come from the development identity provider. If the generated client cannot read
# something, the document is wrong: fix the document, not this test.

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from app.dev_idp import mint_token
from devenv.redis_server import free_port
from runtime.settings import Settings
from tests.conftest import MockSap, local_settings, migrated_app
from tests.e2e.writeback_env import poll

ROOT = Path(__file__).resolve().parents[2]
REDIS_DB = 9  # this test's own database on the session's Redis server
PACKAGE = "sapx_client"
# No post hooks: the generator would run ruff over the code; the client is imported as generated.
GENERATOR_CONFIG = f"package_name_override: {PACKAGE}\nproject_name_override: {PACKAGE}\npost_hooks: []\n"
FINAL = {"succeeded", "rejected", "conflict", "dead", "discarded"}


@dataclass
class Stack:
    url: str
    settings: Settings


@pytest.fixture
def stack(redis_url: str, trusting_sap: MockSap, tmp_path: Path, dev_idp_key_file: str) -> Iterator[Stack]:
    """The API on a real port and one worker, over one store, one Redis db and the live mock SAP."""
    settings = local_settings(
        redis_url, trusting_sap, tmp_path, dev_idp_key_file, redis_db=REDIS_DB, log_level="WARNING"
    )
    app = migrated_app(settings)
    app.extensions["redis"].flushdb()
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {
        **os.environ,
        "APP_ENV": "development",
        "REDIS_URL": settings.redis_url,
        "DATABASE_URL": settings.database_url,
        "SAP_URL": settings.sap_url,
        "DEV_IDP_KEY_FILE": settings.dev_idp_key_file,
        "LOG_LEVEL": "WARNING",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "workers"], cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL
    )
    try:
        yield Stack(url=f"http://127.0.0.1:{server.server_port}", settings=settings)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def generated(stack: Stack, tmp_path: Path) -> Iterator[ModuleType]:
    """The client package generated from the document the running API serves, imported from tmp_path."""
    document = tmp_path / "openapi.json"
    response = requests.get(f"{stack.url}/openapi.json", timeout=30)
    response.raise_for_status()
    document.write_bytes(response.content)
    config = tmp_path / "generator.yaml"
    config.write_text(GENERATOR_CONFIG)
    out = tmp_path / "generated"
    result = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(document), "--config", str(config)]
        + ["--meta", "none", "--output-path", str(out / PACKAGE), "--fail-on-warning"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # A warning means part of the document could not be turned into types: that is a bug in the document.
    assert result.returncode == 0, f"generation failed or warned:\n{result.stdout}\n{result.stderr}"
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


class Typed:
    """The generated package's api modules and models, by name."""

    def __init__(self, package: ModuleType) -> None:
        self.package = package
        self.models = importlib.import_module(f"{PACKAGE}.models")
        self.errors = importlib.import_module(f"{PACKAGE}.errors")

    def api(self, tag: str, operation: str) -> Any:
        return importlib.import_module(f"{PACKAGE}.api.{tag}.{operation}")

    def client(self, url: str, token: str) -> Any:
        # An undocumented status raises instead of parsing to None: the document must name every status we send.
        return self.package.AuthenticatedClient(base_url=url, token=token, raise_on_unexpected_status=True)


def wait_final(typed: Typed, client: Any, writeback_id: str) -> Any:
    get_status = typed.api("writebacks", "get_writeback_status")

    def finished() -> Any:
        writeback = get_status.sync(writeback_id=writeback_id, client=client)
        assert isinstance(writeback, typed.models.Writeback)
        return writeback if writeback.status.value in FINAL else None

    return poll(finished, 60, f"writeback {writeback_id} to finish", interval=0.2)


@pytest.mark.slow
def test_generated_client_drives_every_role(stack: Stack, generated: ModuleType) -> None:
    typed = Typed(generated)
    models = typed.models
    token = mint_token  # the development identity provider, as `flask dev-token` mints them
    executive = typed.client(stack.url, token(stack.settings, "EXEC_ANNA", ["Executive"], {}))
    plant_manager = typed.client(stack.url, token(stack.settings, "PM_1010", ["PlantManager"], {"Plant": ["1010"]}))
    supervisor = typed.client(
        stack.url,
        token(stack.settings, "SUP_ASSY1010", ["Supervisor"], {"Plant": ["1010"], "WorkCenter": ["ASSY1010"]}),
    )

    me = typed.api("me", "get_me").sync(client=supervisor)
    assert isinstance(me, models.Me)
    assert me.user == "SUP_ASSY1010" and [role.value for role in me.roles] == ["Supervisor"]

    # Executive: the queue, one task with its requisition, a decision that becomes a writeback, applied in SAP.
    page = typed.api("approvals", "list_approvals").sync(client=executive, limit=5)
    assert isinstance(page, models.ApprovalPage) and page.items
    task = next((item for item in page.items if item.object_id), page.items[0])
    assert isinstance(task.priority, models.TaskPriority) and isinstance(task.status, models.TaskStatus)
    detail = typed.api("approvals", "get_approval").sync(approval_id=task.id, client=executive)
    assert isinstance(detail, models.ApprovalDetail) and detail.id == task.id
    if detail.purchase_requisition is not None:
        item = detail.purchase_requisition.items[0]
        assert isinstance(item.quantity, models.Quantity)
        assert Decimal(item.quantity.value) > 0 and item.quantity.unit
    options = typed.api("approvals", "list_decision_options").sync(approval_id=task.id, client=executive)
    assert {option.nature for option in options.items} >= {models.DecisionNature.POSITIVE}
    decided = typed.api("approvals", "decide_approval").sync_detailed(
        approval_id=task.id,
        client=executive,
        body=models.Decision(decision=models.ApprovalDecision.APPROVE, comment="approved from a generated client"),
        idempotency_key=str(uuid.uuid4()),
    )
    assert decided.status_code == HTTPStatus.ACCEPTED
    writeback = decided.parsed
    assert isinstance(writeback, models.Writeback)
    assert writeback.type_ == models.WritebackType.TASK_DECISION and writeback.target.id == task.id
    assert decided.headers["location"].endswith(f"/api/v1/writebacks/{writeback.id}")
    assert wait_final(typed, executive, writeback.id).status == models.WritebackStatus.SUCCEEDED

    # Plant manager: the orders of plant 1010, and one with its operations and statuses.
    orders = typed.api("production_orders", "list_production_orders").sync(client=plant_manager, limit=5)
    assert isinstance(orders, models.ProductionOrderPage) and orders.items
    assert all(order.plant == "1010" for order in orders.items)
    order = typed.api("production_orders", "get_production_order").sync(
        order_id=orders.items[0].order_id, client=plant_manager
    )
    assert isinstance(order, models.ProductionOrderDetail)
    assert isinstance(order.planned_quantity, models.Quantity) and Decimal(order.planned_quantity.value) > 0
    assert order.confirmed_yield is None or isinstance(order.confirmed_yield, models.Quantity)
    assert order.operations and all(isinstance(op.quantity_to_go, models.Quantity) for op in order.operations)

    # Supervisor: a work order with something to go, confirmed with the operation's own unit.
    work_orders = typed.api("work_orders", "list_work_orders").sync(client=supervisor, limit=50)
    assert isinstance(work_orders, models.WorkOrderPage)
    work = next(item for item in work_orders.items if Decimal(item.quantity_to_go.value) >= 1)
    unit = work.planned_quantity.unit
    done_before = Decimal(work.confirmed_yield.value)
    confirm = typed.api("work_orders", "confirm_work_order")
    confirmed = confirm.sync_detailed(
        work_order_id=work.id,
        client=supervisor,
        body=models.Confirmation(yield_quantity="1", unit=unit, text="generated client"),
        idempotency_key=str(uuid.uuid4()),
    )
    assert confirmed.status_code == HTTPStatus.ACCEPTED and isinstance(confirmed.parsed, models.Writeback)
    assert wait_final(typed, supervisor, confirmed.parsed.id).status == models.WritebackStatus.SUCCEEDED
    after = typed.api("work_orders", "get_work_order").sync(work_order_id=work.id, client=supervisor)
    assert isinstance(after, models.WorkOrder)
    assert Decimal(after.confirmed_yield.value) == done_before + 1 and after.confirmed_yield.unit == unit

    # Errors are typed too: the 422 for a wrong unit names the unit to use.
    wrong_unit = "KG" if unit.upper() != "KG" else "PC"
    refused = confirm.sync_detailed(
        work_order_id=work.id,
        client=supervisor,
        body=models.Confirmation(yield_quantity="1", unit=wrong_unit),
        idempotency_key=str(uuid.uuid4()),
    )
    assert refused.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    error = refused.parsed
    assert isinstance(error, models.Error)
    assert error.code == 422 and error.status == "Unprocessable Entity"
    assert f"confirm in {unit}" in error.message and error.request_id

    missing = typed.api("work_orders", "get_work_order").sync_detailed(work_order_id="9999999-9999", client=supervisor)
    assert missing.status_code == HTTPStatus.NOT_FOUND and isinstance(missing.parsed, models.Error)
    assert missing.parsed.code == 404

    anonymous = typed.package.Client(base_url=stack.url, raise_on_unexpected_status=True)
    unauthenticated = typed.api("me", "get_me").sync_detailed(client=anonymous)
    assert unauthenticated.status_code == HTTPStatus.UNAUTHORIZED and isinstance(unauthenticated.parsed, models.Error)
    assert "bearer token" in unauthenticated.parsed.message
