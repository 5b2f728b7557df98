"""What every served SAP service provides to the protocol layer, with table-backed defaults."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from mock_sap.edm import EntityType, FunctionImport, NavigationProperty, ServiceModel
from mock_sap.errors import ODataError, ServiceInfo, bad_request, method_not_allowed
from mock_sap.events import EventPublisher
from mock_sap.store import Row, Store, Table

log = logging.getLogger("mock_sap")


@dataclass
class Context:
    """Per-request facts a service needs: who calls, the clock, and where to put `sap-message`s."""

    user: str
    now: dt.datetime
    messages: list[dict[str, str]] = field(default_factory=list)

    def message(self, code: str, text: str, severity: str = "success", target: str = "") -> None:
        self.messages.append({"code": code, "message": text, "severity": severity, "target": target})

    @property
    def today_ms(self) -> int:
        midnight = dt.datetime(self.now.year, self.now.month, self.now.day, tzinfo=dt.UTC)
        return int(midnight.timestamp() * 1000)

    @property
    def seconds_of_day(self) -> int:
        return self.now.hour * 3600 + self.now.minute * 60 + self.now.second


@dataclass
class FunctionResult:
    """A function import's answer: entity rows of `entity_set`, complex values, or nothing (204)."""

    entity_set: str | None = None
    rows: list[Row] | None = None
    complex_values: list[dict[str, object]] | None = None
    single: bool = True


class Service:
    """A service backed by tables; subclasses add business rules through the hooks below."""

    name: str
    path: str
    model: ServiceModel
    info: ServiceInfo

    def __init__(self, store: Store) -> None:
        self.store = store
        self.tables: dict[str, Table] = {}
        self.events: EventPublisher | None = None  # set by the app: where business events go

    # -- reads --------------------------------------------------------------------------------
    def collection(self, set_name: str, ctx: Context) -> Sequence[Row]:
        return self.tables[set_name].rows

    def index_lookup(self, set_name: str, ctx: Context):  # type: ignore[no-untyped-def]
        """A `(column, value) -> rows | None` function for indexed equality filters, or None."""
        table = self.tables.get(set_name)
        return table.lookup if table is not None and table.index_columns else None

    def get(self, set_name: str, key: tuple[object, ...], ctx: Context) -> Row | None:
        return self.tables[set_name].get(key)

    def navigate(self, source: EntityType, row: Row, nav: NavigationProperty, ctx: Context) -> tuple[str, list[Row]]:
        """Target set name and rows reached from `row` over `nav` (a to-one yields at most one row)."""
        target_set = self.model.set_of_type[nav.target].name
        target_type = self.model.types[nav.target]
        wanted = {target: row[source.index[src]] for src, target in nav.join}
        if set(wanted) == set(target_type.keys):
            found = self.get(target_set, tuple(wanted[k] for k in target_type.keys), ctx)
            return target_set, [found] if found is not None else []
        lookup = self.index_lookup(target_set, ctx)
        candidates: Sequence[Row] | None = None
        if lookup is not None:
            for column, value in wanted.items():
                candidates = lookup(column, value)
                if candidates is not None:
                    break
        if candidates is None:
            candidates = self.collection(target_set, ctx)
        positions = [(target_type.index[c], v) for c, v in wanted.items()]
        return target_set, [r for r in candidates if all(r[p] == v for p, v in positions)]

    # -- writes -------------------------------------------------------------------------------
    def create(
        self, set_name: str, values: dict[str, object], deep: dict[str, list[dict[str, object]]], ctx: Context
    ) -> Row:
        raise method_not_allowed("POST", set_name)

    def update(self, set_name: str, row: Row, changes: dict[str, object], ctx: Context) -> Row:
        raise method_not_allowed("PATCH", set_name)

    def delete(self, set_name: str, row: Row, ctx: Context) -> None:
        raise method_not_allowed("DELETE", set_name)

    def call(self, function: FunctionImport, params: dict[str, object], ctx: Context) -> FunctionResult:
        raise bad_request(f"Function import '{function.name}' is not implemented", code="/IWBEP/CM_MGW_RT/021")

    def locked_target(self, set_name: str | None, function: str | None) -> bool:
        """Whether a write here touches an order (so the `locked` fault answers 423)."""
        return True

    # -- helpers for subclasses ---------------------------------------------------------------
    def emit(self, event_type: str, data: dict[str, object]) -> None:
        """Publish a business event once the change commits: never for a write that fails or rolls back."""
        events = self.events
        if events is None:
            return

        def publish() -> None:
            try:
                events.publish(event_type, data)
            except Exception:  # the change is committed: its answer must not fail because of an event
                log.exception("publishing %s failed", event_type)

        self.store.after_commit(publish)

    def replace_row(self, set_name: str, row: Row, **changes: object) -> Row:
        table = self.tables[set_name]
        position = table.position(table.entity_type.key_of(row))
        if position is None:
            raise ODataError(404, "/IWBEP/CM_MGW_RT/020", f"Resource not found for segment '{set_name}'")
        current = list(table.rows[position])
        index = table.entity_type.index
        for name, value in changes.items():
            current[index[name]] = value
        new = tuple(current)
        self.store.update(table, position, new)
        return new

    def insert_row(self, set_name: str, values: dict[str, object]) -> Row:
        table = self.tables[set_name]
        row = table.entity_type.default_row()
        index = table.entity_type.index
        for name, value in values.items():
            row[index[name]] = value
        new = tuple(row)
        try:
            self.store.insert(table, new)
        except KeyError:
            raise ODataError(400, "/IWBEP/CM_MGW_RT/025", "An entity with this key already exists") from None
        return new

    def value(self, set_name: str, row: Row, name: str) -> object:
        return row[self.tables[set_name].entity_type.index[name]]


def last_change_stamp(now: dt.datetime, previous: object = None) -> str:
    """SAP's 14-digit LastChangeDateTime; strictly increasing so every change gives a new ETag."""
    stamp = now.strftime("%Y%m%d%H%M%S")
    if isinstance(previous, str) and previous and stamp <= previous:
        bumped = dt.datetime.strptime(previous, "%Y%m%d%H%M%S") + dt.timedelta(seconds=1)
        stamp = bumped.strftime("%Y%m%d%H%M%S")
    return stamp
