"""Webhook signatures as the Standard Webhooks spec defines them (https://www.standardwebhooks.com), both ends.

The sender signs `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256, keyed with the base64-decoded part
of the `whsec_` secret, and sends `webhook-signature: v1,<base64 signature>`. A receiver recomputes it over the
raw body (never a re-serialised one), compares in constant time and refuses a timestamp outside its tolerance,
so a captured request cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
VERSION = "v1"  # the spec's identifier of HMAC-SHA256 signatures
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
DEFAULT_TOLERANCE = 300  # seconds, the spec's and its reference libraries' five minutes


class SignatureError(ValueError):
    """The request is not one the secret's holder signed (or not recently): answer it 401 or 400."""


def secret_key(secret: str) -> bytes:
    """The HMAC key a `whsec_<base64>` secret stands for."""
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("the secret is not whsec_ followed by base64") from exc
    if not key:
        raise SignatureError("the secret is empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one request: `v1,<base64 HMAC-SHA256>`."""
    if "." in msg_id:
        # The spec's rule: a dot in the id would let one signed content be read as another.
        raise ValueError("a webhook id must not contain '.'")
    return f"{VERSION},{_mac(secret_key(secret), msg_id, str(timestamp), body)}"


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, tolerance: int = DEFAULT_TOLERANCE, now: float | None = None
) -> None:
    """Raise SignatureError unless `headers` (any case) carry a valid, recent signature of `body` by `secret`.

    The signature header may list several space-separated signatures (a secret being rotated): one match is enough.
    """
    lower = {name.lower(): value for name, value in headers.items()}
    msg_id, stamp, signatures = (lower.get(name) for name in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER))
    if not msg_id or not stamp or not signatures:
        raise SignatureError(f"missing {ID_HEADER}, {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}")
    if not (stamp.isascii() and stamp.isdigit()):
        raise SignatureError(f"{TIMESTAMP_HEADER} is not unix seconds")
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        raise SignatureError(f"{TIMESTAMP_HEADER} is more than {tolerance} s away from now")
    expected = _mac(secret_key(secret), msg_id, stamp, body).encode()
    found = False
    for entry in signatures.split(" "):
        version, _, value = entry.partition(",")
        # No early exit: every entry is compared, so timing does not tell which one matched.
        found |= version == VERSION and hmac.compare_digest(value.encode(), expected)
    if not found:
        raise SignatureError("no signature matches")


def _mac(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
