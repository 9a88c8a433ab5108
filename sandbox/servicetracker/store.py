"""The SQLite state of a ServiceTracker stand-in: records, deletions, schema extensions, files, exports.

Created by streaming a :class:`~sandbox.servicetracker.tenant.TenantSource` into a fresh
file in chunks (memory flat whatever the tenant size), then served as it is: mutations made
through the admin routes and export jobs survive a restart. Records are stored as their
JSON text so a page is assembled without re-encoding.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from sandbox.servicetracker.model import (
    CUSTOM_PREFIX,
    OBJECTS,
    CustomFieldDef,
    CustomTableDef,
    MobileDevice,
    check_custom_row,
    check_record,
    format_timestamp,
    modified_key,
    parse_timestamp,
    sort_key,
)
from sandbox.servicetracker.tenant import TenantSource
from sandbox.sqlite_store import SqliteStore

STATE_FORMAT = "servicetracker-state/1"
CHUNK_ROWS = 2000
BLOB_CHUNK = 1024 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (object TEXT NOT NULL, id INTEGER NOT NULL, modified_key TEXT NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (object, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_by_modified ON records (object, modified_key, id);
CREATE TABLE IF NOT EXISTS deletions (seq INTEGER PRIMARY KEY AUTOINCREMENT, object TEXT NOT NULL,
    id INTEGER NOT NULL, deleted_key TEXT NOT NULL, deleted_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS deletions_by_time ON deletions (object, deleted_key);
CREATE TABLE IF NOT EXISTS custom_field_defs (seq INTEGER PRIMARY KEY, object TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS custom_tables (seq INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (device_id TEXT PRIMARY KEY, technician_id INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (id INTEGER PRIMARY KEY, content_seed INTEGER, content BLOB);
CREATE TABLE IF NOT EXISTS api_tokens (token TEXT PRIMARY KEY, label TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS export_jobs (id TEXT PRIMARY KEY, object TEXT NOT NULL, body TEXT NOT NULL,
    created REAL NOT NULL, ready REAL NOT NULL, expires REAL NOT NULL, record_count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS export_rows (job_id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)) WITHOUT ROWID;
"""


class RecordNotFound(KeyError):
    """The object has no record with that id."""


class InvalidRecord(ValueError):
    """A record given to an admin mutation fails validation; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class StoredFile:
    """Where to stream an attachment's bytes from: a generator seed or the stored blob."""

    id: int
    file_name: str
    content_type: str
    size: int
    content_seed: int | None


def now_utc() -> datetime:
    return datetime.now(UTC)


