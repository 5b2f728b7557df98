"""The reference app's design assets, fetched from the npm registry as app/webapp/package-lock.json pins them.

Standard library only: dev.py calls it with the system python before the virtualenv exists, and Node.js is not
needed. Each tarball is checked against the lock's integrity hash before anything is read from it; only the
files the app serves are taken out, under names of our choosing, so a tarball's own paths never reach the disk.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import urllib.request
from collections.abc import Mapping
from http.client import HTTPException
from pathlib import Path, PurePosixPath
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "app" / "webapp" / "package-lock.json"
VENDOR = ROOT / "app" / "webapp" / "vendor"  # served under /app/vendor/
TEST_VENDOR = ROOT / "instance" / "test-vendor"  # for the browser tests only, never served
DEFAULT_REGISTRY = "https://registry.npmjs.org/"
STAMP = ".package-lock.sha256"  # a dotfile: the app serves none
LAYOUT = "2"  # part of the stamp: raise it when the files taken out below change, so old vendor dirs are redone
TIMEOUT = 60

FUNDAMENTAL_STYLES = "fundamental-styles"
THEMING = "@sap-theming/theming-base-content"
AXE = "axe-core"
# The components the reference app uses, in cascade order (helpers first, as fundamental-styles.css has them).
COMPONENTS = (
    "helpers margins paddings title text link button segmented-button bar toolbar shellbar list object-identifier "
    "object-number object-status info-label message-strip busy-indicator input textarea select form-item form-label "
    "form-group checkbox layout-panel icon-tab-bar dialog message-page"
).split()
BASE_LIB = "content/Base/baseLib"
# The 72 faces the theme and these components use (browsers take woff2 and never ask for the rest). A face not
# shipped (light, condensed, the icon fonts) is only fetched if a page uses it, which this app does not.
FONTS = ("72-Regular.woff2", "72-Bold.woff2", "72-Semibold.woff2", "72-SemiboldDuplex.woff2")
FONT_URL = re.compile(rb"url\('\.\./\.\./\.\./Base/baseLib/[a-z_A-Z]+/fonts/")
LICENSE_NAMES = ("LICENSE", "LICENSE.txt", "LICENSE.md")


class FetchError(Exception):
    """A tarball could not be downloaded: the message names its URL and why."""


class Package:
    """One package's tarball, its integrity checked, its member names checked, read by path under package/."""

    def __init__(self, name: str, version: str, data: bytes) -> None:
        self.name, self.version = name, version
        self._tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")
        self._members: dict[str, tarfile.TarInfo] = {}
        for member in self._tar.getmembers():
            path = PurePosixPath(member.name)
            if path.is_absolute() or ".." in path.parts or path.parts[:1] != ("package",):
                raise SystemExit(
                    f"dev.py: refusing {name} {version}: its tarball has {member.name!r}, not under package/"
                )
            self._members[path.relative_to("package").as_posix()] = member

    def __contains__(self, path: str) -> bool:
        return path in self._members

    def read(self, path: str) -> bytes:
        member = self._members.get(path)
        # Links are not followed: a member standing for another file (or one outside) is refused.
        if member is None or not member.isreg():
            raise SystemExit(f"dev.py: {self.name} {self.version} has no regular file package/{path}")
        extracted = self._tar.extractfile(member)
        assert extracted is not None  # a regular file always has content
        return extracted.read()

    def license(self) -> bytes:
        return self.read(next((n for n in LICENSE_NAMES if n in self), LICENSE_NAMES[0]))


