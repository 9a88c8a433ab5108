"""The daily API request allocation: a rolling 24-hour count in one-minute buckets.

Like the platform ServiceTracker runs on, calls count against one allocation per tenant
over a rolling 24 hours; once it is used up every API call answers 403
``REQUEST_LIMIT_EXCEEDED`` until old calls leave the window. Buckets keep memory constant
whatever the call volume. Usage is in memory (a restart starts a fresh window), reset with
``POST /__standin/usage/reset``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 86_400
BUCKET_S = 60


class DailyAllocation:
    """Counts calls per minute over the last 24 h; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: deque[list[int]] = deque()  # [minute, calls], oldest first
        self._used = 0

    def _expire(self, now: float) -> None:
        oldest = int(now // BUCKET_S) - WINDOW_S // BUCKET_S
        while self._buckets and self._buckets[0][0] <= oldest:
            self._used -= self._buckets.popleft()[1]

    def used(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return self._used

    def take(self, limit: int) -> float | None:
        """Count one call; ``None`` if within ``limit``, else seconds until a call leaves the window."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if self._used >= limit:
                excess = self._used - limit + 1
                for minute, calls in self._buckets:
                    excess -= calls
                    if excess <= 0:
                        return max(1.0, (minute + 1) * BUCKET_S + WINDOW_S - now)
                return 1.0
            minute = int(now // BUCKET_S)
            if self._buckets and self._buckets[-1][0] == minute:
                self._buckets[-1][1] += 1
            else:
                self._buckets.append([minute, 1])
            self._used += 1
            return None

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
            self._used = 0


def retry_after(seconds: float) -> str:
    """``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
