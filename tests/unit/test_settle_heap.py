"""Unit: answered responses do not pile up behind a large import-time heap (``shared.heap.settle_heap``).

GIVEN a process holding a million long-lived objects (as a Lambda's imports do) that then reads 200 pages, each
a response in a reference cycle (as httpx's response and its bound stream are) kept while its records are parsed
WHEN the heap was settled first, and, for contrast, when it was not
THEN settled, the dead responses are freed by the collector as the reads go (a few dozen alive at most);
unsettled, they pile up by the hundred before a full pass comes. Each case runs in a process of its own (freezing is for
the whole process, and the test worker must not be frozen).
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json, sys, weakref
keep = [[i] for i in range(1_000_000)]
gc.collect()
if sys.argv[1] == "settle":
    from shared.heap import settle_heap
    settle_heap()
class Response:
    def __init__(self):
        self.body = bytes(100_000)
        self.stream = self
alive, most = [], 0
for _ in range(200):
    response = Response()
    alive.append(weakref.ref(response))
    records = [{"id": str(i)} for i in range(5_000)]
    del response
    most = max(most, sum(r() is not None for r in alive))
print(json.dumps({"most": most, "end": sum(r() is not None for r in alive)}))
"""


def _probe(mode: str) -> dict[str, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True, timeout=120)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_settled_heap_frees_responses_as_it_goes() -> None:
    settled, plain = _probe("settle"), _probe("plain")
    assert plain["most"] >= 80, plain  # the hazard is real: unsettled, responses pile up by the hundred
    assert settled["most"] <= 40, settled
