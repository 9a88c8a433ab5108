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

A completed multipart upload is written part by part: moto's ``FakeMultipart.complete`` joins every part into one
``bytearray``, copies it to ``bytes`` and again into its checksum builder before the new object's body is written
(about four times the object in memory: the 90 MB ``audit.csv`` of a 500k run took the engine from 860 MiB to
1.1 GiB). :func:`install` puts :func:`_complete_by_parts` in its place, the same checks, ETag and checksums: it
appends the parts one at a time to a DiskBody of its own and hands the new object a :class:`PartsBody`, which
the object's DiskBody adopts (the file changes owner, nothing is copied).

Each object costs less: :class:`SlimKey`, moto's ``FakeKey`` with nine of its 35 attributes in slots, is what
moto builds while installed (CPython 3.11 shares an instance dict's keys across a class only up to 30
attributes, so every FakeKey had a 1,584-byte dict of its own: 2.2 KiB an object instead of 3.4). Its ETag is
computed from 1 MiB reads (moto's reads 16 MB at a time: a 16 MiB block on the heap for every large object stored).

A GET streams a body kept in a file: moto's ``get_object`` answers with ``key.value``, the whole object read into
``bytes`` before the first byte is sent, and a ranged GET reads it whole to slice it (a 40 MB crosswalk snapshot
fetched by the next level's transforms was a 76 MiB step in the engine's peak). Through the server, :func:`install`
has ``get_object`` answer with a :class:`FileRange` instead: the object's file opened once under the key's lock,
read 1 MiB at a time as werkzeug writes it, a range read from its own offset. Rewriting a body from its start gives
it a new file, so a GET in flight keeps sending the version it began with.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import importlib.util
import os
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import moto.s3.models as s3_models
import moto.s3.utils as s3_utils
from moto.core.model_instances import model_data
from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML
from moto.s3.responses import S3Response
from moto.utilities.utils import md5_hash
from werkzeug.wrappers import Request as ServerRequest

#: Bodies up to this size stay in memory (a run's manifests, outcomes and checkpoints are a few hundred bytes).
MEMORY_BYTES = 2 * 1024
#: The block an object's ETag is computed from, read by read (moto's own reads 16 MB blocks).
ETAG_BLOCK = 1024 * 1024

#: Bytes read at a time when one body is copied into another.
COPY_BYTES = 8 * 1024 * 1024

#: Bytes read at a time when a GET sends a body kept in a file.
SEND_BYTES = 1024 * 1024

_state: dict[str, Any] = {}
_lock = threading.Lock()


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class DiskBody:
    """A file-like body: bytes in memory up to ``memory_bytes``, beyond that a file opened per call.

    One lives as long as its S3 object, so it is kept small (slots, the file's path a ``str``: a ``Path`` and an
    instance dict were ~400 of the ~4,000 bytes an object costs the engine)."""

    __slots__ = ("_data", "_folder", "_memory_bytes", "_path", "_pos", "closed")

    def __init__(self, folder: Path | str, memory_bytes: int) -> None:
        self._folder = str(folder)
        self._memory_bytes = memory_bytes
        self._data: bytearray | None = bytearray()
        self._path: str | None = None
        self._pos = 0
        self.closed = False

    def _spill(self) -> str:
        name = uuid.uuid4().hex
        parent = os.path.join(self._folder, name[:2])
        os.makedirs(parent, exist_ok=True)
        path = os.path.join(parent, name)
        with open(path, "wb") as f:
            f.write(self._data or b"")
        self._data, self._path = None, path
        return path

    def _check_open(self) -> None:
        if self.closed:  # as a closed file does (moto's dashboard reads disposed keys and expects this)
            raise ValueError("I/O operation on closed file.")

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._check_open()
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
        return os.stat(self._path).st_size

    def read(self, size: int = -1) -> bytes:
        self._check_open()
        if self._data is not None:
            end = len(self._data) if size is None or size < 0 else self._pos + size
            chunk = bytes(self._data[self._pos:end])
        else:
            assert self._path is not None
            # unbuffered: a buffered read of the whole file joins chunks (twice the body in memory at once)
            with open(self._path, "rb", buffering=0) as f:
                f.seek(self._pos)
                chunk = f.readall() if size is None or size < 0 else f.read(size)
        self._pos += len(chunk)
        return chunk

    def write(self, data: bytes | PartsBody) -> int:
        self._check_open()
        if isinstance(data, PartsBody):
            return self._adopt(data.body)
        if self._data is not None and self._pos + len(data) > self._memory_bytes:
            self._spill()
        if self._data is not None:
            self._data[self._pos:self._pos + len(data)] = data
        else:
            assert self._path is not None
            with open(self._path, "r+b") as f:
                f.seek(self._pos)
                f.write(data)
        self._pos += len(data)
        return len(data)

    def _adopt(self, other: DiskBody) -> int:
        """Write ``other``'s bytes here and close it: by taking its memory or file when this body is empty."""
        size = other._size()
        if self._pos == 0 and self._size() == 0:
            if self._path is not None:
                _unlink(self._path)
            self._data, self._path = other._data, other._path
            other._data, other._path, other.closed = None, None, True
            self._pos = size
            return size
        other.seek(0)
        while chunk := other.read(COPY_BYTES):
            self.write(chunk)
        other.close()
        return size

    def truncate(self, size: int | None = None) -> int:
        self._check_open()
        at = self._pos if size is None else size
        if self._data is not None:
            del self._data[at:]
        elif at == 0:  # rewritten from the start: a new file (a GET still sending the old one keeps it open)
            assert self._path is not None
            _unlink(self._path)
            self._data, self._path = bytearray(), None
        else:
            assert self._path is not None
            os.truncate(self._path, at)
        return at

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._path is not None:
            _unlink(self._path)
        self._data, self._path = None, None

    def __del__(self) -> None:
        self.close()

    def open_range(self) -> FileRange | None:
        """The whole body as a :class:`FileRange` when it is kept in a file; None when it is in memory."""
        if self._path is None:
            return None
        fd = os.open(self._path, os.O_RDONLY)
        return FileRange(fd, 0, os.fstat(fd).st_size)


class FileRange:
    """Bytes ``start`` to ``start + size`` of an open file, as a response body: ``len``, slicing (a range of the
    range, on a descriptor of its own) and iteration in :data:`SEND_BYTES` chunks. Closes its descriptor when
    werkzeug closes the response (or when it is dropped unsent)."""

    def __init__(self, fd: int, start: int, size: int) -> None:
        self._fd: int | None = fd
        self._start, self._size = start, size

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, part: slice) -> FileRange:
        if not isinstance(part, slice) or part.step not in (None, 1):
            raise TypeError(f"a FileRange is sliced by a contiguous slice, not {part!r}")
        begin, end, _ = part.indices(self._size)
        assert self._fd is not None
        return FileRange(os.dup(self._fd), self._start + begin, max(0, end - begin))

    def __iter__(self) -> Iterator[bytes]:
        at, left = self._start, self._size
        try:
            while left > 0 and self._fd is not None:
                chunk = os.pread(self._fd, min(SEND_BYTES, left), at)
                if not chunk:
                    raise OSError(f"S3 body file ended {left} bytes early")
                at, left = at + len(chunk), left - len(chunk)
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:
        self.close()


