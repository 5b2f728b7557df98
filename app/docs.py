"""Swagger UI at /docs from the pinned flask-swagger-ui package's copy: no CDN, the docs work offline."""

from __future__ import annotations

from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

from flask import Blueprint, Response, abort, render_template_string, send_from_directory, url_for

OUR_FILES = Path(__file__).resolve().parent / "swagger_ui"  # the page and its initializer
# Swagger UI's own build (Apache-2.0, its LICENSE beside it) as the package ships it; we only serve its files.
DIST = Path(str(files("flask_swagger_ui") / "dist"))
SWAGGER_UI_VERSION = version("flask-swagger-ui")  # the package is numbered after the Swagger UI it ships
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-16x16.png", "favicon-32x32.png", "LICENSE"})
PAGE = (OUR_FILES / "index.html").read_text()
INITIALIZER = (OUR_FILES / "initializer.js").read_text()
ASSET_MAX_AGE = 24 * 3600  # asset URLs carry the version, so a new Swagger UI is a new URL

# Swagger UI styles elements inline (React) and shows data: images; everything else comes from this app.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def register_swagger_ui(blueprint: Blueprint, path: str, *, spec_endpoint: str) -> None:
    """The page at `path`, its initializer and Swagger UI's assets under it, on the blueprint serving the document."""
    path = "/" + path.strip("/")
    endpoint = f"{blueprint.name}.swagger_ui_asset"

    def page() -> Response:
        html = render_template_string(
            PAGE,
            title="SAP extension API",
            spec_url=url_for(spec_endpoint),
            initializer_url=url_for(f"{blueprint.name}.swagger_ui_initializer", v=SWAGGER_UI_VERSION),
            asset=lambda name: url_for(endpoint, filename=name, v=SWAGGER_UI_VERSION),
        )
        return _with_policy(Response(html, mimetype="text/html"))

    def initializer() -> Response:
        return _with_policy(Response(INITIALIZER, mimetype="text/javascript"))

    def asset(filename: str) -> Response:
        if filename not in ASSETS:
            abort(404)
        return _with_policy(send_from_directory(DIST, filename, max_age=ASSET_MAX_AGE))

    blueprint.add_url_rule(path, endpoint="openapi_swagger_ui", view_func=page)
    blueprint.add_url_rule(f"{path}/initializer.js", endpoint="swagger_ui_initializer", view_func=initializer)
    blueprint.add_url_rule(f"{path}/swagger-ui/<path:filename>", endpoint="swagger_ui_asset", view_func=asset)


def _with_policy(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
