"""Development secrets kept in files: created once, atomically and owner-readable, shared by every process."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    """The file's text; if it does not exist yet, `make()` written there first (mode 0600).

    Several processes may start at once: each writes its own temporary file and links it into place, so
    exactly one wins and the others read the winner's.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(make())
        temporary.chmod(0o600)
        try:
            os.link(temporary, path)  # fails if another process won the race: use theirs
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text()
