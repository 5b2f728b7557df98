"""Plant manager schemas: production orders with operations and status."""

from __future__ import annotations

import datetime as dt

import marshmallow as ma

from app.paging import PageArgsSchema, QueryInteger, page_schema, sort_field
from odata_clients.gateways.production_orders import (
    EXCEPTIONS,
    MAX_RELEASE_HORIZON_DAYS,
    RELEASE_HORIZON_DAYS,
    SORT_FIELDS,
    STATUS_FILTERS,
)
from roles.badges import time_zone_field
from roles.common import (
    INSTANT_RANGE,
    CleanText,
    Instant,
    QuantitySchema,
    StrictSchema,
    date_field,
    datetime_field,
)

EARLIEST_PLAN = dt.date(2000, 1, 1)
LATEST_PLAN = dt.date(2099, 12, 31)
DEFAULT_ORDER_SORT = ("order_id",)

EXCEPTION_RULES = (
    "Only the orders one badge of `/production-orders/counts` counts, by the same rule (SAP filters them): "
    "late_to_start: not released, planned start before today; "
    "late_to_finish: not delivered, planned end before today; "
    "due_for_release: not released, planned start from today to today + `due_within_days` - 1; "
    "missing_components: a component still to be issued that SAP's availability check did not confirm in full; "
    "in_progress: released, neither finally confirmed nor delivered. "
    "Each leaves out orders technically completed, closed or marked for deletion. Today is the calendar day in `tz`"
)


def due_within_days_field(**kwargs: object) -> QueryInteger:
    return QueryInteger(
        validate=ma.validate.Range(
            min=1,
            max=MAX_RELEASE_HORIZON_DAYS,
            error=f"must be between 1 and {MAX_RELEASE_HORIZON_DAYS} days",
        ),
        metadata={
            "description": f"The release window of due_for_release in days, today included "
            f"(1 to {MAX_RELEASE_HORIZON_DAYS}, default {RELEASE_HORIZON_DAYS}: today and the 6 days after)",
            "example": 14,
        },
        **kwargs,  # type: ignore[arg-type]
    )


class ProductionOrderQueryArgsSchema(PageArgsSchema):
    plant = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=4)),
        metadata={"description": "Narrow to some of the caller's plants (default: all of them)"},
    )
    status = ma.fields.String(validate=ma.validate.OneOf(sorted(STATUS_FILTERS)))
    material = ma.fields.String(validate=[ma.validate.Length(min=1, max=40), CleanText(40, multiline=False)])
    start_from = ma.fields.Date(metadata={"description": "Planned start on or after (ISO date)"})
    start_to = ma.fields.Date(metadata={"description": "Planned start on or before (ISO date)"})
    changed_since = Instant(
        metadata={
            "description": "Only orders SAP changed at or after this instant (ISO 8601, UTC if no offset), "
            + INSTANT_RANGE
        }
    )
    sort = sort_field(
        SORT_FIELDS,
        DEFAULT_ORDER_SORT,
        "order_id: order number; planned_start / planned_end: planned dates; material; plant; last_changed: "
        "SAP's last change",
    )
    exception = ma.fields.String(
        validate=ma.validate.OneOf(EXCEPTIONS, error="must be one of: {choices}"),
        metadata={"description": EXCEPTION_RULES, "example": "late_to_start"},
    )
    due_within_days = due_within_days_field()
    tz = time_zone_field()

    @ma.validates_schema
    def _dates_in_order(self, data: dict[str, object], **_: object) -> None:
        start_from, start_to = data.get("start_from"), data.get("start_to")
        if start_from and start_to and start_from > start_to:  # type: ignore[operator]
            raise ma.ValidationError("start_from must not be after start_to", "start_from")

    @ma.validates_schema
    def _window_with_due_for_release(self, data: dict[str, object], **_: object) -> None:
        if "due_within_days" in data and data.get("exception") != "due_for_release":
            raise ma.ValidationError("due_within_days goes with exception=due_for_release only", "due_within_days")


class OrderStatusSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"example": "I0002"})
    short_name = ma.fields.String(required=True, metadata={"example": "REL"})
    name = ma.fields.String(required=True, metadata={"example": "Released"})
    is_user_status = ma.fields.Boolean(required=True)
    text = ma.fields.String(
        required=True,
        metadata={
            "description": "The status in words: SAP's name (in the language asked for) unless it only repeats "
            "the abbreviation, else ours",
            "example": "Released",
        },
    )


class MainStatusSchema(ma.Schema):
    code = ma.fields.String(
        required=True,
        attribute="short_name",
        metadata={
            "description": "SAP's abbreviation of the order's main system status, as SAP shows it in English: "
            "CRTD, PREL, REL, PCNF, CNF, DLV, TECO, CLSD or DLFL",
            "example": "REL",
        },
    )
    text = ma.fields.String(
        required=True, metadata={"description": "The same status in plain words", "example": "Released"}
    )


class OperationSchema(ma.Schema):
    operation = ma.fields.String(required=True, metadata={"example": "0010"})
    text = ma.fields.String(required=True, metadata={"example": "Assemble housing"})
    work_center = ma.fields.String(required=True, metadata={"example": "ASSY1010"})
    planned_quantity = ma.fields.Nested(QuantitySchema, required=True)
    confirmed_yield = ma.fields.Nested(QuantitySchema, required=True)
    quantity_to_go = ma.fields.Nested(QuantitySchema, required=True)
    earliest_start = date_field("Earliest scheduled start")
    earliest_end = date_field("Earliest scheduled end")
    is_released = ma.fields.Boolean(required=True)
    is_confirmed = ma.fields.Boolean(required=True)
    is_partially_confirmed = ma.fields.Boolean(required=True)


