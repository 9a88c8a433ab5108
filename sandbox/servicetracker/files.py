"""Attachment bytes generated on demand: declared sizes up to hundreds of MB, nothing stored.

Work orders carry photos, signed PDFs and site videos; some are over the 25 MB a Salesforce
file upload takes by default, and the migration has to flag them. Storing such files would
make the tenant (and its dumps) huge, so a generated attachment stores only a
``content_seed``: its bytes are a deterministic stream (a plausible magic header, then
pseudo-random bytes) re-created chunk by chunk whenever they are downloaded or hashed.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator

CHUNK = 64 * 1024
#: Salesforce's default per-file limit the pair page talks about (files above it are "large").
LARGE_FILE_BYTES = 25 * 1024 * 1024

_MAGIC: dict[str, bytes] = {
    "application/pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
    "image/png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "video/mp4": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom",
}


def content_chunks(content_seed: int, size: int, content_type: str) -> Iterator[bytes]:
    """The ``size`` bytes of a generated file, in chunks of at most 64 KiB (same seed, same bytes)."""
    rng = random.Random(content_seed)
    head = _MAGIC.get(content_type, b"")[:size]
    sent = 0
    if head:
        yield head
        sent = len(head)
    while sent < size:
        n = min(CHUNK, size - sent)
        yield rng.randbytes(n)
        sent += n


def content_sha256(content_seed: int, size: int, content_type: str) -> str:
    """Hex SHA-256 of a generated file (streams it: constant memory whatever the size)."""
    digest = hashlib.sha256()
    for chunk in content_chunks(content_seed, size, content_type):
        digest.update(chunk)
    return digest.hexdigest()
