"""The writeback job: `apply_command(command_id)` applies one stored command to SAP and records the outcome."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from notifications import notices
from odata_clients.errors import SapError, SapProtocolError
from odata_clients.http import CallEvent, record_calls
from runtime import tracing
from runtime.settings import Settings
from runtime.user_assertion import UserAssertionUnavailable
from store import Command, CommandNotFound, InvalidTransition, SerialKeyBusy, Status
from workers.bootstrap import WorkerContext, get_context
from workers.enqueue import wake_command
from workers.handlers import Attempt, StillInDoubt, apply
from workers.heartbeat import beating
from workers.retry import classify
from workers.snapshot import Ending

log = structlog.get_logger(__name__)

# The outcomes a requester is told of as they happen; a discarded dead letter was an admin's choice.
TELLS_REQUESTER = frozenset({Status.SUCCEEDED, Status.REJECTED, Status.CONFLICT, Status.DEAD})


def apply_command(command_id: str) -> None:
    """The RQ job (its argument is the command id). Safe to run any number of times: the store decides who works."""
    try:
        run(get_context(), command_id)
    finally:
        # The worker's own log lines after the job (idle, stopping) must not carry this command's context.
        structlog.contextvars.clear_contextvars()


def run(context: WorkerContext, command_id: str) -> Command | None:
    """One attempt; the command as it ends the attempt, or None when there was nothing to do."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(command_id=command_id)
    command = _start(context, command_id)
    if command is None:
        return None
    correlation = command.correlation_id or command.id
    structlog.contextvars.bind_contextvars(
        request_id=correlation,  # sent to SAP as X-CorrelationID
        correlation_id=correlation,
        user=command.requested_by,
        command_type=command.type,
        attempt=command.attempts,
    )
    # Tracing on: this attempt continues the trace of the request that made the command (its SAP calls nest here).
    # `beating`: this process's heartbeat keeps the command from being reclaimed while the attempt runs.
    with (
        beating(command.id),
        tracing.span(
            f"writeback {command.type}",
            "consumer",
            parent=command.traceparent,
            attributes={"writeback.id": command.id, "writeback.attempt": command.attempts, "request_id": correlation},
        ) as span,
    ):
        ended: Command | None
        if command.attempts > context.retry.max_attempts and command.in_doubt_since is None:
            # A command whose attempts keep dying with their worker (reclaimed each time) ends here. One in
            # doubt goes on: SAP is asked first, and the budget is enforced only before another write.
            log.warning("writeback_out_of_attempts", attempts=command.attempts)
            ended = context.store.end(
                command.id,
                Status.DEAD,
                error={"kind": "out_of_attempts", "status": None, "message": f"{command.attempts - 1} attempts made"},
                actor=context.name,
            )
        else:
            try:
                ended = _attempt(context, command)
            except InvalidTransition as lost:
                # Reclaimed while this attempt ran (its heartbeats stopped reaching the store): the attempt
                # that has it now asks SAP what happened and records the outcome.
                log.warning("writeback_outcome_left_to_another_attempt", reason=str(lost))
                ended = None
        if span is not None and ended is not None:
            span.set_attribute("writeback.status", ended.status.value)
    if ended is not None and ended.status not in (Status.RUNNING, Status.IN_DOUBT):
        _wake_next(context, ended)  # ended, or waiting out a back-off: the order's next command may go
    if ended is not None and ended.status in TELLS_REQUESTER:
        _tell_requester(context, ended)
    return ended


def _start(context: WorkerContext, command_id: str) -> Command | None:
    """`start_attempt`; None when there is nothing to do, or when the command is not next in its order's line.

    A command behind another of its order stays `accepted` (no attempt counted) and this worker moves on at
    once: the attempt that ends the one in the way wakes it (`_wake_next`), the reconciler if that is lost.
    """
    try:
        command = context.store.start_attempt(command_id, actor=context.name, in_order=True)
    except CommandNotFound:
        log.warning("writeback_unknown_command")
        return None
    except SerialKeyBusy as busy:
        log.info("writeback_serial_key_busy", serial_key=busy.serial_key, waits_for=busy.running_id)
        return None
    if command is None:
        log.info("writeback_nothing_to_do")
    return command


