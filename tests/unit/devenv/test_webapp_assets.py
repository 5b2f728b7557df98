"""devenv/webapp_assets.py against a registry of our own: tarballs built here, served over HTTP on loopback."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import tarfile
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from devenv import webapp_assets
from devenv.redis_server import free_port

BASE = "content/Base/baseLib"
FILES = {
    # button before helpers in the tarball: fiori.css follows COMPONENTS' order, not the tarball's
    "fundamental-styles": {
        "dist/button.css": b".fd-button{color:red}\n",
        "dist/helpers.css": b".fd-has-float-left{float:left}\n",
        "dist/calendar.css": b".fd-calendar{}\n",  # not a component the app uses
        "LICENSE": b"Apache License 2.0 (fundamental-styles)",
    },
    "@sap-theming/theming-base-content": {
        f"{BASE}/sap_horizon/css_variables.css": b":root{--sapBrandColor:#0070f2}",
        f"{BASE}/sap_horizon_dark/css_variables.css": b":root{--sapBrandColor:#4db1ff}"
        b"@font-face{font-family:'72';src:url('../../../Base/baseLib/baseTheme/fonts/72-Regular.woff2')}",
        f"{BASE}/baseTheme/fonts/72-Regular.woff2": b"wOF2 regular",
        f"{BASE}/baseTheme/fonts/72-Bold.woff2": b"wOF2 bold",
        f"{BASE}/baseTheme/fonts/72-Semibold.woff2": b"wOF2 semibold",
        f"{BASE}/baseTheme/fonts/72-SemiboldDuplex.woff2": b"wOF2 semibold duplex",
        "LICENSE.txt": b"Apache License 2.0 (theming-base-content)",
    },
    "axe-core": {"axe.min.js": b"window.axe={run(){}};"},
}


def tarball(files: dict[str, bytes], *extra: tarfile.TarInfo) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"escaped" if info.isreg() else b""))
    return buffer.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


class Registry:
    """Tarballs at npm's URLs (<name>/-/<basename>-<version>.tgz), and a count of the requests it answered."""

    def __init__(self, root: Path, url: str) -> None:
        self.root, self.url, self.requests = root, url, 0

    def publish(self, name: str, data: bytes, version: str = "1.0.0") -> dict[str, Any]:
        path = self.root / name / "-" / f"{name.rpartition('/')[2]}-{version}.tgz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return {"version": version, "integrity": integrity(data)}


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    root = tmp_path / "registry"
    root.mkdir()
    registry = Registry(root, "")

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            registry.requests += 1
            super().do_GET()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    registry.url = f"http://127.0.0.1:{server.server_port}/"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", registry.url)
    yield registry
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def write_lock(path: Path, entries: dict[str, dict[str, Any]]) -> Path:
    packages = {f"node_modules/{name}": entry for name, entry in entries.items()}
    path.write_text(json.dumps({"lockfileVersion": 3, "packages": {"": {}, **packages}}))
    return path


def publish_all(registry: Registry, tmp_path: Path, **replaced: bytes) -> Path:
    """Every package as FILES has it (or as `replaced` has it, by name), and a lock pinning what was published."""
    entries = {name: registry.publish(name, replaced.get(name) or tarball(files)) for name, files in FILES.items()}
    return write_lock(tmp_path / "package-lock.json", entries)


def ensure(tmp_path: Path, lock: Path, required: bool = True) -> bool:
    return webapp_assets.ensure(required, lock=lock, vendor=tmp_path / "vendor", test_vendor=tmp_path / "test-vendor")


