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
