"""`Store`: the outbox of writeback commands and the audit trail, as the web layer and the workers use them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import audit
from store.canonical import canonical_json, decode_cursor, encode_cursor, iso_utc, sha256_hex
from store.db import Repository, make_engine, page_limit, utcnow
from store.models import AuditRow, ChainHeadRow, CommandRow
from store.records import (
    ENDINGS,
    OUTCOME_EVENTS,
    AuditEvent,
    Command,
    CommandNotFound,
    Event,
    IdempotencyConflict,
    InvalidTransition,
    NewCommand,
    Page,
    SerialKeyBusy,
    Status,
    StoreStats,
    VerifyResult,
)

# Statuses that hold a command's serialisation key: the next command of the same order waits for them.
SERIALISED = (Status.RUNNING.value, Status.IN_DOUBT.value)
ADMIN_ROLE = "IntegrationAdmin"


def request_fingerprint(new: NewCommand) -> str:
    """sha256 of what makes two requests "the same" for an idempotency key: type, target and payload.

    If-Match is left out on purpose: a client that re-sends after re-reading the object must get its
    command back, not a 422.
    """
    return sha256_hex(
        canonical_json(
            {"type": new.type, "target_type": new.target_type, "target_id": new.target_id, "payload": new.payload}
        )
    )


def _by_key(requested_by: str, idempotency_key: str) -> Select[CommandRow]:
    return select(CommandRow).where(
        CommandRow.requested_by == requested_by, CommandRow.idempotency_key == idempotency_key
    )


def _to_command(row: CommandRow) -> Command:
    return Command(
        id=row.id,
        type=row.type,
        status=Status(row.status),
        requested_by=row.requested_by,
        role=row.role,
        attributes=row.attributes,
        target_type=row.target_type,
        target_id=row.target_id,
        serial_key=row.serial_key,
        payload=row.payload,
        payload_hash=row.payload_hash,
        idempotency_key=row.idempotency_key,
        if_match=row.if_match,
        correlation_id=row.correlation_id,
        attempts=row.attempts,
        last_error=row.last_error,
        result=row.result,
        created_at=row.created_at,
        updated_at=row.updated_at,
        next_attempt_at=row.next_attempt_at,
        finished_at=row.finished_at,
        traceparent=row.traceparent,
        runner=row.runner,
        heartbeat_at=row.heartbeat_at,
        in_doubt_since=row.in_doubt_since,
    )


def _ready(now: datetime) -> ColumnElement[bool]:
    """`accepted` and due: never tried, reclaimed, or its retry's back-off is over."""
    return and_(
        CommandRow.status == Status.ACCEPTED.value,
        or_(CommandRow.next_attempt_at.is_(None), CommandRow.next_attempt_at <= now),
    )


def _older_than(row: CommandRow) -> ColumnElement[bool]:
    """Accepted before `row` (the id breaks a tie of timestamps, so two commands are never both older)."""
    return or_(
        CommandRow.created_at < row.created_at,
        and_(CommandRow.created_at == row.created_at, CommandRow.id < row.id),
    )


def _sap_fields(error: Mapping[str, Any] | None) -> tuple[int | None, str | None]:
    """SAP's HTTP status and message out of the canonical error shape ({"status", "code", "message", ...})."""
    if not error:
        return None, None
    status = error.get("status")
    message = error.get("message")
    return (
        status if isinstance(status, int) and not isinstance(status, bool) else None,
        str(message) if message is not None else None,
    )


def _user_conditions(user: str, status: str | None) -> list[ColumnElement[bool]]:
    conditions = [CommandRow.requested_by == user]
    if status is not None:
        conditions.append(CommandRow.status == Status(status).value)
    return conditions


def _status_conditions(status: str, type: str | None) -> list[ColumnElement[bool]]:
    conditions = [CommandRow.status == Status(status).value]
    if type is not None:
        conditions.append(CommandRow.type == type)
    return conditions


