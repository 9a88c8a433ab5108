"""Microsoft Dynamics 365 Sales destination over the Dataverse Web API v9.2 (httpx).

Object names are Dataverse **logical names** (``account``, ``incident``, ``flit_asset``); entity
set names come from ``EntityDefinitions`` and are cached. Lookups are addressed by their
**navigation-property name** (``parentaccountid``, ``customerid_account``,
``regardingobjectid_account_task``): a record ``{"customerid_account": <guid>}`` is sent as
``"customerid_account@odata.bind": "/accounts(<guid>)"`` and read back from ``_customerid_value``.
Choice, state and status columns take integers (labels are translated when a record carries one).

Writes go through ``$batch`` (reference §2.3): up to 999 writes plus one read per request,
``Prefer: odata.continue-on-error`` so one refused record does not sink the others, no change
sets (the records are independent). Upserts are ``PATCH <set>(<key column>='<key>')`` on the
alternate key created with the external-id column; the read at the head of the same ``$batch``
lists which of the keys already exist, so each result says reliably whether it created the record.

Loads large enough for it (``Capabilities.bulk_threshold``) upsert through the bulk message
``UpsertMultiple`` instead, when that costs no more requests than the ``$batch`` PATCHes: one
``$batch`` per 1,000 records holding the read of the keys already there, ``POST
<set>/Microsoft.Dynamics.CRM.UpsertMultiple`` (targets addressed by a relative ``@odata.id`` on the
alternate key, the key column left out of the body, lookups bound with ``@odata.bind`` as in a
PATCH) and the read of the ids afterwards — three operations where ``$batch`` spends a thousand.
On standard tables the message is all or nothing: when it fails nothing was written, and the
chunk is sent again through the ``$batch`` PATCHes, where each row gets its own result (the
failing rows become rejects with their reason, the others are written). Close actions of a bulk
load follow in ``$batch`` requests of their own.

Closing records is not a PATCH in Dataverse (reference §2.5): incidents resolved and
opportunities won or lost are upserted open, then closed with ``CloseIncident`` /
``WinOpportunity`` / ``LoseOpportunity``. An upsert sends those actions in the same ``$batch``,
after the PATCHes and bound by the alternate key (parts run in order); a record already closed
refuses the action without a new close activity, and a closed record that must change is
reopened, written and re-closed in one more ``$batch``, only when there is one.

Insert-only tables that cannot carry the external-id column (notes: ``annotation``) are
inserted with a deterministic primary key (uuid5 of the environment, table and source key), so
a retried insert cannot duplicate and presence is checked by id.

Throttling (429 + ``Retry-After``) and transient failures go through the one retry policy
(``shared.retry``); every failure is translated into the error tree; per-record failures come
back as results. Every HTTP request (token calls included) is counted in ``calls``.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from shared import retry
from shared.connectors.destination import ID, Capabilities, WriteCost, WriteResult, chunks
from shared.connectors.dynamics.capabilities import CAPABILITIES
from shared.errors import (
    AuthenticationError,
    ConfigurationError,
    ContractError,
    error_for_status,
    transport_error,
)
from shared.mapping.spec import CustomFieldSpec, CustomObjectSpec
from shared.models import DestField, DestObject, DestUser
from shared.observability import logger
from shared.tls import ssl_context

API_VERSION = "v9.2"

BATCH_MAX_PARTS = 1_000
#: Targets per ``UpsertMultiple``: Microsoft sets no count limit on standard tables but bounds the
#: request's size and time; 1,000 is the size its guidance works with (docs/decisions.md).
BULK_TARGETS = 1_000
#: Ids or keys per ``In(...)`` read sent as a plain GET (the URL stays well under 32 KB).
IN_CHUNK = 200
#: Part statuses retried inside a write (the rest of the batch is kept).
RETRY_PART_STATUSES = frozenset({429, 500, 502, 503, 504})
PART_ATTEMPTS = 4
#: How long a new alternate key may stay Pending before the field creation is reported as failed.
KEY_ACTIVATION_TIMEOUT_S = 600.0
#: Namespace of the deterministic primary keys of insert-only records.
RECORD_NAMESPACE = uuid.UUID("3b0f8f43-58b5-4c6e-a0e4-7c1d0a5e9f21")
#: Tables with closed states, read-only while closed (reference §2.5)...
CLOSABLE = frozenset({"incident", "opportunity"})
#: ...and the states only an action reaches: a resolved case, a won or lost opportunity (a cancelled
#: case is a plain PATCH of statecode 2).
CLOSE_ONLY = frozenset({("incident", 1), ("opportunity", 1), ("opportunity", 2)})
STATE_FIELDS = ("statecode", "statuscode")
GONE_STATUS = 404
DUPLICATE_CODES = frozenset({"0x80040237", "0x80060892"})  # duplicate primary key / duplicate alternate key
ANNOTATIONS = 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"'
INT_TYPES = frozenset({"Picklist", "State", "Status", "Integer", "BigInt"})
FLOAT_TYPES = frozenset({"Decimal", "Double", "Money"})
LOOKUP_TYPES = frozenset({"Lookup", "Customer", "Owner"})
#: AttributeType -> the engine's field type (the names the Salesforce describe uses, where they exist).
FIELD_TYPES = {
    "String": "string", "Memo": "textarea", "Integer": "int", "BigInt": "long", "Decimal": "double",
    "Double": "double", "Money": "currency", "Boolean": "boolean", "DateTime": "datetime", "Picklist": "picklist",
    "State": "picklist", "Status": "picklist", "Uniqueidentifier": "id", "EntityName": "string",
    "MultiSelectPicklist": "multipicklist",
}
STRING_FORMATS = {"Email": "email", "Phone": "phone", "Url": "url"}
#: Columns Dataverse fills on create whatever is sent (so they are never "required" for a loader);
#: EntityName columns (customeraddress.objecttypecode) are derived from the lookup they describe.
DEFAULTED_TYPES = frozenset({"State", "Status", "Owner", "Uniqueidentifier", "EntityName"})
TEXT_LIMIT, MEMO_LIMIT = 4_000, 1_048_576
#: Numbers read back equal to what was sent within half a cent (money is stored at 2-4 decimals).
MONEY_TOLERANCE = 0.005
#: The column a migration sets on create to keep the original creation time (reference §2.7).
OVERRIDDEN_CREATED_ON = "overriddencreatedon"


def _label(text: str) -> dict[str, Any]:
    return {"@odata.type": "Microsoft.Dynamics.CRM.Label",
            "LocalizedLabels": [{"@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel", "Label": text,
                                 "LanguageCode": 1033}]}


def _label_text(value: Any) -> str:
    if isinstance(value, dict):
        user = value.get("UserLocalizedLabel")
        if isinstance(user, dict) and user.get("Label"):
            return str(user["Label"])
        labels = value.get("LocalizedLabels") or []
        if labels and isinstance(labels[0], dict):
            return str(labels[0].get("Label") or "")
    return ""


def _required(level: str) -> dict[str, Any]:
    return {"Value": level, "CanBeChanged": True, "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings"}


def odata_string(value: str) -> str:
    """An OData string literal: single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def _url_literal(value: str) -> str:
    """A string literal for a URL path or query (percent-encoded where the URL grammar needs it)."""
    return quote(odata_string(value), safe="'=:@!$*,;()")


def _in_filter(prop: str, values: list[str]) -> str:
    items = ",".join(odata_string(v) for v in values)
    return f"Microsoft.Dynamics.CRM.In(PropertyName={odata_string(prop)},PropertyValues=[{items}])"


#: Dataverse cannot address a record by an alternate-key value holding any of ``/ # < > * % & : \\ ? +``
#: (GET and PATCH fail; Power Apps docs, "Define alternate keys using Power Apps"), and every engine key
#: has a ':' (``customers:42``, ``assets:7#2``). Key columns therefore store an escaped form: ':' is
#: '.', the other characters (and '.' and '~' themselves) '~' + a letter; all of it URL-safe
#: (unreserved characters need no percent-encoding). Char by char, so a prefix stays a prefix
#: (``startswith`` reads); reads decode, so the engine only ever sees its own keys.
_KEY_ESCAPES = {"~": "~~", ".": "~d", "/": "~s", "#": "~h", "<": "~l", ">": "~g", "*": "~x", "%": "~p",
                "&": "~a", "\\": "~b", "?": "~q", "+": "~t", ":": "."}
_KEY_UNESCAPES = {v[1]: k for k, v in _KEY_ESCAPES.items() if v.startswith("~")}


def encode_key(key: str) -> str:
    """The engine key as a Dataverse key column stores it (URL-safe for alternate-key addressing)."""
    return "".join(_KEY_ESCAPES.get(c, c) for c in key)


