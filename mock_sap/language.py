"""A request's logon language, determined as SAP's ICF does, and the texts (messages, statuses) shown in it.

SAP's order: the `sap-language` URL parameter (or header), then the first language of the Accept-Language
header that the system has installed, then the user's default, then the system's (here: English).
`sap-language` takes an ISO 639-1 code in either case (`de`, `DE`) or SAP's 1-letter key (`D`).
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager

from mock_sap.data.texts import DEFAULT_LANGUAGE, MESSAGES, STATUS_TEXTS

# SAP's 1-letter language keys (case matters: `d` is Serbian in Latin script, `D` German) and their ISO codes.
ONE_LETTER = {
    "1": "ZH",
    "3": "KO",
    "C": "CS",
    "D": "DE",
    "E": "EN",
    "F": "FR",
    "H": "HU",
    "I": "IT",
    "J": "JA",
    "K": "DA",
    "L": "PL",
    "M": "ZF",
    "N": "NL",
    "O": "NO",
    "P": "PT",
    "R": "RU",
    "S": "ES",
    "T": "TR",
    "U": "FI",
    "V": "SV",
    "d": "SH",
}
# Languages the mock system has texts in ("installed"), the only ones Accept-Language can choose.
INSTALLED = frozenset({language for texts in MESSAGES.values() for language in texts})
_TWO_LETTERS = re.compile(r"[A-Za-z]{2}")
_VARIABLE = re.compile(r"&([1-4])")

_current: contextvars.ContextVar[str] = contextvars.ContextVar("mock_sap_language", default=DEFAULT_LANGUAGE)


def language_key(value: str | None) -> str | None:
    """A `sap-language` value as a 2-letter key (`de`, `DE`, `D` -> `DE`); None when it names no language."""
    value = (value or "").strip()
    if len(value) == 1:
        return ONE_LETTER.get(value)
    return value.upper() if _TWO_LETTERS.fullmatch(value) else None


def from_accept_language(header: str | None) -> str | None:
    """The most wanted installed language of an Accept-Language header (q-values honoured), or None."""
    ranked: list[tuple[float, int, str]] = []
    for position, element in enumerate((header or "").split(",")):
        tag, *parameters = (part.strip() for part in element.split(";"))
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        primary = tag.split("-", 1)[0].upper()
        if weight > 0 and primary in INSTALLED:
            ranked.append((-weight, position, primary))
    return min(ranked)[2] if ranked else None


def logon_language(sap_language: str | None, sap_language_header: str | None, accept_language: str | None) -> str:
    """The language a request is served in (see the module docstring for the order)."""
    return (
        language_key(sap_language)
        or language_key(sap_language_header)
        or from_accept_language(accept_language)
        or DEFAULT_LANGUAGE
    )


def current() -> str:
    """The current request's logon language (English outside a request)."""
    return _current.get()


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Serve what runs inside in `language`."""
    token = _current.set(language)
    try:
        yield
    finally:
        _current.reset(token)


def message(key: str, *variables: object) -> tuple[str, str]:
    """Message `key`'s text in the logon language (else English) with its variables, and that language (`de`)."""
    texts = MESSAGES[key]
    language = current() if current() in texts else DEFAULT_LANGUAGE
    text = _VARIABLE.sub(lambda match: _variable(variables, int(match.group(1))), texts[language])
    return text, language.lower()


def text(key: str, *variables: object) -> str:
    """Only the text of `message`."""
    return message(key, *variables)[0]


def status_text(code: str) -> tuple[str, str]:
    """A system status's (short name, name) in the logon language, else English."""
    texts = STATUS_TEXTS[code]
    return texts.get(current()) or texts[DEFAULT_LANGUAGE]


def _variable(variables: tuple[object, ...], number: int) -> str:
    return str(variables[number - 1]) if number <= len(variables) else ""
