"""The asynchronous bulk export: one job per object (optionally a filter or a partition), polled, paged.

Why it looks like this: REST paging is capped (``max_offset``) and costs one call per 200
records, so volume goes through export jobs. A job snapshots its rows when it is created
(a consistent cut, whatever changes afterwards), reports ``in_progress`` for a processing
time that grows with its size, then ``completed`` with ``page_count`` NDJSON result pages,
and ``expired`` once ``export_ttl_s`` has passed (its rows are then deleted). At most
``max_concurrent_exports`` jobs may be queued or in progress at once.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sandbox.servicetracker.config import API_PREFIX, StandinConfig
from sandbox.servicetracker.errors import ApiError, invalid, not_found
from sandbox.servicetracker.limits import retry_after
from sandbox.servicetracker.model import format_timestamp, parse_timestamp, sort_key
from sandbox.servicetracker.store import Store

KEY_MAX = "~"


class Partition(BaseModel):
    """Hash partition by id: records whose ``id % count == index``."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, le=64)
    index: int = Field(ge=0)

    @model_validator(mode="after")
    def _index_in_range(self) -> Partition:
        if self.index >= self.count:
            raise ValueError(f"index must be below count ({self.count})")
        return self


class ExportRequest(BaseModel):
    """Body of ``POST /v2/exports``."""

    model_config = ConfigDict(extra="forbid")

    object: str
    format: Literal["ndjson"] = "ndjson"
    modified_since: str | None = None
    modified_before: str | None = None
    partition: Partition | None = None

    @field_validator("modified_since", "modified_before")
    @classmethod
    def _timestamp(cls, value: str | None) -> str | None:
        return None if value is None else sort_key(parse_timestamp(value))


def _ts(epoch: float) -> str:
    return format_timestamp(datetime.fromtimestamp(epoch, UTC).replace(microsecond=0))


