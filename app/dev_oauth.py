"""The development identity provider's OAuth 2.0 server, speaking XSUAA's protocol under /dev-idp.

An app, SAP's application router or a native app signs in here exactly as it would against XSUAA (its
binding's `url` is http://<host>/dev-idp): authorization code with PKCE, refresh tokens, client credentials,
XSUAA-shaped tokens checked against /dev-idp/token_keys. Instead of a password, a login page lets a developer
pick one of the development users (app/dev_users.json). Development only: settings refuse DEV_IDP in
production, and the app registers none of this unless the dev IdP is on.

State lives in Redis, so every gunicorn worker and instance sees the same codes, sessions and refresh tokens:
- an authorization code is single-use (GETDEL); a replayed one revokes what was issued with it (RFC 6749 4.1.2);
- refresh tokens rotate; a used one presented again revokes its whole family (RFC 9700 4.14.2);
- a sign-in session (cookie) lets the next authorize skip the login page; logout ends it and revokes the
  refresh tokens issued in it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import redis
from flask import Blueprint, Flask, Response, current_app, redirect, request
from joserfc import jwt
from werkzeug.wrappers import Response as WebResponse

from app.dev_idp import scopes_of, xs_security
from runtime.secret_files import read_or_create
from runtime.settings import Settings
from runtime.user_assertion import load_or_create_key, user_claims

PREFIX = "/dev-idp"
USERS_FILE = Path(__file__).with_name("dev_users.json")
CLIENT_SECRET_FILE = "dev-idp-client-secret"  # beside the signing key


# As XSUAA applies oauth2-configuration: short access tokens (a stolen one is worth minutes), longer refresh.
ACCESS_TOKEN_LIFETIME = int(xs_security()["oauth2-configuration"]["token-validity"])
REFRESH_TOKEN_LIFETIME = int(xs_security()["oauth2-configuration"]["refresh-token-validity"])
CODE_LIFETIME = 5 * 60
SESSION_LIFETIME = 8 * 3600
SESSION_COOKIE = "dev_idp_session"
LOGIN_COOKIE = "dev_idp_login"  # double-submit token of the login form
ZONE_ID = "dev-zone"  # zid: the identity zone (subaccount) of every development token
_PKCE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")  # RFC 7636 4.1
_PKCE_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")  # BASE64URL(SHA-256), unpadded

blp = Blueprint("dev_oauth", __name__, url_prefix=PREFIX)


# -- users and clients ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DevUser:
    user: str
    name: str
    role_collections: tuple[str, ...]
    attributes: dict[str, list[str]]


def dev_users() -> dict[str, DevUser]:
    """The users of the login page, read on every call: an edit to the file shows at the next sign-in or refresh."""
    data = json.loads(USERS_FILE.read_text())
    return {
        u["user"]: DevUser(u["user"], u.get("name", u["user"]), tuple(u["role_collections"]), u.get("attributes", {}))
        for u in data["users"]
    }


@dataclass(frozen=True)
class OAuthClient:
    """The xsuaa service instance's OAuth client (`sb-<xsappname>`), as XSUAA keeps one per instance.

    Confidential when it authenticates with the secret (the application router); a native app or a single-page
    app uses the same client id without a secret, and then PKCE with S256 is required."""

    client_id: str
    secret: str
    redirect_uris: tuple[str, ...]  # XSUAA patterns: * within a host label or path segment, ** across

    def allows_redirect(self, uri: str) -> bool:
        return any(redirect_matches(pattern, uri) for pattern in self.redirect_uris)


# What a redirect URI may contain (RFC 3986's unreserved and reserved characters and %): no backslash, space or
# control character, which browsers and URL parsers read differently (`https://evil.example\.good.example/`).
_URI_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?\[\]@!$&'()*+,;=%]+")
_HOST_LABEL = "[A-Za-z0-9-]*"  # `*` in the scheme, host and port: within one host label (or the port)
_PATH_SEGMENT = "[^/?#]*"  # `*` in the path and query: within one path segment


def redirect_matches(pattern: str, uri: str) -> bool:
    """XSUAA's redirect-uri wildcards: `**` matches anything, `*` one host label or port, or one path segment."""
    if not _URI_CHARACTERS.fullmatch(uri) or "#" in uri or "@" in urlsplit(uri).netloc:
        return False  # RFC 6749 3.1.2: an absolute URI without fragment; no user info to hide another host behind
    if not urlsplit(uri).scheme:
        return False
    scheme_and_host, slashes, rest = pattern.partition("://")
    host, _, path = rest.partition("/")
    regex = _wildcards(f"{scheme_and_host}{slashes}{host}", _HOST_LABEL)
    regex += "/" + _wildcards(path, _PATH_SEGMENT) if "/" in rest else ""
    return re.fullmatch(regex, uri) is not None


