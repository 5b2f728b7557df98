"""Which failed writes SAP may have applied: the error says so, so the worker asks SAP before re-sending."""

from __future__ import annotations

import socket

import pytest

from odata_clients.errors import SapError, SapTimeout, SapUnavailable
from tests.unit.odata_clients.test_http import SERVICE, Script, http_for, sap

__all__ = ["sap"]


def _fail(call: object) -> SapError:
    with pytest.raises(SapError) as raised:
        call()  # type: ignore[operator]
    return raised.value


def test_a_write_whose_answer_does_not_come_within_the_read_timeout_may_have_applied(
    sap: tuple[str, Script],
) -> None:
    url, script = sap
    http = http_for(url, read_timeout=0.3)
    http.request("POST", f"{SERVICE}/Things", service=SERVICE, json={"a": 1})  # the CSRF token is cached now
    script.hang = 1.0
    error = _fail(lambda: http.request("POST", f"{SERVICE}/Things", service=SERVICE, json={"a": 2}))
    assert isinstance(error, SapTimeout) and error.may_have_applied
    assert error.as_dict()["may_have_applied"] is True


def test_a_write_whose_connection_drops_after_sending_may_have_applied(sap: tuple[str, Script]) -> None:
    url, script = sap
    http = http_for(url)
    http.request("POST", f"{SERVICE}/Things", service=SERVICE, json={"a": 1})
    script.drop = True
    error = _fail(lambda: http.request("POST", f"{SERVICE}/Things", service=SERVICE, json={"a": 2}))
    assert isinstance(error, SapUnavailable) and error.may_have_applied


@pytest.mark.parametrize(("status", "in_doubt"), [(504, True), (502, True), (503, False), (500, False), (400, False)])
def test_a_gateway_timeout_leaves_a_write_in_doubt_an_answer_from_sap_does_not(
    sap: tuple[str, Script], status: int, in_doubt: bool
) -> None:
    url, script = sap
    http = http_for(url)
    script.statuses = [status]
    error = _fail(lambda: http.request("POST", f"{SERVICE}/Things", service=SERVICE, json={"a": 1}))
    assert error.status == status and error.may_have_applied is in_doubt


def test_a_write_to_a_refused_port_never_left() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    http = http_for(f"http://127.0.0.1:{port}")
    http.csrf.token(http.csrf.context("~technical"), lambda _ctx: "known-token")  # skip the fetch
    error = _fail(lambda: http.request("POST", f"{SERVICE}/Things", service=SERVICE, json={"a": 1}))
    assert isinstance(error, SapUnavailable) and not error.may_have_applied


def test_a_read_is_never_in_doubt(sap: tuple[str, Script]) -> None:
    url, script = sap
    http = http_for(url, read_timeout=0.3, max_attempts=1)
    script.hang = 1.0
    error = _fail(lambda: http.request("GET", f"{SERVICE}/Things", service=SERVICE))
    assert isinstance(error, SapTimeout) and not error.may_have_applied
