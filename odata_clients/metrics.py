"""Prometheus metrics for SAP calls, on the default registry (the web layer exposes /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SAP_CALLS = Counter(
    "sap_calls",
    "HTTP calls (attempts) made to SAP, by outcome status ('error' when no HTTP answer came).",
    ["destination", "service", "method", "status"],
)
SAP_CALL_DURATION = Histogram(
    "sap_call_duration_seconds",
    "Duration of one HTTP attempt to SAP.",
    ["destination", "service", "method"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
SAP_CIRCUIT_STATE = Gauge(
    "sap_circuit_state",
    "Circuit breaker state per destination: 0 closed, 1 half-open, 2 open.",
    ["destination"],
    # Under PROMETHEUS_MULTIPROC_DIR: the worst state among live processes (each has its own breaker);
    # "live" drops the values of exited processes once they are marked dead.
    multiprocess_mode="livemax",
)
SAP_RETRIES = Counter(
    "sap_call_retries",
    "Reads re-sent to SAP after a transient failure.",
    ["destination", "service"],
)
SAP_CSRF_FETCHES = Counter(
    "sap_csrf_fetches",
    "CSRF tokens fetched from SAP (a sudden rise means tokens keep expiring).",
    ["destination"],
)
SAP_REJECTED_LOCALLY = Counter(
    "sap_calls_rejected_locally",
    "Calls not sent to SAP: circuit open, concurrency limit reached, or the request's deadline passed.",
    ["destination", "reason"],
)
SAP_DESTINATION_LOOKUPS = Counter(
    "sap_destination_lookups",
    "Lookups of a destination in SAP BTP's Destination service, by HTTP status ('unreachable': no answer).",
    ["destination", "status"],
)