class ProductionOrderSchema(ma.Schema):
    order_id = ma.fields.String(required=True, metadata={"example": "1000123"})
    order_type = ma.fields.String(required=True, metadata={"example": "PP01"})
    material = ma.fields.String(required=True, metadata={"example": "FG-1000"})
    plant = ma.fields.String(required=True, metadata={"example": "1010"})
    planned_quantity = ma.fields.Nested(QuantitySchema, required=True)
    confirmed_yield = ma.fields.Nested(QuantitySchema, allow_none=True)
    planned_start = date_field("Planned start date")
    planned_end = date_field("Planned end date")
    is_released = ma.fields.Boolean(required=True)
    is_partially_confirmed = ma.fields.Boolean(required=True)
    is_confirmed = ma.fields.Boolean(required=True)
    is_technically_completed = ma.fields.Boolean(required=True)
    is_locked = ma.fields.Boolean(required=True)
    status = ma.fields.Nested(
        MainStatusSchema,
        required=True,
        metadata={
            "description": "Where the order stands: its main system status, the first of its SAP flags in "
            "SAP's precedence: DLFL (marked for deletion) > CLSD > TECO > DLV > CNF > PCNF > REL > PREL > CRTD"
        },
    )
    last_changed = datetime_field("When SAP last changed the order")
    sap_etag = ma.fields.String(
        allow_none=True,
        attribute="etag",
        metadata={"description": "Send as If-Match to reschedule; SAP refuses a stale one"},
    )


ProductionOrderPageSchema = page_schema(ProductionOrderSchema, "ProductionOrderPage")


def _quantity(description: str) -> ma.fields.Nested:
    return ma.fields.Nested(QuantitySchema, required=True, metadata={"description": description})


class MissingComponentSchema(ma.Schema):
    material = ma.fields.String(required=True, metadata={"description": "The component", "example": "RM-BOLT-M8"})
    reservation = ma.fields.String(
        required=True,
        metadata={
            "description": "SAP's Reservation: the number the order's components are reserved under",
            "example": "0000004711",
        },
    )
    reservation_item = ma.fields.String(
        required=True,
        metadata={"description": "SAP's ReservationItem: this component within the reservation", "example": "0002"},
    )
    reservation_record_type = ma.fields.String(
        required=True,
        metadata={"description": "SAP's ReservationRecordType, the key's last part (mostly empty)", "example": ""},
    )
    plant = ma.fields.String(
        required=True, metadata={"description": "SAP's Plant: where the component is drawn from", "example": "1010"}
    )
    storage_location = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Where it is drawn from in the plant; null when SAP names none", "example": "0001"},
    )
    required_quantity = _quantity("SAP's RequiredQuantity: what the order needs in all, in the base unit")
    withdrawn_quantity = _quantity("SAP's WithdrawnQuantity: what has been issued to the order so far")
    confirmed_available_quantity = _quantity(
        "SAP's ConfirmedAvailableQuantity: what the availability check confirmed of what is still to be issued"
    )
    missing_quantity = _quantity("Still missing: required minus withdrawn minus confirmed; always more than zero here")
    requirement_date = date_field("SAP's MatlCompRequirementDate: when the order needs the component")


class ProductionOrderDetailSchema(ProductionOrderSchema):
    planned_scrap = ma.fields.Nested(QuantitySchema, allow_none=True)
    planned_start_time = ma.fields.String(allow_none=True, metadata={"example": "06:00:00"})
    planned_end_time = ma.fields.String(allow_none=True, metadata={"example": "14:00:00"})
    scheduled_start = date_field("Scheduled start date")
    scheduled_end = date_field("Scheduled end date")
    mrp_controller = ma.fields.String(required=True, metadata={"example": "001"})
    production_supervisor = ma.fields.String(required=True, metadata={"example": "002"})
    operations = ma.fields.List(ma.fields.Nested(OperationSchema), required=True)
    statuses = ma.fields.List(ma.fields.Nested(OrderStatusSchema), required=True)
    missing_components = ma.fields.List(
        ma.fields.Nested(MissingComponentSchema),
        required=True,
        metadata={
            "description": "The order's components that miss a part, by the rule of the missing_components "
            "exception: still to be issued (not finally issued, not deleted) and more still needed (required "
            "minus withdrawn) than SAP's availability check confirmed. In SAP's reservation order; empty when "
            "none does"
        },
    )


def _plausible_date(value: dt.date) -> None:
    # SAP would take 0001-01-01; a plan outside this window is a typo, not a schedule.
    if not EARLIEST_PLAN <= value <= LATEST_PLAN:
        raise ma.ValidationError(f"must be between {EARLIEST_PLAN} and {LATEST_PLAN}")


def _plan_date(description: str, example: str) -> ma.fields.Date:
    return ma.fields.Date(
        validate=_plausible_date,
        error_messages={"invalid": "not an ISO date (YYYY-MM-DD, e.g. 2026-12-01)"},
        metadata={"description": f"{description} (ISO date, {EARLIEST_PLAN} to {LATEST_PLAN})", "example": example},
    )


class RescheduleSchema(StrictSchema):
    planned_start = _plan_date("New planned start", "2026-12-01")
    planned_end = _plan_date("New planned end", "2026-12-03")
