"""The SQLite file behind a stand-in: one connection, a re-entrant transaction, a key/value ``meta`` table.

Every stand-in keeps its state in one SQLite file (WAL, so a saved state can be served again
and read by tests while it serves). Subclasses add their tables and queries; a subclass that
keeps counters in memory flushes them in :meth:`SqliteStore._on_tx_end`, which runs before
COMMIT and after ROLLBACK.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

META_SCHEMA = "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"


class SqliteStore:
    """Thread-safe access to a stand-in's SQLite file."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        self.conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(META_SCHEMA + schema)
        self.lock = threading.RLock()
        self._depth = 0

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction (re-entrant: nested calls join the outer one; any exception rolls it all back)."""
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                self._on_tx_end()
                raise
            else:
                self._on_tx_end()
                self.conn.execute("COMMIT")
            finally:
                self._depth = 0

    def _on_tx_end(self) -> None:
        """Called as the outermost transaction ends (before COMMIT, after ROLLBACK)."""

    def get_meta(self, key: str) -> str | None:
        with self.lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.tx() as c:
            c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
