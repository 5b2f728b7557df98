"""Optional tracing: nothing (not even an import) when off; spans that continue a stored traceparent when on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from odata_clients import tracing as sap_tracing
from runtime import tracing

ROOT = Path(__file__).resolve().parents[3]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def test_off_by_default_imports_no_tracing_sdk() -> None:
    """The web app and the helpers with tracing off import no tracing SDK, exporter or propagator.

    (redis-py imports parts of the OpenTelemetry API and metrics SDK by itself once they are installed.)
    """
    code = (
        "import sys\n"
        "from app import create_app\n"
        "from runtime import tracing\n"
        "from runtime.settings import Settings\n"
        "create_app(Settings(log_level='WARNING'))\n"
        "tracing.configure_tracing(Settings(), 'worker')\n"
        "with tracing.span('x', 'consumer', parent='00-' + '1' * 32 + '-' + '1' * 16 + '-01') as span:\n"
        "    assert span is None and tracing.current_traceparent() is None\n"
        "ours = ('opentelemetry.sdk.trace', 'opentelemetry.exporter', 'opentelemetry.trace.propagation.tracecontext')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(ours))\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_off_helpers_do_nothing() -> None:
    assert not tracing.enabled()
    with tracing.span("job", "consumer", parent=TRACEPARENT) as span:
        assert span is None
        assert tracing.current_traceparent() is None
    with sap_tracing.client_span("GET", "http://sap/x", destination="s4", service="X_SRV") as client:
        assert dict(client.headers) == {}
        client.answered(200)


def test_consumer_span_continues_the_stored_traceparent(spans: InMemorySpanExporter) -> None:
    with tracing.span("writeback operation.confirm", "consumer", parent=TRACEPARENT) as span:
        assert span is not None
        current = tracing.current_traceparent()
        assert current is not None and current.startswith(f"00-{TRACE_ID}-")
        with sap_tracing.client_span("POST", "http://sap/x", destination="s4", service="X_SRV") as client:
            assert client.headers["traceparent"].startswith(f"00-{TRACE_ID}-")
            client.answered(503)
    client_span, job_span = spans.get_finished_spans()
    assert job_span.kind is SpanKind.CONSUMER and client_span.kind is SpanKind.CLIENT
    assert job_span.context is not None and client_span.context is not None and job_span.parent is not None
    assert format(job_span.context.trace_id, "032x") == TRACE_ID
    assert format(job_span.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert client_span.parent is not None and client_span.parent.span_id == job_span.context.span_id
    assert client_span.attributes is not None and client_span.attributes["http.response.status_code"] == 503
    assert not client_span.status.is_ok
    assert client_span.resource.attributes["process.role"] == "test"


@pytest.mark.parametrize("parent", [None, "", "not-a-traceparent"])
def test_without_a_valid_traceparent_a_new_trace_starts(spans: InMemorySpanExporter, parent: str | None) -> None:
    with tracing.span("writeback x", "consumer", parent=parent):
        pass
    (span,) = spans.get_finished_spans()
    assert span.parent is None and span.context is not None and format(span.context.trace_id, "032x") != TRACE_ID


def test_exceptions_are_recorded(spans: InMemorySpanExporter) -> None:
    with pytest.raises(RuntimeError), tracing.span("writeback x", "consumer"):
        raise RuntimeError("boom")
    (span,) = spans.get_finished_spans()
    assert not span.status.is_ok and span.events[0].name == "exception"
