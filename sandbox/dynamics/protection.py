"""Service protection limits, per user: requests and execution time in a sliding window, and concurrency.

Evaluated like Dataverse (reference §2.2): a concurrency breach fails at once with
``0x80072326``; once the request count (``0x80072322``) or the combined execution time
(``0x80072321``) in the preceding window exceeds the limit, further requests get 429 with a
``Retry-After`` (seconds until the oldest counted request leaves the window). Responses carry
``x-ms-ratelimit-burst-remaining-xrm-requests`` and ``x-ms-ratelimit-time-remaining-xrm-requests``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from sandbox.dynamics.config import DynamicsStandinConfig
from sandbox.dynamics.errors import THROTTLE_CONCURRENCY, THROTTLE_REQUESTS, THROTTLE_TIME, DataverseError


@dataclass
class _Usage:
    requests: deque[tuple[float, int]] = field(default_factory=deque)
    seconds: deque[tuple[float, float]] = field(default_factory=deque)
    inflight: int = 0


class ServiceProtection:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users: dict[str, _Usage] = {}

    def reset(self) -> None:
        with self.lock:
            for usage in self.users.values():
                usage.requests.clear()
                usage.seconds.clear()

    def _prune(self, usage: _Usage, now: float, window: float) -> None:
        while usage.requests and usage.requests[0][0] <= now - window:
            usage.requests.popleft()
        while usage.seconds and usage.seconds[0][0] <= now - window:
            usage.seconds.popleft()

    def admit(self, user: str, cfg: DynamicsStandinConfig) -> None:
        """Count one request in (or raise the 429 that refuses it)."""
        now = time.monotonic()
        with self.lock:
            usage = self.users.setdefault(user, _Usage())
            self._prune(usage, now, cfg.window_s)
            if usage.inflight >= cfg.max_concurrency:
                raise DataverseError(429, THROTTLE_CONCURRENCY,
                                     f"Number of concurrent requests exceeded the limit of {cfg.max_concurrency}.",
                                     {"Retry-After": "1"})
            if sum(w for _, w in usage.requests) >= cfg.requests_per_window:
                raise DataverseError(
                    429, THROTTLE_REQUESTS,
                    f"Number of requests exceeded the limit of {cfg.requests_per_window} over time window of "
                    f"{cfg.window_s:g} seconds.",
                    {"Retry-After": self._retry(usage.requests[0][0], now, cfg.window_s)},
                )
            if sum(s for _, s in usage.seconds) >= cfg.execution_time_limit_s:
                raise DataverseError(
                    429, THROTTLE_TIME,
                    f"Combined execution time of incoming requests exceeded limit of "
                    f"{int(cfg.execution_time_limit_s * 1000):,} milliseconds over time window of {cfg.window_s:g} "
                    "seconds. Decrease number of concurrent requests or reduce the duration of requests and try "
                    "again later.",
                    {"Retry-After": self._retry(usage.seconds[0][0], now, cfg.window_s)},
                )
            usage.requests.append((now, 1))
            usage.inflight += 1

    @staticmethod
    def _retry(oldest: float, now: float, window: float) -> str:
        return str(max(1, math.ceil(oldest + window - now)))

    def done(self, user: str, elapsed_s: float, extra_requests: int = 0) -> None:
        now = time.monotonic()
        with self.lock:
            usage = self.users.setdefault(user, _Usage())
            usage.inflight = max(0, usage.inflight - 1)
            usage.seconds.append((now, elapsed_s))
            if extra_requests > 0:
                usage.requests.append((now, extra_requests))

    def headers(self, user: str, cfg: DynamicsStandinConfig) -> dict[str, str]:
        now = time.monotonic()
        with self.lock:
            usage = self.users.setdefault(user, _Usage())
            self._prune(usage, now, cfg.window_s)
            remaining = max(0, cfg.requests_per_window - sum(w for _, w in usage.requests))
            time_left = max(0.0, cfg.execution_time_limit_s - sum(s for _, s in usage.seconds)) * 1000
        return {
            "x-ms-ratelimit-burst-remaining-xrm-requests": str(remaining),
            "x-ms-ratelimit-time-remaining-xrm-requests": f"{time_left:.2f}",
        }
