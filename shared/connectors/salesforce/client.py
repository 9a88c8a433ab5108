"""Salesforce Sales Cloud destination over the real client, simple-salesforce.

Declares its limits as data (:data:`CAPABILITIES`), describes objects, fields, pick-lists and
users, creates custom objects and fields through the Tooling API, writes with sObject
Collections (<= 200 per call) for small batches and Bulk API 2.0 for volume, upserting
on the external-id field that carries the source key, and reads back by id or key.
Every failure is translated into the error tree; per-record failures come back as
results, never as exceptions.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from functools import partial
from typing import IO, Any, TypeVar

import httpx
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceResourceNotFound
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_chain, wait_exponential, wait_fixed

from shared import retry
from shared.connectors.destination import ID, Capabilities, LineRecords, WriteCost, WriteResult, chunks
from shared.connectors.salesforce.capabilities import CAPABILITIES
from shared.errors import (
    AuthenticationError,
    ContractError,
    QuotaExhaustedError,
    TransientError,
    error_for_status,
    transport_error,
)
from shared.mapping.spec import CustomFieldSpec, CustomObjectSpec
from shared.models import DestField, DestObject, DestUser

__all__ = ["CAPABILITIES", "SalesforceDestination", "WriteResult"]
from shared.tls import ca_file, ssl_context

T = TypeVar("T")
_API_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
API_VERSION = "60.0"


#: Bulk API 2.0 throughput assumed when deciding how long to wait before the first status poll.
BULK_ROWS_PER_S_ESTIMATE = 4_000.0
#: How much of a Bulk job's CSV upload stays in memory before it spills to a temporary file.
SPOOL_BYTES = 1024 * 1024
#: How much of a Bulk job's results body is read at a time (its rows are parsed as it arrives).
RESULT_CHUNK_BYTES = 1024 * 1024
#: Records per ``Id IN (...)`` / ``key IN (...)`` query: a SOQL GET URL must stay under 16,384 characters.
IN_CHUNK = 400
#: A file is a ContentVersion; deleting it means deleting its ContentDocument.
FILE_OBJECT = "ContentVersion"


RETRY_RECORD_CODES = frozenset({"UNABLE_TO_LOCK_ROW"})
#: A delete answered with these found nothing left to delete (already deleted, or purged).
GONE_CODES = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"})
#: Bulk API 2.0 CSV: a blank cell leaves a field unchanged, ``#N/A`` sets it to null.
BULK_NULL = "#N/A"
BULK_TERMINAL = frozenset({"JobComplete", "Failed", "Aborted"})
BULK_JOB_TIMEOUT_S = 1800.0


class _TimeoutSession(requests.Session):
    """A session whose every call has a deadline: a hung call becomes a retried TransientError."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout_s)
        return super().request(method, url, *args, **kwargs)


def _first_error(errors: list[dict[str, Any]]) -> tuple[str, str, str]:
    err = errors[0] if errors else {}
    code = str(err.get("statusCode") or err.get("errorCode") or "UNKNOWN")
    return code, str(err.get("message", "")), ",".join(err.get("fields") or [])


#: API calls one Bulk API 2.0 job takes: create, upload, close, poll, results (and the failures' read).
BULK_JOB_CALLS = 6


