"""`$batch`: multipart/mixed parsing into requests and changesets, and the multipart response."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus

from werkzeug.datastructures import Headers

from mock_sap.errors import ODataError, bad_request

_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.I)


@dataclass
class BatchRequest:
    method: str
    url: str
    headers: Headers
    body: bytes
    content_id: str | None = None


@dataclass
class ChangeSet:
    requests: list[BatchRequest] = field(default_factory=list)


@dataclass
class BatchResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def boundary_of(content_type: str) -> str | None:
    if not content_type.lower().startswith("multipart/mixed"):
        return None
    match = _BOUNDARY.search(content_type)
    return (match.group(1) or match.group(2)) if match else None


def _split(body: bytes, boundary: str) -> list[bytes]:
    delimiter = b"--" + boundary.encode()
    chunks = body.split(delimiter)
    parts: list[bytes] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):  # the closing delimiter
            break
        parts.append(chunk.removeprefix(b"\r\n").removeprefix(b"\n"))
    if len(chunks) < 2:
        raise bad_request("Batch body does not contain the boundary of its Content-Type", code="/IWBEP/CM_MGW_RT/055")
    return parts


def _head_and_body(part: bytes) -> tuple[list[str], bytes]:
    for separator in (b"\r\n\r\n", b"\n\n"):
        if separator in part:
            head, body = part.split(separator, 1)
            return head.decode("utf-8", "replace").splitlines(), body
    return part.decode("utf-8", "replace").splitlines(), b""


def _headers(lines: list[str]) -> Headers:
    headers = Headers()
    for line in lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers.add(name.strip(), value.strip())
    return headers


def _trim_body(body: bytes) -> bytes:
    # The part ends with the CRLF that precedes the next delimiter; it is not part of the body.
    if body.endswith(b"\r\n"):
        return body[:-2]
    return body.removesuffix(b"\n")


def _request(part: bytes) -> BatchRequest:
    head, inner = _head_and_body(part)
    part_headers = _headers(head)
    lines_and_body = _head_and_body(inner)
    lines, body = lines_and_body
    if not lines:
        raise bad_request("Empty request in batch", code="/IWBEP/CM_MGW_RT/055")
    request_line = lines[0].split()
    if len(request_line) < 2:
        raise bad_request(f"Invalid request line in batch: '{lines[0]}'", code="/IWBEP/CM_MGW_RT/055")
    return BatchRequest(
        method=request_line[0].upper(),
        url=request_line[1],
        headers=_headers(lines[1:]),
        body=_trim_body(body),
        content_id=part_headers.get("Content-ID"),
    )


def parse_batch(body: bytes, content_type: str) -> list[BatchRequest | ChangeSet]:
    boundary = boundary_of(content_type)
    if boundary is None:
        raise ODataError(415, "/IWBEP/CM_MGW_RT/049", "Content type of a $batch request must be multipart/mixed")
    items: list[BatchRequest | ChangeSet] = []
    for part in _split(body, boundary):
        head, inner = _head_and_body(part)
        part_type = _headers(head).get("Content-Type", "")
        inner_boundary = boundary_of(part_type)
        if inner_boundary is not None:
            changeset = ChangeSet()
            for change in _split(inner, inner_boundary):
                request = _request(change)
                if request.method in ("GET", "HEAD"):
                    raise bad_request("A changeset must not contain GET requests", code="/IWBEP/CM_MGW_RT/056")
                changeset.requests.append(request)
            items.append(changeset)
        elif part.strip():
            request = _request(part)
            if request.method not in ("GET", "HEAD"):
                raise bad_request("Modifying requests must be sent in a changeset", code="/IWBEP/CM_MGW_RT/056")
            items.append(request)
    return items


def _http_part(response: BatchResponse) -> bytes:
    reason = HTTPStatus(response.status).phrase if response.status in HTTPStatus._value2member_map_ else ""
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    headers = dict(response.headers)
    headers["Content-Length"] = str(len(response.body))
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + response.body


def _wrap(payload: bytes, content_id: str | None = None) -> bytes:
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    return (head + "\r\n").encode() + payload + b"\r\n"


def build_batch_response(results: list[BatchResponse | list[BatchResponse]]) -> tuple[bytes, str]:
    """Multipart body and its Content-Type; a successful changeset nests its own multipart."""
    boundary = f"batch_{uuid.uuid4()}"
    out = bytearray()
    for result in results:
        out += f"--{boundary}\r\n".encode()
        if isinstance(result, list):
            inner = f"changeset_{uuid.uuid4()}"
            out += f"Content-Type: multipart/mixed; boundary={inner}\r\n\r\n".encode()
            for response in result:
                out += f"--{inner}\r\n".encode() + _wrap(_http_part(response))
            out += f"--{inner}--\r\n".encode()
        else:
            out += _wrap(_http_part(result))
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/mixed; boundary={boundary}"
