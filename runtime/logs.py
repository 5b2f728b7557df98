"""structlog, configured once per process; stdlib loggers (werkzeug, gunicorn, rq, pyodata) routed through it."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Keys whose values never reach a log line, whatever logs them (us, a library, a careless kwarg).
_SECRET_KEY = re.compile(r"authorization|password|passwd|secret|token|cookie|csrf|api[-_]?key", re.I)
# Secrets that hide inside free text: bearer/basic credentials, bare JWTs and URL user-info.
_SECRET_TEXT = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    (re.compile(r"(?i)(\w+://)[^/@\s:]+:[^/@\s]+@"), r"\1[redacted]@"),
]
REDACTED = "[redacted]"

_configured = False


def _scrub(value: Any) -> Any:
    """The value with secrets removed, looking inside dicts, lists and strings."""
    if isinstance(value, str):
        for pattern, replacement in _SECRET_TEXT:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, dict):
        return {
            key: REDACTED if isinstance(key, str) and _SECRET_KEY.search(key) and item not in (None, "", False)
            else _scrub(item)
            for key, item in value.items()
        }  # fmt: skip
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, tuple) and not (value and isinstance(value[0], type)):  # leave exc_info tuples intact
        return tuple(_scrub(item) for item in value)
    return value


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Blank secret-looking keys (at any depth) and scrub credentials from text, tracebacks included."""
    scrubbed = _scrub(dict(event_dict))
    event_dict.clear()
    event_dict.update(scrubbed)
    return event_dict


def configure_logging(level: str = "INFO", fmt: str = "auto", **static: Any) -> None:
    """Configure structlog and the stdlib root logger; later calls are no-ops.

    fmt "auto" renders JSON unless stderr is a terminal. `static` fields (e.g. process="worker")
    are added to every event of this process.
    """
    global _configured
    if _configured:
        return
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())

    def add_static(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in static.items():
            event_dict.setdefault(key, value)
        return event_dict

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_static,
        redact_secrets,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if as_json else _keep,
            redact_secrets,  # again: the traceback text only exists from here on
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # Libraries that install their own handlers would print twice or in their own format.
    for name in ("werkzeug", "gunicorn", "gunicorn.error", "gunicorn.access", "rq", "rq.worker", "pyodata"):
        library_logger = logging.getLogger(name)
        library_logger.handlers = []
        library_logger.propagate = True
    # pyodata narrates every request at INFO (with its arguments); our sap_call event already covers each call.
    logging.getLogger("pyodata").setLevel(max(logging.WARNING, root.level))
    _configured = True


def _keep(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return event_dict
