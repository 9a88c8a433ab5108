"""Adapters over S3 and DynamoDB: the only place the domain's storage touches boto3.

S3 holds batches (JSON lines), manifests (JSON arrays, what Distributed Map reads),
crosswalk snapshots and reports. DynamoDB holds the run table, the audit log (one item per
destination write) and the id crosswalk (source key -> destination id, per org and object).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import IO, Any

import boto3
from botocore.config import Config

from shared import retry
from shared.api import AlreadyExists, Execution, Report, RunConflict, content_type_for
from shared.domain.spill import batched
from shared.errors import TransientError
from shared.executions import ExecutionStart
from shared.settings import Settings, get_settings

#: Sends of a BatchWriteItem/BatchGetItem whose items came back unprocessed (botocore's own retries
#: cover the throttled *calls*; unprocessed items are ours to resend, through ``retry.resend``).
DDB_ATTEMPTS = 8
#: How much of one streamed upload stays in memory before it spills to a temporary file (D-070: 1 MiB; a
#: load-ready batch is several, and four are written at a time).
SPOOL_BYTES = 1024 * 1024
#: Part size of :meth:`BlobStore.upload_file`'s multipart uploads, and the size up to which it sends one PUT.
PART_BYTES = 8 * 1024 * 1024
#: How much of a JSON-lines body :meth:`BlobStore.get_lines` reads at a time.
LINE_CHUNK_BYTES = 1024 * 1024
_CONFIG = Config(retries={"max_attempts": 8, "mode": "adaptive"}, max_pool_connections=32)


@lru_cache(maxsize=4)
def _client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class BlobStore:
    """JSON, JSON-lines and text objects in the data bucket."""

    def __init__(self, bucket: str, client: Any | None = None) -> None:
        self.bucket = bucket
        self.s3 = client or _client("s3")

    def put_bytes(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> str:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        return key

    def put_stream(self, key: str, chunks: Iterable[bytes], content_type: str = "application/octet-stream") -> int:
        """Upload a body that arrives in chunks (a file streamed from a source): at most
        :data:`SPOOL_BYTES` of it is held in memory (the rest spills to a temporary file, uploaded as
        :meth:`upload_file` does). Returns the size written."""
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            size = 0
            for chunk in chunks:
                spool.write(chunk)
                size += len(chunk)
            spool.seek(0)
            self._upload(key, spool, size, content_type)
        return size

    def _head(self, key: str) -> dict[str, Any] | None:
        """The object's HEAD answer; None when there is no such object (one request, no listing)."""
        try:
            return dict(self.s3.head_object(Bucket=self.bucket, Key=key))
        except self.s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def size(self, key: str) -> int | None:
        """The object's size; None when there is no such object (one HEAD, no listing)."""
        head = self._head(key)
        return None if head is None else int(head["ContentLength"])

    def etag(self, key: str) -> str | None:
        """The object's ETag (its version, as S3 names it); None when there is no such object (one HEAD)."""
        head = self._head(key)
        return None if head is None else str(head["ETag"])

    def download(self, key: str, path: str) -> str | None:
        """Stream the object into the file ``path`` (one GET, read in 1 MiB chunks); the ETag of what was
        written, or None (and no file) when there is no such object."""
        try:
            resp = self.s3.get_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.NoSuchKey:
            return None
        with open(path, "wb") as out:
            for chunk in resp["Body"].iter_chunks(1024 * 1024):
                out.write(chunk)
        return str(resp["ETag"])

    def upload_file(self, key: str, path: str, content_type: str = "application/octet-stream") -> str:
        """The file ``path`` to ``key``; the ETag S3 gave the new object (see :meth:`_upload`)."""
        with open(path, "rb") as body:
            return self._upload(key, body, os.path.getsize(path), content_type)

    def _upload(self, key: str, body: IO[bytes], size: int, content_type: str) -> str:
        """``size`` bytes read from ``body`` to ``key``; the ETag S3 gave the new object.

        One PUT (read by botocore as it sends) up to :data:`PART_BYTES`; past it a multipart upload whose
        parts are read and sent one at a time, so one part is in flight, not the body: a crosswalk snapshot
        of a large tenant is tens of MiB, and locally moto holds a PUT's body about twice over while it
        stores it (measured on a 40 MiB file: 94 MiB for one PUT, 20 MiB in 8 MiB parts)."""
        if size <= PART_BYTES:
            resp = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
            return str(resp["ETag"])
        upload = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)["UploadId"]
        try:
            parts: list[dict[str, Any]] = []
            while chunk := body.read(PART_BYTES):
                number = len(parts) + 1
                part = self.s3.upload_part(Bucket=self.bucket, Key=key, UploadId=upload, PartNumber=number,
                                           Body=chunk)
                parts.append({"PartNumber": number, "ETag": part["ETag"]})
                del chunk
            resp = self.s3.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload,
                                                     MultipartUpload={"Parts": parts})
        except BaseException:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload)
            raise
        return str(resp["ETag"])

    def get_bytes(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def get_typed(self, key: str) -> tuple[bytes, str] | None:
        """The object's body and stored content type; None when there is no such object."""
        try:
            resp = self.s3.get_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.NoSuchKey:
            return None
        return bytes(resp["Body"].read()), str(resp.get("ContentType") or "")

    def put_json(self, key: str, value: Any) -> str:
        return self.put_bytes(key, json.dumps(value, ensure_ascii=False, default=str).encode(), "application/json")

    def get_json(self, key: str) -> Any:
        return json.loads(self.get_bytes(key))

    def put_lines(self, key: str, rows: Iterable[Any]) -> str:
        """``rows`` as JSON lines, encoded one at a time into :meth:`put_stream`'s spool (at most
        :data:`SPOOL_BYTES` in memory, the rest on disk): never the batch's text whole, beside it its bytes,
        beside them the records (a batch of 10,000 work orders is ~40 MiB of JSON)."""
        return self.put_encoded_lines(key, (json_line(row) for row in rows))

    def put_encoded_lines(self, key: str, lines: Iterable[bytes]) -> str:
        """Lines already encoded (:func:`json_line`), joined by ``\\n`` as they come into :meth:`put_stream`."""
        self.put_stream(key, _joined(lines, b"\n"), "application/x-ndjson")
        return key

    def get_lines(self, key: str, span: tuple[int, int] | None = None) -> list[Any]:
        """The JSON lines at ``key``, parsed as the body streams in (1 MiB at a time): the records, never the
        body beside them. Lines split on ``\\n`` only (a record's text may hold U+2028 or other separators
        that ``str.splitlines`` would cut at). ``span`` (first byte, end byte) reads only those bytes with a
        ranged GET: whole lines as :meth:`line_starts` gave their offsets."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if span is not None:
            first, end = span
            if not 0 <= first < end:
                raise ValueError(f"get_lines {key}: span {span} is not a byte range (0 <= first < end)")
            params["Range"] = f"bytes={first}-{end - 1}"
        return [json.loads(line) for line in self._line_bytes(self.s3.get_object(**params)["Body"])]

    def get_encoded_lines(self, key: str) -> list[bytes]:
        """The lines at ``key`` as they are stored (each a record's JSON, not parsed; see ``LineRecords``)."""
        return list(self._line_bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]))

    @staticmethod
    def _line_bytes(body: Any) -> Iterator[bytes]:
        """The non-empty lines of a streamed body, read 1 MiB at a time, split on ``\\n`` only."""
        rest = b""
        for chunk in body.iter_chunks(LINE_CHUNK_BYTES):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            yield from (line for line in lines if line)
        if rest:
            yield rest

    def line_starts(self, key: str) -> list[int]:
        """The byte offset of every line of the JSON lines at ``key``, then the body's length: line ``n`` is
        bytes ``starts[n]`` to ``starts[n + 1]``. Read 1 MiB at a time and counted, never parsed."""
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        starts = [0]
        offset = 0
        for chunk in body.iter_chunks(LINE_CHUNK_BYTES):
            at = chunk.find(b"\n")
            while at != -1:
                starts.append(offset + at + 1)
                at = chunk.find(b"\n", at + 1)
            offset += len(chunk)
        if starts[-1] != offset:
            starts.append(offset)  # the last line has no newline after it (put_lines writes none)
        return starts

    def put_text(self, key: str, text: str, content_type: str = "text/plain; charset=utf-8") -> str:
        return self.put_bytes(key, text.encode(), content_type)

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)

    def exists(self, key: str) -> bool:
        resp = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        return any(o["Key"] == key for o in resp.get("Contents", []))

    def keys(self, prefix: str) -> Iterator[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                yield str(obj["Key"])


def json_line(row: Any) -> bytes:
    """One record as a line of :meth:`BlobStore.put_lines` (compact UTF-8 JSON, no newline)."""
    return json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode()


def _joined(parts: Iterable[bytes], separator: bytes) -> Iterator[bytes]:
    """``separator.join(parts)`` as the parts come, one at a time."""
    for n, part in enumerate(parts):
        if n:
            yield separator
        yield part


class _Table:
    def __init__(self, name: str, client: Any | None = None) -> None:
        self.name = name
        self.ddb = client or _client("dynamodb")

    def _write_all(self, items: Iterable[dict[str, Any]]) -> None:
        """BatchWriteItem in 25s, re-sending unprocessed items (bounded) until all are written."""
        self._batch_write({"PutRequest": {"Item": item}} for item in items)

    def _batch_write(self, requests: Iterable[dict[str, Any]]) -> None:
        """Put/Delete requests in 25s, re-sending unprocessed ones (bounded) until all are done. ``requests`` is
        read 25 at a time: a generator's items are built as they are sent (a batch's audit entries are never all
        held as DynamoDB items at once)."""
        def send(pending: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], float | None]:
            resp = self.ddb.batch_write_item(RequestItems={self.name: list(pending)})
            return list((resp.get("UnprocessedItems") or {}).get(self.name, [])), None

        for chunk in batched(requests, 25):
            left = retry.resend(chunk, send, DDB_ATTEMPTS)
            if left:
                raise TransientError(f"{self.name}: DynamoDB kept {len(left)} items unprocessed")