def _tell_requester(context: WorkerContext, ended: Command) -> None:
    """Publish the outcome to the user who asked (never raises: the store holds it, GET /writebacks shows it)."""
    notice = notices.writeback(
        ended.status.value,
        command_id=ended.id,
        command_type=ended.type,
        requested_by=ended.requested_by,
        target_type=ended.target_type,
        target_id=ended.target_id,
        error=ended.last_error if ended.status != Status.SUCCEEDED else None,
        finished_at=ended.finished_at,
    )
    try:
        context.bus.publish(notice)
    except Exception as exc:  # Redis away: the app's poll of the writeback still shows the outcome
        log.warning("writeback_outcome_not_published", error=f"{type(exc).__name__}: {exc}")


def _wake_next(context: WorkerContext, ended: Command) -> None:
    """The command of the same order that may have waited for this attempt, enqueued at the front (never raises)."""
    try:
        following = context.store.next_in_line(ended.serial_key)
        if following is not None:
            wake_command(context.redis, following)
    except Exception as exc:  # the store or Redis is away: the reconciler enqueues it later
        log.warning("writeback_next_not_woken", serial_key=ended.serial_key, error=f"{type(exc).__name__}: {exc}")


def _attempt(context: WorkerContext, command: Command) -> Command | None:
    store, settings = context.store, context.settings
    attempt = Attempt(
        command=command,
        sap=context.sap,
        signer=context.signer,
        settle=settings.writeback_in_doubt_settle,
        max_attempts=context.retry.max_attempts,
        on_send=lambda: store.sending(command.id, context.name),
        allow_over_confirmation=settings.allow_over_confirmation,
    )
    started = time.monotonic()
    with record_calls() as calls:
        try:
            applied = apply(attempt)
        except Ending as ending:
            log.info("writeback_ended", status=ending.status.value, reason=ending.message)
            return store.end(
                command.id,
                ending.status,
                error=ending.as_dict(),
                duration_ms=_ms(started),
                sent=_sent(attempt, calls),
                actor=context.name,
            )
        except StillInDoubt as doubt:
            # SAP was asked and does not show the earlier write, but may still be working on it.
            next_check = min(doubt.settled_at, _next_check(settings))
            log.info("writeback_still_in_doubt", next_check_at=next_check.isoformat())
            return store.in_doubt(
                command.id,
                error=None,
                next_check_at=next_check,
                asked_only=True,
                duration_ms=_ms(started),
                sent=_sent(attempt, calls),
                actor=context.name,
            )
        except InvalidTransition as lost:
            # The store handed this command to another attempt (this worker's heartbeats stopped reaching
            # it): nothing was sent by this attempt, and the store is no longer ours to write.
            log.warning("writeback_lost_to_another_attempt", reason=str(lost))
            return None
        except SapError as error:
            return _failed(context, command, error, error.as_dict(), attempt, calls, started)
        except UserAssertionUnavailable as exc:
            # A configuration gap, not a bad command: the dead-letter list lets an admin requeue it once fixed.
            return store.end(
                command.id,
                Status.DEAD,
                error={"kind": "configuration", "status": None, "message": str(exc)},
                duration_ms=_ms(started),
                actor=context.name,
            )
        except (KeyError, ValueError, TypeError) as exc:
            if attempt.sent or command.in_doubt_since is not None:
                # Not the payload: SAP's answer (to the write, or to the question whether an earlier write
                # landed) could not be read. The write may be in SAP: keep the doubt and ask again.
                return _failed(
                    context,
                    command,
                    None,
                    {"kind": "unreadable_answer", "status": None, "message": f"{type(exc).__name__}: {exc}"},
                    attempt,
                    calls,
                    started,
                )
            # The payload does not fit the contract (a web-layer bug or an old command): never retried.
            return store.end(
                command.id,
                Status.REJECTED,
                error={"kind": "invalid_payload", "status": None, "message": f"{type(exc).__name__}: {exc}"},
                duration_ms=_ms(started),
                sent=_sent(attempt, calls),
                actor=context.name,
            )
        except Exception as exc:
            # Unexpected: count the attempt and retry later like a transient error, then let RQ log it.
            _failed(
                context,
                command,
                None,
                {"kind": "internal", "status": None, "message": f"{type(exc).__name__}: {exc}"},
                attempt,
                calls,
                started,
            )
            raise
        outcome = store.succeed(
            command.id,
            result=applied.result | ({"applied_by_earlier_attempt": True} if applied.earlier else {}),
            sap_status=_last_status(calls),
            sap_message=applied.sap_message,
            duration_ms=_ms(started),
            sent=_sent(attempt, calls),
            actor=context.name,
        )
    log.info("writeback_succeeded", earlier=applied.earlier, duration_ms=_ms(started))
    return outcome


