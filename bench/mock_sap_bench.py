"""Benchmark mock SAP at scale: start it with --orders 100000 and time a keyed GET and a filtered page."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devenv.redis_server import free_port  # noqa: E402

SERVICE = "/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(session: requests.Session, url: str, params: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = session.get(url, params=params, timeout=30)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_sap", "--port", str(port), "--orders", str(args.orders)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if requests.get(f"{base}/mock-admin/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() - started > 120:
                raise SystemExit("mock SAP did not start")
            time.sleep(0.1)
        startup = time.monotonic() - started
        session = requests.Session()  # keep-alive
        session.auth = ("EXT_API_TECH", "tech-pass-1")
        session.headers["Accept"] = "application/json"
        key = f"{base}{SERVICE}/A_ProductionOrder_2('{1_000_000 + args.orders // 2}')"
        page = f"{base}{SERVICE}/A_ProductionOrder_2"
        filtered = {
            "$filter": "ProductionPlant eq '1010' and OrderIsReleased eq 'X'",
            "$top": "50",
            "$inlinecount": "allpages",
        }
        unindexed = {"$filter": "OrderIsReleased eq 'X' and TotalQuantity gt 100M", "$top": "50"}
        timed(session, key, {}, 20)  # warm-up
        keyed = timed(session, key, {}, args.runs)
        page_times = timed(session, page, filtered, max(20, args.runs // 4))
        scan_times = timed(session, page, unindexed, max(10, args.runs // 10))
        started_reset = time.perf_counter()
        requests.post(f"{base}/mock-admin/reset", timeout=60).raise_for_status()
        reset_ms = (time.perf_counter() - started_reset) * 1000
        count = session.get(page, params=filtered, timeout=30).json()["d"]["__count"]
        print(f"orders: {args.orders}  startup: {startup:.1f} s  RSS: {rss_mb(process.pid):.0f} MB")
        p95 = sorted(keyed)[int(len(keyed) * 0.95)]
        print(f"keyed GET A_ProductionOrder_2('...'): median {statistics.median(keyed):6.2f} ms  p95 {p95:6.2f} ms")
        print(f"filtered page of 50 (plant+released, count={count}): median {statistics.median(page_times):6.2f} ms")
        print(f"filtered page of 50 (full scan, no index):   median {statistics.median(scan_times):6.2f} ms")
        print(f"POST /mock-admin/reset: {reset_ms:.1f} ms")
    finally:
        process.terminate()
        process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