def _wildcards(pattern: str, one: str) -> str:
    return "".join(
        ".*" if part == "**" else one if part == "*" else re.escape(part) for part in re.split(r"(\*\*|\*)", pattern)
    )


def registered_redirect_uris(settings: Settings) -> tuple[str, ...]:
    """xs-security.json's oauth2-configuration redirect-uris (as on BTP), then the local ones of the settings."""
    return (*xs_security()["oauth2-configuration"]["redirect-uris"], *settings.dev_idp_redirect_uris)


def client_for(settings: Settings) -> OAuthClient:
    secret_file = Path(settings.dev_idp_key_file).with_name(CLIENT_SECRET_FILE)
    secret = read_or_create(secret_file, lambda: secrets.token_urlsafe(32)).strip()
    return OAuthClient(f"sb-{settings.xsappname}", secret, registered_redirect_uris(settings))


# -- tokens ----------------------------------------------------------------------------------------------


def _base_url() -> str:
    """This provider's URL as the caller reached it: XSUAA's binding `url` (tokens name it in `jku`)."""
    return request.host_url.rstrip("/") + PREFIX


def _scopes(user: DevUser, settings: Settings, requested: str | None) -> list[str]:
    granted = ["openid", *scopes_of(list(user.role_collections), settings.xsappname)]
    if not requested:
        return granted
    wanted = set(requested.split())
    return [scope for scope in granted if scope in wanted]  # XSUAA: what was asked for, within what is granted


def _access_token(settings: Settings, client: OAuthClient, user: DevUser, scopes: list[str], grant: str) -> str:
    claims = user_claims(
        issuer=settings.jwt_issuer,
        xsappname=settings.xsappname,
        user=user.user,
        scopes=[s for s in scopes if s != "openid"],
        attributes=user.attributes,
        role_collections=list(user.role_collections),
        lifetime=ACCESS_TOKEN_LIFETIME,
        origin="dev-idp",
        grant_type=grant,
        email=f"{user.user.lower()}@example.com",
    )
    claims["scope"] = scopes
    claims.update(_xsuaa_claims(client, user.user))
    return _sign(settings, claims)


def _xsuaa_claims(client: OAuthClient, user: str | None) -> dict[str, Any]:
    """What XSUAA adds to every token: the identity zone, the client, and who the subject is."""
    subject = str(uuid.uuid5(uuid.NAMESPACE_URL, f"dev-idp:{user}")) if user else client.client_id
    claims: dict[str, Any] = {
        "sub": subject,
        "zid": ZONE_ID,
        "cid": client.client_id,
        "client_id": client.client_id,
        "azp": client.client_id,
        "ext_attr": {"enhancer": "XSUAA", "subaccountid": ZONE_ID, "zdn": "dev"},
    }
    if user:
        claims["user_id"] = subject
    return claims


def _sign(settings: Settings, claims: dict[str, Any]) -> str:
    key = load_or_create_key(settings.dev_idp_key_file)
    # XSUAA names its key set in the header; SAP's libraries fetch the keys from there.
    header = {"alg": "RS256", "kid": key.kid, "typ": "JWT", "jku": f"{_base_url()}/token_keys"}
    return jwt.encode(header, claims, key)


def _id_token(settings: Settings, client: OAuthClient, user: DevUser, nonce: str | None) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "sub": _xsuaa_claims(client, user.user)["sub"],
        "aud": [client.client_id],
        "azp": client.client_id,
        "iat": now,
        "exp": now + ACCESS_TOKEN_LIFETIME,
        "user_name": user.user,
        "name": user.name,
        "email": f"{user.user.lower()}@example.com",
        "zid": ZONE_ID,
        "origin": "dev-idp",
    }
    if nonce:
        claims["nonce"] = nonce
    return _sign(settings, claims)


# -- the store (Redis) -----------------------------------------------------------------------------------


