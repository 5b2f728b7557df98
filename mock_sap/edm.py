"""The EDM model of a served service: the one source for `$metadata`, the JSON wire format and literals."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# Internal (stored) representation per EDM type, chosen to keep 100k-row tables small and fast:
#   Edm.String/Guid -> str, Edm.Boolean -> bool, Edm.Int* / Byte -> int,
#   Edm.Decimal -> int scaled by 10**Scale (exact, compact), Edm.Double -> float,
#   Edm.DateTime / DateTimeOffset -> int milliseconds since the epoch (UTC), Edm.Time -> int seconds.
INTEGER_TYPES = frozenset({"Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte", "Edm.SByte"})
NUMERIC_TYPES = INTEGER_TYPES | {"Edm.Decimal", "Edm.Double", "Edm.Single"}


class ValueError_(ValueError):
    """A value that does not fit its EDM type (becomes a 400 at the HTTP edge)."""


@dataclass(frozen=True)
class Property:
    """One structural property with the facets and sap: annotations SAP writes for it."""

    name: str
    type: str
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    nullable: bool = True
    label: str | None = None
    quickinfo: str | None = None
    unit: str | None = None
    display_format: str | None = None
    semantics: str | None = None
    text: str | None = None
    creatable: bool = True
    updatable: bool = True
    filterable: bool = True
    sortable: bool = True
    concurrency_fixed: bool = False
    emit_sap: bool = True  # SAP-generated services annotate; the TCM inbox model does not

    @property
    def factor(self) -> int:
        return int(10 ** (self.scale or 0))


@dataclass(frozen=True)
class NavigationProperty:
    """A navigation; `join` pairs (source property, target property) say how the mock finds targets."""

    name: str
    target: str  # entity type name
    to_many: bool
    association: str
    join: tuple[tuple[str, str], ...]
    reverse: bool = False  # True when this is the back-navigation of an association owned elsewhere
    from_role: str | None = None
    to_role: str | None = None


@dataclass
class EntityType:
    """An entity type; rows of its set are tuples in `properties` order."""

    name: str
    keys: tuple[str, ...]
    properties: list[Property]
    navigations: list[NavigationProperty] = field(default_factory=list)
    label: str | None = None
    emit_sap: bool = True

    def __post_init__(self) -> None:
        self.index = {p.name: i for i, p in enumerate(self.properties)}
        self.by_name = {p.name: p for p in self.properties}
        self.nav_by_name = {n.name: n for n in self.navigations}
        self.key_positions = tuple(self.index[k] for k in self.keys)
        etag = [p for p in self.properties if p.concurrency_fixed]
        self.etag_position: int | None = self.index[etag[0].name] if etag else None

    def key_of(self, row: tuple[object, ...]) -> tuple[object, ...]:
        return tuple(row[i] for i in self.key_positions)

    def default_row(self) -> list[object]:
        return [default_value(p) for p in self.properties]


@dataclass
class ComplexType:
    name: str
    properties: list[Property]


@dataclass(frozen=True)
class EntitySet:
    name: str
    entity_type: str
    creatable: bool = True
    updatable: bool = True
    deletable: bool = True
    pageable: bool = True
    addressable: bool = True
    label: str | None = None


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    nullable: bool | None = None
    label: str | None = None

    def as_property(self) -> Property:
        return Property(self.name, self.type, self.max_length, self.precision, self.scale)


@dataclass(frozen=True)
class FunctionImport:
    name: str
    return_type: str | None  # "Ns.Type" or "Collection(Ns.Type)" or None
    http_method: str
    parameters: tuple[Parameter, ...] = ()
    entity_set: str | None = None
    action_for: str | None = None
    label: str | None = None


@dataclass
class ServiceModel:
    """Everything `$metadata` describes for one service."""

    name: str
    namespace: str
    container: str
    entity_types: list[EntityType]
    entity_sets: list[EntitySet]
    complex_types: list[ComplexType] = field(default_factory=list)
    function_imports: list[FunctionImport] = field(default_factory=list)
    emit_sap: bool = True
    schema_version: str | None = "1"

    def __post_init__(self) -> None:
        self.types = {t.name: t for t in self.entity_types}
        self.sets = {s.name: s for s in self.entity_sets}
        self.complex = {c.name: c for c in self.complex_types}
        self.functions = {f.name: f for f in self.function_imports}
        self.set_of_type: dict[str, EntitySet] = {}
        for s in self.entity_sets:
            self.set_of_type.setdefault(s.entity_type, s)

    def type_of_set(self, set_name: str) -> EntityType:
        return self.types[self.sets[set_name].entity_type]

    def qualified(self, type_name: str) -> str:
        return f"{self.namespace}.{type_name}"


# ---------------------------------------------------------------------------------------------
# Short constructors so that service modules read like the real metadata.


def string(name: str, max_length: int | None = None, **kw: object) -> Property:
    return Property(name, "Edm.String", max_length=max_length, **kw)  # type: ignore[arg-type]


def flag(name: str, **kw: object) -> Property:
    """SAP's CHAR1 'X'/'' indicator."""
    return Property(name, "Edm.String", max_length=1, **kw)  # type: ignore[arg-type]


