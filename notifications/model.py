"""A notification: what happened, to which object, and who may hear of it (the read rules, as data)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from access.policy import PLANT, ROLE_ATTRIBUTES, WORK_CENTER, Principal, Role


@dataclass(frozen=True)
class Grant:
    """One way to be in the audience: a named user, or a role holder whose attributes cover the object."""

    user: str | None = None
    role: Role | None = None
    plant: str | None = None
    work_center: str | None = None

    def admits(self, principal: Principal) -> bool:
        if self.user is not None:
            return principal.user_name == self.user
        if self.role is None or not principal.has(self.role):
            return False
        given = {PLANT: self.plant, WORK_CENTER: self.work_center}
        # Deny by default: a grant lacking an attribute the role's data is restricted by admits no one.
        return all(
            given[name] is not None and given[name] in principal.values(name) for name in ROLE_ATTRIBUTES[self.role]
        )

    def to_json(self) -> dict[str, str]:
        fields = {"user": self.user, "role": self.role, "plant": self.plant, "work_center": self.work_center}
        return {name: str(value) for name, value in fields.items() if value is not None}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Grant:
        role = raw.get("role")
        return cls(
            user=raw.get("user"),
            role=Role(role) if role else None,
            plant=raw.get("plant"),
            work_center=raw.get("work_center"),
        )


@dataclass(frozen=True)
class Audience:
    """Who may hear of a notification: anyone one of the grants admits. No grants: no user (webhooks only)."""

    grants: tuple[Grant, ...] = ()

    def admits(self, principal: Principal) -> bool:
        return any(grant.admits(principal) for grant in self.grants)

    @classmethod
    def user(cls, user_name: str) -> Audience:
        return cls((Grant(user=user_name),))

    def users(self) -> tuple[str, ...]:
        return tuple(grant.user for grant in self.grants if grant.user is not None)


@dataclass(frozen=True)
class Notification:
    """What apps and other systems are told. `type` is ours (e.g. `production-order.released`), stable for apps;
    `data` is plain JSON in the API's canonical field names; `source_event` names the SAP event it came from."""

    type: str
    data: Mapping[str, Any]
    audience: Audience
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    source_event: str | None = None  # the CloudEvent id (or the poller's key) it was made from

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "data": dict(self.data),
            "audience": [grant.to_json() for grant in self.audience.grants],
            "source_event": self.source_event,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Notification:
        return cls(
            type=str(raw["type"]),
            data=dict(raw.get("data") or {}),
            audience=Audience(tuple(Grant.from_json(g) for g in raw.get("audience") or ())),
            time=datetime.fromisoformat(str(raw["time"]).replace("Z", "+00:00")),
            source_event=raw.get("source_event"),
        )

    def public(self, event_id: str) -> dict[str, Any]:
        """What a subscriber receives: never the audience (it names other users)."""
        body = self.to_json()
        del body["audience"]
        return {"id": event_id, **body}