def _redis() -> redis.Redis:
    connection: redis.Redis = current_app.extensions["redis"]
    return connection


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _key(*parts: str) -> str:
    return "dev-idp:" + ":".join(parts)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()  # refresh tokens are kept by hash, never as issued


def _revoke_family(family: str) -> None:
    _redis().set(_key("family-revoked", family), "1", ex=REFRESH_TOKEN_LIFETIME)


def _issue_refresh_token(record: dict[str, Any]) -> str:
    token = secrets.token_urlsafe(32)
    digest = _digest(token)
    # Its family is known from the start: a copy presented after the token was used finds it (see below).
    _redis().set(_key("refresh-family", digest), record["family"], ex=REFRESH_TOKEN_LIFETIME)
    _redis().set(_key("refresh", digest), json.dumps(record), ex=REFRESH_TOKEN_LIFETIME)
    if record.get("session"):
        families = _key("session-families", record["session"])
        _redis().sadd(families, record["family"])
        _redis().expire(families, SESSION_LIFETIME)
    return token


def _session_user() -> str | None:
    sid = request.cookies.get(SESSION_COOKIE)
    if not sid:
        return None
    user = _redis().get(_key("session", _digest(sid)))
    return _text(user) if user else None


# -- errors ----------------------------------------------------------------------------------------------


class OAuthError(Exception):
    """An RFC 6749 error: `error` code, a description, the HTTP status (token endpoint)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> WebResponse:
    response = Response(json.dumps(body), status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 5.1: tokens and their errors are never cached
    response.headers["Pragma"] = "no-cache"
    response.headers.update(headers or {})
    return response


def _page(title: str, body: str, status: int = 200) -> WebResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body><main><p class="brand">Development identity provider</p><h1>{escape(title)}</h1>{body}</main>'
        "</body></html>"
    )
    response = Response(html, status, mimetype="text/html")
    policy = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    response.headers["Content-Security-Policy"] = policy
    response.headers["Cache-Control"] = "no-store"
    return response


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0;background:#f5f6f7;color:#1d2d3e}"
    "main{max-width:32rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:.75rem}"
    ".brand{color:#556b82;font-size:.875rem;margin:0}h1{font-size:1.5rem}"
    "button{display:block;width:100%;text-align:left;margin:.5rem 0;padding:.75rem 1rem;font-size:1rem;"
    "border:1px solid #0a6ed1;border-radius:.5rem;background:#fff;color:#0a6ed1;cursor:pointer}"
    "button:hover,button:focus{background:#ebf5fe;outline:2px solid #0a6ed1}"
    "small{display:block;color:#556b82}@media (prefers-color-scheme:dark){body{background:#12171c;color:#eaecee}"
    "main{background:#1d232a}button{background:#1d232a;color:#4db1ff;border-color:#4db1ff}"
    "button:hover,button:focus{background:#23303d}small,.brand{color:#a9b4be}}"
)


def _error_page(description: str) -> WebResponse:
    """An error that must not be sent to the client's redirect URI (RFC 6749 4.1.2.1): shown to the person."""
    body = f"<p>error: invalid_request</p><p>{escape(description)}</p>"
    return _page("Sign-in request refused", body, 400)


def _redirect_error(redirect_uri: str, error: str, description: str, state: str | None) -> WebResponse:
    params = {"error": error, "error_description": description, **({"state": state} if state else {})}
    return redirect(_with_query(redirect_uri, params), 302)


def _with_query(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if urlsplit(uri).query else "?") + urlencode(params)


# -- /oauth/authorize and the login page --------------------------------------------------------------


