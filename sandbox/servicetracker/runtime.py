"""Mutable state of one running stand-in, shared by the front door and the routes."""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

from sandbox.sercom.app import RateLimiter  # generic sliding one-second window per key
from sandbox.servicetracker.config import StandinConfig
from sandbox.servicetracker.exports import Exports
from sandbox.servicetracker.limits import DailyAllocation
from sandbox.servicetracker.store import Store


class Stats:
    """Request counters for ``GET /__standin/stats`` (did the client page, export, back off?)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def bump(self, *names: str) -> None:
        with self.lock:
            self.counts.update(names)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return dict(self.counts)

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()


class Runtime:
    """Mutable state shared by the gate and the routes of one app."""

    def __init__(self, store: Store, config: StandinConfig) -> None:
        self.store = store
        self.config = config
        self.exports = Exports(store)
        self.per_second = RateLimiter()
        self.daily = DailyAllocation()
        self.stats = Stats()
        self.faults = random.Random(config.fault_seed)

    def roll(self, rate: float) -> bool:
        return rate > 0 and self.faults.random() < rate

    def usage_header(self) -> str:
        return f"api-usage={self.daily.used()}/{self.config.daily_request_limit}"