def decimal(name: str, precision: int, scale: int, **kw: object) -> Property:
    return Property(name, "Edm.Decimal", precision=precision, scale=scale, **kw)  # type: ignore[arg-type]


def date(name: str, **kw: object) -> Property:
    """Edm.DateTime Precision=0 with sap:display-format="Date" (a calendar date at midnight UTC)."""
    kw.setdefault("display_format", "Date")
    return Property(name, "Edm.DateTime", precision=0, **kw)  # type: ignore[arg-type]


def time(name: str, **kw: object) -> Property:
    return Property(name, "Edm.Time", precision=0, **kw)  # type: ignore[arg-type]


def boolean(name: str, **kw: object) -> Property:
    return Property(name, "Edm.Boolean", **kw)  # type: ignore[arg-type]


def typed(name: str, edm_type: str, **kw: object) -> Property:
    return Property(name, edm_type, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Values: internal <-> JSON wire format <-> URI literal.


def default_value(prop: Property) -> object:
    """The value a freshly created row gets: SAP's initial values, not null, for ABAP-backed fields."""
    if not prop.nullable:
        return "" if prop.type == "Edm.String" else None
    if prop.type == "Edm.String" and prop.emit_sap:
        return ""
    if prop.type == "Edm.Decimal" and prop.emit_sap:
        return 0
    if prop.type == "Edm.Boolean" and prop.emit_sap:
        return False
    return None


def ms_from_datetime(value: dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int((value - EPOCH).total_seconds() * 1000)


def ms_from_date(value: dt.date) -> int:
    return ms_from_datetime(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC))


def datetime_from_ms(ms: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=ms)


def format_decimal(scaled: int | Decimal, scale: int) -> str:
    if isinstance(scaled, Decimal):
        return str((scaled / (10**scale)).quantize(Decimal(1).scaleb(-scale)))
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(scale + 1, "0")
    if scale == 0:
        return sign + digits
    return f"{sign}{digits[:-scale]}.{digits[-scale:]}"


def scale_decimal(value: Decimal, prop: Property) -> int | Decimal:
    """A decimal in the property's internal scaled form; keeps extra digits exact (for comparisons)."""
    scaled = value * prop.factor
    return int(scaled) if scaled == scaled.to_integral_value() else scaled


def format_time(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"PT{hours:02d}H{minutes:02d}M{secs:02d}S"


_DURATION = re.compile(r"^-?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def parse_time(text: str) -> int:
    match = _DURATION.match(text)
    if not match or text in ("P", "PT"):
        raise ValueError_(f"'{text}' is not a valid Edm.Time value")
    days, hours, minutes, seconds = match.groups()
    total = int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)
    return int(total)


def to_json(prop: Property, value: object) -> object:
    """The verbose-JSON wire form of an internal value."""
    if value is None:
        return None
    kind = prop.type
    if kind in ("Edm.String", "Edm.Guid", "Edm.Boolean", "Edm.Int32", "Edm.Int16", "Edm.Byte", "Edm.SByte"):
        return value
    if kind == "Edm.Decimal":
        return format_decimal(value, prop.scale or 0)  # type: ignore[arg-type]
    if kind == "Edm.DateTime":
        return f"/Date({value})/"
    if kind == "Edm.DateTimeOffset":
        return f"/Date({value}+0000)/"
    if kind == "Edm.Time":
        return format_time(value)  # type: ignore[arg-type]
    if kind == "Edm.Int64":
        return str(value)
    if kind in ("Edm.Double", "Edm.Single"):
        return value
    return value


_JSON_DATE = re.compile(r"^/Date\((-?\d+)(?:([+-])(\d{4}))?\)/$")


def parse_iso_datetime(text: str) -> int:
    cleaned = text.strip()
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(cleaned)
    except ValueError as exc:
        raise ValueError_(f"'{text}' is not a valid date/time") from exc
    return ms_from_datetime(parsed)


def from_json(prop: Property, raw: object) -> object:
    """Parse a request payload value; raises ValueError_ when it does not fit the type or facets."""
    if raw is None:
        if not prop.nullable:
            raise ValueError_(f"Property '{prop.name}' must not be null")
        return None
    kind = prop.type
    try:
        if kind == "Edm.String":
            if not isinstance(raw, str):
                raise ValueError_(f"Property '{prop.name}' expects a string")
            if prop.max_length is not None and len(raw) > prop.max_length:
                raise ValueError_(f"Value of '{prop.name}' exceeds its maximum length {prop.max_length}")
            return raw
        if kind == "Edm.Boolean":
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in ("true", "false"):
                return raw.lower() == "true"
            raise ValueError_(f"Property '{prop.name}' expects a boolean")
        if kind in INTEGER_TYPES:
            if isinstance(raw, bool):
                raise ValueError_(f"Property '{prop.name}' expects an integer")
            return int(raw)  # type: ignore[call-overload]
        if kind == "Edm.Decimal":
            if isinstance(raw, bool):
                raise ValueError_(f"Property '{prop.name}' expects a decimal")
            number = Decimal(str(raw))
            return check_decimal(prop, number)
        if kind in ("Edm.Double", "Edm.Single"):
            return float(raw)  # type: ignore[arg-type]
        if kind in ("Edm.DateTime", "Edm.DateTimeOffset"):
            if not isinstance(raw, str):
                raise ValueError_(f"Property '{prop.name}' expects a date")
            match = _JSON_DATE.match(raw)
            if match:
                ms = int(match.group(1))
                if match.group(2):  # the offset is in minutes; the ticks are already UTC
                    pass
                return ms
            return parse_iso_datetime(raw)
        if kind == "Edm.Time":
            if not isinstance(raw, str):
                raise ValueError_(f"Property '{prop.name}' expects a duration like PT10H00M00S")
            return parse_time(raw)
        if kind == "Edm.Guid":
            return str(uuid.UUID(str(raw)))
    except (ArithmeticError, InvalidOperation, TypeError, ValueError) as exc:
        if isinstance(exc, ValueError_):
            raise
        raise ValueError_(f"Invalid value for property '{prop.name}' of type {kind}") from exc
    return raw


def check_decimal(prop: Property, number: Decimal) -> int:
    if not number.is_finite():
        raise ValueError_(f"Invalid value for property '{prop.name}'")
    scale = prop.scale or 0
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > scale and number != number.quantize(Decimal(1).scaleb(-scale)):
        raise ValueError_(f"Value of '{prop.name}' has more than {scale} decimal places")
    scaled = int((number * prop.factor).to_integral_value())
    if prop.precision is not None and abs(scaled) >= 10**prop.precision:
        raise ValueError_(f"Value of '{prop.name}' exceeds precision {prop.precision}")
    return scaled


_LITERAL_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^'((?:[^']|'')*)'$"), "Edm.String"),
    (re.compile(r"^datetime'([^']*)'$", re.I), "Edm.DateTime"),
    (re.compile(r"^datetimeoffset'([^']*)'$", re.I), "Edm.DateTimeOffset"),
    (re.compile(r"^time'([^']*)'$", re.I), "Edm.Time"),
    (re.compile(r"^guid'([^']*)'$", re.I), "Edm.Guid"),
    (re.compile(r"^X'([0-9A-Fa-f]*)'$"), "Edm.Binary"),
    (re.compile(r"^(-?\d+(?:\.\d+)?)[mM]$"), "Edm.Decimal"),
    (re.compile(r"^(-?\d+)[lL]$"), "Edm.Int64"),
    (re.compile(r"^(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)[dD]$"), "Edm.Double"),
    (re.compile(r"^(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)[fF]$"), "Edm.Single"),
    (re.compile(r"^(-?\d+)$"), "Edm.Int32"),
    (re.compile(r"^(-?\d+\.\d+)$"), "Edm.Decimal"),
    (re.compile(r"^(true|false)$", re.I), "Edm.Boolean"),
    (re.compile(r"^(null)$"), "Null"),
]


