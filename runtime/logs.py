"""structlog, configured once per process; stdlib loggers (werkzeug, gunicorn, rq, pyodata) routed through it."""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping, Sequence
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
# The literal core of every _SECRET_TEXT pattern, under the same case folding: text without it matches none of
# them, so the three substitutions can be skipped. Not `"basic" in text.lower()`: (?i) also matches "baſic".
_MAY_HOLD_SECRET_TEXT = re.compile(r"(?i:bearer|basic)|eyJ|://")
# Exact types with nothing inside to scrub: most values of an event (ids, counts, durations, flags).
_LEAF_TYPES = frozenset({int, float, bool, type(None)})

_configured = False


@functools.lru_cache(maxsize=4096)  # events use a few dozen keys; the bound only caps the odd dynamic key
def _is_secret_key(key: str) -> bool:
    return _SECRET_KEY.search(key) is not None


def _scrub_text(text: str) -> str:
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


def _scrub(value: Any) -> Any:
    """The value with secrets removed, looking inside dicts, lists and strings; one without any comes back as is."""
    kind = type(value)
    if kind is str:
        return _scrub_text(value) if _MAY_HOLD_SECRET_TEXT.search(value) else value
    if kind in _LEAF_TYPES:
        return value
    if isinstance(value, str):  # a subclass (a StrEnum): substituted as ever, which makes it a plain str
        return _scrub_text(value)
    if isinstance(value, dict):
        changes = _changed_items(value)
        if not changes and kind is dict:
            return value
        return {key: changes.get(key, item) for key, item in value.items()}  # subclasses become a plain dict
    if isinstance(value, list):
        items = [_scrub(item) for item in value]
        return value if kind is list and _all_same(items, value) else items
    if isinstance(value, tuple) and not (value and isinstance(value[0], type)):  # leave exc_info tuples intact
        members = tuple(_scrub(item) for item in value)
        return value if kind is tuple and _all_same(members, value) else members
    return value


def _changed_items(mapping: Mapping[Any, Any]) -> dict[Any, Any]:
    """The entries of `mapping` that scrubbing changes, with their new values (empty: nothing to hide)."""
    changes: dict[Any, Any] = {}
    for key, item in mapping.items():
        if isinstance(key, str) and _is_secret_key(key) and item not in (None, "", False):
            changes[key] = REDACTED
        else:
            scrubbed = _scrub(item)
            if scrubbed is not item:
                changes[key] = scrubbed
    return changes


def _all_same(scrubbed: Sequence[Any], original: Sequence[Any]) -> bool:
    return all(new is old for new, old in zip(scrubbed, original, strict=True))


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Blank secret-looking keys (at any depth) and scrub credentials from text, tracebacks included."""
    # In place, and only what changes: the usual event has nothing to hide.
    event_dict.update(_changed_items(event_dict))
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
