"""A write in doubt on its last allowed attempt is still asked about, never ended blind (in-process worker)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runtime.settings import Settings
from store import Status
from tests.conftest import MockSap
from tests.integration.workers.conftest import (
    confirm_command,
    confirmations_with,
    mock_faults,
    released_operation,
)
from workers.bootstrap import WorkerContext, bootstrap, set_context
from workers.jobs import run


@pytest.fixture
def one_attempt(worker_settings: Settings) -> Iterator[WorkerContext]:
    context = bootstrap(
        worker_settings.replace(
            writeback_max_attempts=1, sap_read_timeout=0.5, writeback_in_doubt_settle=60, writeback_in_doubt_check=0
        )
    )
    context.redis.flushdb()
    set_context(context)
    yield context
    set_context(None)
    context.close()


def test_the_last_attempt_timing_out_is_asked_about_not_dead_lettered(
    one_attempt: WorkerContext, trusting_sap: MockSap
) -> None:
    operation = released_operation(trusting_sap, skip=40)
    command = confirm_command(one_attempt, operation)
    # SAP posts the confirmation, then answers after the worker stopped waiting.
    mock_faults(
        trusting_sap, service="API_PROD_ORDER_CONFIRMATION_2_SRV", methods=["POST"], phase="after", latency_ms=1500
    )

    first = run(one_attempt, command.id)
    assert first is not None and first.status == Status.IN_DOUBT and first.attempts == 1

    # Out of attempts, yet the write may be in SAP: the next attempt asks, and SAP shows it.
    second = run(one_attempt, command.id)
    assert second is not None and second.status == Status.SUCCEEDED
    assert second.result is not None and second.result["applied_by_earlier_attempt"] is True
    assert len(confirmations_with(trusting_sap, command.id)) == 1
