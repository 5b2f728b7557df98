"""Under gunicorn, the production server, a token with non-Latin-1 characters gets our 401, not gunicorn's HTML 500."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devenv.redis_server import die_with_parent, free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp_path = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SAP_URL", "DATABASE_URL", "JWKS_URL")},
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'gunicorn.db'}",
        "DEV_IDP_KEY_FILE": str(tmp_path / "dev-idp-key.json"),
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "2",
        "LOG_FORMAT": "json",
    }
    bind = ["--bind", f"127.0.0.1:{port}", "--no-control-socket"]  # no socket shared with other gunicorns
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *bind, "wsgi:app"]
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            try:
                if requests.get(f"{url}/health/live", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or the worker still booting
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def raw_get(address: str, authorization: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """GET /api/v1/me with the header's bytes exactly as given (no client library re-encodes them)."""
    host, port = address.split(":")
    request = (
        b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: " + authorization + b"\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(request)
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = dict(line.split(b": ", 1) for line in lines)
    return status, headers, body


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@pytest.mark.slow
@pytest.mark.parametrize(
    "token",
    [
        # the kid decodes to "ä€": echoed into WWW-Authenticate, gunicorn refused the header and sent an HTML 500
        _b64(json.dumps({"alg": "RS256", "kid": "ä€"}, ensure_ascii=False).encode()) + b".eyJ9.c2ln",
        _b64(json.dumps({"alg": "€"}, ensure_ascii=False).encode()) + b".eyJ9.c2ln",
        b"eyJ" + "ä€".encode() + b".eyJ.c2ln",
    ],
)
def test_odd_tokens_get_the_json_401(gunicorn: str, token: bytes) -> None:
    status, headers, body = raw_get(gunicorn, b"Bearer " + token)
    assert status.startswith(b"HTTP/1.1 401"), (status, body)
    assert headers[b"Content-Type"] == b"application/json"
    error = json.loads(body)
    assert error["code"] == 401 and error["status"] == "Unauthorized" and error["request_id"]
    assert error["message"].startswith(("token signed with unknown key id", "token algorithm", "malformed token"))
    assert headers[b"WWW-Authenticate"].startswith(b'Bearer error="invalid_token"')
