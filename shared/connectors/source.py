"""What the engine needs from a source system: one typed Protocol every source connector implements.

The domain layer (``shared/domain``) speaks only this interface; a source's own API (paging
style, auth, export jobs) and its own normalisation stay in its folder under
``shared/connectors/<kind>/``. The source contract suite (``tests/contract/test_source_contract.py``)
holds every source to it without naming any source's objects.

Conventions every source keeps:

- **Records** are JSON objects with a string ``id`` and the source's ``created_at`` / ``updated_at``
  (ISO 8601), or the fields the source's profile names for them.
- **Pages** return every record of an object once, in (updated, id) order, so a watermark plus a
  tie-break resumes exactly (the delta window relies on it); ``updated_since`` narrows to changes.
- **Resume tokens**: ``pages_from`` gives each page with an opaque string that resumes the same read
  right after it, in another process (the Extract step checkpoints it per partition, so one object is
  read by many short invocations and a dead one resumes without fetching a finished page again).
- **Failures** are raised as the error tree (``shared.errors``) after the one retry policy
  (``shared.retry``); the credentials never appear in a repr, a log line or an error.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pyrate_limiter import Duration, Limiter, Rate

from shared.models import SourceCatalog


@dataclass(frozen=True)
class SourceLimits:
    """What a source lets a migration do at once, declared as data: the engine reads it (the Extract
    and FetchFiles Maps' MaxConcurrency come from ``max_parallel_reads``), nothing hard-codes it."""

    max_parallel_reads: int
    #: The API's request rate per credential (calls per second): a client paces itself to it (:func:`pacer`)
    #: instead of learning it from refusals, and file copies, one call each, are paced so that
    #: ``max_parallel_reads`` of them at once stay under it.
    requests_per_s: float

    @property
    def seconds_per_call(self) -> float:
        """The pace of one of ``max_parallel_reads`` concurrent readers that together stay under the rate."""
        return self.max_parallel_reads / self.requests_per_s


#: Added to the paced window: a request's arrival lags its send by up to this much (a loaded network or
#: server), and the source counts arrivals; the margin keeps two windows' bursts from meeting in one.
PACING_MARGIN_MS = 250

_pacers: dict[tuple[str, str], Limiter] = {}
_pacers_lock = threading.Lock()


def pacer(endpoint: str, credential: str, requests_per_s: float | None) -> Limiter | None:
    """One process-wide rolling-second limiter per (endpoint, credential): every client of the same
    tenant in this process (parallel discovery threads, the local engine's in-process Lambdas) draws from
    it. Separate processes (Lambdas in the cloud) pace alone; the server's 429 + Retry-After, honoured by
    the retry policy, covers their sum."""
    if not requests_per_s:
        return None
    key = (endpoint, hashlib.sha256(credential.encode()).hexdigest())  # the credential itself is not kept
    with _pacers_lock:
        limiter = _pacers.get(key)
        if limiter is None:
            limiter = _pacers[key] = Limiter(Rate(max(1, int(requests_per_s)), Duration.SECOND + PACING_MARGIN_MS))
        return limiter


@runtime_checkable
class Source(Protocol):
    """One source tenant, authenticated."""

    #: The connector's kind (its registry key), e.g. for crosswalk scopes and messages.
    name: str
    limits: SourceLimits
    #: HTTP requests made so far.
    calls: int

    def close(self) -> None: ...

    def __enter__(self) -> Source: ...

    def __exit__(self, *exc: object) -> None: ...

    def catalog(self) -> SourceCatalog:
        """Objects with standard and tenant-defined fields (custom fields and custom objects), pick-list
        values and record counts."""
        ...

    def count(self, obj: str, updated_since: str | None = None) -> int: ...

    def pages(self, obj: str, page_size: int = 1000, updated_since: str | None = None
              ) -> Iterator[list[dict[str, Any]]]:
        """Every record of ``obj`` once, a page at a time, in (updated, id) order."""
        ...

    def pages_from(self, obj: str, resume: str | None, page_size: int = 1000, updated_since: str | None = None
                   ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """The same read as :meth:`pages`, from ``resume`` (None: the start) on: each page with the token
        that resumes after it (None after the last page). ``page_size`` is a hint where the API pages in
        its own units (an export's result pages)."""
        ...

    def read_all(self, obj: str) -> list[dict[str, Any]]: ...

    def deleted(self, obj: str, since: str) -> list[dict[str, Any]]:
        """Records of ``obj`` deleted since ``since``: ``[{id, deleted_at}]``."""
        ...

    def attachment(self, attachment_id: str) -> bytes:
        """The content of one file."""
        ...

    def attachment_chunks(self, attachment_id: str) -> Iterator[bytes]:
        """The content of one file as it arrives (the response is opened under the retry policy, then
        streamed): the engine copies files source → S3 without holding one whole in memory."""
        ...

    def facts(self, catalog: SourceCatalog) -> dict[str, Any]:
        """What discovery needs beyond the catalog, normalised by the source (JSON-ready, no records):
        distinct values actually used, duplicates it knows how to find, pipeline stages."""
        ...

    def preflight(self) -> dict[str, Any]:
        """What must be true before the full run, checked live right before it: ``{"check", "blocking",
        "message", ...}``. While ``blocking``, the full load waits (and checks again) unless a person
        overrode it at the sample sign-off (``shared.domain.preflight``)."""
        ...

    def users(self) -> list[dict[str, Any]]:
        """The people records are assigned to (technicians, staff): ``id``, ``name``, ``email``, ``active``."""
        ...
