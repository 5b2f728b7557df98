"""SAP error JSON and sap-message parsing, and the status -> SapError kind mapping."""

from __future__ import annotations

import json

import pytest

from odata_clients import errors

SAP_ERROR = {
    "error": {
        "code": "SADL_ENTITY_RUNTIME/004",
        "message": {"lang": "en", "value": "Precondition failed for entity 1000001"},
        "innererror": {
            "application": {"component_id": "PP-SFC", "service_id": "API_PRODUCTION_ORDER_2_SRV"},
            "transactionid": "3F5D2E1C0A9B4C8D9E7F6A5B4C3D2E1F",
            "timestamp": "20200428134913.3847960",
            "Error_Resolution": {"SAP_Transaction": "Run transaction /IWFND/ERROR_LOG"},
            "errordetails": [
                {"code": "CO/123", "message": "Order is locked", "propertyref": "", "severity": "error", "target": ""}
            ],
        },
    }
}


def test_parse_error_body_reads_code_message_details_and_transaction() -> None:
    info = errors.parse_error_body(json.dumps(SAP_ERROR).encode())
    assert info.code == "SADL_ENTITY_RUNTIME/004"
    assert info.message == "Precondition failed for entity 1000001"
    assert info.transaction_id == "3F5D2E1C0A9B4C8D9E7F6A5B4C3D2E1F"
    assert info.details == (errors.SapMessage("CO/123", "Order is locked", "error", ""),)


def test_parse_error_body_plain_text_xml_and_garbage() -> None:
    assert errors.parse_error_body(b"CSRF token validation failed").message == "CSRF token validation failed"
    xml = (
        b'<?xml version="1.0"?><error xmlns="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">'
        b'<code>/IWFND/MED/170</code><message xml:lang="en">No service found</message></error>'
    )
    info = errors.parse_error_body(xml)
    assert (info.code, info.message) == ("/IWFND/MED/170", "No service found")
    assert errors.parse_error_body(b"") == errors.ErrorInfo()
    assert errors.parse_error_body(b"{not json").message == "{not json"
    assert errors.parse_error_body(b'{"other": 1}') == errors.ErrorInfo()
    assert errors.parse_error_body(b"<html>proxy</html>", "text/html") == errors.ErrorInfo()


def test_parse_sap_message_header() -> None:
    header = json.dumps(
        {
            "code": "CO/100",
            "message": "Order released",
            "severity": "success",
            "target": "",
            "details": [{"code": "CO/101", "message": "Operation 0010 released", "severity": "info"}],
        }
    )
    messages = errors.parse_sap_message_header(header)
    assert [m.code for m in messages] == ["CO/100", "CO/101"]
    assert messages[0].severity == "success"
    assert errors.parse_sap_message_header(None) == ()
    assert errors.parse_sap_message_header("not json") == ()


@pytest.mark.parametrize(
    ("status", "headers", "kind", "transient"),
    [
        (404, {}, errors.SapNotFound, False),
        (412, {}, errors.SapPreconditionFailed, False),
        (428, {}, errors.SapPreconditionRequired, False),
        (423, {}, errors.SapLocked, True),
        (429, {"Retry-After": "3"}, errors.SapRateLimited, True),
        (403, {"x-csrf-token": "Required"}, errors.SapCsrfError, False),
        (403, {}, errors.SapAuthError, False),
        (401, {}, errors.SapAuthError, False),
        (400, {}, errors.SapBusinessError, False),
        (409, {}, errors.SapBusinessError, False),
        (500, {}, errors.SapUnavailable, True),
        (503, {}, errors.SapUnavailable, True),
    ],
)
def test_status_mapping(status: int, headers: dict[str, str], kind: type[errors.SapError], transient: bool) -> None:
    error = errors.error_from_response(status, headers, json.dumps(SAP_ERROR).encode(), destination="s4", service="svc")
    assert type(error) is kind
    assert error.transient is transient
    assert error.status == status
    assert error.code == "SADL_ENTITY_RUNTIME/004"
    assert "Precondition failed for entity 1000001" in str(error)
    assert error.as_dict()["destination"] == "s4"
    if isinstance(error, errors.SapRateLimited):
        assert error.retry_after == 3.0


def test_sap_message_header_is_used_when_body_is_empty() -> None:
    header = json.dumps({"code": "ZZ/001", "message": "Order is locked by MILLER", "severity": "error"})
    error = errors.error_from_response(423, {"sap-message": header}, b"")
    assert isinstance(error, errors.SapLocked)
    assert error.code == "ZZ/001"
    assert "locked by MILLER" in error.message


def test_retry_after_parsing() -> None:
    assert errors.parse_retry_after("2") == 2.0
    assert errors.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert errors.parse_retry_after(None) is None
