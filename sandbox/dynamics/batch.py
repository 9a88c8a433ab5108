"""``POST /api/data/v9.2/$batch``: multipart/mixed parsing, change sets, ``$n`` references, responses.

Parsing is done by hand on bytes (the format is line-oriented and small): the batch boundary
separates parts; a part whose ``Content-Type`` is ``multipart/mixed`` is a change set with
its own boundary; every other part is an ``application/http`` request. Change sets run in
one SQLite transaction, so a failing part rolls back the whole change set. Without
``Prefer: odata.continue-on-error`` processing stops at the first failing part and the batch
answers with that part's status (400 in Microsoft's documented example) and a multipart body
ending with the error.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from sandbox.dynamics.bulk import request_key
from sandbox.dynamics.config import DATA_PREFIX
from sandbox.dynamics.errors import DataverseError, bad_request
from sandbox.dynamics.http import STATUS_TEXT, ApiRequest, ApiResponse
from sandbox.dynamics.records import Prefs
from sandbox.dynamics.store import Store

BOUNDARY_RE = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
REF_RE = re.compile(r"^\$([A-Za-z0-9_.\-]+)(.*)$", re.DOTALL)


@dataclass
class Inner:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None


@dataclass
class ChangeSet:
    requests: list[Inner] = field(default_factory=list)


class _Abort(Exception):
    def __init__(self, response: ApiResponse, content_id: str | None) -> None:
        super().__init__(response.status)
        self.response = response
        self.content_id = content_id


def boundary_of(content_type: str | None) -> str | None:
    if not content_type or not content_type.lower().startswith("multipart/mixed"):
        return None
    match = BOUNDARY_RE.search(content_type)
    return match.group(1).strip() if match else None


def _split_head(blob: bytes) -> tuple[bytes, bytes]:
    for sep in (b"\r\n\r\n", b"\n\n"):
        idx = blob.find(sep)
        if idx >= 0:
            return blob[:idx], blob[idx + len(sep):]
    return blob, b""


def _headers(head: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").splitlines():
        name, colon, value = line.partition(":")
        if colon:
            out[name.strip().lower()] = value.strip()
    return out


def _parts(body: bytes, boundary: str) -> list[tuple[dict[str, str], bytes]]:
    delimiter = b"--" + boundary.encode()
    chunks = body.split(delimiter)
    if len(chunks) < 2:
        raise bad_request(f"The batch body does not contain the boundary '{boundary}'.")
    parts: list[tuple[dict[str, str], bytes]] = []
    for raw in chunks[1:]:
        if raw.startswith(b"--"):
            return parts
        chunk = raw[2:] if raw.startswith(b"\r\n") else raw[1:] if raw.startswith(b"\n") else raw
        chunk = chunk[:-2] if chunk.endswith(b"\r\n") else chunk[:-1] if chunk.endswith(b"\n") else chunk
        head, rest = _split_head(chunk)
        parts.append((_headers(head), rest))
    raise bad_request(f"The batch body is missing its closing delimiter '--{boundary}--'.")


def _request(part_headers: dict[str, str], blob: bytes) -> Inner:
    head, body = _split_head(blob.lstrip(b"\r\n"))
    lines = head.decode("utf-8", "replace").splitlines()
    if not lines or len(lines[0].split()) < 2:
        raise bad_request("A batch part does not contain an HTTP request line.")
    words = lines[0].split()
    url = " ".join(words[1:-1]) if len(words) > 2 and words[-1].upper().startswith("HTTP/") else " ".join(words[1:])
    return Inner(words[0].upper(), url, _headers("\n".join(lines[1:]).encode()), body.rstrip(b"\r\n"),
                 part_headers.get("content-id"))


def parse_batch(body: bytes, boundary: str) -> list[Inner | ChangeSet]:
    items: list[Inner | ChangeSet] = []
    for headers, blob in _parts(body, boundary):
        inner_boundary = boundary_of(headers.get("content-type"))
        if inner_boundary is None:
            items.append(_request(headers, blob))
            continue
        changeset = ChangeSet()
        for sub_headers, sub_blob in _parts(blob, inner_boundary):
            if boundary_of(sub_headers.get("content-type")) is not None:
                raise bad_request("Change sets cannot be nested.")
            req = _request(sub_headers, sub_blob)
            if req.method == "GET":
                raise bad_request("GET requests are not allowed inside a change set.")
            changeset.requests.append(req)
        items.append(changeset)
    return items


def count_requests(items: list[Inner | ChangeSet]) -> int:
    return sum(len(i.requests) if isinstance(i, ChangeSet) else 1 for i in items)


def _render(resp: ApiResponse, content_id: str | None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    out = "\r\n".join(lines) + "\r\n\r\n"
    out += f"HTTP/1.1 {resp.status} {STATUS_TEXT.get(resp.status, '')}\r\n"
    headers = dict(resp.headers)
    if "OData-EntityId" in headers:
        headers.setdefault("Location", headers["OData-EntityId"])
    out += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    out += "\r\n" + resp.body.decode("utf-8")
    return out


@dataclass
class BatchOutcome:
    response: ApiResponse
    inner_requests: int
    inner_keys: list[str]


class BatchRunner:
    """Runs one parsed batch through ``dispatch`` (the same dispatcher as top-level calls)."""

    def __init__(self, dispatch: Callable[[ApiRequest], ApiResponse], store: Store, max_requests: int) -> None:
        self.dispatch = dispatch
        self.store = store
        self.max_requests = max_requests

    def run(self, outer: ApiRequest) -> BatchOutcome:
        boundary = boundary_of(outer.header("content-type"))
        if boundary is None:
            raise bad_request("The $batch request must have Content-Type multipart/mixed with a boundary.")
        items = parse_batch(outer.body, boundary)
        total = count_requests(items)
        if total > self.max_requests:
            raise bad_request(
                f"The number of requests in the batch ({total}) exceeds the maximum allowed ({self.max_requests})."
            )
        keep_going = Prefs.parse(outer.header("prefer")).continue_on_error
        ids: dict[str, str] = {}
        rendered: list[str] = []
        keys: list[str] = []
        status = 200
        for item in items:
            if isinstance(item, Inner):
                resp = self._one(outer, item, ids, keys)
                rendered.append(_render(resp, item.content_id))
                if resp.status >= 400 and not keep_going:
                    status = resp.status
                    break
                continue
            scope = dict(ids)
            results: list[tuple[Inner, ApiResponse]] = []
            try:
                with self.store.tx():
                    for req in item.requests:
                        resp = self._one(outer, req, scope, keys)
                        if resp.status >= 400:
                            raise _Abort(resp, req.content_id)
                        results.append((req, resp))
            except _Abort as abort:
                rendered.append(_render(abort.response, abort.content_id))
                if not keep_going:
                    status = abort.response.status
                    break
                continue
            ids = scope
            cs_boundary = f"changesetresponse_{uuid.uuid4()}"
            block = f"Content-Type: multipart/mixed; boundary={cs_boundary}\r\n\r\n"
            block += "".join(f"--{cs_boundary}\r\n{_render(r, q.content_id)}\r\n" for q, r in results)
            block += f"--{cs_boundary}--"
            rendered.append(block)
        batch_boundary = f"batchresponse_{uuid.uuid4()}"
        body = "".join(f"--{batch_boundary}\r\n{part}\r\n" for part in rendered) + f"--{batch_boundary}--\r\n"
        response = ApiResponse(status, {"Content-Type": f"multipart/mixed; boundary={batch_boundary}",
                                        "OData-Version": "4.0"}, body.encode())
        return BatchOutcome(response, total, keys)

    def _one(self, outer: ApiRequest, item: Inner, ids: dict[str, str], keys: list[str]) -> ApiResponse:
        try:
            url = self._resolve_url(item.url, ids)
            body = self._resolve_body(item, ids)
        except DataverseError as exc:
            return ApiResponse.error(exc)
        path, _, query = url.partition("?")
        # percent-decoded like a top-level request's path (the query is parsed the same way in both)
        path = unquote(path)
        req = ApiRequest(item.method, path, query, item.headers, body, outer.caller, outer.base_url, in_batch=True)
        keys.append(request_key(item.method, path))
        resp = self.dispatch(req)
        if item.content_id and "OData-EntityId" in resp.headers:
            ids[item.content_id] = resp.headers["OData-EntityId"]
        return resp

    @staticmethod
    def _missing(ref: str) -> DataverseError:
        return DataverseError(400, "0x0", f"Content-ID Reference: '${ref}' does not exist in the batch context.")

    def _resolve_url(self, url: str, ids: dict[str, str]) -> str:
        match = REF_RE.match(url)
        if match:
            ref = match.group(1)
            if ref not in ids:
                raise self._missing(ref)
            url = ids[ref] + match.group(2)
        if "://" in url:
            url = "/" + url.split("://", 1)[1].partition("/")[2]
        prefix = DATA_PREFIX
        if url.startswith(prefix):
            return url[len(prefix):]
        if url.startswith(prefix.lstrip("/")):
            return url[len(prefix) - 1:]
        return url.lstrip("/")

    def _resolve_body(self, item: Inner, ids: dict[str, str]) -> bytes:
        if not item.body.strip() or b"$" not in item.body:
            return item.body
        try:
            payload = json.loads(item.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return item.body
        if not isinstance(payload, dict):
            return item.body

        def fix(value: Any) -> Any:
            if isinstance(value, str):
                match = REF_RE.match(value)
                if match and not match.group(2):
                    if match.group(1) not in ids:
                        raise self._missing(match.group(1))
                    return ids[match.group(1)]
            return value

        changed = {k: fix(v) if k.endswith(("@odata.bind", "@odata.id")) else v for k, v in payload.items()}
        for k, v in payload.items():
            if isinstance(v, dict):
                changed[k] = {ik: fix(iv) if ik.endswith(("@odata.bind", "@odata.id")) else iv for ik, iv in v.items()}
        return json.dumps(changed).encode()