def _next_check(settings: Settings) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=settings.writeback_in_doubt_check)


def _failed(
    context: WorkerContext,
    command: Command,
    error: SapError | None,
    as_dict: dict[str, Any],
    attempt: Attempt,
    calls: list[CallEvent],
    started: float,
) -> Command:
    store, retry = context.store, context.retry
    if error is not None and error.may_have_applied and attempt.sent:
        # The write left and no answer came back: SAP may have applied it. Never re-sent blind: the next
        # attempt asks SAP first, and re-sends only once SAP can no longer be working on this one.
        log.warning("writeback_in_doubt", error=as_dict.get("message"))
        return store.in_doubt(
            command.id,
            error=as_dict,
            next_check_at=_next_check(context.settings),
            duration_ms=_ms(started),
            sent=_sent(attempt, calls),
            actor=context.name,
        )
    # This attempt's write failed for sure (SAP answered with an error, or it never reached SAP): it did
    # not land, and any earlier doubt is over (SAP was asked before it was sent). An answer we cannot read
    # (protocol) or an internal error after sending leaves the doubt open.
    write_not_applied = (
        bool(attempt.sent)
        and error is not None
        and not error.may_have_applied
        and not isinstance(error, SapProtocolError)
    )
    ending = classify(error) if error is not None else None
    # Out of attempts ends a command, but not one whose write may still be in SAP: it stays in doubt and is
    # asked about until SAP answers (its order's next commands wait; failing checks feed the error alert).
    doubt_open = (command.in_doubt_since is not None or bool(attempt.sent)) and not write_not_applied
    if ending is None and retry.exhausted(command.attempts) and not doubt_open:
        ending = Status.DEAD
    if ending is not None:
        log.info("writeback_ended", status=ending.value, error=as_dict.get("message"))
        return store.end(
            command.id,
            ending,
            error=as_dict,
            write_not_applied=write_not_applied,
            duration_ms=_ms(started),
            sent=_sent(attempt, calls),
            actor=context.name,
        )
    next_at = retry.next_attempt_at(datetime.now(UTC), command.attempts, error)
    log.info("writeback_retry_scheduled", error=as_dict.get("message"), next_attempt_at=next_at.isoformat())
    return store.fail_transient(
        command.id,
        error=as_dict,
        next_attempt_at=next_at,
        write_not_applied=write_not_applied,
        duration_ms=_ms(started),
        sent=_sent(attempt, calls),
        actor=context.name,
    )


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _last_status(calls: list[CallEvent]) -> int | None:
    return next((call.status for call in reversed(calls) if call.status is not None), None)


def _sent(attempt: Attempt, calls: list[CallEvent]) -> dict[str, Any]:
    """What this attempt sent: the write it made (if it got that far) and every HTTP call to SAP."""
    return {
        "write": attempt.sent or None,
        "calls": [
            {
                "method": c.method,
                "path": c.path,
                "status": c.status,
                "duration_ms": round(c.duration_ms),
                "sap_transaction_id": c.sap_transaction_id or None,
                "auth": c.auth_kind,
                "on_behalf_of": c.on_behalf_of or None,
            }
            for c in calls
        ],
    }