def decode_key(text: str) -> str:
    """Inverse of :func:`encode_key`."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "~" and i + 1 < len(text) and text[i + 1] in _KEY_UNESCAPES:
            out.append(_KEY_UNESCAPES[text[i + 1]])
            i += 2
            continue
        out.append(":" if c == "." else c)
        i += 1
    return "".join(out)


@dataclass
class _Column:
    logical: str
    type: str
    label: str = ""
    required: str = "None"
    create: bool = True
    update: bool = True
    max_length: int = 0
    fmt: str = ""
    targets: list[str] = field(default_factory=list)
    custom: bool = False
    options: dict[int, str] = field(default_factory=dict)
    default_status: dict[int, int] = field(default_factory=dict)  # statecode -> its default statuscode

    @property
    def value_name(self) -> str:
        return f"_{self.logical}_value" if self.type in LOOKUP_TYPES else self.logical


@dataclass
class _Table:
    logical: str
    entity_set: str
    primary_id: str
    label: str
    custom: bool
    columns: dict[str, _Column]
    navs: dict[str, tuple[str, str]]  # navigation property -> (lookup column, target table)
    keys: dict[str, list[str]]  # alternate key logical name -> its columns

    def key_on(self, column: str) -> bool:
        return any(cols == [column] for cols in self.keys.values())

    @property
    def coded(self) -> frozenset[str]:
        """Columns holding engine keys (stored escaped): custom text columns that are a key on their own."""
        return frozenset(cols[0] for cols in self.keys.values() if len(cols) == 1 and cols[0] in self.columns
                         and self.columns[cols[0]].custom and self.columns[cols[0]].type == "String")

    def encode(self, column: str, value: str) -> str:
        return encode_key(value) if column in self.coded else value

    def decode(self, column: str, value: Any) -> Any:
        return decode_key(value) if column in self.coded and isinstance(value, str) else value


@dataclass
class _Part:
    """One request of a ``$batch`` (its URL relative to the service root)."""

    method: str
    url: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Reply:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error(self) -> tuple[str, str]:
        err = self.body.get("error") if isinstance(self.body, dict) else None
        if isinstance(err, dict):
            return str(err.get("code") or f"HTTP_{self.status}"), str(err.get("message") or "")
        return f"HTTP_{self.status}", str(self.body or "")[:300]


@dataclass
class _Write:
    """One record on its way: the part(s) that write it and what the result must say."""

    key: str
    record: dict[str, Any]
    existing_id: str | None = None
    existing_state: int | None = None
    existing_status: int | None = None
    result: WriteResult | None = None
    settled: bool = False  # its close action already ran with the write (or failed for good): _settle skips it


def bulk_requests(count: int, closes: int) -> int:
    """Requests of a bulk upsert: one ``$batch`` per 1,000 records, and the closes in ``$batch``es of 1,000."""
    return math.ceil(count / BULK_TARGETS) + math.ceil(closes / BATCH_MAX_PARTS)


def write_cost(obj: str, count: int, allow_bulk: bool, caps: Capabilities = CAPABILITIES) -> WriteCost:
    """Requests of one load: one ``$batch`` per 999 records; on tables closed through actions, per 999 records
    and closes (counted as if every record closes: 499 records and their closes beside the read). A bulk
    load costs the fewer of that and :func:`bulk_requests`. Dataverse meters requests per 5-minute window."""
    if not count:
        return WriteCost(0, 0)
    closable = obj in CLOSABLE
    per_batch = (BATCH_MAX_PARTS - 1) // 2 if closable else caps.write_batch_max
    batches = math.ceil(count / per_batch)
    if allow_bulk and caps.uses_bulk(obj, count):
        batches = min(batches, bulk_requests(count, count if closable else 0))
    return WriteCost(batches, batches)


class DynamicsDestination:
    """One Dataverse environment. Credentials never appear in repr, logs or errors."""

    name = "dynamics"
    label = "Dynamics 365"
    capabilities = CAPABILITIES
    system_fields: tuple[str, ...] = ("modifiedon", "modifiedby", "versionnumber")
    delete_note = ("Deleted records are removed from Dataverse (hard delete; recoverable only where the "
                   "environment's recycle bin is turned on).")

    def __init__(self, url: str, tenant_id: str, client_id: str, client_secret: str, *, ca_pem: str | None = None,
                 timeout_s: float = 120.0, token_url: str | None = None, version: str = API_VERSION,
                 bulk_upsert: bool = True) -> None:
        self.url = url.rstrip("/")
        # Without the bulk messages (an environment that must not run them) every write is a $batch PATCH.
        self.capabilities = CAPABILITIES if bulk_upsert else replace(CAPABILITIES, bulk_threshold=None)
        self.instance_url = self.url
        self.service_root = f"{self.url}/api/data/{version}/"
        self._token_url = token_url or f"{self.url}/{tenant_id}/oauth2/v2.0/token"
        self._client_id = client_id
        self._client_secret = client_secret
        self._token: str | None = None
        self._token_expires = 0.0
        self.calls = 0
        self._lock = threading.Lock()
        self.burst_remaining: int | None = None
        self.time_remaining_ms: int | None = None
        self.http = httpx.Client(verify=ssl_context(ca_pem), trust_env=False, timeout=timeout_s,
                                 event_hooks={"response": [self._on_response]})
        self._tables: dict[str, _Table] = {}
        self._sets: dict[str, tuple[str, str]] = {}  # logical -> (entity set, primary id)
        self.created_options: dict[tuple[str, str], dict[str, str]] = {}
        who = self._get("WhoAmI", "WhoAmI")
        self.integration_user_id = str(who["UserId"])
        self.organization_id = str(who.get("OrganizationId", ""))

    def __repr__(self) -> str:
        return f"DynamicsDestination({self.url})"

    def close(self) -> None:
        self.http.close()

    @property
    def scope(self) -> str:
        """Crosswalk scope prefix: the environment's URL, so two environments never share ids."""
        return self.instance_url

    # --- transport -----------------------------------------------------------------------------------
    def _on_response(self, resp: httpx.Response) -> None:
        with self._lock:
            self.calls += 1
        burst = resp.headers.get("x-ms-ratelimit-burst-remaining-xrm-requests")
        left = resp.headers.get("x-ms-ratelimit-time-remaining-xrm-requests")
        if burst is not None and burst.strip().lstrip("-").isdigit():
            self.burst_remaining = int(burst)
        remaining = _float(left)
        if remaining is not None:
            self.time_remaining_ms = int(remaining)

    def _bearer(self, refresh: bool = False) -> str:
        if self._token is None or refresh or time.monotonic() > self._token_expires - 60:
            self._token, self._token_expires = self._fetch_token()
        return self._token

    def _fetch_token(self) -> tuple[str, float]:
        def attempt() -> tuple[str, float]:
            try:
                resp = self.http.post(self._token_url, data={
                    "grant_type": "client_credentials", "client_id": self._client_id,
                    "client_secret": self._client_secret, "scope": f"{self.url}/.default"})
            except httpx.TransportError as exc:
                raise transport_error("Dataverse", "token endpoint", exc) from exc
            if resp.status_code != 200:
                raise error_for_status("Dataverse", "client credentials", resp.status_code, code=_oauth_error(resp),
                                       retry_after_s=_retry_after(resp), refused=AuthenticationError)
            body = resp.json()
            return str(body["access_token"]), time.monotonic() + float(body.get("expires_in", 3599))

        return retry.call(attempt)

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._bearer()}", "Accept": "application/json", "OData-MaxVersion": "4.0",
                "OData-Version": "4.0", **(extra or {})}

    def _request(self, method: str, url: str, what: str, *, ok: Callable[[int], bool] = lambda s: s < 300,
                 **kwargs: Any) -> httpx.Response:
        """One request under the retry policy; a refusal becomes the error the one status table
        (``shared.errors.STATUS_ERRORS``) names: 429 waits Retry-After, 5xx and timeouts back off,
        401/403 are authentication, any other refusal a :class:`ContractError` naming the call.
        A 401 refreshes the token once first."""
        full = url if url.startswith("https://") or url.startswith("http://") else self.service_root + url
        extra = kwargs.pop("headers", None)

        def attempt() -> httpx.Response:
            try:
                resp = self.http.request(method, full, headers=self._headers(extra), **kwargs)
                if resp.status_code == 401:
                    self._bearer(refresh=True)
                    resp = self.http.request(method, full, headers=self._headers(extra), **kwargs)
            except httpx.TransportError as exc:
                raise transport_error("Dataverse", what, exc) from exc
            if ok(resp.status_code):
                return resp
            code, message = _error_of(resp)
            raise error_for_status("Dataverse", what, resp.status_code, code=code, message=message,
                                   retry_after_s=_retry_after(resp))

        return retry.call(attempt)

    def _get(self, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
        body = self._request("GET", url, what, **kwargs).json()
        if not isinstance(body, dict):
            raise ContractError(f"Dataverse {what}: the answer is not a JSON object")
        return body

    def _get_all(self, url: str, what: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Every page of a collection read (``@odata.nextLink``)."""
        return list(self._iter_all(url, what, params))

    def _iter_all(self, url: str, what: str, params: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """The rows of a collection read, a page at a time: ``@odata.nextLink`` is followed when a page is consumed."""
        headers = {"Prefer": f"odata.maxpagesize={self.capabilities.read_page},{ANNOTATIONS}"}
        page = self._get(url, what, params=params, headers=headers)
        while True:
            yield from page.get("value") or []
            link = page.get("@odata.nextLink")
            if not link:
                return
            page = self._get(str(link), what, headers=headers)

    # --- $batch ----------------------------------------------------------------------------------------
    def _batch(self, parts: list[_Part], what: str) -> list[_Reply]:
        """Run ``parts`` in ``$batch`` requests of ≤ 1,000, continuing on error; one reply per part.

        Parts answered 429/5xx (POSTs aside: a create may have happened) are resent through the
        one policy (``retry.resend``: bounded, honouring the longest Retry-After); their final
        answer is what is returned. Nothing here is atomic: each part stands alone.
        """
        replies: list[_Reply | None] = [None] * len(parts)

        def send(pending: Sequence[int]) -> tuple[list[int], float | None]:
            retry_after: float | None = None
            again: list[int] = []
            for group in chunks(list(pending), BATCH_MAX_PARTS):
                answered = self._send_batch([parts[i] for i in group], what)
                for i, reply in zip(group, answered, strict=True):
                    replies[i] = reply
                    if reply.status in RETRY_PART_STATUSES and parts[i].method != "POST":
                        again.append(i)
                        after = _float(reply.headers.get("retry-after"))
                        if after is not None:
                            retry_after = max(retry_after or 0.0, after)
            return again, retry_after

        retry.resend(range(len(parts)), send, PART_ATTEMPTS)
        return [r for r in replies if r is not None]

    def _send_batch(self, parts: list[_Part], what: str) -> list[_Reply]:
        boundary = f"batch_{uuid.uuid4()}"
        lines: list[str] = []
        for part in parts:
            lines += [f"--{boundary}", "Content-Type: application/http", "Content-Transfer-Encoding: binary", ""]
            lines.append(f"{part.method} {self.service_root}{part.url} HTTP/1.1")
            headers = {"Accept": "application/json", **part.headers}
            if part.body is not None:
                headers["Content-Type"] = "application/json; type=entry"
            lines += [f"{k}: {v}" for k, v in headers.items()]
            lines.append("")
            lines.append(json.dumps(part.body, default=str) if part.body is not None else "")
        lines.append(f"--{boundary}--")
        body = "\r\n".join(lines) + "\r\n"
        resp = self._request("POST", "$batch", f"$batch {what}", content=body.encode(), headers={
            "Content-Type": f'multipart/mixed; boundary="{boundary}"',
            "Prefer": f"odata.continue-on-error,{ANNOTATIONS}"})
        replies = _parse_batch_response(resp)
        if len(replies) != len(parts):
            raise ContractError(f"Dataverse $batch {what}: {len(replies)} answers for {len(parts)} requests")
        return replies

    # --- metadata -------------------------------------------------------------------------------------
    def _entity_sets(self, refresh: bool = False) -> dict[str, tuple[str, str]]:
        if refresh or not self._sets:
            rows = self._get_all("EntityDefinitions", "entity sets",
                                 {"$select": "LogicalName,EntitySetName,PrimaryIdAttribute"})
            self._sets = {str(r["LogicalName"]): (str(r["EntitySetName"]), str(r["PrimaryIdAttribute"]))
                          for r in rows}
        return self._sets

    def entity_set(self, logical: str) -> str:
        sets = self._entity_sets()
        if logical not in sets:
            sets = self._entity_sets(refresh=True)
        if logical not in sets:
            raise ContractError(f"Dataverse has no table {logical!r}")
        return sets[logical][0]

    def _table(self, logical: str, refresh: bool = False) -> _Table:
        table = None if refresh else self._tables.get(logical)
        if table is None:
            table = self._read_table(logical)
            if table is None:
                raise ContractError(f"Dataverse has no table {logical!r}")
            self._tables[logical] = table
        return table

    def _table_for(self, logical: str, names: Iterable[str]) -> _Table:
        """The table, described again when ``names`` holds a column or navigation property the cached
        definition lacks: another process (PrepareDestination in another container) may have added it —
        a new custom lookup, or a custom table that became a ``regardingobjectid``/``objectid`` target."""
        table = self._table(logical)
        known = table.columns.keys() | table.navs.keys() | {ID}
        if any(n not in known for n in names):
            table = self._table(logical, refresh=True)
        return table

    def _read_table(self, logical: str) -> _Table | None:
        """The table's definition in one ``$batch``: entity, attributes, keys, relationships, option sets."""
        base = f"EntityDefinitions(LogicalName={_url_literal(logical)})"
        casts = {"Picklist": "PicklistAttributeMetadata", "State": "StateAttributeMetadata",
                 "Status": "StatusAttributeMetadata", "Boolean": "BooleanAttributeMetadata"}
        parts = [
            _Part("GET", f"{base}?$select=LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,"
                         "DisplayName,IsCustomEntity&$expand=Attributes,Keys"),
            _Part("GET", f"{base}/ManyToOneRelationships?$select=ReferencingAttribute,ReferencedEntity,"
                         "ReferencingEntityNavigationPropertyName"),
            *(_Part("GET", f"{base}/Attributes/Microsoft.Dynamics.CRM.{cast}?$select=LogicalName"
                           "&$expand=OptionSet") for cast in casts.values()),
        ]
        entity, relationships, *option_sets = self._batch(parts, f"describe {logical}")
        if entity.status == GONE_STATUS:
            return None
        if not entity.ok:
            code, message = entity.error()
            raise ContractError(f"Dataverse describe {logical}: {code} {message[:300]}")
        body = entity.body
        columns: dict[str, _Column] = {}
        for a in body.get("Attributes") or []:
            if a.get("AttributeOf") or a.get("AttributeType") in ("Virtual", "ManagedProperty", "CalendarRules"):
                continue  # name/yomi companions and virtual columns cannot be written
            columns[str(a["LogicalName"])] = _Column(
                logical=str(a["LogicalName"]), type=str(a.get("AttributeType") or ""),
                label=_label_text(a.get("DisplayName")),
                required=str((a.get("RequiredLevel") or {}).get("Value") or "None"),
                create=bool(a.get("IsValidForCreate", True)), update=bool(a.get("IsValidForUpdate", True)),
                max_length=int(a.get("MaxLength") or 0), fmt=_format_of(a),
                targets=[str(t) for t in a.get("Targets") or []], custom=bool(a.get("IsCustomAttribute")))
        for reply in option_sets:
            if not reply.ok:
                continue  # a table without columns of that type, or a stand-in without the cast
            for a in reply.body.get("value") or []:
                col = columns.get(str(a.get("LogicalName")))
                option_set = a.get("OptionSet") or {}
                if col is None:
                    continue
                options = list(option_set.get("Options") or [])
                for key in ("FalseOption", "TrueOption"):
                    if option_set.get(key):
                        options.append(option_set[key])
                for o in options:
                    if o.get("Value") is None:
                        continue
                    col.options[int(o["Value"])] = _label_text(o.get("Label"))
                    if o.get("DefaultStatus") is not None:
                        col.default_status[int(o["Value"])] = int(o["DefaultStatus"])
        navs = self._navigation(logical, columns, relationships)
        keys = {str(k.get("LogicalName") or k.get("SchemaName", "")).lower(): [str(x) for x in k.get("KeyAttributes")
                                                                                 or []]
                for k in body.get("Keys") or []}
        table = _Table(logical=logical, entity_set=str(body.get("EntitySetName") or ""),
                       primary_id=str(body.get("PrimaryIdAttribute") or f"{logical}id"),
                       label=_label_text(body.get("DisplayName")) or logical, custom=bool(body.get("IsCustomEntity")),
                       columns=columns, navs=navs, keys=keys)
        self._sets[logical] = (table.entity_set, table.primary_id)
        return table

    @staticmethod
    def _navigation(logical: str, columns: dict[str, _Column], relationships: _Reply) -> dict[str, tuple[str, str]]:
        """Navigation property -> (lookup column, target): from ManyToOneRelationships, else by Dataverse's rule."""
        navs: dict[str, tuple[str, str]] = {}
        if relationships.ok:
            for r in relationships.body.get("value") or []:
                nav, column = r.get("ReferencingEntityNavigationPropertyName"), r.get("ReferencingAttribute")
                if nav and column in columns and columns[column].type in LOOKUP_TYPES:
                    navs[str(nav)] = (str(column), str(r.get("ReferencedEntity")))
        if navs:
            return navs
        for col in columns.values():
            if col.type not in LOOKUP_TYPES or not (col.create or col.update):
                continue
            if col.logical == "regardingobjectid":
                navs.update({f"regardingobjectid_{t}_{logical}": (col.logical, t) for t in col.targets})
            elif col.type == "Owner":
                navs[col.logical] = (col.logical, "systemuser")  # bound per value: systemusers or teams
            elif col.type == "Customer" or col.logical == "objectid" or len(col.targets) > 1:
                # customer lookups and plain multi-table lookups (customeraddress.parentid,
                # queueitem.workerid) have one navigation property per target: <column>_<table>
                navs.update({f"{col.logical}_{t}": (col.logical, t) for t in col.targets})
            elif col.targets:
                navs[col.logical] = (col.logical, col.targets[0])
        return navs

    def describe(self, obj: str) -> DestObject | None:
        """Columns by logical name; lookups by navigation property (``type="reference"``); None when absent."""
        table = self._read_table(obj)
        if table is None:
            return None
        self._tables[obj] = table
        fields: dict[str, DestField] = {}
        lookups = {c for c, _ in table.navs.values()}
        for col in table.columns.values():
            if col.type in LOOKUP_TYPES or col.logical in lookups:
                continue
            ftype = FIELD_TYPES.get(col.type, col.type.lower())
            if col.type == "String" and col.fmt in STRING_FORMATS:
                ftype = STRING_FORMATS[col.fmt]
            if col.type == "DateTime" and col.fmt == "DateOnly":
                ftype = "date"
            picklist = col.type in ("Picklist", "State", "Status")
            fields[col.logical] = DestField(
                name=col.logical, type=ftype, label=col.label, length=col.max_length,
                nillable=col.required != "SystemRequired", createable=col.create, updateable=col.update,
                defaulted_on_create=col.type in DEFAULTED_TYPES or col.logical == "ownerid",
                external_id=table.key_on(col.logical),
                picklist_values=[str(v) for v in col.options] if picklist else [],
                picklist_labels={str(v): t for v, t in col.options.items()} if picklist else {},
                restricted_picklist=picklist)
        per_column: dict[str, int] = {}
        for column, _ in table.navs.values():
            per_column[column] = per_column.get(column, 0) + 1
        for nav, (column, target) in sorted(table.navs.items()):
            col = table.columns[column]
            targets = col.targets if col.type == "Owner" else [target]
            fields[nav] = DestField(
                name=nav, type="reference", label=col.label, createable=col.create, updateable=col.update,
                # a customer/regarding lookup is required as a whole, not through any one of its navigations
                nillable=col.required != "SystemRequired" or per_column[column] > 1,
                defaulted_on_create=col.type == "Owner", reference_to=list(targets))
        return DestObject(name=obj, label=table.label, custom=table.custom, fields=fields)

    def users(self) -> list[DestUser]:
        rows = self._get_all("systemusers", "users",
                             {"$select": "systemuserid,internalemailaddress,isdisabled,fullname"})
        return [DestUser(id=str(r["systemuserid"]), email=str(r.get("internalemailaddress") or "").lower(),
                         active=not r.get("isdisabled"), name=str(r.get("fullname") or "")) for r in rows]

    def audit_fields_settable(self, described: Mapping[str, DestObject]) -> bool:
        """``overriddencreatedon`` is createable when the app user may set it (reference §2.7)."""
        account = described.get("account")
        column = account.fields.get("overriddencreatedon") if account else None
        return bool(column and column.createable)

    # --- schema -----------------------------------------------------------------------------------------
    def _prefix(self, schema_name: str) -> str:
        prefix, sep, rest = schema_name.partition("_")
        if not sep or not rest:
            raise ConfigurationError(f"Dataverse custom name {schema_name!r} lacks a publisher prefix (e.g. flit_)")
        return prefix

    def create_custom_object(self, spec: CustomObjectSpec) -> None:
        """A user-owned table with notes and activities; its primary name column is ``<prefix>_name``."""
        prefix = self._prefix(spec.name)
        body = {
            "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata", "SchemaName": spec.name,
            "DisplayName": _label(spec.label), "DisplayCollectionName": _label(spec.plural_label),
            "Description": _label(f"{spec.label} (created by FlitStack)"), "OwnershipType": "UserOwned",
            "IsActivity": False, "HasActivities": True, "HasNotes": True,
            "Attributes": [{
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", "SchemaName": f"{prefix}_name",
                "AttributeType": "String", "AttributeTypeName": {"Value": "StringType"}, "IsPrimaryName": True,
                "MaxLength": 200, "FormatName": {"Value": "Text"}, "DisplayName": _label("Name"),
                "RequiredLevel": _required("None")}],
        }
        self._request("POST", "EntityDefinitions", f"create table {spec.name}", json=body)
        self._entity_sets(refresh=True)
        self._tables.pop(spec.name.lower(), None)

    def create_custom_field(self, spec: CustomFieldSpec) -> None:
        """Create the column (a Lookup: a one-to-many relationship); with ``external_id`` also its alternate
        key ``<name>_key``, waiting until the key is Active (upserts by a Pending key fail)."""
        self._prefix(spec.name)
        obj = spec.object.lower()
        if spec.type == "Lookup":
            self._create_lookup(spec)
        else:
            self._request("POST", f"EntityDefinitions(LogicalName={_url_literal(obj)})/Attributes",
                          f"create column {obj}.{spec.name}", json=self._attribute(spec))
        if spec.external_id:
            self._create_key(obj, spec.name)
        table = self._table(obj, refresh=True)
        if spec.type == "Picklist":
            col = table.columns.get(spec.name.lower())
            if col is not None:
                self.created_options[(obj, spec.name.lower())] = {str(v): t for v, t in col.options.items()}

    def _attribute(self, spec: CustomFieldSpec) -> dict[str, Any]:
        common = {"SchemaName": spec.name, "DisplayName": _label(spec.label), "RequiredLevel": _required("None"),
                  "Description": _label(f"Sercom {spec.source}" if spec.source else spec.label)}
        kind = spec.type
        if kind in ("Text", "Email", "Phone", "Url"):
            fmt = {"Text": "Text", "Email": "Email", "Phone": "Phone", "Url": "Url"}[kind]
            default = {"Text": 255, "Email": 100, "Phone": 50, "Url": 200}[kind]
            return {"@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", "AttributeType": "String",
                    "AttributeTypeName": {"Value": "StringType"}, "FormatName": {"Value": fmt},
                    "MaxLength": min(spec.length or default, TEXT_LIMIT), **common}
        if kind == "LongTextArea":
            return {"@odata.type": "Microsoft.Dynamics.CRM.MemoAttributeMetadata", "AttributeType": "Memo",
                    "AttributeTypeName": {"Value": "MemoType"}, "Format": "TextArea",
                    "MaxLength": min(spec.length or 2_000, MEMO_LIMIT), **common}
        if kind == "Number":
            scale = spec.scale if spec.scale is not None else 2
            return {"@odata.type": "Microsoft.Dynamics.CRM.DecimalAttributeMetadata", "AttributeType": "Decimal",
                    "AttributeTypeName": {"Value": "DecimalType"}, "Precision": max(0, min(scale, 10)),
                    "MinValue": -100_000_000_000, "MaxValue": 100_000_000_000, **common}
        if kind == "Currency":
            scale = spec.scale if spec.scale is not None else 2
            return {"@odata.type": "Microsoft.Dynamics.CRM.MoneyAttributeMetadata", "AttributeType": "Money",
                    "AttributeTypeName": {"Value": "MoneyType"}, "Precision": max(0, min(scale, 4)),
                    "PrecisionSource": 0, "MinValue": -922_337_203_685_477, "MaxValue": 922_337_203_685_477,
                    **common}
        if kind in ("Date", "DateTime"):
            only = kind == "Date"
            return {"@odata.type": "Microsoft.Dynamics.CRM.DateTimeAttributeMetadata", "AttributeType": "DateTime",
                    "AttributeTypeName": {"Value": "DateTimeType"}, "Format": "DateOnly" if only else "DateAndTime",
                    "DateTimeBehavior": {"Value": "DateOnly" if only else "UserLocal"}, **common}
        if kind == "Checkbox":
            return {"@odata.type": "Microsoft.Dynamics.CRM.BooleanAttributeMetadata", "AttributeType": "Boolean",
                    "AttributeTypeName": {"Value": "BooleanType"}, "DefaultValue": False, "OptionSet": {
                        "@odata.type": "Microsoft.Dynamics.CRM.BooleanOptionSetMetadata", "OptionSetType": "Boolean",
                        "TrueOption": {"Value": 1, "Label": _label("Yes")},
                        "FalseOption": {"Value": 0, "Label": _label("No")}}, **common}
        if kind == "Picklist":
            # Options carry the values the spec fixed (CustomFieldSpec.option_values: the mapping emits
            # them); labels without one are left to the environment (the publisher's option-value
            # prefix: 100,000,000+). Describe reads them back, value -> label.
            return {"@odata.type": "Microsoft.Dynamics.CRM.PicklistAttributeMetadata", "AttributeType": "Picklist",
                    "AttributeTypeName": {"Value": "PicklistType"}, "OptionSet": {
                        "@odata.type": "Microsoft.Dynamics.CRM.OptionSetMetadata", "IsGlobal": False,
                        "OptionSetType": "Picklist",
                        "Options": [self._option(spec, v) for v in spec.picklist_values]}, **common}
        raise ConfigurationError(f"custom field {spec.object}.{spec.name}: type {kind!r} has no Dataverse mapping")

    @staticmethod
    def _option(spec: CustomFieldSpec, label: str) -> dict[str, Any]:
        option: dict[str, Any] = {"Label": _label(label)}
        if label in spec.option_values:
            option["Value"] = spec.option_values[label]
        return option

    def _create_lookup(self, spec: CustomFieldSpec) -> None:
        if not spec.reference_to:
            raise ConfigurationError(f"custom lookup {spec.object}.{spec.name} names no target (reference_to)")
        target, obj = spec.reference_to.lower(), spec.object.lower()
        prefix = self._prefix(spec.name)
        body = {
            "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
            "SchemaName": f"{prefix}_{target}_{obj}_{spec.name.removeprefix(prefix + '_')}"[:100],
            "ReferencedEntity": target, "ReferencingEntity": obj,
            "CascadeConfiguration": {"Assign": "NoCascade", "Delete": "RemoveLink", "Merge": "NoCascade",
                                     "Reparent": "NoCascade", "Share": "NoCascade", "Unshare": "NoCascade"},
            "Lookup": {"@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata", "AttributeType": "Lookup",
                       "AttributeTypeName": {"Value": "LookupType"}, "SchemaName": spec.name,
                       "DisplayName": _label(spec.label), "RequiredLevel": _required("None")},
        }
        self._request("POST", "RelationshipDefinitions", f"create lookup {obj}.{spec.name}", json=body)

    def _create_key(self, obj: str, column: str) -> None:
        name = f"{column.lower()}_key"
        table = self._table(obj, refresh=True)
        if not table.key_on(column.lower()):
            self._request("POST", f"EntityDefinitions(LogicalName={_url_literal(obj)})/Keys", f"create key {name}",
                          json={"SchemaName": name, "DisplayName": _label(f"{column} key"),
                                "KeyAttributes": [column.lower()]})
        url = (f"EntityDefinitions(LogicalName={_url_literal(obj)})/Keys"
               "?$select=LogicalName,KeyAttributes,EntityKeyIndexStatus")

        def status() -> str:
            for k in self._get(url, f"key status {name}").get("value") or []:
                if [str(a).lower() for a in k.get("KeyAttributes") or []] == [column.lower()]:
                    return str(k.get("EntityKeyIndexStatus") or "Active")
            return "Missing"

        poller = Retrying(retry=retry_if_result(lambda s: s in ("Pending", "InProgress")), wait=wait_fixed(1.0),
                          stop=stop_after_delay(KEY_ACTIVATION_TIMEOUT_S), retry_error_callback=lambda st: "Pending")
        state = poller(status)
        if state != "Active":
            raise ContractError(f"Dataverse alternate key {obj}.{name} is {state}, not Active")

    # --- value translation ---------------------------------------------------------------------------
    def _bind(self, table: _Table, nav: str, value: Any) -> str | None:
        if value in (None, ""):
            return None
        column, target = table.navs[nav]
        col = table.columns[column]
        if col.type == "Owner":
            # Owners are users or teams, never the abstract "owner" table ManyToOneRelationships names:
            # "team:<guid>" assigns to a team, any other value is a systemuser.
            target = "systemuser"
            if isinstance(value, str) and ":" in value:
                target, value = value.split(":", 1)
        return f"/{self.entity_set(target)}({value})"

    def _coerce(self, col: _Column, value: Any) -> Any:
        """Write values as Dataverse wants them: choices as integers (a label is translated), numbers as
        numbers, dates as dates. A value that does not fit is sent as is: the platform refuses that record."""
        if value is None or value == "":
            return None
        if col.type in INT_TYPES:
            if isinstance(value, bool):
                return value
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            text = str(value).strip()
            if text.lstrip("-").isdigit():
                return int(text)
            by_label = {t.lower(): v for v, t in col.options.items()}
            return by_label.get(text.lower(), value)
        if col.type in FLOAT_TYPES:
            try:
                return float(value)
            except (TypeError, ValueError):
                return value
        if col.type == "Boolean":
            if isinstance(value, str):
                return value.strip().lower() in ("true", "1", "yes")
            return bool(value)
        if col.type == "DateTime" and col.fmt == "DateOnly":
            return str(value)[:10]
        return value

    def _payload(self, table: _Table, record: Mapping[str, Any], *, create: bool, drop: frozenset[str] = frozenset()
                 ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        cleared: dict[str, str] = {}  # lookup column -> a navigation property asked to clear it
        bound_columns: set[str] = set()
        for name, value in record.items():
            if name == ID or name in drop:
                continue
            if name in table.navs:
                bound = self._bind(table, name, value)
                if bound is not None:
                    body[f"{name}@odata.bind"] = bound
                    bound_columns.add(table.navs[name][0])
                elif not create:
                    cleared.setdefault(table.navs[name][0], name)
                continue
            col = table.columns.get(name)
            sent = table.encode(name, value) if isinstance(value, str) else value
            body[name] = self._coerce(col, sent) if col is not None else sent
        # A customer/regarding/object lookup is one column behind several navigation properties
        # (regardingobjectid_account_task, regardingobjectid_incident_task...): an empty one clears
        # the column only when no other navigation of the same record sets it.
        for column, name in cleared.items():
            if column not in bound_columns:
                body[f"{name}@odata.bind"] = None
        return body

    def _row(self, table: _Table, raw: Mapping[str, Any], fields: list[str]) -> dict[str, Any]:
        """A read row in the engine's names: ``Id``, columns, and lookups by navigation property."""
        row: dict[str, Any] = {}
        for name in fields:
            if name == ID:
                row[ID] = raw.get(table.primary_id)
            elif name in table.navs:
                column, target = table.navs[name]
                value = raw.get(f"_{column}_value")
                kind = raw.get(f"_{column}_value@Microsoft.Dynamics.CRM.lookuplogicalname")
                several = sum(1 for c, _ in table.navs.values() if c == column) > 1
                row[name] = value if value is None or not several or kind in (None, target) else None
            elif name == OVERRIDDEN_CREATED_ON:
                row[name] = _original_created(raw.get(name), raw.get("createdon"))
            else:
                row[name] = table.decode(name, raw.get(name))
        return row

    def _select(self, table: _Table, fields: list[str]) -> str:
        names = [table.primary_id]
        for f in fields:
            if f == ID:
                continue
            if f in table.navs:
                names.append(f"_{table.navs[f][0]}_value")
            elif f in table.columns:
                names.append(table.columns[f].value_name)
                if f == OVERRIDDEN_CREATED_ON and "createdon" in table.columns:
                    names.append("createdon")
            else:
                names.append(f)
        return ",".join(dict.fromkeys(names))

    # --- writes ------------------------------------------------------------------------------------------
    def _key_url(self, table: _Table, key_field: str, key: str) -> str:
        return f"{table.entity_set}({key_field}={_url_literal(table.encode(key_field, key))})"

    def _existing_part(self, table: _Table, key_field: str, keys: list[str]) -> _Part:
        select = [table.primary_id, key_field] + (list(STATE_FIELDS) if table.logical in CLOSABLE else [])
        coded = [table.encode(key_field, k) for k in keys]
        query = f"$select={','.join(select)}&$filter={quote(_in_filter(key_field, coded), safe=_SAFE)}"
        return _Part("GET", f"{table.entity_set}?{query}")

    def upsert(self, obj: str, ext_field: str, records: Sequence[dict[str, Any]], *, allow_bulk: bool
               ) -> list[WriteResult]:
        """Upsert by the alternate key on ``ext_field``: through ``UpsertMultiple`` when ``allow_bulk`` and it
        costs no more requests (:meth:`_bulk_pays`), else through ``$batch`` PATCHes."""
        records = list(records)  # parsed once here (a load's lines are parsed as they are read)
        if not records:
            return []
        table = self._table_for(obj, {k for r in records for k in r})
        if allow_bulk and self._bulk_pays(table, records):
            return self._upsert_multiple(table, ext_field, records)
        return self._upsert_batch(table, ext_field, records)

    def _bulk_requests(self, obj: str, count: int, closes: int) -> int:
        return bulk_requests(count, closes)

    def _bulk_pays(self, table: _Table, records: list[dict[str, Any]]) -> bool:
        """Whether ``UpsertMultiple`` writes these records in no more requests than the ``$batch`` PATCHes.

        The table and the load's size must qualify (``Capabilities.uses_bulk``). On a tie (tables without
        close actions: 1,000 vs 999 records a request) the bulk message wins: three operations instead of a
        thousand spend far less of the execution-time limit (reference §2.2).
        """
        if not self.capabilities.uses_bulk(table.logical, len(records)):
            return False
        closes = sum(1 for r in records if self._target_state(table, r)) if table.logical in CLOSABLE else 0
        batches = sum(1 for _ in self._upsert_chunks(table, records))
        return self._bulk_requests(table.logical, len(records), closes) <= batches

    def _target(self, table: _Table, ext_field: str, w: _Write) -> dict[str, Any]:
        """One ``UpsertMultiple`` target: typed, addressed by a relative ``@odata.id`` on the alternate key,
        the key column left out of the body (Dataverse refuses it there on the create path), state columns
        left to the close actions like a PATCH does."""
        drop = frozenset(STATE_FIELDS) if table.logical in CLOSABLE and self._target_state(table, w.record) \
            else frozenset()
        body = self._payload(table, w.record, create=True, drop=drop | {ext_field})
        ref = f"{table.entity_set}({ext_field}={odata_string(table.encode(ext_field, w.key))})"
        return {"@odata.type": f"Microsoft.Dynamics.CRM.{table.logical}", "@odata.id": ref, **body}

    def _upsert_multiple(self, table: _Table, ext_field: str, records: list[dict[str, Any]]) -> list[WriteResult]:
        """``UpsertMultiple`` per 1,000 records, each in one ``$batch`` between two reads of the keys.

        The read before says which records existed (``created``), the read after gives the ids of those
        the action created (it answers 204 with no body). A failed action wrote nothing (all or nothing on
        standard tables): that chunk goes through :meth:`_upsert_batch`, one result per row. Records that
        must end closed are closed afterwards by :meth:`_settle`, like any record written open.
        """
        fallback: list[WriteResult] = []
        written: list[_Write] = []
        action = f"{table.entity_set}/Microsoft.Dynamics.CRM.UpsertMultiple"
        for chunk in chunks(records, BULK_TARGETS):
            writes = [_Write(str(r[ext_field]), r) for r in chunk]
            read = self._existing_part(table, ext_field, [w.key for w in writes])
            before, done, after = self._send_batch(
                [read, _Part("POST", action, {"Targets": [self._target(table, ext_field, w) for w in writes]}), read],
                f"upsert {table.logical} (UpsertMultiple)")
            if not done.ok:
                # the code only: Dataverse's message may quote the record's values
                logger.info("UpsertMultiple refused, chunk re-sent as $batch PATCHes", extra={
                    "table": table.logical, "records": len(chunk), "code": done.error()[0]})
                fallback += self._upsert_batch(table, ext_field, chunk)
                continue
            for reply in (before, after):
                if not reply.ok:
                    code, message = reply.error()
                    raise ContractError(f"Dataverse upsert {table.logical}: reading the keys failed: {code} {message}")
            existed = self._rows_by_key(table, ext_field, before)
            now = self._rows_by_key(table, ext_field, after)
            for w in writes:
                row = existed.get(w.key.lower())
                if row is not None:
                    w.existing_id = str(row[table.primary_id])
                    w.existing_state = _int(row.get("statecode"))
                    w.existing_status = _int(row.get("statuscode"))
                found = now.get(w.key.lower())
                w.result = (WriteResult(w.key, str(found[table.primary_id]), row is None) if found is not None else
                            WriteResult(w.key, w.existing_id, False, "NO_ID",
                                        "UpsertMultiple succeeded but the record is not found by its key"))
            written += writes
        if table.logical in CLOSABLE and written:
            self._settle(table, written, lambda w: self._key_url(table, ext_field, w.key))
        return [w.result for w in written if w.result is not None] + fallback

    @staticmethod
    def _rows_by_key(table: _Table, ext_field: str, reply: _Reply) -> dict[str, dict[str, Any]]:
        return {str(table.decode(ext_field, row.get(ext_field)) or "").lower(): row
                for row in reply.body.get("value") or []}

    def _upsert_batch(self, table: _Table, ext_field: str, records: list[dict[str, Any]]) -> list[WriteResult]:
        """Upsert through ``$batch``: one per chunk (a read + the PATCHes), each row its own result.

        On tables closed through actions the chunk's close actions ride in the same ``$batch``, right
        after the PATCHes and bound by the same alternate key, so a chunk is sized to hold the read,
        its PATCHes and its closes (≤ 1,000 parts).
        """
        obj = table.logical
        closable = obj in CLOSABLE
        out: list[WriteResult] = []
        for chunk in self._upsert_chunks(table, records):
            writes = [_Write(str(r[ext_field]), r) for r in chunk]
            parts = [self._existing_part(table, ext_field, [w.key for w in writes])]
            for w in writes:
                drop = frozenset(STATE_FIELDS) if closable and self._target_state(table, w.record) else frozenset()
                parts.append(_Part("PATCH", self._key_url(table, ext_field, w.key),
                                   self._payload(table, w.record, create=True, drop=drop)))
            closing: list[tuple[_Write, int]] = []
            for w in writes:
                target = self._target_state(table, w.record) if closable else None
                if target:
                    ref = f"{ext_field}={odata_string(table.encode(ext_field, w.key))}"
                    parts.append(self._close_part(table, ref, target, _int(w.record.get("statuscode")), w.record))
                    closing.append((w, len(parts) - 1))
            answered = self._batch(parts, f"upsert {obj}")
            head, replies = answered[0], answered[1 : 1 + len(writes)]
            if not head.ok:
                code, message = head.error()
                raise ContractError(f"Dataverse upsert {obj}: reading the existing keys failed: {code} {message}")
            existing = self._rows_by_key(table, ext_field, head)
            for w, reply in zip(writes, replies, strict=True):
                row = existing.get(w.key.lower())
                if row is not None:
                    w.existing_id = str(row[table.primary_id])
                    w.existing_state = _int(row.get("statecode"))
                    w.existing_status = _int(row.get("statuscode"))
                w.result = self._result(w.key, reply, created=row is None, known_id=w.existing_id)
            if closable:
                self._closed_inline(table, ext_field, [(w, answered[i]) for w, i in closing])
                self._settle(table, writes, lambda w: self._key_url(table, ext_field, w.key))
            out += [w.result for w in writes if w.result is not None]
        return out

    def _upsert_chunks(self, table: _Table, records: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """Chunks of ≤ 999 records whose read + PATCHes + close actions fit one ``$batch``."""
        if table.logical not in CLOSABLE:
            yield from chunks(records, self.capabilities.write_batch_max)
            return
        chunk: list[dict[str, Any]] = []
        size = 1  # the leading read
        for r in records:
            cost = 2 if self._target_state(table, r) else 1
            if chunk and (size + cost > BATCH_MAX_PARTS or len(chunk) >= self.capabilities.write_batch_max):
                yield chunk
                chunk, size = [], 1
            chunk.append(r)
            size += cost
        if chunk:
            yield chunk

    def _closed_inline(self, table: _Table, ext_field: str, closing: list[tuple[_Write, _Reply]]) -> None:
        """Take in the close actions sent with the PATCHes (before :meth:`_settle` does the rest).

        A close that worked leaves the record in its state (``_settle`` has nothing more to do),
        unless its PATCH did not end written — refused, or resent after a 429/5xx once the close had
        run: such records are reopened to the state they had and written again here, then closed by
        ``_settle`` like any open record (the first close activity stays in their history). A close
        refused because the record was already closed created nothing; that record, and any record
        whose close failed for a reason a retry may fix (not found yet, 429/5xx), is left to
        ``_settle`` as if no close had been sent. Other refusals of a record written open are final.
        """
        redo: list[_Write] = []
        for w, reply in closing:
            assert w.result is not None
            if reply.ok:
                if not w.result.ok:
                    redo.append(w)
                    continue
                w.settled = True
                if not (w.result.id or w.existing_id):
                    w.result = WriteResult(w.key, None, w.result.created, "NO_ID",
                                           "written, but Dataverse returned no id to close it with")
                continue
            if (w.result.ok and w.existing_state in (None, 0) and reply.status != GONE_STATUS
                    and reply.status not in RETRY_PART_STATUSES):
                code, message = reply.error()
                w.result = WriteResult(w.key, w.result.id or w.existing_id, w.result.created, code,
                                       f"written but not left in its state: {message}")
                w.settled = True
        if not redo:
            return
        parts: list[_Part] = []
        for w in redo:
            ref = self._key_url(table, ext_field, w.key)
            reopen = self._reopen(table)
            if w.existing_status is not None:  # back to the open status it had
                reopen["statuscode"] = w.existing_status
            parts += [_Part("PATCH", ref, reopen, {"If-Match": "*"}),
                      _Part("PATCH", ref, self._payload(table, w.record, create=False, drop=frozenset(STATE_FIELDS)),
                            {"If-Match": "*"})]
        replies = self._batch(parts, f"reopen {table.logical}")
        for n, w in enumerate(redo):
            assert w.result is not None
            reopened, written = replies[2 * n], replies[2 * n + 1]
            w.existing_state = 0 if reopened.ok else self._target_state(table, w.record)
            w.result = self._result(w.key, written, created=w.existing_id is None,
                                    known_id=w.result.id or w.existing_id)

    def _result(self, key: str, reply: _Reply, *, created: bool, known_id: str | None = None) -> WriteResult:
        if reply.ok:
            return WriteResult(key, _entity_id(reply.headers) or known_id, created)
        code, message = reply.error()
        return WriteResult(key, known_id, False, code, message)

    @staticmethod
    def _target_state(table: _Table, record: Mapping[str, Any]) -> int | None:
        """The state a record asks for that only a close action reaches (None: a PATCH can set it)."""
        state = _int(record.get("statecode"))
        return state if state is not None and (table.logical, state) in CLOSE_ONLY else None

    def _settle(self, table: _Table, writes: list[_Write], ref_of: Callable[[_Write], str]) -> None:
        """Close what must be closed; reopen, write and re-close closed records that must change.

        In one more ``$batch``, only when there is something to do. Records already in their
        closed state are not closed again. A record written but left in the wrong state is
        reported failed *with* its id and created flag, so the load still audits (and rollback
        deletes) what was created.
        """
        writes = [w for w in writes if not w.settled]
        refused = [w for w in writes if w.result is not None and not w.result.ok
                   and w.existing_state not in (None, 0) and (w.result.id or w.existing_id)]
        for w in self._unchanged(table, refused):
            # Already closed with exactly these values (a rerun, a restore of what is there): reopening
            # and closing again would only add one more resolution/close activity.
            w.result = WriteResult(w.key, w.result.id if w.result and w.result.id else w.existing_id, False)
        parts: list[_Part] = []
        plan: list[tuple[_Write, list[int], bool]] = []
        for w in writes:
            assert w.result is not None
            target = self._target_state(table, w.record)
            indexes: list[int] = []
            reopened = False
            if not w.result.ok:
                if w.existing_state in (None, 0):
                    continue  # refused for another reason: the result stands
                # Refused on a closed (read-only) record: reopen it, write, close again if asked.
                drop = frozenset(STATE_FIELDS) if target else frozenset()
                parts += [_Part("PATCH", ref_of(w), self._reopen(table), {"If-Match": "*"}),
                          _Part("PATCH", ref_of(w), self._payload(table, w.record, create=False, drop=drop),
                                {"If-Match": "*"})]
                indexes += [len(parts) - 2, len(parts) - 1]
                reopened = True
            current = 0 if reopened else w.existing_state
            if target and current != target:
                record_id = w.result.id or w.existing_id
                if record_id is None:
                    w.result = WriteResult(w.key, None, w.result.created, "NO_ID",
                                           "written, but Dataverse returned no id to close it with")
                    continue
                parts.append(self._close_part(table, record_id, target, _int(w.record.get("statuscode")), w.record))
                indexes.append(len(parts) - 1)
            if indexes:
                plan.append((w, indexes, reopened))
        if not parts:
            return
        replies = self._batch(parts, f"close {table.logical}")
        for w, indexes, reopened in plan:
            assert w.result is not None
            record_id = w.result.id or w.existing_id
            failed = next((replies[i] for i in indexes if not replies[i].ok), None)
            if failed is None:
                if reopened:
                    w.result = WriteResult(w.key, record_id, False)
                continue
            code, message = failed.error()
            w.result = WriteResult(w.key, record_id, w.result.created and not reopened, code,
                                   f"written but not left in its state: {message}")

    def _unchanged(self, table: _Table, writes: list[_Write]) -> list[_Write]:
        """Those of ``writes`` whose record already holds every value sent (one read, only when asked)."""
        if not writes:
            return []
        ids = [str(w.result.id if w.result and w.result.id else w.existing_id) for w in writes]
        names = sorted({n for w in writes for n in w.record if n != ID})
        rows = {str(r[ID]).lower(): r for r in self.rows_by_id(table.logical, sorted(set(ids)), names)}
        same = []
        for w, rid in zip(writes, ids, strict=True):
            row = rows.get(rid.lower())
            if row is not None and all(n in row and self._same(table, n, v, row[n])
                                       for n, v in w.record.items() if n != ID):
                same.append(w)
        return same

    def _same(self, table: _Table, name: str, sent: Any, held: Any) -> bool:
        """Whether a value the engine would send equals what a read returned (in the engine's names)."""
        if sent in (None, "") or held in (None, ""):
            return sent in (None, "") and held in (None, "")
        if name in table.navs:
            guid = str(sent).split(":", 1)[1] if ":" in str(sent) else str(sent)
            return guid.lower() == str(held).lower()
        col = table.columns.get(name)
        if col is None:
            return False
        if col.type in INT_TYPES or col.type == "Boolean":
            return bool(self._coerce(col, sent) == self._coerce(col, held))
        if col.type in FLOAT_TYPES:
            x, y = _float(str(self._coerce(col, sent))), _float(str(held))
            return x is not None and y is not None and abs(x - y) <= MONEY_TOLERANCE
        if col.type == "DateTime":
            if col.fmt == "DateOnly":
                return str(sent)[:10] == str(held)[:10]
            moment = _moment(sent)
            return moment is not None and moment == _moment(held)
        return str(sent) == str(held)

    def _reopen(self, table: _Table) -> dict[str, Any]:
        state = table.columns.get("statecode")
        status = state.default_status.get(0, 1) if state is not None else 1
        return {"statecode": 0, "statuscode": status}

    def _close_part(self, table: _Table, ref: str, state: int, status: int | None,
                    record: Mapping[str, Any]) -> _Part:
        """``CloseIncident`` / ``WinOpportunity`` / ``LoseOpportunity``; ``ref`` is what goes between the
        parentheses of the bind: the record's id, or its alternate key (``flit_sercomid='work_orders.7'``)."""
        subject = str(record.get("title") or record.get("name") or "Closed")[:200]
        if table.logical == "incident":
            return _Part("POST", "CloseIncident", {
                "IncidentResolution": {"subject": f"Resolved: {subject}"[:200],
                                       "incidentid@odata.bind": f"/incidents({ref})"},
                "Status": status if status is not None else 5})
        won = state == 1
        close: dict[str, Any] = {"subject": f"{'Won' if won else 'Lost'}: {subject}"[:200],
                                 "opportunityid@odata.bind": f"/opportunities({ref})"}
        if won and record.get("actualvalue") is not None:
            close["actualrevenue"] = self._coerce(_Column("actualvalue", "Money"), record.get("actualvalue"))
        if record.get("actualclosedate"):
            close["actualend"] = str(record["actualclosedate"])[:10]
        return _Part("POST", "WinOpportunity" if won else "LoseOpportunity", {
            "OpportunityClose": close, "Status": status if status is not None else (3 if won else 4)})

    def calls_needed(self, obj: str, count: int, allow_bulk: bool) -> int:
        """One ``$batch`` per 999 records; on tables closed through actions, per 999 records and closes
        (counted as if every record closes: 499 records and their closes beside the read). A bulk load
        costs the fewer of that and :meth:`_bulk_requests` (1,000 records a request, plus the closes)."""
        return write_cost(obj, count, allow_bulk, self.capabilities).calls

    def deterministic_id(self, obj: str, key: str) -> str:
        """The primary key an insert-only record gets: the same environment, table and key, the same id."""
        return str(uuid.uuid5(RECORD_NAMESPACE, f"{self.scope}|{obj}|{key}"))

    def insert(self, obj: str, ext_field: str, records: Sequence[dict[str, Any]], *, match_on: list[str] | None = None
               ) -> list[WriteResult]:
        """Insert with a deterministic primary key (uuid5 of environment, table and key), so a retried
        insert cannot duplicate: a record that already has that id counts as written, not created.
        The key column is sent only when the table has it and no ``match_on`` was given."""
        if not records:
            return []
        table = self._table_for(obj, {k for r in records for k in r} - {ext_field})
        send_key = match_on is None and ext_field in table.columns
        out: list[WriteResult] = []
        for chunk in chunks(records, BATCH_MAX_PARTS):
            parts = []
            for r in chunk:
                body = self._payload(table, {k: v for k, v in r.items() if send_key or k != ext_field}, create=True)
                body[table.primary_id] = self.deterministic_id(obj, str(r[ext_field]))
                parts.append(_Part("POST", table.entity_set, body))
            for r, reply in zip(chunk, self._batch(parts, f"insert {obj}"), strict=True):
                key, rid = str(r[ext_field]), self.deterministic_id(obj, str(r[ext_field]))
                if not reply.ok and reply.error()[0] in DUPLICATE_CODES:
                    out.append(WriteResult(key, rid, False))
                else:
                    out.append(self._result(key, reply, created=True, known_id=rid if reply.ok else None))
        return out

    def update(self, obj: str, records: list[dict[str, Any]], *, allow_bulk: bool = False) -> list[WriteResult]:
        """Update by ``Id`` (``If-Match: *``: a missing record is an error, never created). ``None`` clears a
        field (a lookup: its binding). Closed states are reached through the close actions."""
        if not records:
            return []
        table = self._table_for(obj, {k for r in records for k in r})
        closable = obj in CLOSABLE
        out: list[WriteResult] = []
        for chunk in chunks(records, self.capabilities.write_batch_max):
            writes = [_Write(str(r[ID]), r, existing_id=str(r[ID])) for r in chunk]
            parts: list[_Part] = []
            if closable:
                ids = [w.key for w in writes]
                query = (f"$select={table.primary_id},statecode&$filter="
                         f"{quote(_in_filter(table.primary_id, ids), safe=_SAFE)}")
                parts.append(_Part("GET", f"{table.entity_set}?{query}"))
            for w in writes:
                drop = frozenset(STATE_FIELDS) if closable and self._target_state(table, w.record) else frozenset()
                parts.append(_Part("PATCH", f"{table.entity_set}({w.key})",
                                   self._payload(table, w.record, create=False, drop=drop), {"If-Match": "*"}))
            replies = self._batch(parts, f"update {obj}")
            if closable:
                head, *replies = replies
                states = {str(r[table.primary_id]).lower(): _int(r.get("statecode"))
                          for r in (head.body.get("value") or [] if head.ok else [])}
                for w in writes:
                    w.existing_state = states.get(w.key.lower())
            for w, reply in zip(writes, replies, strict=True):
                w.result = self._result(w.key, reply, created=False, known_id=w.key)
            if closable:
                self._settle(table, writes, lambda w: f"{table.entity_set}({w.key})")
            out += [w.result for w in writes if w.result is not None]
        return out

    def delete_records(self, obj: str, ids: list[str]) -> list[WriteResult]:
        """``$batch`` of DELETEs (≤ 1,000 per request); a record already gone (404) counts as deleted."""
        if not ids:
            return []
        table = self._table(obj)
        parts = [_Part("DELETE", f"{table.entity_set}({i})") for i in ids]
        out = []
        for rid, reply in zip(ids, self._batch(parts, f"delete {obj}"), strict=True):
            if reply.ok or reply.status == GONE_STATUS:
                out.append(WriteResult(rid, rid, False))
            else:
                code, message = reply.error()
                out.append(WriteResult(rid, rid, False, code, message))
        return out

    # --- reads ----------------------------------------------------------------------------------------------
    def _rows_where(self, table: _Table, fields: list[str], filter_: str, what: str) -> list[dict[str, Any]]:
        return list(self._iter_where(table, fields, filter_, what))

    def _iter_where(self, table: _Table, fields: list[str], filter_: str, what: str) -> Iterator[dict[str, Any]]:
        raw = self._iter_all(table.entity_set, what, {"$select": self._select(table, fields), "$filter": filter_})
        return (self._row(table, r, [ID, *fields]) for r in raw)

    def rows_by_id(self, obj: str, ids: list[str], fields: list[str]) -> list[dict[str, Any]]:
        """``$filter`` ``In`` on the primary key, 200 ids per read."""
        table = self._table_for(obj, fields)
        rows: list[dict[str, Any]] = []
        for chunk in chunks(ids, IN_CHUNK):
            rows += self._rows_where(table, fields, _in_filter(table.primary_id, chunk), f"read {obj}")
        return rows

    def retrieve(self, obj: str, ids: list[str], fields: list[str]) -> list[dict[str, Any] | None]:
        """``fields`` of each id (``Id`` only when asked for), in the order of ``ids``; None where absent."""
        by_id = {str(r[ID]).lower(): {f: r.get(f) for f in fields} for r in self.rows_by_id(obj, ids, fields)}
        return [by_id.get(i.lower()) for i in ids]

    def existing_ids(self, obj: str, ids: list[str]) -> set[str]:
        found = {str(r[ID]).lower() for r in self.rows_by_id(obj, ids, [])}
        return {i for i in ids if i.lower() in found}

    def find_by_key(self, obj: str, key_field: str, keys: list[str]) -> dict[str, str]:
        """By the key column; on tables without it (notes), by the deterministic ids inserts use."""
        table = self._table_for(obj, [key_field])
        if key_field not in table.columns:
            ids = {self.deterministic_id(obj, k): k for k in keys}
            return {ids[i]: i for i in self.existing_ids(obj, list(ids))}
        found: dict[str, str] = {}
        for chunk in chunks(keys, IN_CHUNK):
            coded = [table.encode(key_field, k) for k in chunk]
            for row in self._rows_where(table, [key_field], _in_filter(key_field, coded), f"keys of {obj}"):
                found[str(row[key_field])] = str(row[ID])
        return found

    def find_by_key_prefix(self, obj: str, key_field: str, prefix: str) -> dict[str, str]:
        return {str(r[key_field]): str(r[ID]) for r in self.rows_with_key_prefix(obj, [], key_field, prefix)}

    def rows_with_key_prefix(self, obj: str, fields: list[str], key_field: str, prefix: str
                             ) -> Iterator[dict[str, Any]]:
        """One read (pages of 5,000, read as consumed): ``startswith(<key>, '<prefix>')``; none on tables
        without the key."""
        table = self._table_for(obj, [*fields, key_field])
        if key_field not in table.columns:
            return iter(())
        coded = odata_string(table.encode(key_field, prefix))
        rows = self._iter_where(table, [key_field, *fields], f"startswith({key_field},{coded})",
                                f"rows of {obj}")
        return (r for r in rows if str(r.get(key_field) or "").startswith(prefix))

    def find_natural(self, obj: str, fields: list[str], records: Sequence[dict[str, Any]]
                     ) -> dict[tuple[str, ...], str]:
        table = self._table_for(obj, fields)
        first = fields[0]
        prop = f"_{table.navs[first][0]}_value" if first in table.navs else first
        values = sorted({table.encode(first, str(r[first])) for r in records if r.get(first) not in (None, "")})
        existing: dict[tuple[str, ...], str] = {}
        for chunk in chunks(values, IN_CHUNK):
            for row in self._rows_where(table, fields, _in_filter(prop, chunk), f"natural keys of {obj}"):
                existing[tuple(str(row.get(f) or "") for f in fields)] = str(row[ID])
        return existing

    def modified_stamps(self, obj: str, ids: list[str]) -> dict[str, str]:
        """``modifiedon`` (overriddencreatedon is ours to set; modifiedon moves with every change)."""
        return {str(r[ID]): str(r.get("modifiedon") or "") for r in self.rows_by_id(obj, ids, ["modifiedon"])}

    # --- quotas ---------------------------------------------------------------------------------------------
    def limits_report(self) -> dict[str, Any]:
        """What the service-protection headers said last (no extra call: Dataverse has no daily quota)."""
        return {"RequestsMade": self.calls, "BurstRemaining": self.burst_remaining,
                "TimeRemainingMs": self.time_remaining_ms,
                "ServiceProtection": "6,000 requests and 20 min execution time per user per 5 min; 429 + Retry-After"}

    def check_quota(self, needed: int = 1) -> None:
        """Never a stop: Dataverse has no daily API cap, and its 5-minute limits answer 429 with a
        Retry-After that the retry policy honours (reference §2.2)."""


_SAFE = "'=:@!$*,;()[]"


def _parse_batch_response(resp: httpx.Response) -> list[_Reply]:
    """The parts of a ``multipart/mixed`` ``$batch`` answer, in order (change sets flattened)."""
    ctype = resp.headers.get("content-type", "")
    boundary = _boundary(ctype)
    if boundary is None:
        raise ContractError(f"Dataverse $batch answered {ctype!r}, not multipart/mixed")
    return _parse_multipart(resp.content.decode("utf-8", errors="replace"), boundary)


def _boundary(ctype: str) -> str | None:
    for piece in ctype.split(";"):
        name, _, value = piece.strip().partition("=")
        if name.lower() == "boundary":
            return value.strip().strip('"')
    return None


def _parse_multipart(text: str, boundary: str) -> list[_Reply]:
    replies: list[_Reply] = []
    for chunk in text.split(f"--{boundary}")[1:]:
        if chunk.startswith("--"):
            break
        head, _, rest = chunk.lstrip("\r\n").partition("\r\n\r\n")
        if not _:
            head, _, rest = chunk.lstrip("\n").partition("\n\n")
        headers = _headers_of(head)
        inner = _boundary(headers.get("content-type", ""))
        if inner is not None:  # a change set: its parts, in order
            replies += _parse_multipart(rest, inner)
            continue
        replies.append(_parse_http(rest))
    return replies


def _headers_of(block: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in block.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip().lower()] = value.strip()
    return out


def _parse_http(text: str) -> _Reply:
    text = text.lstrip("\r\n")
    head, sep, body = text.partition("\r\n\r\n")
    if not sep:
        head, _, body = text.partition("\n\n")
    lines = head.splitlines()
    if not lines or not lines[0].startswith("HTTP/"):
        raise ContractError(f"Dataverse $batch part without a status line: {head[:80]!r}")
    status = int(lines[0].split()[1])
    headers = _headers_of("\n".join(lines[1:]))
    body = body.strip()
    parsed: Any = None
    if body:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = body
    return _Reply(status, headers, parsed)


def _entity_id(headers: Mapping[str, str]) -> str | None:
    """The GUID in ``OData-EntityId: https://…/accounts(<guid>)``."""
    value = headers.get("odata-entityid") or headers.get("location")
    if not value or "(" not in value:
        return None
    inner = value.rsplit("(", 1)[1].rstrip(")")
    try:
        return str(uuid.UUID(inner))
    except ValueError:
        return None


def _format_of(attribute: Mapping[str, Any]) -> str:
    """``Format`` (DateTime, Memo) or ``FormatName.Value`` (String: Email, Phone, Url...)."""
    name = attribute.get("FormatName")
    if isinstance(name, dict) and name.get("Value"):
        return str(name["Value"])
    return str(attribute.get("Format") or "")


def _error_of(resp: httpx.Response) -> tuple[str, str]:
    try:
        body = resp.json()
    except ValueError:
        return f"HTTP_{resp.status_code}", resp.text[:300]
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        return str(err.get("code") or f"HTTP_{resp.status_code}"), str(err.get("message") or "")
    return f"HTTP_{resp.status_code}", str(body)[:300]


def _oauth_error(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}"
    return str(body.get("error") or resp.status_code) if isinstance(body, dict) else f"HTTP {resp.status_code}"


def _retry_after(resp: httpx.Response) -> float | None:
    return _float(resp.headers.get("retry-after"))


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _original_created(overridden: Any, created: Any) -> Any:
    """What was written to ``overriddencreatedon``, whichever way the environment stores it.

    Dataverse documents a swap for migrated records: ``createdon`` takes the supplied time and
    ``overriddencreatedon`` the time of the import (reference §2.7; unconfirmed for the Web API, a
    stand-in knob). Either way the supplied original is the earlier of the two — a record's source
    creation precedes its migration — and a record created without one has ``overriddencreatedon`` empty.
    """
    if overridden in (None, "") or created in (None, ""):
        return overridden
    try:
        a = datetime.fromisoformat(str(overridden).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    except ValueError:
        return overridden
    try:
        return created if b < a else overridden
    except TypeError:  # one with an offset, one without: not comparable, keep the column's own value
        return overridden


def _moment(value: Any) -> datetime | None:
    """A date-time as an aware UTC value (naive ones read as UTC), to the second; None if unparseable."""
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(microsecond=0)


def _int(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
