"""Domain errors of the role services; app/errors.py turns each into its HTTP status once."""

from __future__ import annotations


class Unprocessable(Exception):
    """The request is well-formed but not acceptable for this object (422), e.g. a missing comment."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class StateConflict(Exception):
    """The object in SAP is not in a state that allows this (409), e.g. an order already released."""