def write_cost(obj: str, count: int, allow_bulk: bool, caps: Capabilities = CAPABILITIES) -> WriteCost:
    """One load of ``count`` records: one Bulk job above the threshold, else Collections of 200; every call
    counts against the org's daily API requests."""
    calls = BULK_JOB_CALLS if allow_bulk and caps.uses_bulk(obj, count) else -(-count // caps.write_batch_max)
    return WriteCost(calls=calls, units=calls)


class SalesforceDestination:
    """One Salesforce org. Credentials never appear in repr, logs or errors."""

    name = "salesforce"
    label = "Salesforce"
    capabilities = CAPABILITIES
    system_fields: tuple[str, ...] = ("LastModifiedDate", "SystemModstamp", "LastModifiedById")
    delete_note = "Deleted records go to the Salesforce Recycle Bin (soft delete), as a delete from the UI would."

    def __init__(self, url: str, client_id: str, client_secret: str, username: str, password: str,
                 ca_pem: str | None = None, version: str = API_VERSION, timeout_s: float = 120.0) -> None:
        self.url = url.rstrip("/")
        self.version = version
        self._ca_pem = ca_pem
        self.calls = 0
        self._last = threading.local()  # the Retry-After of *this thread's* last response
        self.api_used = 0
        self.api_max: int | None = None
        token = self._token(client_id, client_secret, username, password)
        self.instance_url = str(token["instance_url"]).rstrip("/")
        self.integration_user_id = str(token["id"]).rstrip("/").rsplit("/", 1)[-1]
        session = _TimeoutSession(timeout_s)
        session.verify = ca_file(ca_pem)
        if ca_pem:
            # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override session.verify; a pinned CA must win.
            session.trust_env = False
        session.hooks["response"].append(self._on_response)
        self.sf = Salesforce(instance_url=self.instance_url, session_id=str(token["access_token"]),
                             session=session, version=version)

    def __repr__(self) -> str:
        return f"SalesforceDestination({self.instance_url})"

    def close(self) -> None:
        self.sf.session.close()

    @property
    def scope(self) -> str:
        """Crosswalk scope prefix: the org, so two orgs never share ids."""
        return self.instance_url

    def _on_response(self, resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.calls += 1
        after = resp.headers.get("Retry-After")
        self._last.retry_after = retry.retry_after_s(after)
        usage = _API_USAGE.search(resp.headers.get("Sforce-Limit-Info", ""))
        if usage:
            self.api_used, self.api_max = int(usage.group(1)), int(usage.group(2))

    def _retry_after_s(self) -> float | None:
        return getattr(self._last, "retry_after", None)

    def remaining_api_calls(self) -> int | None:
        """What the org's daily API quota has left, as its last response said (Sforce-Limit-Info)."""
        return None if self.api_max is None else self.api_max - self.api_used

    def check_quota(self, needed: int = 1) -> None:
        """Pace loads on the quota: stop cleanly before the org runs out, keeping a reserve for its
        other integrations (``limits.api_reserve_fraction``), instead of failing mid-batch."""
        left = self.remaining_api_calls()
        if left is None or self.api_max is None:
            return
        reserve = int(self.api_max * self.capabilities.api_reserve_fraction)
        if left - needed < reserve:
            self.limits_report()  # the numbers may be stale (the rolling window moved on): ask again
            left = self.remaining_api_calls() or 0
        if left - needed < reserve:
            raise QuotaExhaustedError(f"Salesforce daily API quota: {left} calls left, {needed} needed and "
                                      f"{reserve} kept in reserve; pausing until the quota recovers")

    def limits_report(self) -> dict[str, Any]:
        """``GET /limits``: daily API requests and Bulk batches, Max and Remaining."""
        body = self._call("limits", lambda: self.sf.restful("limits/"))
        if not isinstance(body, dict):
            raise ContractError("Salesforce /limits did not answer with an object")
        return {k: body[k] for k in ("DailyApiRequests", "DailyBulkApiBatches") if k in body}

    def headroom(self) -> dict[str, Any]:
        """What the org has left for the pre-scan (``shared.domain.prescan``), from one ``GET /limits``: daily API
        calls, data and file storage (MB, as Salesforce meters them)."""
        body = self._call("limits", lambda: self.sf.restful("limits/"))
        if not isinstance(body, dict):
            raise ContractError("Salesforce /limits did not answer with an object")

        def left(name: str) -> int | None:
            entry = body.get(name)
            return int(entry["Remaining"]) if isinstance(entry, dict) and "Remaining" in entry else None

        mb = 1024 * 1024
        data, files = left("DataStorageMB"), left("FileStorageMB")
        return {"api_left": left("DailyApiRequests"), "api_unit": "calls",
                "data_storage_bytes_left": None if data is None else data * mb,
                "file_storage_bytes_left": None if files is None else files * mb}

    def _token(self, client_id: str, client_secret: str, username: str, password: str) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            try:
                resp = httpx.post(f"{self.url}/services/oauth2/token", verify=ssl_context(self._ca_pem), timeout=30,
                                  data={"grant_type": "password", "client_id": client_id,
                                        "client_secret": client_secret, "username": username, "password": password})
            except httpx.TransportError as exc:
                raise transport_error("Salesforce", "token endpoint", exc) from exc
            self.calls += 1
            if resp.status_code != 200:
                body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
                raise error_for_status("Salesforce", "login", resp.status_code, code=str(body.get("error", "")),
                                       retry_after_s=retry.retry_after_s(resp.headers.get("Retry-After")),
                                       refused=AuthenticationError)
            return dict(resp.json())

        return retry.call(attempt)

    # --- error translation ---------------------------------------------------------------
    def _error(self, what: str, status: int, content: Any) -> Exception:
        """The table's error for an answer (``shared.errors.STATUS_ERRORS``): REQUEST_LIMIT_EXCEEDED
        with a Retry-After is a throttle (wait and retry); without one it is the rolling 24-hour
        quota, which retrying now cannot help: the run pauses and resumes later."""
        code, message, _ = _first_error(content if isinstance(content, list) else [])
        if code == "UNKNOWN":
            code, message = "", str(content or "")[:300]
        return error_for_status("Salesforce", what, status, code=code, message=message,
                                retry_after_s=self._retry_after_s())

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        def attempt() -> T:
            try:
                return fn()
            except SalesforceError as exc:
                raise self._error(what, exc.status, exc.content) from exc
            except requests.RequestException as exc:
                raise transport_error("Salesforce", what, exc) from exc

        return retry.call(attempt)

    # --- describe ----------------------------------------------------------------------------
    def describe(self, obj: str) -> DestObject | None:
        """The object's fields, or None when the object does not exist (yet)."""
        def go() -> Any:
            try:
                return getattr(self.sf, obj).describe()
            except SalesforceResourceNotFound:
                return None

        body = self._call(f"describe {obj}", go)
        if body is None:
            return None
        fields = {
            f["name"]: DestField(
                name=f["name"], type=f["type"], label=f.get("label", ""), length=int(f.get("length") or 0),
                nillable=bool(f.get("nillable")), createable=bool(f.get("createable")),
                updateable=bool(f.get("updateable")), defaulted_on_create=bool(f.get("defaultedOnCreate")),
                external_id=bool(f.get("externalId")),
                picklist_values=[p["value"] for p in f.get("picklistValues") or [] if p.get("active", True)],
                restricted_picklist=bool(f.get("restrictedPicklist")), reference_to=list(f.get("referenceTo") or []),
            )
            for f in body["fields"]
        }
        return DestObject(name=obj, label=body.get("label", obj), custom=bool(body.get("custom")), fields=fields)

    def users(self) -> list[DestUser]:
        rows = self.query("SELECT Id, Email, IsActive, Name FROM User")
        return [DestUser(id=r["Id"], email=(r.get("Email") or "").lower(), active=bool(r.get("IsActive")),
                         name=r.get("Name") or "") for r in rows]

    def query(self, soql: str) -> list[dict[str, Any]]:
        return list(self.query_iter(soql))

    def query_iter(self, soql: str) -> Iterator[dict[str, Any]]:
        """Every row of a query, a page (2,000 rows) at a time: the next page (``nextRecordsUrl``) is asked
        when this one is consumed, and each page is its own call, retried alone."""
        result = self._call("query", lambda: self.sf.query(soql))
        while True:
            for row in result["records"]:
                yield {k: v for k, v in row.items() if k != "attributes"}
            if result.get("done", True):
                return
            result = self._call("query", partial(self.sf.query_more, str(result["nextRecordsUrl"]),
                                                 identifier_is_url=True))

    # --- schema --------------------------------------------------------------------------------
    def create_custom_object(self, spec: CustomObjectSpec) -> None:
        body = {"FullName": spec.name, "Metadata": {
            "label": spec.label, "pluralLabel": spec.plural_label, "nameField": {"type": "Text", "label": "Name"},
            "deploymentStatus": "Deployed", "sharingModel": "ReadWrite"}}
        self._tooling("sobjects/CustomObject", body, spec.name)

    def create_custom_field(self, spec: CustomFieldSpec) -> None:
        meta: dict[str, Any] = {"label": spec.label, "type": spec.type}
        if spec.type in ("Text", "LongTextArea"):
            meta["length"] = spec.length or 255
        if spec.type == "LongTextArea":
            meta["visibleLines"] = 5
        if spec.type in ("Number", "Currency"):
            meta["precision"], meta["scale"] = spec.precision or 18, spec.scale if spec.scale is not None else 2
        if spec.type == "Checkbox":
            meta["defaultValue"] = False
        if spec.type == "Picklist":
            meta["valueSet"] = {"restricted": spec.restricted, "valueSetDefinition": {
                "value": [{"fullName": v, "label": v, "default": False} for v in spec.picklist_values]}}
        if spec.type == "Lookup":
            rel = f"{spec.object.removesuffix('__c')}_{spec.name.removesuffix('__c')}".replace("__", "_")
            meta.update(referenceTo=spec.reference_to, relationshipName=rel[:40], relationshipLabel=spec.label,
                        deleteConstraint="SetNull")
        if spec.external_id:
            meta.update(externalId=True, unique=spec.unique, caseSensitive=False)
        self._tooling("sobjects/CustomField", {"FullName": f"{spec.object}.{spec.name}", "Metadata": meta},
                      f"{spec.object}.{spec.name}")

    def _tooling(self, path: str, body: dict[str, Any], what: str) -> None:
        result = self._call(f"create {what}", lambda: self.sf.toolingexecute(path, method="POST", data=body))
        if not (isinstance(result, dict) and result.get("success")):
            raise ContractError(f"Salesforce did not create {what}: {json.dumps(result)[:300]}")

    # --- schema removal (rollback with rollback_schema) --------------------------------------------
    def holds_data(self, obj: str, field_name: str | None = None) -> bool:
        where = ""
        described = self.describe(obj)
        if described is None:
            return False
        if field_name is not None:
            if field_name not in described.fields:
                return False
            checkbox = described.fields[field_name].type == "boolean"  # never null: false is "empty"
            where = f" WHERE {field_name} = true" if checkbox else f" WHERE {field_name} != null"
        soql = f"SELECT COUNT() FROM {obj}{where}"  # noqa: S608 - names from the run's own spec
        result = self._call(f"count {obj}", lambda: self.sf.query(soql))
        return int(result.get("totalSize") or 0) > 0

    def _tooling_id(self, kind: str, developer_name: str, table: str | None = None) -> str | None:
        where = f"DeveloperName = {_literal(developer_name)}"
        if table is not None:
            where += f" AND TableEnumOrId = {_literal(table)}"
        soql = f"SELECT Id FROM {kind} WHERE {where}"  # noqa: S608 - literals escaped
        rows = self._call(f"find {kind} {developer_name}", lambda: self.sf.toolingexecute(
            "query", params={"q": soql})).get("records") or []
        return str(rows[0]["Id"]) if rows else None

    def drop_custom_field(self, obj: str, field_name: str) -> None:
        """Delete a custom field through the Tooling API (by its id: DeveloperName on its table)."""
        table = obj
        if obj.endswith("__c"):  # a custom object's fields are filed under the object's id
            table = self._tooling_id("CustomObject", obj.removesuffix("__c")) or obj
        fid = self._tooling_id("CustomField", field_name.removesuffix("__c"), table)
        if fid is not None:
            self._call(f"delete {obj}.{field_name}",
                       lambda: self.sf.toolingexecute(f"sobjects/CustomField/{fid}", method="DELETE"))

    def drop_custom_object(self, obj: str) -> None:
        oid = self._tooling_id("CustomObject", obj.removesuffix("__c"))
        if oid is not None:
            self._call(f"delete {obj}", lambda: self.sf.toolingexecute(f"sobjects/CustomObject/{oid}",
                                                                        method="DELETE"))

    # --- writes ----------------------------------------------------------------------------------
    def upsert(self, obj: str, ext_field: str, records: Sequence[dict[str, Any]], *, allow_bulk: bool
               ) -> list[WriteResult]:
        """Upsert on ``ext_field``; records failing with a lock conflict are retried (bounded)."""
        def write(o: str, key: str, recs: Sequence[dict[str, Any]]) -> list[WriteResult]:
            self.check_quota(self.calls_needed(o, len(recs), allow_bulk))
            if allow_bulk and self.use_bulk(o, len(recs)):
                return self._bulk_job(o, "upsert", key, recs)
            return self._collection_upsert(o, key, recs)

        return self._with_lock_retries(obj, ext_field, records, write)

    def calls_needed(self, obj: str, count: int, allow_bulk: bool) -> int:
        return write_cost(obj, count, allow_bulk, self.capabilities).calls

    def use_bulk(self, obj: str, count: int) -> bool:
        return self.capabilities.uses_bulk(obj, count)

    def insert(self, obj: str, ext_field: str, records: Sequence[dict[str, Any]], *, match_on: list[str] | None = None
               ) -> list[WriteResult]:
        """Insert; results are keyed by ``ext_field``. With ``match_on`` (objects that cannot carry
        the external-id field) the key is not sent and results are matched on those fields."""
        send_key = match_on is None

        def write(o: str, key: str, recs: Sequence[dict[str, Any]]) -> list[WriteResult]:
            self.check_quota(self.calls_needed(o, len(recs), True))
            if self.use_bulk(o, len(recs)):
                return self._bulk_job(o, "insert", key, recs, match_on=match_on)
            return self._collection_insert(o, key, recs, send_key=send_key)

        return self._with_lock_retries(obj, ext_field, records, write)

    def update(self, obj: str, records: list[dict[str, Any]], *, allow_bulk: bool = False) -> list[WriteResult]:
        """Update by Id (fix-up pass, rollback restores); the result key is the Id.

        With ``allow_bulk`` a large update is one Bulk API 2.0 job, where a ``None`` value is sent
        as ``#N/A`` (set to null) and a field a record lacks as a blank cell (left unchanged).
        """
        if allow_bulk and self.use_bulk(obj, len(records)):
            return self._bulk_job(obj, "update", "Id", records, null_value=BULK_NULL)
        out: list[WriteResult] = []
        for chunk in chunks(records, self.capabilities.write_batch_max):
            body = {"allOrNone": False, "records": [{"attributes": {"type": obj}, **r} for r in chunk]}
            res = self._call(f"update {obj}", lambda b=body: self.sf.restful(  # type: ignore[misc]
                "composite/sobjects", method="PATCH", data=json.dumps(b)))
            out.extend(self._results(chunk, res, "Id"))
        return out

    def delete(self, ids: list[str]) -> list[WriteResult]:
        out: list[WriteResult] = []
        for chunk in chunks(ids, self.capabilities.write_batch_max):
            res = self._call("delete", lambda c=chunk: self.sf.restful(  # type: ignore[misc]
                "composite/sobjects", method="DELETE", params={"ids": ",".join(c), "allOrNone": "false"}))
            out.extend(self._results([{"Id": i} for i in chunk], res, "Id"))
        return out

    def delete_records(self, obj: str, ids: list[str]) -> list[WriteResult]:
        """Delete records of ``obj``: one Bulk API 2.0 job above the bulk threshold, else Collections.

        Results are keyed by the Id sent. A record that is already gone (deleted earlier, e.g. by a
        retried attempt, or purged) counts as deleted, so a retried delete converges. Deleted
        records go to the Recycle Bin, as a delete from the UI would (no hard delete). A file
        (ContentVersion) is deleted through its ContentDocument, the results still keyed by version.
        """
        if not ids:
            return []
        if obj == FILE_OBJECT:
            return self._delete_files(ids)
        if self.use_bulk(obj, len(ids)):
            results = self._bulk_job(obj, "delete", ID, [{ID: i} for i in ids])
        else:
            results = self.delete(ids)
        return [WriteResult(r.key, r.id or r.key, False) if r.error_code in GONE_CODES else r for r in results]

    def _delete_files(self, version_ids: list[str]) -> list[WriteResult]:
        documents = self.content_documents(version_ids)
        results = {r.key: r for r in self.delete_records("ContentDocument", sorted(set(documents.values())))}
        out = []
        for version in version_ids:
            doc = documents.get(version)
            res = results.get(doc) if doc is not None else None
            if doc is None or (res is not None and res.ok):  # no version left: its document is gone already
                out.append(WriteResult(version, version, False))
            else:
                code = res.error_code if res is not None else "NO_RESULT"
                message = res.error_message if res is not None else "no result for its ContentDocument"
                out.append(WriteResult(version, version, False, code, f"ContentDocument {doc}: {message}"))
        return out

    def content_documents(self, version_ids: list[str]) -> dict[str, str]:
        """ContentVersion id -> its ContentDocument id (a file is deleted through its document).

        Versions already gone are absent from the answer.
        """
        found: dict[str, str] = {}
        for chunk in chunks(version_ids, IN_CHUNK):
            soql = f"SELECT Id, ContentDocumentId FROM ContentVersion WHERE Id IN ({_ids_in(chunk)})"  # noqa: S608
            for row in self.query(soql):
                found[str(row["Id"])] = str(row["ContentDocumentId"])
        return found

    def existing_ids(self, obj: str, ids: list[str]) -> set[str]:
        """Which of ``ids`` still exist (not deleted) in ``obj``, as the ids were given."""
        by_prefix = {i[:15]: i for i in ids}
        found: set[str] = set()
        for chunk in chunks(sorted(by_prefix), IN_CHUNK):
            for row in self.query(f"SELECT Id FROM {obj} WHERE Id IN ({_ids_in(chunk)})"):  # noqa: S608
                got = by_prefix.get(str(row["Id"])[:15])
                if got is not None:
                    found.add(got)
        return found

    # --- reads the engine asks by intention (SOQL stays in here) ------------------------------------
    def find_by_key(self, obj: str, key_field: str, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in chunks(keys, IN_CHUNK):
            literals = ", ".join(_literal(k) for k in chunk)
            for row in self.query(f"SELECT Id, {key_field} FROM {obj} WHERE {key_field} IN ({literals})"):  # noqa: S608
                found[str(row[key_field])] = str(row["Id"])
        return found

    def find_by_key_prefix(self, obj: str, key_field: str, prefix: str) -> dict[str, str]:
        return {str(r[key_field]): str(r["Id"]) for r in self.rows_with_key_prefix(obj, [], key_field, prefix)}

    def find_natural(self, obj: str, fields: list[str], records: Sequence[dict[str, Any]]
                     ) -> dict[tuple[str, ...], str]:
        first = fields[0]
        parents = sorted({str(r[first]) for r in records if r.get(first)})
        existing: dict[tuple[str, ...], str] = {}
        for chunk in chunks(parents, IN_CHUNK):
            literals = ", ".join(_literal(v) for v in chunk)
            soql = f"SELECT Id, {', '.join(fields)} FROM {obj} WHERE {first} IN ({literals})"  # noqa: S608
            for row in self.query(soql):
                existing[tuple(str(row.get(f) or "") for f in fields)] = str(row["Id"])
        return existing

    def modified_stamps(self, obj: str, ids: list[str]) -> dict[str, str]:
        """``SystemModstamp`` (moved by every change; LastModifiedDate is ours to set on insert)."""
        rows = self.retrieve(obj, ids, ["SystemModstamp"])  # in the order of ids, None where absent
        return {i: str(r.get("SystemModstamp") or "") for i, r in zip(ids, rows, strict=True) if r}

    def rows_with_key_prefix(self, obj: str, fields: list[str], key_field: str, prefix: str
                             ) -> Iterator[dict[str, Any]]:
        """One query (its pages: 2,000 rows each, read as they are consumed) on the key's prefix."""
        names = list(dict.fromkeys(["Id", key_field, *fields]))
        soql = (f"SELECT {', '.join(names)} FROM {obj} "  # noqa: S608 - names from the approved spec
                f"WHERE {key_field} LIKE {_literal(prefix + '%')}")
        # LIKE's '_' matches any character: keep only the rows whose key really starts with the prefix.
        return (r for r in self.query_iter(soql) if str(r.get(key_field) or "").startswith(prefix))

    def rows_by_id(self, obj: str, ids: list[str], fields: list[str]) -> list[dict[str, Any]]:
        """One query per 400 ids."""
        names = list(dict.fromkeys(["Id", *fields]))
        rows: list[dict[str, Any]] = []
        for chunk in chunks(ids, IN_CHUNK):
            rows += self.query(f"SELECT {', '.join(names)} FROM {obj} WHERE Id IN ({_ids_in(chunk)})")  # noqa: S608
        return rows

    def audit_fields_settable(self, described: Mapping[str, DestObject]) -> bool:
        """CreatedDate is createable when the org lets integrations set audit fields (reference §1.7)."""
        account = described.get("Account")
        created = account.fields.get("CreatedDate") if account else None
        return bool(created and created.createable)

    def retrieve(self, obj: str, ids: list[str], fields: list[str]) -> list[dict[str, Any] | None]:
        out: list[dict[str, Any] | None] = []
        for chunk in chunks(ids, self.capabilities.write_batch_max):
            res = self._call(f"retrieve {obj}", lambda c=chunk: self.sf.restful(  # type: ignore[misc]
                f"composite/sobjects/{obj}", method="GET", params={"ids": ",".join(c), "fields": ",".join(fields)}))
            out.extend(res or [])
        return out

    def _with_lock_retries(self, obj: str, ext_field: str, records: Sequence[dict[str, Any]],
                           write: Callable[[str, str, Sequence[dict[str, Any]]], list[WriteResult]]
                           ) -> list[WriteResult]:
        """Resend only the records refused with a row lock, through the one policy (``retry.resend``);
        a record still locked after the last send keeps its UNABLE_TO_LOCK_ROW result (a reject).

        What is resent is the records' positions, not the records: the first send writes ``records`` as given
        (a load's :class:`LineRecords`, parsed a record at a time as the Bulk CSV is written), and only the
        few locked ones are read again."""
        keys = records.keys if isinstance(records, LineRecords) else [r[ext_field] for r in records]
        position = {k: i for i, k in enumerate(keys)}
        final: dict[str, WriteResult] = {}

        def send(pending: Sequence[int]) -> tuple[list[int], float | None]:
            batch = records if len(pending) == len(records) else [records[i] for i in pending]
            locked = []
            for res in write(obj, ext_field, batch):
                final[res.key] = res
                if res.error_code in RETRY_RECORD_CODES and res.key in position:
                    locked.append(position[res.key])
            return locked, None

        retry.resend(range(len(records)), send)
        return [final[k] for k in keys if k in final]

    def _collection_upsert(self, obj: str, ext_field: str, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        out: list[WriteResult] = []
        for chunk in chunks(records, self.capabilities.write_batch_max):
            body = {"allOrNone": False, "records": [{"attributes": {"type": obj}, **r} for r in chunk]}
            res = self._call(f"upsert {obj}", lambda b=body: self.sf.restful(  # type: ignore[misc]
                f"composite/sobjects/{obj}/{ext_field}", method="PATCH", data=json.dumps(b)))
            out.extend(self._results(chunk, res, ext_field))
        return out

    def _collection_insert(self, obj: str, ext_field: str, records: Sequence[dict[str, Any]], *, send_key: bool = True
                           ) -> list[WriteResult]:
        out: list[WriteResult] = []
        for chunk in chunks(records, self.capabilities.write_batch_max):
            body = {"allOrNone": False, "records": [
                {"attributes": {"type": obj}, **{k: v for k, v in r.items() if send_key or k != ext_field}}
                for r in chunk]}
            res = self._call(f"insert {obj}", lambda b=body: self.sf.restful(  # type: ignore[misc]
                "composite/sobjects", method="POST", data=json.dumps(b)))
            out.extend(self._results(chunk, res, ext_field, created=True))
        return out

    @staticmethod
    def _results(chunk: Sequence[dict[str, Any]], res: Any, key_field: str, created: bool | None = None
                 ) -> list[WriteResult]:
        if not isinstance(res, list) or len(res) != len(chunk):
            raise ContractError(f"Salesforce collections answered {type(res).__name__} for {len(chunk)} records")
        out = []
        for rec, r in zip(chunk, res, strict=True):
            if r.get("success"):
                out.append(WriteResult(rec[key_field], r.get("id"), bool(r.get("created", created))))
            else:
                code, message, fields = _first_error(r.get("errors") or [])
                out.append(WriteResult(rec[key_field], r.get("id"), False, code, message, fields))
        return out

    # --- Bulk API 2.0 ingest ---------------------------------------------------------------------
    def _bulk_request(self, method: str, path: str, what: str, **kwargs: Any) -> requests.Response:
        """One Bulk API 2.0 call on the client's authenticated session, errors translated."""
        headers = {**self.sf.headers, **kwargs.pop("headers", {})}

        def attempt() -> requests.Response:
            body = kwargs.get("data")
            if body is not None and hasattr(body, "seek"):  # a spooled upload: every attempt sends it whole
                body.seek(0)
            try:
                resp = self.sf.session.request(method, self.sf.bulk2_url + path, headers=headers, **kwargs)
            except requests.RequestException as exc:
                raise transport_error("Salesforce", what, exc) from exc
            if resp.status_code < 300:
                return resp
            body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else []
            raise self._error(what, resp.status_code, body)

        return retry.call(attempt)

    def _bulk_job(self, obj: str, operation: str, key_field: str, records: Sequence[dict[str, Any]], *,
                  match_on: list[str] | None = None, null_value: str = "") -> list[WriteResult]:
        """One ingest job: create, upload, close, poll until done, successful (and, if any, failed) results.

        That is the fewest calls the API allows (5, +1 when rows failed); the first poll waits for
        the job's expected duration so one poll is usually enough. Result rows echo the uploaded
        columns, so each is matched back to its record by ``key_field`` (or by ``match_on``).
        """
        spec: dict[str, Any] = {"object": obj, "operation": operation, "contentType": "CSV", "lineEnding": "LF",
                                "columnDelimiter": "COMMA"}
        if operation == "upsert":
            spec["externalIdFieldName"] = key_field
        rows: Sequence[dict[str, Any]] = (records if match_on is None else  # read twice: columns, then rows
                                          [{k: v for k, v in r.items() if k != key_field} for r in records])
        by_match = {tuple(str(r.get(f) or "") for f in match_on): r[key_field] for r in records} if match_on else {}

        def key_of(row: dict[str, str]) -> str:
            return row[key_field] if match_on is None else by_match[tuple(row.get(f, "") for f in match_on)]

        job = self._bulk_request("POST", "ingest", f"bulk create {obj}", json=spec).json()
        job_id = str(job["id"])
        with _csv_spool(rows, null_value) as upload:
            self._bulk_request("PUT", f"ingest/{job_id}/batches", f"bulk upload {obj}",
                               data=upload, headers={"Content-Type": "text/csv"})
        self._bulk_request("PATCH", f"ingest/{job_id}", f"bulk close {obj}", json={"state": "UploadComplete"})
        first_wait = max(1.0, min(8.0, len(records) / BULK_ROWS_PER_S_ESTIMATE))
        poller = Retrying(retry=retry_if_result(lambda info: info["state"] not in BULK_TERMINAL),
                          wait=wait_chain(wait_fixed(first_wait), wait_exponential(multiplier=0.5, max=10)),
                          stop=stop_after_delay(BULK_JOB_TIMEOUT_S), reraise=True)
        time.sleep(first_wait)
        info: dict[str, Any] = poller(lambda: self._bulk_request("GET", f"ingest/{job_id}", "bulk status").json())
        if info["state"] == "Failed" and "limit" in str(info.get("errorMessage", "")).lower():
            raise QuotaExhaustedError(f"Salesforce Bulk job for {obj}: {str(info.get('errorMessage'))[:300]}")
        if info["state"] != "JobComplete":
            raise TransientError(f"Salesforce Bulk job for {obj} ended {info['state']}: "
                                 f"{str(info.get('errorMessage', ''))[:300]}")
        out: list[WriteResult] = []
        wanted = [key_field] if match_on is None else list(match_on)
        ok_csv = self._bulk_request("GET", f"ingest/{job_id}/successfulResults/", "bulk results", stream=True)
        for row in _csv_rows(ok_csv, ["sf__Id", "sf__Created", *wanted]):
            created = operation == "insert" or row.get("sf__Created", "").lower() == "true"
            out.append(WriteResult(key_of(row), row["sf__Id"], created))
        if int(info.get("numberRecordsFailed", 0)):
            bad_csv = self._bulk_request("GET", f"ingest/{job_id}/failedResults/", "bulk failures", stream=True)
            for row in _csv_rows(bad_csv, ["sf__Id", "sf__Error", *wanted]):
                code, _, message = row.get("sf__Error", "UNKNOWN:").partition(":")
                out.append(WriteResult(key_of(row), row.get("sf__Id") or None, False, code, message))
        return out


def _write_csv(out: IO[str], records: Sequence[dict[str, Any]], null_value: str = "") -> None:
    """Bulk CSV: the union of columns; booleans as true/false; an absent field is an empty cell
    (unchanged on update) and a ``None`` value is ``null_value`` (``#N/A`` sets it to null). ``records`` is read
    twice (the columns, then the rows): a :class:`LineRecords` parses one record at a time each time."""
    columns = sorted({k for r in records for k in r})
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for r in records:
        writer.writerow(["" if c not in r else null_value if (v := r[c]) is None else
                         ("true" if v is True else "false" if v is False else v) for c in columns])


def _to_csv(records: list[dict[str, Any]], null_value: str = "") -> str:
    """:func:`_write_csv` as text."""
    buf = io.StringIO()
    _write_csv(buf, records, null_value)
    return buf.getvalue()


@contextmanager
def _csv_spool(records: Sequence[dict[str, Any]], null_value: str = "") -> Iterator[IO[bytes]]:
    """:func:`_write_csv` encoded a row at a time into a spool (in memory up to :data:`SPOOL_BYTES`, on disk
    past it), the upload's body: never the job's CSV as text, beside it its bytes (10,000 work orders are
    ~10 MB of CSV), while the records themselves are still held."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        _write_csv(text, records, null_value)
        text.flush()
        text.detach()
        spool.seek(0)
        yield spool


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ids_in(ids: list[str]) -> str:
    """A SOQL ``IN`` list of record ids (ids are alphanumeric; anything else is dropped, never quoted in)."""
    return ",".join(f"'{i}'" for i in ids if i.isalnum())


def _csv_rows(resp: requests.Response, columns: list[str]) -> Iterator[dict[str, str]]:
    """A Bulk job's result rows one at a time as the (streamed) body arrives, each with only ``columns`` (absent
    ones are left out): a result row echoes every uploaded column, so 10,000 of them whole would be the job's
    records a second time over, and the body whole (its bytes, then its text) twice more. Results are UTF-8."""
    with closing(resp):
        reader = csv.reader(_lines(codecs.iterdecode(resp.iter_content(RESULT_CHUNK_BYTES), "utf-8")))
        header = next(reader, None)
        if not header:
            return
        at = [(c, header.index(c)) for c in columns if c in header]
        for row in reader:
            if row:
                yield {c: row[i] for c, i in at if i < len(row)}


def _lines(chunks: Iterator[str]) -> Iterator[str]:
    """Text chunks as lines, each with its ``\n`` (``csv.reader`` joins a quoted field's lines itself); split on
    ``\n`` only, as the Bulk API ends its lines (``lineEnding: LF``)."""
    rest = ""
    for chunk in chunks:
        rest += chunk
        *whole, rest = rest.split("\n")
        for line in whole:
            yield line + "\n"
    if rest:
        yield rest
