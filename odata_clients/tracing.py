"""A client span per SAP call and its W3C `traceparent` header; off (and free) until a process turns it on.

This package imports nothing else from the project, so the process's composition root
(`runtime.tracing.configure_tracing`) hands it a tracer. Until then no OpenTelemetry module is imported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

_tracer: Tracer | None = None


def enable(tracer: Tracer | None) -> None:
    """Trace SAP calls with `tracer` from now on; None turns it off again."""
    global _tracer
    _tracer = tracer


class ClientSpan:
    """What `client_span` yields: the headers that carry the span's context, and where to report the answer."""

    __slots__ = ("headers", "_span")

    def __init__(self, span: Span | None = None, headers: Mapping[str, str] | None = None) -> None:
        self._span = span
        self.headers: Mapping[str, str] = headers or {}

    def answered(self, status: int) -> None:
        if self._span is not None:
            from opentelemetry.trace import StatusCode

            self._span.set_attribute("http.response.status_code", status)
            if status >= 400:
                self._span.set_status(StatusCode.ERROR, f"HTTP {status}")


_OFF = ClientSpan()


@contextmanager
def client_span(method: str, url: str, *, destination: str, service: str) -> Iterator[ClientSpan]:
    """A CLIENT span around one HTTP exchange with SAP (an exception raised inside is recorded on it)."""
    if _tracer is None:
        yield _OFF
        return
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    attributes = {
        "http.request.method": method,
        "url.full": url,
        "sap.destination": destination,
        "sap.service": service,
    }
    with _tracer.start_as_current_span(f"{method} {service}", kind=SpanKind.CLIENT, attributes=attributes) as span:
        headers: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(headers)
        yield ClientSpan(span, headers)
