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
