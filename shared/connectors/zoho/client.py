"""Zoho CRM v8 destination over plain HTTPS (httpx): OAuth refresh on the accounts host, then ``api_domain``.

What this connector keeps true (reference §3, ``docs/guarantees-zoho.md``):

- **Every per-record code is read.** A write answers 201/200, 207 (mixed) or 400 (all failed) with one
  result per record in request order; each becomes a :class:`WriteResult`, a failed one carrying Zoho's
  code (``MANDATORY_NOT_FOUND``, ``INVALID_DATA``, ``DUPLICATE_DATA``...) and the field it names, so it
  ends in the reject report — never only the HTTP status.
- **No automation fires**: every write sends ``"trigger": []`` (workflows, approvals and Blueprint stay off).
- **Idempotent**: upserts match on the external-id field only (``duplicate_check_fields``), so a rerun
  updates what it wrote and never merges into a record another tool owns by e-mail or name.
- **Paced by credits**: each write is priced before it is sent (1 credit per 10 records, rounded up per
  call; 500 a bulk job) and refused with :class:`QuotaExhaustedError` — the run pauses and resumes from
  its checkpoint — when the rolling window has not that many left above the reserve. A 429
  ``TOO_MANY_REQUESTS`` is a throttle (concurrency) retried by the one policy, or, when the credits
  are spent, the same quota pause. Concurrent calls per client are capped below the edition's limit.
- **The cheaper write path per load**: full REST batches of 100, or one Bulk Write job when the load is
  big enough that 500 credits cost less.

Neutral names the engine uses, translated here: ``Id`` <-> ``id``; a lookup holds the target id
(sent as ``{"id": ...}``, read back from ``{"name", "id"}``); a polymorphic lookup is named per target
module, ``What_Id__Accounts`` or ``Parent_Id__Deals`` (sent as ``What_Id`` + ``$se_module``, or Notes'
``Parent_Id {"module", "id"}``); a file's content arrives base64 in :data:`FILE_FIELD` and an attachment's
id is ``<module>/<record id>/<attachment id>`` (Zoho deletes an attachment through its record).
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import math
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from shared import retry
from shared.connectors.destination import ID, Capabilities, WriteCost, WriteResult, chunks
from shared.connectors.zoho.capabilities import (
    BULK_JOB_CREDITS,
    CAPABILITIES,
    CONVERT_CREDITS,
    RECORDS_PER_CALL,
    RECORDS_PER_CREDIT,
)
from shared.errors import (
    AuthenticationError,
    ConfigurationError,
    ContractError,
    QuotaExhaustedError,
    ThrottledError,
    TransientError,
    error_for_status,
    transport_error,
)
from shared.mapping.spec import CustomFieldSpec, CustomObjectSpec
from shared.models import DealStage, DestField, DestObject, DestUser
from shared.tls import ssl_context

API = "/crm/v8"
#: Where a file's bytes travel in an Attachments record (base64), from the transform to the upload.
FILE_FIELD = "$file"
#: Remaining credits after each call (name UNCONFIRMED, see docs/zoho-standin.md).
CREDITS_HEADER = "X-API-CREDITS-REMAINING"
#: Values per COQL ``in (...)`` and rows per COQL page.
IN_CHUNK = 50
COQL_PAGE = 2_000
#: Fields per GET records call (``fields`` takes at most 50 names).
FIELDS_MAX = 50
#: Concurrent calls one client makes (the org allows 5..25 by edition; several Lambdas share it).
MAX_INFLIGHT = 4
LOOKUP_TYPES = frozenset({"lookup", "ownerlookup", "userlookup", "multi_module_lookup"})
#: A record this code names is gone: a delete of it converges.
GONE_CODES = frozenset({"INVALID_DATA"})
BULK_POLL_TIMEOUT_S = 1_800.0
#: The engine's custom field types (``shared.pairs.builder``) -> Zoho ``data_type``.
FIELD_TYPES = {
    "Text": "text", "LongTextArea": "textarea", "Email": "email", "Phone": "phone", "Url": "website",
    "Number": "double", "Integer": "integer", "Currency": "currency", "Percent": "percent", "Checkbox": "boolean",
    "Date": "date", "DateTime": "datetime", "Picklist": "picklist", "MultiSelectPicklist": "multiselectpicklist",
    "Lookup": "lookup",
}
#: Record modules an event's ``Participants`` can name, and the participant ``type`` Zoho gives each
#: (``Participants__Contacts`` in the engine: one attendee of that module).
PARTICIPANT_TYPES = {"Contacts": "contact", "Leads": "lead"}
#: A pipeline stage's ``forecast_type`` -> open, won or lost.
PIPELINE_KINDS: dict[str, Literal["open", "won", "lost"]] = {"Open": "open", "Closed Won": "won",
                                                             "Closed Lost": "lost"}
#: Field types a record write converts (engine value -> Zoho's JSON).
NUMERIC = frozenset({"double", "currency", "percent"})


def credits_for(records: int) -> int:
    """Credits one write call of ``records`` costs (1 per 10 records, rounded up per call)."""
    return max(1, math.ceil(records / RECORDS_PER_CREDIT))


def rest_credits(count: int) -> int:
    """Credits a REST write of ``count`` records costs in full batches of 100."""
    full, rest = divmod(count, RECORDS_PER_CALL)
    return full * credits_for(RECORDS_PER_CALL) + (credits_for(rest) if rest else 0)


def _split(name: str) -> tuple[str, str | None]:
    """``What_Id__Accounts`` -> (``What_Id``, ``Accounts``); a plain name -> (name, None). Zoho's own names
    never hold a double underscore (the API name joins a label's words with one)."""
    base, _, module = name.partition("__")
    return base, module or None


def _literal(value: str) -> str:
    """A COQL string literal: a quote doubled (a backslash is taken literally by COQL)."""
    return "'" + value.replace("'", "''") + "'"


def bulk_pays(obj: str, count: int, caps: Capabilities = CAPABILITIES) -> bool:
    """A Bulk Write job only when it costs fewer credits than full REST batches."""
    return (caps.uses_bulk(obj, count)
            and BULK_JOB_CREDITS * math.ceil(count / caps.bulk_batch_max) < rest_credits(count))


def write_cost(obj: str, count: int, allow_bulk: bool, caps: Capabilities = CAPABILITIES) -> WriteCost:
    """Calls and credits of one load: a file is one upload call (1 credit) each; a bulk job where it pays
    (upload, create, poll, download; 500 credits); else REST calls of 100 records (1 credit per 10)."""
    if count <= 0:
        return WriteCost(0, 0)
    if obj == "Attachments":
        return WriteCost(count, count)
    if allow_bulk and bulk_pays(obj, count, caps):
        jobs = math.ceil(count / caps.bulk_batch_max)
        return WriteCost(4 * jobs, BULK_JOB_CREDITS * jobs)
    return WriteCost(math.ceil(count / RECORDS_PER_CALL), rest_credits(count))


class ZohoDestination:
    """One Zoho CRM org. Credentials never appear in repr, logs or errors."""

    name = "zoho"
    label = "Zoho CRM"
    capabilities = CAPABILITIES
    system_fields: tuple[str, ...] = ("Modified_Time", "Modified_By")
    delete_note = "Deleted records go to the Zoho CRM Recycle Bin (60 days), as a delete from the UI would."

    def __init__(self, url: str, client_id: str, client_secret: str, refresh_token: str, *,
                 accounts_url: str | None = None, content_url: str | None = None, org_id: str | None = None,
                 credit_budget: int | None = None, ca_pem: str | None = None, timeout_s: float = 120.0) -> None:
        self.url = url.rstrip("/")
        self.accounts_url = (accounts_url or f"{self.url}/accounts").rstrip("/")
        self._content_url = content_url
        self.org_id = org_id
        #: The org's rolling 24-hour credits when known (edition x licences): sets the reserve kept for others.
        self.credit_budget = credit_budget
        self._client_id, self._client_secret, self._refresh = client_id, client_secret, refresh_token
        self.calls = 0
        self.credits_spent = 0
        self.credits_remaining: int | None = None
        self._lock = threading.Lock()
        self._gate = threading.BoundedSemaphore(MAX_INFLIGHT)
        self._describes: dict[str, DestObject | None] = {}
        self._absent: dict[str, set[str]] = {}  # module -> names a fresh describe confirmed it lacks
        self._modules: list[str] | None = None
        self.http = httpx.Client(verify=ssl_context(ca_pem), timeout=timeout_s, trust_env=False)
        self._token, api_domain = self._fetch_token()
        self.instance_url = api_domain.rstrip("/")
        self._me: str | None = None

    def __repr__(self) -> str:
        return f"ZohoDestination({self.instance_url})"

    def close(self) -> None:
        self.http.close()

    @property
    def scope(self) -> str:
        return self.instance_url

    @property
    def integration_user_id(self) -> str:
        """The token's user (asked on first use: opening a client spends no credit, so a load whose window
        is spent fails at its first write, where the quota pause is recorded)."""
        if self._me is None:
            me = self._get("users", "current user", params={"type": "CurrentUser"})
            self._me = str(((me.get("users") or [{}])[0]).get("id", ""))
        return self._me

    # --- transport -----------------------------------------------------------------------------------------
    def _fetch_token(self) -> tuple[str, str]:
        def attempt() -> tuple[str, str]:
            try:
                resp = self.http.post(f"{self.accounts_url}/oauth/v2/token", data={
                    "grant_type": "refresh_token", "client_id": self._client_id,
                    "client_secret": self._client_secret, "refresh_token": self._refresh})
            except httpx.TransportError as exc:
                raise transport_error("Zoho", "token endpoint", exc) from exc
            self.calls += 1
            body = resp.json() if resp.content else {}
            if resp.status_code != 200 or "error" in body or "access_token" not in body:
                raise error_for_status("Zoho", "token refresh", resp.status_code if resp.status_code >= 400 else 401,
                                       code=str(body.get("error", "")), refused=AuthenticationError)
            return str(body["access_token"]), str(body.get("api_domain") or self.url)

        return retry.call(attempt)

    def _request(self, method: str, path: str, what: str, *, cost: int = 1, base: str | None = None,
                 ok: Callable[[int, Any], bool] | None = None, **kwargs: Any) -> httpx.Response:
        """One call under the shared retry policy; a refused token is refreshed once, a spent budget pauses."""
        url = path if path.startswith("http") else f"{base or self.instance_url}{path}"
        refreshed = False

        def attempt() -> httpx.Response:
            nonlocal refreshed
            headers = {"Authorization": f"Zoho-oauthtoken {self._token}", **kwargs.pop("headers", {})}
            try:
                with self._gate:
                    resp = self.http.request(method, url, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                raise transport_error("Zoho", what, exc) from exc
            self._seen(resp)
            body = _json(resp)
            code = str(body.get("code", "")) if isinstance(body, dict) else ""
            if resp.status_code == 401 and code == "INVALID_TOKEN" and not refreshed:
                refreshed = True
                self._token, _ = self._fetch_token()
                raise TransientError(f"Zoho {what}: access token expired; refreshed")
            if resp.status_code < 300 or (ok is not None and ok(resp.status_code, body)):
                with self._lock:
                    self.credits_spent += cost
                return resp
            if resp.status_code == 429 and self.credits_remaining is not None and self.credits_remaining < cost:
                raise QuotaExhaustedError(f"Zoho {what}: HTTP 429 TOO_MANY_REQUESTS with {self.credits_remaining} "
                                          f"credits left and {cost} needed (the run pauses until the rolling "
                                          f"24-hour window frees credits)")
            message = str(body.get("message", "")) if isinstance(body, dict) else resp.text[:200]
            raise error_for_status("Zoho", what, resp.status_code, code=code, message=message)

        return retry.call(attempt)

    def _seen(self, resp: httpx.Response) -> None:
        with self._lock:
            self.calls += 1
            left = resp.headers.get(CREDITS_HEADER)
            if left is not None and left.isdigit():
                self.credits_remaining = int(left)

    def _get(self, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        resp = self._request("GET", f"{API}/{path}", what, **kwargs)
        return _json(resp) if resp.status_code != 204 else {}

    # --- credits ----------------------------------------------------------------------------------------------
    def limits_report(self) -> dict[str, Any]:
        """What the org has left of its rolling 24-hour credits (the header of a 1-credit call)."""
        self._get("users", "credits left", params={"type": "CurrentUser"})
        return {"credits_remaining": self.credits_remaining, "credits_spent_by_run": self.credits_spent}

    def headroom(self) -> dict[str, Any]:
        """What the org has left for the pre-scan (``shared.domain.prescan``): credits in the rolling window (one
        1-credit call). Zoho's API tells no storage left."""
        self.limits_report()
        return {"api_left": self.credits_remaining, "api_unit": "credits"}

    def check_quota(self, needed: int = 1) -> None:
        """Raise :class:`QuotaExhaustedError` before a write the remaining credits cannot cover (reserve kept)."""
        left = self.credits_remaining
        if left is None:
            return
        reserve = int(self.credit_budget * self.capabilities.api_reserve_fraction) if self.credit_budget else 0
        if left - needed < reserve:
            self.limits_report()  # the window rolls: credits spent a day ago are free again
            left = self.credits_remaining or 0
        if left - needed < reserve:
            raise QuotaExhaustedError(f"Zoho API credits: {left} left in the rolling 24-hour window, {needed} "
                                      f"needed; pausing until the window frees them")

    def plan_budget(self, needs: list[dict[str, Any]], *, new_objects: int, new_fields: int) -> dict[str, Any]:
        """The run priced in credits before any write (``shared.domain.budget``): each mapping on the path it
        will take, the schema (500 a custom module; a custom field is created and read back: 2), against what
        the rolling window has left now (less the reserve kept for the org's other integrations)."""
        self.limits_report()
        rows = []
        for need in needs:
            obj, n, bulk = str(need["object"]), int(need["records"]), bool(need["bulk"])
            path = "attachment upload" if obj == "Attachments" else (
                "bulk write job" if bulk and self.use_bulk(obj, n) else "REST, batches of 100")
            rows.append({"mapping": need["mapping"], "object": obj, "records": n, "path": path,
                         "cost": self.credits_needed(obj, n, bulk), "calls": self.calls_needed(obj, n, bulk)})
        converting = sum(int(n.get("convert", 0)) for n in needs)
        if converting:
            rows.append({"mapping": "lead conversion", "object": "Leads", "records": converting,
                         "path": "Convert Lead, one a call", "cost": CONVERT_CREDITS * converting,
                         "calls": converting})
        schema = 500 * new_objects + 2 * new_fields
        records = sum(r["cost"] for r in rows)
        needed = schema + records
        left = self.credits_remaining
        reserve = int(self.credit_budget * self.capabilities.api_reserve_fraction) if self.credit_budget else 0
        available = None if left is None else max(0, left - reserve)
        per_window = self.credit_budget or (left or 0)
        fits = available is None or needed <= available
        windows = 1 if fits else 1 + math.ceil((needed - (available or 0)) / max(1, per_window - reserve))
        notes = ["A write costs 1 credit per 10 records, rounded up per call: loads are packed into full calls "
                 "of 100.", "Workflows, approvals and Blueprint do not fire on migrated records (trigger: [])."]
        if any(r["path"] == "bulk write job" for r in rows):
            notes.append("A bulk write job costs 500 credits whatever its size: used only where it is cheaper.")
        notes.append(f"Lead conversion costs {CONVERT_CREDITS} credits a lead (one call each); priced at every "
                     "record the conversion rule may take (an upper bound)." if converting
                     else "No lead conversion in this run: leads arrive unconverted.")
        return {"unit": "credits", "needed": needed, "schema": schema, "records": records, "available": available,
                "reserve": reserve, "budget": self.credit_budget, "window": "rolling 24 hours", "fits": fits,
                "windows": windows, "by_mapping": rows, "notes": notes}

    def credits_needed(self, obj: str, count: int, allow_bulk: bool) -> int:
        """The fewest credits a write of ``count`` records of ``obj`` costs (the plan and the bench read it)."""
        return write_cost(obj, count, allow_bulk, self.capabilities).units

    def calls_needed(self, obj: str, count: int, allow_bulk: bool) -> int:
        return write_cost(obj, count, allow_bulk, self.capabilities).calls

    def use_bulk(self, obj: str, count: int) -> bool:
        return bulk_pays(obj, count, self.capabilities)

    # --- schema and users -----------------------------------------------------------------------------------
    def describe(self, obj: str) -> DestObject | None:
        """The module's fields, or None when Zoho does not know it (``INVALID_MODULE``).

        A polymorphic lookup (``What_Id``, a note's or file's ``Parent_Id``) is also described once per
        record module it can point at, ``What_Id__Accounts``: the names the engine writes and reads.
        """
        if obj in self._describes and self._describes[obj] is not None:
            return self._describes[obj]
        if obj == "Attachments":  # no settings/fields: a file, its name and its parent
            fields: dict[str, DestField] | None = {
                "File_Name": DestField(name="File_Name", type="text", length=255),
                "Parent_Id": DestField(name="Parent_Id", type="parent", nillable=False),
                FILE_FIELD: DestField(name=FILE_FIELD, type="file")}
        else:
            resp = self._request("GET", f"{API}/settings/fields", f"describe {obj}", params={"module": obj},
                                 ok=lambda status, body: status == 400 and body.get("code") == "INVALID_MODULE")
            fields = None if resp.status_code == 400 else {
                f["api_name"]: _dest_field(f) for f in _json(resp).get("fields") or []}
        found = None
        if fields is not None:
            for name, f in list(fields.items()):
                if f.type in ("multi_module_lookup", "parent", "participants"):
                    for module in (PARTICIPANT_TYPES if f.type == "participants" else self._record_modules()):
                        per = f"{name}__{module}"
                        fields[per] = DestField(name=per, type="lookup", label=f"{f.label or name} ({module})",
                                                reference_to=[module])
            found = DestObject(name=obj, label=obj, custom=False, fields=fields)
        self._describes[obj] = found
        return found

    def pipelines(self) -> dict[str, list[DealStage]]:
        """Deals pipelines and their stages in order (``settings/pipeline`` of the Deals layout)."""
        layouts = self._get("settings/layouts", "Deals layouts", params={"module": "Deals"}).get("layouts") or []
        out: dict[str, list[DealStage]] = {}
        for layout in layouts[:1]:
            body = self._get("settings/pipeline", "Deals pipelines", params={"layout_id": str(layout["id"])})
            for p in body.get("pipeline") or []:
                out[str(p["actual_value"])] = [
                    DealStage(name=str(m["actual_value"]), kind=PIPELINE_KINDS.get(str(m.get("forecast_type")), "open"))
                    for m in sorted(p.get("maps") or [], key=lambda m: int(m.get("sequence_number") or 0))]
        return out

    def _record_modules(self) -> list[str]:
        """Modules whose records a polymorphic lookup can name (``settings/modules``, creatable ones)."""
        if self._modules is None:
            body = self._get("settings/modules", "modules")
            self._modules = [str(m["api_name"]) for m in body.get("modules") or []
                             if m.get("creatable", True) and m.get("api_supported", True)]
        return self._modules

    def _fields_of(self, obj: str, names: Iterable[str] = ()) -> dict[str, DestField]:
        """The module's fields; described again when ``names`` holds one this client has not seen (a custom
        field created after it described the module, by the prepare step's client, in another container or
        thread). A name a fresh describe still lacks is remembered, so it costs no second describe."""
        d = self.describe(obj)
        fields = d.fields if d else {}
        absent = self._absent.setdefault(obj, set())
        unseen = [n for n in names if n not in fields and _split(n)[0] not in fields and n not in absent]
        if unseen:
            self._describes.pop(obj, None)
            d = self.describe(obj)
            fields = d.fields if d else {}
            absent.update(n for n in unseen if n not in fields and _split(n)[0] not in fields)
        return fields

    def users(self) -> list[DestUser]:
        out: list[DestUser] = []
        page = 1
        while True:
            body = self._get("users", "users", params={"type": "AllUsers", "page": page, "per_page": 200})
            for u in body.get("users") or []:
                out.append(DestUser(id=str(u["id"]), email=str(u.get("email") or ""),
                                    active=u.get("status") == "active", name=str(u.get("full_name") or "")))
            if not (body.get("info") or {}).get("more_records"):
                return out
            page += 1

    def audit_fields_settable(self, described: Mapping[str, DestObject]) -> bool:
        """Never: Created_Time / Modified_Time are read-only on every module (reference §3.5)."""
        return False

    def create_custom_object(self, spec: CustomObjectSpec) -> None:
        body = {"modules": [{"api_name": spec.name, "singular_label": spec.label, "plural_label": spec.plural_label,
                             "profiles": [{"name": "Administrator"}]}]}
        resp = self._request("POST", f"{API}/settings/modules", f"create module {spec.name}", json=body, cost=500)
        result = (_json(resp).get("modules") or [{}])[0]
        if result.get("status") != "success":
            raise ContractError(f"Zoho did not create module {spec.name}: {result.get('code')} {result.get('message')}")
        self._describes.pop(spec.name, None)
        self._modules = None

    def create_custom_field(self, spec: CustomFieldSpec) -> None:
        """Create the field from a label spelled like its name (Zoho derives the API name from the label), then
        read the name back: a field Zoho named differently is a contract error, never a silent mismatch."""
        dtype = FIELD_TYPES.get(spec.type)
        if dtype == "double" and spec.scale == 0:  # a whole number: Zoho's integer (9 digits)
            dtype = "integer"
        if dtype is None:
            raise ContractError(f"Zoho has no field type for {spec.type!r} ({spec.object}.{spec.name}); "
                                f"allowed: {sorted(FIELD_TYPES)}")
        item: dict[str, Any] = {"field_label": spec.name.replace("_", " "), "data_type": dtype}
        if dtype in ("text", "textarea") and spec.length:
            item["length"] = min(spec.length, 255 if dtype == "text" else 32_000)
        if dtype in ("picklist", "multiselectpicklist"):
            item["pick_list_values"] = [{"display_value": v, "actual_value": v} for v in spec.picklist_values]
            item["restricted_picklist"] = spec.restricted
        if dtype == "lookup":
            item["lookup"] = {"module": {"api_name": spec.reference_to}}
        if spec.external_id:
            item["external"] = {"type": "user", "show": False}
        if spec.unique:
            item["unique"] = {"casesensitive": False}
        what = f"create field {spec.object}.{spec.name}"
        resp = self._request("POST", f"{API}/settings/fields", what, params={"module": spec.object},
                             json={"fields": [item]}, ok=lambda status, body: status == 400 and _duplicate(body))
        if resp.status_code == 400:
            # The module already has the field: created after this connector described the module (by a
            # run before, through another client). Idempotent when it is ours by name; refused otherwise.
            self._describes.pop(spec.object, None)
            have = self.describe(spec.object)
            if have is not None and spec.name in have.fields:
                return
            raise ContractError(f"Zoho refused {what}: DUPLICATE_DATA (a field labelled {spec.label!r} exists "
                                f"under another name)")
        result = (_json(resp).get("fields") or [{}])[0]
        if result.get("status") != "success":
            raise ContractError(f"Zoho refused {what}: {result.get('code')} {result.get('message')} "
                                f"{result.get('details')}")
        field_id = str((result.get("details") or {}).get("id"))
        got = self._get(f"settings/fields/{field_id}", what, params={"module": spec.object})
        name = str(((got.get("fields") or [{}])[0]).get("api_name"))
        if name != spec.name:
            raise ContractError(f"Zoho named {spec.object}.{spec.name} {name!r}: rename the spec's field to match")
        self._describes.pop(spec.object, None)

    # --- payloads ---------------------------------------------------------------------------------------------
    def _payload(self, obj: str, record: Mapping[str, Any], drop: frozenset[str] = frozenset()) -> dict[str, Any]:
        """The engine's neutral record as Zoho's JSON (lookups as ``{"id"}``, per-target lookups split)."""
        fields = self._fields_of(obj, [n for n in record if n not in drop and n not in (FILE_FIELD, ID)])
        out: dict[str, Any] = {}
        for name, value in record.items():
            if name in drop or name == FILE_FIELD:
                continue
            if name == ID:
                out["id"] = value
                continue
            base, module = _split(name)
            f = fields.get(base)
            if module is not None:
                if value in (None, ""):
                    continue
                if f is not None and f.type == "participants":  # an event's attendees, at most 50
                    out.setdefault(base, []).append({"type": PARTICIPANT_TYPES[module], "participant": str(value)})
                elif f is not None and f.type == "parent":
                    out[base] = {"module": {"api_name": module}, "id": str(value)}
                else:
                    out[base] = {"id": str(value)}
                    out["$se_module"] = module
                continue
            if f is not None and f.type in LOOKUP_TYPES:
                out[name] = {"id": str(value)} if value not in (None, "") else None
            elif f is not None and f.type in NUMERIC and isinstance(value, str) and value:
                out[name] = float(value)
            elif f is not None and f.type == "datetime" and isinstance(value, str) and value:
                out[name] = _zoho_datetime(value)
            elif f is not None and f.type == "multiselectpicklist" and isinstance(value, str):
                out[name] = [v for v in value.split(";") if v]
            else:
                out[name] = value
        return out

    def _row(self, obj: str, raw: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
        """A Zoho record read back under the engine's names (lookups as ids)."""
        row: dict[str, Any] = {ID: str(raw.get("id"))}
        for name in names:
            if name == ID:
                continue
            base, module = _split(name)
            value = raw.get(base)
            if module is not None and isinstance(value, list):  # participants: the first of that type
                row[name] = next((str(p["participant"]) for p in value if isinstance(p, dict)
                                  and p.get("type") == PARTICIPANT_TYPES.get(module)), None)
            elif module is not None:
                held = (value or {}) if isinstance(value, dict) else {}
                held_module = ((held.get("module") or {}).get("api_name") if isinstance(held.get("module"), dict)
                               else raw.get("$se_module"))
                row[name] = str(held.get("id")) if held.get("id") and held_module == module else None
            elif isinstance(value, dict):
                row[name] = str(value["id"]) if value.get("id") is not None else None
            elif isinstance(value, list) and name != "Participants":
                row[name] = ";".join(str(v) for v in value)
            else:
                row[name] = value
        return row

    def _read_names(self, obj: str, names: list[str]) -> list[str]:
        """The Zoho field names to ask for ``names`` (per-target lookups ask their field; ``$`` keys and
        names the module lacks are not fields)."""
        fields = self._fields_of(obj, names)
        out = []
        for name in names:
            base, _ = _split(name)
            if base in fields and base != FILE_FIELD and base not in out:
                out.append(base)
        return out

    # --- results -----------------------------------------------------------------------------------------------
    @staticmethod
    def _results(keys: list[str], resp: httpx.Response, *, upsert: bool) -> list[WriteResult]:
        body = _json(resp)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or len(data) != len(keys):
            raise ContractError(f"Zoho answered HTTP {resp.status_code} without one result per record "
                                f"({len(keys)} sent)")
        out = []
        for key, r in zip(keys, data, strict=True):
            details = r.get("details") or {}
            if r.get("status") == "success":
                created = r.get("action", "insert") == "insert" if upsert else r.get("message") == "record added"
                out.append(WriteResult(key, str(details.get("id")), created))
            else:
                field = str(details.get("api_name") or "")
                message = str(r.get("message", ""))
                extra = ", ".join(f"{k}={v}" for k, v in details.items() if k not in ("api_name",) and v is not None)
                out.append(WriteResult(key, None, False, str(r.get("code") or "UNKNOWN"),
                                       f"{message} ({extra})" if extra else message, field))
        return out

    @staticmethod
    def _per_record(status: int, body: Any) -> bool:
        """A 400 that still carries one result per record (every record refused) is results, not an error."""
        return status == 400 and isinstance(body, dict) and isinstance(body.get("data"), list)

    # --- writes ------------------------------------------------------------------------------------------------
    def upsert(self, obj: str, ext_field: str, records: Sequence[dict[str, Any]], *, allow_bulk: bool
               ) -> list[WriteResult]:
        """Upsert on the external field only, in full batches of 100 (or one Bulk Write job when cheaper)."""
        records = list(records)  # parsed once here (a load's lines are parsed as they are read)
        if not records:
            return []
        if allow_bulk and self.use_bulk(obj, len(records)):
            self.check_quota(self.credits_needed(obj, len(records), True))
            return self._bulk_upsert(obj, ext_field, records)
        out: list[WriteResult] = []
        for chunk in chunks(records, RECORDS_PER_CALL):
            cost = credits_for(len(chunk))
            self.check_quota(cost)
            body = {"data": [self._payload(obj, r) for r in chunk], "duplicate_check_fields": [ext_field],
                    "trigger": []}
            resp = self._request("POST", f"{API}/{obj}/upsert", f"upsert {obj}", json=body, cost=cost,
                                 ok=self._per_record)
            out += self._results([r[ext_field] for r in chunk], resp, upsert=True)
        return out

    def insert(self, obj: str, ext_field: str, records: Sequence[dict[str, Any]], *, match_on: list[str] | None = None
               ) -> list[WriteResult]:
        """Insert (objects written once: notes, files). The key is sent only where the object can carry it."""
        if not records:
            return []
        if obj == "Attachments":
            return [self._attach(ext_field, r) for r in records]
        send_key = match_on is None and obj not in self.capabilities.no_custom_fields
        drop = frozenset() if send_key else frozenset({ext_field})
        out: list[WriteResult] = []
        for chunk in chunks(records, RECORDS_PER_CALL):
            cost = credits_for(len(chunk))
            self.check_quota(cost)
            body = {"data": [self._payload(obj, r, drop) for r in chunk], "trigger": []}
            resp = self._request("POST", f"{API}/{obj}", f"insert {obj}", json=body, cost=cost, ok=self._per_record)
            out += self._results([r[ext_field] for r in chunk], resp, upsert=False)
        return [WriteResult(w.key, w.id, True, w.error_code, w.error_message, w.fields) if w.ok else w for w in out]

    def _attach(self, ext_field: str, record: dict[str, Any]) -> WriteResult:
        """One file to ``/{Module}/{id}/Attachments`` (multipart); over the org's size limit it is a reject
        with Zoho's code, never dropped."""
        key = str(record[ext_field])
        parent = next(((m, str(v)) for k, v in record.items() if (m := _split(k)[1]) and k.startswith("Parent_Id")
                       and v), None)
        if parent is None:
            return WriteResult(key, None, False, "MANDATORY_NOT_FOUND", "the file names no parent record", "Parent_Id")
        module, parent_id = parent
        content = base64.b64decode(str(record.get(FILE_FIELD) or ""))
        name = str(record.get("File_Name") or "attachment")
        self.check_quota(1)
        resp = self._request("POST", f"{API}/{module}/{parent_id}/Attachments", f"attach to {module}",
                             files={"file": (name, content)}, ok=lambda s, b: s == 400 and isinstance(b, dict))
        body = _json(resp)
        if resp.status_code == 400:
            return WriteResult(key, None, False, str(body.get("code") or "UNKNOWN"),
                               f"{body.get('message', '')} ({body.get('details')})", "File_Name")
        result = (body.get("data") or [{}])[0]
        if result.get("status") != "success":
            return WriteResult(key, None, False, str(result.get("code")), str(result.get("message")), "File_Name")
        return WriteResult(key, f"{module}/{parent_id}/{result['details']['id']}", True)

    def update(self, obj: str, records: list[dict[str, Any]], *, allow_bulk: bool = False) -> list[WriteResult]:
        """Update by id (fix-up pass, rollback restores); results keyed by the id. ``None`` clears a field."""
        out: list[WriteResult] = []
        for chunk in chunks(records, RECORDS_PER_CALL):
            cost = credits_for(len(chunk))
            self.check_quota(cost)
            body = {"data": [self._payload(obj, r) for r in chunk], "trigger": []}
            resp = self._request("PUT", f"{API}/{obj}", f"update {obj}", json=body, cost=cost, ok=self._per_record)
            out += self._results([str(r[ID]) for r in chunk], resp, upsert=False)
        return [WriteResult(w.key, w.id, False, w.error_code, w.error_message, w.fields) for w in out]

    def convert(self, obj: str, into: str, items: list[tuple[str, str, dict[str, str]]]) -> list[WriteResult]:
        """Convert Lead (``POST /Leads/{id}/actions/convert``, one lead a call, 5 credits each), attached to the
        records ``links`` names (module -> id: the lead's Account, so Zoho creates none from ``Company``); no
        Deal is created. Each result carries, keyed like the item, the id of the record made in ``into``.

        At the budget's edge it stops: the results so far are returned (fewer than the items: the caller
        records them, then pauses); with none done the :class:`QuotaExhaustedError` is raised."""
        if obj != "Leads" or into not in ("Contacts", "Accounts"):
            raise ConfigurationError(f"Zoho converts Leads into Contacts and Accounts, not {obj} into {into}")
        out: list[WriteResult] = []
        for key, lead_id, links in items:
            body = {"data": [{"overwrite": False, "notify_lead_owner": False, "notify_new_entity_owner": False,
                              **{module: {"id": i} for module, i in links.items()}}]}
            try:
                self.check_quota(CONVERT_CREDITS)
                resp = self._request("POST", f"{API}/Leads/{lead_id}/actions/convert", "convert Leads",
                                     cost=CONVERT_CREDITS, json=body,
                                     ok=lambda s, b: s == 400 and isinstance(b, dict))
            except QuotaExhaustedError:
                if out:
                    return out
                raise
            answer = _json(resp)
            rows = (answer.get("data") or [answer]) if isinstance(answer, dict) else [{}]
            row: dict[str, Any] = rows[0] if isinstance(rows[0], dict) else {}
            made = (row.get("details") or {}).get(into) if row.get("status") == "success" else None
            made_id = made.get("id") if isinstance(made, dict) else made
            if made_id:
                out.append(WriteResult(key, str(made_id), True))
            else:
                out.append(WriteResult(key, None, False, str(row.get("code") or "UNKNOWN"),
                                       str(row.get("message") or "the conversion named no record"), into))
        return out

    def delete_records(self, obj: str, ids: list[str]) -> list[WriteResult]:
        """Delete; a record already gone counts as deleted (a retried delete converges)."""
        if obj == "Attachments":
            return [self._detach(i) for i in ids]
        out: list[WriteResult] = []
        for chunk in chunks(ids, RECORDS_PER_CALL):
            cost = credits_for(len(chunk))
            resp = self._request("DELETE", f"{API}/{obj}", f"delete {obj}", params={"ids": ",".join(chunk)},
                                 cost=cost, ok=self._per_record)
            for w in self._results(chunk, resp, upsert=False):
                gone = w.error_code in GONE_CODES
                out.append(WriteResult(w.key, w.key, False) if w.ok or gone else w)
        return out

    def _detach(self, composite: str) -> WriteResult:
        module, parent, att = ([*composite.split("/"), "", "", ""])[:3]
        resp = self._request("DELETE", f"{API}/{module}/{parent}/Attachments/{att}", "delete attachment",
                             ok=lambda s, b: s in (400, 204))
        body = _json(resp)
        if resp.status_code == 400 and body.get("code") not in GONE_CODES:
            return WriteResult(composite, composite, False, str(body.get("code")), str(body.get("message")))
        return WriteResult(composite, composite, False)

    # --- Bulk Write ------------------------------------------------------------------------------------------
    def _bulk_upsert(self, obj: str, ext_field: str, records: list[dict[str, Any]]) -> list[WriteResult]:
        """One Bulk Write job per 25,000 rows: zipped CSV to the content host, create, poll, read the result CSV.

        Bulk jobs never fire workflows. Each result row carries the input columns, so it is matched back by key.
        """
        out: list[WriteResult] = []
        for chunk in chunks(records, self.capabilities.bulk_batch_max):
            out += self._bulk_job(obj, ext_field, chunk)
        return out

    def _bulk_job(self, obj: str, ext_field: str, records: list[dict[str, Any]]) -> list[WriteResult]:
        payloads = [self._payload(obj, r) for r in records]
        columns = sorted({k for p in payloads for k in p if not k.startswith("$") and k != "id"})
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        for p in payloads:
            writer.writerow([_cell(p.get(c)) for c in columns])
        packed = io.BytesIO()
        with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"{obj}.csv", buf.getvalue())
        org = self._org_id()
        up = self._request("POST", f"{self.content_url}/crm/v8/upload", f"bulk upload {obj}",
                           headers={"feature": "bulk-write", "X-CRM-ORG": org},
                           files={"file": (f"{obj}.zip", packed.getvalue(), "application/zip")}, cost=0)
        file_id = str((_json(up).get("details") or {}).get("file_id"))
        spec = {"operation": "upsert", "ignore_empty": True, "resource": [{
            "type": "data", "module": {"api_name": obj}, "file_id": file_id,
            "field_mappings": [{"api_name": c, "index": i} for i, c in enumerate(columns)],
            "find_by": ext_field}]}
        job = _json(self._request("POST", "/crm/bulk/v8/write", f"bulk create {obj}", json=spec,
                                  cost=BULK_JOB_CREDITS))
        job_id = str((job.get("details") or {}).get("id"))
        deadline = time.monotonic() + BULK_POLL_TIMEOUT_S
        while True:
            status = _json(self._request("GET", f"/crm/bulk/v8/write/{job_id}", "bulk status", cost=0))
            state = str(status.get("status", ""))
            if state == "COMPLETED":
                break
            if state == "FAILED" or time.monotonic() > deadline:
                raise TransientError(f"Zoho bulk write {obj} ended {state or 'without finishing'}")
            time.sleep(0.3)
        url = str((status.get("result") or {}).get("download_url"))
        zipped = self._request("GET", url if url.startswith("http") else f"{self.instance_url}{url}",
                               "bulk result", cost=0).content
        with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
            text = zf.read(zf.namelist()[0]).decode()
        out = []
        for row in csv.DictReader(io.StringIO(text)):
            key = row.get(ext_field, "")
            state = row.get("STATUS", "")
            if state in ("ADDED", "UPDATED"):
                out.append(WriteResult(key, row.get("RECORD_ID") or None, state == "ADDED"))
            else:
                code, _, field = (row.get("ERRORS") or "UNKNOWN").partition(":")
                out.append(WriteResult(key, None, False, code or "UNKNOWN", f"bulk write skipped: {row.get('ERRORS')}",
                                       field))
        return out

    @property
    def content_url(self) -> str:
        return (self._content_url or f"{self.instance_url}/content").rstrip("/")

    def _org_id(self) -> str:
        if not self.org_id:
            raise ConfigurationError("Zoho bulk write needs the org id (secret key 'org_id', the X-CRM-ORG header)")
        return self.org_id

    # --- reads -------------------------------------------------------------------------------------------------
    def coql(self, query: str, what: str) -> list[dict[str, Any]]:
        """Every row of a COQL query (pages of 2,000 by ``limit offset, count``)."""
        return list(self.coql_iter(query, what))

    def coql_iter(self, query: str, what: str) -> Iterator[dict[str, Any]]:
        """The rows of a COQL query, a page at a time: the next page is asked when this one is consumed."""
        offset = 0
        while True:
            resp = self._request("POST", f"{API}/coql", what, cost=3,
                                 json={"select_query": f"{query} limit {offset}, {COQL_PAGE}"})
            body = _json(resp) if resp.status_code != 204 else {}
            yield from body.get("data") or []
            if not (body.get("info") or {}).get("more_records"):
                return
            offset += COQL_PAGE

    def _get_ids(self, obj: str, ids: list[str], names: list[str]) -> dict[str, dict[str, Any]]:
        wanted = self._read_names(obj, names)[: FIELDS_MAX - 1] or ["Modified_Time"]
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunks(ids, RECORDS_PER_CALL):
            params = {"ids": ",".join(chunk), "fields": ",".join(wanted), "per_page": 200}
            body = self._get(obj, f"read {obj}", params=params | ({"converted": "both"} if obj == "Leads" else {}))
            for raw in body.get("data") or []:
                found[str(raw["id"])] = self._row(obj, raw, names)
        return found

    def _attachments(self, ids: list[str], names: list[str]) -> dict[str, dict[str, Any]]:
        """Attachments by composite id: one list call per parent record (Zoho lists a record's files)."""
        found: dict[str, dict[str, Any]] = {}
        by_parent: dict[tuple[str, str], list[str]] = {}
        for composite in ids:
            module, parent, att = [*composite.split("/"), "", "", ""][:3]
            by_parent.setdefault((module, parent), []).append(att)
        for (module, parent), atts in by_parent.items():
            resp = self._request("GET", f"{API}/{module}/{parent}/Attachments", "read attachments",
                                 params={"fields": "id,File_Name,Parent_Id,Size"},
                                 ok=lambda s, b: s == 400 and isinstance(b, dict))
            rows = {str(r["id"]): r for r in (_json(resp).get("data") or [])} if resp.status_code == 200 else {}
            for att in atts:
                if att in rows:
                    composite = f"{module}/{parent}/{att}"
                    found[composite] = {**self._row("Attachments", rows[att], names), ID: composite}
        return found

    def retrieve(self, obj: str, ids: list[str], fields: list[str]) -> list[dict[str, Any] | None]:
        found = self._attachments(ids, fields) if obj == "Attachments" else self._get_ids(obj, ids, fields)
        return [found.get(i) for i in ids]

    def existing_ids(self, obj: str, ids: list[str]) -> set[str]:
        return set(self._attachments(ids, []) if obj == "Attachments" else self._get_ids(obj, ids, []))

    def find_by_key(self, obj: str, key_field: str, keys: list[str]) -> dict[str, str]:
        if obj in self.capabilities.no_custom_fields:
            return {}  # nothing to find a key by: these objects are written once (see the guarantees)
        found: dict[str, str] = {}
        for chunk in chunks(keys, IN_CHUNK):
            literals = ", ".join(_literal(k) for k in chunk)
            for row in self.coql(f"select {key_field} from {obj} where {key_field} in ({literals})",  # noqa: S608
                                 f"keys {obj}"):
                found[str(row[key_field])] = str(row["id"])
        return found

    def find_by_key_prefix(self, obj: str, key_field: str, prefix: str) -> dict[str, str]:
        return {str(r[key_field]): str(r[ID]) for r in self.rows_with_key_prefix(obj, [], key_field, prefix)}

    def rows_with_key_prefix(self, obj: str, fields: list[str], key_field: str, prefix: str
                             ) -> Iterator[dict[str, Any]]:
        """COQL pages (2,000 rows, read as consumed) on the key's prefix; converted Leads after them."""
        if obj in self.capabilities.no_custom_fields or key_field not in self._fields_of(obj, [key_field]):
            return iter(())
        names = [n for n in self._read_names(obj, [key_field, *fields]) if n != "id"]
        query = f"select {', '.join(names)} from {obj} where {key_field} like {_literal(prefix + '%')}"  # noqa: S608
        rows = itertools.chain(self.coql_iter(query, f"rows {obj}"),
                               self._converted_leads(names) if obj == "Leads" else ())
        wanted = list(dict.fromkeys([key_field, *fields]))
        return (self._row(obj, r, wanted) for r in rows if str(r.get(key_field) or "").startswith(prefix))

    def _converted_leads(self, names: list[str]) -> Iterator[dict[str, Any]]:
        """Converted leads (COQL leaves them out; the records API lists them with ``converted=true``), by page."""
        params: dict[str, Any] = {"converted": "true", "fields": ",".join(["id", *names][:FIELDS_MAX]),
                                  "per_page": 200}
        while True:
            body = self._get("Leads", "read converted Leads", params=params)
            yield from body.get("data") or []
            info = body.get("info") or {}
            if not info.get("more_records"):
                return
            params = {k: v for k, v in params.items() if k != "page"} | {"page_token": info["next_page_token"]}

    def rows_by_id(self, obj: str, ids: list[str], fields: list[str]) -> list[dict[str, Any]]:
        found = self._attachments(ids, fields) if obj == "Attachments" else self._get_ids(obj, ids, fields)
        return list(found.values())

    def find_natural(self, obj: str, fields: list[str], records: Sequence[dict[str, Any]]
                     ) -> dict[tuple[str, ...], str]:
        first = fields[0]
        values = sorted({str(r[first]) for r in records if r.get(first)})
        names = self._read_names(obj, fields)
        existing: dict[tuple[str, ...], str] = {}
        for chunk in chunks(values, IN_CHUNK):
            literals = ", ".join(_literal(v) for v in chunk)
            for raw in self.coql(f"select {', '.join(names)} from {obj} where {_split(first)[0]} in ({literals})",  # noqa: S608
                                 f"match {obj}"):
                row = self._row(obj, raw, fields)
                existing[tuple(str(row.get(f) or "") for f in fields)] = str(raw["id"])
        return existing

    def modified_stamps(self, obj: str, ids: list[str]) -> dict[str, str]:
        """``Modified_Time``: moved by every change (ours included; the loader compares with its own write time)."""
        return {i: str(r.get("Modified_Time") or "") for i, r in self._get_ids(obj, ids, ["Modified_Time"]).items()}


def _json(resp: httpx.Response) -> Any:
    if not resp.content:
        return {}
    try:
        return resp.json()
    except ValueError:
        return {}


def _zoho_datetime(value: str) -> str:
    """ISO 8601 as Zoho takes it: ``yyyy-MM-ddTHH:mm:ss±HH:mm`` (no fraction, no ``Z``); UTC when unzoned."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value  # Zoho answers INVALID_DATA for this record: a reject naming the field
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.replace(microsecond=0).isoformat()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return str(value.get("id", ""))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def _dest_field(f: Mapping[str, Any]) -> DestField:
    lookup = f.get("lookup") or {}
    reference = ((lookup.get("module") or {}).get("api_name")) if isinstance(lookup, dict) else None
    read_only = bool(f.get("read_only"))
    return DestField(
        name=str(f["api_name"]), type=str(f.get("data_type") or "text"), label=str(f.get("field_label") or ""),
        length=int(f.get("length") or 0), nillable=not f.get("system_mandatory"), createable=not read_only,
        updateable=not read_only, external_id=f.get("external") is not None,
        picklist_values=[str(p["actual_value"]) for p in f.get("pick_list_values") or []
                         if p.get("actual_value") != "-None-"],
        restricted_picklist=bool(f.get("restricted_picklist")),
        reference_to=[reference] if reference else [],
    )


__all__ = ["CAPABILITIES", "FILE_FIELD", "ThrottledError", "ZohoDestination", "credits_for", "rest_credits"]


def _duplicate(body: Any) -> bool:
    """A ``settings/fields`` refusal because the field (its label or api name) exists already."""
    if not isinstance(body, dict):
        return False
    listed = body.get("fields")
    items: list[Any] = listed if isinstance(listed, list) else [body]
    return any(isinstance(i, dict) and i.get("code") == "DUPLICATE_DATA" for i in items)