class _StreamingKey:
    """A FakeKey as ``S3Response.get_object`` reads it, but ``value`` a :class:`FileRange` when the body is a file."""

    def __init__(self, key: Any) -> None:
        self._key = key

    def __getattr__(self, name: str) -> Any:
        return getattr(self._key, name)

    @property
    def value(self) -> bytes | FileRange:
        buffer = self._key._value_buffer
        with self._key.lock:
            body = buffer.open_range() if isinstance(buffer, DiskBody) else None
        return self._key.value if body is None else body


def _get_object_streamed(self: Any) -> Any:
    """``S3Response.get_object``, its key's file-kept body sent as a :class:`FileRange` when served over HTTP (in
    moto's in-process mock the botocore stubber wants bytes)."""
    if not isinstance(self.request, ServerRequest):
        return _state["get_object"](self)
    get_key = self._get_key

    def streaming_get_key(*args: Any, **kwargs: Any) -> tuple[Any, bool]:
        key, not_modified = get_key(*args, **kwargs)
        return _StreamingKey(key), not_modified

    self._get_key = streaming_get_key  # this request's instance only
    try:
        return _state["get_object"](self)
    finally:
        del self._get_key  # (it refers to the instance: a cycle holding the request until a full gc pass)


class PartsBody:
    """The body of a completed multipart upload, its parts already copied one by one into a DiskBody of its
    own: what moto's ``FakeKey`` writes into its buffer (``len`` is the object's size), adopted whole by an
    empty DiskBody (its file changes owner, nothing is copied)."""

    def __init__(self, body: DiskBody) -> None:
        self.body, self.size = body, body._size()

    def __len__(self) -> int:
        return self.size


class _PartwiseChecksum(s3_models.MultipartChecksumBuilder):
    """moto's multipart checksum, its FULL_OBJECT kind computed part by part instead of over a copy of the whole
    object. Only where moto's own ``compute_checksum`` would compute it with ``binascii.crc32`` or hashlib (the
    optional crc32c and awscrt libraries absent, as in this project's pins); otherwise moto's builder as is."""

    def __init__(self, algorithm: str | None, checksum_type: str | None) -> None:
        super().__init__(algorithm, checksum_type)
        name = self.checksum_algorithm
        crc = name == "CRC32" or (name == "CRC32C" and importlib.util.find_spec("crc32c") is None) or (
            name == "CRC64NVME" and not getattr(s3_utils, "HAS_CRT", False))
        self._crc: int | None = 0 if crc else None
        self._hash = None if crc or name in ("CRC32C", "CRC64NVME") else hashlib.new(
            "sha1" if name == "SHA1" else "sha256", usedforsecurity=False)
        self._streams = self.checksum_type == "FULL_OBJECT" and (self._crc is not None or self._hash is not None)

    def addPart(self, part: bytes) -> None:
        if not self._streams:
            return super().addPart(part)
        if self._crc is not None:
            self._crc = binascii.crc32(part, self._crc)
        elif self._hash is not None:
            self._hash.update(part)
        self.part_count += 1
        return None

    def build(self) -> tuple[str, str, int] | None:
        if not self._streams:
            return super().build()
        digest = self._crc.to_bytes(4, "big") if self._crc is not None else self._hash.digest()  # type: ignore[union-attr]
        return self.checksum_type, base64.b64encode(digest).decode(), 1


