"""Every /api/ request's Accept-Language, as the SAP language its SAP calls ask for (`sap-language`)."""

from __future__ import annotations

import re
from contextlib import ExitStack

from flask import Flask, Response, g, request

from odata_clients.language import sap_language

# The 2-letter keys of SAP's logon languages (T002's ISO codes; ZF is Chinese traditional, SH Serbian in Latin).
SAP_LANGUAGES = frozenset(
    "AF AR BG CA CS DA DE EL EN ES ET FI FR HE HI HR HU ID IS IT JA KK KO LT LV MS NL NO PL PT RO RU SH SK SL SR "
    "SV TH TR UK VI ZF ZH".split()
)
# Language subtags SAP knows under another key: Norwegian Bokmål and Nynorsk, and the withdrawn ISO codes.
_ALIASES = {"nb": "NO", "nn": "NO", "iw": "HE", "in": "ID"}
_TRADITIONAL_CHINESE = frozenset({"hant", "tw", "hk", "mo"})

# RFC 9110 section 12.5.4: language-range (RFC 4647) and qvalue.
_LANGUAGE_RANGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*")
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


def preferences(header: str | None) -> list[tuple[str, float]]:
    """The language ranges of an Accept-Language value with their weights, most wanted first.

    Equal weights keep the header's order. An element that is not a language range with at most a valid
    `q` weight is skipped, not fatal: a client's odd header costs it its preference, never the request.
    """
    ranked: list[tuple[str, float]] = []
    for element in (header or "").split(","):
        language_range, *parameters = (part.strip() for part in element.split(";"))
        if not _LANGUAGE_RANGE.fullmatch(language_range):
            continue
        weight: float | None = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            weight = float(value.strip()) if name.strip().lower() == "q" and _QVALUE.fullmatch(value.strip()) else None
            if weight is None:
                break
        if weight is not None:
            ranked.append((language_range.lower(), weight))
    ranked.sort(key=lambda item: -item[1])  # stable: ties stay in the client's order
    return ranked


def sap_language_key(language_range: str) -> str | None:
    """SAP's 2-letter language key for one language range (`de-CH` -> `DE`, `zh-Hant` -> `ZF`), or None."""
    primary, *subtags = language_range.lower().split("-")
    if primary == "zh":
        return "ZF" if _TRADITIONAL_CHINESE.intersection(subtags) else "ZH"
    if primary == "sr":
        return "SH" if "latn" in subtags else "SR"
    key = _ALIASES.get(primary, primary.upper())
    return key if key in SAP_LANGUAGES else None


def best_sap_language(header: str | None) -> str | None:
    """The SAP language an Accept-Language value asks for: its most wanted language SAP has.

    None (SAP then answers in the user's or the system's language) when the header is absent or invalid,
    names no language SAP has, or ranks `*` (any language) above every language SAP has. Ranges with
    q=0 ("not this one") are never chosen.
    """
    for language_range, weight in preferences(header):
        if weight <= 0:
            break
        if language_range == "*":
            return None
        key = sap_language_key(language_range)
        if key is not None:
            return key
    return None


def _begin() -> None:
    if not request.path.startswith("/api/"):
        return
    stack = ExitStack()
    # Set on every API request, with or without the header: SAP calls never inherit another request's language.
    stack.enter_context(sap_language(best_sap_language(request.headers.get("Accept-Language"))))
    g.sap_language = stack


def _vary(response: Response) -> Response:
    if request.path.startswith("/api/"):
        # SAP's texts in the body follow the header: a cache must not answer one language's copy to another.
        response.vary.add("Accept-Language")
    return response


def _end(_: BaseException | None) -> None:
    # A context variable of the serving thread: left set, the next request on it would ask SAP in this language.
    stack = g.pop("sap_language", None)
    if stack is not None:
        stack.close()


def init_request_language(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_vary)
    app.teardown_request(_end)
