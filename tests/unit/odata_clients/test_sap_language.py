"""SapHttp asks SAP for the current unit of work's language: `sap-language` and Accept-Language on every call."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from odata_clients.fanout import run_all
from odata_clients.language import accept_language, current_language, sap_language
from tests.unit.odata_clients.test_http import SERVICE, Script, http_for, make_handler


@pytest.fixture
def fake_sap() -> Iterator[tuple[str, Script]]:
    script = Script()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(script))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", script
    server.shutdown()
    server.server_close()


def query(request: dict[str, object]) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(request["path"])).query)


def test_no_language_set_sends_none(fake_sap: tuple[str, Script]) -> None:
    url, script = fake_sap
    http_for(url).request("GET", f"{SERVICE}/Things", service=SERVICE)
    [request] = script.requests
    assert "sap-language" not in query(request)
    assert "Accept-Language" not in request["headers"]


def test_reads_and_writes_carry_the_language(fake_sap: tuple[str, Script]) -> None:
    url, script = fake_sap
    http = http_for(url)
    with sap_language("de"):
        http.request("GET", f"{SERVICE}/Things", service=SERVICE, params={"$top": "1"})
        http.request("POST", f"{SERVICE}/Things", service=SERVICE, json={"a": 1})
    get, fetch, post = script.requests
    assert query(get)["sap-language"] == ["DE"] and query(get)["sap-client"] == ["100"]
    assert get["headers"]["Accept-Language"] == "de"
    assert fetch["headers"].get("X-CSRF-Token") == "Fetch"
    assert query(post)["sap-language"] == ["DE"]
    assert post["headers"]["Accept-Language"] == "de"
    # Outside the block nothing is left behind for the next unit of work on this thread.
    assert current_language() == ""
    http.request("GET", f"{SERVICE}/Things", service=SERVICE)
    assert "sap-language" not in query(script.requests[-1])


def test_a_next_link_or_the_caller_naming_a_language_is_not_doubled(fake_sap: tuple[str, Script]) -> None:
    url, script = fake_sap
    http = http_for(url)
    with sap_language("DE"):
        http.request("GET", f"{url}{SERVICE}/Things?$skiptoken=100&sap-language=DE&sap-client=100", service=SERVICE)
        http.request("GET", f"{SERVICE}/Things", service=SERVICE, params={"sap-language": "EN"})
    assert query(script.requests[0])["sap-language"] == ["DE"]
    assert query(script.requests[1])["sap-language"] == ["EN"]


def test_metadata_is_read_without_a_language(fake_sap: tuple[str, Script]) -> None:
    # The parsed metadata serves every caller of the process: its labels must not be one caller's language.
    url, script = fake_sap
    with sap_language("DE"):
        http_for(url).request("GET", f"{SERVICE}/$metadata", service=SERVICE)
    [request] = script.requests
    assert "sap-language" not in query(request)
    assert "Accept-Language" not in request["headers"]


def test_parallel_reads_of_one_request_keep_its_language(fake_sap: tuple[str, Script]) -> None:
    url, script = fake_sap
    http = http_for(url)
    calls = {name: (lambda: http.request("GET", f"{SERVICE}/Things", service=SERVICE)) for name in "abc"}
    with sap_language("FR"):
        run_all(calls, limit=3)
    assert [query(request)["sap-language"] for request in script.requests] == [["FR"]] * 3


def test_language_keys() -> None:
    assert accept_language("ZF") == "zh-TW"
    assert accept_language("PT") == "pt"
    with pytest.raises(ValueError):
        with sap_language("de-DE"):
            pass
