"""Sercom source connector over its HTTPS API (defined in ``docs/sercom-api.md``).

Lists objects and fields (custom fields with pick-list values included), counts, pages
through an object ordered by (updated_at, id) with an optional ``updated_since`` window,
and streams attachment content. Every HTTP failure is translated into the error tree and
retried under the one policy in ``shared.retry``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from shared import retry
from shared.connectors.http import stream_body
from shared.connectors.sercom import LIMITS
from shared.connectors.sercom.normalise import discovery_facts
from shared.errors import ContractError, error_for_status, transport_error
from shared.models import SourceCatalog, SourceField, SourceObject
from shared.tls import ssl_context

API = "/api/v1"




class SercomSource:
    """A client of one Sercom tenant. The API key is kept out of every repr and log line."""

    name = "sercom"
    limits = LIMITS

    def __init__(self, url: str, api_key: str, ca_pem: str | None = None, timeout_s: float = 60.0) -> None:
        self._client = httpx.Client(
            base_url=url.rstrip("/") + API,
            headers={"X-Api-Key": api_key, "Accept": "application/json"},
            verify=ssl_context(ca_pem),
            timeout=timeout_s,
        )
        self.calls = 0

    def __repr__(self) -> str:
        return f"SercomSource({self._client.base_url!s})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SercomSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport -----------------------------------------------------------------------
    def _send(self, path: str, params: dict[str, Any] | None = None, stream: bool = False) -> httpx.Response:
        """One GET; ``stream`` leaves a successful body unread (the caller iterates and closes it)."""
        self.calls += 1
        try:
            resp = self._client.send(self._client.build_request("GET", path, params=params), stream=stream)
            if stream and resp.status_code >= 400:
                resp.read()
                resp.close()
        except httpx.TransportError as exc:  # timeouts included
            raise transport_error("Sercom", path, exc) from exc
        if resp.status_code >= 400:
            # 401/403 answer a refused API key; the body of an auth refusal is not echoed.
            text = "" if resp.status_code in (401, 403) else resp.text
            raise error_for_status("Sercom", path, resp.status_code, message=text,
                                   retry_after_s=retry.retry_after_s(resp.headers.get("Retry-After")))
        return resp

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return retry.call(lambda: self._send(path, params)).json()

    # --- connector interface ---------------------------------------------------------------
    def catalog(self) -> SourceCatalog:
        """Objects with standard and tenant-defined fields, pick-list values and counts."""
        body = self._get("/schema")
        objects = []
        for obj in body["objects"]:
            fields = [SourceField(**{k: v for k, v in f.items() if k in SourceField.model_fields})
                      for f in obj["fields"]]
            fields += [
                SourceField(name=c["key"], type=c["type"], label=c.get("label", c["key"]),
                            required=bool(c.get("required")), picklist_values=c.get("picklist_values") or [],
                            custom=True)
                for c in obj.get("custom_fields", [])
            ]
            objects.append(SourceObject(name=obj["name"], label=obj.get("label", obj["name"]), fields=fields,
                                        count=int(obj.get("count", 0))))
        for obj in body.get("custom_objects", []):  # tenant-defined objects: fields are top-level keys
            fields = [SourceField(name="id", type="id", label="ID", required=True),
                      SourceField(name="created_at", type="datetime", label="Created at", required=True),
                      SourceField(name="updated_at", type="datetime", label="Updated at", required=True)]
            fields += [SourceField(name=f["key"], type=f["type"], label=f.get("label") or f["key"],
                                   required=bool(f.get("required")), picklist_values=f.get("picklist_values") or [],
                                   references=f.get("references"))
                       for f in obj["fields"]]
            objects.append(SourceObject(name=obj["name"], label=obj.get("label", obj["name"]), fields=fields,
                                        count=int(obj.get("count", 0)), custom=True))
        return SourceCatalog(tenant=str(body.get("tenant", "")), objects=objects,
                             automation_rules=body.get("automation_rules", []))

    def count(self, obj: str, updated_since: str | None = None) -> int:
        params = {"updated_since": updated_since} if updated_since else None
        return int(self._get(f"/{obj}/count", params)["count"])

    def pages(
        self, obj: str, page_size: int = 1000, updated_since: str | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Every record of ``obj`` once, a page at a time, in (updated_at, id) order."""
        for records, _ in self.pages_from(obj, None, page_size, updated_since):
            yield records

    def pages_from(self, obj: str, resume: str | None, page_size: int = 1000, updated_since: str | None = None
                   ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """Pages from a ``next_cursor`` on: Sercom's cursors carry the (updated_at, id) of the last record
        served and no server state, so one taken in an earlier invocation resumes the read exactly."""
        params: dict[str, Any] = {"limit": page_size}
        if updated_since:
            params["updated_since"] = updated_since
        if resume:
            params["cursor"] = resume
        while True:
            body = self._get(f"/{obj}", params)
            if not isinstance(body.get("data"), list):
                raise ContractError(f"Sercom /{obj}: page without a 'data' list")
            cursor = body.get("next_cursor") or None
            yield body["data"], cursor
            if not cursor:
                return
            params = {**params, "cursor": cursor}

    def read_all(self, obj: str) -> list[dict[str, Any]]:
        return [r for page in self.pages(obj) for r in page]

    def deleted(self, obj: str, since: str) -> list[dict[str, Any]]:
        """Records of ``obj`` deleted in the source since ``since``: ``[{id, deleted_at}]``."""
        return list(self._get(f"/deleted/{obj}", {"since": since})["data"])

    def attachment(self, attachment_id: str) -> bytes:
        return retry.call(lambda: self._send(f"/attachments/{attachment_id}/content")).content

    def attachment_chunks(self, attachment_id: str) -> Iterator[bytes]:
        path = f"/attachments/{attachment_id}/content"
        return stream_body(retry.call(lambda: self._send(path, stream=True)), "Sercom", path)

    def facts(self, catalog: SourceCatalog) -> dict[str, Any]:
        """What discovery reads beyond the catalog (distinct values, duplicates, stages): ``normalise.py``."""
        return discovery_facts(self, catalog)

    def preflight(self) -> dict[str, Any]:
        """Sercom holds no offline data that could still arrive: nothing blocks the full run."""
        return {"check": "none", "blocking": False, "message": "Sercom has no offline data to wait for"}

    def users(self) -> list[dict[str, Any]]:
        """Sercom's technicians (the people work orders and activities are assigned to)."""
        return self.read_all("technicians")

