"""WORKER_HEARTBEAT_INTERVAL and what is derived from it; the RECONCILE_RUNNING_AFTER it replaces is refused."""

from __future__ import annotations

import pytest

from runtime.settings import ConfigError, from_env
from workers.heartbeat import reclaim_period, stale_after


def test_the_heartbeat_interval_defaults_to_five_seconds_and_sets_the_stale_threshold() -> None:
    settings = from_env({})
    assert settings.worker_heartbeat_interval == 5.0
    assert stale_after(settings) == 7.5
    assert reclaim_period(settings) == 2.5  # below RECONCILE_INTERVAL's 5 s: reclaimed within 2 intervals
    fast = from_env({"WORKER_HEARTBEAT_INTERVAL": "1", "RECONCILE_INTERVAL": "0.3"})
    assert (stale_after(fast), reclaim_period(fast)) == (1.5, 0.3)
    assert stale_after(fast) + reclaim_period(fast) <= 2 * fast.worker_heartbeat_interval


@pytest.mark.parametrize("raw", ["0", "-1", "soon"])
def test_a_heartbeat_interval_that_is_not_a_positive_number_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="WORKER_HEARTBEAT_INTERVAL"):
        from_env({"WORKER_HEARTBEAT_INTERVAL": raw})


def test_the_replaced_running_threshold_is_refused_rather_than_ignored() -> None:
    with pytest.raises(ConfigError, match="RECONCILE_RUNNING_AFTER is no longer used.*WORKER_HEARTBEAT_INTERVAL"):
        from_env({"RECONCILE_RUNNING_AFTER": "600"})


def test_the_retired_busy_wait_is_refused_not_ignored() -> None:
    with pytest.raises(ConfigError, match="WRITEBACK_BUSY_WAIT is no longer used"):
        from_env({"WRITEBACK_BUSY_WAIT": "5"})
