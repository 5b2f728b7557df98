"""Queue names shared by the web layer (enqueue) and the worker (consume)."""

from __future__ import annotations

WRITEBACKS = "writebacks"
ALL = (WRITEBACKS,)
