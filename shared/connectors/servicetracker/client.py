"""ServiceTracker source connector over its REST API v2 (``docs/servicetracker-api.md``).

Volume goes through the **async bulk export** (one job per object: create, wait the ``retry_after_s``
the job announces, poll, download NDJSON result pages of 10,000 records): REST paging costs one call
per 200 records and stops at 10,000. REST serves the rest: schema, counts (``meta.total_count`` of a
one-record page), small delta reads (one page), deletions, files, technicians, the mobile-sync status.

Records are normalised to the engine's conventions (``shared.connectors.source``): ``id`` and every
reference as a string, ``updated_at`` beside ``modified_at``, custom tables under the object name
``custom_<key>`` (the API's ``custom.<key>``, whose dot a source key cannot carry). Clients gain
``site_count`` and ``primary_site`` (their primary location's address) from one export of the
locations: the pair reads the address into the Account and routes multi-site clients' locations to a
site object (``normalise.py``).

Every HTTP failure becomes the error tree (``shared.errors``) and is retried under the one policy
(``shared.retry``). The daily request allocation answered ``REQUEST_LIMIT_EXCEEDED`` is a
:class:`QuotaExhaustedError` (the run pauses), whatever ``Retry-After`` says: it counts hours.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx

from shared import retry
from shared.connectors.http import stream_body
from shared.connectors.servicetracker import LIMITS
from shared.connectors.servicetracker.discovery import build_catalog
from shared.connectors.servicetracker.normalise import discovery_facts, preflight
from shared.connectors.source import pacer
from shared.errors import ContractError, ThrottledError, error_for_status, transport_error
from shared.models import SourceCatalog
from shared.tls import ssl_context

API = "/v2"
#: REST's largest page (``max_page_size``): a delta read of at most this many changes is one call.
REST_PAGE = 200
CUSTOM_PREFIX = "custom_"
#: Every standard object and its reference fields (docs/servicetracker-api.md, "Objects and fields").
REFERENCES: dict[str, list[str]] = {
    "clients": [], "technicians": [], "inventory_items": [],
    "locations": ["client_id"],
    "client_contacts": ["client_id", "default_location_id"],
    "assets": ["client_id", "location_id", "inventory_item_id"],
    "contracts": ["client_id"],
    "projects": ["client_id", "manager_id"],
    "work_orders": ["client_id", "location_id", "contact_id", "asset_id", "project_id", "contract_id",
                    "technician_id"],
    "work_order_tasks": ["work_order_id", "technician_id"],
    "parts_used": ["work_order_id", "asset_id", "inventory_item_id"],
    "invoices": ["client_id", "work_order_id", "contract_id"],
    "notes": ["work_order_id", "author_id"],
    "attachments": ["parent_id", "uploaded_by"],
}


class ExportNotReady(ThrottledError):
    """An export job is still in progress: poll again after its Retry-After (the retry policy waits)."""


def api_object(obj: str) -> str:
    """Our object name -> the API's (``custom_inspection_forms`` -> ``custom.inspection_forms``)."""
    return f"custom.{obj[len(CUSTOM_PREFIX):]}" if obj.startswith(CUSTOM_PREFIX) else obj


def our_object(name: str) -> str:
    return f"{CUSTOM_PREFIX}{name[len('custom.'):]}" if name.startswith("custom.") else name


