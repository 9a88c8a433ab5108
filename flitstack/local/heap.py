"""glibc's allocator, tuned for one process that hosts every Lambda of a run (local mode only).

In the cloud each Lambda container is a process of its own and gives its memory back when it is recycled.
Locally one process runs moto, the Step Functions interpreter and every invocation, each request in a thread
of its own (werkzeug starts one per connection). glibc's ``malloc`` gives threads arenas of their own (up to
8 per core) and an arena keeps the pages its freed blocks sit on: a batch's records parsed in one thread,
freed, leave tens of MiB resident in that arena, and the next batch lands in another one. Measured on a 500k
run: 16 arenas holding 36-65 MiB each, about 800 MiB of the engine's 1.6 GiB.

:func:`limit_arenas` caps the arenas at :data:`ARENAS` (``mallopt(M_ARENA_MAX)``; the same as the
``MALLOC_ARENA_MAX`` environment variable, which the process would have to be started with); the engine calls it
when it starts. It does not change what a handler computes. On a C library without it (musl, macOS) it does
nothing. :func:`mmap_large_blocks` fixes glibc's mmap threshold at :data:`MMAP_THRESHOLD`: a block that large
(a batch's body, a page of records) gets pages of its own, returned when it is freed. By default the threshold
rises to the largest block freed so far (up to 32 MiB), after which such blocks come from an arena and leave
holes in it. Measured at 100k beside the arena cap: peak 615 against 642 MiB, the run as fast (D-058).

A ``malloc_trim(0)`` after each invocation was tried and dropped: at 100k it bought no memory over the cap
alone, 651 against 650 MiB, and a trim holds every arena's lock while it walks the heap.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Any

LOG = logging.getLogger(__name__)

#: Arenas glibc may create (its default is 8 per core; the engine's threads mostly wait on sockets).
ARENAS = 2
#: Blocks at least this large are mmapped on their own (glibc's default starts at 128 KiB and rises).
MMAP_THRESHOLD = 1024 * 1024
#: ``mallopt`` parameter numbers of ``M_ARENA_MAX`` and ``M_MMAP_THRESHOLD`` (glibc's malloc.h).
_M_ARENA_MAX = -8
_M_MMAP_THRESHOLD = -3


def _libc() -> Any | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") else None


_LIBC = _libc()


def available() -> bool:
    """Whether this C library has glibc's ``mallopt``."""
    return _LIBC is not None


def _mallopt(param: int, name: str, value: int) -> bool:
    """``mallopt(param, value)`` for the rest of the process; False where the call does not exist or is refused."""
    if _LIBC is None:
        return False
    ok = bool(_LIBC.mallopt(param, value))
    if not ok:
        LOG.warning("mallopt(%s, %d) was refused", name, value)
    return ok


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas for the rest of the process; False where the call does not exist."""
    return _mallopt(_M_ARENA_MAX, "M_ARENA_MAX", arenas)


def mmap_large_blocks(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold for the rest of the process; False where the call does not exist."""
    return _mallopt(_M_MMAP_THRESHOLD, "M_MMAP_THRESHOLD", threshold)
