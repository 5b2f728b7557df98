"""Conditional writes without Flask: RFC 9110's weak comparison of entity tags and the 412 it ends in."""

from __future__ import annotations


class PreconditionFailed(Exception):
    """What the client read is no longer what SAP has (412): reload and try again."""


def opaque_tag(etag: str) -> str:
    """The entity tag without its weakness marker: `W/"'2024'"` and `"'2024'"` name the same version."""
    etag = etag.strip()
    return etag[2:] if etag.startswith("W/") else etag


def weak_match(sent: str, current: str) -> bool:
    """RFC 9110 weak comparison, as SAP Gateway checks If-Match: equal opaque tags, weak or strong alike."""
    return opaque_tag(sent) == opaque_tag(current)