def _chunks(rows: Iterable[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    it = iter(rows)
    while batch := list(islice(it, CHUNK_ROWS)):
        yield batch


class Store(SqliteStore):
    """One stand-in state file (thread-safe through the base class's lock)."""

    def __init__(self, path: Path) -> None:
        if not Path(path).exists():
            raise FileNotFoundError(f"no stand-in state at {path}")
        super().__init__(Path(path), _SCHEMA)
        if self.get_meta("format") != STATE_FORMAT:
            raise ValueError(f"{path} is not a ServiceTracker stand-in state ({STATE_FORMAT})")
        self._tokens = self._load_tokens()
        self.tables = {t.object_name: t for t in self.custom_tables()}
        self._defs = self.custom_fields()

    # -- creation ------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, source: TenantSource, *, api_token: str | None = None) -> Store:
        """Write a new state file from ``source``, streaming (atomic: a crash leaves no half state)."""
        path = Path(path)
        if path.exists():
            raise FileExistsError(f"{path} already exists")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)
        base = SqliteStore(tmp, _SCHEMA)
        conn = base.conn
        try:
            conn.execute("PRAGMA synchronous=OFF")
            with base.tx():
                _load(conn, source, api_token or secrets.token_urlsafe(24))
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            base.close()
        os.replace(tmp, path)
        return cls(path)

    # -- tokens and metadata ---------------------------------------------------------------

    def _load_tokens(self) -> frozenset[str]:
        with self.lock:
            return frozenset(r[0] for r in self.conn.execute("SELECT token FROM api_tokens"))

    def api_tokens(self) -> list[str]:
        with self.lock:
            return [r[0] for r in self.conn.execute("SELECT token FROM api_tokens ORDER BY created_at, token")]

    def add_api_token(self, token: str, label: str = "cli") -> None:
        with self.tx() as c:
            c.execute("INSERT OR IGNORE INTO api_tokens VALUES (?, ?, ?)", (token, label, format_timestamp(now_utc())))
        self._tokens = self._load_tokens()

    def is_api_token(self, token: str) -> bool:
        return any(secrets.compare_digest(token, t) for t in self._tokens)

    def meta(self) -> dict[str, str]:
        with self.lock:
            return dict(self.conn.execute("SELECT key, value FROM meta").fetchall())

    # -- schema extensions -----------------------------------------------------------------

    def custom_fields(self) -> list[CustomFieldDef]:
        with self.lock:
            rows = self.conn.execute("SELECT body FROM custom_field_defs ORDER BY seq").fetchall()
        return [CustomFieldDef.model_validate_json(r[0]) for r in rows]

    def custom_tables(self) -> list[CustomTableDef]:
        with self.lock:
            rows = self.conn.execute("SELECT body FROM custom_tables ORDER BY seq").fetchall()
        return [CustomTableDef.model_validate_json(r[0]) for r in rows]

    def object_names(self) -> list[str]:
        return [*OBJECTS, *self.tables]

    def devices(self, technician_id: int | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT body FROM devices", tuple[int, ...]()
        if technician_id is not None:
            sql, args = sql + " WHERE technician_id=?", (technician_id,)
        with self.lock:
            return [json.loads(r[0]) for r in self.conn.execute(sql + " ORDER BY technician_id, device_id", args)]

    def set_device(self, device: MobileDevice) -> None:
        with self.tx() as c:
            cur = c.execute("UPDATE devices SET body=? WHERE device_id=?", (device.model_dump_json(), device.device_id))
            if cur.rowcount == 0:
                raise RecordNotFound(device.device_id)

    # -- reads -------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        with self.lock:
            found = dict(self.conn.execute("SELECT object, COUNT(*) FROM records GROUP BY object").fetchall())
        return {name: int(found.get(name, 0)) for name in self.object_names()}

    def page(self, obj: str, *, offset: int, limit: int, since_key: str = "") -> tuple[list[str], int]:
        """Records of ``obj`` modified at/after ``since_key``, ordered by id: one page and the total count."""
        with self.lock:
            total = self.conn.execute("SELECT COUNT(*) FROM records WHERE object=? AND modified_key>=?",
                                      (obj, since_key)).fetchone()[0]
            rows = self.conn.execute(
                "SELECT body FROM records WHERE object=? AND modified_key>=? ORDER BY id LIMIT ? OFFSET ?",
                (obj, since_key, limit, offset)).fetchall()
        return [r[0] for r in rows], int(total)

    def get(self, obj: str, record_id: int) -> str | None:
        with self.lock:
            row = self.conn.execute("SELECT body FROM records WHERE object=? AND id=?", (obj, record_id)).fetchone()
        return None if row is None else str(row[0])

    def deletions(self, obj: str, since_key: str = "") -> list[dict[str, Any]]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT id, deleted_at FROM deletions WHERE object=? AND deleted_key>=? ORDER BY deleted_key, seq",
                (obj, since_key)).fetchall()
        return [{"id": r[0], "deleted_at": r[1]} for r in rows]

    def file(self, att_id: int) -> StoredFile | None:
        body = self.get("attachments", att_id)
        if body is None:
            return None
        with self.lock:
            row = self.conn.execute("SELECT content_seed FROM files WHERE id=?", (att_id,)).fetchone()
        if row is None:
            return None
        rec = json.loads(body)
        return StoredFile(att_id, str(rec["file_name"]), str(rec["content_type"]), int(rec["size_bytes"]), row[0])

    def blob_chunks(self, att_id: int) -> Iterator[bytes]:
        """The stored bytes of a brought-in file, 1 MiB at a time (incremental blob I/O)."""
        with self.lock:
            blob = self.conn.blobopen("files", "content", att_id, readonly=True)
        try:
            while True:
                with self.lock:
                    chunk = blob.read(BLOB_CHUNK)
                if not chunk:
                    return
                yield chunk
        finally:
            with self.lock:
                blob.close()

    # -- admin mutations (delta tests) -----------------------------------------------------

    def upsert_record(self, obj: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Create or edit a record as a user of the app would; ``modified_at`` moves strictly forward."""
        with self.tx() as c:
            rec_id = changes.get("id")
            row = None if rec_id is None else c.execute(
                "SELECT body FROM records WHERE object=? AND id=?", (obj, rec_id)).fetchone()
            now = now_utc().replace(microsecond=0)
            if row is not None:
                record: dict[str, Any] = json.loads(row[0])
                floor = parse_timestamp(record["modified_at"]) + timedelta(seconds=1)
                record.update(changes)
            else:
                record = dict.fromkeys(self._field_names(obj))
                record.update(changes)
                record["id"] = rec_id or self._next_id(c, obj)
                floor = now
                record["created_at"] = format_timestamp(now)
            if "modified_at" not in changes:
                record["modified_at"] = format_timestamp(max(now, floor))
            problems = self._check(obj, record)
            if problems:
                raise InvalidRecord(*problems[0])
            c.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)",
                      (obj, record["id"], modified_key(record["modified_at"]), json.dumps(record, ensure_ascii=False)))
        return record

    def delete_record(self, obj: str, record_id: int) -> str:
        with self.tx() as c:
            if c.execute("DELETE FROM records WHERE object=? AND id=?", (obj, record_id)).rowcount == 0:
                raise RecordNotFound(record_id)
            moment = now_utc().replace(microsecond=0)
            c.execute("INSERT INTO deletions (object, id, deleted_key, deleted_at) VALUES (?, ?, ?, ?)",
                      (obj, record_id, sort_key(moment), format_timestamp(moment)))
        return format_timestamp(moment)

    def _field_names(self, obj: str) -> list[str]:
        if obj in self.tables:
            return ["id", *(c.key for c in self.tables[obj].columns)]
        return OBJECTS[obj].field_names()

    def _check(self, obj: str, record: dict[str, Any]) -> list[tuple[str, str]]:
        if obj in self.tables:
            return check_custom_row(self.tables[obj], record)
        return check_record(obj, record, {d.key: d for d in self._defs if d.object == obj})

    @staticmethod
    def _next_id(c: sqlite3.Connection, obj: str) -> int:
        """Auto-increment that never reuses a deleted id (delta consumers would confuse the two)."""
        top = c.execute("SELECT MAX(id) FROM records WHERE object=?", (obj,)).fetchone()[0] or 0
        gone = c.execute("SELECT MAX(id) FROM deletions WHERE object=?", (obj,)).fetchone()[0] or 0
        return int(max(top, gone)) + 1


def _load(conn: sqlite3.Connection, source: TenantSource, token: str) -> None:
    conn.executemany("INSERT INTO meta VALUES (?, ?)", [
        ("format", STATE_FORMAT), ("tenant", source.name), ("generated_by", source.generated_by),
        ("seed", "" if source.seed is None else str(source.seed)), ("created_at", format_timestamp(now_utc())),
    ])
    conn.execute("INSERT INTO api_tokens VALUES (?, 'default', ?)", (token, format_timestamp(now_utc())))
    conn.executemany("INSERT INTO custom_field_defs (object, body) VALUES (?, ?)",
                     [(d.object, d.model_dump_json()) for d in source.custom_fields()])
    conn.executemany("INSERT INTO custom_tables (key, body) VALUES (?, ?)",
                     [(t.key, t.model_dump_json()) for t in source.custom_tables()])
    conn.executemany("INSERT INTO devices VALUES (?, ?, ?)",
                     [(d.device_id, d.technician_id, d.model_dump_json()) for d in source.devices()])
    for obj in source.object_names():
        rows = source.records(obj)
        if obj == "attachments":
            rows = _with_files(conn, source, rows)
        for batch in _chunks((obj, r["id"], modified_key(r["modified_at"]), json.dumps(r, ensure_ascii=False))
                             for r in rows):
            conn.executemany("INSERT INTO records VALUES (?, ?, ?, ?)", batch)


def _with_files(conn: sqlite3.Connection, source: TenantSource, rows: Iterator[dict[str, Any]]
                ) -> Iterator[dict[str, Any]]:
    """Pass attachment records through, storing each one's content source on the way."""
    for rec in rows:
        content = source.file_content(rec)
        if content.path is not None:
            size = content.path.stat().st_size
            conn.execute("INSERT INTO files VALUES (?, NULL, zeroblob(?))", (rec["id"], size))
            with conn.blobopen("files", "content", rec["id"]) as blob, content.path.open("rb") as fh:
                while chunk := fh.read(BLOB_CHUNK):
                    blob.write(chunk)
        else:
            conn.execute("INSERT INTO files VALUES (?, ?, NULL)", (rec["id"], content.seed))
        yield rec


__all__ = ["CUSTOM_PREFIX", "InvalidRecord", "RecordNotFound", "Store", "StoredFile"]
