"""The benchmark command is reachable: `python -m bench --help` and `python3 dev.py` naming `bench` (no timing here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_python_m_bench_help_lists_the_subset_and_quick_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    for option in ("--only", "--quick", "--output", "--read-reps", "--rss-requests"):
        assert option in result.stdout


def test_dev_py_usage_names_the_bench_command() -> None:
    result = subprocess.run([sys.executable, "dev.py"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "bench" in result.stderr
