"""SQLite state of a Sercom stand-in tenant.

One file holds everything the API serves - records as JSON text keyed by
``(object, id)`` with a sortable ``updated_key``, custom-field definitions, automation
rules, attachment bytes, a deletions log and the API keys - so a stand-in can be stopped
and served again from the same file, and two processes never share in-memory state.

Paging is keyset paging on ``(object, updated_key, id)`` (indexed), which is what makes
"1,000 records per call" cheap at any depth and stable while records are being inserted.
Records are served as the stored JSON text, never re-parsed on the read path.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox.sercom.model import (
    OBJECT_ORDER,
    OBJECTS,
    AutomationRule,
    CustomFieldDef,
    CustomObjectDef,
    Tenant,
    format_timestamp,
    parse_timestamp,
    record_model,
    sort_key,
)

STATE_FORMAT = "sercom-state/1"
#: Upper bound for ``updated_key`` comparisons (sorts after every ISO timestamp).
KEY_MAX = "~"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE records (
    object TEXT NOT NULL,
    id TEXT NOT NULL,
    updated_key TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (object, id)
);
CREATE INDEX records_by_update ON records (object, updated_key, id);
CREATE TABLE custom_fields (seq INTEGER PRIMARY KEY, object TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE custom_objects (seq INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
CREATE TABLE automation_rules (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE attachment_blobs (id TEXT PRIMARY KEY, content BLOB NOT NULL);
CREATE TABLE deletions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    object TEXT NOT NULL,
    id TEXT NOT NULL,
    deleted_key TEXT NOT NULL,
    deleted_at TEXT NOT NULL
);
CREATE INDEX deletions_by_time ON deletions (object, deleted_key);
CREATE TABLE api_keys (key TEXT PRIMARY KEY, label TEXT NOT NULL, created_at TEXT NOT NULL);
"""


def updated_key(value: str) -> str:
    """The sortable key of an ``updated_at`` value (fast path for the generator's format)."""
    if len(value) == 20 and value[-1] == "Z" and value[10] == "T":
        return f"{value[:19]}.000000Z"
    return sort_key(parse_timestamp(value))


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Page:
    """One page of records as JSON texts plus the position after its last record."""

    rows: list[str]
    last: tuple[str, str] | None
    has_more: bool


#: Bytes read from the state per step of a file download.
FILE_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Attachment:
    """What serving an attachment's content needs: its metadata and where its bytes are (:meth:`Store.read`)."""

    id: str
    file_name: str
    content_type: str
    size: int
    rowid: int


class RecordNotFound(KeyError):
    """The object has no record with that id."""