class ServiceTrackerSource:
    """A client of one ServiceTracker tenant. The API token is kept out of every repr and log line."""

    name = "servicetracker"
    limits = LIMITS

    def __init__(self, url: str, api_token: str, ca_pem: str | None = None, timeout_s: float = 60.0,
                 requests_per_s: float | None = LIMITS.requests_per_s) -> None:
        self._client = httpx.Client(
            base_url=url.rstrip("/") + API,
            headers={"Authorization": f"Bearer {api_token}", "Accept": "application/json"},
            verify=ssl_context(ca_pem),
            timeout=timeout_s,
        )
        self.calls = 0
        self._calls_lock = threading.Lock()  # discovery profiles several objects at once
        self._pacer = pacer(url, api_token, requests_per_s)
        self._schema: dict[str, Any] | None = None
        self._catalog: SourceCatalog | None = None
        self._sites: dict[str, dict[str, Any]] | None = None

    def __repr__(self) -> str:
        return f"ServiceTrackerSource({self._client.base_url!s})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ServiceTrackerSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport -----------------------------------------------------------------------
    def _send(self, method: str, path: str, params: dict[str, Any] | None = None,
              body: dict[str, Any] | None = None, stream: bool = False) -> httpx.Response:
        """One call; ``stream`` leaves a successful body unread (the caller iterates and closes it)."""
        with self._calls_lock:
            self.calls += 1
        if self._pacer is not None:
            self._pacer.try_acquire("requests")  # blocks until the rolling second has room
        try:
            resp = self._client.send(self._client.build_request(method, path, params=params, json=body),
                                     stream=stream)
            if stream and resp.status_code >= 400:
                resp.read()
                resp.close()
        except httpx.TransportError as exc:  # timeouts included
            raise transport_error("ServiceTracker", path, exc) from exc
        if resp.status_code >= 400:
            code, message = "", ""
            if resp.status_code != 401:  # an auth refusal's body is not echoed
                code, message = _error_of(resp)
            after = retry.retry_after_s(resp.headers.get("Retry-After"))
            if code == "REQUEST_LIMIT_EXCEEDED":
                after = None  # the daily allocation: hours away, the run pauses (QuotaExhaustedError)
            raise error_for_status("ServiceTracker", f"{method} {path}", resp.status_code, code=code,
                                   message=message, retry_after_s=after)
        return resp

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return retry.call(lambda: self._send("GET", path, params)).json()

    # --- schema ----------------------------------------------------------------------------
    def schema(self) -> dict[str, Any]:
        """``GET /v2/schema`` (once per client)."""
        if self._schema is None:
            self._schema = self._get("/schema")
        return self._schema

    def path_of(self, obj: str) -> str:
        """The REST path of an object: kebab-case resources, custom tables by key (no schema call: the
        extraction of one partition must cost the export's calls and nothing else)."""
        if obj.startswith(CUSTOM_PREFIX):
            return f"/custom-tables/{obj[len(CUSTOM_PREFIX):]}/records"
        if obj not in REFERENCES:
            raise ContractError(f"ServiceTracker has no object {obj!r} (objects: {sorted(REFERENCES)})")
        return "/" + obj.replace("_", "-")

    @staticmethod
    def references(obj: str, record: dict[str, Any]) -> list[str]:
        """The reference fields of ``obj`` (normalised to strings like the ids they hold): the API's
        documented ones; a custom table's are its ``*_id`` columns holding integer ids."""
        if obj.startswith(CUSTOM_PREFIX):
            return [k for k, v in record.items() if k.endswith("_id") and isinstance(v, int)
                    and not isinstance(v, bool)]
        return REFERENCES.get(obj, [])

    # --- records ---------------------------------------------------------------------------
    def _normaliser(self, obj: str) -> Any:
        sites = self._site_index() if obj == "clients" else None

        def normalise(rec: dict[str, Any]) -> dict[str, Any]:
            rec["id"] = str(rec["id"])
            rec["updated_at"] = rec.get("modified_at")
            if rec.get("custom_fields") == {}:
                rec["custom_fields"] = None  # a form left empty carries no custom fields
            for ref in self.references(obj, rec):
                if rec.get(ref) is not None:
                    rec[ref] = str(rec[ref])
            if obj == "projects":
                rec["work_order_ids"] = [str(i) for i in rec.get("work_order_ids") or []]
            if sites is not None:
                site = sites.get(rec["id"], {})
                rec["site_count"] = int(site.get("count", 0))
                rec["primary_site"] = site.get("primary")
            return rec

        return normalise

    def _site_index(self) -> dict[str, dict[str, Any]]:
        """client id -> {count, primary: address of its primary (else first) location}: one export."""
        if self._sites is None:
            index: dict[str, dict[str, Any]] = {}
            for loc in self._export_rows("locations"):
                row = index.setdefault(str(loc["client_id"]), {"count": 0, "primary": None})
                row["count"] += 1
                if row["primary"] is None or loc.get("is_primary"):
                    row["primary"] = {k: loc.get(k) for k in ("name", "street", "city", "state", "postal_code",
                                                              "country", "latitude", "longitude")}
            self._sites = index
        return self._sites

    def export(self, obj: str, modified_since: str | None = None,
               partition: tuple[int, int] | None = None) -> Iterator[list[dict[str, Any]]]:
        """One export job of ``obj``: each result page's records (at most 10,000), normalised, id order."""
        normalise = self._normaliser(obj)
        for rows, _ in self._export_pages(obj, modified_since, partition):
            yield [normalise(r) for r in rows]

    def _export_rows(self, obj: str) -> Iterator[dict[str, Any]]:
        for rows, _ in self._export_pages(obj, None, None):
            yield from rows

    def _export_pages(self, obj: str, modified_since: str | None, partition: tuple[int, int] | None,
                      resume: dict[str, Any] | None = None
                      ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """Result pages of a new export job, or of the job ``resume`` names from its result page
        ``next`` on; each with the token resuming after it (the job's results are kept ``export_ttl_s``)."""
        if resume is None:
            body: dict[str, Any] = {"object": api_object(obj)}
            if modified_since:
                body["modified_since"] = modified_since
            if partition:
                body["partition"] = {"count": partition[0], "index": partition[1]}
            job = retry.call(lambda: self._send("POST", "/exports", body=body)).json()
            # The job says when it will be done: wait that long once, so one poll usually finds it complete.
            if job.get("state") == "in_progress":
                time.sleep(float(job.get("retry_after_s") or 1))
            start = 0
        else:
            job, start = {"id": resume["job"]}, int(resume["next"])
        job = retry.call(lambda: self._poll(str(job["id"])), attempts=retry.MAX_ATTEMPTS * 2)
        if int(job.get("record_count") or 0) == 0:
            return  # an empty cut: its one (empty) result page is not worth a call
        results = [str(p) for p in job.get("results") or []]
        for n in range(start, len(results)):
            resp = self._result_page(results[n])
            token = json.dumps({"job": str(job["id"]), "next": n + 1}) if n + 1 < len(results) else None
            yield [json.loads(line) for line in resp.text.split("\n") if line.strip()], token

    def _result_page(self, path: str) -> httpx.Response:
        return retry.call(lambda: self._send("GET", path.removeprefix(API)))

    def _poll(self, job_id: str) -> dict[str, Any]:
        resp = self._send("GET", f"/exports/{job_id}")
        job: dict[str, Any] = resp.json()
        if job.get("state") == "in_progress":
            raise ExportNotReady(f"ServiceTracker export {job_id} in progress",
                                 float(job.get("retry_after_s") or 1))
        if job.get("state") != "completed":
            raise ContractError(f"ServiceTracker export {job_id}: state {job.get('state')!r}")
        return job

    def _rest_page(self, obj: str, page: int, page_size: int, modified_since: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"page": page, "page_size": page_size}
        if modified_since:
            params["modified_since"] = modified_since
        body = self._get(self.path_of(obj), params)
        if not isinstance(body.get("data"), list):
            raise ContractError(f"ServiceTracker {obj}: page without a 'data' list")
        return dict(body)

    # --- connector interface ---------------------------------------------------------------
    def catalog(self) -> SourceCatalog:
        """Objects, standard fields, every custom field (the schema's and those found on the records, typed
        with their evidence), custom tables, counts (``discovery.py``)."""
        if self._catalog is None:
            self._catalog = build_catalog(self, parallel=LIMITS.max_parallel_reads)
        return self._catalog.model_copy(deep=True)

    def count(self, obj: str, updated_since: str | None = None) -> int:
        return int(self._rest_page(obj, 1, 1, updated_since)["meta"]["total_count"])

    def pages(self, obj: str, page_size: int = 1000, updated_since: str | None = None
              ) -> Iterator[list[dict[str, Any]]]:
        """Every record of ``obj`` once, in chunks of ``page_size``, in id order (creation order).

        A delta read (``updated_since``) of at most one REST page is that one call; anything larger is
        an export job (a consistent cut). The engine's watermark takes the newest ``updated_at`` it
        sees, so id order within a read is enough.
        """
        if updated_since:
            first = self._rest_page(obj, 1, REST_PAGE, updated_since)
            if int(first["meta"]["total_count"]) <= REST_PAGE:
                normalise = self._normaliser(obj)
                rows = [normalise(r) for r in first["data"]]
                for i in range(0, len(rows), page_size):
                    yield rows[i:i + page_size]
                return
        for rows in self.export(obj, updated_since):
            for i in range(0, len(rows), page_size):
                yield rows[i:i + page_size]

    def pages_from(self, obj: str, resume: str | None, page_size: int = 1000, updated_since: str | None = None
                   ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """Pages of one export job, each a whole result page (up to 10,000 records; ``page_size`` is not
        the export's unit), resumable by the job id and the next result page; a small delta read is its
        one REST page."""
        normalise = self._normaliser(obj)
        if resume is None and updated_since:
            first = self._rest_page(obj, 1, REST_PAGE, updated_since)
            if int(first["meta"]["total_count"]) <= REST_PAGE:
                yield [normalise(r) for r in first["data"]], None
                return
        token = json.loads(resume) if resume else None
        for rows, after in self._export_pages(obj, updated_since, None, token):
            yield [normalise(r) for r in rows], after

    def read_all(self, obj: str) -> list[dict[str, Any]]:
        return [r for page in self.pages(obj) for r in page]

    def deleted(self, obj: str, since: str) -> list[dict[str, Any]]:
        """Records of ``obj`` deleted since ``since``: ``[{id, deleted_at}]`` (ids as strings)."""
        rows = self._get(f"{self.path_of(obj)}/deleted", {"since": since})["data"]
        return [{**r, "id": str(r["id"])} for r in rows]

    def attachment(self, attachment_id: str) -> bytes:
        return retry.call(lambda: self._send("GET", f"/attachments/{attachment_id}/content")).content

    def attachment_chunks(self, attachment_id: str) -> Iterator[bytes]:
        path = f"/attachments/{attachment_id}/content"
        return stream_body(retry.call(lambda: self._send("GET", path, stream=True)), "ServiceTracker", path)

    def sync_status(self) -> dict[str, Any]:
        """``GET /v2/mobile/sync-status``: devices holding offline changes the server has not received."""
        return dict(self._get("/mobile/sync-status"))

    def preflight(self) -> dict[str, Any]:
        """Mobile devices holding offline changes block the full run (``normalise.preflight``)."""
        return preflight(self)

    def facts(self, catalog: SourceCatalog) -> dict[str, Any]:
        """Distinct values, duplicates, sites per client, files over 25 MB, the pre-flight (``normalise.py``)."""
        return discovery_facts(self, catalog, parallel=LIMITS.max_parallel_reads)

    def users(self) -> list[dict[str, Any]]:
        """ServiceTracker's technicians (work orders, tasks and notes are assigned to them)."""
        people = []
        for t in self.read_all("technicians"):
            name = f"{t.get('first_name') or ''} {t.get('last_name') or ''}".strip()
            people.append({**t, "name": name, "active": bool(t.get("active"))})
        return people


def _error_of(resp: httpx.Response) -> tuple[str, str]:
    """(errorCode, message) of the platform's error array; the raw text when it is not one."""
    try:
        body = resp.json()
    except ValueError:
        return "", resp.text[:300]
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("errorCode") or ""), str(body[0].get("message") or "")
    return "", resp.text[:300]