def ensure(required: bool, *, lock: Path = LOCK, vendor: Path = VENDOR, test_vendor: Path = TEST_VENDOR) -> bool:
    """Fetch the assets unless the stamp says they match the lock. True when they are in place.

    A fetch that fails on the way (network, registry) raises SystemExit when `required`, else warns and returns
    False; a tarball that does not match the lock's integrity is refused in either case."""
    lock_text = lock.read_bytes()
    stamp = hashlib.sha256(lock_text + LAYOUT.encode()).hexdigest()
    axe = test_vendor / "axe.min.js"
    if _read_stamp(vendor) == stamp and axe.exists():
        return True
    registry = os.environ.get("NPM_CONFIG_REGISTRY") or DEFAULT_REGISTRY
    packages = json.loads(lock_text)["packages"]
    try:
        fundamental, theming, axe_core = (_download(registry, n, packages) for n in (FUNDAMENTAL_STYLES, THEMING, AXE))
    except FetchError as exc:
        if required:
            raise SystemExit(
                f"dev.py: could not fetch the reference app's design assets: {exc}; the npm registry must be reachable"
                " (set NPM_CONFIG_REGISTRY to use a mirror)"
            ) from exc
        print(f"dev.py: could not fetch {exc}: the reference app at /app will look plain", flush=True)
        return False
    files = _vendor_files(fundamental, theming)
    test_file = axe_core.read("axe.min.js")
    vendor.mkdir(parents=True, exist_ok=True)
    (vendor / STAMP).unlink(missing_ok=True)  # from here until the end, an interrupted run leaves no valid stamp
    for stale in set(os.listdir(vendor)) - set(files) - {STAMP}:
        if (vendor / stale).is_file():  # only what an earlier fetch wrote: never a folder someone put there
            (vendor / stale).unlink()
    for name, content in files.items():
        _write(vendor / name, content)
    test_vendor.mkdir(parents=True, exist_ok=True)
    _write(axe, test_file)
    _write(vendor / STAMP, stamp.encode())
    print(f"dev.py: fetched the reference app's design assets into {vendor}", flush=True)
    return True


def _read_stamp(vendor: Path) -> str | None:
    try:
        return (vendor / STAMP).read_text()
    except FileNotFoundError:
        return None


def _download(registry: str, name: str, packages: Mapping[str, Any]) -> Package:
    entry = packages[f"node_modules/{name}"]
    version = entry["version"]
    url = f"{registry.rstrip('/')}/{name}/-/{name.rpartition('/')[2]}-{version}.tgz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            data = response.read()
    except (OSError, HTTPException) as exc:  # URLError and HTTPError are OSErrors; IncompleteRead is not
        raise FetchError(f"{url} ({exc})") from exc
    if not _matches(entry["integrity"], data):
        raise SystemExit(
            f"dev.py: {name} {version} from {url} does not match package-lock.json's integrity: refusing it"
            " (a corrupted download, or a registry serving something else)"
        )
    return Package(name, version, data)


def _matches(integrity: str, data: bytes) -> bool:
    """Subresource Integrity as npm writes it: `sha512-<base64>`, possibly several hashes; the sha512 ones count."""
    expected = [h.removeprefix("sha512-").split("?")[0] for h in integrity.split() if h.startswith("sha512-")]
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    return bool(expected) and actual in expected


def _vendor_files(fundamental: Package, theming: Package) -> dict[str, bytes]:
    css = b"".join(
        f"/* {fundamental.name} {fundamental.version}: dist/{c}.css (Apache-2.0) */\n".encode()
        + fundamental.read(f"dist/{c}.css").rstrip(b"\n")
        + b"\n"
        for c in COMPONENTS
        if f"dist/{c}.css" in fundamental
    )
    return {
        "fiori.css": css,
        "sap_horizon.css": _fonts_beside(theming.read(f"{BASE_LIB}/sap_horizon/css_variables.css")),
        "sap_horizon_dark.css": _fonts_beside(theming.read(f"{BASE_LIB}/sap_horizon_dark/css_variables.css")),
        **{font: theming.read(f"{BASE_LIB}/baseTheme/fonts/{font}") for font in FONTS},
        "LICENSE-fundamental-styles.txt": fundamental.license(),
        "LICENSE-theming-base-content.txt": theming.license(),
    }


def _fonts_beside(css: bytes) -> bytes:
    """The theme's @font-face rules point into the package's tree (../../../Base/baseLib/...); ours lie beside it."""
    return FONT_URL.sub(b"url('", css)


def _write(path: Path, content: bytes) -> None:
    """Whole or not at all: a reader (the running app) never sees half a file."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the file from a server running as someone else
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
