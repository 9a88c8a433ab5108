"""Unit: the local engine's glibc allocator knobs (flitstack.local.heap)."""

from __future__ import annotations

import platform

import pytest

from flitstack.local import heap

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt/malloc_trim are glibc's")


@glibc
def test_glibc_has_both_calls() -> None:
    assert heap.available()
    assert heap.limit_arenas(heap.ARENAS) is True


@glibc
def test_trims_are_spaced_unless_forced() -> None:
    assert heap.trim(force=True) is True
    assert heap.trim() is False  # within TRIM_INTERVAL_S of the last one
    assert heap.trim(force=True) is True


@glibc
def test_a_trim_gives_freed_pages_back() -> None:
    def rss_kib() -> int:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

    import threading

    held: list[bytes] = []

    def fill() -> None:  # a thread of its own: its own arena, as a request thread of the engine
        held.extend(bytes(2048) for _ in range(60_000))  # ~120 MiB in 2 KiB blocks (below mmap's threshold)

    worker = threading.Thread(target=fill)
    worker.start()
    worker.join()
    del held[:45_000]  # the first three quarters freed: below the arena's top, they stay resident until trimmed
    before = rss_kib()
    heap.trim(force=True)
    after = rss_kib()
    held.clear()
    assert before - after > 20 * 1024, (before, after)
