"""Domain errors of the role services and the policy; app/errors.py turns each into its HTTP status once."""

from __future__ import annotations

from typing import Any


class Unprocessable(Exception):
    """The request is well-formed but not acceptable for this object (422), e.g. a missing comment."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def details(self) -> dict[str, Any] | None:
        return {"json": {self.field: [str(self)]}} if self.field else None


class IdempotencyKeyReused(Unprocessable):
    """The Idempotency-Key already named another request of this user (422, with that writeback's id)."""

    def __init__(self, key: str, existing_id: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} was already used for a different request; use a new key")
        self.existing_id = existing_id

    def details(self) -> dict[str, Any] | None:
        return {"existing_writeback": self.existing_id}


class StateConflict(Exception):
    """The object in SAP is not in a state that allows this (409), e.g. an order already released."""
