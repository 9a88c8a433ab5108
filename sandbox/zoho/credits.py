"""The credit ledger and the concurrency gate (reference §3.2).

Zoho budgets API use in credits over a rolling 24 h window per org (base + per-user licences,
capped by edition) and caps concurrent calls per org per app. The cost of a call is known
only once the request is parsed (records in the body, COQL LIMIT), so a handler asks
:meth:`Credits.charge` with its cost: a call whose cost exceeds what remains is refused with
429 ``TOO_MANY_REQUESTS`` and costs nothing. The ledger lives in SQLite, so it survives a
restart, and is read against the stand-in's clock (movable through ``/__standin/clock``).
"""

from __future__ import annotations

import math
import threading
from typing import Any

from sandbox.zoho.errors import too_many_requests
from sandbox.zoho.org import Org, iso

WRITE_BATCH = 10  # 1 credit per 10 records, rounded up per call (Kaizen #158)
CONVERT_COST = 5
BULK_WRITE_COST = 500
CUSTOM_MODULE_COST = 500


def write_cost(records: int) -> int:
    return max(1, math.ceil(records / WRITE_BATCH))


class Credits:
    def __init__(self, org: Org) -> None:
        self.org = org
        self.lock = threading.Lock()
        self.inflight = 0

    # -- concurrency ------------------------------------------------------------------------------------------
    def enter(self) -> None:
        with self.lock:
            if self.inflight >= self.org.config.concurrency():
                raise too_many_requests()
            self.inflight += 1

    def leave(self) -> None:
        with self.lock:
            self.inflight = max(0, self.inflight - 1)

    # -- credits ----------------------------------------------------------------------------------------------
    def _since(self) -> float:
        return self.org.now() - self.org.config.credit_window_s

    def budget(self) -> int:
        return self.org.config.daily_credits(self.org.active_users())

    def used(self) -> int:
        return self.org.store.credits_since(self._since())

    def remaining(self) -> int:
        return max(0, self.budget() - self.used())

    def charge(self, cost: int, api: str) -> None:
        """Debit ``cost`` credits, or raise 429 when the window has not that many left."""
        if cost <= 0:
            return
        with self.lock:
            if self.remaining() < cost:
                raise too_many_requests()
            self.org.store.charge(self.org.now(), cost, api)

    def headers(self) -> dict[str, str]:
        cfg = self.org.config
        if not cfg.credits_header:
            return {}
        budget = self.budget()
        used = self.used()
        if budget and used / budget < cfg.credits_header_after_fraction:
            return {}
        return {cfg.credits_header: str(max(0, budget - used))}

    def describe(self) -> dict[str, Any]:
        since = self._since()
        oldest = self.org.store.oldest_charge_after(since)
        return {
            "edition": self.org.config.edition, "budget": self.budget(), "used": self.used(),
            "remaining": self.remaining(), "window_s": self.org.config.credit_window_s,
            "concurrency_limit": self.org.config.concurrency(), "inflight": self.inflight,
            "now": iso(self.org.now()), "next_release_at": iso(oldest + self.org.config.credit_window_s)
            if oldest is not None else None,
            "ledger": self.org.store.ledger(since),
        }
