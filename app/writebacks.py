"""HTTP side of writeback commands: Idempotency-Key, accepting into the outbox, 202 + Location."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import current_app, g, request, url_for
from flask_smorest import abort

from access.errors import IdempotencyKeyReused
from access.policy import NotInScope, Principal
from runtime.tracing import current_traceparent
from store import Command, IdempotencyConflict, NewCommand, Store
from workers.enqueue import enqueue_command

IDEMPOTENCY_HEADER = "Idempotency-Key"
_VALID_KEY = re.compile(r"[A-Za-z0-9._:~-]{1,128}")


def idempotency_key() -> str:
    """The request's Idempotency-Key; every command requires one (400 when missing or malformed)."""
    key = request.headers.get(IDEMPOTENCY_HEADER, "")
    if not key:
        abort(400, message=f"send an {IDEMPOTENCY_HEADER} header (e.g. a UUID) so a retried request is applied once")
    if not _VALID_KEY.fullmatch(key):
        abort(400, message=f"{IDEMPOTENCY_HEADER} must be 1-128 characters of A-Z a-z 0-9 . _ : ~ -")
    return key


def store() -> Store:
    return current_app.extensions["store"]  # type: ignore[no-any-return]


def find(writeback_id: str) -> Command:
    """A stored writeback by id; an unknown (or absurdly long) id is answered like any missing object."""
    command = store().get(writeback_id) if len(writeback_id) <= 64 else None
    if command is None:
        raise NotInScope(f"writeback {writeback_id!r}")
    return command


def replay(
    principal: Principal, key: str, type_: str, target: tuple[str, str], request_fields: Mapping[str, Any]
) -> Command | None:
    """The command this key already stands for, checked before anything is asked of SAP.

    A client that lost our 202 re-sends the same request: it gets its command back even when SAP's
    state has moved on because of it (the task decided, the operation final). `request_fields` are
    what the client asked for, as the payload holds them (None: absent); any difference is a 422.
    """
    existing = store().find_by_key(principal.user_name, key)
    if existing is None:
        return None
    same = (
        existing.type == type_
        and (existing.target_type, existing.target_id) == target
        and all(existing.payload.get(name) == value for name, value in request_fields.items())
    )
    if not same:
        raise IdempotencyKeyReused(key, existing.id)
    return existing


def submit(
    principal: Principal,
    role: str,
    type_: str,
    target: tuple[str, str],
    payload: dict[str, Any],
    key: str,
    *,
    if_match: str | None = None,
) -> Command:
    """Store the command and its `accepted` audit event in one transaction, then wake a worker.

    Same key + same request returns the stored command (no second job); another request under the
    same key is a 422. If Redis is down the command stays `accepted` and the reconciler enqueues it.
    """
    new = NewCommand(
        type=type_,
        requested_by=principal.user_name,
        role=role,
        target_type=target[0],
        target_id=target[1],
        payload=payload,
        idempotency_key=key,
        attributes={name: list(values) for name, values in principal.attributes.items()},
        if_match=if_match,
        correlation_id=g.get("request_id"),
        traceparent=current_traceparent(),  # the request's span: the job's span continues this trace
    )
    try:
        command, created = store().accept(new)
    except IdempotencyConflict as exc:
        raise IdempotencyKeyReused(key, exc.existing.id) from exc
    if created:
        enqueue_command(current_app.extensions["redis"], command.id)
    return command


def accepted(command: Command) -> tuple[Command, int, dict[str, str]]:
    """The 202 answer: the command's status resource, and where to poll it."""
    return command, 202, {"Location": url_for("writebacks.WritebackById", writeback_id=command.id)}