class CrosswalkStore(_Table):
    """source key -> destination id, scoped per destination org and object; kept across runs."""

    def put_many(self, scope: str, mapping: dict[str, str], run_id: str) -> None:
        at = now_iso()
        self._write_all(
            {"scope": {"S": scope}, "source_key": {"S": k}, "dest_id": {"S": v}, "run_id": {"S": run_id},
             "at": {"S": at}}
            for k, v in mapping.items()
        )

    def delete_many(self, scope: str, keys: Iterable[str]) -> None:
        """Forget keys (rollback deleted their records: a later run must insert them again)."""
        self._batch_write([{"DeleteRequest": {"Key": {"scope": {"S": scope}, "source_key": {"S": k}}}}
                           for k in sorted(set(keys))])

    def get_many(self, scope: str, keys: Iterable[str]) -> dict[str, str]:
        """source key -> destination id, for the keys the crosswalk knows."""
        return {k: v["dest_id"] for k, v in self._get(scope, keys).items()}

    def get_times(self, scope: str, keys: Iterable[str]) -> dict[str, str]:
        """source key -> when the engine last wrote that record (ISO-8601)."""
        return {k: v["at"] for k, v in self._get(scope, keys).items() if "at" in v}

    def _get(self, scope: str, keys: Iterable[str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        unique = sorted(set(keys))

        def send(keys: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], float | None]:
            resp = self.ddb.batch_get_item(RequestItems={self.name: {
                "Keys": list(keys), "ProjectionExpression": "source_key, dest_id, #at",
                "ExpressionAttributeNames": {"#at": "at"}}})
            for item in resp.get("Responses", {}).get(self.name, []):
                found[item["source_key"]["S"]] = {k: v["S"] for k, v in item.items()}
            return list((resp.get("UnprocessedKeys") or {}).get(self.name, {}).get("Keys", [])), None

        for chunk in batched(unique, 100):
            left = retry.resend([{"scope": {"S": scope}, "source_key": {"S": k}} for k in chunk], send, DDB_ATTEMPTS)
            if left:
                raise TransientError(f"{self.name}: DynamoDB kept {len(left)} keys unprocessed")
        return found


class AuditLog(_Table):
    """One item per destination write: run, object, batch, source key, destination id, operation,
    and for updates the before-image (JSON of the written fields' previous values) rollback restores.

    Writes to a run's sample environment (``env`` other than ``target``) carry ``env`` and a key of their
    own, so the same record written there and in the target are two entries, undone apart."""

    def record(self, run_id: str, entries: Iterable[dict[str, str]], env: str = "target") -> None:
        """Write ``entries`` (a generator is read as the items are sent, 25 at a time)."""
        at = now_iso()
        tag = {} if env == "target" else {"env": {"S": env}}
        suffix = "" if env == "target" else f"#{env}"
        self._write_all(
            {"run_id": {"S": run_id},
             "seq": {"S": f"{e['dest_object']}#{e['source_key']}#{e['batch']}#{e['operation']}{suffix}"},
             **{k: {"S": str(v)} for k, v in e.items()}, **tag, "at": {"S": at}}
            for e in entries
        )

    def entries(self, run_id: str) -> Iterator[dict[str, str]]:
        paginator = self.ddb.get_paginator("query")
        for page in paginator.paginate(TableName=self.name, KeyConditionExpression="run_id = :r",
                                       ExpressionAttributeValues={":r": {"S": run_id}}):
            for item in page.get("Items", []):
                yield {k: v["S"] for k, v in item.items()}


class RunStore(_Table):
    """The run table: status, current step, counts, report keys — what `GET /migrations/{id}` shows."""

    def update(self, run_id: str, **fields: Any) -> None:
        names = {f"#{k}": k for k in fields}
        values = {f":{k}": {"S": json.dumps(v, default=str)} for k, v in fields.items()}
        names["#updated_at"] = "updated_at"
        values[":updated_at"] = {"S": json.dumps(now_iso())}
        expr = "SET " + ", ".join(f"#{k} = :{k}" for k in [*fields, "updated_at"])
        self.ddb.update_item(TableName=self.name, Key={"run_id": {"S": run_id}}, UpdateExpression=expr,
                             ExpressionAttributeNames=names, ExpressionAttributeValues=values)

    def create(self, run_id: str, **fields: Any) -> None:
        """Put a new run item; :class:`shared.api.AlreadyExists` when the run id is taken."""
        item = {"run_id": {"S": run_id}, "updated_at": {"S": json.dumps(now_iso())},
                **{k: {"S": json.dumps(v, default=str)} for k, v in fields.items()}}
        try:
            self.ddb.put_item(TableName=self.name, Item=item, ConditionExpression="attribute_not_exists(run_id)")
        except self.ddb.exceptions.ConditionalCheckFailedException as exc:
            raise AlreadyExists(f"run {run_id!r}") from exc

    def get(self, run_id: str) -> dict[str, Any] | None:
        item = self.ddb.get_item(TableName=self.name, Key={"run_id": {"S": run_id}}).get("Item")
        if not item:
            return None
        return {k: (v["S"] if k == "run_id" else json.loads(v["S"])) for k, v in item.items()}


class Stores:
    """Everything a step needs from AWS, built once per container."""

    def __init__(self, settings: Settings | None = None) -> None:
        s = settings or get_settings()
        self.blobs = BlobStore(s.data_bucket)
        self.crosswalk = CrosswalkStore(s.crosswalk_table)
        self.audit = AuditLog(s.audit_table)
        self.runs = RunStore(s.runs_table)


def execution_arn(state_machine_arn: str, name: str) -> str:
    """``arn:...:stateMachine:<machine>`` + name -> ``arn:...:execution:<machine>:<name>``."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name


class StepFunctionsExecutions:
    """The migrate and rollback workflows, for the API (:class:`shared.api.Executions`)."""

    def __init__(self, machines: dict[str, str], client: Any | None = None) -> None:
        """``machines``: workflow (migrate, rollback) -> state machine ARN, those this caller may start."""
        self.machines = machines
        self.sfn = client or _client("stepfunctions")

    def start(self, workflow: str, start: ExecutionStart) -> str:
        try:
            resp = self.sfn.start_execution(stateMachineArn=self.machines[workflow], name=start.name,
                                            input=json.dumps(start.input))
        except self.sfn.exceptions.ExecutionAlreadyExists as exc:
            raise AlreadyExists(f"execution {start.name!r}") from exc
        return str(resp["executionArn"])

    def migration(self, run_id: str) -> Execution | None:
        return self.describe(execution_arn(self.machines["migrate"], run_id))

    def describe(self, arn: str) -> Execution | None:
        try:
            desc = self.sfn.describe_execution(executionArn=arn)
        except self.sfn.exceptions.ExecutionDoesNotExist:
            return None
        try:
            payload = json.loads(desc.get("input") or "null")
        except ValueError:
            payload = None
        return Execution(arn=arn, name=str(desc.get("name") or arn.rsplit(":", 1)[-1]), status=str(desc["status"]),
                         input=payload if isinstance(payload, dict) else None,
                         started_at=_iso(desc.get("startDate")), stopped_at=_iso(desc.get("stopDate")))


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return None if value is None else str(value)


class RunReports:
    """The files under ``runs/<id>/reports/`` (:class:`shared.api.Reports`)."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs

    def names(self, run_id: str) -> list[str]:
        prefix = f"runs/{run_id}/reports/"
        return sorted(name for key in self.blobs.keys(prefix) if "/" not in (name := key[len(prefix):]) and name)

    def get(self, run_id: str, name: str) -> Report | None:
        found = self.blobs.get_typed(f"runs/{run_id}/reports/{name}")
        if found is None:
            return None
        body, stored = found
        return Report(body=body, content_type=content_type_for(name, stored))


class StepFunctionsTasks:
    """Answers a waiting ``.waitForTaskToken`` task (:class:`shared.domain.approval.TaskAnswers`)."""

    def __init__(self, client: Any | None = None) -> None:
        self.sfn = client or _client("stepfunctions")

    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        try:
            self.sfn.send_task_success(taskToken=task_token, output=json.dumps(output))
        except (self.sfn.exceptions.TaskTimedOut, self.sfn.exceptions.InvalidToken,
                self.sfn.exceptions.TaskDoesNotExist) as exc:
            raise RunConflict("the run is no longer waiting for this sign-off (it timed out or was stopped)") from exc