def _audit_conditions(
    user: str | None, object: str | None, command_id: str | None, since: datetime | None, until: datetime | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if user is not None:
        conditions.append(or_(AuditRow.actor == user, AuditRow.on_behalf_of == user))
    if object is not None:
        conditions.append(AuditRow.object == object)
    if command_id is not None:
        conditions.append(AuditRow.command_id == command_id)
    if since is not None:
        conditions.append(AuditRow.at >= since)
    if until is not None:
        conditions.append(AuditRow.at < until)
    return conditions


class _Tx:
    """One write transaction: the session and the locked chain head."""

    def __init__(self, session: Session, head: ChainHeadRow, now: datetime) -> None:
        self.session = session
        self.head = head
        self.now = now

    def command(self, command_id: str) -> CommandRow:
        # Locked (PostgreSQL): a worker's conditional updates outside the chain lock wait for this transaction.
        row = self.session.get(CommandRow, command_id, with_for_update=True)
        if row is None:
            raise CommandNotFound(command_id)
        return row

    def audit(self, row: CommandRow, event: str, actor: str, **fields: Any) -> None:
        """An audit event about a command; who it was for, the role and object come from the command."""
        fields.setdefault("on_behalf_of", row.requested_by)
        fields.setdefault("role", row.role)
        fields.setdefault("correlation_id", row.correlation_id)
        audit.append_event(
            self.session,
            self.head,
            at=self.now,
            event=event,
            actor=actor,
            command_id=row.id,
            object=f"{row.target_type}:{row.target_id}",
            **fields,
        )


class Store(Repository):
    """The durable store. Every method is one transaction; every state change writes its audit event in it.

    Thread-safe (one Store per process is enough). Writers are serialised through the audit chain head,
    which keeps the chain linear and makes check-then-act (idempotency, serial keys) race-free.
    """

    @classmethod
    def from_url(cls, database_url: str, *, clock: Callable[[], datetime] = utcnow) -> Store:
        return cls(make_engine(database_url), clock=clock)

    # -- transactions ------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[_Tx]:
        with self._write_session() as session:
            yield _Tx(session, audit.lock_head(session), self._now())

    # -- the web layer ---------------------------------------------------------------------------

    def accept(self, new: NewCommand) -> tuple[Command, bool]:
        """Store a new command and its `accepted` event; `(command, created)`.

        The same user re-using an idempotency key for the same request gets the existing command back
        (created False, nothing written); for another request, `IdempotencyConflict`.
        """
        fingerprint = request_fingerprint(new)
        canonical_json(new.attributes)  # refuse what JSON columns could not store exactly, before any write
        try:
            with self._write() as tx:
                existing = tx.session.execute(_by_key(new.requested_by, new.idempotency_key)).scalar_one_or_none()
                if existing is not None:
                    return self._replayed(_to_command(existing), fingerprint), False
                row = CommandRow(
                    id=str(uuid.uuid4()),
                    type=new.type,
                    status=Status.ACCEPTED.value,
                    requested_by=new.requested_by,
                    role=new.role,
                    attributes=dict(new.attributes),
                    target_type=new.target_type,
                    target_id=new.target_id,
                    serial_key=new.serial_key or f"{new.target_type}:{new.target_id}",
                    payload=dict(new.payload),
                    payload_hash=fingerprint,
                    idempotency_key=new.idempotency_key,
                    if_match=new.if_match,
                    correlation_id=new.correlation_id,
                    traceparent=new.traceparent,
                    attempts=0,
                    created_at=tx.now,
                    updated_at=tx.now,
                )
                tx.session.add(row)
                tx.audit(row, Event.ACCEPTED, new.requested_by, sent=row.payload, detail={"type": row.type})
                return _to_command(row), True
        except IntegrityError:
            # Not reachable while writers are serialised by the chain head; kept so that a lost race can
            # never surface as a server error if that ever changes.
            with self._read() as session:
                found = session.execute(_by_key(new.requested_by, new.idempotency_key)).scalar_one_or_none()
                if found is None:
                    raise
                return self._replayed(_to_command(found), fingerprint), False

    @staticmethod
    def _replayed(existing: Command, fingerprint: str) -> Command:
        if existing.payload_hash != fingerprint:
            raise IdempotencyConflict(existing)
        return existing

    def find_by_key(self, requested_by: str, idempotency_key: str) -> Command | None:
        """The user's command under this idempotency key, if any (the web layer replays it before re-checking)."""
        with self._read() as session:
            row = session.execute(_by_key(requested_by, idempotency_key)).scalar_one_or_none()
            return _to_command(row) if row is not None else None

    def get(self, command_id: str) -> Command | None:
        with self._read() as session:
            row = session.get(CommandRow, command_id)
            return _to_command(row) if row is not None else None

    def get_many(self, command_ids: Collection[str]) -> dict[str, Command]:
        """The stored commands among `command_ids`, by id, in one query (ids not found are left out)."""
        if not command_ids:
            return {}
        with self._read() as session:
            rows = session.execute(select(CommandRow).where(CommandRow.id.in_(list(command_ids)))).scalars()
            return {row.id: _to_command(row) for row in rows}

    def list_for_user(
        self, user: str, *, status: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page[Command]:
        """The user's own commands, newest first."""
        return self._command_page(_user_conditions(user, status), limit, cursor)

    def count_for_user(self, user: str, *, status: str | None = None) -> int:
        """How many commands `list_for_user` pages through."""
        return self._count(CommandRow, _user_conditions(user, status))

    def list_for_user_of_type(
        self, user: str, type: str, *, status: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page[Command]:
        """The user's own commands of one type (e.g. their decisions), newest first."""
        return self._command_page([*_user_conditions(user, status), CommandRow.type == type], limit, cursor)

    def count_for_user_of_type(self, user: str, type: str, *, status: str | None = None) -> int:
        """How many commands `list_for_user_of_type` pages through."""
        return self._count(CommandRow, [*_user_conditions(user, status), CommandRow.type == type])

    def list_by_status(
        self, status: str, *, type: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page[Command]:
        """Commands in one status (e.g. the dead letters), newest first."""
        return self._command_page(_status_conditions(status, type), limit, cursor)

    def count_by_status(self, status: str, *, type: str | None = None) -> int:
        """How many commands `list_by_status` pages through."""
        return self._count(CommandRow, _status_conditions(status, type))

    def _count(self, model: type[CommandRow] | type[AuditRow], conditions: list[ColumnElement[bool]]) -> int:
        with self._read() as session:
            return int(session.execute(select(func.count()).select_from(model).where(*conditions)).scalar_one())

    def _command_page(self, conditions: list[ColumnElement[bool]], limit: int, cursor: str | None) -> Page[Command]:
        return self._newest_first(CommandRow, _to_command, conditions, limit, cursor)

    # -- the worker --------------------------------------------------------------------------------

    def start_attempt(self, command_id: str, *, actor: str = "worker", in_order: bool = False) -> Command | None:
        """`accepted` or `in_doubt` -> `running`, attempts + 1; None when there is nothing to do.

        Commands with the same serialisation key are applied one at a time: raises `SerialKeyBusy` while another
        one is running or in doubt (one in doubt may still land in SAP: what comes after it must wait). With
        `in_order` (the worker's jobs) also in the order they were accepted: an `accepted` command waits while an
        older one is ready to run (due: never tried, or its retry's time has come), so concurrent workers keep
        the order; the attempt that ends the command in the way wakes the next (`next_in_line`). One waiting out
        a retry's back-off does not hold the later ones back (they go ahead, as with a single worker). `actor` is
        recorded as the runner, whose heartbeats keep the command from being reclaimed. Raises `CommandNotFound`.
        """
        with self._write() as tx:
            row = tx.command(command_id)
            if row.status not in (Status.ACCEPTED, Status.IN_DOUBT):
                return None
            # The one running or in doubt holds the key whatever its age, so an older command requeued from the
            # dead letters waits behind it (never the other way round: that would deadlock).
            in_the_way: ColumnElement[bool] = CommandRow.status.in_(SERIALISED)
            if in_order and row.status == Status.ACCEPTED:
                in_the_way = or_(in_the_way, and_(_ready(tx.now), _older_than(row)))
            blocking = tx.session.execute(
                select(CommandRow.id)
                .where(CommandRow.serial_key == row.serial_key, CommandRow.id != row.id, in_the_way)
                .limit(1)
            ).scalar_one_or_none()
            if blocking is not None:
                raise SerialKeyBusy(row.id, row.serial_key, blocking)
            row.status = Status.RUNNING.value
            row.attempts += 1
            row.updated_at = row.heartbeat_at = tx.now
            row.runner = actor
            row.next_attempt_at = None
            tx.audit(row, Event.ATTEMPT_STARTED, actor, detail={"attempt": row.attempts})
            return _to_command(row)

    def next_in_line(self, serial_key: str, now: datetime | None = None) -> str | None:
        """The id of the command of this serialisation key that may start now (`in_order`), if one is ready.

        None while one is running or in doubt; else the oldest `accepted` one that is due. A worker asks after
        ending a command and wakes the one named, which `start_attempt` may have refused meanwhile.
        """
        now = now or self._now()
        # Running or in doubt sorts first: then there is nobody to wake.
        holding = case((CommandRow.status.in_(SERIALISED), 0), else_=1)
        with self._read() as session:
            first = session.execute(
                select(CommandRow.id, CommandRow.status)
                .where(CommandRow.serial_key == serial_key, or_(CommandRow.status.in_(SERIALISED), _ready(now)))
                .order_by(holding, CommandRow.created_at, CommandRow.id)
                .limit(1)
            ).first()
        return str(first.id) if first is not None and first.status == Status.ACCEPTED else None

    def heartbeat(self, runner: str, command_ids: Collection[str]) -> int:
        """The runner is alive and still working on these commands; how many rows it still holds.

        No audit event (it is not a state change) and no chain-head lock: one UPDATE.
        """
        return self._set_heartbeat(runner, command_ids, self._now())

    def hand_back(self, runner: str, command_ids: Collection[str]) -> int:
        """A stopping runner gives up these commands before it ends: they look abandoned at once, so the next
        reconciler pass reclaims them (in doubt when a write had left, as for a worker that died). How many."""
        return self._set_heartbeat(runner, command_ids, datetime(1970, 1, 1, tzinfo=UTC))

    def _set_heartbeat(self, runner: str, command_ids: Collection[str], at: datetime) -> int:
        if not command_ids:
            return 0
        with self._write_session() as session:
            result = session.execute(
                update(CommandRow)
                .where(
                    CommandRow.id.in_(list(command_ids)),
                    CommandRow.runner == runner,
                    CommandRow.status == Status.RUNNING.value,
                )
                .values(heartbeat_at=at)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def sending(self, command_id: str, runner: str) -> Command:
        """A write is about to leave for SAP: from now until the attempt ends, its outcome is in doubt.

        Recorded before the write, so a worker that dies mid-call leaves a command that is asked about,
        never blindly re-sent. No audit event: the attempt's outcome event records what was sent.
        """
        with self._write_session() as session:
            # One conditional UPDATE: the check and the mark cannot be split by a reconciler's claim.
            marked = session.execute(
                update(CommandRow)
                .where(
                    CommandRow.id == command_id,
                    CommandRow.status == Status.RUNNING.value,
                    CommandRow.runner == runner,
                )
                .values(in_doubt_since=self._now())
                .returning(CommandRow)
            ).scalar_one_or_none()
            if marked is not None:
                return _to_command(marked)
            row = session.get(CommandRow, command_id)
            if row is None:
                raise CommandNotFound(command_id)
            # Reclaimed (this worker's heartbeats stopped reaching the store): another attempt owns it now.
            raise InvalidTransition(_to_command(row), f"send a write as {runner}")

    def succeed(
        self,
        command_id: str,
        *,
        result: Mapping[str, Any] | None = None,
        sap_status: int | None = None,
        sap_message: str | None = None,
        duration_ms: int | None = None,
        sent: Any = None,
        actor: str = "worker",
    ) -> Command:
        """`running` (or `accepted`, if a reconciler reclaimed it meanwhile) -> `succeeded`."""
        with self._write() as tx:
            row = self._active(tx, command_id, "succeed", actor)
            row.status = Status.SUCCEEDED.value
            row.result = dict(result) if result is not None else None
            row.updated_at = row.finished_at = tx.now
            row.next_attempt_at = row.in_doubt_since = None
            tx.audit(
                row,
                Event.ATTEMPT_SUCCEEDED,
                actor,
                sent=sent,
                detail={"attempt": row.attempts},
                sap_status=sap_status,
                sap_message=sap_message,
                duration_ms=duration_ms,
            )
            return _to_command(row)

    def fail_transient(
        self,
        command_id: str,
        *,
        error: Mapping[str, Any],
        next_attempt_at: datetime,
        write_not_applied: bool = False,
        duration_ms: int | None = None,
        sent: Any = None,
        actor: str = "worker",
    ) -> Command:
        """A transient failure: back to `accepted` until `next_attempt_at` (events attempt_failed, retry_scheduled).

        `write_not_applied`: this attempt's write failed for sure (SAP answered with an error, or it never reached
        SAP), so an earlier doubt is over. Otherwise (the attempt failed before writing) a command in doubt
        stays `in_doubt`.
        """
        with self._write() as tx:
            row = self._active(tx, command_id, "retry", actor)
            if write_not_applied:
                row.in_doubt_since = None
            row.status = Status.IN_DOUBT.value if row.in_doubt_since is not None else Status.ACCEPTED.value
            row.last_error = dict(error)
            row.updated_at = tx.now
            row.next_attempt_at = next_attempt_at
            sap_status, sap_message = _sap_fields(error)
            tx.audit(
                row,
                Event.ATTEMPT_FAILED,
                actor,
                sent=sent,
                detail={"attempt": row.attempts, "error": dict(error)},
                sap_status=sap_status,
                sap_message=sap_message,
                duration_ms=duration_ms,
            )
            tx.audit(
                row,
                Event.RETRY_SCHEDULED,
                actor,
                detail={"next_attempt_at": iso_utc(next_attempt_at), "attempts_so_far": row.attempts},
            )
            return _to_command(row)

    def in_doubt(
        self,
        command_id: str,
        *,
        error: Mapping[str, Any] | None,
        next_check_at: datetime,
        asked_only: bool = False,
        duration_ms: int | None = None,
        sent: Any = None,
        actor: str = "worker",
    ) -> Command:
        """`running` -> `in_doubt` until `next_check_at`: SAP may have applied the write; ask it then.

        `error` is what made the outcome unknown (a timeout, a lost connection), None when SAP was asked and
        did not show the write yet. `asked_only`: this attempt only asked SAP and wrote nothing, so it does
        not use up one of the command's attempts.
        """
        with self._write() as tx:
            row = self._active(tx, command_id, "mark in doubt", actor)
            if row.in_doubt_since is None:
                raise InvalidTransition(_to_command(row), "mark in doubt without a write sent")
            row.status = Status.IN_DOUBT.value
            if error is not None:
                row.last_error = dict(error)
            if asked_only:
                row.attempts -= 1
            row.updated_at = tx.now
            row.next_attempt_at = next_check_at
            sap_status, sap_message = _sap_fields(error)
            tx.audit(
                row,
                Event.IN_DOUBT,
                actor,
                sent=sent,
                detail={
                    "attempt": row.attempts,
                    "write_sent_at": iso_utc(row.in_doubt_since),
                    "next_check_at": iso_utc(next_check_at),
                    "asked_only": asked_only,
                    **({"error": dict(error)} if error is not None else {}),
                },
                sap_status=sap_status,
                sap_message=sap_message,
                duration_ms=duration_ms,
            )
            return _to_command(row)

    def end(
        self,
        command_id: str,
        status: str,
        *,
        error: Mapping[str, Any],
        write_not_applied: bool = False,
        duration_ms: int | None = None,
        sent: Any = None,
        actor: str = "worker",
    ) -> Command:
        """End without retry: `rejected` (business error), `conflict` (412, decided elsewhere) or `dead`.

        A dead letter keeps an open doubt (whoever requeues it must ask SAP first) unless this attempt's
        write failed for sure (`write_not_applied`, e.g. SAP answered 401).
        """
        final = Status(status)
        if final not in ENDINGS:
            raise ValueError(f"end() takes rejected, conflict or dead, not {status!r}")
        with self._write() as tx:
            row = self._active(tx, command_id, f"end as {final.value}", actor)
            row.status = final.value
            row.last_error = dict(error)
            row.updated_at = row.finished_at = tx.now
            row.next_attempt_at = None
            if final != Status.DEAD or write_not_applied:
                row.in_doubt_since = None
            sap_status, sap_message = _sap_fields(error)
            tx.audit(
                row,
                Event(final.value),
                actor,
                sent=sent,
                detail={"attempt": row.attempts, "error": dict(error)},
                sap_status=sap_status,
                sap_message=sap_message,
                duration_ms=duration_ms,
            )
            return _to_command(row)

    @staticmethod
    def _active(tx: _Tx, command_id: str, action: str, actor: str) -> CommandRow:
        """The command an attempt may record its outcome on: still its own (running by `actor`), or reclaimed
        but not yet taken up again (`accepted`). Another worker running it now records the outcome itself."""
        row = tx.command(command_id)
        if row.status not in (Status.RUNNING, Status.ACCEPTED) or (
            row.status == Status.RUNNING and row.runner not in (None, actor)
        ):
            raise InvalidTransition(_to_command(row), action)
        return row

    # -- the reconciler ----------------------------------------------------------------------------

    @staticmethod
    def _stranded_condition(
        now: datetime, accepted_older_than: timedelta, running_older_than: timedelta
    ) -> ColumnElement[bool]:
        # A scheduled retry counts from its due time, not from the failure, so the reconciler does not
        # race the delayed job that is about to run.
        # A running command is stranded when its worker stopped beating (heartbeat_at), not when it is slow.
        return or_(
            and_(
                CommandRow.status.in_((Status.ACCEPTED.value, Status.IN_DOUBT.value)),
                func.coalesce(CommandRow.next_attempt_at, CommandRow.updated_at) <= now - accepted_older_than,
            ),
            and_(
                CommandRow.status == Status.RUNNING.value,
                func.coalesce(CommandRow.heartbeat_at, CommandRow.updated_at) <= now - running_older_than,
            ),
        )

    def stranded(
        self,
        *,
        accepted_older_than: timedelta,
        running_older_than: timedelta,
        scheduled_only: bool = False,
        now: datetime | None = None,
        limit: int = 100,
    ) -> list[Command]:
        """Commands a lost job may have stranded, oldest first.

        `scheduled_only`: only those with a `next_attempt_at` (retries and in-doubt checks), so a backlog of
        fresh commands cannot push them out of a batch.

        `accepted` and `in_doubt` ones due for longer than `accepted_older_than` (Redis lost the job, or
        enqueue failed), and `running` ones whose runner has not beaten for `running_older_than` (the
        worker died; a live worker's heartbeats keep `heartbeat_at` fresh however long its SAP call takes).
        """
        now = now or self._now()
        conditions = [self._stranded_condition(now, accepted_older_than, running_older_than)]
        if scheduled_only:
            conditions.append(CommandRow.next_attempt_at.is_not(None))
        query = (
            select(CommandRow)
            .where(*conditions)
            .order_by(CommandRow.created_at, CommandRow.id)
            .limit(page_limit(limit))
        )
        with self._read() as session:
            return [_to_command(row) for row in session.execute(query).scalars()]

    def reconcile(
        self,
        command_id: str,
        *,
        accepted_older_than: timedelta,
        running_older_than: timedelta,
        actor: str = "reconciler",
    ) -> Command | None:
        """Claim a stranded command for re-enqueueing: it, now `accepted` or `in_doubt`, or None if it is no
        longer stranded.

        Re-checks under the write lock, so several reconcilers never both claim it. A stale `running`
        command goes back to `accepted`, or to `in_doubt` when its worker had sent a write; the claim
        touches `updated_at`, so the next pass leaves it alone.
        """
        with self._write() as tx:
            row = tx.command(command_id)
            still = tx.session.execute(
                select(CommandRow.id).where(
                    CommandRow.id == command_id,
                    self._stranded_condition(tx.now, accepted_older_than, running_older_than),
                )
            ).scalar_one_or_none()
            if still is None:
                return None
            previous = row.status
            # A worker that died after sending a write leaves it in doubt: the next attempt asks SAP first.
            in_doubt = row.in_doubt_since is not None and previous != Status.ACCEPTED
            row.status = Status.IN_DOUBT.value if in_doubt else Status.ACCEPTED.value
            row.updated_at = tx.now
            row.next_attempt_at = None
            tx.audit(
                row,
                Event.RECONCILED,
                actor,
                detail={"from": previous, "to": row.status, "attempts_so_far": row.attempts},
            )
            return _to_command(row)

    # -- dead letters (IntegrationAdmin) -----------------------------------------------------------

    def requeue(
        self, command_id: str, *, admin: str, role: str = ADMIN_ROLE, correlation_id: str | None = None
    ) -> Command:
        """`dead` -> `accepted` with a fresh retry budget (attempts back to 0; the trail keeps the history)."""
        with self._write() as tx:
            row = tx.command(command_id)
            if row.status != Status.DEAD:
                raise InvalidTransition(_to_command(row), "requeue")
            before = row.attempts
            row.status = Status.ACCEPTED.value
            row.attempts = 0
            row.updated_at = tx.now
            row.next_attempt_at = row.finished_at = None
            tx.audit(
                row,
                Event.REQUEUED,
                admin,
                role=role,
                correlation_id=correlation_id,
                detail={"attempts_before": before},
            )
            return _to_command(row)

    def discard(
        self,
        command_id: str,
        *,
        admin: str,
        role: str = ADMIN_ROLE,
        reason: str | None = None,
        correlation_id: str | None = None,
    ) -> Command:
        """`dead` -> `discarded`: the command stays on record (so does its trail), it is just never retried."""
        with self._write() as tx:
            row = tx.command(command_id)
            if row.status != Status.DEAD:
                raise InvalidTransition(_to_command(row), "discard")
            row.status = Status.DISCARDED.value
            row.updated_at = row.finished_at = tx.now
            tx.audit(row, Event.DISCARDED, admin, role=role, correlation_id=correlation_id, detail={"reason": reason})
            return _to_command(row)

    # -- the audit trail ---------------------------------------------------------------------------

    def append(
        self,
        *,
        event: str,
        actor: str,
        command_id: str | None = None,
        on_behalf_of: str | None = None,
        role: str | None = None,
        object: str | None = None,
        sent: Any = None,
        detail: Mapping[str, Any] | None = None,
        sap_status: int | None = None,
        sap_message: str | None = None,
        duration_ms: int | None = None,
        correlation_id: str | None = None,
    ) -> AuditEvent:
        """Append an event that is not a command transition (the transitions write their own)."""
        with self._write() as tx:
            row = audit.append_event(
                tx.session,
                tx.head,
                at=tx.now,
                event=event,
                actor=actor,
                command_id=command_id,
                on_behalf_of=on_behalf_of,
                role=role,
                object=object,
                sent=sent,
                detail=detail,
                sap_status=sap_status,
                sap_message=sap_message,
                duration_ms=duration_ms,
                correlation_id=correlation_id,
            )
            return audit.to_event(row)

    def list_audit(
        self,
        *,
        user: str | None = None,
        object: str | None = None,
        command_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[AuditEvent]:
        """Audit events, newest first. `user` matches who acted or on whose behalf; `since` <= at < `until`."""
        limit = page_limit(limit)
        conditions = _audit_conditions(user, object, command_id, since, until)
        if cursor is not None:
            (before_id,) = decode_cursor(cursor, (int,))
            conditions.append(AuditRow.id < before_id)
        query = select(AuditRow).where(*conditions).order_by(AuditRow.id.desc()).limit(limit + 1)
        with self._read() as session:
            rows = [audit.to_event(row) for row in session.execute(query).scalars()]
        items = rows[:limit]
        return Page(items, encode_cursor(items[-1].id) if len(rows) > limit else None)

    def count_audit(
        self,
        *,
        user: str | None = None,
        object: str | None = None,
        command_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        """How many events `list_audit` pages through."""
        return self._count(AuditRow, _audit_conditions(user, object, command_id, since, until))

    def verify_chain(self) -> VerifyResult:
        """Recompute the whole chain in one consistent snapshot; names the first broken link."""
        engine = self.engine
        if engine.dialect.name == "postgresql":
            # One snapshot for the head and every batch, so appends during the check are not false alarms.
            engine = engine.execution_options(isolation_level="REPEATABLE READ")
        with Session(engine) as session, session.begin():
            return audit.verify(session)

    # -- metrics -----------------------------------------------------------------------------------

    def stats(self, now: datetime | None = None) -> StoreStats:
        """Counts by (status, type), age of the oldest waiting command, time of the last success."""
        now = now or self._now()
        with self._read() as session:
            counts = {
                (str(status), str(type_)): int(count)
                for status, type_, count in session.execute(
                    select(CommandRow.status, CommandRow.type, func.count()).group_by(
                        CommandRow.status, CommandRow.type
                    )
                )
            }
            oldest = session.execute(
                select(CommandRow.created_at)
                .where(CommandRow.status == Status.ACCEPTED.value)
                .order_by(CommandRow.created_at)
                .limit(1)
            ).scalar_one_or_none()
            last_success = session.execute(
                select(CommandRow.finished_at)
                .where(CommandRow.status == Status.SUCCEEDED.value)
                .order_by(CommandRow.finished_at.desc())
                .limit(1)
            ).scalar_one_or_none()
        return StoreStats(
            counts=counts,
            oldest_waiting_seconds=(now - oldest).total_seconds() if oldest is not None else None,
            last_success_at=last_success,
        )

    def attempt_outcomes(self, since: datetime) -> dict[tuple[str, str], int]:
        """(command type, outcome event) -> attempts that ended that way at or after `since`.

        Outcome events are the audit events that end an attempt (see `OUTCOME_EVENTS`); the audit trail
        is append-only, so these counts are exact whichever process wrote them.
        """
        query = (
            select(CommandRow.type, AuditRow.event, func.count())
            .join(CommandRow, CommandRow.id == AuditRow.command_id)
            .where(AuditRow.at >= since, AuditRow.event.in_([event.value for event in OUTCOME_EVENTS]))
            .group_by(CommandRow.type, AuditRow.event)
        )
        with self._read() as session:
            return {(str(type_), str(event)): int(count) for type_, event, count in session.execute(query)}

    def last_success_by_type(self) -> dict[str, datetime]:
        """Command type -> when its most recent command succeeded (types that never succeeded are absent)."""
        query = (
            select(CommandRow.type, func.max(CommandRow.finished_at))
            .where(CommandRow.status == Status.SUCCEEDED.value)
            .group_by(CommandRow.type)
        )
        with self._read() as session:
            return {str(type_): finished for type_, finished in session.execute(query) if finished is not None}
