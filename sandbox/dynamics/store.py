"""SQLite state of one stand-in environment (one file, WAL).

Records are JSON documents in one ``records`` table keyed by (table, id); values of
alternate keys are mirrored into ``record_keys`` so upserts by key and uniqueness checks are
index lookups. Custom tables, columns and keys are kept as their metadata JSON. One
connection is shared by the request threads behind an ``RLock``; :meth:`Store.tx` is
re-entrant, so a ``$batch`` change set is one transaction that rolls back as a whole.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from sandbox.sqlite_store import SqliteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sequences(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records(
    seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL,
    UNIQUE(tbl, id));
CREATE INDEX IF NOT EXISTS records_by_table ON records(tbl, seq);
CREATE TABLE IF NOT EXISTS record_keys(tbl TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS record_keys_lookup ON record_keys(tbl, key, value);
CREATE INDEX IF NOT EXISTS record_keys_by_id ON record_keys(tbl, id);
CREATE TABLE IF NOT EXISTS custom_tables(logical TEXT PRIMARY KEY, metadata TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS custom_columns(
    tbl TEXT NOT NULL, logical TEXT NOT NULL, metadata TEXT NOT NULL, created_at REAL NOT NULL,
    PRIMARY KEY(tbl, logical));
CREATE TABLE IF NOT EXISTS custom_keys(
    tbl TEXT NOT NULL, logical TEXT NOT NULL, metadata TEXT NOT NULL, created_at REAL NOT NULL,
    failed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(tbl, logical));
CREATE TABLE IF NOT EXISTS tokens(token TEXT PRIMARY KEY, user_id TEXT NOT NULL, issued_at REAL NOT NULL);
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Store(SqliteStore):
    """Thread-safe access to the environment's SQLite file."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    # -- sequences ------------------------------------------------------------------------------------------
    def next_number(self, name: str) -> int:
        with self.tx() as c:
            c.execute(
                "INSERT INTO sequences(name, value) VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value=value+1",
                (name,),
            )
            return int(c.execute("SELECT value FROM sequences WHERE name=?", (name,)).fetchone()[0])

    # -- records ----------------------------------------------------------------------------------------------
    def get(self, tbl: str, record_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.conn.execute("SELECT data FROM records WHERE tbl=? AND id=?", (tbl, record_id)).fetchone()
        return json.loads(row[0]) if row else None

    def scan(self, tbl: str) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.conn.execute("SELECT data FROM records WHERE tbl=? ORDER BY seq", (tbl,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def count(self, tbl: str) -> int:
        with self.lock:
            return int(self.conn.execute("SELECT COUNT(*) FROM records WHERE tbl=?", (tbl,)).fetchone()[0])

    def insert(self, tbl: str, record_id: str, data: dict[str, Any], keys: list[tuple[str, str]]) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO records(tbl, id, data) VALUES (?, ?, ?)", (tbl, record_id, _dumps(data)))
            c.executemany(
                "INSERT INTO record_keys(tbl, key, value, id) VALUES (?, ?, ?, ?)",
                [(tbl, k, v, record_id) for k, v in keys],
            )

    def update(self, tbl: str, record_id: str, data: dict[str, Any], keys: list[tuple[str, str]]) -> None:
        with self.tx() as c:
            c.execute("UPDATE records SET data=? WHERE tbl=? AND id=?", (_dumps(data), tbl, record_id))
            c.execute("DELETE FROM record_keys WHERE tbl=? AND id=?", (tbl, record_id))
            c.executemany(
                "INSERT INTO record_keys(tbl, key, value, id) VALUES (?, ?, ?, ?)",
                [(tbl, k, v, record_id) for k, v in keys],
            )

    def delete(self, tbl: str, record_id: str) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM records WHERE tbl=? AND id=?", (tbl, record_id))
            c.execute("DELETE FROM record_keys WHERE tbl=? AND id=?", (tbl, record_id))

    def find_by_key(self, tbl: str, key: str, value: str) -> list[str]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT id FROM record_keys WHERE tbl=? AND key=? AND value=?", (tbl, key, value)
            ).fetchall()
        return [r[0] for r in rows]

    def replace_key_index(self, tbl: str, key: str, rows: list[tuple[str, str]]) -> None:
        """(Re)build one alternate key's index from ``(value, id)`` pairs."""
        with self.tx() as c:
            c.execute("DELETE FROM record_keys WHERE tbl=? AND key=?", (tbl, key))
            c.executemany(
                "INSERT INTO record_keys(tbl, key, value, id) VALUES (?, ?, ?, ?)", [(tbl, key, v, i) for v, i in rows]
            )

    # -- custom schema ----------------------------------------------------------------------------------------
    def custom_tables(self) -> list[tuple[str, dict[str, Any], float]]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT logical, metadata, created_at FROM custom_tables ORDER BY rowid"
            ).fetchall()
        return [(n, json.loads(m), c) for n, m, c in rows]

    def custom_columns(self) -> list[tuple[str, str, dict[str, Any], float]]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT tbl, logical, metadata, created_at FROM custom_columns ORDER BY rowid"
            ).fetchall()
        return [(t, n, json.loads(m), c) for t, n, m, c in rows]

    def custom_keys(self) -> list[tuple[str, str, dict[str, Any], float, bool]]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT tbl, logical, metadata, created_at, failed FROM custom_keys ORDER BY rowid"
            ).fetchall()
        return [(t, n, json.loads(m), c, bool(f)) for t, n, m, c, f in rows]

    def add_custom_table(self, logical: str, metadata: dict[str, Any]) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO custom_tables(logical, metadata, created_at) VALUES (?, ?, ?)",
                (logical, _dumps(metadata), time.time()),
            )

    def add_custom_column(self, tbl: str, logical: str, metadata: dict[str, Any]) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO custom_columns(tbl, logical, metadata, created_at) VALUES (?, ?, ?, ?)",
                (tbl, logical, _dumps(metadata), time.time()),
            )

    def add_custom_key(self, tbl: str, logical: str, metadata: dict[str, Any], failed: bool) -> float:
        created = time.time()
        with self.tx() as c:
            c.execute(
                "INSERT INTO custom_keys(tbl, logical, metadata, created_at, failed) VALUES (?, ?, ?, ?, ?)",
                (tbl, logical, _dumps(metadata), created, int(failed)),
            )
        return created

    def publish_all(self) -> None:
        """Mark every custom table/column published (``metadata_publish_required``)."""
        with self.tx() as c:
            for name in ("custom_tables", "custom_columns"):
                rows = c.execute(f"SELECT rowid, metadata FROM {name}").fetchall()  # noqa: S608
                for rowid, meta in rows:
                    data = json.loads(meta)
                    if not data.get("_published", True):
                        data["_published"] = True
                        c.execute(f"UPDATE {name} SET metadata=? WHERE rowid=?", (_dumps(data), rowid))  # noqa: S608

    # -- tokens -----------------------------------------------------------------------------------------------
    def add_token(self, token: str, user_id: str) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO tokens(token, user_id, issued_at) VALUES (?, ?, ?)", (token, user_id, time.time()))

    def token(self, token: str) -> tuple[str, float] | None:
        with self.lock:
            row = self.conn.execute("SELECT user_id, issued_at FROM tokens WHERE token=?", (token,)).fetchone()
        return (row[0], row[1]) if row else None


