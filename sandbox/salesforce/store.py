"""SQLite state of one stand-in org (one file, WAL).

Records are JSON documents in one ``records`` table (indexed by id and object); values of
external-id / unique fields are mirrored into ``record_keys`` so upserts, relationship
lookups and uniqueness checks are index lookups, not scans, and into ``query_keys`` in the form
SOQL compares them (:func:`query_key`), deleted records included, so ``WHERE Ext__c IN (...)``
reads only the records it can match. One connection is shared by the
request threads and the Bulk worker behind an ``RLock``; each write batch is one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.salesforce.ids import make_id
from sandbox.sqlite_store import SqliteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sequences(prefix TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    object TEXT NOT NULL,
    is_deleted INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_by_object ON records(object, is_deleted, seq);
CREATE TABLE IF NOT EXISTS record_keys(
    object TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS record_keys_lookup ON record_keys(object, field, value);
CREATE INDEX IF NOT EXISTS record_keys_by_id ON record_keys(id);
CREATE TABLE IF NOT EXISTS query_keys(
    object TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS query_keys_lookup ON query_keys(object, field, value, seq);
CREATE UNIQUE INDEX IF NOT EXISTS query_keys_by_seq ON query_keys(seq, field);
CREATE TABLE IF NOT EXISTS custom_objects(
    name TEXT PRIMARY KEY, id TEXT NOT NULL, key_prefix TEXT NOT NULL, metadata TEXT NOT NULL,
    created_date TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS custom_fields(
    object TEXT NOT NULL, name TEXT NOT NULL, id TEXT NOT NULL, metadata TEXT NOT NULL,
    created_date TEXT NOT NULL, PRIMARY KEY(object, name));
CREATE TABLE IF NOT EXISTS tokens(token TEXT PRIMARY KEY, user_id TEXT NOT NULL, issued_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS usage(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bulk_jobs(
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, info TEXT NOT NULL, data TEXT);
CREATE TABLE IF NOT EXISTS bulk_results(
    job_id TEXT NOT NULL, kind TEXT NOT NULL, csv TEXT NOT NULL, PRIMARY KEY(job_id, kind));
"""

DAY_S = 86_400.0


