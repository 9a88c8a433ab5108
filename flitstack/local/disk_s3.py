"""S3 object bodies on disk for the local engine, one file per object, no file held open.

moto 5.2.5 keeps each S3 object's body in a ``tempfile.SpooledTemporaryFile`` (``FakeKey._value_buffer``): in
memory up to ``MOTO_S3_DEFAULT_KEY_BUFFER_SIZE``, then in an anonymous temporary file that stays open as long
as the object lives. Either way a large tenant grows the engine: small bodies (a run's copied files are
200 B to 20 KB each, tens of thousands of them at a million records) stay on the heap, and spooled ones each
hold a file descriptor (the process limit is a few thousand to tens of thousands).

:func:`install` gives ``moto.s3.models`` a ``SpooledTemporaryFile`` of its own, :class:`DiskBody`: a body up
to ``memory_bytes`` stays in memory (manifests, outcomes, small JSON), a larger one is written to a file
under the engine's folder and every read or write opens it for that call only. FakeKey uses the buffer
through ``seek``/``read``/``write``/``truncate``/``close`` alone, which is what DiskBody implements; moto's
behaviour (ETags, ranges, copies, versions) is unchanged. :func:`uninstall` restores moto's own.
"""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import moto.s3.models as s3_models

#: Bodies up to this size stay in memory (a run's manifests, outcomes and checkpoints are a few hundred bytes).
MEMORY_BYTES = 2 * 1024

_state: dict[str, Any] = {}
_lock = threading.Lock()


class DiskBody:
    """A file-like body: bytes in memory up to ``memory_bytes``, beyond that a file opened per call."""

    def __init__(self, folder: Path, memory_bytes: int) -> None:
        self._folder = folder
        self._memory_bytes = memory_bytes
        self._data: bytearray | None = bytearray()
        self._path: Path | None = None
        self._pos = 0
        self.closed = False

    def _spill(self) -> Path:
        name = uuid.uuid4().hex
        path = self._folder / name[:2] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(self._data or b""))
        self._data, self._path = None, path
        return path

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            self._pos = offset
        elif whence == os.SEEK_CUR:
            self._pos += offset
        else:
            self._pos = self._size() + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def _size(self) -> int:
        if self._data is not None:
            return len(self._data)
        assert self._path is not None
        return self._path.stat().st_size

    def read(self, size: int = -1) -> bytes:
        if self._data is not None:
            end = len(self._data) if size is None or size < 0 else self._pos + size
            chunk = bytes(self._data[self._pos:end])
        else:
            assert self._path is not None
            with self._path.open("rb") as f:
                f.seek(self._pos)
                chunk = f.read(-1 if size is None else size)
        self._pos += len(chunk)
        return chunk

    def write(self, data: bytes) -> int:
        if self._data is not None and self._pos + len(data) > self._memory_bytes:
            self._spill()
        if self._data is not None:
            self._data[self._pos:self._pos + len(data)] = data
        else:
            assert self._path is not None
            with self._path.open("r+b") as f:
                f.seek(self._pos)
                f.write(data)
        self._pos += len(data)
        return len(data)

    def truncate(self, size: int | None = None) -> int:
        at = self._pos if size is None else size
        if self._data is not None:
            del self._data[at:]
        else:
            assert self._path is not None
            os.truncate(self._path, at)
        return at

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._path is not None:
            self._path.unlink(missing_ok=True)
        self._data, self._path = None, None

    def __del__(self) -> None:
        self.close()


class _TempfileModule(ModuleType):
    """What ``moto.s3.models`` sees as ``tempfile``: DiskBody for its spooled files, the rest as is."""

    def __init__(self, folder: Path, memory_bytes: int) -> None:
        super().__init__("tempfile")
        self.folder, self.memory_bytes = folder, memory_bytes

    def SpooledTemporaryFile(self, max_size: int = 0, *args: Any, **kwargs: Any) -> DiskBody:
        return DiskBody(self.folder, self.memory_bytes)

    def __getattr__(self, name: str) -> Any:
        return getattr(tempfile, name)


def install(folder: Path, memory_bytes: int = MEMORY_BYTES) -> None:
    """Keep S3 bodies larger than ``memory_bytes`` as files under ``folder`` (idempotent; a new folder wins)."""
    folder.mkdir(parents=True, exist_ok=True)
    with _lock:
        _state.setdefault("original", vars(s3_models)["tempfile"])
        setattr(s3_models, "tempfile", _TempfileModule(folder, memory_bytes))  # noqa: B010 - moto's module global


def uninstall() -> None:
    with _lock:
        if "original" in _state:
            setattr(s3_models, "tempfile", _state.pop("original"))  # noqa: B010
