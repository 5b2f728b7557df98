"""$batch multipart parsing and the multipart response."""

from __future__ import annotations

import pytest

from mock_sap.batch import BatchRequest, BatchResponse, ChangeSet, build_batch_response, parse_batch
from mock_sap.errors import ODataError

BODY = (
    "--batch_1\r\n"
    "Content-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "\r\n"
    "GET A_ProductionOrder_2?$top=1 HTTP/1.1\r\n"
    "Accept: application/json\r\n"
    "\r\n"
    "\r\n"
    "--batch_1\r\n"
    "Content-Type: multipart/mixed; boundary=changeset_a\r\n"
    "\r\n"
    "--changeset_a\r\n"
    "Content-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "\r\n"
    "PATCH A_ProductionOrder_2('1000001') HTTP/1.1\r\n"
    "Content-Type: application/json\r\n"
    "If-Match: *\r\n"
    "\r\n"
    '{"TotalQuantity": "5"}\r\n'
    "--changeset_a--\r\n"
    "--batch_1--\r\n"
)


def test_parses_reads_and_changesets() -> None:
    items = parse_batch(BODY.encode(), "multipart/mixed; boundary=batch_1")
    assert len(items) == 2
    read, changeset = items
    assert isinstance(read, BatchRequest) and read.method == "GET"
    assert read.url == "A_ProductionOrder_2?$top=1"
    assert isinstance(changeset, ChangeSet) and len(changeset.requests) == 1
    patch = changeset.requests[0]
    assert patch.method == "PATCH" and patch.headers["If-Match"] == "*"
    assert patch.body == b'{"TotalQuantity": "5"}'


def test_other_content_types_are_415() -> None:
    with pytest.raises(ODataError) as caught:
        parse_batch(b"{}", "application/json")
    assert caught.value.status == 415


def test_get_inside_a_changeset_is_refused() -> None:
    body = BODY.replace("PATCH A_ProductionOrder_2('1000001')", "GET A_ProductionOrder_2('1000001')")
    with pytest.raises(ODataError) as caught:
        parse_batch(body.encode(), "multipart/mixed; boundary=batch_1")
    assert caught.value.status == 400


def test_response_nests_successful_changesets_and_round_trips() -> None:
    body, content_type = build_batch_response(
        [
            BatchResponse(200, {"Content-Type": "application/json"}, b'{"d":{}}'),
            [BatchResponse(204, {}, b""), BatchResponse(204, {}, b"")],
            BatchResponse(400, {"Content-Type": "application/json"}, b'{"error":{}}'),
        ]
    )
    assert content_type.startswith("multipart/mixed; boundary=batch_")
    text = body.decode()
    assert text.count("HTTP/1.1 204 No Content") == 2
    assert "HTTP/1.1 200 OK" in text and "HTTP/1.1 400 Bad Request" in text
    assert "Content-Type: multipart/mixed; boundary=changeset_" in text
    assert text.rstrip().endswith("--")
