"""Bulk API 2.0 ingest: job lifecycle, CSV upload, background processing and result CSVs.

Lifecycle per reference §1.4: ``Open`` -> (PUT CSV, once, 201 empty) -> PATCH ``UploadComplete``
-> worker: ``InProgress`` -> ``JobComplete`` | ``Failed`` (errorMessage) | ``Aborted``. Rows are
processed in internal batches of 10,000 (one transaction each) and every batch is charged
to ``DailyBulkApiBatches``; an exhausted quota fails the job. Row outcomes go to
``successfulResults`` / ``failedResults`` / ``unprocessedrecords`` as CSV.
"""

from __future__ import annotations

import csv
import io
import math
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from sandbox.salesforce.engine import MultipleMatches, Prepared, RelRef, SaveResult, Writer
from sandbox.salesforce.errors import ApiError, SfError, ValueParseError
from sandbox.salesforce.http import no_content, org_of, parse_json, raw_body, sf_json, user_of, version_of
from sandbox.salesforce.org import Org
from sandbox.salesforce.schema import FieldDef, ObjectDef
from sandbox.salesforce.store import sf_datetime
from sandbox.salesforce.values import coerce

router = APIRouter()
J = "/services/data/{version}/jobs/ingest"
OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
DELIMITERS = {"COMMA": ",", "BACKQUOTE": "`", "CARET": "^", "PIPE": "|", "SEMICOLON": ";", "TAB": "\t"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
TERMINAL = ("JobComplete", "Failed", "Aborted")
MAX_UPLOAD_BYTES = 150 * 1024 * 1024
COUNTER_KEYS = (
    "numberRecordsProcessed",
    "numberRecordsFailed",
    "retries",
    "totalProcessingTime",
    "apiActiveProcessingTime",
    "apexProcessingTime",
)


def job_error(message: str, status: int = 400, code: str = "INVALIDJOB") -> ApiError:
    return ApiError.of(status, code, message)


def public_info(info: dict[str, Any], *, with_counters: bool = True) -> dict[str, Any]:
    out = {k: v for k, v in info.items() if not k.startswith("_")}
    if not with_counters:
        for key in (*COUNTER_KEYS, "jobType", "errorMessage"):
            out.pop(key, None)
    elif not out.get("errorMessage"):
        out.pop("errorMessage", None)
    return out


# ------------------------------------------------------------------------------------------------
# Routes


@router.post(J)
def create_job(request: Request, body: bytes = Depends(raw_body)) -> Response:
    org = org_of(request)
    spec = parse_json(body)
    if not isinstance(spec, dict):
        raise job_error("InvalidJob : the job definition must be a JSON object")
    operation = spec.get("operation")
    if operation not in OPERATIONS:
        raise job_error(f"InvalidJob : Invalid operation: {operation}")
    objdef = org.schema.get(str(spec.get("object", "")))
    if objdef is None:
        raise job_error(f"InvalidJob : sObject type '{spec.get('object')}' is not supported.")
    if spec.get("contentType", "CSV") != "CSV":
        raise job_error(f"InvalidJob : Unsupported content type: {spec.get('contentType')}")
    line_ending = spec.get("lineEnding", "LF")
    delimiter = spec.get("columnDelimiter", "COMMA")
    if line_ending not in LINE_ENDINGS or delimiter not in DELIMITERS:
        raise job_error(f"InvalidJob : Invalid lineEnding/columnDelimiter: {line_ending}/{delimiter}")
    ext_name = spec.get("externalIdFieldName")
    if operation == "upsert":
        if not ext_name:
            raise job_error(
                f"InvalidJob : External ID was blank for {objdef.name}. An External ID must be specified for upsert."
            )
        ext = objdef.field(str(ext_name))
        if ext is None or not (ext.external_id or ext.name == "Id"):
            raise job_error(
                f"InvalidJob : Field name provided, {ext_name} is not an External ID or indexed field for {objdef.name}"
            )
        ext_name = ext.name
    version = version_of(request)
    job_id = org.store.new_id("750")
    now = sf_datetime()
    info = {
        "id": job_id,
        "operation": operation,
        "object": objdef.name,
        "createdById": user_of(request),
        "createdDate": now,
        "systemModstamp": now,
        "state": "Open",
        "externalIdFieldName": ext_name if operation == "upsert" else None,
        "concurrencyMode": "Parallel",
        "contentType": "CSV",
        "apiVersion": float(version),
        "jobType": "V2Ingest",
        "contentUrl": f"services/data/v{version}/jobs/ingest/{job_id}/batches",
        "lineEnding": line_ending,
        "columnDelimiter": delimiter,
        **dict.fromkeys(COUNTER_KEYS, 0),
        "errorMessage": None,
        "_uploaded": False,
    }
    org.store.save_job(info)
    return sf_json(public_info(info, with_counters=False))


def _job(org: Org, job_id: str) -> dict[str, Any]:
    info = org.store.job(job_id)
    if info is None:
        raise ApiError.of(404, "NOT_FOUND", "The requested resource does not exist")
    return info


@router.put(J + "/{job_id}/batches")
def upload(job_id: str, request: Request, body: bytes = Depends(raw_body)) -> Response:
    org = org_of(request)
    worker: BulkWorker = request.app.state.bulk
    with worker.jobs_lock:
        info = _job(org, job_id)
        if info["state"] != "Open":
            raise job_error(f"InvalidJob : Job {job_id} is not Open (state {info['state']}); cannot upload data", 409)
        if info.get("_uploaded"):
            raise job_error(
                f"InvalidJob : Data has already been uploaded to job {job_id}; a Bulk 2.0 job takes exactly one upload",
                409,
            )
        if len(body) > MAX_UPLOAD_BYTES:
            raise job_error("InvalidBatch : The upload exceeds 150 MB", 400, "INVALIDBATCH")
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise job_error("InvalidBatch : Data must be UTF-8 encoded", 400, "INVALIDBATCH") from exc
        org.store.set_job_data(job_id, text)
        info["_uploaded"] = True
        info["systemModstamp"] = sf_datetime()
        org.store.save_job(info)
    return Response(status_code=201)


@router.patch(J + "/{job_id}")
def change_state(job_id: str, request: Request, body: bytes = Depends(raw_body)) -> Response:
    org = org_of(request)
    worker: BulkWorker = request.app.state.bulk
    wanted = (parse_json(body) or {}).get("state")
    with worker.jobs_lock:
        info = _job(org, job_id)
        state = info["state"]
        if wanted == "UploadComplete":
            if state != "Open":
                raise job_error(f"InvalidJob : Job {job_id} is not Open (state {state})", 409)
            if not info.get("_uploaded"):
                raise job_error(f"InvalidJob : No data has been uploaded for job {job_id}")
            info["state"] = "UploadComplete"
        elif wanted == "Aborted":
            if state in TERMINAL:
                raise job_error(f"InvalidJob : Job {job_id} is already {state}", 409)
            info["state"] = "Aborted"
        else:
            raise job_error(f"InvalidJob : Unsupported state change to {wanted!r}")
        info["systemModstamp"] = sf_datetime()
        org.store.save_job(info)
    if info["state"] == "UploadComplete":
        worker.submit(job_id)
    return sf_json(public_info(info, with_counters=False))


@router.get(J + "/{job_id}")
def job_info(job_id: str, request: Request) -> Response:
    return sf_json(public_info(_job(org_of(request), job_id)))


@router.get(J)
def list_jobs(request: Request) -> Response:
    jobs = [public_info(j, with_counters=False) for j in org_of(request).store.jobs()]
    return sf_json({"done": True, "records": jobs, "nextRecordsUrl": None})


@router.delete(J + "/{job_id}")
def delete_job(job_id: str, request: Request) -> Response:
    org = org_of(request)
    worker: BulkWorker = request.app.state.bulk
    with worker.jobs_lock:
        info = _job(org, job_id)
        if info["state"] not in (*TERMINAL, "UploadComplete"):
            raise job_error(f"InvalidJob : Job {job_id} cannot be deleted in state {info['state']}", 409)
        org.store.delete_job(job_id)
    return no_content()


def _results(request: Request, job_id: str, kind: str) -> Response:
    org = org_of(request)
    info = _job(org, job_id)
    text = org.store.job_result(job_id, kind)
    if text is None:
        text = _header_only(org, info, kind)
    return Response(text, media_type="text/csv")


def _header_only(org: Org, info: dict[str, Any], kind: str) -> str:
    data = org.store.job_data(info["id"]) or ""
    first = next(iter(csv.reader(io.StringIO(data), delimiter=DELIMITERS[info["columnDelimiter"]])), [])
    prefix = {"successfulResults": ["sf__Id", "sf__Created"], "failedResults": ["sf__Id", "sf__Error"]}.get(kind, [])
    return _csv([[*prefix, *first]], info)


@router.get(J + "/{job_id}/successfulResults")
def successful(job_id: str, request: Request) -> Response:
    return _results(request, job_id, "successfulResults")


@router.get(J + "/{job_id}/failedResults")
def failed(job_id: str, request: Request) -> Response:
    return _results(request, job_id, "failedResults")


@router.get(J + "/{job_id}/unprocessedrecords")
@router.get(J + "/{job_id}/unprocessedRecords")
def unprocessed(job_id: str, request: Request) -> Response:
    return _results(request, job_id, "unprocessedrecords")


# ------------------------------------------------------------------------------------------------
# Processing


def _csv(rows: list[list[Any]], info: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=DELIMITERS[info["columnDelimiter"]], lineterminator=LINE_ENDINGS[info["lineEnding"]]
    )
    writer.writerows(rows)
    return buffer.getvalue()


@dataclass
class Column:
    """How one CSV header maps onto the object."""

    index: int
    kind: str  # field | id | ref
    fdef: FieldDef | None = None
    target: str | None = None
    ext_field: str = ""


class JobFailure(Exception):
    """The whole job fails (state Failed, errorMessage = message, all rows unprocessed)."""


def resolve_columns(objdef: ObjectDef, header: list[str], operation: str) -> list[Column]:
    columns: list[Column] = []
    if operation in ("delete", "hardDelete") and [h.strip().lower() for h in header] != ["id"]:
        raise JobFailure(f"InvalidBatch : The '{operation}' batch must contain only an 'Id' column")
    for index, raw in enumerate(header):
        name = raw.strip()
        if name.lower() == "id":
            columns.append(Column(index, "id"))
            continue
        fdef = objdef.field(name)
        if fdef is not None:
            columns.append(Column(index, "field", fdef))
            continue
        rel_part, dot, ext = name.partition(".")
        target, colon, rel_name = rel_part.partition(":")
        if not colon:
            target, rel_name = "", rel_part
        rel = objdef.relationship(rel_name) if dot and ext else None
        if rel is None:
            raise JobFailure(f"InvalidBatch : Field name not found : {name}")
        columns.append(Column(index, "ref", rel, target or None, ext))
    return columns


class RowError(Exception):
    def __init__(self, error: SfError | str) -> None:
        super().__init__(str(error))
        self.error = error


def prepare_row(columns: list[Column], row: list[str]) -> Prepared:
    """Blank cell = not sent (unchanged on update); ``#N/A`` = set to null."""
    prep = Prepared()
    if len(row) != len(columns):
        raise RowError(SfError("INVALID_FIELD", f"Row has {len(row)} columns, header has {len(columns)}"))
    for col in columns:
        cell = row[col.index]
        if cell == "":
            continue
        value = None if cell == "#N/A" else cell
        if col.kind == "id":
            prep.has_id, prep.record_id = True, value
        elif col.kind == "ref":
            assert col.fdef is not None
            prep.refs.append(RelRef(col.fdef, col.target, col.ext_field, value))
        else:
            assert col.fdef is not None
            try:
                prep.values[col.fdef.name] = coerce(col.fdef, value)
            except ValueParseError as exc:
                raise RowError(exc.bulk_message(col.index + 1)) from exc
    return prep


class BulkWorker:
    """One background thread processing closed jobs in submission order (state survives restarts)."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.jobs_lock = threading.RLock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="bulk-worker", daemon=True)

    def start(self) -> None:
        for info in self.org.store.jobs():
            if info["state"] in ("UploadComplete", "InProgress"):
                self._queue.put(info["id"])
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def submit(self, job_id: str) -> None:
        self._queue.put(job_id)

    def _loop(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            delay = self.org.config.bulk_processing_delay_ms
            if delay:
                time.sleep(delay / 1000)
            self.process(job_id)

    def _update(self, job_id: str, **changes: Any) -> dict[str, Any] | None:
        with self.jobs_lock:
            info = self.org.store.job(job_id)
            if info is None:
                return None
            info.update(changes)
            info["systemModstamp"] = sf_datetime()
            self.org.store.save_job(info)
            return info

    def _state(self, job_id: str) -> str | None:
        info = self.org.store.job(job_id)
        return info["state"] if info else None

    def process(self, job_id: str) -> None:
        with self.jobs_lock:
            info = self.org.store.job(job_id)
            if info is None or info["state"] not in ("UploadComplete", "InProgress"):
                return
            info = self._update(job_id, state="InProgress") or info
        started = time.monotonic()
        data = self.org.store.job_data(job_id) or ""
        delimiter = DELIMITERS[info["columnDelimiter"]]
        parsed = [r for r in csv.reader(io.StringIO(data, newline=""), delimiter=delimiter) if r]
        header, rows = (parsed[0], parsed[1:]) if parsed else ([], [])
        try:
            self._run(info, header, rows, started)
        except JobFailure as exc:
            self.org.store.set_job_result(job_id, "unprocessedrecords", _csv([header, *rows], info))
            self._update(
                job_id,
                state="Failed",
                errorMessage=str(exc),
                totalProcessingTime=int((time.monotonic() - started) * 1000),
            )

    def _run(self, info: dict[str, Any], header: list[str], rows: list[list[str]], started: float) -> None:
        org, cfg = self.org, self.org.config
        job_id = info["id"]
        objdef = org.schema.get(info["object"])
        if objdef is None:
            raise JobFailure(f"InvalidJob : sObject type '{info['object']}' is not supported.")
        if not header:
            raise JobFailure("InvalidBatch : The CSV file is empty")
        columns = resolve_columns(objdef, header, info["operation"])
        batches = max(1, math.ceil(len(rows) / cfg.bulk_batch_size))
        used = org.store.usage().get("bulk_batches", 0)
        if used + batches > cfg.bulk_daily_batches:
            raise JobFailure(
                f"ExceededQuota : Bulk API batch limit exceeded: this job needs {batches} batch(es) and only "
                f"{max(cfg.bulk_daily_batches - used, 0)} of the daily {cfg.bulk_daily_batches} remain"
            )
        org.store.bump_usage("bulk_batches", by=batches)
        success: list[list[Any]] = [["sf__Id", "sf__Created", *header]]
        failure: list[list[Any]] = [["sf__Id", "sf__Error", *header]]
        unprocessed: list[list[Any]] = [list(header)]
        duplicates = self._duplicate_keys(objdef, info, columns, rows)
        for start in range(0, len(rows), cfg.bulk_batch_size):
            chunk = rows[start : start + cfg.bulk_batch_size]
            if self._state(job_id) == "Aborted":
                unprocessed.extend(rows[start:])
                break
            with org.store.tx():
                writer = Writer(org, info["createdById"], api="bulk")
                for row in chunk:
                    result = self._row(writer, objdef, info, columns, row, duplicates=duplicates)
                    if result.success:
                        success.append([result.id, "true" if result.created else "false", *row])
                    else:
                        failure.append([result.id or "", _bulk_error(result.errors), *row])
        org.store.set_job_result(job_id, "successfulResults", _csv(success, info))
        org.store.set_job_result(job_id, "failedResults", _csv(failure, info))
        org.store.set_job_result(job_id, "unprocessedrecords", _csv(unprocessed, info))
        processed = len(success) + len(failure) - 2
        elapsed = int((time.monotonic() - started) * 1000)
        final = "Aborted" if self._state(job_id) == "Aborted" else "JobComplete"
        self._update(
            job_id,
            state=final,
            numberRecordsProcessed=processed,
            numberRecordsFailed=len(failure) - 1,
            totalProcessingTime=elapsed,
            apiActiveProcessingTime=elapsed,
            apexProcessingTime=0,
        )

    @staticmethod
    def _duplicate_keys(
        objdef: ObjectDef, info: dict[str, Any], columns: list[Column], rows: list[list[str]]
    ) -> set[str]:
        """Upsert keys that occur more than once in the file (those rows all fail)."""
        ext_name = info.get("externalIdFieldName")
        if info["operation"] != "upsert" or not ext_name:
            return set()
        ext = objdef.field(ext_name)
        col = next(
            (
                c
                for c in columns
                if (c.kind == "id" and ext_name == "Id")
                or (c.fdef is not None and c.kind == "field" and c.fdef.name == ext_name)
            ),
            None,
        )
        if ext is None or col is None:
            return set()
        counts = Counter(
            ext.key_of(r[col.index]) for r in rows if len(r) > col.index and r[col.index] not in ("", "#N/A")
        )
        return {k for k, n in counts.items() if n > 1}

    @staticmethod
    def _row(
        writer: Writer,
        objdef: ObjectDef,
        info: dict[str, Any],
        columns: list[Column],
        row: list[str],
        *,
        duplicates: set[str],
    ) -> SaveResult:
        operation = info["operation"]
        try:
            prep = prepare_row(columns, row)
        except RowError as exc:
            error = exc.error
            return SaveResult(None, False, [error if isinstance(error, SfError) else SfError("", str(error))])
        if operation == "insert":
            return writer.insert(objdef, prep)
        if operation in ("delete", "hardDelete"):
            if not prep.record_id:
                return SaveResult(None, False, [SfError("MISSING_ARGUMENT", "Id not specified in a delete call")])
            return writer.delete(prep.record_id, hard=operation == "hardDelete", objdef=objdef)
        if operation == "update":
            if not prep.has_id or not prep.record_id:
                return SaveResult(None, False, [SfError("MISSING_ARGUMENT", "Id not specified in an update call")])
            return writer.update(objdef, prep, prep.record_id)
        ext = objdef.field(str(info["externalIdFieldName"]))
        assert ext is not None
        value = prep.record_id if ext.name == "Id" else prep.values.pop(ext.name, None)
        if value not in (None, "") and ext.key_of(value) in duplicates:
            return SaveResult(
                None,
                False,
                [SfError("DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", (ext.name,))],
            )
        if ext.name == "Id":
            prep.has_id = False
        try:
            return writer.upsert(objdef, ext, value, prep)
        except MultipleMatches as exc:
            return SaveResult(None, False, [exc.error()])


def _bulk_error(errors: list[SfError]) -> str:
    """``CODE:message:fields --``; a deserialize failure is reported as its bare message."""
    return " ".join(e.message if not e.code else e.bulk() for e in errors)
