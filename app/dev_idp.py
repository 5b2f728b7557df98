"""Development identity provider: a local signing key, its JWKS endpoint and a `dev-token` command.

Registered only when the settings say development and no real IdP is configured.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import click
import marshmallow as ma
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_smorest import Blueprint
from joserfc.jwk import KeySet

from runtime.settings import ROOT, Settings
from runtime.user_assertion import load_or_create_key, public_key_set, sign, user_claims

__all__ = ["blp", "init_dev_idp", "load_or_create_key", "mint_token", "public_key_set", "scopes_of"]

blp = Blueprint(
    "dev_idp", __name__, url_prefix="/dev-idp", description="Development identity provider (off in production)"
)
XS_SECURITY = ROOT / "xs-security.json"


@functools.cache
def xs_security() -> dict[str, Any]:
    """xs-security.json, what BTP deploys: scopes, role collections, and the OAuth client's configuration."""
    security: dict[str, Any] = json.loads(XS_SECURITY.read_text())
    return security


def scopes_of(role_collections: list[str], xsappname: str) -> list[str]:
    """Scopes granted by role collections, resolved through xs-security.json like XSUAA does."""
    security = xs_security()
    templates = {t["name"]: t for t in security["role-templates"]}
    collections = {c["name"]: c for c in security["role-collections"]}
    unknown = [name for name in role_collections if name not in collections]
    if unknown:
        raise click.BadParameter(f"unknown role collection(s) {unknown}; known: {sorted(collections)}")
    scopes = []
    for name in role_collections:
        for reference in collections[name]["role-template-references"]:
            template = templates[reference.removeprefix("$XSAPPNAME.")]
            scopes += [s.replace("$XSAPPNAME", xsappname) for s in template["scope-references"]]
    return sorted(set(scopes))


def mint_token(
    settings: Settings,
    user: str,
    role_collections: list[str],
    attributes: dict[str, list[str]],
    lifetime: int = 3600,
    **overrides: Any,
) -> str:
    """A token shaped like an XSUAA user token; `overrides` replace claims (tests use it for bad tokens)."""
    claims = user_claims(
        issuer=settings.jwt_issuer,
        xsappname=settings.xsappname,
        user=user,
        scopes=scopes_of(role_collections, settings.xsappname),
        attributes=attributes,
        role_collections=role_collections,
        lifetime=lifetime,
        origin="dev-idp",
        grant_type="password",
        email=f"{user.lower()}@example.com",
    )
    claims.update(overrides)
    return sign(load_or_create_key(settings.dev_idp_key_file), claims)


class JwkSchema(ma.Schema):
    """One public key of the set (RFC 7517); the RSA members are what RS256 tokens are checked with."""

    class Meta:
        unknown = ma.INCLUDE

    kty = ma.fields.String(required=True, metadata={"example": "RSA"})
    kid = ma.fields.String(metadata={"example": "dev-idp-1"})
    use = ma.fields.String(metadata={"example": "sig"})
    alg = ma.fields.String(metadata={"example": "RS256"})
    n = ma.fields.String(metadata={"description": "RSA modulus, base64url"})
    e = ma.fields.String(metadata={"description": "RSA public exponent, base64url", "example": "AQAB"})


class JwksSchema(ma.Schema):
    keys = ma.fields.List(ma.fields.Nested(JwkSchema), required=True)


@blp.route("/token_keys")
@blp.doc(operationId="getDevIdpSigningKeys")
@blp.response(200, JwksSchema)
def token_keys() -> dict[str, Any]:
    """Public signing keys of the development identity provider (JWKS)"""
    keys: KeySet = current_app.extensions["dev_idp_keys"]
    return dict(keys.as_dict())


@click.command("dev-token")
@with_appcontext
@click.option("--user", required=True, help="User name (user_name claim); SAP sees it upper-cased")
@click.option("--role-collection", "role_collections", multiple=True, required=True, help="Repeatable")
@click.option("--attribute", "attribute_pairs", multiple=True, help="NAME=VALUE, repeatable (Plant=1010)")
@click.option("--lifetime", default=3600, show_default=True, help="Seconds until the token expires")
def dev_token_command(
    user: str, role_collections: tuple[str, ...], attribute_pairs: tuple[str, ...], lifetime: int
) -> None:
    """Print a signed development token (only available in development)."""
    attributes: dict[str, list[str]] = {}
    for pair in attribute_pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or not value:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--attribute")
        attributes.setdefault(name, []).append(value)
    settings: Settings = current_app.extensions["settings"]
    click.echo(mint_token(settings, user, list(role_collections), attributes, lifetime))


def init_dev_idp(app: Flask) -> KeySet:
    """Register the JWKS endpoint and the CLI command; return the keys tokens are validated with."""
    app.cli.add_command(dev_token_command)
    keys = public_key_set(load_or_create_key(app.extensions["settings"].dev_idp_key_file))
    app.extensions["dev_idp_keys"] = keys
    return keys
