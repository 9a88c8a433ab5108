"""The merged crosswalk snapshot of a destination object: an SQLite file in S3, read by point queries.

After each level ``load.verify_level`` merges the level's crosswalk parts (one JSON object per batch) into
``Keys.xwalk_merged(dest_object)``: one table ``xwalk(key TEXT PRIMARY KEY, id TEXT) WITHOUT ROWID``,
``"<source object>:<source id>"`` -> destination id. Every reader (transform lookups, conversions, the
fix-up pass, reconciliation of objects without the external id, the sample's diff) opens it with
:func:`open_snapshot`: a read-only :class:`~collections.abc.Mapping` whose ``get`` is one indexed query, so
no process parses a whole snapshot and no reader's heap grows with the tenant (D-054).

The file is downloaded once per (bucket, key, ETag) per process into a folder under the temporary directory
(Lambda's ``/tmp``): all batches of a level in one container (locally: the one engine process) share one
copy. A newer version of the same key replaces the older file; at most :data:`CACHED_KEYS` keys are kept
(least recently opened ones are deleted first). Each snapshot has its own read-only connection
(``mode=ro&immutable=1``: the cached file never changes), usable from any thread.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import sqlite3
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

#: S3 content type of a snapshot (IANA's registration for SQLite 3 files).
CONTENT_TYPE = "application/vnd.sqlite3"
#: Snapshot files one process keeps on disk (each the newest version of its key).
CACHED_KEYS = 32
#: Page cache of one reader's connection, in KiB (SQLite's default is 2,000).
READER_CACHE_KIB = 1024

#: Keys per ``IN (...)`` query of ``get_many`` (below SQLite's 999 host parameters of older builds).
MANY_CHUNK = 500
_SCHEMA = "CREATE TABLE IF NOT EXISTS xwalk (key TEXT PRIMARY KEY, id TEXT NOT NULL) WITHOUT ROWID"
_GET = "SELECT id FROM xwalk WHERE key = ?"
_UPSERT = "INSERT OR REPLACE INTO xwalk (key, id) VALUES (?, ?)"


class SnapshotBlobs(Protocol):
    """What snapshots need of the data bucket (:class:`shared.aws.BlobStore`)."""

    def etag(self, key: str) -> str | None: ...

    def download(self, key: str, path: str) -> str | None: ...

    def upload_file(self, key: str, path: str, content_type: str = ...) -> str: ...

    def get_json(self, key: str) -> Any: ...


class Snapshot(Mapping[str, str]):
    """A read-only mapping over one snapshot file (or an empty one); every lookup is an SQL point query."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._local = threading.local()  # a cursor per thread: a point query without making one each time

    def _cursor(self) -> sqlite3.Cursor:
        cur: sqlite3.Cursor | None = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._local.cursor = self._db.cursor()
        return cur

    @classmethod
    def empty(cls) -> Snapshot:
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.execute(_SCHEMA)
        return cls(db)

    @classmethod
    def open(cls, path: Path) -> Snapshot:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        db.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
        return cls(db)

    def get(self, key: str, default: Any = None) -> Any:
        row = self._cursor().execute(_GET, (key,)).fetchone()
        return default if row is None else row[0]

    def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        """The entries of ``keys`` the snapshot holds, read :data:`MANY_CHUNK` keys a query."""
        unique = sorted(set(keys))
        found: dict[str, str] = {}
        cur = self._cursor()
        for i in range(0, len(unique), MANY_CHUNK):
            chunk = unique[i:i + MANY_CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(cur.execute(f"SELECT key, id FROM xwalk WHERE key IN ({marks})", chunk))  # noqa: S608
        return found

    def __getitem__(self, key: str) -> str:
        row = self._cursor().execute(_GET, (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return str(row[0])

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._cursor().execute(_GET, (key,)).fetchone() is not None

    def __iter__(self) -> Iterator[str]:
        return (k for (k,) in self._db.execute("SELECT key FROM xwalk ORDER BY key"))

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM xwalk").fetchone()[0])

    def items(self) -> ItemsView[str, str]:
        """Every (key, id) in key order, read as iterated (one query, not one per key)."""
        return _Items(self)

    def rows(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        """(key, id) of the keys starting with ``prefix``, in key order, as the query reads them."""
        if not prefix:
            return ((str(k), str(v)) for k, v in self._db.execute("SELECT key, id FROM xwalk ORDER BY key"))
        return ((str(k), str(v)) for k, v in self._db.execute(
            "SELECT key, id FROM xwalk WHERE key >= ? AND key < ? ORDER BY key", (prefix, _after(prefix))))

    def by_id(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        """(id, key) of the keys starting with ``prefix``, in id order (SQLite sorts, spilling to disk
        past its cache): what a read of the destination by recorded ids walks through."""
        if not prefix:
            return ((str(v), str(k)) for k, v in self._db.execute("SELECT key, id FROM xwalk ORDER BY id, key"))
        return ((str(v), str(k)) for k, v in self._db.execute(
            "SELECT key, id FROM xwalk WHERE key >= ? AND key < ? ORDER BY id, key", (prefix, _after(prefix))))

    def close(self) -> None:
        self._db.close()


class _Items(ItemsView[str, str]):
    _mapping: Snapshot

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return self._mapping.rows()


def _after(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix`` (non-empty)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


# --- the per-process cache of downloaded snapshots ---------------------------------------------------------------

_lock = threading.Lock()
#: (bucket, key) -> (ETag, file), least recently opened first.
_cached: OrderedDict[tuple[str, str], tuple[str, Path]] = OrderedDict()
#: (bucket, key) -> the lock its downloads and replacements take (one download per version at a time).
_key_locks: dict[tuple[str, str], threading.Lock] = {}
#: The process's cache folder, once made (one entry).
_folder: list[Path] = []


def cache_folder() -> Path:
    """This process's snapshot folder under the temporary directory (removed when the process exits)."""
    with _lock:
        if not _folder or not _folder[0].is_dir():
            made = Path(tempfile.mkdtemp(prefix=f"flitstack-xwalk-{os.getpid()}-"))
            atexit.register(shutil.rmtree, made, True)
            _folder[:] = [made]
        return _folder[0]


def clear_cache() -> None:
    """Forget and delete every cached snapshot file (open snapshots keep reading theirs)."""
    with _lock:
        stale = [path for _, path in _cached.values()]
        _cached.clear()
    for path in stale:
        path.unlink(missing_ok=True)


def cached_files() -> list[Path]:
    """The snapshot files this process keeps (newest version of each key), least recently opened first."""
    with _lock:
        return [path for _, path in _cached.values()]


def _name(bucket: str, key: str, etag: str) -> str:
    return hashlib.sha256(f"{bucket}\0{key}\0{etag}".encode()).hexdigest()[:32] + ".sqlite"


def _key_lock(ident: tuple[str, str]) -> threading.Lock:
    with _lock:
        return _key_locks.setdefault(ident, threading.Lock())


def _remember(ident: tuple[str, str], etag: str, path: Path) -> None:
    """Record ``path`` as the newest copy of ``ident`` (caller holds its key lock); delete what it supersedes
    and, past :data:`CACHED_KEYS`, the least recently opened keys' files. A reader that opened a deleted
    file keeps reading it (its connection holds the file open)."""
    with _lock:
        old = _cached.pop(ident, None)
        _cached[ident] = (etag, path)
        evicted = [old[1]] if old is not None and old[1] != path else []
        while len(_cached) > CACHED_KEYS:
            evicted.append(_cached.popitem(last=False)[1][1])
    for stale in evicted:
        stale.unlink(missing_ok=True)


def _bucket(blobs: object) -> str:
    return str(getattr(blobs, "bucket", ""))


def open_snapshot(blobs: SnapshotBlobs, key: str) -> Snapshot:
    """The snapshot at ``key`` as a read-only mapping; an empty one when there is no such object.

    One HEAD per call; one download per new version per process (concurrent callers wait for it)."""
    etag = blobs.etag(key)
    if etag is None:
        return Snapshot.empty()
    ident = (_bucket(blobs), key)
    with _key_lock(ident):
        with _lock:
            hit = _cached.get(ident)
            if hit is not None:
                _cached.move_to_end(ident)
        if hit is not None and hit[0] != etag:
            # another thread may have fetched or published a newer version since our HEAD: ask again
            etag = blobs.etag(key)
            if etag is None:
                return Snapshot.empty()
        if hit is not None and hit[0] == etag:
            try:
                return Snapshot.open(hit[1])
            except sqlite3.OperationalError:  # evicted meanwhile (another key's download): fetch it again
                pass
        folder = cache_folder()
        part = folder / f"download-{uuid.uuid4().hex}"
        got = blobs.download(key, str(part))
        if got is None:  # deleted since the HEAD
            return Snapshot.empty()
        path = folder / _name(*ident, got)
        part.replace(path)
        _remember(ident, got, path)
        return Snapshot.open(path)


def _working_copy(blobs: SnapshotBlobs, key: str) -> Path:
    """A writable copy of the snapshot at ``key`` (the cached file copied, or downloaded), or a new empty file."""
    folder = cache_folder()
    work = folder / f"merge-{uuid.uuid4().hex}.sqlite"
    ident = (_bucket(blobs), key)
    etag = blobs.etag(key)
    with _lock:
        hit = _cached.get(ident)
    if etag is not None and hit is not None and hit[0] == etag and hit[1].exists():
        try:
            shutil.copyfile(hit[1], work)
            return work
        except FileNotFoundError:  # replaced meanwhile: download below
            pass
    if etag is not None:
        blobs.download(key, str(work))
    return work


def _publish(blobs: SnapshotBlobs, key: str, work: Path) -> None:
    """Upload ``work`` to ``key`` and keep it as this process's cached copy of the new version."""
    ident = (_bucket(blobs), key)
    with _key_lock(ident):
        etag = blobs.upload_file(key, str(work), CONTENT_TYPE)
        path = work.with_name(_name(*ident, etag))
        work.replace(path)
        _remember(ident, etag, path)


def merge(blobs: SnapshotBlobs, key: str, parts: Iterable[str],
          aliases: Callable[[Mapping[str, str]], Mapping[str, str]] | None = None) -> int:
    """Merge crosswalk parts (S3 JSON objects ``{key: id}``, read one at a time, later parts winning) into the
    snapshot at ``key``, then the entries ``aliases`` derives from the merged result (merged duplicates), and
    upload it. Idempotent: merging the same parts again gives the same snapshot. Returns its entry count."""
    work = _working_copy(blobs, key)
    try:
        db = sqlite3.connect(work)
        try:
            db.execute("PRAGMA journal_mode=OFF")  # a private file: on failure it is thrown away
            db.execute("PRAGMA synchronous=OFF")
            db.execute(_SCHEMA)
            for part in parts:
                db.executemany(_UPSERT, ((str(k), str(v)) for k, v in dict(blobs.get_json(part)).items()))
            if aliases is not None:
                extra = aliases(Snapshot(db))
                db.executemany(_UPSERT, ((str(k), str(v)) for k, v in extra.items()))
            db.commit()
            count = int(db.execute("SELECT count(*) FROM xwalk").fetchone()[0])
        finally:
            db.close()
        _publish(blobs, key, work)
    finally:
        work.unlink(missing_ok=True)
    return count


def write_snapshot(blobs: SnapshotBlobs, key: str, mapping: Mapping[str, str]) -> None:
    """Write ``mapping`` as the whole snapshot at ``key`` (fixtures, tests, tools)."""
    work = cache_folder() / f"write-{uuid.uuid4().hex}.sqlite"
    try:
        db = sqlite3.connect(work)
        try:
            db.execute(_SCHEMA)
            db.executemany(_UPSERT, ((str(k), str(v)) for k, v in mapping.items()))
            db.commit()
        finally:
            db.close()
        _publish(blobs, key, work)
    finally:
        work.unlink(missing_ok=True)
