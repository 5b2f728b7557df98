"""Queue names shared by the web layer (enqueue) and the worker (consume)."""

from __future__ import annotations

WRITEBACKS = "writebacks"
NOTIFICATIONS = "notifications"  # Web Push and webhook deliveries: after writebacks, which people wait for
ALL = (WRITEBACKS, NOTIFICATIONS)
