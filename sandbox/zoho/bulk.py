"""The Bulk Write API: upload a zipped CSV to the content host, create a job (500 credits), poll, download.

Lifecycle as Zoho documents it: ``POST {content}/crm/v8/upload`` (headers ``feature: bulk-write`` and
``X-CRM-ORG``) returns a ``file_id``; ``POST /crm/bulk/v8/write`` with the operation, module,
``field_mappings`` (CSV column index → api name) and ``find_by`` (update/upsert) creates the
job; ``GET /crm/bulk/v8/write/{id}`` moves ADDED → IN PROGRESS → COMPLETED (the rows are
written through the same engine as REST writes, without workflows) and then carries
``result.download_url``: a zip with the CSV plus ``RECORD_ID``, ``STATUS``, ``ERRORS`` columns.
"""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

from sandbox.zoho.credits import BULK_WRITE_COST, Credits
from sandbox.zoho.errors import ZohoError
from sandbox.zoho.http import Answer, Call, Router
from sandbox.zoho.multipart import form_parts
from sandbox.zoho.org import Org, iso
from sandbox.zoho.records import RecordEngine, WriteOptions
from sandbox.zoho.schema import FieldDef, ModuleDef

UPLOAD_MAX_BYTES = 25 * 1024 * 1024
OPERATIONS = ("insert", "update", "upsert")


def bulk_error(code: str, message: str, status: int = 400, **details: Any) -> ZohoError:
    return ZohoError(code, message, details, status)


def _csv_value(fd: FieldDef, raw: str) -> Any:
    """A CSV cell in the JSON form the write engine checks (bulk files carry text only)."""
    kind = fd.data_type
    try:
        if kind in ("integer",):
            return int(raw)
        if kind in ("double", "currency", "percent"):
            return float(raw)
    except ValueError:
        return raw  # the engine answers INVALID_DATA for it
    if kind == "boolean":
        return raw.strip().lower() == "true" if raw.strip().lower() in ("true", "false") else raw
    if kind == "multiselectpicklist":
        return [v for v in raw.split(";") if v]
    if kind in ("lookup", "ownerlookup", "userlookup"):
        return {"id": raw}
    return raw


