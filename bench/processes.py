"""What the benchmarks share to start their stacks: waiting for a started process to answer."""

from __future__ import annotations

import subprocess
import time

import requests


def wait_until_ok(url: str, process: subprocess.Popen[bytes], what: str, timeout: float = 120) -> None:
    """Return once `url` answers 200; RuntimeError if `process` exits first or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:  # not listening yet
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer 200 at {url} within {timeout:.0f}s")
