"""Tables: copy-on-write reset, indexes, and transactions that roll back."""

from __future__ import annotations

import pytest

from mock_sap.edm import EntityType, string
from mock_sap.store import Store, Table

TYPE = EntityType("T", keys=("Id",), properties=[string("Id", 4, nullable=False), string("Group", 4)])


def make() -> tuple[Store, Table]:
    store = Store()
    table = store.add("T", Table(TYPE, ("Group",)))
    table.load([("1", "a"), ("2", "a"), ("3", "b")])
    return store, table


def test_insert_and_update_then_reset_restores_the_seed() -> None:
    store, table = make()
    store.insert(table, ("4", "a"))
    store.update(table, 0, ("1", "z"))
    assert [r[0] for r in table.lookup("Group", "a") or []] == ["1", "2", "4"]
    assert table.get(("1",)) == ("1", "z")
    store.reset()
    assert len(table) == 3
    assert table.get(("4",)) is None and table.get(("1",)) == ("1", "a")
    assert [r[0] for r in table.lookup("Group", "a") or []] == ["1", "2"]


def test_failed_transaction_rolls_back_every_change() -> None:
    store, table = make()
    with pytest.raises(RuntimeError), store.transaction():
        store.update(table, 1, ("2", "x"))
        store.insert(table, ("5", "b"))
        raise RuntimeError("boom")
    assert table.get(("2",)) == ("2", "a")
    assert table.get(("5",)) is None
    assert [r[0] for r in table.lookup("Group", "b") or []] == ["3"]


def test_duplicate_key_is_refused() -> None:
    store, table = make()
    with pytest.raises(KeyError):
        store.insert(table, ("1", "c"))
