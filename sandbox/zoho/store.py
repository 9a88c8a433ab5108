"""SQLite state of one Zoho org (one file, WAL).

Records of every module are JSON documents in ``records`` keyed by (module, id) in insertion
order (``seq`` gives a stable paging order). Users live there too (module ``users``).
Custom modules and fields are their definitions as JSON; the credit ledger is one row per
charged call, so a restarted stand-in keeps its rolling 24 h window. Files (bulk uploads,
attachments) are BLOBs.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from sandbox.sqlite_store import SqliteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records(
    seq INTEGER PRIMARY KEY AUTOINCREMENT, module TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL,
    UNIQUE(module, id));
CREATE INDEX IF NOT EXISTS records_by_module ON records(module, seq);
CREATE TABLE IF NOT EXISTS custom_modules(api_name TEXT PRIMARY KEY, definition TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS custom_fields(
    module TEXT NOT NULL, api_name TEXT NOT NULL, definition TEXT NOT NULL, PRIMARY KEY(module, api_name));
CREATE TABLE IF NOT EXISTS tokens(token TEXT PRIMARY KEY, user_id TEXT NOT NULL, scopes TEXT NOT NULL,
    issued_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS credits(seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, cost INTEGER NOT NULL,
    api TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS credits_by_time ON credits(at);
CREATE TABLE IF NOT EXISTS files(id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, content BLOB NOT NULL,
    meta TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bulk_jobs(id TEXT PRIMARY KEY, data TEXT NOT NULL);
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Store(SqliteStore):
    """Thread-safe access to the org's SQLite file."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    def next_number(self, name: str) -> int:
        """The next value of a named counter (kept in the shared ``meta`` table)."""
        with self.tx():
            value = int(self.get_meta(f"seq:{name}") or 0) + 1
            self.set_meta(f"seq:{name}", str(value))
        return value

    # -- records --------------------------------------------------------------------------------------------------
    def get(self, module: str, record_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.conn.execute("SELECT data FROM records WHERE module=? AND id=?", (module, record_id)).fetchone()
        return json.loads(row[0]) if row else None

    def find_any(self, record_id: str) -> tuple[str, dict[str, Any]] | None:
        """The module and document of an id (ids are unique across the org, as Zoho's are)."""
        with self.lock:
            row = self.conn.execute("SELECT module, data FROM records WHERE id=?", (record_id,)).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def scan(self, module: str) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.conn.execute("SELECT data FROM records WHERE module=? ORDER BY seq", (module,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def put(self, module: str, record_id: str, data: dict[str, Any]) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO records(module, id, data) VALUES (?, ?, ?) ON CONFLICT(module, id) DO UPDATE SET "
                "data=excluded.data", (module, record_id, _dumps(data)),
            )

    def delete(self, module: str, record_id: str) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM records WHERE module=? AND id=?", (module, record_id))

    # -- schema -----------------------------------------------------------------------------------------------
    def custom_modules(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.conn.execute("SELECT definition FROM custom_modules ORDER BY rowid").fetchall()
        return [json.loads(r[0]) for r in rows]

    def add_custom_module(self, api_name: str, definition: dict[str, Any]) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO custom_modules(api_name, definition) VALUES (?, ?)", (api_name, _dumps(definition)))

    def custom_fields(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            rows = self.conn.execute("SELECT module, definition FROM custom_fields ORDER BY rowid").fetchall()
        return [(m, json.loads(d)) for m, d in rows]

    def add_custom_field(self, module: str, api_name: str, definition: dict[str, Any]) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO custom_fields(module, api_name, definition) VALUES (?, ?, ?)",
                      (module, api_name, _dumps(definition)))

    # -- tokens -----------------------------------------------------------------------------------------------
    def add_token(self, token: str, user_id: str, scopes: list[str], issued_at: float) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO tokens(token, user_id, scopes, issued_at) VALUES (?, ?, ?, ?)",
                      (token, user_id, _dumps(scopes), issued_at))

    def token(self, token: str) -> tuple[str, list[str], float] | None:
        with self.lock:
            row = self.conn.execute("SELECT user_id, scopes, issued_at FROM tokens WHERE token=?", (token,)).fetchone()
        return (row[0], json.loads(row[1]), row[2]) if row else None

    # -- credit ledger ----------------------------------------------------------------------------------------
    def charge(self, at: float, cost: int, api: str) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO credits(at, cost, api) VALUES (?, ?, ?)", (at, cost, api))

    def credits_since(self, since: float) -> int:
        with self.lock:
            row = self.conn.execute("SELECT COALESCE(SUM(cost), 0) FROM credits WHERE at > ?", (since,)).fetchone()
        return int(row[0])

    def ledger(self, since: float) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.conn.execute("SELECT at, cost, api FROM credits WHERE at > ? ORDER BY seq", (since,)).fetchall()
        return [{"at": a, "cost": c, "api": api} for a, c, api in rows]

    def oldest_charge_after(self, since: float) -> float | None:
        with self.lock:
            row = self.conn.execute("SELECT MIN(at) FROM credits WHERE at > ?", (since,)).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def clear_ledger(self) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM credits")

    # -- files and bulk jobs ----------------------------------------------------------------------------------
    def add_file(self, file_id: str, kind: str, name: str, content: bytes, meta: dict[str, Any]) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO files(id, kind, name, content, meta) VALUES (?, ?, ?, ?, ?)",
                      (file_id, kind, name, content, _dumps(meta)))

    def file(self, file_id: str) -> tuple[str, str, bytes, dict[str, Any]] | None:
        with self.lock:
            row = self.conn.execute("SELECT kind, name, content, meta FROM files WHERE id=?", (file_id,)).fetchone()
        return (row[0], row[1], bytes(row[2]), json.loads(row[3])) if row else None

    def delete_file(self, file_id: str) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM files WHERE id=?", (file_id,))

    def put_job(self, job_id: str, data: dict[str, Any]) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO bulk_jobs(id, data) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET data=excluded.data",
                      (job_id, _dumps(data)))

    def job(self, job_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.conn.execute("SELECT data FROM bulk_jobs WHERE id=?", (job_id,)).fetchone()
        return json.loads(row[0]) if row else None


def snapshot(state_path: str | Path) -> dict[str, Any]:
    """A canonical, comparable dump: records per module and the custom schema (tokens, ledger, files left out)."""
    conn = sqlite3.connect(f"file:{Path(state_path)}?mode=ro", uri=True)
    try:
        records: dict[str, dict[str, Any]] = {}
        for module, rid, data in conn.execute("SELECT module, id, data FROM records ORDER BY module, id"):
            records.setdefault(module, {})[rid] = json.loads(data)
        modules = {n: json.loads(d) for n, d in conn.execute("SELECT api_name, definition FROM custom_modules")}
        fields = {f"{m}.{n}": json.loads(d)
                  for m, n, d in conn.execute("SELECT module, api_name, definition FROM custom_fields ORDER BY 1, 2")}
    finally:
        conn.close()
    return {"records": records, "schema": {"custom_modules": modules, "custom_fields": fields}}
