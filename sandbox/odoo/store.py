"""SQLite state of one stand-in database (one file, WAL).

Records are JSON documents in one ``records`` table keyed by (model, id), with per-model id
sequences (ids are never reused, as PostgreSQL sequences). Expression indexes on the JSON
members a loader searches most (``name``, ``res_id``, ``parent_id``, ``login``, ``model``)
keep ``search`` by external id or by parent cheap. Passwords and API keys live apart from the
records, so no ``read`` can return them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sandbox.sqlite_store import SqliteStore

_INDEXED = ("name", "res_id", "parent_id", "login", "model")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sequences(model TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records(model TEXT NOT NULL, id INTEGER NOT NULL, data TEXT NOT NULL,
                                   PRIMARY KEY(model, id));
CREATE TABLE IF NOT EXISTS passwords(uid INTEGER PRIMARY KEY, password TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys(key TEXT PRIMARY KEY, uid INTEGER NOT NULL, name TEXT NOT NULL,
                                    scope TEXT, expires_at REAL);
""" + "".join(
    f"CREATE INDEX IF NOT EXISTS records_{m} ON records(model, json_extract(data, '$.{m}'));\n" for m in _INDEXED)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Store(SqliteStore):
    """Thread-safe access to the database's SQLite file."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    def next_id(self, model: str, floor: int = 0) -> int:
        with self.tx() as c:
            c.execute("INSERT INTO sequences(model, value) VALUES (?, ?) "
                      "ON CONFLICT(model) DO UPDATE SET value=value+1", (model, floor + 1))
            return int(c.execute("SELECT value FROM sequences WHERE model=?", (model,)).fetchone()[0])

    def get(self, model: str, rid: int) -> dict[str, Any] | None:
        with self.lock:
            row = self.conn.execute("SELECT data FROM records WHERE model=? AND id=?", (model, rid)).fetchone()
        return json.loads(row[0]) if row else None

    def get_many(self, model: str, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        wanted = list(dict.fromkeys(ids))
        out: dict[int, dict[str, Any]] = {}
        with self.lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for rid, data in self.conn.execute(
                        f"SELECT id, data FROM records WHERE model=? AND id IN ({marks})",  # noqa: S608
                        (model, *chunk)):
                    out[int(rid)] = json.loads(data)
        return out

    def scan(self, model: str, equals: list[tuple[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Records of ``model`` (narrowed by ``field = value`` pairs pushed into SQL), in id order."""
        sql = "SELECT id, data FROM records WHERE model=?"
        params: list[Any] = [model]
        for name, value in equals or []:
            if isinstance(value, list):
                sql += f" AND json_extract(data, '$.{name}') IN ({','.join('?' * len(value))})"
                params.extend(value)
            else:
                sql += f" AND json_extract(data, '$.{name}') = ?"
                params.append(value)
        # Sorted here, not by ORDER BY id: that clause makes SQLite walk the primary key (model, id) over every
        # row of the model instead of the expression index a narrowing condition names (EXPLAIN QUERY PLAN).
        with self.lock:
            rows = self.conn.execute(sql if equals else sql + " ORDER BY id", params).fetchall()
        return [json.loads(data) for _, data in sorted(rows, key=lambda r: int(r[0]))]

    def put(self, model: str, data: dict[str, Any]) -> None:
        with self.tx() as c:
            c.execute("INSERT OR REPLACE INTO records(model, id, data) VALUES (?, ?, ?)",
                      (model, int(data["id"]), _dumps(data)))

    def delete(self, model: str, ids: Iterable[int]) -> None:
        with self.tx() as c:
            c.executemany("DELETE FROM records WHERE model=? AND id=?", [(model, i) for i in ids])

    def count(self, model: str) -> int:
        with self.lock:
            return int(self.conn.execute("SELECT COUNT(*) FROM records WHERE model=?", (model,)).fetchone()[0])

    # -- credentials -------------------------------------------------------------------------------------------
    def set_password(self, uid: int, password: str) -> None:
        with self.tx() as c:
            c.execute("INSERT OR REPLACE INTO passwords(uid, password) VALUES (?, ?)", (uid, password))

    def password(self, uid: int) -> str | None:
        with self.lock:
            row = self.conn.execute("SELECT password FROM passwords WHERE uid=?", (uid,)).fetchone()
        return str(row[0]) if row else None

    def add_api_key(self, key: str, uid: int, name: str, expires_at: float | None = None) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO api_keys(key, uid, name, scope, expires_at) VALUES (?, ?, ?, 'rpc', ?)",
                      (key, uid, name, expires_at))

    def api_key_uid(self, key: str, now: float) -> int | None:
        with self.lock:
            row = self.conn.execute("SELECT uid, expires_at FROM api_keys WHERE key=?", (key,)).fetchone()
        if not row or (row[1] is not None and row[1] < now):
            return None
        return int(row[0])
