#!/usr/bin/env python3
"""The commands of the README: `python3 dev.py run`, `cf`, `test` and `bench`.

Standard library only: it runs before anything is installed. It creates `.venv` if needed,
installs the pinned requirements when they changed, then hands over to the virtualenv.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from devenv import webapp_assets  # standard library only, like this file

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
REQUIREMENTS = [ROOT / "requirements.txt", ROOT / "requirements-dev.txt"]
STAMP = VENV / ".requirements.sha256"


def _requirements_digest() -> str:
    digest = hashlib.sha256()
    for path in REQUIREMENTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_venv() -> None:
    """Create the virtualenv and install the requirements unless they are already current."""
    if not (BIN / "python").exists():
        print(f"dev.py: creating virtualenv in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    digest = _requirements_digest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    print("dev.py: installing requirements (first run or requirements changed)", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-r", str(ROOT / "requirements-dev.txt")], check=True)
    STAMP.write_text(digest)


APPROUTER = ROOT / "approuter"
APPROUTER_STAMP = APPROUTER / "node_modules" / ".package-lock.sha256"


def ensure_approuter() -> None:
    """Install SAP's application router (approuter/package-lock.json) with npm, unless current or npm is missing.

    Without Node.js everything else still runs: `run` says how to get it, the router's browser test is skipped."""
    npm = shutil.which("npm")
    if npm is None or not shutil.which("node"):
        print("dev.py: Node.js/npm not found: SAP's application router (browser sign-in) is left out", flush=True)
        return
    digest = hashlib.sha256((APPROUTER / "package-lock.json").read_bytes()).hexdigest()
    if APPROUTER_STAMP.exists() and APPROUTER_STAMP.read_text() == digest:
        return
    print("dev.py: installing SAP's application router (npm ci in approuter/)", flush=True)
    command = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
    if subprocess.run(command, cwd=APPROUTER).returncode != 0:
        print("dev.py: npm ci failed: the application router is left out (see npm's message above)", flush=True)
        return
    APPROUTER_STAMP.write_text(digest)


def _in_venv(*args: str) -> int:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([str(BIN / "python"), *args], cwd=ROOT, env=env).returncode


def run() -> int:
    """Start mock SAP, Redis (unless REDIS_URL is set), the API, one worker and the router; Ctrl-C stops all."""
    webapp_assets.ensure(required=False)
    ensure_approuter()
    os.execv(str(BIN / "python"), [str(BIN / "python"), "-m", "devenv.run", *sys.argv[2:]])
    return 1  # not reached


def cf() -> int:
    """manifest.yml run like Cloud Foundry runs it (devenv/cf.py): each app's process types and instances over local
    Redis, PostgreSQL and the BTP stand-ins; extra arguments go to `python -m devenv.cf` (--help lists them)."""
    webapp_assets.ensure(required=False)
    ensure_approuter()
    os.execv(str(BIN / "python"), [str(BIN / "python"), "-m", "devenv.cf", *sys.argv[2:]])
    return 1  # not reached


def test() -> int:
    """Lint, type-check and run the whole test suite; extra arguments go to pytest."""
    webapp_assets.ensure(required=True)  # the reference app's browser tests need its design assets and axe-core
    ensure_approuter()
    for step in (["-m", "ruff", "check", "."], ["-m", "ruff", "format", "--check", "."], ["-m", "mypy"]):
        print(f"dev.py test: {' '.join(step[1:])}", flush=True)
        if code := _in_venv(*step):
            return code
    print("dev.py test: pytest", flush=True)
    return _in_venv("-m", "pytest", *sys.argv[2:])


def bench() -> int:
    """The benchmarks, interleaved with their baselines, as one table (bench/RESULTS.md); extra arguments go to
    `python -m bench` (e.g. --quick, --only read)."""
    return _in_venv("-m", "bench", *sys.argv[2:])


COMMANDS = {"run": run, "cf": cf, "test": test, "bench": bench}

if __name__ == "__main__":
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs on whatever python3 the user has
        sys.exit("dev.py: Python 3.11 or newer is required")
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(
            "usage: python3 dev.py run | cf [--apps A,B] [--scale web=2,worker=3] [--on-premise] [--state FILE]"
            " | test [pytest arguments] | bench [--quick] [--only read|write]"
        )
    os.chdir(ROOT)
    ensure_venv()
    sys.exit(COMMANDS[sys.argv[1]]())
