"""Accept-Language (RFC 9110 quality values) to the SAP language an API request's SAP calls ask for."""

from __future__ import annotations

import pytest

from app.language import best_sap_language, preferences, sap_language_key


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de", "DE"),
        ("de-DE,de;q=0.9,en;q=0.5", "DE"),
        ("en-US,en;q=0.9,de;q=0.8", "EN"),
        # The weight decides, not the position; equal weights keep the client's order.
        ("en;q=0.5, fr;q=0.7, de;q=0.9", "DE"),
        ("fr;q=0.8, de;q=0.8", "FR"),
        ("de;q=0.8, fr;q=0.8", "DE"),
        ("de;q=1.000, en;q=0.999", "DE"),
        # Region and script subtags: SAP's key is the language's; Chinese script or region picks ZH or ZF.
        ("de-CH", "DE"),
        ("pt-BR", "PT"),
        ("zh-CN", "ZH"),
        ("zh-Hans-CN", "ZH"),
        ("zh-TW", "ZF"),
        ("zh-Hant", "ZF"),
        ("sr-Latn-RS", "SH"),
        ("nb-NO", "NO"),
        # Case and spaces around the parts do not matter.
        ("  DE-at ; Q=0.7 ,  en ; q=0.2 ", "DE"),
        # A language SAP does not have is passed over for the next one.
        ("tlh, eo;q=0.9, it;q=0.1", "IT"),
        ("x-klingon, de;q=0.5", "DE"),
        # An element that is not a language range with a valid weight costs only itself.
        ("de;q=abc, fr;q=0.3", "FR"),
        ("de;q=1.5, fr;q=0.3", "FR"),
        ("de;level=1, fr;q=0.3", "FR"),
        ("d_e, es;q=0.2", "ES"),
        ("de,,en", "DE"),
        # The wildcard: any language will do, so SAP's default (the user's language) is best, unless a
        # language SAP has is wanted more.
        ("*", None),
        ("*, de;q=0.5", None),
        ("de, *;q=0.5", "DE"),
        ("xx, *;q=0.5, de;q=0.4", None),
        # q=0: "not acceptable", never chosen.
        ("de;q=0", None),
        ("de;q=0.000, en;q=0.1", "EN"),
        # Nothing usable: no sap-language, SAP answers in the user's language.
        (None, None),
        ("", None),
        (";;;q=abc", None),
        ("tlh", None),
        ("123", None),
        ("deu", None),
    ],
)
def test_best_sap_language(header: str | None, expected: str | None) -> None:
    assert best_sap_language(header) == expected


def test_preferences_rank_by_weight_and_keep_ties_in_order() -> None:
    assert preferences("en;q=0.5, de-DE, fr;q=0.5, *;q=0.1, it;q=0") == [
        ("de-de", 1.0),
        ("en", 0.5),
        ("fr", 0.5),
        ("*", 0.1),
        ("it", 0.0),
    ]


def test_language_keys() -> None:
    assert sap_language_key("de-AT") == "DE"
    assert sap_language_key("iw") == "HE"  # the withdrawn ISO code some platforms still send
    assert sap_language_key("sr") == "SR"
    assert sap_language_key("tlh") is None


def test_a_huge_header_is_handled() -> None:
    header = ", ".join(f"x{n % 9}-{n};q=0.{n % 10}" for n in range(5000)) + ", de;q=0.05"
    assert best_sap_language(header) == "DE"