def test_fetches_the_locked_packages_and_a_second_call_does_nothing(registry: Registry, tmp_path: Path) -> None:
    lock = publish_all(registry, tmp_path)

    assert ensure(tmp_path, lock) is True

    vendor = tmp_path / "vendor"
    assert (vendor / "fiori.css").read_bytes() == (
        b"/* fundamental-styles 1.0.0: dist/helpers.css (Apache-2.0) */\n.fd-has-float-left{float:left}\n"
        b"/* fundamental-styles 1.0.0: dist/button.css (Apache-2.0) */\n.fd-button{color:red}\n"
    )
    theming = FILES["@sap-theming/theming-base-content"]
    # The theme's fonts are looked for beside it, where they are, not in the package's tree.
    assert (vendor / "sap_horizon_dark.css").read_bytes() == (
        b":root{--sapBrandColor:#4db1ff}@font-face{font-family:'72';src:url('72-Regular.woff2')}"
    )
    assert (vendor / "72-Bold.woff2").read_bytes() == b"wOF2 bold"
    assert (vendor / "LICENSE-theming-base-content.txt").read_bytes() == theming["LICENSE.txt"]
    assert (vendor / "LICENSE-fundamental-styles.txt").read_bytes() == FILES["fundamental-styles"]["LICENSE"]
    assert (tmp_path / "test-vendor" / "axe.min.js").read_bytes() == FILES["axe-core"]["axe.min.js"]
    assert not (vendor / "axe.min.js").exists()  # the test tool is never served
    assert registry.requests == 3

    assert ensure(tmp_path, lock) is True
    assert registry.requests == 3

    (tmp_path / "test-vendor" / "axe.min.js").unlink()  # instance/ wiped: fetched again
    assert ensure(tmp_path, lock) is True
    assert registry.requests == 6


def test_a_new_lock_fetches_again_and_drops_what_is_no_longer_taken(registry: Registry, tmp_path: Path) -> None:
    lock = publish_all(registry, tmp_path)
    assert ensure(tmp_path, lock)
    (tmp_path / "vendor" / "old-font.woff2").write_bytes(b"from an older layout")
    fundamental = dict(FILES["fundamental-styles"], **{"dist/button.css": b".fd-button{color:blue}\n"})
    lock = publish_all(registry, tmp_path, **{"fundamental-styles": tarball(fundamental)})

    assert ensure(tmp_path, lock)

    assert b"color:blue" in (tmp_path / "vendor" / "fiori.css").read_bytes()
    assert not (tmp_path / "vendor" / "old-font.woff2").exists()


@pytest.mark.parametrize("required", [True, False])
def test_a_tarball_that_does_not_match_the_lock_is_refused(registry: Registry, tmp_path: Path, required: bool) -> None:
    lock = publish_all(registry, tmp_path)
    entries = json.loads(lock.read_text())["packages"]
    entries["node_modules/fundamental-styles"]["integrity"] = integrity(b"what the lock pinned")
    lock.write_text(json.dumps({"packages": entries}))

    with pytest.raises(SystemExit, match="fundamental-styles 1.0.0 .*does not match package-lock.json"):
        ensure(tmp_path, lock, required)

    assert not (tmp_path / "vendor").exists() and not (tmp_path / "test-vendor").exists()


def _member(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, target, len(b"escaped") if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize(
    ("member", "refusal"),
    [
        (_member("package/../../escaped.css"), "'package/../../escaped.css', not under package/"),
        (_member("/tmp/escaped.css"), "not under package/"),
        (_member("other/escaped.css"), "not under package/"),
        # a link in place of a file the app takes would read whatever it points at
        (_member("package/dist/helpers.css", tarfile.SYMTYPE, "/etc/passwd"), "no regular file package/dist/helpers"),
    ],
)
def test_a_member_outside_package_or_a_link_is_refused(
    registry: Registry, tmp_path: Path, member: tarfile.TarInfo, refusal: str
) -> None:
    files = {k: v for k, v in FILES["fundamental-styles"].items() if k != "dist/helpers.css"}
    lock = publish_all(registry, tmp_path, **{"fundamental-styles": tarball(files, member)})

    with pytest.raises(SystemExit, match=refusal):
        ensure(tmp_path, lock)

    assert not (tmp_path / "escaped.css").exists() and not (tmp_path / "vendor" / "fiori.css").exists()


def test_an_unreachable_registry_stops_the_tests_but_not_the_run(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = publish_all(registry, tmp_path)
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", f"http://127.0.0.1:{free_port()}/")  # nothing listens there

    url = re.escape(f"{os.environ['NPM_CONFIG_REGISTRY']}fundamental-styles/-/fundamental-styles-1.0.0.tgz")
    with pytest.raises(SystemExit, match=f"{url} .*must be reachable .*NPM_CONFIG_REGISTRY"):
        ensure(tmp_path, lock, required=True)

    assert ensure(tmp_path, lock, required=False) is False
    assert "the reference app at /app will look plain" in capsys.readouterr().out
    assert not (tmp_path / "vendor" / "fiori.css").exists()