class BulkWrite:
    def __init__(self, org: Org, credits: Credits, engine: RecordEngine) -> None:
        self.org = org
        self.credits = credits
        self.engine = engine

    def register(self, router: Router) -> None:
        router.add("POST", "/content/crm/v8/upload", self.upload, "files")
        router.add("POST", "/crm/bulk/v8/write", self.create, "bulk")
        router.add("GET", "/crm/bulk/v8/write/{job_id}", self.status, "bulk")
        router.add("GET", "/download/v2/crm/{org}/bulk-write/{job_id}/{name}", self.download, "bulk")

    # -- upload -----------------------------------------------------------------------------------------------
    def upload(self, call: Call) -> Answer:
        if call.header("feature") != "bulk-write" or call.header("x-crm-org") != self.org.org_id:
            return Answer(400, {"x-error": "check if headers [feature, X-CRM-ORG] are present and valid",
                                "info": "Forbidden", "x-info": "Link not valid"})
        parts = form_parts(call.header("content-type"), call.body)
        if "file" not in parts:
            raise bulk_error("MISSING_REQUIRED_KEY", "required key file is not found in request body.")
        name, content = parts["file"]
        if len(content) > UPLOAD_MAX_BYTES:
            raise bulk_error("FILE_TOO_LARGE", "File size too large to process")
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
                if len(members) != 1:
                    raise bulk_error("FILE_NOT_SUPPORTED", "File not supported for bulk write")
        except zipfile.BadZipFile:
            raise bulk_error("INVALID_FILE_FORMAT", "invalid file format. only zip format is supported") from None
        self.credits.charge(self.org.config.bulk_upload_credits, "POST upload")
        file_id = self.org.new_id()
        now = iso(self.org.now())
        self.org.store.add_file(file_id, "bulk", name or "upload.zip", content, {"created_time": now})
        return Answer(200, {"status": "success", "code": "FILE_UPLOAD_SUCCESS", "message": "file uploaded.",
                            "details": {"file_id": file_id, "id": file_id, "created_time": now,
                                        "created_by": self.org.minified_user(call.user_id)}})

    # -- create -----------------------------------------------------------------------------------------------
    def create(self, call: Call) -> Answer:
        body = call.json()
        if not isinstance(body, dict) or body.get("operation") not in OPERATIONS:
            raise bulk_error("MISSING_REQUIRED_KEY", "required key operation is not found in request body.")
        resources = body.get("resource")
        if not isinstance(resources, list) or not resources:
            raise bulk_error("MISSING_REQUIRED_KEY", "required key resource is not found in request body.")
        if body.get("callback") is not None:
            callback = body["callback"]
            if not isinstance(callback, dict) or callback.get("method") != "post":
                raise ZohoError("INVALID_CALLBACK_METHOD", "invalid callback method",
                                {"supported_callback_methods": ["post"]})
        checked = [self._check_resource(body["operation"], r) for r in resources]
        self.credits.charge(BULK_WRITE_COST, "POST bulk write")
        job_id = self.org.new_id()
        job = {"id": job_id, "operation": body["operation"], "created_by": self.org.minified_user(call.user_id),
               "created_time": iso(self.org.now()), "created_at": self.org.now(),
               "character_encoding": body.get("character_encoding") or "UTF-8",
               "ignore_empty": bool(body.get("ignore_empty", False)), "status": "ADDED", "resource": checked,
               "callback": body.get("callback"), "user_id": call.user_id}
        self.org.store.put_job(job_id, job)
        return Answer(201, {"status": "success", "code": "SUCCESS", "message": "success",
                            "details": {"id": job_id, "created_by": job["created_by"]}})

    def _check_resource(self, operation: str, res: Any) -> dict[str, Any]:
        if not isinstance(res, dict):
            raise bulk_error("MISSING_REQUIRED_KEY", "required key resource is not found in request body.")
        name = ((res.get("module") or {}).get("api_name")) if isinstance(res.get("module"), dict) else None
        mod = self.org.module(str(name)) if name else None
        if mod is None:
            raise bulk_error("MODULE_NOT_AVAILABLE", f"Requested module '{name}' is not available.")
        found = self.org.store.file(str(res.get("file_id", "")))
        if found is None or found[0] != "bulk":
            raise bulk_error("INVALID_FILE_ID", "improper file id")
        header = self._rows(found[2])[0]
        mappings = res.get("field_mappings")
        if not isinstance(mappings, list) or not mappings:
            raise bulk_error("MISSING_REQUIRED_KEY", "required key field_mappings is not found in request body.")
        for m in mappings:
            api = m.get("api_name") if isinstance(m, dict) else None
            if api not in mod.fields and api != "id":
                raise bulk_error("INVALID_FIELD_NAME", f"invalid mapping. invalid api_name {api}.")
            if not isinstance(m.get("index"), int) or not 0 <= m["index"] < len(header):
                raise bulk_error("COLUMN_INDEX_NOT_FOUND", f"required key index for field {api} is not found in "
                                 "request body.")
        mapped = {m["api_name"] for m in mappings}
        if operation == "insert":
            missing = [f.api_name for f in mod.fields.values() if f.mandatory and f.api_name not in mapped
                       and f.api_name != "Pipeline"]
            if missing:
                raise bulk_error("MANDATORY_FIELDS_NOT_MAPPED", "All mandatory fields are not mapped for the layout",
                                 fields=missing)
        find_by = res.get("find_by")
        if operation != "insert":
            key = mod.fields.get(str(find_by))
            if find_by != "id" and (key is None or not (key.unique or key.external or
                                                         find_by == mod.duplicate_field)):
                raise bulk_error("INVALID_DATA", "invalid find_by field", api_name=str(find_by))
            if find_by not in mapped:
                raise bulk_error("MANDATORY_FIELDS_NOT_MAPPED", "All mandatory fields are not mapped for the layout",
                                 fields=[find_by])
        return {"type": "data", "status": "ADDED", "module": self.org.minified_module(mod.api_name),
                "file_id": res["file_id"], "find_by": find_by, "ignore_empty": res.get("ignore_empty"),
                "field_mappings": [{"api_name": m["api_name"], "index": m["index"]} for m in mappings],
                "file": {"status": "ADDED", "name": found[1], "added_count": 0, "skipped_count": 0,
                         "updated_count": 0, "total_count": 0}}

    @staticmethod
    def _rows(content: bytes) -> list[list[str]]:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            member = next(n for n in archive.namelist() if n.lower().endswith(".csv"))
            text = archive.read(member).decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        return rows or [[]]

    # -- run / poll -------------------------------------------------------------------------------------------
    def status(self, call: Call) -> Answer:
        job = self.org.store.job(call.match["job_id"])
        if job is None:
            raise bulk_error("RESOURCE_NOT_FOUND", "The requested resource doesn't exist.", 404)
        self.credits.charge(self.org.config.bulk_status_credits, "GET bulk write")
        age = self.org.now() - float(job["created_at"])
        delay = self.org.config.bulk_job_delay_s
        if job["status"] != "COMPLETED":
            if age >= delay:
                job = self._run(job, call.base_url)
            elif age >= delay / 2:
                job["status"] = "IN PROGRESS"
                for res in job["resource"]:
                    res["status"] = res["file"]["status"] = "IN PROGRESS"
        out = {k: job[k] for k in ("id", "operation", "created_by", "created_time", "character_encoding",
                                   "status", "resource")}
        if job.get("callback"):
            out["callback"] = job["callback"]
        if job.get("result"):
            out["result"] = job["result"]
        return Answer(200, out)

    def _run(self, job: dict[str, Any], base_url: str) -> dict[str, Any]:
        out_rows: list[list[str]] = []
        for res in job["resource"]:
            mod = self.org.module(res["module"]["api_name"])
            assert mod is not None
            found = self.org.store.file(res["file_id"])
            rows = self._rows(found[2]) if found else [[]]
            header, body = rows[0], rows[1:self.org.config.bulk_max_rows + 1]
            counts = {"added_count": 0, "updated_count": 0, "skipped_count": 0, "total_count": len(body)}
            statuses = self._write_rows(job, res, mod, body, counts)
            out_rows.append([*header, "RECORD_ID", "STATUS", "ERRORS"])
            out_rows.extend([*row, *status] for row, status in zip(body, statuses, strict=True))
            res["status"] = "COMPLETED"
            res["file"] = {**res["file"], **counts, "status": "COMPLETED"}
        buffer = io.StringIO()
        csv.writer(buffer).writerows(out_rows)
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"{job['id']}.csv", buffer.getvalue())
        self.org.store.add_file(f"result-{job['id']}", "result", f"{job['id']}.zip", archive.getvalue(), {})
        job["status"] = "COMPLETED"
        path = f"/download/v2/crm/{self.org.org_id}/bulk-write/{job['id']}/{job['id']}.zip"
        job["result"] = {"download_url": base_url + path}
        self.org.store.put_job(job["id"], job)
        return job

    def _write_rows(self, job: dict[str, Any], res: dict[str, Any], mod: ModuleDef, body: list[list[str]],
                    counts: dict[str, int]) -> list[list[str]]:
        ignore_empty = bool(res.get("ignore_empty") if res.get("ignore_empty") is not None else job["ignore_empty"])
        items = []
        for row in body:
            item: dict[str, Any] = {}
            for m in res["field_mappings"]:
                raw = row[m["index"]] if m["index"] < len(row) else ""
                if raw == "" and ignore_empty:
                    continue
                fd = mod.fields.get(m["api_name"])
                item[m["api_name"]] = raw if fd is None else (None if raw == "" else _csv_value(fd, raw))
            items.append(item)
        op = job["operation"]
        statuses: list[list[str]] = []
        for start in range(0, len(items), 100):
            chunk = items[start:start + 100]
            match: dict[int, dict[str, Any]] = {}
            if op == "update" and res["find_by"] != "id":
                by_key = {str(r.get(res["find_by"])): r for r in self.org.store.scan(mod.api_name)}
                match = {i: by_key[str(it.get(res["find_by"]))] for i, it in enumerate(chunk)
                         if str(it.get(res["find_by"])) in by_key}
            opts = WriteOptions(trigger=[], bulk=True,
                                duplicate_check_fields=[res["find_by"]] if op == "upsert" else None)
            for result in self.engine.write(mod.api_name, op, chunk, opts, job["user_id"], match):
                if result["status"] == "success":
                    updated = result["message"] == "record updated"
                    counts["updated_count" if updated else "added_count"] += 1
                    statuses.append([result["details"]["id"], "UPDATED" if updated else "ADDED", ""])
                else:
                    counts["skipped_count"] += 1
                    statuses.append(["", "SKIPPED", f"{result['code']}:{result['details'].get('api_name', '')}"])
        return statuses

    def download(self, call: Call) -> Answer:
        found = self.org.store.file(f"result-{call.match['job_id']}")
        if found is None or call.match["org"] != self.org.org_id:
            raise bulk_error("RESOURCE_NOT_FOUND", "The requested resource doesn't exist.", 404)
        return Answer(200, raw=found[2], headers={"Content-Type": "application/zip",
                                                  "Content-Disposition": f'attachment; filename="{found[1]}"'})
