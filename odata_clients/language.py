"""The language SAP answers in for the current unit of work (an API request's Accept-Language), as `sap-language`."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager

# SAP's 2-letter language keys that are no ISO 639-1 code, and the BCP 47 tag an Accept-Language header needs.
_LANGUAGE_TAGS = {"ZF": "zh-TW", "SH": "sr-Latn"}
_SAP_LANGUAGE = re.compile(r"[A-Za-z]{2}")

_language: contextvars.ContextVar[str] = contextvars.ContextVar("odata_clients_sap_language", default="")


def current_language() -> str:
    """The SAP language key (e.g. `DE`) the current unit of work's SAP calls ask for; empty: SAP's default."""
    return _language.get()


@contextmanager
def sap_language(code: str | None) -> Iterator[None]:
    """SAP calls inside ask SAP for texts in `code` (a 2-letter SAP language key); None or "": SAP's default.

    Like the deadline, a context variable: threads of a fan-out get it through their copied context, and
    nothing outlives the block (a web thread serves the next request with its own language).
    """
    value = (code or "").upper()
    if value and not _SAP_LANGUAGE.fullmatch(value):
        raise ValueError(f"not a 2-letter SAP language key: {code!r}")
    token = _language.set(value)
    try:
        yield
    finally:
        _language.reset(token)


def accept_language(code: str) -> str:
    """The Accept-Language value naming SAP language key `code` (`DE` -> `de`, `ZF` -> `zh-TW`)."""
    return _LANGUAGE_TAGS.get(code.upper(), code.lower())
