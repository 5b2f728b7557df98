"""Optional OpenTelemetry tracing: off by default; `configure_tracing` once per process turns it on.

When it is off nothing here imports OpenTelemetry and every helper returns at once. When it is on:
the web layer opens a SERVER span per request (child of an incoming `traceparent`), the write path
stores the request's `traceparent` with the command, the job opens a CONSUMER span whose parent is
that stored `traceparent`, and every SAP call is a CLIENT span that sends `traceparent` on (see
`odata_clients.tracing`). Our spans come from our own TracerProvider, not OpenTelemetry's global one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

from odata_clients import tracing as sap_tracing
from runtime.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

TRACER_NAME = "sap-extension-api"
TRACEPARENT = "traceparent"

_provider: TracerProvider | None = None
_tracer: Tracer | None = None


def enabled() -> bool:
    return _tracer is not None


def configure_tracing(settings: Settings, process: str) -> TracerProvider | None:
    """Turn tracing on for this process if `settings.otel_enabled` (later calls are no-ops); the provider or None.

    `process` ("web", "worker") is recorded on every span's resource.
    """
    global _provider, _tracer
    if not settings.otel_enabled:
        return None
    if _provider is not None:
        return _provider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

    resource = Resource(
        {
            "service.name": settings.otel_service_name,
            "service.instance.id": str(settings.instance_index),
            "deployment.environment.name": settings.env,
            "process.role": process,
        }
    )
    # Every root span is sampled; a caller's traceparent decides for its own trace (its sampled flag).
    provider = TracerProvider(resource=resource, sampler=ParentBased(ALWAYS_ON))
    exporter: SpanExporter | None = None
    if settings.otel_traces_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.util.re import parse_env_headers

        exporter = OTLPSpanExporter(
            endpoint=f"{settings.otel_exporter_otlp_endpoint}/v1/traces",
            headers=dict(parse_env_headers(settings.otel_exporter_otlp_headers, liberal=True)),
        )
    elif settings.otel_traces_exporter == "console":
        exporter = ConsoleSpanExporter()
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    _provider, _tracer = provider, provider.get_tracer(TRACER_NAME)
    sap_tracing.enable(provider.get_tracer("odata_clients"))
    return provider


def shutdown_tracing() -> None:
    """Flush and turn tracing off again (tests; processes also flush at exit)."""
    global _provider, _tracer
    provider, _provider, _tracer = _provider, None, None
    sap_tracing.enable(None)
    if provider is not None:
        provider.shutdown()


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span (None when tracing is off or no span is current)."""
    if _tracer is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get(TRACEPARENT)


@contextmanager
def span(
    name: str,
    kind: Literal["server", "consumer", "internal"],
    *,
    parent: Mapping[str, str] | str | None = None,
    attributes: Mapping[str, str | int] | None = None,
) -> Iterator[Span | None]:
    """The current span for the block (None when tracing is off), an exception inside is recorded on it.

    `parent`: the headers of an incoming request, or a stored `traceparent` string; without one (or with
    a malformed one) the span starts a new trace.
    """
    if _tracer is None:
        yield None
        return
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier = {TRACEPARENT: parent} if isinstance(parent, str) else parent
    context = TraceContextTextMapPropagator().extract(carrier) if carrier else None
    span_kind = {"server": SpanKind.SERVER, "consumer": SpanKind.CONSUMER, "internal": SpanKind.INTERNAL}[kind]
    with _tracer.start_as_current_span(name, context=context, kind=span_kind, attributes=attributes) as current:
        yield current
