"""Responses written by orjson hold the same JSON as Flask's own provider would write."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from decimal import Decimal

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from app.json_provider import FastJSONProvider


@dataclasses.dataclass
class Point:
    x: int


def test_same_json_as_flask_writes() -> None:
    app = Flask(__name__)
    ours, flasks = FastJSONProvider(app), DefaultJSONProvider(app)
    flasks.sort_keys = False
    data = {
        "text": "Grüße, 工場 🏭",
        "when": dt.datetime(2026, 11, 29, 8, 30, tzinfo=dt.UTC),
        "day": dt.date(2026, 11, 29),
        "amount": Decimal("12.500"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "point": Point(3),
        "nested": [{"b": 1, "a": None, "flag": True}],
        1: "int key",
    }
    with app.app_context():
        fast, standard = ours.response(data), flasks.response(data)
    assert fast.mimetype == standard.mimetype == "application/json"
    assert fast.get_data().endswith(b"\n")
    assert json.loads(fast.get_data()) == json.loads(standard.get_data())
    assert list(json.loads(fast.get_data())) == list(json.loads(standard.get_data()))  # key order kept


def test_debug_mode_keeps_flasks_indented_output() -> None:
    app = Flask(__name__)
    app.debug = True
    with app.app_context():
        assert b'\n  "a": 1' in FastJSONProvider(app).response({"a": 1}).get_data()
