"""One result row of a benchmark, and the table `python3 dev.py bench` prints from all of them."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """Ours beside a baseline measured in the same run; `higher_is_better` for throughputs."""

    scenario: str
    ours: float
    baseline: float | None
    unit: str
    baseline_label: str = ""
    higher_is_better: bool = False
    target: str = ""  # e.g. "<= 1.3x" or "p99 < 250 ms": what the issue asks, printed beside the figure

    @property
    def ratio(self) -> float | None:
        """ours / baseline (a latency) or ours / baseline (a throughput): read with `higher_is_better`."""
        if self.baseline in (None, 0):
            return None
        return self.ours / self.baseline


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) by the inclusive method: p50 is the median."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, round(p) - 1))]


def machine() -> str:
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    system = f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores"
    return f"{system}, Python {platform.python_version()}, load {load}"


def table(results: Sequence[Result]) -> str:
    """A Markdown table, ready for the README."""
    lines = [
        "| scenario | ours | baseline | ratio | target |",
        "|---|---:|---:|---:|---|",
    ]
    for r in results:
        baseline = "" if r.baseline is None else f"{r.baseline:.2f} {r.unit} ({r.baseline_label})"
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}x"
        lines.append(f"| {r.scenario} | {r.ours:.2f} {r.unit} | {baseline} | {ratio} | {r.target} |")
    return "\n".join(lines)
