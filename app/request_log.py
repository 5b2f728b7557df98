"""Per-request id and one structured log event per inbound request."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from flask import Flask, Response, g, request

REQUEST_ID_HEADER = "X-Request-ID"
# A caller-chosen id is kept only if it is short and harmless in logs and headers.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

log = structlog.get_logger("app.request")


def _begin() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _VALID_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.started = time.perf_counter()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=g.request_id)


def _finish(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
    duration_ms = round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2)
    rule = request.url_rule.rule if request.url_rule else None
    log.info(
        "request",
        method=request.method,
        path=request.path,
        route=rule,
        status=response.status_code,
        duration_ms=duration_ms,
        remote_addr=request.remote_addr,
    )
    return response


def _clear(_: BaseException | None) -> None:
    structlog.contextvars.clear_contextvars()


def init_request_log(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_finish)
    app.teardown_request(_clear)
