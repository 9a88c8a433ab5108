"""Rows keyed by source key in a temporary SQLite file: a join that holds a batch, not a table; and a sort on disk.

Reconciliation joins what a run sent (load-ready lines, batch by batch) with what the destination
holds for the same keys (one paged read per mapping). Held in a dict, the destination side grows
with the number of records; here it is written to a throw-away file as it is read and looked up
a batch of keys at a time. Named key sets (refused, sent, compared) live in the same file, so
deduplication does not grow with N either. SQLite's page cache is bounded (:data:`CACHE_KIB`);
the file is deleted on :meth:`Spill.close`.

The same file sorts: :meth:`Spill.append` rows under a sort key (a tuple of up to
:data:`KEY_PARTS` strings), and :meth:`Spill.ordered` reads them back in key order (ties in the
order they were appended, as Python's stable ``sorted``),
a page at a time. Keys are compared as SQLite compares TEXT (bytes of UTF-8), which is the order of
code points that ``str`` comparison uses.

Rows go through JSON: the destination reads they hold came from JSON (or XML-RPC) answers, so
strings, numbers, booleans, None, lists and dicts come back equal; anything else comes back as its
``str`` (which is how profiling reads a value it cannot count or sum anyway).
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any, Self

#: Keys per statement (SQLite's default limit of bound parameters is far above it).
BATCH = 500
#: SQLite page cache of the spill file, in KiB.
CACHE_KIB = 8 * 1024
#: Most strings a sort key of :meth:`Spill.append` has (shorter keys are padded with "", which sorts first).
KEY_PARTS = 4

_SCHEMA = """
CREATE TABLE rows(key TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE marks(name TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY(name, key)) WITHOUT ROWID;
CREATE TABLE ordered(k1 TEXT NOT NULL, k2 TEXT NOT NULL, k3 TEXT NOT NULL, k4 TEXT NOT NULL, n INTEGER NOT NULL,
                     data TEXT NOT NULL, PRIMARY KEY(k1, k2, k3, k4, n)) WITHOUT ROWID;
"""


def batched(items: Iterable[Any], size: int = BATCH) -> Iterator[list[Any]]:
    """``items`` in lists of at most ``size``."""
    it = iter(items)
    while part := list(islice(it, size)):
        yield part


def _padded(key: Sequence[str]) -> tuple[str, ...]:
    if len(key) > KEY_PARTS:
        raise ValueError(f"a sort key has at most {KEY_PARTS} parts, not {len(key)}")
    return (*map(str, key), *[""] * (KEY_PARTS - len(key)))


class Spill:
    """A temporary keyed store: ``put`` rows, ``get`` them back by key, ``mark`` keys in named sets."""

    def __init__(self, directory: str | Path | None = None) -> None:
        fd, name = tempfile.mkstemp(prefix="flitstack-spill-", suffix=".sqlite", dir=directory)
        os.close(fd)
        self.path = Path(name)
        self._conn = sqlite3.connect(name, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=OFF")
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._conn.execute("PRAGMA temp_store=FILE")
        self._conn.executescript(_SCHEMA)
        self._appended = 0  # rows appended so far: their arrival number breaks ties in ordered()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
                 ) -> None:
        self.close()

    def close(self) -> None:
        """Close and delete the file (idempotent)."""
        self._conn.close()
        self.path.unlink(missing_ok=True)

    # --- rows -----------------------------------------------------------------------------------------
    def put(self, rows: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
        """Store ``(key, row)`` pairs (a later row of the same key replaces the earlier); how many were given."""
        given = 0
        for part in batched(rows):
            given += len(part)
            self._write("INSERT OR REPLACE INTO rows(key, data) VALUES (?, ?)",
                        [(str(k), json.dumps(r, separators=(",", ":"), default=str)) for k, r in part])
        return given

    def get(self, keys: Iterable[str], *, marked: str | None = None) -> dict[str, dict[str, Any]]:
        """The rows of ``keys`` that are held (and, with ``marked``, whose key is in that set)."""
        out: dict[str, dict[str, Any]] = {}
        join = "JOIN marks m ON m.key = r.key AND m.name = ? " if marked is not None else ""
        for part in batched(dict.fromkeys(keys)):
            marks = ",".join("?" * len(part))
            sql = f"SELECT r.key, r.data FROM rows r {join}WHERE r.key IN ({marks})"  # noqa: S608 - placeholders
            args = [marked, *part] if marked is not None else part
            out.update((k, json.loads(d)) for k, d in self._conn.execute(sql, args))
        return out

    # --- key sets -------------------------------------------------------------------------------------
    def mark(self, name: str, keys: Iterable[str]) -> None:
        """Add ``keys`` to the set ``name``."""
        for part in batched(keys):
            self._write("INSERT OR IGNORE INTO marks(name, key) VALUES (?, ?)", [(name, str(k)) for k in part])

    def marked(self, name: str, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` are in the set ``name``."""
        found: set[str] = set()
        for part in batched(dict.fromkeys(keys)):
            marks = ",".join("?" * len(part))
            sql = f"SELECT key FROM marks WHERE name = ? AND key IN ({marks})"  # noqa: S608 - placeholders
            found.update(k for (k,) in self._conn.execute(sql, [name, *part]))
        return found

    def count(self, name: str) -> int:
        """How many keys the set ``name`` holds."""
        return int(self._conn.execute("SELECT COUNT(*) FROM marks WHERE name = ?", (name,)).fetchone()[0])

    def first(self, name: str, limit: int) -> list[str]:
        """The ``limit`` smallest keys of the set ``name``, in order."""
        rows = self._conn.execute("SELECT key FROM marks WHERE name = ? ORDER BY key LIMIT ?", (name, limit))
        return [k for (k,) in rows]

    # --- sorting --------------------------------------------------------------------------------------
    def append(self, rows: Iterable[tuple[Sequence[str], Mapping[str, Any]]]) -> int:
        """Add ``(sort key, row)`` pairs to the rows :meth:`ordered` returns sorted; how many were given.

        Every row of one spill should have a key of the same length (at most :data:`KEY_PARTS` strings)."""
        given = 0
        for part in batched(rows):
            self._write("INSERT INTO ordered(k1, k2, k3, k4, n, data) VALUES (?, ?, ?, ?, ?, ?)",
                        [(*_padded(key), self._appended + i, json.dumps(r, separators=(",", ":"), default=str))
                         for i, (key, r) in enumerate(part)])
            self._appended += len(part)
            given += len(part)
        return given

    def ordered(self) -> Iterator[dict[str, Any]]:
        """The appended rows by their sort keys, ties in append order.

        The table's primary key is (sort key, arrival number): rows are kept in that order as they are appended,
        so this is a walk of the key, with no sort pass (and no second copy of the rows in a temporary file).

        Rows are read :data:`BATCH` at a time; do not append while iterating."""
        cursor = self._conn.execute("SELECT data FROM ordered ORDER BY k1, k2, k3, k4, n")
        while page := cursor.fetchmany(BATCH):
            for (data,) in page:
                yield json.loads(data)

    def _write(self, sql: str, rows: list[tuple[str | int, ...]]) -> None:
        self._conn.execute("BEGIN")
        try:
            self._conn.executemany(sql, rows)
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
