"""The compiled response dump returns exactly what marshmallow's Schema.dump returns."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any

import marshmallow as ma
import pytest
from flask import Flask

from app.response_dump import compile_dump, schema_dump
from odata_clients.models import Quantity
from roles.common import QuantitySchema
from roles.plant_manager.schemas import ProductionOrderPageSchema


@dataclasses.dataclass
class Item:
    name: Any
    flag: Any
    count: Any
    amount: Any
    tags: Any
    child: Any
    children: Any
    extra: Any = "kept"


class ChildSchema(ma.Schema):
    label = ma.fields.String(attribute="name")


class ItemSchema(ma.Schema):
    name = ma.fields.String()
    flag = ma.fields.Boolean()
    count = ma.fields.Integer(allow_none=True)
    amount = ma.fields.Decimal(as_string=True)
    tags = ma.fields.List(ma.fields.String())
    child = ma.fields.Nested(ChildSchema, allow_none=True)
    children = ma.fields.List(ma.fields.Nested(ChildSchema))
    renamed = ma.fields.String(attribute="extra", data_key="other")
    computed = ma.fields.Function(lambda obj: f"f:{ma.utils.get_value(obj, 'name')}")
    missing_attr = ma.fields.String()  # not on the object: left out, as marshmallow does
    defaulted = ma.fields.String(dump_default="d")
    raw = ma.fields.Raw(attribute="extra", dump_only=True)  # a kind marshmallow dumps itself


def items() -> list[Any]:
    child = Item("c", True, 1, Decimal("1"), [], None, [])
    return [
        Item("a", True, 3, Decimal("10.500"), ["x", "y"], child, [child, child]),
        Item(None, None, None, None, None, None, None, extra=None),
        Item(7, 1, True, Decimal("1E+3"), [1, None], {"name": "d"}, []),
        {"name": "m", "flag": False, "count": 0, "amount": Decimal("0.000"), "tags": [], "child": None, "children": []},
    ]


def as_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, default=repr)


@pytest.mark.parametrize("obj", items())
def test_compiled_dump_equals_marshmallow(obj: Any) -> None:
    schema = ItemSchema()
    assert as_json(compile_dump(schema)(obj)) == as_json(schema.dump(obj))


def test_many_schema_and_hooks_fall_back_to_marshmallow() -> None:
    class Hooked(ma.Schema):
        name = ma.fields.String()

        @ma.post_dump
        def shout(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
            return {"name": str(data["name"]).upper()}

    assert compile_dump(Hooked())({"name": "x"}) == {"name": "X"}
    many = ItemSchema(many=True)
    assert as_json(compile_dump(many)(items())) == as_json(many.dump(items()))


def test_real_response_schemas() -> None:
    quantity = Quantity(Decimal("12.000"), "PC")
    assert compile_dump(QuantitySchema())(quantity) == {"value": "12.000", "unit": "PC"}
    page = {"items": [{"order_id": "1", "planned_quantity": quantity, "confirmed_yield": None}], "next_cursor": None}
    assert as_json(compile_dump(ProductionOrderPageSchema())(page)) == as_json(ProductionOrderPageSchema().dump(page))
    # Every response the test suite sees is compared as well (VERIFY_RESPONSE_DUMP, tests/conftest.py).


def test_verify_mode_catches_a_difference() -> None:
    app = Flask(__name__)
    app.config["VERIFY_RESPONSE_DUMP"] = True
    schema = ItemSchema()
    dump = schema_dump(schema)
    with app.app_context():
        assert dump({"name": "ok"})["name"] == "ok"
        schema.dump_fields["name"].attribute = "flag"  # the plan was compiled for `name`: now they differ
        with pytest.raises(AssertionError, match="compiled dump of ItemSchema differs"):
            dump({"name": "ok", "flag": "other"})
