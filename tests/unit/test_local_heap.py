"""Unit: the local engine's cap on glibc's malloc arenas and its fixed mmap threshold (flitstack.local.heap, D-056).

Each check runs in a fresh interpreter: the cap applies to arenas created after it, and a test process has
made its own already."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flitstack.local import heap

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt and malloc_info are glibc's")

#: Eight threads alive at once, each with 8 MiB in 2 KiB blocks (malloc's, not pymalloc's); then glibc's own
#: count of its arenas (``malloc_info``'s ``<heap nr=...>`` elements).
ARENAS_IN_USE = textwrap.dedent("""
    import ctypes, ctypes.util, os, sys, tempfile, threading
    from flitstack.local import heap
    if sys.argv[1] == "capped":
        assert heap.limit_arenas()
    barrier = threading.Barrier(9)
    def work():
        held = [bytes(2048) for _ in range(4096)]
        barrier.wait()
        barrier.wait()
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    barrier.wait()
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.fopen.restype = ctypes.c_void_p
    path = os.path.join(tempfile.mkdtemp(), "info.xml")
    fp = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(fp))
    libc.fclose(ctypes.c_void_p(fp))
    barrier.wait()
    print(open(path).read().count("<heap nr="))
""")


def _arenas(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", ARENAS_IN_USE, mode], capture_output=True, text=True, timeout=60,
                          check=True, cwd=Path(__file__).resolve().parents[2])  # the repository: flitstack importable
    return int(done.stdout.strip())


@glibc
def test_glibc_has_the_call() -> None:
    assert heap.available()


@glibc
def test_threads_share_at_most_the_capped_arenas() -> None:
    assert _arenas("default") > heap.ARENAS  # glibc's own: a new arena for each new thread, up to 8 per core
    assert _arenas("capped") <= heap.ARENAS


#: A 4 MiB block freed (glibc's dynamic threshold rises to it), then a 2 MiB one held: how many blocks glibc
#: mmapped for it (``malloc_info``'s mmap total before and after).
MMAPPED_FOR_A_BLOCK = textwrap.dedent("""
    import ctypes, ctypes.util, os, re, sys, tempfile
    from flitstack.local import heap
    if sys.argv[1] == "fixed":
        assert heap.mmap_large_blocks()
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = libc.fopen.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    def mmapped():
        path = os.path.join(tempfile.mkdtemp(), "info.xml")
        fp = libc.fopen(path.encode(), b"w")
        libc.malloc_info(0, ctypes.c_void_p(fp))
        libc.fclose(ctypes.c_void_p(fp))
        return int(re.search(r'<total type="mmap" count="(\\d+)"', open(path).read()).group(1))
    libc.free(libc.malloc(4 << 20))
    before = mmapped()
    held = libc.malloc(2 << 20)
    print(mmapped() - before)
""")


def _mmapped(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", MMAPPED_FOR_A_BLOCK, mode], capture_output=True, text=True,
                          timeout=60, check=True, cwd=Path(__file__).resolve().parents[2])
    return int(done.stdout.strip())


@glibc
def test_a_block_past_the_fixed_threshold_gets_pages_of_its_own() -> None:
    assert _mmapped("default") == 0  # glibc's threshold rose to the 4 MiB freed: the 2 MiB comes from the heap
    assert _mmapped("fixed") == 1
