"""The reference app at /app: a progressive web app from static/, SAP's design assets from vendor/.

vendor/ is what devenv/webapp_assets.py takes from the pinned npm packages. Every response is revalidated
(no-cache, strong ETags): the service worker keeps the app offline, and its version, a hash of every file served
here, changes with any file, so browsers install the new app. A plain Flask blueprint: not part of the API's
OpenAPI document.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, abort, current_app, redirect, request, url_for
from werkzeug.security import safe_join
from werkzeug.wrappers import Response as WebResponse

from runtime.settings import Settings

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
VENDOR = HERE / "vendor"
PLACEHOLDER = b"__APP_VERSION__"
FILES_PLACEHOLDER = b"__APP_FILES__"  # sw.js: the list of files it caches
VERSIONED = frozenset({"index.html", "sw.js"})  # served with the placeholder replaced by the version
COMPRESSED = frozenset({".html", ".js", ".css", ".json", ".webmanifest", ".svg"})
TYPES = {".webmanifest": "application/manifest+json", ".js": "text/javascript", ".woff2": "font/woff2"}

blp = Blueprint("webapp", __name__, url_prefix="/app")


@dataclass(frozen=True)
class _File:
    stat: tuple[int, int]
    body: bytes
    digest: str


class Assets:
    """The files served under /app, read once per change (stat) and gzipped once per content."""

    def __init__(self, static: Path = STATIC, vendor: Path = VENDOR) -> None:
        self.static, self.vendor = static, vendor
        self._files: dict[Path, _File] = {}
        self._gzipped: dict[str, tuple[str, bytes]] = {}  # served name: (digest, gzip of that content)

    def path(self, name: str) -> Path | None:
        """The file that /app/<name> serves: none for dotfiles, directories or anything outside the two roots."""
        if any(part.startswith(".") for part in name.split("/")):
            return None
        root, rest = (self.vendor, name.removeprefix("vendor/")) if name.startswith("vendor/") else (self.static, name)
        joined = safe_join(str(root), rest)
        return Path(joined) if joined is not None and os.path.isfile(joined) else None

    def read(self, path: Path) -> _File:
        stat = path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._files.get(path)
        if cached is None or cached.stat != key:
            body = path.read_bytes()
            cached = self._files[path] = _File(key, body, hashlib.sha256(body).hexdigest())
        return cached

    def version(self) -> str:
        """A short hash of every served file's name and content."""
        digest = hashlib.sha256()
        for name in self.names():
            path = self.path(name)
            assert path is not None
            digest.update(f"{name}\0{self.read(path).digest}\n".encode())
        return digest.hexdigest()[:12]

    def shell(self) -> list[str]:
        """What the service worker caches for offline use: every served file but itself, the page (cached as ./)
        and the licence texts."""
        return [n for n in self.names() if n not in ("sw.js", "index.html") and not n.startswith("vendor/LICENSE")]

    def names(self) -> list[str]:
        """Every file served under /app, by its name there."""
        found = []
        for root, prefix in ((self.static, ""), (self.vendor, "vendor/")):
            for path in sorted(root.rglob("*")):
                name = prefix + path.relative_to(root).as_posix()
                if self.path(name) == path:
                    found.append(name)
        return found

    def gzipped(self, name: str, digest: str, body: bytes) -> bytes:
        cached = self._gzipped.get(name)
        if cached is None or cached[0] != digest:
            cached = self._gzipped[name] = (digest, gzip.compress(body, mtime=0))  # mtime=0: the same bytes each time
        return cached[1]


def init_webapp(app: Flask) -> None:
    app.extensions["webapp"] = Assets()
    app.register_blueprint(blp)


def _assets() -> Assets:
    assets: Assets = current_app.extensions["webapp"]
    return assets


def version() -> str:
    """The reference app's version (its service worker's cache name), for the page and config.json."""
    return _assets().version()


@blp.route("")
def root() -> WebResponse:
    return redirect(url_for(".index"), 308)


@blp.route("/")
def index() -> Response:
    return _file("index.html")


@blp.route("/config.json")
def config() -> Response:
    """What the app needs to sign in by itself (authorization code with PKCE), without the application router, and
    where it opens the event stream."""
    settings = current_app.extensions["settings"]
    body = json.dumps({**_sign_in(settings), "events_url": _events_url(settings), "version": version()})
    return _send("config.json", body.encode())


@blp.route("/<path:name>")
def asset(name: str) -> Response:
    return _file(name)


@blp.after_request
def add_headers(response: Response) -> Response:
    settings = current_app.extensions["settings"]
    own = _origin(request.host_url)
    # The identity provider's token endpoint and the event stream, where they are not on this origin.
    others = {_origin(_sign_in(settings)["token_endpoint"]), _origin(_events_url(settings), own)} - {own, ""}
    connect = " ".join(["'self'", *sorted(others)])
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        f"connect-src {connect}; manifest-src 'self'; worker-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )
    response.headers["Cache-Control"] = "no-cache"
    return response


def _file(name: str) -> Response:
    assets = _assets()
    path = assets.path(name)
    if path is None:
        abort(404)
    body = assets.read(path).body
    if name in VERSIONED:
        body = body.replace(PLACEHOLDER, assets.version().encode())
    if name == "sw.js":
        body = body.replace(FILES_PLACEHOLDER, json.dumps(assets.shell()).encode())
    return _send(name, body)


def _send(name: str, body: bytes) -> Response:
    suffix = PurePosixPath(name).suffix
    response = Response(mimetype=TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream")
    digest = hashlib.sha256(body).hexdigest()
    if suffix in COMPRESSED:
        response.vary.add("Accept-Encoding")
        if request.accept_encodings["gzip"]:
            body = _assets().gzipped(name, digest, body)
            response.content_encoding = "gzip"
            digest += "-gzip"  # a strong ETag names these bytes, not the plain ones
    response.set_data(body)
    response.set_etag(digest)
    response.make_conditional(request)  # a 304 when If-None-Match names these bytes
    return response


def _sign_in(settings: Settings) -> dict[str, str]:
    """The OAuth client and endpoints: this server's development IdP, or XSUAA's (its issuer is <url>/oauth/token)."""
    if settings.dev_idp_enabled:
        endpoints = {
            "authorization_endpoint": "dev_oauth.authorize",
            "token_endpoint": "dev_oauth.token",
            "revocation_endpoint": "dev_oauth.revoke",
            "end_session_endpoint": "dev_oauth.logout",
        }
        urls = {key: url_for(endpoint, _external=True) for key, endpoint in endpoints.items()}
    else:
        base = settings.jwt_issuer.rstrip("/").removesuffix("/oauth/token")
        urls = {
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "end_session_endpoint": f"{base}/logout.do",
        }
    return {"client_id": f"sb-{settings.xsappname}", **urls}


def _events_url(settings: Settings) -> str:
    """The event stream (its own process): EVENTS_URL, or the API's path on this origin (a path route, the router)."""
    return settings.events_url or "/api/v1/events"


def _origin(url: str, base: str = "") -> str:
    """scheme://host[:port] of `url`; a relative one is on `base`'s origin."""
    parts = urlsplit(url)
    if not parts.netloc:
        return base
    return f"{parts.scheme}://{parts.netloc}"
