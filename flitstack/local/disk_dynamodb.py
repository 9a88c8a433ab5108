"""moto's DynamoDB with its items on disk: one SQLite file per engine state directory (D-045).

moto stays the one endpoint (its request parsing, expression engine, error shapes and
TransactWriteItems); only where a table keeps its items changes. moto 5.2.5's ``Table`` holds
them in ``self.items`` (hash -> {range -> Item}) in the heap, and its Query and Scan sort the
whole table for every page. :class:`DiskTable` keeps them in SQLite instead, keyed by
``(table, hash, range)`` in key order, and answers a base-table Query or a Scan with a range scan
from the page's ExclusiveStartKey (linear per page, nothing per item held in memory).

Order: every key of ours is a string (``S``). DynamoDB orders strings by their UTF-8 bytes, and
the keys are stored as their UTF-8 bytes in BLOB columns, which SQLite compares with ``memcmp``:
the same order. A table with a number or binary key keeps moto's in-memory storage (a warning is
logged), so nothing is ever mis-ordered.

Installed by :class:`flitstack.local.engine.LocalEngine` (``install(path)`` on start,
``uninstall()`` on stop) by rebinding the ``Table`` class moto's backend instantiates and wrapping
the backend's ``update_item`` (moto updates the item object ``get_item`` returned, in place: here
that object is a copy read from disk, so it is written back), ``transact_write_items`` (an SQLite
transaction instead of a deep copy of every table it touches) and ``delete_table``.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import moto.dynamodb.models as ddb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, Table
from moto.dynamodb.responses import DynamoHandler

LOG = logging.getLogger(__name__)

#: The one SQLite file of a state directory.
FILE_NAME = "dynamodb.sqlite"
#: Rows read per SQL statement while a page is filled (a page stops at its Limit or at 1 MB).
CHUNK = 256
_SUPPORTED_KEY_TYPES = {"S"}
_NO_RANGE = b""  # the range column of a hash-only table (a DynamoDB key is never empty)


class DiskStore:
    """The SQLite file: ``items(tbl, h, r, item)``; one connection behind one re-entrant lock
    (moto's server answers requests in threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._depth = 0
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS items (tbl TEXT NOT NULL, h BLOB NOT NULL, r BLOB NOT NULL, "
                           "item TEXT NOT NULL, PRIMARY KEY (tbl, h, r)) WITHOUT ROWID")

    def close(self) -> None:
        with self.lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all (nested calls join the outer one)."""
        with self.lock:
            if self._depth == 0:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                self._conn.execute("COMMIT")

    def put(self, tbl: str, h: bytes, r: bytes, item: str) -> None:
        with self.lock:
            self._conn.execute("INSERT OR REPLACE INTO items (tbl, h, r, item) VALUES (?, ?, ?, ?)", (tbl, h, r, item))

    def get(self, tbl: str, h: bytes, r: bytes) -> str | None:
        with self.lock:
            row = self._conn.execute("SELECT item FROM items WHERE tbl = ? AND h = ? AND r = ?", (tbl, h, r)).fetchone()
        return None if row is None else str(row[0])

    def delete(self, tbl: str, h: bytes, r: bytes) -> str | None:
        with self.lock:
            row = self._conn.execute("DELETE FROM items WHERE tbl = ? AND h = ? AND r = ? RETURNING item",
                                     (tbl, h, r)).fetchone()
        return None if row is None else str(row[0])

    def count(self, tbl: str) -> int:
        with self.lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM items WHERE tbl = ?", (tbl,)).fetchone()[0])

    def drop(self, tbl: str) -> None:
        with self.lock:
            self._conn.execute("DELETE FROM items WHERE tbl = ?", (tbl,))

    def partition(self, tbl: str, h: bytes, *, lower: tuple[bytes, bool] | None = None,
                  upper: tuple[bytes, bool] | None = None, forward: bool = True) -> Iterator[str]:
        """One partition's items in range order (``forward``) or reversed, within the bounds
        ``(value, inclusive)``; read ``CHUNK`` rows per statement, each from where the last one ended."""
        while True:
            where, args = ["tbl = ?", "h = ?"], [tbl, h]
            for bound, less in ((lower, False), (upper, True)):
                if bound is not None:
                    where.append(f"r {'<' if less else '>'}{'=' if bound[1] else ''} ?")
                    args.append(bound[0])
            # (only fixed fragments are formatted in; every value is a parameter)
            sql = (f"SELECT r, item FROM items WHERE {' AND '.join(where)} "  # noqa: S608
                   f"ORDER BY r {'ASC' if forward else 'DESC'} LIMIT {CHUNK}")
            with self.lock:
                rows = self._conn.execute(sql, args).fetchall()
            for _, item in rows:
                yield str(item)
            if len(rows) < CHUNK:
                return
            last = bytes(rows[-1][0])
            if forward:
                lower = (last, False)
            else:
                upper = (last, False)

    def table(self, tbl: str, after: tuple[bytes, bytes] | None = None) -> Iterator[str]:
        """A table's items in (hash, range) order, after the key ``after`` if given (chunked as above)."""
        while True:
            if after is None:
                sql, args = "SELECT h, r, item FROM items WHERE tbl = ? ORDER BY h, r LIMIT ?", [tbl, CHUNK]
            else:
                sql = "SELECT h, r, item FROM items WHERE tbl = ? AND (h, r) > (?, ?) ORDER BY h, r LIMIT ?"
                args = [tbl, after[0], after[1], CHUNK]
            with self.lock:
                rows = self._conn.execute(sql, args).fetchall()
            for _, _, item in rows:
                yield str(item)
            if len(rows) < CHUNK:
                return
            after = (bytes(rows[-1][0]), bytes(rows[-1][1]))


# -- items <-> text -------------------------------------------------------------------------------
def _plain(value: DynamoType) -> dict[str, Any]:
    """DynamoDB JSON of one attribute value exactly as moto holds it (a binary is base64 text or bytes)."""
    if value.is_list():
        return {value.type: [_plain(v) for v in value.value]}
    if value.is_map():
        return {value.type: {k: _plain(v) for k, v in value.value.items()}}
    if isinstance(value.value, bytes):
        return {value.type: {_BYTES: base64.b64encode(value.value).decode()}}
    if isinstance(value.value, list) and any(isinstance(v, bytes) for v in value.value):  # a binary set
        return {value.type: [{_BYTES: base64.b64encode(v).decode()} if isinstance(v, bytes) else v
                             for v in value.value]}
    return {value.type: value.value}


_BYTES = "$bytes"  # marks bytes in the stored JSON (never a DynamoDB type name)


def _unmark(v: Any) -> Any:
    return base64.b64decode(v[_BYTES]) if isinstance(v, dict) else v


def _restore(value: dict[str, Any]) -> dict[str, Any]:
    """Undo :func:`_plain`'s marking of bytes in one typed value (type-directed: a map's keys are data)."""
    (kind, inner), = value.items()
    if kind == "B":
        return {kind: _unmark(inner)}
    if kind == "BS":
        return {kind: [_unmark(v) for v in inner]}
    if kind == "L":
        return {kind: [_restore(v) for v in inner]}
    if kind == "M":
        return {kind: {k: _restore(v) for k, v in inner.items()}}
    return value


def encode_item(item: Item) -> str:
    return json.dumps({k: _plain(v) for k, v in item.attrs.items()}, separators=(",", ":"))


def decode_attrs(text: str) -> dict[str, Any]:
    """The item's attributes in DynamoDB JSON, as moto holds them."""
    attrs: dict[str, Any] = json.loads(text)
    return {k: _restore(v) for k, v in attrs.items()} if _BYTES in text else attrs


def _key_bytes(value: DynamoType | None) -> bytes:
    return _NO_RANGE if value is None else str(value.value).encode()


class DiskTable(Table):
    """moto's ``Table`` whose items live in :data:`STORE` (when one is installed and the key types are
    strings); otherwise exactly moto's in-memory table."""

    _disk: DiskStore | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._disk = None
        super().__init__(*args, **kwargs)
        store = STORE
        types = {self.hash_key_type, *([str(self.range_key_type)] if self.range_key_attr else [])}
        if store is not None and types <= _SUPPORTED_KEY_TYPES:
            self._disk = store
            self._key = f"{self.account_id}/{self.region_name}/{self.name}"
        elif store is not None:
            LOG.warning("DynamoDB table %s has key types %s: kept in memory (the disk store orders strings only)",
                        self.name, sorted(types))

    # moto's code reads and writes ``self.items`` directly in a few places. A disk table answers the
    # writes (``put_item``'s ``items[h][r] = item`` / ``items[h] = item``) and refuses anything else,
    # so a code path this class does not cover fails loudly instead of seeing an empty table.
    @property
    def items(self) -> Any:
        if self._disk is None:
            return self._mem_items
        return _DiskItems(self)

    @items.setter
    def items(self, value: Any) -> None:
        self._mem_items = value

    def __deepcopy__(self, memo: dict[int, Any]) -> DiskTable:
        """moto's TransactWriteItems deep-copies each table it touches to restore it on failure; a disk
        table is restored by rolling back the SQLite transaction instead (see :func:`install`)."""
        if self._disk is not None:
            return self
        clone = cast(DiskTable, self.__class__.__new__(self.__class__))
        memo[id(self)] = clone
        for name, value in self.__dict__.items():
            setattr(clone, name, copy.deepcopy(value, memo))
        return clone

    def _item(self, text: str) -> Item:
        attrs = decode_attrs(text)
        item = cast(Item, Item.__new__(Item))
        item.hash_key = DynamoType(attrs[self.hash_key_attr])
        item.range_key = DynamoType(attrs[self.range_key_attr]) if self.range_key_attr else None
        item.attrs = LimitedSizeDict.__new__(LimitedSizeDict)  # validated when it was written
        for key, value in attrs.items():
            dict.__setitem__(item.attrs, key, DynamoType(value))
        return item

    def _write(self, item: Item) -> None:
        assert self._disk is not None
        self._disk.put(self._key, _key_bytes(item.hash_key), _key_bytes(item.range_key), encode_item(item))

    def __len__(self) -> int:
        if self._disk is None:
            return super().__len__()
        return self._disk.count(self._key)

    def put_item(self, item_attrs: dict[str, Any], expected: dict[str, Any] | None = None,
                 condition_expression: str | None = None, *args: Any, **kwargs: Any) -> Item:
        if self._disk is None:
            return super().put_item(item_attrs, expected, condition_expression, *args, **kwargs)
        # moto reads the current item only to test a condition or to emit a stream record: without
        # either (every BatchWriteItem put), the read is skipped; moto still validates the item.
        blind = not expected and not condition_expression and self.stream_shard is None
        with self._disk.lock:  # the condition is checked and the item written as one step
            _BLIND.on = blind
            try:
                return super().put_item(item_attrs, expected, condition_expression, *args, **kwargs)
            finally:
                _BLIND.on = False

    def get_item(self, hash_key: DynamoType, range_key: DynamoType | None = None,
                 projection_expression: list[list[str]] | None = None) -> Item | None:
        if self._disk is None:
            return super().get_item(hash_key, range_key, projection_expression)
        if self.has_range_key and not range_key:
            return super().get_item(hash_key, range_key)  # moto's validation error
        if getattr(_BLIND, "on", False):
            return None  # put_item without a condition or a stream: the current item is not needed
        text = self._disk.get(self._key, _key_bytes(hash_key), _key_bytes(range_key if self.has_range_key else None))
        if text is None:
            return None
        item = self._item(text)
        return item.project(projection_expression) if projection_expression else item

    def delete_item(self, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
        if self._disk is None:
            return super().delete_item(hash_key, range_key)
        text = self._disk.delete(self._key, _key_bytes(hash_key), _key_bytes(range_key if self.has_range_key else None))
        if text is None:
            return None
        item = self._item(text)
        if self.stream_shard is not None:
            self.stream_shard.add(item, None)
        return item

    def iter_items(self) -> Iterator[Item]:
        """Every item in (hash, range) order, read a chunk at a time."""
        if self._disk is None:
            yield from super().all_items()
            return
        for text in self._disk.table(self._key):
            yield self._item(text)

    def items_json(self, hash_value: str | None = None) -> Iterator[dict[str, Any]]:
        """The items (of one partition, if given) in key order, in DynamoDB JSON, straight from the rows."""
        if self._disk is None:
            wanted = None if hash_value is None else DynamoType({self.hash_key_type: hash_value})
            for item in super().all_items():
                if wanted is None or item.hash_key == wanted:
                    yield {k: _plain(v) for k, v in item.attrs.items()}
            return
        rows = (self._disk.table(self._key) if hash_value is None
                else self._disk.partition(self._key, hash_value.encode()))
        for text in rows:
            yield decode_attrs(text)

    def all_items(self) -> list[Item]:
        # moto's secondary-index queries and scans, PartiQL and exports want a list: those paths hold the
        # table in memory as they do in moto (FlitStack's tables have no index and none of them uses them).
        return list(self.iter_items())

    def has_idx_items(self, index_name: str) -> list[Item]:
        if self._disk is None:
            return super().has_idx_items(index_name)
        wanted = {i["AttributeName"] for i in self.get_index(index_name).schema}
        return [item for item in self.iter_items() if wanted.issubset(set(item.attrs))]

    def delete_all(self) -> None:
        if self._disk is not None:
            self._disk.drop(self._key)

    # -- reads in key order ---------------------------------------------------------------------------
    def query(self, hash_key: DynamoType | None, range_comparison: str | None, range_objs: list[DynamoType],
              limit: int, exclusive_start_key: dict[str, Any], scan_index_forward: bool,
              projection_expressions: list[list[str]] | None, index_name: str | None = None,
              consistent_read: bool = False, filter_expression: Any = None,
              hash_key_conditions: list[tuple[str, DynamoType]] | None = None,
              range_key_conditions: list[tuple[str, str, list[DynamoType]]] | None = None,
              **filter_kwargs: Any) -> tuple[list[Item], int, dict[str, Any] | None]:
        if self._disk is None or index_name or filter_kwargs or hash_key is None or (
                range_key_conditions and len(range_key_conditions) > 1):
            return super().query(hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                                 scan_index_forward, projection_expressions, index_name, consistent_read,
                                 filter_expression, hash_key_conditions=hash_key_conditions,
                                 range_key_conditions=range_key_conditions, **filter_kwargs)
        lower, upper = _range_bounds(range_comparison, range_objs) if range_comparison else (None, None)
        if exclusive_start_key is not None:
            start_hash = DynamoType(exclusive_start_key[self.hash_key_attr])
            if (start_hash > hash_key) if scan_index_forward else (start_hash < hash_key):
                return [], 0, None  # the start key is past this whole partition
            if start_hash == hash_key:
                start = _key_bytes(DynamoType(exclusive_start_key[self.range_key_attr])
                                   if self.range_key_attr else None)
                if scan_index_forward:
                    lower = _tighter(lower, (start, False), max)
                else:
                    upper = _tighter(upper, (start, False), min)
        rows = (self._item(text) for text in self._disk.partition(
            self._key, _key_bytes(hash_key), lower=lower, upper=upper, forward=scan_index_forward))
        # moto's loop from here on: a page ends at ``limit`` items or 1 MB, before the filter expression
        results: list[Item] = []
        result_size = 0
        last_evaluated_key = None
        for item in rows:
            if len(results) == limit or result_size + item.size() > RESULT_SIZE_LIMIT:
                last_evaluated_key = self._get_last_evaluated_key(results[-1], None)
                break
            if range_comparison and not item.range_key.compare(range_comparison, range_objs):  # type: ignore[union-attr]
                continue
            results.append(item)
            result_size += item.size()
        scanned_count = len(results)
        if filter_expression is not None:
            results = [item for item in results if filter_expression.expr(item)]
        if projection_expressions:
            results = [r.project(projection_expressions) for r in results]
        return results, scanned_count, last_evaluated_key

    def scan(self, filters: dict[str, Any], limit: int, exclusive_start_key: dict[str, Any],
             filter_expression: Any = None, index_name: str | None = None, consistent_read: bool = False,
             projection_expression: list[list[str]] | None = None,
             segments: tuple[None, None] | tuple[int, int] = (None, None),
             ) -> tuple[list[Item], int, dict[str, Any] | None]:
        if self._disk is None or index_name:
            return super().scan(filters, limit, exclusive_start_key, filter_expression, index_name,
                                consistent_read, projection_expression, segments)
        after = None
        if exclusive_start_key is not None:
            after = (_key_bytes(DynamoType(exclusive_start_key[self.hash_key_attr])),
                     _key_bytes(DynamoType(exclusive_start_key[self.range_key_attr])) if self.range_key_attr
                     else _NO_RANGE)
        # moto's loop (Table.scan) over the rows in key order from the start key
        results: list[Item] = []
        result_size = 0
        scanned_count = 0
        last_evaluated_key = None
        for item in (self._item(text) for text in self._disk.table(self._key, after)):
            if not item.is_within_segment(segments):
                continue
            if len(results) == limit or result_size + item.size() > RESULT_SIZE_LIMIT:
                last_evaluated_key = self._get_last_evaluated_key(results[-1], None)
                break
            if _passes(item, filters):
                results.append(item)
                result_size += item.size()
            scanned_count += 1
        if filter_expression is not None:
            results = [item for item in results if filter_expression.expr(item)]
        if projection_expression:
            results = [r.project(projection_expression) for r in results]
        return results, scanned_count, last_evaluated_key


def _passes(item: Item, filters: dict[str, Any]) -> bool:
    """The legacy ScanFilter, as moto's ``Table.scan`` applies it."""
    for name, (operator, values) in filters.items():
        attribute = item.attrs.get(name)
        if attribute:
            if not attribute.compare(operator, values):
                return False
        elif operator != "NULL":
            return False
    return True


Bound = tuple[bytes, bool]  # (value, inclusive)


def _tighter(current: Bound | None, new: Bound, pick: Callable[[bytes, bytes], bytes]) -> Bound:
    if current is None or current[0] != pick(current[0], new[0]):
        return new
    if current[0] == new[0]:
        return (current[0], current[1] and new[1])
    return current


def _range_bounds(comparison: str, values: list[DynamoType]) -> tuple[Bound | None, Bound | None]:
    """SQL bounds that hold every range key satisfying the key condition (each item is still checked
    with moto's own comparison); a comparison not listed reads the whole partition."""
    keys = [_key_bytes(v) for v in values]
    if comparison == "EQ":
        return (keys[0], True), (keys[0], True)
    if comparison == "LT":
        return None, (keys[0], False)
    if comparison == "LE":
        return None, (keys[0], True)
    if comparison == "GT":
        return (keys[0], False), None
    if comparison == "GE":
        return (keys[0], True), None
    if comparison == "BETWEEN":
        return (keys[0], True), (keys[1], True)
    if comparison == "BEGINS_WITH":
        return (keys[0], True), (keys[0] + b"\xff", False)  # no UTF-8 string contains the byte 0xFF
    return None, None


class _DiskItems:
    """What ``Table.put_item`` writes into ``self.items`` when the table is on disk."""

    def __init__(self, table: DiskTable) -> None:
        self._table = table

    def __getitem__(self, hash_value: DynamoType) -> _DiskItems:
        return self  # ``items[h][r] = item``: the item carries both keys

    def __setitem__(self, key: DynamoType, item: Item) -> None:
        self._table._write(item)

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"DynamoDB table {self._table.name} keeps its items on disk; moto's "
                           f"`items.{name}` is not available (flitstack.local.disk_dynamodb)")


# -- install ------------------------------------------------------------------------------------------
STORE: DiskStore | None = None
#: Set (per thread) while :meth:`DiskTable.put_item` writes without a condition or a stream.
_BLIND = threading.local()
_saved: list[tuple[Any, str, Any]] = []


class _Untracked(list[Any]):
    """moto appends every model object it ever creates to its class's ``instances_tracked`` (for its
    dashboard) until a reset: for ``Item`` that is every item written, read, copied or projected, kept
    alive after it is overwritten or deleted. Installed as ``Item.instances_tracked``, it keeps none."""

    def append(self, _: Any) -> None:
        return None


def _update_item(original: Callable[..., Item]) -> Callable[..., Item]:
    @functools.wraps(original)
    def update_item(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Item:
        table = self.get_table(table_name)
        if not isinstance(table, DiskTable) or table._disk is None:
            return original(self, table_name, *args, **kwargs)
        with table._disk.transaction():  # read, update in place, write back: one step
            item = original(self, table_name, *args, **kwargs)
            table._write(item)
            return item
    return update_item


def _transact_write_items(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        store = STORE
        if store is None:
            return original(self, transact_items)
        with store.transaction():  # a cancelled transaction raises: every write it made rolls back
            original(self, transact_items)
    return transact_write_items


def _batch_write_item(original: Callable[..., Any]) -> Callable[..., Any]:
    """One SQLite transaction per BatchWriteItem request (one commit instead of one per item); a request
    moto refuses part-way (an item that fails validation) writes nothing, as DynamoDB refuses it whole."""
    @functools.wraps(original)
    def batch_write_item(self: DynamoHandler) -> Any:
        store = STORE
        if store is None:
            return original(self)
        with store.transaction():
            return original(self)
    return batch_write_item


def _delete_table(original: Callable[..., Table]) -> Callable[..., Table]:
    @functools.wraps(original)
    def delete_table(self: DynamoDBBackend, name: str) -> Table:
        table = original(self, name)
        if isinstance(table, DiskTable):
            table.delete_all()
        return table
    return delete_table


def install(path: Path) -> DiskStore:
    """Keep the items of every DynamoDB table created from now on in ``path`` (an SQLite file; its
    rows from an earlier engine are the tables' items again when tables of the same names are created)."""
    global STORE  # noqa: PLW0603
    if STORE is not None:
        raise RuntimeError(f"a DynamoDB disk store is already installed ({STORE.path}): one engine per process")
    STORE = DiskStore(path)
    _saved.append((ddb_models, "Table", Table))
    setattr(ddb_models, "Table", DiskTable)  # noqa: B010 - what DynamoDBBackend.create_table instantiates
    _saved.append((Item, "instances_tracked", Item.instances_tracked))  # type: ignore[attr-defined]
    Item.instances_tracked = _Untracked()  # type: ignore[attr-defined]
    for name, wrap in (("update_item", _update_item), ("transact_write_items", _transact_write_items),
                       ("delete_table", _delete_table)):
        original = getattr(DynamoDBBackend, name)
        _saved.append((DynamoDBBackend, name, original))
        setattr(DynamoDBBackend, name, wrap(original))
    _saved.append((DynamoHandler, "batch_write_item", DynamoHandler.batch_write_item))
    setattr(DynamoHandler, "batch_write_item", _batch_write_item(DynamoHandler.batch_write_item))  # noqa: B010
    return STORE


def uninstall() -> None:
    """Restore moto and close the file (call after moto's reset: the tables bound to it are gone)."""
    global STORE  # noqa: PLW0603
    while _saved:
        owner, name, original = _saved.pop()
        setattr(owner, name, original)
    if STORE is not None:
        STORE.close()
        STORE = None