class Exports:
    """Export jobs kept in the state file's ``export_jobs`` / ``export_rows`` tables."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def parse(self, body: dict[str, Any]) -> ExportRequest:
        try:
            request = ExportRequest.model_validate(body)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "body"
            if err["type"] == "extra_forbidden":
                raise invalid(field, f"unknown export option {field!r}; allowed: object, format, modified_since, "
                                     "modified_before, partition") from exc
            if field == "format":
                raise invalid(field, "format must be 'ndjson' (the only export format)") from exc
            raise invalid(field, str(err["msg"])) from exc
        if request.object not in self.store.object_names():
            raise invalid("object", f"unknown object {request.object!r}; objects: "
                                    f"{', '.join(self.store.object_names())}")
        return request

    def create(self, request: ExportRequest, config: StandinConfig) -> dict[str, Any]:
        """Snapshot the rows and register the job, or refuse with 429 when too many jobs run."""
        now = time.time()
        self.sweep(now)
        with self.store.tx() as c:
            running = [r[0] for r in c.execute("SELECT ready FROM export_jobs WHERE ready > ? ORDER BY ready", (now,))]
            if len(running) >= config.max_concurrent_exports:
                raise ApiError(429, "EXPORT_LIMIT_EXCEEDED",
                               f"{len(running)} export jobs are queued or in progress; at most "
                               f"{config.max_concurrent_exports} may run at once",
                               headers={"Retry-After": retry_after(running[0] - now)})
            job_id = "exp_" + secrets.token_hex(8)
            args: list[object]
            where, args = "object=? AND modified_key>=? AND modified_key<?", [
                request.object, request.modified_since or "", request.modified_before or KEY_MAX]
            if request.partition:
                where += " AND id % ? = ?"
                args += [request.partition.count, request.partition.index]
            c.execute(f"INSERT INTO export_rows SELECT ?, ROW_NUMBER() OVER (ORDER BY id), body FROM records "  # noqa: S608 - fixed text
                      f"WHERE {where}", [job_id, *args])
            count = c.execute("SELECT COUNT(*) FROM export_rows WHERE job_id=?", (job_id,)).fetchone()[0]
            ready = now + config.export_processing_s + count / config.export_records_per_s
            spec: dict[str, Any] = {"object": request.object, "format": request.format,
                    "filter": request.model_dump(exclude={"object", "format"}, exclude_none=True),
                    "page_size": config.export_page_records}
            if request.modified_since or request.modified_before:  # echo the caller's instants, not sort keys
                spec["filter"] = {**spec["filter"], **self._echo(request)}
            c.execute("INSERT INTO export_jobs VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (job_id, request.object, json.dumps(spec), now, ready, ready + config.export_ttl_s, count))
        return self.describe(job_id, now)

    @staticmethod
    def _echo(request: ExportRequest) -> dict[str, str]:
        out = {}
        for name in ("modified_since", "modified_before"):
            key = getattr(request, name)
            if key:
                out[name] = format_timestamp(parse_timestamp(key))
        return out

    def sweep(self, now: float) -> None:
        """Delete the rows of expired jobs (the job row stays, answering ``expired``)."""
        with self.store.tx() as c:
            c.execute("DELETE FROM export_rows WHERE job_id IN (SELECT id FROM export_jobs WHERE expires <= ?)", (now,))

    def _row(self, job_id: str) -> tuple[Any, ...]:
        with self.store.lock:
            row = self.store.conn.execute(
                "SELECT id, body, created, ready, expires, record_count FROM export_jobs WHERE id=?",
                (job_id,)).fetchone()
        if row is None:
            raise not_found(f"no export job {job_id!r}")
        return tuple(row)

    def describe(self, job_id: str, now: float | None = None) -> dict[str, Any]:
        """The job as ``GET /v2/exports/{id}`` answers it."""
        now = time.time() if now is None else now
        _, body, created, ready, expires, count = self._row(job_id)
        spec = json.loads(body)
        state = "in_progress" if now < ready else ("completed" if now < expires else "expired")
        out: dict[str, Any] = {"id": job_id, "state": state, **spec, "created_at": _ts(created)}
        if state == "in_progress":
            out["retry_after_s"] = round(max(0.05, ready - now), 3)  # the body is precise; Retry-After whole seconds
        else:
            pages = max(1, math.ceil(count / spec["page_size"]))
            out.update(completed_at=_ts(ready), expires_at=_ts(expires), record_count=count, page_count=pages)
            if state == "completed":
                out["results"] = [f"{API_PREFIX}/exports/{job_id}/results/{n}" for n in range(1, pages + 1)]
        return out

    def jobs(self) -> list[dict[str, Any]]:
        with self.store.lock:
            ids = [r[0] for r in self.store.conn.execute("SELECT id FROM export_jobs ORDER BY created")]
        now = time.time()
        return [self.describe(i, now) for i in ids]

    def page(self, job_id: str, number: int) -> tuple[list[str], int]:
        """Rows of result page ``number`` (1-based) and the page count; refusals as the API answers them."""
        now = time.time()
        job = self.describe(job_id, now)
        if job["state"] == "in_progress":
            raise ApiError(409, "EXPORT_NOT_READY", f"export {job_id} is still in progress; poll its status",
                           headers={"Retry-After": retry_after(job["retry_after_s"])})
        if job["state"] == "expired":
            raise ApiError(410, "EXPORT_EXPIRED", f"the results of export {job_id} expired at {job['expires_at']}; "
                                                  "create a new export")
        if not 1 <= number <= job["page_count"]:
            raise not_found(f"export {job_id} has result pages 1..{job['page_count']}, not {number}")
        size = job["page_size"]
        with self.store.lock:
            rows = self.store.conn.execute(
                "SELECT body FROM export_rows WHERE job_id=? AND seq>? AND seq<=? ORDER BY seq",
                (job_id, (number - 1) * size, number * size)).fetchall()
        return [r[0] for r in rows], int(job["page_count"])

    def delete(self, job_id: str) -> None:
        self._row(job_id)
        with self.store.tx() as c:
            c.execute("DELETE FROM export_rows WHERE job_id=?", (job_id,))
            c.execute("DELETE FROM export_jobs WHERE id=?", (job_id,))