@blp.route("/oauth/authorize", methods=["GET"])
def authorize() -> WebResponse:
    """Authorization code (RFC 6749 4.1) with PKCE (RFC 7636): the login page, or straight back when signed in."""
    settings: Settings = current_app.extensions["settings"]
    client = client_for(settings)
    args = request.args
    if args.get("client_id") != client.client_id:
        return _error_page(f"unknown client_id {args.get('client_id', '')!r}; this provider knows {client.client_id!r}")
    redirect_uri = args.get("redirect_uri", "")
    if not redirect_uri or not client.allows_redirect(redirect_uri):
        return _error_page(
            f"redirect_uri {redirect_uri!r} is not registered for {client.client_id}: add it to xs-security.json's "
            "oauth2-configuration redirect-uris (or, locally, DEV_IDP_REDIRECT_URIS)"
        )
    state = args.get("state")
    if args.get("response_type") != "code":
        return _redirect_error(redirect_uri, "unsupported_response_type", "only response_type=code", state)
    challenge, method = args.get("code_challenge"), args.get("code_challenge_method")
    if challenge is not None or method is not None:
        if method != "S256":
            return _redirect_error(redirect_uri, "invalid_request", "code_challenge_method must be S256", state)
        if not challenge or not _PKCE_CHALLENGE.fullmatch(challenge):
            return _redirect_error(
                redirect_uri, "invalid_request", "code_challenge must be BASE64URL(SHA256(verifier))", state
            )
    user_name = _session_user()
    user = dev_users().get(user_name) if user_name else None
    if user is None:
        return _login_page()
    code, family = secrets.token_urlsafe(32), uuid.uuid4().hex
    record = {
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "user": user.user,
        "scope": args.get("scope"),
        "code_challenge": challenge,
        "nonce": args.get("nonce"),
        "session": _digest(request.cookies.get(SESSION_COOKIE, "")),
        "family": family,
    }
    _redis().set(_key("code-family", _digest(code)), family, ex=CODE_LIFETIME)
    _redis().set(_key("code", _digest(code)), json.dumps(record), ex=CODE_LIFETIME)
    return redirect(_with_query(redirect_uri, {"code": code, **({"state": state} if state else {})}), 302)


def _login_page() -> WebResponse:
    nonce = secrets.token_urlsafe(16)
    buttons = "".join(
        f'<button type="submit" name="user" value="{escape(u.user)}">{escape(u.user)}<small>{escape(u.name)}'
        f" &middot; {escape(', '.join(u.role_collections))}</small></button>"
        for u in dev_users().values()
    )
    body = (
        "<p>Sign in as one of the development users (app/dev_users.json). On SAP BTP, XSUAA asks for a password"
        " here.</p>"
        f'<form method="post" action="{PREFIX}/login">'
        f'<input type="hidden" name="continue" value="{escape(request.full_path)}">'
        f'<input type="hidden" name="login_token" value="{nonce}">{buttons}</form>'
    )
    response = _page("Sign in", body)
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=CODE_LIFETIME, httponly=True, samesite="Lax", path=PREFIX)
    return response


@blp.route("/login", methods=["POST"])
def login() -> WebResponse:
    """The login page's form: starts a session for the chosen user and goes back to /oauth/authorize."""
    form = request.form
    token = form.get("login_token", "")
    if not token or not hmac.compare_digest(token.encode(), request.cookies.get(LOGIN_COOKIE, "").encode()):
        return _page("Sign-in expired", "<p>The sign-in page was too old or opened elsewhere. Start again.</p>", 400)
    user = dev_users().get(form.get("user", ""))
    if user is None:
        return _page("Unknown user", "<p>Pick one of the development users.</p>", 400)
    back = form.get("continue", "")
    if not back.startswith(f"{PREFIX}/oauth/authorize?"):  # never an open redirect
        return _page("Sign-in request refused", "<p>Nowhere to return to.</p>", 400)
    sid = secrets.token_urlsafe(32)
    _redis().set(_key("session", _digest(sid)), user.user, ex=SESSION_LIFETIME)
    response = redirect(back, 303)
    response.set_cookie(SESSION_COOKIE, sid, max_age=SESSION_LIFETIME, httponly=True, samesite="Lax", path=PREFIX)
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


# -- /oauth/token -----------------------------------------------------------------------------------------


@blp.route("/oauth/token", methods=["POST"])
def token() -> WebResponse:
    """RFC 6749 section 4.1.3 (authorization_code), 6 (refresh_token), 4.4 (client_credentials)."""
    settings: Settings = current_app.extensions["settings"]
    client = client_for(settings)
    try:
        confidential = _authenticate_client(client)
        grant = request.form.get("grant_type")
        if grant == "authorization_code":
            body = _from_code(settings, client, confidential)
        elif grant == "refresh_token":
            body = _from_refresh_token(settings, client, confidential)
        elif grant == "client_credentials":
            if not confidential:
                raise OAuthError("unauthorized_client", "client_credentials needs the client secret", 400)
            body = _client_credentials(settings, client)
        elif not grant:
            raise OAuthError("invalid_request", "grant_type is missing")
        else:
            raise OAuthError("unsupported_grant_type", f"grant_type {grant!r} is not supported")
    except OAuthError as exc:
        headers = {"WWW-Authenticate": 'Basic realm="dev-idp"'} if exc.status == 401 else None
        return _json({"error": exc.error, "error_description": exc.description}, exc.status, headers)
    return _json(body)


