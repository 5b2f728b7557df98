"""Bad input to the role endpoints gets a clear 4xx naming the field, never a 500 and never a silent fix."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.integration.roles.conftest import Token, bearer

SUPERVISOR = {"Plant": ["1010"], "WorkCenter": ["ASSY1010"]}
FLOATS = 'send quantities as decimal strings, e.g. "12.5"'
NOT_PLAIN = (
    'not a plain decimal: use ASCII digits with an optional "." and fraction, e.g. "12.5" '
    '(no sign, exponent, spaces, "_" or NaN/Infinity)'
)
TOO_PRECISE = "has more than 3 decimal places; SAP keeps 3 and we never round: send at most 3"
TOO_BIG = "must be between 0 and 9999999999.999 (SAP's Decimal(13,3))"
NOT_BOOLEAN = "must be a JSON boolean, true or false (not a string or a number)"
INSTANT_RANGE = "must be between 1970-01-01T00:00:00Z and 2099-12-31T23:59:59Z"
ETAG_SHAPE = "If-Match must be one ETag exactly as sap_etag shows it, e.g. W/\"'20240603101500'\""
ERROR_KEYS = {"code", "status", "message", "request_id"}


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def assert_error(response: Any, status: int, message: str) -> None:
    assert response.status_code == status, response.json
    assert ERROR_KEYS <= set(response.json)
    assert response.json["message"] == message


@pytest.fixture
def supervisor(token: Token) -> dict[str, str]:
    return bearer(token("Supervisor", user="SUP_ASSY1010", **SUPERVISOR))


@pytest.fixture
def work(api: FlaskClient, supervisor: dict[str, str]) -> dict[str, Any]:
    items = api.get("/api/v1/work-orders?limit=50", headers=supervisor).json["items"]
    return next(item for item in items if Decimal(item["quantity_to_go"]["value"]) >= 2)


def confirm(api: FlaskClient, supervisor: dict[str, str], work: dict[str, Any], **fields: Any) -> Any:
    body = {"yield_quantity": "1", "unit": work["planned_quantity"]["unit"], **fields}
    return api.post(f"/api/v1/work-orders/{work['id']}/confirmations", json=body, headers={**supervisor, **key()})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("yield_quantity", "1.2345", TOO_PRECISE),
        ("yield_quantity", "1.0000", TOO_PRECISE),
        ("scrap_quantity", "0.0001", TOO_PRECISE),
        ("yield_quantity", "1_0", NOT_PLAIN),
        ("yield_quantity", "١٢", NOT_PLAIN),  # Arabic-Indic digits: Decimal() would read 12
        ("yield_quantity", "１２", NOT_PLAIN),  # full-width digits
        ("yield_quantity", "1e2", NOT_PLAIN),
        ("yield_quantity", "NaN", NOT_PLAIN),
        ("yield_quantity", "Infinity", NOT_PLAIN),
        ("yield_quantity", "+1", NOT_PLAIN),
        ("yield_quantity", "-1", NOT_PLAIN),
        ("yield_quantity", " 1", NOT_PLAIN),
        ("yield_quantity", "1\n", NOT_PLAIN),
        ("yield_quantity", ".5", NOT_PLAIN),
        ("yield_quantity", "", NOT_PLAIN),
        ("yield_quantity", 12.5, FLOATS),
        ("yield_quantity", 1e2, FLOATS),
        ("yield_quantity", True, f"not a quantity: {FLOATS}"),
        ("yield_quantity", ["1"], f"not a quantity: {FLOATS}"),
        ("yield_quantity", "10000000000", TOO_BIG),
        ("yield_quantity", 10**10, TOO_BIG),
        ("scrap_quantity", -1, TOO_BIG),
        ("final", "yes", NOT_BOOLEAN),
        ("final", "true", NOT_BOOLEAN),
        ("final", 1, NOT_BOOLEAN),
        ("text", "a\x00b", "contains a control character (U+0000) at position 2; one line: no tabs or line breaks"),
        ("text", "Shift A\n", "contains a control character (U+000A) at position 8; one line: no tabs or line breaks"),
        ("text", "x\x85", "contains a control character (U+0085) at position 2; one line: no tabs or line breaks"),
        ("text", "x\x7f", "contains a control character (U+007F) at position 2; one line: no tabs or line breaks"),
        ("text", "ok\ud800", "contains an unpaired surrogate (U+D800) at position 3"),
        ("text", "x" * 41, "Longer than maximum length 40."),
        (
            "text",
            "\U0001f600" * 21,  # 21 code points, but 42 of SAP's (UTF-16) characters
            "longer than 40 characters as SAP counts them (emoji and other characters beyond U+FFFF count twice)",
        ),
        ("unit", "P\tC", "contains a control character (U+0009) at position 2; one line: no tabs or line breaks"),
    ],
)
def test_confirmation_fields_are_refused_with_the_field_named(
    api: FlaskClient, supervisor: dict[str, str], field: str, value: Any, message: str
) -> None:
    body = {"yield_quantity": "1", "unit": "PC", field: value}
    response = api.post("/api/v1/work-orders/1000000-0010/confirmations", json=body, headers={**supervisor, **key()})
    assert_error(response, 422, f"invalid request: json.{field}: {message}")


@pytest.mark.parametrize(
    ("sent", "stored"),
    [("1", "1.000"), ("0.5", "0.500"), ("1.25", "1.250"), ("01.100", "1.100"), (1, "1.000"), (0, "0.000")],
)
def test_plain_decimals_and_integers_are_taken_exactly(
    api: FlaskClient, supervisor: dict[str, str], work: dict[str, Any], sent: Any, stored: str
) -> None:
    # a zero yield needs some scrap: SAP confirms one or the other
    response = confirm(api, supervisor, work, yield_quantity=sent, scrap_quantity="0" if sent else "1", final=False)
    assert response.status_code == 202, response.json
    assert response.json["payload"]["yield_quantity"]["value"] == stored
    assert response.json["payload"]["is_final"] is False


def test_a_text_may_use_any_script(api: FlaskClient, supervisor: dict[str, str], work: dict[str, Any]) -> None:
    text = "Schicht Ä – 夜勤 ✓"
    response = confirm(api, supervisor, work, text=text, final=True)
    assert response.status_code == 202, response.json
    assert response.json["payload"]["text"] == text and response.json["payload"]["is_final"] is True


@pytest.fixture
def executive(token: Token) -> dict[str, str]:
    return bearer(token("Executive", user="EXEC_ANNA"))


@pytest.fixture
def task(api: FlaskClient, executive: dict[str, str]) -> str:
    return str(api.get("/api/v1/approvals?limit=1", headers=executive).json["items"][0]["id"])


def test_decision_comment_may_have_lines_but_no_other_control_characters(
    api: FlaskClient, executive: dict[str, str], task: str
) -> None:
    url = f"/api/v1/approvals/{task}/decision"
    bell = api.post(url, json={"decision": "approve", "comment": "ok\x07"}, headers={**executive, **key()})
    assert_error(
        bell,
        422,
        "invalid request: json.comment: contains a control character (U+0007) at position 3; "
        "tab and line breaks are allowed",
    )
    surrogate = api.post(url, json={"decision": "approve", "comment": "\udc00"}, headers={**executive, **key()})
    assert_error(surrogate, 422, "invalid request: json.comment: contains an unpaired surrogate (U+DC00) at position 1")
    lines = api.post(url, json={"decision": "approve", "comment": "fine\r\n\tby me"}, headers={**executive, **key()})
    assert lines.status_code == 202, lines.json
    assert lines.json["payload"]["comments"] == "fine\r\n\tby me"


def test_mass_decision_names_the_item(api: FlaskClient, executive: dict[str, str], task: str) -> None:
    batch = {"items": [{"id": task, "decision": "approve"}, {"id": task, "decision": "reject", "comment": "a\x1bb"}]}
    response = api.post("/api/v1/approvals/decisions", json=batch, headers={**executive, **key()})
    assert_error(
        response,
        422,
        "invalid request: json.items.1.comment: contains a control character (U+001B) at position 2; "
        "tab and line breaks are allowed",
    )


@pytest.mark.parametrize("to_user", ["EXEC_BEN\n", "EXEC BEN", "ＥＸＥＣ", "EXEC_BEN_TOO_LONG"])
def test_forward_to_is_an_sap_user_name_and_nothing_more(
    api: FlaskClient, executive: dict[str, str], task: str, to_user: str
) -> None:
    response = api.post(f"/api/v1/approvals/{task}/forward", json={"to_user": to_user}, headers={**executive, **key()})
    assert_error(response, 422, "invalid request: json.to_user: must be an SAP user name: 1-12 of A-Z a-z 0-9 . _ -")


@pytest.fixture
def plant_manager(token: Token) -> dict[str, str]:
    return bearer(token("PlantManager", user="PM_1010", Plant=["1010"]))


@pytest.mark.parametrize(
    ("changed_since", "message"),
    [
        ("0001-01-01T00:00:00+14:00", INSTANT_RANGE),  # no UTC datetime exists for it: an OverflowError before
        ("9999-12-31T23:59:59-14:00", INSTANT_RANGE),  # likewise, at the other end
        ("9999-12-31T23:59:59+14:00", INSTANT_RANGE),
        ("0001-01-01", INSTANT_RANGE),
        ("1969-12-31T23:59:59Z", INSTANT_RANGE),
        ("2100-01-01T00:00:00Z", INSTANT_RANGE),
        ("10000-01-01", "not an ISO 8601 date-time (e.g. 2026-11-26T08:00:00Z)"),
        ("yesterday", "not an ISO 8601 date-time (e.g. 2026-11-26T08:00:00Z)"),
    ],
)
def test_changed_since_out_of_range_is_a_400(
    api: FlaskClient, plant_manager: dict[str, str], changed_since: str, message: str
) -> None:
    response = api.get(
        "/api/v1/production-orders", query_string={"changed_since": changed_since}, headers=plant_manager
    )
    assert_error(response, 400, f"invalid request: query.changed_since: {message}")


@pytest.mark.parametrize("changed_since", ["2026-01-01T00:00:00", "2026-01-01T00:00:00+14:00", "1970-01-01T00:00:00Z"])
def test_changed_since_in_range_is_read_from_sap(
    api: FlaskClient, plant_manager: dict[str, str], changed_since: str
) -> None:
    response = api.get(
        "/api/v1/production-orders", query_string={"changed_since": changed_since}, headers=plant_manager
    )
    assert response.status_code == 200, response.json


@pytest.mark.parametrize(
    ("since", "message"),
    [
        ("0001-01-01T00:00:00+14:00", INSTANT_RANGE),
        ("9999-12-31T23:59:59-14:00", INSTANT_RANGE),
        ("2026-01-01T00:00:00", "give a UTC offset, e.g. 2026-11-26T08:00:00Z or 2026-11-26T09:00:00+01:00"),
    ],
)
def test_audit_since_out_of_range_is_a_400(api: FlaskClient, token: Token, since: str, message: str) -> None:
    admin = bearer(token("IntegrationAdmin", user="ops"))
    response = api.get("/api/v1/admin/audit", query_string={"since": since, "until": since}, headers=admin)
    assert response.status_code == 400
    assert response.json["message"] == f"invalid request: query.since: {message}; query.until: {message}"


@pytest.fixture
def order(api: FlaskClient, plant_manager: dict[str, str]) -> dict[str, Any]:
    return dict(api.get("/api/v1/production-orders?status=released&limit=1", headers=plant_manager).json["items"][0])


@pytest.mark.parametrize(
    ("planned_start", "message"),
    [
        ("0001-01-01", "must be between 2000-01-01 and 2099-12-31"),
        ("9999-12-31", "must be between 2000-01-01 and 2099-12-31"),
        ("10000-01-01", "not an ISO date (YYYY-MM-DD, e.g. 2026-12-01)"),
        ("2027-01-10T00:00:00+14:00", "not an ISO date (YYYY-MM-DD, e.g. 2026-12-01)"),
    ],
)
def test_reschedule_dates_out_of_range_are_a_422(
    api: FlaskClient, plant_manager: dict[str, str], order: dict[str, Any], planned_start: str, message: str
) -> None:
    headers = {**plant_manager, **key(), "If-Match": order["sap_etag"]}
    url = f"/api/v1/production-orders/{order['order_id']}"
    response = api.patch(url, json={"planned_start": planned_start}, headers=headers)
    assert_error(response, 422, f"invalid request: json.planned_start: {message}")


@pytest.mark.parametrize(
    ("if_match", "status", "message"),
    [
        (None, 428, "send If-Match with the sap_etag of the order you saw, so nobody's change is lost"),
        ("*", 428, "send the sap_etag you read; * would overwrite changes you have not seen"),
        (" * ", 428, "send the sap_etag you read; * would overwrite changes you have not seen"),
        ("20240603101500", 400, ETAG_SHAPE),
        ("'20240603101500'", 400, ETAG_SHAPE),
        ('W/"a", W/"b"', 400, ETAG_SHAPE),
        ('W/"a b"', 400, ETAG_SHAPE),
        ('W/""', 400, ETAG_SHAPE),
        ('w/"x"', 400, ETAG_SHAPE),
        ('W/"' + "x" * 300 + '"', 400, "If-Match is longer than 255 characters; send the sap_etag unchanged"),
    ],
)
def test_reschedule_needs_one_real_etag(
    api: FlaskClient,
    plant_manager: dict[str, str],
    order: dict[str, Any],
    if_match: str | None,
    status: int,
    message: str,
) -> None:
    headers = {**plant_manager, **key(), **({"If-Match": if_match} if if_match is not None else {})}
    url = f"/api/v1/production-orders/{order['order_id']}"
    response = api.patch(url, json={"planned_start": "2027-01-10"}, headers=headers)
    assert_error(response, status, message)


def test_reschedule_takes_the_sap_etag_as_handed_out(
    api: FlaskClient, plant_manager: dict[str, str], order: dict[str, Any]
) -> None:
    assert order["sap_etag"].startswith("W/\"'") and order["sap_etag"].endswith("'\"")  # what the mock SAP issues
    url = f"/api/v1/production-orders/{order['order_id']}"
    body = {"planned_start": "2027-01-10", "planned_end": "2027-01-12"}
    accepted = api.patch(url, json=body, headers={**plant_manager, **key(), "If-Match": order["sap_etag"]})
    assert accepted.status_code == 202, accepted.json
    assert accepted.json["status"] == "accepted"
    # Well-formed ETags SAP did not hand out for this order now (weak or strong): stale, refused at once.
    for etag in ("W/\"'20240603101500'\"", '"strong-too"'):
        response = api.patch(url, json=body, headers={**plant_manager, **key(), "If-Match": etag})
        assert response.status_code == 412, (etag, response.json)
        assert "reload and try again" in response.json["message"]
