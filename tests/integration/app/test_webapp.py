"""The reference app at /app: files from its static and vendor directories (tmp ones here, pointed at through
app.extensions), revalidated and compressed, with its own Content-Security-Policy; config.json to sign in."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app import create_app
from app.webapp import STATIC, Assets
from runtime.settings import Settings

VERSION = re.compile(rb"const VERSION = '([0-9a-f]{12})';")
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; worker-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    static, vendor = tmp_path / "static", tmp_path / "vendor"
    (static / "css").mkdir(parents=True)
    vendor.mkdir()
    (static / "index.html").write_text('<!doctype html><html data-version="__APP_VERSION__"><title>App</title></html>')
    (static / "sw.js").write_text("const VERSION = '__APP_VERSION__';\n" + "// precache the shell\n" * 50)
    (static / "css" / "app.css").write_text("body { margin: 0 }\n" * 50)
    (static / "manifest.webmanifest").write_text('{"name": "App", "start_url": "/app/"}')
    (static / ".hidden").write_text("an editor's swap file")
    (vendor / "fiori.css").write_text(".fd-button { color: red }\n" * 50)
    (vendor / "72-Bold.woff2").write_bytes(b"wOF2" + bytes(range(256)))
    (vendor / ".package-lock.sha256").write_text("stamp")
    return static, vendor


@pytest.fixture
def web(app: Flask, dirs: tuple[Path, Path]) -> FlaskClient:
    app.extensions["webapp"] = Assets(*dirs)
    return app.test_client()


def body(response: TestResponse) -> dict[str, Any]:
    data = response.get_json()
    assert isinstance(data, dict), response.data
    return data


def sw_version(client: FlaskClient) -> bytes:
    match = VERSION.search(client.get("/app/sw.js").data)
    assert match, "sw.js without its version"
    return match.group(1)


def test_app_redirects_to_the_page_and_the_page_comes_from_static(client: FlaskClient) -> None:
    redirect = client.get("/app")
    assert redirect.status_code == 308 and redirect.headers["Location"].endswith("/app/")
    if not (STATIC / "index.html").exists():
        pytest.skip("app/webapp/static/index.html is not written yet")
    page = client.get("/app/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b"__APP_VERSION__" not in page.data


def test_every_response_carries_the_apps_policy_and_is_revalidated(web: FlaskClient) -> None:
    for path in ("/app/", "/app/sw.js", "/app/vendor/fiori.css", "/app/config.json", "/app/nope.js"):
        response = web.get(path)
        assert response.headers["Content-Security-Policy"] == POLICY, path
        assert response.headers["Cache-Control"] == "no-cache", path
    page = web.get("/app/")
    assert page.data.startswith(b"<!doctype html>") and b'data-version="' + sw_version(web) + b'"' in page.data


def test_text_is_gzipped_when_the_client_takes_it_and_plain_otherwise(web: FlaskClient) -> None:
    plain = web.get("/app/css/app.css", headers={"Accept-Encoding": "identity"})
    zipped = web.get("/app/css/app.css", headers={"Accept-Encoding": "gzip, deflate, br"})

    assert plain.headers.get("Content-Encoding") is None and plain.data == b"body { margin: 0 }\n" * 50
    assert zipped.headers["Content-Encoding"] == "gzip" and gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data)
    assert "Accept-Encoding" in plain.headers["Vary"] and "Accept-Encoding" in zipped.headers["Vary"]
    assert plain.headers["ETag"] != zipped.headers["ETag"]  # strong ETags: different bytes
    assert web.get("/app/css/app.css", headers={"Accept-Encoding": "gzip;q=0"}).data == plain.data
    font = web.get("/app/vendor/72-Bold.woff2", headers={"Accept-Encoding": "gzip"})
    assert font.headers.get("Content-Encoding") is None and font.mimetype == "font/woff2"


def test_a_known_etag_gets_304(web: FlaskClient) -> None:
    for encoding in ("gzip", "identity"):
        first = web.get("/app/vendor/fiori.css", headers={"Accept-Encoding": encoding})
        etag = first.headers["ETag"]
        assert etag.startswith('"'), "a strong ETag"
        again = web.get("/app/vendor/fiori.css", headers={"Accept-Encoding": encoding, "If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
        other = web.get("/app/vendor/fiori.css", headers={"Accept-Encoding": encoding, "If-None-Match": '"old"'})
        assert other.status_code == 200 and other.data == first.data


def test_the_service_worker_version_changes_with_any_served_file(web: FlaskClient, dirs: tuple[Path, Path]) -> None:
    static, vendor = dirs
    first = sw_version(web)
    assert body(web.get("/app/config.json"))["version"] == first.decode()
    etag = web.get("/app/sw.js").headers["ETag"]

    (static / "css" / "app.css").write_text("body { margin: 1px }\n")
    second = sw_version(web)
    assert second != first
    assert web.get("/app/sw.js", headers={"If-None-Match": etag}).status_code == 200  # the browser sees a new worker

    (vendor / "sap_horizon.css").write_text(":root { --sapBrandColor: #0070f2 }")
    third = sw_version(web)
    assert third not in (first, second)

    (static / ".another-swap-file").write_text("not served, not part of the version")
    assert sw_version(web) == third


def test_types_of_the_manifest_scripts_and_fonts(web: FlaskClient) -> None:
    assert web.get("/app/manifest.webmanifest").mimetype == "application/manifest+json"
    assert web.get("/app/sw.js").mimetype == "text/javascript"
    assert web.get("/app/vendor/72-Bold.woff2").mimetype == "font/woff2"
    assert web.get("/app/css/app.css").mimetype == "text/css"


def test_only_served_files_are_reachable(web: FlaskClient) -> None:
    for path in (
        "/app/../wsgi.py",
        "/app/%2e%2e/wsgi.py",
        "/app/vendor/../../__init__.py",
        "/app/vendor/..%2f..%2f__init__.py",
        "/app/.hidden",
        "/app/vendor/.package-lock.sha256",
        "/app/css",
        "/app/css/",
        "/app/vendor/",
        "/app/nope.js",
    ):
        response = web.get(path)
        assert response.status_code == 404, path
        assert body(response)["code"] == 404, path


def test_config_points_at_the_development_identity_provider_of_this_host(web: FlaskClient) -> None:
    config = body(web.get("/app/config.json", base_url="https://api.example.test"))
    assert config == {
        "client_id": "sb-sap-extension-api",
        "authorization_endpoint": "https://api.example.test/dev-idp/oauth/authorize",
        "token_endpoint": "https://api.example.test/dev-idp/oauth/token",
        "revocation_endpoint": "https://api.example.test/dev-idp/oauth/revoke",
        "end_session_endpoint": "https://api.example.test/dev-idp/logout.do",
        "events_url": "/api/v1/events",  # no EVENTS_URL: on this origin, like the API
        "version": sw_version(web).decode(),
    }


def test_config_points_at_xsuaa_without_the_development_identity_provider(
    settings: Settings, dirs: tuple[Path, Path]
) -> None:
    uaa = "https://tenant.authentication.eu10.hana.ondemand.com"
    app = create_app(
        settings, dev_idp=False, jwt_issuer=f"{uaa}/oauth/token", jwks_url=f"{uaa}/token_keys", xsappname="ext!t42"
    )
    app.extensions["webapp"] = Assets(*dirs)
    response = app.test_client().get("/app/config.json")
    assert {key: value for key, value in body(response).items() if key != "version"} == {
        "client_id": "sb-ext!t42",
        "authorization_endpoint": f"{uaa}/oauth/authorize",
        "token_endpoint": f"{uaa}/oauth/token",
        "revocation_endpoint": f"{uaa}/oauth/revoke",
        "end_session_endpoint": f"{uaa}/logout.do",
        "events_url": "/api/v1/events",
    }
    assert f"connect-src 'self' {uaa};" in response.headers["Content-Security-Policy"]


def test_an_event_stream_of_its_own_origin_is_in_the_config_and_the_policy(
    settings: Settings, dirs: tuple[Path, Path]
) -> None:
    app = create_app(settings, events_url="https://events.example.test:8443/api/v1/events")
    app.extensions["webapp"] = Assets(*dirs)
    response = app.test_client().get("/app/config.json", base_url="https://api.example.test")
    assert body(response)["events_url"] == "https://events.example.test:8443/api/v1/events"
    # Its origin only, beside this one (where the development identity provider is too).
    assert "connect-src 'self' https://events.example.test:8443;" in response.headers["Content-Security-Policy"]


def test_the_app_is_not_part_of_the_api_document(client: FlaskClient) -> None:
    paths = body(client.get("/openapi.json"))["paths"]
    assert paths and not [path for path in paths if path == "/app" or path.startswith("/app/")]
