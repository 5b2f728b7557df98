"""The VAPID key pair (RFC 8292) that identifies us to Web Push services: configured, or a development file."""

from __future__ import annotations

import base64
import binascii
import functools
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from runtime.secret_files import read_or_create
from runtime.settings import ConfigError, Settings

RAW_KEY_BYTES = 32  # a P-256 private key as web-push tools print it: the scalar, base64url


class PushUnavailable(ConfigError):
    """No VAPID key: Web Push is off (the rest of the service runs as usual)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """base64url with or without padding; raises ValueError on anything else."""
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


def private_key(settings: Settings) -> ec.EllipticCurvePrivateKey:
    """VAPID_PRIVATE_KEY, else (development only) the key kept in VAPID_KEY_FILE, created on first use."""
    return _load(settings.vapid_private_key, settings.vapid_key_file, settings.is_production)


def application_server_key(settings: Settings) -> str:
    """The public key as browsers' `pushManager.subscribe({applicationServerKey})` takes it."""
    return public_key_b64(private_key(settings))


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    """base64url of the uncompressed public point (65 bytes): also the `k` of the VAPID Authorization header."""
    return b64url(
        key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )


@functools.lru_cache(maxsize=8)
def _load(configured: str, key_file: str, production: bool) -> ec.EllipticCurvePrivateKey:
    # Cached per (key, file, env): every request and job would otherwise parse it again. Failures are not cached.
    if configured:
        return parse_private_key(configured, "VAPID_PRIVATE_KEY")
    if production:
        raise PushUnavailable("Web Push is off: set VAPID_PRIVATE_KEY (a P-256 key, PEM or base64url) to turn it on")
    return parse_private_key(read_or_create(Path(key_file), _new_pem), repr(key_file))


def _new_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode()


def parse_private_key(text: str, source: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from PEM or base64url of the raw 32-byte scalar; errors name the source, never the key."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            raw = b64url_decode(text)
            if len(raw) != RAW_KEY_BYTES:
                raise ValueError(f"{len(raw)} bytes, not {RAW_KEY_BYTES}")
            key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except (ValueError, TypeError) as exc:
        raise PushUnavailable(f"the VAPID key {source} is not a P-256 private key (PEM or base64url)") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise PushUnavailable(f"the VAPID key {source} is not a P-256 (prime256v1) EC key")
    return key
