"""Secrets never reach a log line, whatever logs them."""

from __future__ import annotations

from runtime.logs import REDACTED, redact_secrets


def test_secret_keys_are_blanked() -> None:
    event = redact_secrets(
        None,
        "info",
        {"event": "x", "Authorization": "Bearer abc", "sap_password": "pw", "x_csrf_token": "t", "user": "ANNA"},
    )
    assert event["Authorization"] == event["sap_password"] == event["x_csrf_token"] == REDACTED
    assert event["user"] == "ANNA"


def test_credentials_inside_text_are_scrubbed() -> None:
    event = redact_secrets(
        None,
        "info",
        {
            "event": "calling with Bearer eyJhbGciOiJSUzI1NiJ9.payload.sig now",
            "url": "https://TECH:s3cret@s4.example.com/sap/opu/odata",
        },
    )
    assert "eyJhbGci" not in event["event"]
    assert "s3cret" not in event["url"]
    assert event["url"].endswith("@s4.example.com/sap/opu/odata")


def test_nested_headers_and_bare_jwts_are_scrubbed() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJ1c2VyX25hbWUiOiJhbm5hIn0.c2lnbmF0dXJl"
    event = redact_secrets(
        None,
        "info",
        {"event": "call", "headers": {"Authorization": "Bearer x" * 3, "Accept": "json"}, "args": [jwt], "note": jwt},
    )
    assert event["headers"] == {"Authorization": REDACTED, "Accept": "json"}
    assert jwt not in str(event)


def test_traceback_text_is_scrubbed_too() -> None:
    import io
    import logging

    import structlog

    from runtime import logs

    stream = io.StringIO()
    logs._configured = False
    try:
        logs.configure_logging("INFO", "json")
        handler = logging.getLogger().handlers[0]
        handler.setStream(stream)  # type: ignore[attr-defined]
        try:
            raise RuntimeError("refused: https://TECH:s3cret@s4.example.com with Bearer abcdefghijklmnop")
        except RuntimeError:
            structlog.get_logger("t").exception("boom")
    finally:
        logs._configured = False
    output = stream.getvalue()
    assert "boom" in output and "RuntimeError" in output
    assert "s3cret" not in output and "abcdefghijklmnop" not in output


def test_credentials_the_quick_check_must_not_miss_are_scrubbed() -> None:
    # The patterns match case-insensitively the way `re` folds case: "ſ" (long s) and "İ"/"ı" count as s and i.
    # A pre-check by `"basic" in text.lower()` would let these through unscrubbed.
    texts = ["BEARER abcdefghijk", "baſic abcdefghijk", "BASİC abcdefghijk", "basıc abcdefghijk", "Basic\tdXNlcjpwdw=="]
    event = redact_secrets(None, "info", {"event": "x", "notes": texts, "first": texts[1]})
    assert event["notes"] == [text.split(None, 1)[0] + " [redacted]" for text in texts]
    assert event["first"] == "baſic [redacted]"


def test_an_event_with_nothing_to_hide_is_left_as_it_was() -> None:
    headers = {"Accept": "json", "X-Request-ID": "r1"}
    items = [1, "two", {"three": 3.0}]
    event = {
        "event": "sap_call",
        "status": 200,
        "cached": False,
        "csrf_fetched": False,
        "headers": headers,
        "items": items,
    }
    original = dict(event)
    assert redact_secrets(None, "info", event) is event
    assert event == original
    assert event["headers"] is headers and event["items"] is items


def test_what_is_scrubbed_is_a_copy_the_caller_keeps_intact() -> None:
    headers = {"Authorization": "Bearer abcdefghijk", "Accept": "json"}
    urls = ("https://TECH:s3cret@s4.example.com/x", "plain")
    event = redact_secrets(None, "info", {"event": "x", "request": {"headers": headers, "urls": urls}})
    assert event["request"] == {
        "headers": {"Authorization": REDACTED, "Accept": "json"},
        "urls": ("https://[redacted]@s4.example.com/x", "plain"),
    }
    assert headers["Authorization"] == "Bearer abcdefghijk" and urls[0].startswith("https://TECH:s3cret@")


def test_empty_and_false_secret_values_and_exc_info_stay() -> None:
    import sys

    try:
        raise ValueError("Bearer abcdefghijk")
    except ValueError:
        exc_info = sys.exc_info()
    event = redact_secrets(
        None,
        "info",
        {"event": "x", "token": None, "password": "", "csrf": False, "token_count": 0, "exc_info": exc_info},
    )
    assert event["token"] is None and event["password"] == "" and event["csrf"] is False and event["token_count"] == 0
    assert event["exc_info"] is exc_info


def test_str_and_container_subclasses_come_back_as_plain_values() -> None:
    # As before the fast path: scrubbing turns subclasses into the plain type (a StrEnum, a namedtuple, an OrderedDict).
    import enum
    from collections import OrderedDict, namedtuple

    class Level(enum.StrEnum):
        HIGH = "high"

    Pair = namedtuple("Pair", "left right")
    event = redact_secrets(
        None, "info", {"event": "x", "level": Level.HIGH, "pair": Pair("a", "b"), "ordered": OrderedDict(a=1)}
    )
    assert type(event["level"]) is str and event["level"] == "high"
    assert type(event["pair"]) is tuple and event["pair"] == ("a", "b")
    assert type(event["ordered"]) is dict and event["ordered"] == {"a": 1}