def parse_literal(text: str) -> tuple[str, object]:
    """Classify a URI literal and return (EDM type, canonical python value)."""
    for pattern, kind in _LITERAL_PATTERNS:
        match = pattern.match(text)
        if not match:
            continue
        body = match.group(1)
        if kind == "Edm.String":
            return kind, body.replace("''", "'")
        if kind in ("Edm.DateTime", "Edm.DateTimeOffset"):
            return kind, parse_iso_datetime(body)
        if kind == "Edm.Time":
            return kind, parse_time(body)
        if kind == "Edm.Guid":
            try:
                return kind, str(uuid.UUID(body))
            except ValueError as exc:
                raise ValueError_(f"'{text}' is not a valid GUID literal") from exc
        if kind == "Edm.Decimal":
            return kind, Decimal(body)
        if kind in ("Edm.Int64", "Edm.Int32"):
            return kind, int(body)
        if kind in ("Edm.Double", "Edm.Single"):
            return kind, float(body)
        if kind == "Edm.Boolean":
            return kind, body.lower() == "true"
        if kind == "Null":
            return kind, None
        return kind, body
    raise ValueError_(f"'{text}' is not a valid literal")


def coerce_literal(prop: Property, kind: str, value: object) -> object:
    """Convert a parsed literal to the internal form of `prop`; raise when the types are incompatible."""
    target = prop.type
    if kind == "Null":
        return None
    if target == "Edm.String":
        if kind == "Edm.String":
            return value
    elif target in ("Edm.DateTime", "Edm.DateTimeOffset"):
        if kind in ("Edm.DateTime", "Edm.DateTimeOffset"):
            return value
    elif target == "Edm.Time":
        if kind == "Edm.Time":
            return value
    elif target == "Edm.Guid":
        if kind == "Edm.Guid":
            return value
    elif target == "Edm.Boolean":
        if kind == "Edm.Boolean":
            return value
    elif target == "Edm.Decimal":
        if kind in NUMERIC_TYPES:
            return scale_decimal(Decimal(str(value)), prop)
    elif target in INTEGER_TYPES:
        if kind in INTEGER_TYPES:
            return value
        if kind == "Edm.Decimal" and Decimal(str(value)) == int(Decimal(str(value))):
            return int(Decimal(str(value)))
    elif target in ("Edm.Double", "Edm.Single"):
        if kind in NUMERIC_TYPES:
            return float(value)  # type: ignore[arg-type]
    raise ValueError_(f"Literal of type {kind} is not compatible with property '{prop.name}' ({target})")


