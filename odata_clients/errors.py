"""One SapError hierarchy, parsed from SAP's error JSON and the sap-message header."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SapMessage:
    """One message from SAP: the error body, one of its errordetails, or a sap-message header entry."""

    code: str
    message: str
    severity: str = "error"
    target: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "severity": self.severity, "target": self.target}


@dataclass(frozen=True)
class ErrorInfo:
    """What SAP said about a failure; every field may be empty when SAP said nothing useful."""

    code: str = ""
    message: str = ""
    details: tuple[SapMessage, ...] = ()
    transaction_id: str = ""


class SapError(Exception):
    """Base of every error odata_clients raises; the message never contains credentials or tokens.

    `transient` tells a writeback worker whether trying again later may succeed.
    """

    transient = False
    kind = "sap_error"
    # A write that left us but whose answer never came (read timeout, connection lost after sending, a
    # gateway's 502/504): SAP may have applied it. Set by the HTTP layer for modifying methods only.
    may_have_applied = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        details: tuple[SapMessage, ...] = (),
        transaction_id: str = "",
        destination: str = "",
        service: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details
        self.transaction_id = transaction_id
        self.destination = destination
        self.service = service

    def as_dict(self) -> dict[str, Any]:
        """The canonical error shape the web layer and the audit trail use."""
        return {
            "kind": self.kind,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "details": [d.as_dict() for d in self.details],
            "sap_transaction_id": self.transaction_id,
            "destination": self.destination,
            "service": self.service,
            **({"may_have_applied": True} if self.may_have_applied else {}),
        }


class SapUnavailable(SapError):
    """SAP did not answer usefully: connection refused, 5xx, too busy. Retry later."""

    transient = True
    kind = "unavailable"


class SapTimeout(SapUnavailable):
    """No answer within the configured connect or read timeout."""

    kind = "timeout"


class CircuitOpenError(SapUnavailable):
    """The destination's circuit breaker is open: the call was not sent."""

    kind = "circuit_open"


class ConcurrencyLimitError(SapUnavailable):
    """Too many calls to this destination are already in flight: the call was not sent."""

    kind = "concurrency_limit"


class SapRateLimited(SapUnavailable):
    """429 Too Many Requests; `retry_after` is SAP's hint in seconds when given."""

    kind = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class SapLocked(SapError):
    """423 Locked: the object is being edited elsewhere in SAP. Transient, unlike other 4xx."""

    transient = True
    kind = "locked"


class SapNotFound(SapError):
    """404: the entity or service does not exist (or is not visible to this user)."""

    kind = "not_found"


class SapPreconditionFailed(SapError):
    """412: the If-Match ETag is stale; someone changed the entity since it was read."""

    kind = "precondition_failed"


class SapPreconditionRequired(SapError):
    """428: the update was sent without If-Match; a programming error on our side."""

    kind = "precondition_required"


class SapAuthError(SapError):
    """401/403 (not a CSRF refusal that a re-fetch cured), or no credentials for the call."""

    kind = "auth"


class SapCsrfError(SapAuthError):
    """SAP refused the CSRF token even after a fresh one was fetched."""

    kind = "csrf"


class SapDestinationError(SapError):
    """The destination cannot be used as configured: missing in the Destination service, no URL, the wrong
    Authentication type, no Connectivity binding for an on-premise system. An administrator must fix it."""

    kind = "destination"


class SapBusinessError(SapError):
    """SAP rejected the request for a business reason (400, 409, 422 ...) with its code and message."""

    kind = "business"


class SapProtocolError(SapError):
    """SAP answered with something we cannot interpret (unexpected status, not JSON)."""

    kind = "protocol"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return _text(value.get("value", ""))
    return str(value)


def _details(raw: Any) -> tuple[SapMessage, ...]:
    if not isinstance(raw, list):
        return ()
    found: list[SapMessage] = []
    for item in raw:
        if isinstance(item, Mapping):
            found.append(
                SapMessage(
                    code=_text(item.get("code")),
                    message=_text(item.get("message")),
                    severity=_text(item.get("severity")) or "error",
                    target=_text(item.get("target") or item.get("propertyref")),
                )
            )
    return tuple(found)


def parse_error_body(body: bytes | str, content_type: str = "") -> ErrorInfo:
    """SAP's `{"error": {...}}` JSON; plain text (CSRF refusals, proxies) becomes the message.

    XML error documents are reduced to their <message> text; anything unreadable gives an empty info.
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    text = text.strip()
    if not text:
        return ErrorInfo()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return ErrorInfo(message=text[:500])
        error = parsed.get("error") if isinstance(parsed, Mapping) else None
        if not isinstance(error, Mapping):
            return ErrorInfo()
        inner = error.get("innererror")
        inner = inner if isinstance(inner, Mapping) else {}
        return ErrorInfo(
            code=_text(error.get("code")),
            message=_text(error.get("message")),
            details=_details(inner.get("errordetails")),
            transaction_id=_text(inner.get("transactionid")),
        )
    if text.startswith("<"):
        return _parse_xml_error(text)
    if "html" in content_type:
        return ErrorInfo()
    return ErrorInfo(message=text[:500])


def _parse_xml_error(text: str) -> ErrorInfo:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return ErrorInfo()
    code = message = ""
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "code" and not code:
            code = (element.text or "").strip()
        elif tag == "message" and not message:
            message = (element.text or "").strip()
    return ErrorInfo(code=code, message=message)


def parse_sap_message_header(value: str | None) -> tuple[SapMessage, ...]:
    """The `sap-message` header: one JSON message whose `details` hold more; bad JSON gives ()."""
    if not value:
        return ()
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return ()
    if not isinstance(parsed, Mapping):
        return ()
    head = SapMessage(
        code=_text(parsed.get("code")),
        message=_text(parsed.get("message")),
        severity=_text(parsed.get("severity")) or "info",
        target=_text(parsed.get("target")),
    )
    return (head, *_details(parsed.get("details")))


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds; HTTP dates are rare from SAP and are treated as absent."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes, *, destination: str = "", service: str = ""
) -> SapError:
    """Map a non-2xx SAP answer to the matching SapError kind, with SAP's code, message and details."""
    info = parse_error_body(body, _header(headers, "content-type") or "")
    header_messages = parse_sap_message_header(_header(headers, "sap-message"))
    details = info.details or tuple(m for m in header_messages if m.message)
    transaction_id = info.transaction_id or _header(headers, "sap-transactionid") or ""
    sap_text = info.message or (header_messages[0].message if header_messages else "")
    code = info.code or (header_messages[0].code if header_messages else "")
    message = f"SAP HTTP {status}" + (f": {sap_text}" if sap_text else "")
    common: dict[str, Any] = {
        "status": status,
        "code": code,
        "details": details,
        "transaction_id": transaction_id,
        "destination": destination,
        "service": service,
    }
    if status == 404:
        return SapNotFound(message, **common)
    if status == 412:
        return SapPreconditionFailed(message, **common)
    if status == 428:
        return SapPreconditionRequired(message, **common)
    if status == 423:
        return SapLocked(message, **common)
    if status == 429:
        return SapRateLimited(message, retry_after=parse_retry_after(_header(headers, "retry-after")), **common)
    if status == 403 and (_header(headers, "x-csrf-token") or "").lower() == "required":
        return SapCsrfError(message, **common)
    if status in (401, 403, 407):
        return SapAuthError(message, **common)
    if status in (408,):
        return SapTimeout(message, **common)
    if status >= 500:
        return SapUnavailable(message, **common)
    if 400 <= status < 500:
        return SapBusinessError(message, **common)
    return SapProtocolError(message, **common)
