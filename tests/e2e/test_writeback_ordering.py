"""Several workers on PostgreSQL: the commands of one order reach SAP one at a time and in the order they were
accepted, while the commands of different orders are applied side by side.

Real `python -m workers` processes over one PostgreSQL store; the order SAP posted the confirmations in is read
back from SAP (ConfirmationCount counts up per operation).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from store import Command, Status
from tests.conftest import MockSap
from tests.e2e.writeback_env import Workers, workers_on
from tests.integration.store.conftest import postgres_url
from tests.integration.workers.conftest import CONF, PRODORD, mock_faults, sap_get

__all__ = ["postgres_url"]
CONFIRMATION_SERVICE = "API_PROD_ORDER_CONFIRMATION_2_SRV"
# More workers than orders: the next commands of an order are picked up while the one before them still runs.
WORKERS = 4
ORDERS = 2
PER_ORDER = 5


@pytest.fixture
def pg_workers(
    postgres_url: str, redis_url: str, trusting_sap: MockSap, tmp_path: Path, dev_idp_key_file: str
) -> Iterator[Workers]:
    """The `workers` fixture over a fresh PostgreSQL schema instead of a SQLite file."""
    base = make_url(postgres_url)
    if base.drivername == "postgresql":
        base = base.set(drivername="postgresql+psycopg")
    schema = f"e2e_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    try:
        with workers_on(redis_url, trusting_sap, tmp_path, dev_idp_key_file, database_url=url) as running:
            yield running
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _operations(sap: MockSap, count: int) -> list[dict[str, Any]]:
    """Released, open operations of `count` different orders, each with enough to go for PER_ORDER confirmations."""
    rows = sap_get(
        sap,
        f"{PRODORD}/A_ProductionOrderOperation_2",
        **{"$filter": "OperationIsReleased eq 'X' and OperationIsConfirmed eq ''", "$top": "200"},
    )["results"]
    by_order: dict[str, dict[str, Any]] = {}
    for row in rows:
        to_go = Decimal(row["OpPlannedTotalQuantity"]) - Decimal(row["OpTotalConfirmedYieldQty"])
        if to_go > PER_ORDER:
            by_order.setdefault(row["ManufacturingOrder"], dict(row))
    assert len(by_order) >= count, "the seed has too few released orders"
    return list(by_order.values())[:count]


def _sap_order(sap: MockSap, operation: dict[str, Any], commands: list[Command]) -> list[str]:
    """The commands' ids in the order SAP posted their confirmations."""
    rows = sap_get(
        sap,
        f"{CONF}/ProdnOrdConf2",
        **{"$filter": f"OrderID eq '{operation['ManufacturingOrder']}'", "$top": "500"},
    )["results"]
    ours = {c.id for c in commands}
    posted = sorted(
        (int(row["ConfirmationCount"]), str(uuid.UUID(row["ExternalSystemConfirmation"])))
        for row in rows
        if row["ExternalSystemConfirmation"] and str(uuid.UUID(row["ExternalSystemConfirmation"])) in ours
    )
    return [external_id for _, external_id in posted]


def _attempt_spans(workers: Workers, command: Command) -> list[tuple[datetime, datetime]]:
    """(attempt_started, the attempt's outcome) of each attempt, from the audit trail."""
    events = sorted(workers.context.store.list_audit(command_id=command.id).items, key=lambda e: e.id)
    starts = [e.at for e in events if e.event == "attempt_started"]
    ends = [e.at for e in events if e.event in ("attempt_succeeded", "attempt_failed", "in_doubt", "rejected")]
    assert len(starts) == len(ends), [e.event for e in events]
    return list(zip(starts, ends, strict=True))


def _all_succeeded(workers: Workers, commands: list[Command]) -> list[Command]:
    ended = [workers.ended(c.id, timeout=120) for c in commands]
    assert [c.status for c in ended] == [Status.SUCCEEDED] * len(ended), [(c.status, c.last_error) for c in ended]
    return ended


def test_commands_of_one_order_keep_their_order_while_orders_run_in_parallel(
    pg_workers: Workers, trusting_sap: MockSap
) -> None:
    # SAP takes a while over each confirmation, so the workers overlap and every order has a queue to keep.
    mock_faults(trusting_sap, service=CONFIRMATION_SERVICE, methods=["POST"], latency_ms=300)
    operations = _operations(trusting_sap, ORDERS)
    by_order: dict[str, list[Command]] = {op["ManufacturingOrder"]: [] for op in operations}
    for _ in range(PER_ORDER):  # interleaved, as the supervisors of the orders would send them
        for operation in operations:
            by_order[operation["ManufacturingOrder"]].append(pg_workers.confirm(operation))
    for _ in range(WORKERS):
        pg_workers.start()

    _all_succeeded(pg_workers, [c for commands in by_order.values() for c in commands])

    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for operation in operations:
        commands = by_order[operation["ManufacturingOrder"]]
        assert _sap_order(trusting_sap, operation, commands) == [c.id for c in commands]
        spans[operation["ManufacturingOrder"]] = [span for c in commands for span in _attempt_spans(pg_workers, c)]
        # One at a time: each attempt of the order starts after the one before it ended.
        order_spans = spans[operation["ManufacturingOrder"]]
        assert all(later[0] >= earlier[1] for earlier, later in zip(order_spans, order_spans[1:], strict=False))
    # Side by side: attempts of different orders overlapped in time.
    first, *others = spans.values()
    assert any(a[0] < b[1] and b[0] < a[1] for a in first for other in others for b in other)
    assert pg_workers.context.store.verify_chain().ok
