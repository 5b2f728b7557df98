"""In-memory tables of tuples with key and secondary indexes, transactions, and an O(rows) reset."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from mock_sap.edm import EntityType

Row = tuple[object, ...]


class Table:
    """Rows of one entity set as tuples in property order.

    The pristine seed is kept untouched; `reset()` shallow-copies it (a list of references), so a
    reset of 100k orders takes milliseconds. Updates replace a row's tuple, inserts append.
    Secondary indexes are only kept for columns that never change after creation.
    """

    def __init__(self, entity_type: EntityType, index_columns: Sequence[str] = ()) -> None:
        self.entity_type = entity_type
        self.index_columns = tuple(index_columns)
        self._seed: list[Row] = []
        self._seed_keys: dict[tuple[object, ...], int] = {}
        self._seed_indexes: dict[str, dict[object, list[int]]] = {}
        self.rows: list[Row] = []
        self.keys: dict[tuple[object, ...], int] = {}
        self.indexes: dict[str, dict[object, list[int]]] = {}

    def load(self, rows: list[Row]) -> None:
        """Install seed rows (called once at start-up)."""
        self._seed = rows
        key_of = self.entity_type.key_of
        self._seed_keys = {key_of(row): i for i, row in enumerate(rows)}
        self._seed_indexes = {}
        for column in self.index_columns:
            position = self.entity_type.index[column]
            index: dict[object, list[int]] = {}
            for i, row in enumerate(rows):
                index.setdefault(row[position], []).append(i)
            self._seed_indexes[column] = index
        self.reset()

    def reset(self) -> None:
        self.rows = list(self._seed)
        self.keys = dict(self._seed_keys)
        # Index lists are copied lazily: only when an insert touches them (see _index_insert).
        self.indexes = {column: dict(index) for column, index in self._seed_indexes.items()}
        self._owned_lists: set[tuple[str, object]] = set()

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, key: tuple[object, ...]) -> Row | None:
        position = self.keys.get(key)
        return None if position is None else self.rows[position]

    def position(self, key: tuple[object, ...]) -> int | None:
        return self.keys.get(key)

    def lookup(self, column: str, value: object) -> list[Row] | None:
        """Rows whose indexed `column` equals `value`, or None when the column has no index."""
        index = self.indexes.get(column)
        if index is None:
            return None
        rows = self.rows
        return [rows[i] for i in index.get(value, ())]

    def replace(self, position: int, row: Row) -> Row:
        old = self.rows[position]
        self.rows[position] = row
        return old

    def insert(self, row: Row) -> int:
        key = self.entity_type.key_of(row)
        if key in self.keys:
            raise KeyError(key)
        position = len(self.rows)
        self.rows.append(row)
        self.keys[key] = position
        for column in self.index_columns:
            value = row[self.entity_type.index[column]]
            index = self.indexes[column]
            if (column, value) not in self._owned_lists:
                index[value] = list(index.get(value, ()))
                self._owned_lists.add((column, value))
            index[value].append(position)
        return position

    def truncate(self, length: int) -> None:
        """Undo inserts beyond `length` (transaction rollback)."""
        while len(self.rows) > length:
            row = self.rows.pop()
            position = len(self.rows)
            self.keys.pop(self.entity_type.key_of(row), None)
            for column in self.index_columns:
                entries = self.indexes[column].get(row[self.entity_type.index[column]])
                if entries and entries[-1] == position:
                    entries.pop()


class Store:
    """All tables of the mock behind one re-entrant lock; writes run in undoable transactions."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tables: dict[str, Table] = {}
        self._journal: list[list[tuple[Table, int, Row | None]]] = []
        # Per open transaction: what to run once it commits (business events); dropped on rollback.
        self._on_commit: list[list[Callable[[], None]]] = []

    def add(self, name: str, table: Table) -> Table:
        self.tables[name] = table
        return table

    def __getitem__(self, name: str) -> Table:
        return self.tables[name]

    def reset(self) -> None:
        with self.lock:
            for table in self.tables.values():
                table.reset()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Atomic unit (a write or a `$batch` changeset): on an exception every change is undone.

        Actions registered with `after_commit` run once the outermost transaction committed, outside the lock.
        """
        committed: list[Callable[[], None]] = []
        with self.lock:
            journal: list[tuple[Table, int, Row | None]] = []
            actions: list[Callable[[], None]] = []
            self._journal.append(journal)
            self._on_commit.append(actions)
            try:
                yield
            except BaseException:
                for table, position, old in reversed(journal):
                    if old is None:
                        table.truncate(position)
                    else:
                        table.rows[position] = old
                raise
            finally:
                self._journal.pop()
                self._on_commit.pop()
                if self._journal:  # nested: the outer transaction must be able to undo ours too
                    self._journal[-1].extend(journal)
            if self._on_commit:  # nested: only the outer commit makes our changes final
                self._on_commit[-1].extend(actions)
            else:
                committed = actions
        for action in committed:
            action()

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` when the current transaction commits (never if it rolls back); now if there is none."""
        with self.lock:
            if self._on_commit:
                self._on_commit[-1].append(action)
                return
        action()

    def update(self, table: Table, position: int, row: Row) -> None:
        with self.lock:
            old = table.replace(position, row)
            if self._journal:
                self._journal[-1].append((table, position, old))

    def insert(self, table: Table, row: Row) -> int:
        with self.lock:
            position = table.insert(row)
            if self._journal:
                self._journal[-1].append((table, position, None))
            return position
