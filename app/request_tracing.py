"""A SERVER span per request (OpenTelemetry), child of an incoming W3C `traceparent`; only when tracing is on."""

from __future__ import annotations

from contextlib import ExitStack

from flask import Flask, Response, g, request

from app.metrics import known_method
from runtime import tracing


def _start() -> None:
    route = request.url_rule.rule if request.url_rule else None
    # OpenTelemetry's rule: a method outside HTTP's standard ones is "_OTHER", so span names stay bounded.
    method = known_method(request.method) or "_OTHER"
    stack = ExitStack()
    span = stack.enter_context(
        tracing.span(
            f"{method} {route}" if route else method,
            "server",
            parent={name: request.headers.get(name, "") for name in ("traceparent", "tracestate")},
            attributes={
                "http.request.method": method,
                "http.request.method_original": request.method,
                "url.path": request.path,
                "http.route": route or "",
                "request_id": g.get("request_id", ""),
            },
        )
    )
    g.trace_stack, g.trace_span = stack, span


def _status(response: Response) -> Response:
    span = g.get("trace_span")
    if span is not None:
        span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code >= 500:
            from opentelemetry.trace import StatusCode

            span.set_status(StatusCode.ERROR, f"HTTP {response.status_code}")
    return response


def _end(exc: BaseException | None) -> None:
    stack = g.pop("trace_stack", None)
    if stack is not None:
        stack.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)


def init_request_tracing(app: Flask) -> None:
    """Register the hooks only when tracing is on: no per-request cost otherwise."""
    if tracing.enabled():
        app.before_request(_start)
        app.after_request(_status)
        app.teardown_request(_end)
