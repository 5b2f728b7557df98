"""The Prometheus alerting rules pass their `promtool test rules` unit tests, and match the watchdog's names."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from workers import watchdog

RULES = Path(__file__).resolve().parents[3] / "monitoring" / "prometheus"


def test_promtool_rule_unit_tests_pass() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not found: install Debian's `prometheus` package (apt-get install prometheus)")
    checked = subprocess.run([promtool, "check", "rules", "alerts.yml"], cwd=RULES, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", "alerts.test.yml"], cwd=RULES, capture_output=True, text=True, timeout=60
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_rule_has_firing_and_quiet_cases_and_matches_the_watchdog() -> None:
    rules = yaml.safe_load((RULES / "alerts.yml").read_text())["groups"][0]["rules"]
    names = {rule["alert"] for rule in rules}
    assert names == set(watchdog.ALERTS)
    cases = yaml.safe_load((RULES / "alerts.test.yml").read_text())["tests"]
    checks = [check for case in cases for check in case["alert_rule_test"]]
    for name in names:
        outcomes = {bool(check["exp_alerts"]) for check in checks if check["alertname"] == name}
        assert outcomes == {True, False}, f"{name} needs a firing and a not-firing case"


def test_rule_thresholds_are_the_watchdog_defaults() -> None:
    text = (RULES / "alerts.yml").read_text()
    defaults = watchdog.Thresholds()
    assert f">= {defaults.stopped_flowing_after:.0f}" in text
    assert f") > {defaults.error_rate_threshold}" in text
    assert f">= {defaults.error_rate_min_attempts}" in text
    assert f"for: {defaults.breaker_open_after / 60:.0f}m" in text
