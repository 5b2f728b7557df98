"""The store's vocabulary: statuses, audit event names, the frozen dataclasses it returns and its errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Status(StrEnum):
    """Lifecycle of a writeback command."""

    ACCEPTED = "accepted"  # stored, waiting for a worker (first attempt or a scheduled retry)
    RUNNING = "running"  # a worker is applying it to SAP
    IN_DOUBT = "in_doubt"  # SAP may have applied it (timeout, lost connection): SAP is asked before any re-send
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"  # SAP refused it for a business reason (400, 403): no retry
    CONFLICT = "conflict"  # 412 or decided by someone else first: no retry
    DEAD = "dead"  # out of retries: the dead-letter list
    DISCARDED = "discarded"  # an admin threw the dead letter away


TERMINAL = frozenset({Status.SUCCEEDED, Status.REJECTED, Status.CONFLICT, Status.DEAD, Status.DISCARDED})
ENDINGS = frozenset({Status.REJECTED, Status.CONFLICT, Status.DEAD})


class Event(StrEnum):
    """Names of the audit events the store writes itself; `append` also accepts other names."""

    ACCEPTED = "accepted"
    ATTEMPT_STARTED = "attempt_started"
    ATTEMPT_SUCCEEDED = "attempt_succeeded"
    ATTEMPT_FAILED = "attempt_failed"
    RETRY_SCHEDULED = "retry_scheduled"
    REJECTED = "rejected"
    CONFLICT = "conflict"
    DEAD = "dead"
    IN_DOUBT = "in_doubt"
    RECONCILED = "reconciled"
    REQUEUED = "requeued"
    DISCARDED = "discarded"


# Audit events that end one attempt: what error rates are computed from.
OUTCOME_EVENTS = frozenset({Event.ATTEMPT_SUCCEEDED, Event.ATTEMPT_FAILED, Event.REJECTED, Event.CONFLICT, Event.DEAD})
# Outcomes that count as errors: a conflict (decided elsewhere first, 412) is the system working as meant.
ERROR_EVENTS = frozenset({Event.ATTEMPT_FAILED, Event.REJECTED, Event.DEAD})


@dataclass(frozen=True)
class NewCommand:
    """What the web layer hands to `Store.accept`: plain values, already validated and authorised."""

    type: str  # e.g. "operation.confirm"
    requested_by: str  # the caller's user name
    role: str  # the role the caller acted in
    target_type: str  # e.g. "ProductionOrder"
    target_id: str  # e.g. "1000001"
    payload: Mapping[str, Any]
    idempotency_key: str
    attributes: Mapping[str, Any] = field(default_factory=dict)  # snapshot, e.g. {"Plant": ["1010"]}
    serial_key: str | None = None  # commands with one key run one at a time; default "target_type:target_id"
    if_match: str | None = None  # the ETag the client saw
    correlation_id: str | None = None
    traceparent: str | None = None  # W3C trace context of the request (OpenTelemetry), when tracing is on


@dataclass(frozen=True)
class Command:
    """A stored writeback command."""

    id: str
    type: str
    status: Status
    requested_by: str
    role: str
    attributes: dict[str, Any]
    target_type: str
    target_id: str
    serial_key: str
    payload: dict[str, Any]
    payload_hash: str
    idempotency_key: str
    if_match: str | None
    correlation_id: str | None
    attempts: int
    last_error: dict[str, Any] | None  # {"status": 400, "code": "...", "message": "..."} as the worker gave it
    result: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None
    finished_at: datetime | None
    traceparent: str | None = None  # the request's W3C trace context: a job's span continues that trace
    runner: str | None = None  # the worker running it now (or last)
    heartbeat_at: datetime | None = None  # when that worker last showed it is alive
    in_doubt_since: datetime | None = None  # SAP may have applied it since then; asked before any re-send

    @property
    def object(self) -> str:
        """The audit trail's name for the target, e.g. "ProductionOrder:1000001"."""
        return f"{self.target_type}:{self.target_id}"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class AuditEvent:
    """One link of the append-only, hash-chained audit trail."""

    id: int
    at: datetime
    event: str
    actor: str
    command_id: str | None
    on_behalf_of: str | None
    role: str | None
    object: str | None
    sent: Any  # what was sent to SAP (the payload for `accepted`)
    detail: dict[str, Any] | None  # event facts that are not SAP's, e.g. {"next_attempt_at": ...}
    sap_status: int | None
    sap_message: str | None
    duration_ms: int | None
    correlation_id: str | None
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a keyset-paged listing; pass `next_cursor` back to get the next one (None: no more)."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of recomputing the audit chain; on failure, the first link that does not hold and why."""

    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class StoreStats:
    """Numbers for metrics and the integration-health view."""

    counts: dict[tuple[str, str], int]  # (status, type) -> number of commands
    oldest_waiting_seconds: float | None  # age of the oldest `accepted` command, None when nothing waits
    last_success_at: datetime | None


class StoreError(Exception):
    """Base of the store's own errors."""


class CommandNotFound(StoreError, LookupError):
    def __init__(self, command_id: str) -> None:
        super().__init__(f"no writeback command {command_id!r}")
        self.command_id = command_id


class IdempotencyConflict(StoreError):
    """The idempotency key was already used by this user for a different request (the web layer answers 422)."""

    def __init__(self, existing: Command) -> None:
        super().__init__(
            f"idempotency key {existing.idempotency_key!r} was already used for another request (command {existing.id})"
        )
        self.existing = existing


class InvalidTransition(StoreError):
    """The command is not in a state that allows this action (e.g. requeue of a command that is not dead)."""

    def __init__(self, command: Command, action: str) -> None:
        super().__init__(f"cannot {action} command {command.id}: it is {command.status.value}")
        self.command = command
        self.action = action


class SerialKeyBusy(StoreError):
    """Another command with the same serialisation key goes first (it runs, is in doubt, or is older); try later."""

    def __init__(self, command_id: str, serial_key: str, running_id: str) -> None:
        super().__init__(f"command {command_id} waits: {running_id} goes first for {serial_key}")
        self.command_id = command_id
        self.serial_key = serial_key
        self.running_id = running_id
