"""SAP Gateway errors: one exception type and the `{"error": {...}}` body Gateway writes for it."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field

from mock_sap import language

SAP_NOTE = "See SAP Note 1797736 for error analysis (https://service.sap.com/sap/support/notes/1797736)"


@dataclass
class ErrorDetail:
    code: str
    message: str
    target: str = ""
    severity: str = "error"


@dataclass
class ODataError(Exception):
    """An error answered with SAP's error JSON (every error but the CSRF 403, which is text/plain)."""

    status: int
    code: str
    message: str
    details: list[ErrorDetail] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    target: str = ""
    lang: str = "en"  # the language of `message` (SAP's error JSON names it)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


# Gateway framework messages (message class /IWBEP/CM_MGW_RT and friends) used across the mock.
def not_found_segment(segment: str) -> ODataError:
    return ODataError(404, "/IWBEP/CM_MGW_RT/020", f"Resource not found for segment '{segment}'")


def bad_request(message: str, code: str = "/IWBEP/CM_MGW_RT/011") -> ODataError:
    return ODataError(400, code, message)


def invalid_property(name: str, type_name: str) -> ODataError:
    return ODataError(400, "/IWBEP/CM_MGW_RT/004", f"Property '{name}' is invalid for entity type '{type_name}'")


def method_not_allowed(method: str, set_name: str) -> ODataError:
    return ODataError(
        405,
        "/IWBEP/CM_MGW_RT/105",
        f"The HTTP method '{method}' is not supported for entity set '{set_name}'",
        headers={"Allow": "GET"},
    )


def business_error(code: str, message: str, target: str = "", status: int = 400) -> ODataError:
    """An application (backend) message, e.g. `RU/155`, shown as Gateway shows BAPI errors."""
    return ODataError(status, code, message, details=[ErrorDetail(code, message, target)], target=target)


def sap_error(key: str, *variables: object, target: str = "", status: int = 400) -> ODataError:
    """A `business_error` whose text is message `key` (mock_sap/data/texts.py) in the request's logon language."""
    text, lang = language.message(key, *variables)
    error = business_error(key.split("#", 1)[0], text, target, status)
    error.lang = lang
    return error


@dataclass(frozen=True)
class ServiceInfo:
    """What `innererror.application` names."""

    service_id: str
    component_id: str
    namespace: str = "/SAP/"
    version: str = "0001"


def error_body(error: ODataError, service: ServiceInfo | None) -> dict[str, object]:
    now = dt.datetime.now(dt.UTC)
    transaction = uuid.uuid4().hex.upper()
    details = [
        {
            "code": d.code,
            "message": d.message,
            "propertyref": "",
            "severity": d.severity,
            "target": d.target,
            "longtext_url": "",
            "transition": False,
        }
        for d in error.details
    ]
    application = (
        {
            "component_id": service.component_id,
            "service_namespace": service.namespace,
            "service_id": service.service_id,
            "service_version": service.version,
        }
        if service
        else {}
    )
    return {
        "error": {
            "code": error.code,
            "message": {"lang": error.lang, "value": error.message},
            "innererror": {
                "application": application,
                "transactionid": transaction,
                "timestamp": now.strftime("%Y%m%d%H%M%S.") + f"{now.microsecond:06d}0",
                "Error_Resolution": {
                    "SAP_Transaction": (
                        'For backend administrators: use ADT feed reader "SAP Gateway Error Log" '
                        "or run transaction /IWFND/ERROR_LOG on SAP Gateway hub system and search for "
                        "entries with the timestamp above for more details"
                    ),
                    "SAP_Note": SAP_NOTE,
                },
                "errordetails": details,
            },
        }
    }


def error_json(error: ODataError, service: ServiceInfo | None) -> bytes:
    return json.dumps(error_body(error, service)).encode()