def _complete_by_parts(multipart: Any, body: Iterator[tuple[int, str]]) -> tuple[PartsBody, str, Any]:
    """``FakeMultipart.complete`` of moto 5.2.5 (the same checks, ETag and checksum): the parts are appended to
    a DiskBody one at a time (moto disposes of them before it writes the new object) instead of joined in memory."""
    checksum = _PartwiseChecksum(multipart.metadata.get("x-amz-checksum-algorithm"),
                                 multipart.metadata.get("x-amz-checksum-type"))
    md5s = bytearray()
    parts: list[Any] = []
    joined = DiskBody(_state["folder"], _state["memory_bytes"])
    try:
        for number, etag in body:
            part = multipart.parts.get(number)
            if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
                raise InvalidPart()
            if parts and parts[-1].contentsize < getattr(s3_models, "S3_UPLOAD_PART_MIN_SIZE"):  # noqa: B009
                raise EntityTooSmall()
            md5s.extend(bytes.fromhex(part.etag.replace('"', "")))
            value = part.value
            checksum.addPart(value)
            joined.write(value)
            del value  # (before the next part is read)
            parts.append(part)
        if not parts:
            raise MalformedXML
    except BaseException:
        joined.close()
        raise
    full_etag = md5_hash()
    full_etag.update(bytes(md5s))
    return PartsBody(joined), f"{full_etag.hexdigest()}-{len(parts)}", checksum.build()


#: FakeKey attributes kept in SlimKey's slots (any nine would do: these are seldom set at all).
_SLOTTED = ("_expiry", "bucket_key_enabled", "checksum_parts", "kms_key_id", "lock_legal_status", "lock_mode",
            "lock_until", "model_name", "website_redirect_location")


class SlimKey(s3_models.FakeKey):
    """moto's ``FakeKey`` with nine attributes in slots, so the 26 left share their dict's keys across objects;
    everything else is moto's. Pickling and ``deepcopy`` (moto copies keys to list versions) carry the slots."""

    __slots__ = _SLOTTED

    @property
    def etag(self) -> str:
        """moto's ETag (the body's MD5, kept once computed), read :data:`ETAG_BLOCK` at a time: moto reads 16 MB
        blocks, a 16 MiB ``bytes`` on the heap for every large object stored (four loads at a time: 64 MiB)."""
        if self._etag is None:
            digest = md5_hash()
            self._value_buffer.seek(0)
            while block := self._value_buffer.read(ETAG_BLOCK):
                digest.update(block)
            self._etag = digest.hexdigest()
        return f'"{self._etag}"'

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.update({name: getattr(self, name) for name in _SLOTTED if hasattr(self, name)})
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        slotted = {name: state.pop(name) for name in _SLOTTED if name in state}
        super().__setstate__(state)
        for name, value in slotted.items():
            setattr(self, name, value)


# moto's metaclass gave SlimKey a register and a dashboard entry of its own; its objects are FakeKeys to moto
# (listed, and disposed of on reset, through FakeKey's register, which `cls.instances_tracked` finds)
del SlimKey.instances_tracked  # type: ignore[attr-defined]
model_data["local"].pop("SlimKey", None)


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
        _state.setdefault("complete", s3_models.FakeMultipart.complete)
        _state.setdefault("get_object", S3Response.get_object)
        _state.setdefault("key_class", vars(s3_models)["FakeKey"])
        _state.update(folder=folder, memory_bytes=memory_bytes)
        setattr(s3_models, "tempfile", _TempfileModule(folder, memory_bytes))  # noqa: B010 - moto's module global
        s3_models.FakeMultipart.complete = _complete_by_parts  # type: ignore[method-assign,assignment]
        S3Response.get_object = _get_object_streamed  # type: ignore[method-assign]
        setattr(s3_models, "FakeKey", SlimKey)  # noqa: B010 - what moto's models build


def uninstall() -> None:
    with _lock:
        if "original" in _state:
            setattr(s3_models, "tempfile", _state.pop("original"))  # noqa: B010
        if "complete" in _state:
            s3_models.FakeMultipart.complete = _state.pop("complete")  # type: ignore[method-assign]
        if "get_object" in _state:
            S3Response.get_object = _state.pop("get_object")  # type: ignore[method-assign]
        if "key_class" in _state:
            setattr(s3_models, "FakeKey", _state.pop("key_class"))  # noqa: B010
