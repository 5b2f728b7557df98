"""$batch: multipart/mixed, 202, atomic changesets, 415 for other content types; with pyodata and raw HTTP."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyodata
import pytest

from .conftest import PRODORD, Sap, assert_sap_error, format_date, parse_date

ORDERS = "A_ProductionOrder_2"


@dataclass
class PartResponse:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def request_part(method: str, path: str, headers: dict[str, str] | None = None, body: Any = None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary", "", f"{method} {path} HTTP/1.1"]
    all_headers = {"Accept": "application/json", **(headers or {})}
    if body is not None:
        all_headers["Content-Type"] = "application/json"
    lines += [f"{k}: {v}" for k, v in all_headers.items()]
    lines += ["", json.dumps(body) if body is not None else ""]
    return "\r\n".join(lines)


def changeset_part(boundary: str, parts: list[str]) -> str:
    inner = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--"
    return f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n{inner}"


def batch_body(boundary: str, parts: list[str]) -> str:
    return "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"


def _boundary(content_type: str) -> str:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    assert match, f"no boundary in {content_type!r}"
    return match.group(1)


def _headers(block: str) -> dict[str, str]:
    headers = {}
    for line in block.split("\n"):
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return headers


def parse_multipart(text: str, content_type: str) -> list[PartResponse | list[PartResponse]]:
    """Split a $batch response into HTTP responses; a changeset becomes a nested list."""
    boundary = _boundary(content_type)
    text = text.replace("\r\n", "\n")
    chunks = text.split(f"--{boundary}")
    assert chunks[-1].strip() in ("--", ""), "multipart body must end with the closing delimiter"
    results: list[PartResponse | list[PartResponse]] = []
    for chunk in chunks[1:]:
        if chunk.startswith("--"):
            break
        head, _, rest = chunk.lstrip("\n").partition("\n\n")
        part_headers = _headers(head)
        part_type = part_headers.get("content-type", "")
        if part_type.startswith("multipart/mixed"):
            nested = parse_multipart(rest, part_type)
            assert all(isinstance(p, PartResponse) for p in nested), "changesets must not nest"
            results.append([p for p in nested if isinstance(p, PartResponse)])
            continue
        assert part_type.startswith("application/http"), f"part Content-Type {part_type!r}"
        status_line, _, rest = rest.partition("\n")
        match = re.match(r"HTTP/1\.1 (\d{3})", status_line)
        assert match, f"bad status line {status_line!r}"
        http_head, _, body = rest.partition("\n\n")
        results.append(PartResponse(int(match.group(1)), _headers(http_head), body.strip()))
    return results


def post_batch(sap: Sap, parts: list[str], boundary: str = "batch_t1"):
    return sap.write(
        "POST",
        PRODORD,
        "$batch",
        body=batch_body(boundary, parts),
        headers={"Content-Type": f"multipart/mixed; boundary={boundary}"},
    )


def unreleased_orders(sap: Sap, n: int) -> list[dict[str, Any]]:
    orders = sap.results(PRODORD, ORDERS, {"$filter": "OrderIsReleased eq ''", "$top": str(n)})
    assert len(orders) == n
    return orders


def shifted(entity: dict[str, Any], days: int) -> str:
    return format_date(parse_date(entity["MfgOrderPlannedStartDate"]) + timedelta(days=days))


def test_batch_with_reads_answers_202_multipart(tech: Sap):
    orders = unreleased_orders(tech, 1)
    key = orders[0]["ManufacturingOrder"]
    response = post_batch(tech, [request_part("GET", f"{ORDERS}('{key}')"), request_part("GET", f"{ORDERS}/$count")])
    assert response.status_code == 202, response.text
    assert response.headers["Content-Type"].startswith("multipart/mixed")
    parts = parse_multipart(response.text, response.headers["Content-Type"])
    assert len(parts) == 2
    single, count = parts
    assert isinstance(single, PartResponse) and isinstance(count, PartResponse)
    assert single.status == 200 and single.json()["d"]["ManufacturingOrder"] == key
    assert count.status == 200 and int(count.body) > 0


def test_changeset_applies_all_writes(tech: Sap):
    a, b = unreleased_orders(tech, 2)
    parts = [
        changeset_part(
            "changeset_c1",
            [
                request_part(
                    "PATCH",
                    f"{ORDERS}('{a['ManufacturingOrder']}')",
                    {"If-Match": a["__metadata"]["etag"]},
                    {"MfgOrderPlannedStartDate": shifted(a, 2)},
                ),
                request_part("POST", f"ReleaseOrder?ManufacturingOrder='{b['ManufacturingOrder']}'"),
            ],
        ),
        request_part("GET", f"{ORDERS}('{b['ManufacturingOrder']}')"),
    ]
    response = post_batch(tech, parts)
    assert response.status_code == 202, response.text
    changeset, read = parse_multipart(response.text, response.headers["Content-Type"])
    assert isinstance(changeset, list) and [p.status for p in changeset] == [204, 200]
    assert isinstance(read, PartResponse) and read.json()["d"]["OrderIsReleased"] == "X"
    after_a = tech.read(PRODORD, f"{ORDERS}('{a['ManufacturingOrder']}')")
    assert after_a["MfgOrderPlannedStartDate"] == shifted(a, 2)


def test_failing_changeset_is_rolled_back_entirely(tech: Sap):
    a, b = unreleased_orders(tech, 2)
    parts = [
        changeset_part(
            "changeset_c2",
            [
                request_part("POST", f"ReleaseOrder?ManufacturingOrder='{a['ManufacturingOrder']}'"),
                request_part(
                    "PATCH",
                    f"{ORDERS}('{b['ManufacturingOrder']}')",
                    {"If-Match": "W/\"'19990101000000'\""},
                    {"MfgOrderPlannedStartDate": shifted(b, 2)},
                ),
            ],
        ),
    ]
    response = post_batch(tech, parts)
    assert response.status_code == 202, response.text
    (changeset,) = parse_multipart(response.text, response.headers["Content-Type"])
    # Gateway answers a failed changeset with one error response instead of the changeset
    statuses = [changeset.status] if isinstance(changeset, PartResponse) else [p.status for p in changeset]
    assert any(status == 412 for status in statuses), statuses
    assert tech.read(PRODORD, f"{ORDERS}('{a['ManufacturingOrder']}')")["OrderIsReleased"] == ""
    after_b = tech.read(PRODORD, f"{ORDERS}('{b['ManufacturingOrder']}')")
    assert after_b["MfgOrderPlannedStartDate"] == b["MfgOrderPlannedStartDate"]


def test_other_changesets_and_reads_still_run_after_a_failed_changeset(tech: Sap):
    a, b = unreleased_orders(tech, 2)
    parts = [
        changeset_part("changeset_bad", [request_part("POST", "ReleaseOrder?ManufacturingOrder='NOSUCHORDER'")]),
        changeset_part(
            "changeset_good", [request_part("POST", f"ReleaseOrder?ManufacturingOrder='{a['ManufacturingOrder']}'")]
        ),
        request_part("GET", f"{ORDERS}('{b['ManufacturingOrder']}')"),
    ]
    response = post_batch(tech, parts)
    assert response.status_code == 202
    bad, good, read = parse_multipart(response.text, response.headers["Content-Type"])
    bad_status = bad.status if isinstance(bad, PartResponse) else bad[0].status
    assert 400 <= bad_status < 500
    assert isinstance(good, list) and good[0].status == 200
    assert isinstance(read, PartResponse) and read.status == 200
    assert tech.read(PRODORD, f"{ORDERS}('{a['ManufacturingOrder']}')")["OrderIsReleased"] == "X"


def test_get_inside_a_changeset_is_rejected(tech: Sap):
    key = unreleased_orders(tech, 1)[0]["ManufacturingOrder"]
    parts = [changeset_part("changeset_g", [request_part("GET", f"{ORDERS}('{key}')")])]
    response = post_batch(tech, parts)
    if response.status_code == 202:
        (changeset,) = parse_multipart(response.text, response.headers["Content-Type"])
        statuses = [changeset.status] if isinstance(changeset, PartResponse) else [p.status for p in changeset]
        assert all(400 <= status < 500 for status in statuses), statuses
    else:
        assert response.status_code == 400


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/xml"])
def test_batch_with_other_content_type_is_415(tech: Sap, content_type: str):
    response = tech.write("POST", PRODORD, "$batch", body="{}", headers={"Content-Type": content_type})
    assert response.status_code == 415, response.text


def test_malformed_batch_body_is_400(tech: Sap):
    response = tech.write(
        "POST",
        PRODORD,
        "$batch",
        body="this is not multipart",
        headers={"Content-Type": "multipart/mixed; boundary=batch_x"},
    )
    assert_sap_error(response, 400)


def test_pyodata_batch_reads_and_changeset(pyodata_client: Callable[..., pyodata.Client], tech: Sap):
    client = pyodata_client(PRODORD)
    a, b = unreleased_orders(tech, 2)
    batch = client.create_batch()
    batch.add_request(client.entity_sets.A_ProductionOrder_2.get_entity(ManufacturingOrder=a["ManufacturingOrder"]))
    batch.add_request(client.entity_sets.A_ProductionOrder_2.get_entities().top(3))
    changeset = client.create_changeset()
    for order, days in ((a, 4), (b, 6)):
        update = client.entity_sets.A_ProductionOrder_2.update_entity(ManufacturingOrder=order["ManufacturingOrder"])
        update.set(MfgOrderPlannedStartDate=parse_date(order["MfgOrderPlannedStartDate"]) + timedelta(days=days))
        update.add_headers({"If-Match": order["__metadata"]["etag"]})
        changeset.add_request(update)
    batch.add_request(changeset)
    single, listing, changes = batch.execute()
    assert single.ManufacturingOrder == a["ManufacturingOrder"]
    assert len(listing) == 3
    assert changes == [None, None]
    for order, days in ((a, 4), (b, 6)):
        after = tech.read(PRODORD, f"{ORDERS}('{order['ManufacturingOrder']}')")
        assert after["MfgOrderPlannedStartDate"] == shifted(order, days)
        assert after["__metadata"]["etag"] != order["__metadata"]["etag"]
