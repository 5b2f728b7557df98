"""Tracing end to end: the request's traceparent is stored with the command, the job continues that trace,
and SAP receives it; with tracing off no traceparent is stored or sent and everything works as before."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from requests.adapters import HTTPAdapter

from app import create_app
from app.dev_idp import mint_token
from runtime import tracing
from store import Status
from workers.bootstrap import WorkerContext
from workers.jobs import run

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def sent_to_sap(monkeypatch: pytest.MonkeyPatch, context: WorkerContext) -> list[requests.PreparedRequest]:
    """Every request that leaves this process for the mock SAP, as it goes on the wire."""
    sent: list[requests.PreparedRequest] = []
    send = HTTPAdapter.send

    def recording_send(self: HTTPAdapter, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        if str(request.url).startswith(context.settings.sap_url):
            sent.append(request)
        return send(self, request, *args, **kwargs)

    monkeypatch.setattr(HTTPAdapter, "send", recording_send)
    return sent


def confirm_through_the_api(context: WorkerContext, headers: dict[str, str]) -> str:
    """POST a confirmation as a supervisor (the app shares the worker's store); the command id."""
    api: FlaskClient = create_app(context.settings).test_client()
    attributes = {"Plant": ["1010"], "WorkCenter": ["ASSY1010"]}
    token = mint_token(context.settings, "SUP_ASSY1010", ["Supervisor"], attributes)
    auth = {"Authorization": f"Bearer {token}"}
    items = api.get("/api/v1/work-orders?limit=50", headers=auth).json["items"]
    work = next(item for item in items if Decimal(item["quantity_to_go"]["value"]) >= 1)
    response = api.post(
        f"/api/v1/work-orders/{work['id']}/confirmations",
        json={"yield_quantity": "1", "unit": work["planned_quantity"]["unit"], "text": "traced"},
        headers={**auth, "Idempotency-Key": str(uuid.uuid4()), **headers},
    )
    assert response.status_code == 202, response.json
    return str(response.json["id"])


def trace_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.trace_id, "032x")


def span_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.span_id, "016x")


def test_traceparent_travels_from_the_request_through_the_job_to_sap(
    context: WorkerContext, spans: InMemorySpanExporter, sent_to_sap: list[requests.PreparedRequest]
) -> None:
    command_id = confirm_through_the_api(context, {"traceparent": INCOMING})
    (server,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER and s.name.startswith("POST")]
    assert trace_id(server) == TRACE_ID and server.parent is not None
    assert format(server.parent.span_id, "016x") == "00f067aa0ba902b7"  # the caller's span
    stored = context.store.get(command_id)
    assert stored is not None and stored.traceparent == f"00-{TRACE_ID}-{span_id(server)}-01"

    spans.clear()
    sent_to_sap.clear()
    finished = run(context, command_id)
    assert finished is not None and finished.status is Status.SUCCEEDED

    (job,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert job.name == "writeback operation.confirm" and trace_id(job) == TRACE_ID
    assert job.parent is not None and format(job.parent.span_id, "016x") == span_id(server)
    assert job.attributes is not None and job.attributes["writeback.status"] == "succeeded"
    sap_spans = {span_id(s): s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT}
    assert sap_spans and all(trace_id(s) == TRACE_ID for s in sap_spans.values())
    assert any(s.attributes and s.attributes["http.request.method"] == "POST" for s in sap_spans.values())

    # What the mock SAP received: every call carries the trace, each as the child of its own client span.
    assert sent_to_sap
    for request in sent_to_sap:
        version, trace, parent, flags = request.headers["traceparent"].split("-")
        assert (version, trace, flags) == ("00", TRACE_ID, "01")
        assert parent in sap_spans
        assert request.headers["X-CorrelationID"]  # the request id travels as before


def test_with_tracing_off_nothing_is_stored_or_sent(
    context: WorkerContext, sent_to_sap: list[requests.PreparedRequest]
) -> None:
    assert not tracing.enabled()
    command_id = confirm_through_the_api(context, {"traceparent": INCOMING})
    stored = context.store.get(command_id)
    assert stored is not None and stored.traceparent is None
    finished = run(context, command_id)
    assert finished is not None and finished.status is Status.SUCCEEDED
    assert sent_to_sap and not any("traceparent" in request.headers for request in sent_to_sap)
