"""Response bodies from canonical objects in one pass: a marshmallow schema's dump, planned once per schema.

The schemas stay the single description of every response (OpenAPI is generated from them). What changes is
how a response is dumped: `Schema.dump` walks every field through several generic layers per value, which for
a page of 200 orders costs more than reading them from SAP. `compile_dump(schema)` plans the walk once: for the
field kinds that carry our data (String, Boolean, Integer, Decimal as a string, Nested, List) it reads the
attribute and formats the value directly; every other field (and any schema with dump hooks or its own
`get_attribute`) is dumped by marshmallow itself, field by field, exactly as `Schema.dump` would.
tests/unit/app/test_response_dump.py and the whole test suite (it runs with VERIFY_RESPONSE_DUMP=1: every
response is dumped both ways and compared) hold the two to the same output.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import marshmallow as ma
from flask import current_app
from marshmallow import missing

Dump = Callable[[Any], Any]
# (value, attribute name, object) -> the dumped value, as Field._serialize takes them
Format = Callable[[Any, str, Any], Any]


def schema_dump(schema: ma.Schema) -> Callable[..., Any]:
    """A drop-in for `schema.dump` that uses the compiled plan; with the app's VERIFY_RESPONSE_DUMP (the test
    suite sets it) it also dumps through marshmallow and fails loudly when the two differ."""
    fast = compile_dump(schema)
    marshmallow_dump = type(schema).dump.__get__(schema)

    def dump(obj: Any, *, many: bool | None = None) -> Any:
        if many is not None and bool(many) != schema.many:
            return marshmallow_dump(obj, many=many)
        result = fast(obj)
        if current_app.config.get("VERIFY_RESPONSE_DUMP"):
            expected = marshmallow_dump(obj)
            if _json(result) != _json(expected):
                raise AssertionError(f"compiled dump of {type(schema).__name__} differs: {result!r} != {expected!r}")
        return result

    return dump


def _json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, default=repr)


def compile_dump(schema: ma.Schema) -> Dump:
    """A function returning what `schema.dump(obj)` returns (a list for a `many` schema)."""
    one = _compile_one(schema)
    if schema.many:
        return lambda objs: None if objs is None else [one(obj) for obj in objs]
    return one


def _compile_one(schema: ma.Schema) -> Dump:
    if schema._hooks[ma.decorators.PRE_DUMP] or schema._hooks[ma.decorators.POST_DUMP]:
        return lambda obj: schema.dump(obj, many=False)
    plain_accessor = type(schema).get_attribute is ma.Schema.get_attribute
    steps: list[tuple[str, str, Format | None, ma.fields.Field[Any]]] = []
    for name, field in schema.dump_fields.items():
        key = field.data_key if field.data_key is not None else name
        attribute = field.attribute if field.attribute is not None else name
        direct = (
            plain_accessor
            and field._CHECK_ATTRIBUTE
            and field.dump_default is missing
            and "." not in attribute
            and _formatter(field) is not None
        )
        steps.append((key, attribute if direct else name, _formatter(field) if direct else None, field))

    def dump_one(obj: Any) -> dict[str, Any]:
        result: dict[str, Any] = {}
        mapping = isinstance(obj, dict)
        for key, attribute, format_value, field in steps:
            if format_value is None:  # marshmallow's own path for this field
                value = field.serialize(attribute, obj, accessor=schema.get_attribute)
                if value is not missing:
                    result[key] = value
                continue
            value = obj.get(attribute, missing) if mapping else getattr(obj, attribute, missing)
            if value is not missing:
                result[key] = format_value(value, attribute, obj)
        return result

    return dump_one


_PLAIN: dict[type, type] = {ma.fields.String: str, ma.fields.Boolean: bool, ma.fields.Integer: int}


def _formatter(field: ma.fields.Field[Any]) -> Format | None:
    """How to format a value of `field` directly; None when marshmallow must do it."""
    kind = type(field)
    plain = _PLAIN.get(kind)
    if plain is not None and not getattr(field, "as_string", False):

        def as_is(value: Any, attr: str, obj: Any) -> Any:
            # A value already of the field's type dumps as itself; anything else the field's own way.
            return value if value is None or type(value) is plain else field._serialize(value, attr, obj)

        return as_is
    if kind is ma.fields.Decimal and field.as_string and field.places is None:  # type: ignore[attr-defined]
        return lambda value, attr, obj: (
            format(value, "f") if type(value) is Decimal and value.is_finite() else field._serialize(value, attr, obj)
        )
    if kind is ma.fields.Nested:
        nested: ma.fields.Nested = field  # type: ignore[assignment]
        many = bool(nested.many or nested.schema.many)
        inner = _compile_one(nested.schema)
        if many:
            return lambda value, attr, obj: None if value is None else [inner(item) for item in value]
        return lambda value, attr, obj: None if value is None else inner(value)
    if kind is ma.fields.List:
        element = _formatter(field.inner)  # type: ignore[attr-defined]
        if element is None:
            return None
        return lambda value, attr, obj: None if value is None else [element(item, attr, obj) for item in value]
    return None
