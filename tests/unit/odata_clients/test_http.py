"""SapHttp against a scripted local HTTP server: CSRF, retries, breaker, timeouts, headers, logs."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import structlog

from odata_clients.destinations import Principal, build_destination
from odata_clients.errors import (
    CircuitOpenError,
    SapAuthError,
    SapBusinessError,
    SapPreconditionFailed,
    SapProtocolError,
    SapTimeout,
    SapUnavailable,
)
from odata_clients.http import SapHttp, record_calls

SERVICE = "/sap/opu/odata/sap/TEST_SRV"


class Script:
    """What the fake SAP answers; tests change it between calls."""

    def __init__(self) -> None:
        self.statuses: list[int] = []  # consumed per non-fetch request; empty means 200
        self.hang = 0.0
        self.drop = False  # close the connection instead of answering (not CSRF fetches)
        self.valid_tokens: set[str] = set()
        self.requests: list[dict[str, Any]] = []
        self.fetches = 0
        self.counter = itertools.count(1)


def make_handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            script.requests.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
            )
            if script.hang:
                time.sleep(script.hang)
            if self.headers.get("X-CSRF-Token", "").lower() == "fetch":
                script.fetches += 1
                token = f"T{next(script.counter)}"
                script.valid_tokens.add(token)
                self.send_response(200)
                self.send_header("x-csrf-token", token)
                self.send_header("Set-Cookie", f"sap-XSRF_ABC_100={token}; Path=/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if script.drop:
                self.close_connection = True
                return
            if self.command not in ("GET", "HEAD"):
                token = self.headers.get("X-CSRF-Token", "")
                cookie = self.headers.get("Cookie", "")
                if token not in script.valid_tokens or f"sap-XSRF_ABC_100={token}" not in cookie:
                    payload = b"CSRF token validation failed"
                    self.send_response(403)
                    self.send_header("x-csrf-token", "Required")
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
            status = script.statuses.pop(0) if script.statuses else 200
            if status >= 400:
                payload = json.dumps(
                    {"error": {"code": "ZZ/001", "message": {"lang": "en", "value": f"failed with {status}"}}}
                ).encode()
            else:
                payload = json.dumps({"d": {"ok": True}}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if status == 429:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_HEAD = do_DELETE = _answer

    return Handler


@pytest.fixture
def sap() -> Iterator[tuple[str, Script]]:
    script = Script()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(script))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", script
    server.shutdown()
    server.server_close()


def http_for(url: str, **tuning: Any) -> SapHttp:
    tuning.setdefault("backoff_base", 0.001)
    tuning.setdefault("read_timeout", 2.0)
    destination = build_destination("s4", url, user="EXT_API_TECH", password="tech-pass-1", **tuning)
    return SapHttp(destination)


def test_get_adds_client_correlation_id_and_basic_auth(sap: tuple[str, Script]) -> None:
    url, script = sap
    http = http_for(url)
    structlog.contextvars.bind_contextvars(request_id="req-123")
    try:
        with record_calls() as calls:
            http.request("GET", f"{SERVICE}/Things", service=SERVICE, params={"$top": "1"})
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    [request] = script.requests
    assert "sap-client=100" in request["path"] and "%24top=1" in request["path"]
    assert request["headers"]["X-CorrelationID"] == "req-123"
    assert request["headers"]["Authorization"].startswith("Basic ")
    [event] = calls
    assert (event.status, event.attempt, event.request_id, event.auth_kind) == (200, 1, "req-123", "basic")
    assert "tech-pass-1" not in repr(event)


def test_write_fetches_token_lazily_once_and_refetches_once_when_expired(sap: tuple[str, Script]) -> None:
    url, script = sap
    http = http_for(url)
    http.request("GET", f"{SERVICE}/Things", service=SERVICE)
    assert script.fetches == 0
    http.request("POST", f"{SERVICE}/Things", service=SERVICE, json={"a": 1})
    http.request("POST", f"{SERVICE}/Things", service=SERVICE, json={"a": 2})
    assert script.fetches == 1
    script.valid_tokens.clear()  # the token expires in SAP
    http.request("POST", f"{SERVICE}/Things", service=SERVICE, json={"a": 3})
    assert script.fetches == 2
    fetch = [r for r in script.requests if r["headers"].get("X-CSRF-Token") == "Fetch"][0]
    assert fetch["method"] == "HEAD"


def test_persistent_csrf_refusal_is_an_auth_error_after_one_refetch(sap: tuple[str, Script]) -> None:
    url, script = sap
    http = http_for(url)
    http.csrf.context("~technical").token = "stale"  # never valid
    original = script.valid_tokens

    class Never(set[str]):
        def __contains__(self, item: object) -> bool:
            return False

    script.valid_tokens = Never()
    with pytest.raises(SapAuthError):
        http.request("POST", f"{SERVICE}/Things", service=SERVICE, json={})
    assert script.fetches == 1
    script.valid_tokens = original


def test_reads_are_retried_on_503_writes_are_not(sap: tuple[str, Script]) -> None:
    url, script = sap
    http = http_for(url, max_attempts=3)
    script.statuses = [503, 502]
    with record_calls() as calls:
        http.request("GET", f"{SERVICE}/Things", service=SERVICE)
    assert [c.status for c in calls] == [503, 502, 200]
    assert [c.attempt for c in calls] == [1, 2, 3]
    script.statuses = [503]
    with pytest.raises(SapUnavailable), record_calls() as calls:
        http.request("POST", f"{SERVICE}/Things", service=SERVICE, json={})
    assert [c.status for c in calls if c.method == "POST"] == [503]


def test_429_retry_after_is_honoured(sap: tuple[str, Script]) -> None:
    url, script = sap
    http = http_for(url)
    script.statuses = [429]
    http.request("GET", f"{SERVICE}/Things", service=SERVICE)
    assert len(script.requests) == 2


def test_business_errors_are_not_retried_and_carry_sap_message(sap: tuple[str, Script]) -> None:
    url, script = sap
    http = http_for(url)
    script.statuses = [400]
    with pytest.raises(SapBusinessError) as info:
        http.request("GET", f"{SERVICE}/Things", service=SERVICE)
    assert info.value.code == "ZZ/001"
    assert len(script.requests) == 1
    script.statuses = [412]
    with pytest.raises(SapPreconditionFailed):
        http.request("PATCH", f"{SERVICE}/Things('1')", service=SERVICE, json={}, headers={"If-Match": "W/x"})


def test_update_without_if_match_never_leaves(sap: tuple[str, Script]) -> None:
    url, script = sap
    http = http_for(url)
    with pytest.raises(SapProtocolError, match="If-Match"):
        http.request("PATCH", f"{SERVICE}/Things('1')", service=SERVICE, json={})
    assert script.requests == []


def test_breaker_opens_fails_fast_and_recovers(sap: tuple[str, Script]) -> None:
    url, script = sap
    http = http_for(url, max_attempts=1, breaker_failure_threshold=2, breaker_recovery_time=0.2)
    script.statuses = [503, 503]
    for _ in range(2):
        with pytest.raises(SapUnavailable):
            http.request("GET", f"{SERVICE}/Things", service=SERVICE)
    started = time.perf_counter()
    with pytest.raises(CircuitOpenError):
        http.request("GET", f"{SERVICE}/Things", service=SERVICE)
    assert time.perf_counter() - started < 0.01
    assert len(script.requests) == 2
    time.sleep(0.25)
    http.request("GET", f"{SERVICE}/Things", service=SERVICE)
    http.request("GET", f"{SERVICE}/Things", service=SERVICE)


def test_timeout_within_budget(sap: tuple[str, Script]) -> None:
    url, script = sap
    http = http_for(url, read_timeout=0.3, total_timeout=0.3, max_attempts=3)
    script.hang = 1.0
    started = time.perf_counter()
    with pytest.raises(SapTimeout):
        http.request("GET", f"{SERVICE}/Things", service=SERVICE)
    assert time.perf_counter() - started < 0.3 * 1.1 + 0.05


def test_user_propagation_needs_and_sends_the_principal_token(sap: tuple[str, Script]) -> None:
    url, script = sap
    destination = build_destination("s4-user", url, auth_kind="user_propagation", backoff_base=0.001)
    http = SapHttp(destination)
    with pytest.raises(SapAuthError):
        http.request("GET", f"{SERVICE}/Things", service=SERVICE)
    anna = Principal("EXEC_ANNA", "token-of-anna")
    ben = Principal("EXEC_BEN", "token-of-ben")
    with record_calls() as calls:
        http.request("POST", f"{SERVICE}/Things", service=SERVICE, principal=anna, json={})
        http.request("POST", f"{SERVICE}/Things", service=SERVICE, principal=ben, json={})
    assert script.fetches == 2  # one token per user: tokens and cookies are never shared
    sent = [r["headers"]["Authorization"] for r in script.requests]
    assert "Bearer token-of-anna" in sent and "Bearer token-of-ben" in sent
    assert {c.on_behalf_of for c in calls} == {"EXEC_ANNA", "EXEC_BEN"}
    assert all("token-of" not in repr(c) for c in calls)


def test_urls_outside_the_destination_are_refused(sap: tuple[str, Script]) -> None:
    url, _ = sap
    http = http_for(url)
    with pytest.raises(SapProtocolError):
        http.request("GET", "http://evil.example.com/steal", service=SERVICE)


def test_oauth2_client_credentials_token_is_fetched_once_and_sent_as_bearer(sap: tuple[str, Script]) -> None:
    url, script = sap
    token_server_hits: list[str] = []

    class TokenHandler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            token_server_hits.append(self.rfile.read(length).decode())
            body = json.dumps({"access_token": "cc-token-1", "token_type": "bearer", "expires_in": 3600}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    token_server = ThreadingHTTPServer(("127.0.0.1", 0), TokenHandler)
    threading.Thread(target=token_server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        destination = build_destination(
            "s4-cc",
            url,
            auth_kind="oauth2_client_credentials",
            token_url=f"http://127.0.0.1:{token_server.server_address[1]}/oauth/token",
            client_id="sb-ext",
            client_secret="very-secret",
        )
        http = SapHttp(destination)
        with record_calls() as calls:
            http.request("GET", f"{SERVICE}/Things", service=SERVICE)
            http.request("GET", f"{SERVICE}/Things", service=SERVICE)
        assert len(token_server_hits) == 1 and "client_credentials" in token_server_hits[0]
        assert all(r["headers"]["Authorization"] == "Bearer cc-token-1" for r in script.requests)
        assert {c.auth_kind for c in calls} == {"oauth2_client_credentials"}
    finally:
        token_server.shutdown()
        token_server.server_close()