def _authenticate_client(client: OAuthClient) -> bool:
    """True: the client proved its secret (Basic or form). False: a public client naming only its client_id."""
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        client_id, secret = auth.username or "", auth.password or ""
    else:
        client_id, secret = request.form.get("client_id", ""), request.form.get("client_secret", "")
    if client_id != client.client_id:
        raise OAuthError("invalid_client", f"unknown client {client_id!r}", 401)
    if not secret:
        return False
    if not hmac.compare_digest(secret.encode(), client.secret.encode()):
        raise OAuthError("invalid_client", "wrong client secret", 401)
    return True


def _from_code(settings: Settings, client: OAuthClient, confidential: bool) -> dict[str, Any]:
    code = request.form.get("code", "")
    if not code:
        raise OAuthError("invalid_request", "code is missing")
    raw = _redis().getdel(_key("code", _digest(code)))
    if raw is None:
        # Used before (or made up, or expired). A replay may be an attacker's: revoke what the code gave.
        family = _redis().get(_key("code-family", _digest(code)))
        if family:
            _revoke_family(_text(family))
        raise OAuthError("invalid_grant", "the authorization code is invalid, expired or was already used")
    record = json.loads(raw)
    if not _redis().exists(_key("session", record["session"])):
        raise OAuthError("invalid_grant", "the sign-in session of this code has ended (logout); sign in again")
    if record["client_id"] != client.client_id:
        raise OAuthError("invalid_grant", "the code was issued to another client")
    if request.form.get("redirect_uri", "") != record["redirect_uri"]:
        raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request's")
    challenge = record.get("code_challenge")
    verifier = request.form.get("code_verifier")
    if challenge is None and not confidential:
        raise OAuthError("invalid_grant", "a client without a secret must use PKCE (code_challenge with S256)")
    if challenge is not None:
        if not verifier or not _PKCE_VERIFIER.fullmatch(verifier):
            raise OAuthError("invalid_grant", "code_verifier is missing or malformed")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if not hmac.compare_digest(digest, challenge):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
    user = dev_users().get(record["user"])
    if user is None:
        raise OAuthError("invalid_grant", f"user {record['user']} is no longer a development user")
    scopes = _scopes(user, settings, record.get("scope"))
    refresh = _issue_refresh_token(
        {
            "family": record["family"],
            "user": user.user,
            "scope": record.get("scope"),
            "session": record["session"],
            "confidential": confidential,  # its refresh needs the secret too (RFC 6749 section 6)
        }
    )
    body = _token_response(settings, client, user, scopes, "authorization_code", refresh)
    if "openid" in scopes:
        body["id_token"] = _id_token(settings, client, user, record.get("nonce"))
    return body


def _from_refresh_token(settings: Settings, client: OAuthClient, confidential: bool) -> dict[str, Any]:
    presented = request.form.get("refresh_token", "")
    if not presented:
        raise OAuthError("invalid_request", "refresh_token is missing")
    digest = _digest(presented)
    raw = _redis().getdel(_key("refresh", digest))
    if raw is None:
        family = _redis().get(_key("refresh-family", digest))
        if family:  # a rotated-away token came back: someone holds a copy, so none of its family is trusted
            _revoke_family(_text(family))
            raise OAuthError("invalid_grant", "refresh token already used: its whole family is revoked, sign in again")
        raise OAuthError("invalid_grant", "refresh token is invalid, expired or revoked")
    record = json.loads(raw)
    if _redis().exists(_key("family-revoked", record["family"])):
        raise OAuthError("invalid_grant", "refresh token was revoked, sign in again")
    if record.get("confidential") and not confidential:
        _revoke_family(record["family"])  # a confidential client's token in the hands of someone without its secret
        raise OAuthError("invalid_grant", "this refresh token was issued to a confidential client: send its secret")
    user = dev_users().get(record["user"])
    if user is None:
        raise OAuthError("invalid_grant", f"user {record['user']} is no longer a development user")
    scopes = _scopes(user, settings, _narrowed(request.form.get("scope"), record.get("scope")))
    refresh = _issue_refresh_token(record)
    return _token_response(settings, client, user, scopes, "refresh_token", refresh)