def sf_datetime(moment: datetime | None = None) -> str:
    """Salesforce's wire form of a datetime: ``2024-01-02T03:04:05.000+0000`` (always UTC)."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def query_key(value: Any) -> str | None:
    """A keyed field's value as SOQL's ``=`` / ``IN`` compare it (the evaluator's ``Executor.norm``):
    text case-folded, numbers as floats; None for what no string or number literal can equal."""
    if isinstance(value, str):
        return "s" + value.casefold()
    return normed_key(float(value)) if isinstance(value, int | float) and not isinstance(value, bool) else None


def normed_key(normed: Any) -> str | None:
    """:func:`query_key` of a value already normalised by the evaluator (a case-folded string or a float)."""
    if isinstance(normed, str):
        return "s" + normed
    return "n" + repr(normed) if isinstance(normed, float) else None


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Store(SqliteStore):
    """Thread-safe access to the org's SQLite file."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)
        self._seq = dict(self.conn.execute("SELECT prefix, value FROM sequences").fetchall())
        self._dirty_seq: set[str] = set()

    def _on_tx_end(self) -> None:
        self._flush_sequences()  # also after a rollback: counters stay monotonic, rolled-back ids are never reused

    @contextmanager
    def savepoint(self, name: str = "sp") -> Iterator[None]:
        """Roll back only the enclosed writes on error (used for allOrNone)."""
        with self.lock:
            self.conn.execute(f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                self.conn.execute(f"ROLLBACK TO {name}")
                self.conn.execute(f"RELEASE {name}")
                raise
            self.conn.execute(f"RELEASE {name}")

    # -- sequences ----------------------------------------------------------------------------
    def next_number(self, prefix: str) -> int:
        """Next value of a counter; written to the database when the enclosing transaction ends."""
        with self.tx():
            value = self._seq.get(prefix, 0) + 1
            self._seq[prefix] = value
            self._dirty_seq.add(prefix)
            return int(value)

    def _flush_sequences(self) -> None:
        if self._dirty_seq:
            rows = [(p, self._seq[p]) for p in self._dirty_seq]
            self._dirty_seq.clear()
            # inside the transaction before COMMIT, or autocommitted right after a ROLLBACK
            self.conn.executemany("INSERT OR REPLACE INTO sequences(prefix, value) VALUES (?, ?)", rows)

    def new_id(self, prefix: str) -> str:
        return make_id(prefix, self.next_number(prefix))

    # -- records ------------------------------------------------------------------------------
    def record_meta(self, record_id: str) -> tuple[str, bool] | None:
        with self.lock:
            row = self.conn.execute("SELECT object, is_deleted FROM records WHERE id=?", (record_id,)).fetchone()
        return (row[0], bool(row[1])) if row else None

    def get_record(self, record_id: str) -> tuple[str, dict[str, Any], bool] | None:
        with self.lock:
            row = self.conn.execute("SELECT object, data, is_deleted FROM records WHERE id=?", (record_id,)).fetchone()
        return (row[0], json.loads(row[1]), bool(row[2])) if row else None

    def get_records(self, ids: list[str]) -> dict[str, tuple[str, dict[str, Any], bool]]:
        out: dict[str, tuple[str, dict[str, Any], bool]] = {}
        with self.lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT id, object, data, is_deleted FROM records WHERE id IN ({marks})"  # noqa: S608
                for rid, obj, data, deleted in self.conn.execute(sql, chunk):
                    out[rid] = (obj, json.loads(data), bool(deleted))
        return out

    def records_of(self, obj: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        sql = (
            "SELECT data FROM records WHERE object=? ORDER BY seq"
            if include_deleted
            else "SELECT data FROM records WHERE object=? AND is_deleted=0 ORDER BY seq"
        )
        with self.lock:
            rows = self.conn.execute(sql, (obj,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def max_seq(self) -> int:
        """The newest record's position (a query locator reads no record written after it was opened)."""
        with self.lock:
            return int(self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()[0])

    def scan(
        self, obj: str, include_deleted: bool, *, after_seq: int = 0, upto_seq: int | None = None, chunk: int = 1000
    ) -> Iterator[list[tuple[int, dict[str, Any]]]]:
        """``obj``'s records in ``seq`` order after ``after_seq``, ``chunk`` rows per statement.

        The lock is held for one statement at a time, so writers interleave with a long scan, and only
        one chunk is decoded at a time: a query over any number of records holds ``chunk`` of them.
        """
        deleted = "" if include_deleted else " AND is_deleted=0"
        sql = (
            f"SELECT seq, data FROM records WHERE object=?{deleted} AND seq>? AND seq<=? "  # noqa: S608
            "ORDER BY seq LIMIT ?"
        )
        upto = upto_seq if upto_seq is not None else 2**62
        while True:
            with self.lock:
                rows = self.conn.execute(sql, (obj, after_seq, upto, chunk)).fetchall()
            if not rows:
                return
            yield [(int(seq), json.loads(data)) for seq, data in rows]
            if len(rows) < chunk:
                return
            after_seq = int(rows[-1][0])

    def records_by_seq(self, seqs: list[int], include_deleted: bool) -> list[tuple[int, dict[str, Any]]]:
        """The records at ``seqs``, in that order (those gone since are left out)."""
        found: dict[int, dict[str, Any]] = {}
        deleted = "" if include_deleted else " AND is_deleted=0"
        with self.lock:
            for start in range(0, len(seqs), 500):
                part = seqs[start : start + 500]
                marks = ",".join("?" * len(part))
                sql = f"SELECT seq, data FROM records WHERE seq IN ({marks}){deleted}"  # noqa: S608
                for seq, data in self.conn.execute(sql, part):
                    found[int(seq)] = json.loads(data)
        return [(s, found[s]) for s in seqs if s in found]

    def count_live_records(self) -> int:
        with self.lock:
            return int(self.conn.execute("SELECT COUNT(*) FROM records WHERE is_deleted=0").fetchone()[0])

    def insert_record(self, obj: str, record_id: str, data: dict[str, Any], keys: list[tuple[str, str]]) -> None:
        with self.tx() as c:
            cur = c.execute("INSERT INTO records(id, object, data) VALUES (?, ?, ?)", (record_id, obj, _dumps(data)))
            if keys:
                c.executemany(
                    "INSERT INTO record_keys(object, field, value, id) VALUES (?, ?, ?, ?)",
                    [(obj, f, v, record_id) for f, v in keys],
                )
                folded = ((f, query_key(data.get(f))) for f, _ in keys)
                c.executemany(
                    "INSERT INTO query_keys(object, field, value, seq) VALUES (?, ?, ?, ?)",
                    [(obj, f, v, cur.lastrowid) for f, v in folded if v is not None],
                )

    def update_record(
        self, obj: str, record_id: str, data: dict[str, Any], keys: dict[str, str | None] | None = None
    ) -> None:
        """Replace the document; ``keys`` maps changed keyed fields to their new index value (or None)."""
        with self.tx() as c:
            c.execute("UPDATE records SET data=? WHERE id=?", (_dumps(data), record_id))
            if keys:
                row = c.execute("SELECT seq FROM records WHERE id=?", (record_id,)).fetchone()
                if row:
                    self._set_query_keys(obj, int(row[0]), data, list(keys))
            for fname, value in (keys or {}).items():
                c.execute("DELETE FROM record_keys WHERE id=? AND field=?", (record_id, fname))
                if value is not None:
                    c.execute(
                        "INSERT INTO record_keys(object, field, value, id) VALUES (?, ?, ?, ?)",
                        (obj, fname, value, record_id),
                    )

    def delete_record(self, record_id: str, data: dict[str, Any], hard: bool) -> None:
        """Soft delete keeps the row (``queryAll`` sees it); hard delete removes it."""
        with self.tx() as c:
            c.execute("DELETE FROM record_keys WHERE id=?", (record_id,))
            if hard:  # a soft-deleted record keeps its query keys: queryAll still finds it
                c.execute("DELETE FROM query_keys WHERE seq IN (SELECT seq FROM records WHERE id=?)", (record_id,))
                c.execute("DELETE FROM records WHERE id=?", (record_id,))
            else:
                c.execute("UPDATE records SET is_deleted=1, data=? WHERE id=?", (_dumps(data), record_id))

    def find_by_key(self, obj: str, fname: str, value: str) -> list[str]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT id FROM record_keys WHERE object=? AND field=? AND value=?", (obj, fname, value)
            ).fetchall()
        return [r[0] for r in rows]

    def _set_query_keys(self, obj: str, seq: int, data: dict[str, Any], fields: list[str]) -> None:
        """Replace record ``seq``'s query keys of ``fields`` by their values in ``data`` (inside a transaction)."""
        for fname in fields:
            value = query_key(data.get(fname))
            if value is None:
                self.conn.execute("DELETE FROM query_keys WHERE seq=? AND field=?", (seq, fname))
            else:
                self.conn.execute(
                    "INSERT OR REPLACE INTO query_keys(object, field, value, seq) VALUES (?, ?, ?, ?)",
                    (obj, fname, value, seq),
                )

    def build_query_keys(self, keyed: dict[str, list[str]]) -> None:
        """Fill ``query_keys`` for ``keyed`` (object -> its keyed fields) once, for a state written before it
        existed; a state that has it keeps it current on every write."""
        if self.get_meta("query_keys") is not None:
            return
        with self.tx() as c:
            c.execute("DELETE FROM query_keys")
            for obj, fields in keyed.items():
                if fields:
                    self._index_query_keys(obj, fields)
            c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('query_keys', '1')")

    def _index_query_keys(self, obj: str, fields: list[str]) -> None:
        after = 0
        while True:
            rows = self.conn.execute(
                "SELECT seq, data FROM records WHERE object=? AND seq>? ORDER BY seq LIMIT 1000", (obj, after)
            ).fetchall()
            for seq, data in rows:
                self._set_query_keys(obj, int(seq), json.loads(data), fields)
            if len(rows) < 1000:
                return
            after = int(rows[-1][0])

    def seqs_by_id(self, obj: str, ids: list[str]) -> list[int]:
        """Positions of ``obj``'s records (deleted ones too) with these ids, ascending."""
        return self._seqs("SELECT seq FROM records WHERE object=? AND id IN ({})", [obj], ids)

    def seqs_by_query_key(self, obj: str, fname: str, values: list[str]) -> list[int]:
        """Positions of ``obj``'s records (deleted ones too) whose ``fname`` has one of these :func:`query_key`
        values, ascending."""
        sql = "SELECT seq FROM query_keys WHERE object=? AND field=? AND value IN ({})"
        return self._seqs(sql, [obj, fname], values)

    def _seqs(self, sql: str, head: list[Any], values: list[str]) -> list[int]:
        found: set[int] = set()
        with self.lock:
            for start in range(0, len(values), 500):
                part = values[start : start + 500]
                marks = ",".join("?" * len(part))
                found.update(int(r[0]) for r in self.conn.execute(sql.format(marks), [*head, *part]))
        return sorted(found)

    def scan_seqs(
        self, seqs: list[int], include_deleted: bool, *, after_seq: int = 0, upto_seq: int | None = None,
        chunk: int = 1000,
    ) -> Iterator[list[tuple[int, dict[str, Any]]]]:
        """What :meth:`scan` yields, restricted to the records at ``seqs`` (ascending): the same rows in the
        same order, for a query whose matches are all among them."""
        upto = upto_seq if upto_seq is not None else 2**62
        wanted = [s for s in seqs if after_seq < s <= upto]
        for start in range(0, len(wanted), chunk):
            rows = self.records_by_seq(wanted[start : start + chunk], include_deleted)
            if rows:
                yield rows

    def reindex_field(self, obj: str, fname: str, keyer: Any) -> None:
        """Build the key index for a field that just became external-id / unique."""
        with self.tx() as c:
            c.execute("DELETE FROM query_keys WHERE object=? AND field=?", (obj, fname))
            self._index_query_keys(obj, [fname])
            c.execute("DELETE FROM record_keys WHERE object=? AND field=?", (obj, fname))
            for rid, data in c.execute(
                "SELECT id, data FROM records WHERE object=? AND is_deleted=0", (obj,)
            ).fetchall():
                value = json.loads(data).get(fname)
                if value is not None:
                    c.execute(
                        "INSERT INTO record_keys(object, field, value, id) VALUES (?, ?, ?, ?)",
                        (obj, fname, keyer(value), rid),
                    )

    # -- custom schema --------------------------------------------------------------------------
    def custom_objects(self) -> list[tuple[str, str, str, dict[str, Any], str]]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT name, id, key_prefix, metadata, created_date FROM custom_objects ORDER BY rowid"
            ).fetchall()
        return [(n, i, p, json.loads(m), d) for n, i, p, m, d in rows]

    def custom_fields(self) -> list[tuple[str, str, str, dict[str, Any], str]]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT object, name, id, metadata, created_date FROM custom_fields ORDER BY rowid"
            ).fetchall()
        return [(o, n, i, json.loads(m), d) for o, n, i, m, d in rows]

    def add_custom_object(self, name: str, oid: str, prefix: str, metadata: dict[str, Any]) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO custom_objects(name, id, key_prefix, metadata, created_date) VALUES (?, ?, ?, ?, ?)",
                (name, oid, prefix, _dumps(metadata), sf_datetime()),
            )

    def add_custom_field(self, obj: str, name: str, fid: str, metadata: dict[str, Any]) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO custom_fields(object, name, id, metadata, created_date) VALUES (?, ?, ?, ?, ?)",
                (obj, name, fid, _dumps(metadata), sf_datetime()),
            )

    def remove_custom_field(self, obj: str, name: str) -> None:
        """The field is gone with its values (a field created again later starts empty)."""
        with self.tx() as c:
            c.execute("DELETE FROM custom_fields WHERE object = ? AND name = ?", (obj, name))
            c.execute("UPDATE records SET data = json_remove(data, ?) WHERE object = ?", (f'$."{name}"', obj))
            c.execute("DELETE FROM record_keys WHERE object = ? AND field = ?", (obj, name))
            c.execute("DELETE FROM query_keys WHERE object = ? AND field = ?", (obj, name))

    def remove_custom_object(self, name: str) -> None:
        """The object is gone with its fields and records."""
        with self.tx() as c:
            c.execute("DELETE FROM custom_objects WHERE name = ?", (name,))
            c.execute("DELETE FROM custom_fields WHERE object = ?", (name,))
            c.execute("DELETE FROM records WHERE object = ?", (name,))
            c.execute("DELETE FROM record_keys WHERE object = ?", (name,))
            c.execute("DELETE FROM query_keys WHERE object = ?", (name,))

    # -- tokens ---------------------------------------------------------------------------------
    def add_token(self, token: str, user_id: str) -> float:
        issued = time.time()
        with self.tx() as c:
            c.execute("INSERT INTO tokens(token, user_id, issued_at) VALUES (?, ?, ?)", (token, user_id, issued))
        return issued

    def token(self, token: str) -> tuple[str, float] | None:
        with self.lock:
            row = self.conn.execute("SELECT user_id, issued_at FROM tokens WHERE token=?", (token,)).fetchone()
        return (row[0], row[1]) if row else None

    def revoke_token(self, token: str) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM tokens WHERE token=?", (token,))

    # -- usage counters (rolling 24 h window) ----------------------------------------------------
    def usage(self) -> dict[str, int]:
        with self.lock:
            self._roll_window()
            return dict(self.conn.execute("SELECT name, value FROM usage").fetchall())

    def bump_usage(self, *names: str, by: int = 1) -> dict[str, int]:
        with self.tx() as c:
            self._roll_window()
            c.executemany(
                "INSERT INTO usage(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value=value+?",
                [(n, by, by) for n in names],
            )
            return dict(c.execute("SELECT name, value FROM usage").fetchall())

    def reset_usage(self) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM usage")
            c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('usage_window_start', ?)", (str(time.time()),))

    def _roll_window(self) -> None:
        start = self.get_meta("usage_window_start")
        now = time.time()
        if start is None or now - float(start) >= DAY_S:
            with self.tx() as c:
                c.execute("DELETE FROM usage")
                c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('usage_window_start', ?)", (str(now),))

    # -- bulk jobs ----------------------------------------------------------------------------------
    def save_job(self, info: dict[str, Any]) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO bulk_jobs(id, info) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET info=excluded.info",
                (info["id"], _dumps(info)),
            )

    def job(self, job_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.conn.execute("SELECT info FROM bulk_jobs WHERE id=?", (job_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def jobs(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.conn.execute("SELECT info FROM bulk_jobs ORDER BY seq").fetchall()
        return [json.loads(r[0]) for r in rows]

    def set_job_data(self, job_id: str, data: str) -> None:
        with self.tx() as c:
            c.execute("UPDATE bulk_jobs SET data=? WHERE id=?", (data, job_id))

    def job_data(self, job_id: str) -> str | None:
        with self.lock:
            row = self.conn.execute("SELECT data FROM bulk_jobs WHERE id=?", (job_id,)).fetchone()
        return row[0] if row else None

    def delete_job(self, job_id: str) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM bulk_jobs WHERE id=?", (job_id,))
            c.execute("DELETE FROM bulk_results WHERE job_id=?", (job_id,))

    def set_job_result(self, job_id: str, kind: str, text: str) -> None:
        with self.tx() as c:
            c.execute("INSERT OR REPLACE INTO bulk_results(job_id, kind, csv) VALUES (?, ?, ?)", (job_id, kind, text))

    def job_result(self, job_id: str, kind: str) -> str | None:
        with self.lock:
            row = self.conn.execute("SELECT csv FROM bulk_results WHERE job_id=? AND kind=?", (job_id, kind)).fetchone()
        return row[0] if row else None


def snapshot(state_path: str | Path) -> dict[str, Any]:
    """A canonical, comparable dump of an org: records per object and the custom schema.

    Counters, tokens and Bulk jobs are left out on purpose: two orgs holding the same data
    compare equal however they got there.
    """
    conn = sqlite3.connect(f"file:{Path(state_path)}?mode=ro", uri=True)
    try:
        records: dict[str, dict[str, Any]] = {}
        for rid, obj, data in conn.execute("SELECT id, object, data FROM records ORDER BY object, id"):
            records.setdefault(obj, {})[rid] = json.loads(data)
        objects = {
            n: {"id": i, "keyPrefix": p, "metadata": json.loads(m)}
            for n, i, p, m in conn.execute("SELECT name, id, key_prefix, metadata FROM custom_objects ORDER BY name")
        }
        fields = {
            f"{o}.{n}": {"id": i, "metadata": json.loads(m)}
            for o, n, i, m in conn.execute("SELECT object, name, id, metadata FROM custom_fields ORDER BY object, name")
        }
        org_id = conn.execute("SELECT value FROM meta WHERE key='org_id'").fetchone()
    finally:
        conn.close()
    return {
        "org_id": org_id[0] if org_id else None,
        "records": records,
        "schema": {"custom_objects": objects, "custom_fields": fields},
    }
