"""What our API adds on top of SAP: the same reads straight from mock SAP and through the API, side by side.

Starts the whole local system (`python -m devenv.run`) on free ports, then times, interleaved:
  - a plant manager's first page of 50 production orders (the API's $filter/$select, sent to SAP directly);
  - one production order with its operations and status.
Run: .venv/bin/python bench/api_overhead_bench.py [--runs 200]
"""

from __future__ import annotations

import argparse
import os
import signal
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
TECH = ("EXT_API_TECH", "tech-pass-1")


def token(env: dict[str, str]) -> str:
    command = ["-m", "flask", "--app", "wsgi", "dev-token", "--user", "PM_1010", "--role-collection", "PlantManager"]
    result = subprocess.run(
        [sys.executable, *command, "--attribute", "Plant=1010"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    return result.stdout.strip().splitlines()[-1]


def median_ms(session: requests.Session, url: str, runs: int, **kwargs: object) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = session.get(url, timeout=30, **kwargs)  # type: ignore[arg-type]
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    port, mock_port = free_port(), free_port()
    env = {**os.environ, "PORT": str(port), "MOCK_SAP_PORT": str(mock_port), "LOG_LEVEL": "WARNING"}
    env["DATABASE_URL"] = f"sqlite:///{ROOT / 'instance' / 'bench.db'}"
    launcher = subprocess.Popen(
        [sys.executable, "-m", "devenv.run"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    api, sap = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{mock_port}{SERVICE}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{api}/health/ready", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        else:
            raise SystemExit("the local system did not become ready")
        through_api = requests.Session()
        through_api.headers["Authorization"] = f"Bearer {token(env)}"
        direct = requests.Session()
        direct.auth = TECH
        direct.headers["Accept"] = "application/json"
        order = through_api.get(f"{api}/api/v1/production-orders?limit=1", timeout=30).json()["items"][0]["order_id"]
        page_params = {
            "$filter": "ProductionPlant eq '1010'",
            "$orderby": "MfgOrderPlannedStartDate asc,ManufacturingOrder asc",
            "$top": "50",
            "$inlinecount": "allpages",
            "sap-client": "100",
        }
        expand = {"$expand": "to_ProductionOrderOperation,to_ProductionOrderStatus", "sap-client": "100"}
        cases = [
            ("page of 50 orders", "/api/v1/production-orders?limit=50", "/A_ProductionOrder_2", page_params),
            (
                "one order + operations",
                f"/api/v1/production-orders/{order}",
                f"/A_ProductionOrder_2('{order}')",
                expand,
            ),
        ]
        rows = []
        for name, api_path, sap_path, params in cases:
            api_url, sap_url = api + api_path, sap + sap_path
            median_ms(through_api, api_url, 10)  # warm up: metadata, CSRF-free reads, connection pools
            median_ms(direct, sap_url, 10, params=params)
            api_ms = median_ms(through_api, api_url, args.runs)
            sap_ms = median_ms(direct, sap_url, args.runs, params=params)
            rows.append((name, sap_ms, api_ms))
        print(f"{'read':<26}{'SAP direct':>12}{'through API':>14}{'ratio':>8}   (median ms, {args.runs} runs)")
        for name, sap_ms, api_ms in rows:
            print(f"{name:<26}{sap_ms:>12.2f}{api_ms:>14.2f}{api_ms / sap_ms:>8.2f}")
    finally:
        launcher.send_signal(signal.SIGINT)
        launcher.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