def parameter_value(param: Parameter, text: str) -> object:
    """A function-import parameter from its URI literal, lenient like Gateway for decimals and times."""
    prop = param.as_property()
    if param.type == "Edm.Decimal" and re.match(r"^-?\d+(\.\d+)?$", text):
        # pyodata sends Edm.Decimal parameters without the M suffix (see the facts file); accept both.
        return scale_decimal(Decimal(text), prop)
    if param.type == "Edm.Time" and text.upper().startswith("PT"):
        return parse_time(text)
    kind, value = parse_literal(text)
    return coerce_literal(prop, kind, value)


def format_key_literal(prop: Property, value: object) -> str:
    """The URI literal for a key value (used in __metadata uri and __deferred links)."""
    if prop.type == "Edm.String":
        return "'" + str(value).replace("'", "''") + "'"
    if prop.type == "Edm.Guid":
        return f"guid'{value}'"
    if prop.type == "Edm.DateTime":
        return "datetime'" + datetime_from_ms(value).strftime("%Y-%m-%dT%H:%M:%S") + "'"  # type: ignore[arg-type]
    if prop.type == "Edm.Int64":
        return f"{value}L"
    return str(value)


def key_predicate(entity_type: EntityType, row: tuple[object, ...]) -> str:
    if len(entity_type.keys) == 1:
        prop = entity_type.by_name[entity_type.keys[0]]
        return format_key_literal(prop, row[entity_type.index[prop.name]])
    return ",".join(
        f"{name}={format_key_literal(entity_type.by_name[name], row[entity_type.index[name]])}"
        for name in entity_type.keys
    )


def navigation_targets(model: ServiceModel) -> Iterable[tuple[EntityType, NavigationProperty]]:
    for entity_type in model.entity_types:
        for nav in entity_type.navigations:
            yield entity_type, nav