def _narrowed(requested: str | None, granted: str | None) -> str | None:
    """A refresh may ask for less than the original grant, never more (RFC 6749 section 6)."""
    if not requested:
        return granted
    if granted is None:  # the original grant was everything the user has
        return requested
    allowed = set(granted.split())
    wanted = [scope for scope in requested.split() if scope in allowed]
    if not wanted:
        raise OAuthError("invalid_scope", f"none of {requested!r} was granted with this refresh token")
    return " ".join(wanted)


def _client_credentials(settings: Settings, client: OAuthClient) -> dict[str, Any]:
    """A token of the client itself (no user): XSUAA grants it xs-security.json's `authorities`."""
    authorities = [a.replace("$XSAPPNAME", settings.xsappname) for a in xs_security().get("authorities", [])]
    now = int(time.time())
    claims: dict[str, Any] = {
        "jti": uuid.uuid4().hex,
        "iss": settings.jwt_issuer,
        "aud": [settings.xsappname, client.client_id],
        "grant_type": "client_credentials",
        "scope": ["uaa.resource", *authorities],
        "authorities": ["uaa.resource", *authorities],
        "iat": now,
        "exp": now + ACCESS_TOKEN_LIFETIME,
        **_xsuaa_claims(client, None),
    }
    return {
        "access_token": _sign(settings, claims),
        "token_type": "bearer",
        "expires_in": ACCESS_TOKEN_LIFETIME,  # and no refresh token (RFC 6749 4.4.3)
        "scope": " ".join(claims["scope"]),
        "jti": claims["jti"],
    }


def _token_response(
    settings: Settings, client: OAuthClient, user: DevUser, scopes: list[str], grant: str, refresh: str
) -> dict[str, Any]:
    access = _access_token(settings, client, user, scopes, grant)
    return {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": ACCESS_TOKEN_LIFETIME,
        "refresh_token": refresh,
        "scope": " ".join(scopes),
        "jti": uuid.uuid4().hex,
    }


# -- revocation, logout, discovery ---------------------------------------------------------------------


@blp.route("/oauth/revoke", methods=["POST"])
def revoke() -> WebResponse:
    """RFC 7009: a refresh token and everything rotated from it stop working. 200 whatever the token was."""
    settings: Settings = current_app.extensions["settings"]
    try:
        _authenticate_client(client_for(settings))
    except OAuthError as exc:
        return _json({"error": exc.error, "error_description": exc.description}, exc.status)
    presented = request.form.get("token", "")
    raw = _redis().get(_key("refresh", _digest(presented))) if presented else None
    if raw is not None:
        _revoke_family(json.loads(raw)["family"])
        _redis().delete(_key("refresh", _digest(presented)))
    return _json({})


@blp.route("/logout.do", methods=["GET", "POST"])
def logout() -> WebResponse:
    """XSUAA's logout: ends the sign-in session, revokes its refresh tokens, goes to `redirect` if registered."""
    settings: Settings = current_app.extensions["settings"]
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        session = _digest(sid)
        for family in _redis().smembers(_key("session-families", session)):
            _revoke_family(_text(family))
        _redis().delete(_key("session", session), _key("session-families", session))
    target = request.values.get("redirect", "")
    if target and client_for(settings).allows_redirect(target):
        response = redirect(target, 302)
    else:
        response = _page("Signed out", "<p>You are signed out of the development identity provider.</p>")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@blp.route("/.well-known/openid-configuration", methods=["GET"])
def openid_configuration() -> WebResponse:
    """OpenID Connect discovery: where each endpoint is, and what they support."""
    settings: Settings = current_app.extensions["settings"]
    base, xsappname, scopes = _base_url(), settings.xsappname, xs_security()["scopes"]
    return _json(
        {
            "issuer": settings.jwt_issuer,
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "jwks_uri": f"{base}/token_keys",
            "end_session_endpoint": f"{base}/logout.do",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", *(s["name"].replace("$XSAPPNAME", xsappname) for s in scopes)],
        }
    )


def init_dev_oauth(app: Flask) -> None:
    """Register the OAuth endpoints (development only: create_app calls this only with the dev IdP on)."""
    app.register_blueprint(blp)
