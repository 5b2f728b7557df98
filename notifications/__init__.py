"""Events in (SAP business events, delta pollers) and out (SSE, Web Push, webhooks); no Flask here."""

from __future__ import annotations

from notifications.bus import EventBus, Published
from notifications.model import Audience, Grant, Notification

__all__ = ["Audience", "EventBus", "Grant", "Notification", "Published"]