def snapshot(state_path: str | Path) -> dict[str, Any]:
    """A canonical, comparable dump: records per table and the custom schema.

    Tokens and sequences are left out on purpose: two environments holding the same data
    compare equal however they got there.
    """
    conn = sqlite3.connect(f"file:{Path(state_path)}?mode=ro", uri=True)
    try:
        records: dict[str, dict[str, Any]] = {}
        for tbl, rid, data in conn.execute("SELECT tbl, id, data FROM records ORDER BY tbl, id"):
            records.setdefault(tbl, {})[rid] = json.loads(data)
        tables = {n: json.loads(m) for n, m in conn.execute("SELECT logical, metadata FROM custom_tables ORDER BY 1")}
        columns = {
            f"{t}.{n}": json.loads(m)
            for t, n, m in conn.execute("SELECT tbl, logical, metadata FROM custom_columns ORDER BY 1, 2")
        }
        keys = {
            f"{t}.{n}": json.loads(m)
            for t, n, m in conn.execute("SELECT tbl, logical, metadata FROM custom_keys ORDER BY 1, 2")
        }
        org_id = conn.execute("SELECT value FROM meta WHERE key='org_id'").fetchone()
    finally:
        conn.close()
    return {
        "org_id": org_id[0] if org_id else None,
        "records": records,
        "schema": {"custom_tables": tables, "custom_columns": columns, "custom_keys": keys},
    }
