"""/docs is served from this app alone: the page, its script and Swagger UI's files (the browser test is in e2e)."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from app.docs import SWAGGER_UI_VERSION

ASSET_URL = re.compile(r'(?:src|href)="([^"]+)"')


def test_docs_page_loads_only_from_this_app(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "connect-src 'self'" in policy
    urls = ASSET_URL.findall(page.get_data(as_text=True))
    assert len(urls) >= 4
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        if url.startswith("/docs/"):
            assert asset.headers["Content-Security-Policy"] == policy
    assert f"/docs/swagger-ui/swagger-ui-bundle.js?v={SWAGGER_UI_VERSION}" in urls
    assert "/openapi.json" in page.get_data(as_text=True)


def test_swagger_ui_assets_are_the_pinned_packaged_copy(client: FlaskClient) -> None:
    bundle = client.get(f"/docs/swagger-ui/swagger-ui-bundle.js?v={SWAGGER_UI_VERSION}")
    assert bundle.mimetype == "text/javascript" and b"SwaggerUIBundle" in bundle.data
    assert "max-age" in bundle.headers["Cache-Control"]
    licence = client.get("/docs/swagger-ui/LICENSE")
    assert b"Apache License" in licence.data
    initializer = client.get("/docs/initializer.js").get_data(as_text=True)
    assert "validatorUrl: null" in initializer  # Swagger UI would otherwise fetch a badge from the internet


def test_anything_else_under_docs_is_a_404_in_the_error_shape(client: FlaskClient) -> None:
    for path in ("/docs/swagger-ui/index.html", "/docs/swagger-ui/../../app/api.py", "/docs/swagger-ui/nope.js"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert {"code", "status", "message"} <= set(response.json)