class Store:
    """Access to one state file; safe to use from the server's worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"no stand-in state at {self.path}")
        self._local = threading.local()
        self._write_lock = threading.Lock()
        fmt = self._conn().execute("SELECT value FROM meta WHERE key='format'").fetchone()
        if fmt is None or fmt[0] != STATE_FORMAT:
            raise ValueError(f"{self.path} is not a Sercom stand-in state ({STATE_FORMAT})")
        self._keys = self._load_keys()

    # -- creation ------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, tenant: Tenant, *, api_key: str | None = None) -> Store:
        """Write a new state file from ``tenant`` (atomically: a crash leaves no half state)."""
        with building_state(path) as conn:
            write_meta(conn, tenant.name, tenant.generated_by, tenant.seed)
            _load_tenant(conn, tenant)
            write_definitions(conn, tenant.custom_fields, tenant.custom_objects, tenant.automation_rules)
            add_default_key(conn, api_key)
        return cls(path)

    def close(self) -> None:
        """Close this thread's connection (others close with their threads)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- connections ---------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- keys and metadata ---------------------------------------------------------------

    def _load_keys(self) -> frozenset[str]:
        return frozenset(r[0] for r in self._conn().execute("SELECT key FROM api_keys"))

    def api_keys(self) -> list[str]:
        return [r[0] for r in self._conn().execute("SELECT key FROM api_keys ORDER BY created_at, key")]

    def add_api_key(self, key: str, label: str = "cli") -> None:
        with self._write() as conn:
            conn.execute("INSERT OR IGNORE INTO api_keys VALUES (?, ?, ?)", (key, label, format_timestamp(now_utc())))
        self._keys = self._load_keys()

    def is_api_key(self, key: str) -> bool:
        return any(secrets.compare_digest(key, k) for k in self._keys)

    def meta(self) -> dict[str, str]:
        return dict(self._conn().execute("SELECT key, value FROM meta").fetchall())

    # -- reads -----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        found = dict(self._conn().execute("SELECT object, COUNT(*) FROM records GROUP BY object").fetchall())
        names = [*OBJECT_ORDER, *(c["name"] for c in self.custom_objects())]
        return {name: int(found.get(name, 0)) for name in names}

    def count(self, obj: str, since_key: str = "", before_key: str = KEY_MAX) -> int:
        row = self._conn().execute(
            "SELECT COUNT(*) FROM records WHERE object=? AND updated_key>=? AND updated_key<?",
            (obj, since_key, before_key),
        ).fetchone()
        return int(row[0])

    def page(
        self,
        obj: str,
        *,
        limit: int,
        after: tuple[str, str] | None = None,
        since_key: str = "",
        before_key: str = KEY_MAX,
    ) -> Page:
        """Records of ``obj`` ordered by ``(updated_key, id)`` strictly after ``after``."""
        after_key, after_id = after or ("", "")
        rows = self._conn().execute(
            "SELECT updated_key, id, body FROM records"
            " WHERE object=? AND (updated_key, id) > (?, ?) AND updated_key>=? AND updated_key<?"
            " ORDER BY updated_key, id LIMIT ?",
            (obj, after_key, after_id, since_key, before_key, limit + 1),
        ).fetchall()
        has_more = len(rows) > limit
        rows = rows[:limit]
        last = (rows[-1][0], rows[-1][1]) if rows else None
        return Page([r[2] for r in rows], last, has_more)

    def record_texts(self, obj: str) -> Iterator[str]:
        """Every record of ``obj`` as its stored JSON text, in id order, read as it is consumed."""
        for (body,) in self._conn().execute("SELECT body FROM records WHERE object=? ORDER BY id", (obj,)):
            yield str(body)

    def get(self, obj: str, record_id: str) -> str | None:
        row = self._conn().execute("SELECT body FROM records WHERE object=? AND id=?", (obj, record_id)).fetchone()
        return None if row is None else str(row[0])

    def custom_fields(self, obj: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT body FROM custom_fields", tuple[str, ...]()
        if obj is not None:
            sql, args = sql + " WHERE object=?", (obj,)
        return [json.loads(r[0]) for r in self._conn().execute(sql + " ORDER BY seq", args)]

    def custom_objects(self) -> list[dict[str, Any]]:
        """The tenant's own objects (definitions); none in a state file written before they existed."""
        try:
            rows = self._conn().execute("SELECT body FROM custom_objects ORDER BY seq").fetchall()
        except sqlite3.OperationalError:
            return []
        return [json.loads(r[0]) for r in rows]

    def automation_rules(self) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in self._conn().execute("SELECT body FROM automation_rules ORDER BY seq")]

    def tenant(self) -> Tenant:
        """Everything the state holds, in memory, records in the order they were stored (small tenants:
        tests, dumps)."""
        conn, meta = self._conn(), self.meta()
        custom_objects = [CustomObjectDef.model_validate(c) for c in self.custom_objects()]
        records = {
            name: [json.loads(body) for (body,) in conn.execute(
                "SELECT body FROM records WHERE object=? ORDER BY rowid", (name,))]
            for name in [*OBJECT_ORDER, *(c.name for c in custom_objects)]
        }
        return Tenant(
            name=meta["tenant"],
            records=records,
            custom_fields=[CustomFieldDef.model_validate(d) for d in self.custom_fields()],
            custom_objects=custom_objects,
            automation_rules=[AutomationRule.model_validate(r) for r in self.automation_rules()],
            attachment_content={
                att_id: bytes(content)
                for att_id, content in conn.execute("SELECT id, content FROM attachment_blobs ORDER BY rowid")
            },
            seed=int(meta["seed"]) if meta.get("seed") else None,
            generated_by=meta.get("generated_by", "unknown"),
        )

    def attachment(self, att_id: str) -> Attachment | None:
        body = self.get("attachments", att_id)
        if body is None:
            return None
        row = self._conn().execute(
            "SELECT rowid, length(content) FROM attachment_blobs WHERE id=?", (att_id,)
        ).fetchone()
        if row is None:
            return None
        meta = json.loads(body)
        return Attachment(att_id, str(meta.get("file_name") or att_id),
                          str(meta.get("content_type") or "application/octet-stream"), int(row[1]), int(row[0]))

    def read(self, att: Attachment) -> Iterator[bytes]:
        """An attachment's bytes, :data:`FILE_CHUNK` at a time, so a download holds one chunk in memory.

        On a connection of its own: a response's chunks are read from whichever worker thread is free.
        """
        conn = sqlite3.connect(self.path, check_same_thread=False)
        try:
            with conn.blobopen("attachment_blobs", "content", att.rowid, readonly=True) as blob:
                while chunk := blob.read(FILE_CHUNK):
                    yield chunk
        finally:
            conn.close()

    def deletions(self, obj: str, since_key: str = "") -> list[dict[str, str]]:
        rows = self._conn().execute(
            "SELECT id, deleted_at FROM deletions WHERE object=? AND deleted_key>=? ORDER BY deleted_key, seq",
            (obj, since_key),
        ).fetchall()
        return [{"id": r[0], "deleted_at": r[1]} for r in rows]

    # -- mutations (delta-pickup tests) ------------------------------------------------------

    def upsert_record(self, obj: str, record: dict[str, Any]) -> dict[str, Any]:
        """Create or modify a record, as a user editing it in Sercom would.

        Fields given replace stored ones (others are kept). ``updated_at`` moves to now - and
        always strictly forward, so the change is visible to ``updated_since`` - unless the
        caller supplies it. A new record without ``id`` gets the next id of the object. An
        attachment may carry ``content_base64``; its size and sha256 are then recomputed.
        """
        spec = OBJECTS[obj]
        record = dict(record)
        content_b64 = record.pop("content_base64", None)
        with self._write() as conn:
            rec_id = record.get("id") or self._next_id(conn, obj)
            row = conn.execute("SELECT body FROM records WHERE object=? AND id=?", (obj, rec_id)).fetchone()
            now = now_utc()
            if row is not None:
                merged: dict[str, Any] = json.loads(row[0])
                previous = parse_timestamp(merged["updated_at"])
                merged.update(record)
            else:
                merged = {name: None for name in spec.field_names()}
                merged.update(record)
                previous = now - timedelta(seconds=1)
                merged.setdefault("created_at", None)
            merged["id"] = rec_id
            if "updated_at" not in record or record["updated_at"] is None:
                # Whole seconds like every generated stamp, so clients comparing the strings of
                # one tenant stay right; a second edit within the same second moves 1 s ahead.
                floor = previous.replace(microsecond=0) + timedelta(seconds=1)
                merged["updated_at"] = format_timestamp(max(now.replace(microsecond=0), floor))
            if not merged.get("created_at"):
                merged["created_at"] = merged["updated_at"]
            if obj == "attachments" and content_b64 is not None:
                content = base64.b64decode(content_b64, validate=True)
                merged["size_bytes"] = len(content)
                merged["sha256"] = hashlib.sha256(content).hexdigest()
                conn.execute("INSERT OR REPLACE INTO attachment_blobs VALUES (?, ?)", (rec_id, content))
            valid = record_model(obj).model_validate(merged)
            merged["created_at"] = valid.created_at  # type: ignore[attr-defined]
            merged["updated_at"] = valid.updated_at  # type: ignore[attr-defined]
            conn.execute(
                "INSERT OR REPLACE INTO records (object, id, updated_key, body) VALUES (?, ?, ?, ?)",
                (obj, rec_id, updated_key(merged["updated_at"]), json.dumps(merged, ensure_ascii=False)),
            )
        return merged

    def delete_record(self, obj: str, record_id: str) -> str:
        """Delete a record and log it for ``/deleted/{object}``; returns ``deleted_at``."""
        with self._write() as conn:
            cur = conn.execute("DELETE FROM records WHERE object=? AND id=?", (obj, record_id))
            if cur.rowcount == 0:
                raise RecordNotFound(record_id)
            if obj == "attachments":
                conn.execute("DELETE FROM attachment_blobs WHERE id=?", (record_id,))
            moment = now_utc().replace(microsecond=0)
            deleted_at = format_timestamp(moment)
            conn.execute(
                "INSERT INTO deletions (object, id, deleted_key, deleted_at) VALUES (?, ?, ?, ?)",
                (obj, record_id, sort_key(moment), deleted_at),
            )
        return deleted_at

    @staticmethod
    def _next_id(conn: sqlite3.Connection, obj: str) -> str:
        prefix = OBJECTS[obj].prefix + "_"
        row = conn.execute(
            "SELECT id FROM records WHERE object=? AND id >= ? AND id < ? ORDER BY length(id) DESC, id DESC LIMIT 1",
            (obj, prefix + "0", prefix + ":"),
        ).fetchone()
        number = int(row[0][len(prefix):]) + 1 if row and row[0][len(prefix):].isdigit() else 1
        logged = conn.execute(
            "SELECT id FROM deletions WHERE object=? AND id >= ? AND id < ?", (obj, prefix + "0", prefix + ":")
        ).fetchall()
        for (old,) in logged:  # never reuse a deleted id: delta consumers would confuse the two
            if old[len(prefix):].isdigit():
                number = max(number, int(old[len(prefix):]) + 1)
        return f"{prefix}{number:06d}"


@contextmanager
def building_state(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to a new state file, with the schema in place, inside one transaction.

    The file appears at ``path`` only when the block completes (it is written under a temporary name and
    renamed), so a crash or an error leaves no half state behind.
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} already exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    leftovers = (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"))
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.executescript(_SCHEMA)
        conn.execute("BEGIN")
        yield conn
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except BaseException:
        conn.close()
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
        raise
    conn.close()
    os.replace(tmp, path)


def write_meta(conn: sqlite3.Connection, tenant: str, generated_by: str, seed: int | None) -> None:
    conn.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [
            ("format", STATE_FORMAT),
            ("tenant", tenant),
            ("generated_by", generated_by),
            ("seed", "" if seed is None else str(seed)),
            ("created_at", format_timestamp(now_utc())),
        ],
    )


def write_definitions(
    conn: sqlite3.Connection,
    custom_fields: Iterable[CustomFieldDef],
    custom_objects: Iterable[CustomObjectDef],
    automation_rules: Iterable[AutomationRule],
) -> None:
    conn.executemany("INSERT INTO custom_fields (object, body) VALUES (?, ?)",
                     ((d.object, d.model_dump_json()) for d in custom_fields))
    conn.executemany("INSERT INTO custom_objects (name, body) VALUES (?, ?)",
                     ((c.name, c.model_dump_json()) for c in custom_objects))
    conn.executemany("INSERT INTO automation_rules (body) VALUES (?)",
                     ((r.model_dump_json(),) for r in automation_rules))


def add_default_key(conn: sqlite3.Connection, api_key: str | None) -> None:
    """The state's first API key: ``api_key``, or a random one."""
    conn.execute(
        "INSERT INTO api_keys VALUES (?, 'default', ?)",
        (api_key or secrets.token_urlsafe(24), format_timestamp(now_utc())),
    )


def _load_tenant(conn: sqlite3.Connection, tenant: Tenant) -> None:
    for name in tenant.object_names():
        conn.executemany(
            "INSERT INTO records (object, id, updated_key, body) VALUES (?, ?, ?, ?)",
            (
                (name, rec["id"], updated_key(rec["updated_at"]), json.dumps(rec, ensure_ascii=False))
                for rec in tenant.records.get(name, [])
            ),
        )
    conn.executemany("INSERT INTO attachment_blobs VALUES (?, ?)", tenant.attachment_content.items())


__all__ = ["Attachment", "AutomationRule", "CustomFieldDef", "Page", "RecordNotFound", "Store", "updated_key"]
