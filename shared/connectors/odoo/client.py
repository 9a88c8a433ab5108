"""Odoo CRM 17 / 18 / 19 destination: the ORM over XML-RPC (17, 18) or JSON-2 (19), one interface.

The transport is chosen from the server's version (reference §4.1): ``GET /web/version`` answers
on 19 (JSON-2 with a bearer API key, ``POST /json/2/<model>/<method>`` with named arguments);
17 and 18 answer it with a 404 and are spoken to over ``/xmlrpc/2`` (``xmlrpc.client``), whose
``common.version()`` the connector then reads. Both raise the same :class:`OdooFault` (the integer
fault families of §4.4: 1 other, 2 user/validation, 3 access denied, 4 access error), which the
connector turns into the error tree (3, 4: fatal) or into per-record results (1, 2).

Odoo has no upsert and lets no client set ``create_date`` (§4.7), so:

- every record this migration writes is registered as an external id ``__flitstack__.<name>`` in
  ``ir.model.data`` (name from the model and the source key, :func:`xmlid_name`), and also carries the
  source key in the ``x_`` external-id field the spec names; an upsert looks the keys up first (the
  external ids, then the key field for a create whose external ids never got written), creates the
  rest in calls of ``write_batch_max`` (50) and writes an existing record only when a value changed
  (records that change the same way share one ``write``);
- a create refused as a whole (Odoo's ``create`` is one transaction: one bad record fails the call)
  is split into single creates so each record gets its own result;
- a create whose answer was lost (dropped connection, timeout) is retried by the one policy
  (``shared.retry``) only after asking which of its keys the server already holds;
- ``False`` is Odoo's empty: ``None`` goes out as ``False`` and a ``False`` read back from a
  non-boolean field comes back as ``None``; many2one values are integer ids going out and
  ``[id, name]`` pairs coming back (read as the id, a string, as every engine id is).
"""

from __future__ import annotations

import html
import http.client
import json
import re
import ssl
import threading
import xmlrpc.client
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from shared import retry
from shared.connectors.destination import ID, Capabilities, WriteCost, WriteResult, chunks
from shared.connectors.odoo.capabilities import CAPABILITIES, XMLID_MODULE
from shared.errors import AuthenticationError, ContractError, error_for_status, transport_error
from shared.mapping.spec import CustomFieldSpec, CustomObjectSpec
from shared.models import DestField, DestObject, DestUser
from shared.tls import ssl_context

T = TypeVar("T")

SYSTEM = "Odoo"
#: Put in a custom field's ``help``: the field carries the source key (Odoo has no external-id flag on fields).
EXTERNAL_ID_MARK = "flitstack: source key (external id)"
#: The custom model holding the migration dashboard record, each run's summary posted on its chatter.
DASHBOARD_MODEL = "x_flitstack_migration"
DASHBOARD_KEY = "dashboard"
DASHBOARD_NAME = "FlitStack migrations"
#: Why a valid login can still be refused (seed 004's gotcha): Odoo Online's plans without external API access.
PLAN_HINT = ("on Odoo Online the external API (XML-RPC, JSON-2) needs the Custom plan; check the database's plan "
             "and that the API key belongs to this user")
#: Keys per ``in`` domain of a lookup.
IN_CHUNK = 1_000
#: Fields every model has that the ORM fills itself and never lets a client set (§4.7).
LOG_ACCESS = frozenset({"id", "display_name", "create_uid", "create_date", "write_uid", "write_date",
                        "__last_update"})
#: Many2one targets written and read by their ISO code (``country_id: "US"``), as a person reads them:
#: the ids of seeded rows differ between databases (reference §4.6: "look up by code").
CODE_KEYED = frozenset({"res.country", "res.country.state"})
#: The engine's neutral field types -> Odoo ``ttype`` (CustomFieldSpec.type).
TTYPES = {"Text": "char", "LongTextArea": "text", "Number": "float", "Currency": "float", "Date": "date",
          "DateTime": "datetime", "Checkbox": "boolean", "Picklist": "selection", "Email": "char",
          "Phone": "char", "Url": "char", "Lookup": "many2one"}
#: JSON-2 takes named arguments: the names of the positional arguments of the ORM methods used here.
PARAMS: dict[str, tuple[str, ...]] = {
    "create": ("vals_list",), "write": ("vals",), "unlink": (), "read": ("fields",),
    "search_read": ("domain", "fields", "offset", "limit", "order"), "search": ("domain",),
    "search_count": ("domain",), "fields_get": ("allfields", "attributes"), "message_post": (),
}
#: Exception class names a per-record refusal carries (fault 1's traceback names its class last).
_LAST_LINE = re.compile(r"^([\w.]+(?:Error|Exception|Warning)):\s*(.*)$", re.MULTILINE)


class Refused(Exception):
    """A record this connector cannot send as it is (a code no row has): that record's result, not the call's."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class OdooFault(Exception):
    """An application error the server answered (XML-RPC fault, JSON-2 error body), any transport."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(f"{name}: {message[:300]}")
        self.code, self.name, self.message = code, name, message


def xmlid_name(model: str, key: str) -> str:
    """The ``ir.model.data`` name of a record of ``model`` keyed ``<source object>:<source id>``.

    ``res_partner__customers_42``: the model keeps a source record landing in two models apart;
    characters other than letters, digits and ``_`` are escaped ``-xx`` (hex of each UTF-8 byte, ``-`` itself
    too, so two keys never share a name): spaces are refused in external ids and a dot reads as a module.
    """
    obj, _, sid = key.partition(":")
    body = f"{obj}_{sid}" if sid else obj
    safe = re.sub(r"[^A-Za-z0-9_]", lambda m: "".join(f"-{b:02x}" for b in m.group(0).encode()), body)
    return f"{model.replace('.', '_')}__{safe}"


def _fault_name(code: int, text: str) -> tuple[str, str]:
    """(exception class, message) of an XML-RPC fault: code 1 carries a traceback naming the class last."""
    if code == 1:
        found = _LAST_LINE.findall(text)
        if found:
            name, message = found[-1]
            return name, message
        return "Exception", text.strip().splitlines()[-1] if text.strip() else text
    return {2: "odoo.exceptions.UserError", 3: "odoo.exceptions.AccessDenied",
            4: "odoo.exceptions.AccessError"}.get(code, "Exception"), text


# ======================================================================================
# transports
# ======================================================================================
class _Counting(xmlrpc.client.SafeTransport):
    """TLS with the secret's CA, a deadline on every call, and a count of requests."""

    def __init__(self, context: ssl.SSLContext, timeout_s: float, on_request: Callable[[], None]) -> None:
        super().__init__(context=context)
        self._timeout_s = timeout_s
        self._on_request = on_request

    def make_connection(self, host: Any) -> http.client.HTTPSConnection:
        conn = super().make_connection(host)
        conn.timeout = self._timeout_s
        return conn

    def request(self, host: Any, handler: str, request_body: Any, verbose: bool = False) -> Any:
        self._on_request()
        return super().request(host, handler, request_body, verbose)


class XmlRpc:
    """``/xmlrpc/2/common`` and ``/xmlrpc/2/object`` (17, 18; deprecated from 19)."""

    name = "xmlrpc"

    def __init__(self, url: str, db: str, login: str, key: str, ctx: ssl.SSLContext, timeout_s: float,
                 on_request: Callable[[], None]) -> None:
        self.url, self.db, self.login, self._key = url, db, login, key
        self._ctx, self._timeout_s, self._on_request = ctx, timeout_s, on_request
        self._local = threading.local()  # ServerProxy is not thread-safe: one per thread
        self.uid = 0

    def __repr__(self) -> str:
        return f"XmlRpc({self.url})"

    def _proxy(self, service: str) -> xmlrpc.client.ServerProxy:
        proxies: dict[str, xmlrpc.client.ServerProxy] = self._local.__dict__.setdefault("proxies", {})
        if service not in proxies:
            proxies[service] = xmlrpc.client.ServerProxy(
                f"{self.url}/xmlrpc/2/{service}", allow_none=False,
                transport=_Counting(self._ctx, self._timeout_s, self._on_request))
        return proxies[service]

    def _send(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except xmlrpc.client.Fault as exc:
            code = exc.faultCode if isinstance(exc.faultCode, int) else 1
            name, message = _fault_name(code, str(exc.faultString))
            raise OdooFault(code, name, message) from None
        except xmlrpc.client.ProtocolError as exc:
            self._local.__dict__.pop("proxies", None)
            raise error_for_status(SYSTEM, what, exc.errcode, message=str(exc.errmsg)) from None
        except (OSError, http.client.HTTPException) as exc:
            self._local.__dict__.pop("proxies", None)  # a dropped connection leaves the proxy unusable
            raise transport_error(SYSTEM, what, exc) from exc

    def version(self) -> dict[str, Any]:
        got: Any = self._send("version", lambda: self._proxy("common").version())
        return dict(got)

    def authenticate(self) -> int:
        try:
            uid: Any = self._send("authenticate", lambda: self._proxy("common").authenticate(
                self.db, self.login, self._key, {}))
        except OdooFault as exc:
            if exc.code != 3:
                raise
            raise AuthenticationError(f"{SYSTEM} refused access to database {self.db!r}: {exc.message[:200]}; "
                                      f"{PLAN_HINT}") from None
        if not uid:  # a wrong login or key is False, never a fault (§4.1)
            raise AuthenticationError(f"{SYSTEM} refused the login of {self.login!r} on database {self.db!r}")
        self.uid = int(uid)
        return self.uid

    def call(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any], ids: list[int] | None) -> Any:
        positional = ([ids] if ids is not None else []) + args
        return self._send(f"{model}.{method}", lambda: self._proxy("object").execute_kw(
            self.db, self.uid, self._key, model, method, positional, kwargs))


class Json2:
    """Odoo 19's JSON-2 API: ``POST /json/2/<model>/<method>``, named arguments, bearer API key."""

    name = "json2"

    def __init__(self, url: str, db: str, login: str, key: str, ctx: ssl.SSLContext, timeout_s: float,
                 on_request: Callable[[], None]) -> None:
        self.url, self.db, self.login = url, db, login
        self._on_request = on_request
        self.http = httpx.Client(base_url=f"{url}/json/2/", verify=ctx, timeout=timeout_s, trust_env=False,
                                 headers={"Authorization": f"bearer {key}", "X-Odoo-Database": db,
                                          "Content-Type": "application/json"})
        self.uid = 0

    def __repr__(self) -> str:
        return f"Json2({self.url})"

    def authenticate(self) -> int:
        rows = self.call("res.users", "search_read", [[["login", "=", self.login]], ["id"]], {}, None)
        if not rows:
            raise AuthenticationError(f"{SYSTEM}: the API key does not belong to {self.login!r}")
        self.uid = int(rows[0]["id"])
        return self.uid

    def call(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any], ids: list[int] | None) -> Any:
        names = PARAMS.get(method)
        if names is None or len(args) > len(names):
            raise ContractError(f"{SYSTEM} JSON-2: no argument names known for {model}.{method}")
        body: dict[str, Any] = {**dict(zip(names, args, strict=False)), **kwargs}
        if ids is not None:
            body["ids"] = ids
        what = f"{model}.{method}"
        self._on_request()
        try:
            resp = self.http.post(f"{model}/{method}", content=json.dumps(body))
        except httpx.TransportError as exc:
            raise transport_error(SYSTEM, what, exc) from exc
        if resp.status_code == 200:
            return resp.json()
        try:
            err = resp.json()
        except ValueError:
            err = {}
        name, message = str(err.get("name", "")), str(err.get("message", ""))[:500]
        if resp.status_code in (401, 403) or name.endswith(("AccessDenied", "AccessError")):
            hint = f"; {PLAN_HINT}" if resp.status_code == 403 else ""
            raise AuthenticationError(f"{SYSTEM} {what}: HTTP {resp.status_code} {name} {message[:200]}{hint}")
        if name.startswith("odoo.exceptions.") or (resp.status_code == 500 and name):
            code = 2 if name.startswith("odoo.exceptions.") else 1
            raise OdooFault(code, name, message)
        raise error_for_status(SYSTEM, what, resp.status_code, code=name, message=message)


def detect_version(url: str, ctx: ssl.SSLContext, timeout_s: float) -> int | None:
    """The major version from 19's ``GET /web/version`` (17/18 answer 404: None, ask XML-RPC)."""
    def attempt() -> int | None:
        try:
            resp = httpx.get(f"{url}/web/version", verify=ctx, timeout=timeout_s, trust_env=False)
        except httpx.TransportError as exc:
            raise transport_error(SYSTEM, "version", exc) from exc
        if resp.status_code >= 500 or resp.status_code == 429:
            raise error_for_status(SYSTEM, "version", resp.status_code)
        if resp.status_code != 200 or not resp.headers.get("content-type", "").startswith("application/json"):
            return None
        return _major(resp.json().get("version_info"))

    return retry.call(attempt)


def _major(info: Any) -> int | None:
    """``[19, 0, 0, 'final', 0, '']`` or a SaaS ``['saas~18', 4, ...]`` -> 19 / 18."""
    if not isinstance(info, list) or not info:
        return None
    head = str(info[0]).removeprefix("saas~")
    return int(head) if head.isdigit() else None


# ======================================================================================
# the destination
# ======================================================================================
def write_cost(obj: str, count: int, allow_bulk: bool, caps: Capabilities = CAPABILITIES) -> WriteCost:
    """Calls of one load: ``create``/``write`` of 50 records each (no bulk API, no metered quota)."""
    calls = -(-count // caps.write_batch_max)
    return WriteCost(calls, calls)


class OdooDestination:
    """One Odoo database. Credentials never appear in repr, logs or errors."""

    name = "odoo"
    label = "Odoo"
    capabilities = CAPABILITIES
    system_fields: tuple[str, ...] = ("write_date", "write_uid", "__last_update")
    delete_note = "Deleted records are removed with their external ids, chatter and attachments (unlink)."

    def __init__(self, url: str, db: str, login: str, api_key: str, *, ca_pem: str | None = None,
                 timeout_s: float = 120.0, transport: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.db = db
        self.calls = 0
        self.write_calls = 0
        self._count_lock = threading.Lock()
        ctx = ssl_context(ca_pem)
        major = detect_version(self.url, ctx, timeout_s) if transport is None else None
        self.transport: XmlRpc | Json2
        if transport == "json2" or (transport is None and major is not None and major >= 19):
            self.transport = Json2(self.url, db, login, api_key, ctx, timeout_s, self._counted)
        else:
            self.transport = XmlRpc(self.url, db, login, api_key, ctx, timeout_s, self._counted)
            if major is None:
                major = _major(retry.call(self.transport.version).get("server_version_info"))
        self.version = major or 0
        self.integration_user_id = str(retry.call(self.transport.authenticate))
        #: The server and database (several databases may share a host): the crosswalk's scope too.
        self.instance_url = f"{self.url}?db={db}"
        self._fields: dict[str, dict[str, dict[str, Any]]] = {}
        self._refreshed: set[str] = set()
        self._code_rows: dict[str, dict[str, list[tuple[int, int | None]]]] = {}
        self._code_by_id: dict[str, dict[int, str]] = {}

    def __repr__(self) -> str:
        return f"OdooDestination({self.url}, {self.db}, {self.transport.name})"

    def _counted(self) -> None:
        with self._count_lock:
            self.calls += 1

    def close(self) -> None:
        if isinstance(self.transport, Json2):
            self.transport.http.close()

    @property
    def scope(self) -> str:
        """Crosswalk scope prefix (the instance discovery records): two databases never share ids."""
        return self.instance_url

    # --- calls ---------------------------------------------------------------------------
    def rpc(self, model: str, method: str, *args: Any, ids: list[int] | None = None, **kwargs: Any) -> Any:
        """One ORM call under the retry policy; an application error surfaces as :class:`OdooFault`."""
        return retry.call(lambda: self._once(model, method, list(args), kwargs, ids))

    def _once(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any], ids: list[int] | None) -> Any:
        if method in ("create", "write", "unlink"):
            with self._count_lock:
                self.write_calls += 1
        return self.transport.call(model, method, args, kwargs, ids)

    def _read_call(self, model: str, method: str, *args: Any, ids: list[int] | None = None, **kwargs: Any) -> Any:
        """A call that must succeed: an application error is a contract error naming the call."""
        try:
            return self.rpc(model, method, *args, ids=ids, **kwargs)
        except OdooFault as exc:
            raise ContractError(f"{SYSTEM} {model}.{method}: {exc.name}: {exc.message[:300]}") from None

    # --- schema --------------------------------------------------------------------------
    def _model_id(self, obj: str) -> int | None:
        rows = self._read_call("ir.model", "search_read", [["model", "=", obj]], ["id"])
        return int(rows[0]["id"]) if rows else None

    def fields_of(self, obj: str, refresh: bool = False) -> dict[str, dict[str, Any]]:
        if refresh or obj not in self._fields:
            self._fields[obj] = self._read_call(obj, "fields_get", attributes=[
                "string", "type", "required", "readonly", "selection", "relation", "help", "manual", "store"])
        return self._fields[obj]

    def describe(self, obj: str) -> DestObject | None:
        """The model's fields (``fields_get``), or None when the model is not installed."""
        if self._model_id(obj) is None:
            return None
        fields: dict[str, DestField] = {}
        for name, f in self.fields_of(obj, refresh=True).items():
            settable = not f.get("readonly") and name not in LOG_ACCESS
            selection = [(str(v), str(label)) for v, label in f.get("selection") or []]
            fields[name] = DestField(
                name=name, type=str(f.get("type")), label=str(f.get("string") or name),
                nillable=not f.get("required"), createable=settable, updateable=settable,
                external_id=f.get("help") == EXTERNAL_ID_MARK,
                picklist_values=[v for v, _ in selection],
                picklist_labels={v: label for v, label in selection if label != v},
                restricted_picklist=bool(selection),
                reference_to=[str(f["relation"])] if f.get("type") == "many2one" and f.get("relation") else [])
        return DestObject(name=obj, label=obj, custom=obj.startswith("x_"), fields=fields)

    def users(self) -> list[DestUser]:
        rows = self._read_call("res.users", "search_read", [["share", "=", False], "|",
                                                             ["active", "=", True], ["active", "=", False]],
                               ["login", "email", "active", "name", "partner_id"])
        return [DestUser(id=str(r["id"]), email=str(r.get("email") or r.get("login") or "").lower(),
                         active=bool(r.get("active")), name=str(r.get("name") or ""),
                         contact_id=str(r["partner_id"][0]) if isinstance(r.get("partner_id"), list) else None)
                for r in rows]

    def audit_fields_settable(self, described: Mapping[str, DestObject]) -> bool:
        """Never: create_date is a log-access field the ORM strips from every create (§4.7)."""
        return False

    def create_custom_object(self, spec: CustomObjectSpec) -> None:
        try:
            self.rpc("ir.model", "create", {"name": spec.label, "model": spec.name, "state": "manual",
                                            "is_mail_thread": True})
        except OdooFault as exc:
            raise ContractError(f"{SYSTEM} did not create model {spec.name}: {exc.message[:300]}") from None

    def create_custom_field(self, spec: CustomFieldSpec) -> None:
        """An ``ir.model.fields`` row, ``state='manual'`` (the ``x_`` rule is the server's to enforce)."""
        model_id = self._model_id(spec.object)
        if model_id is None:
            raise ContractError(f"{SYSTEM}: model {spec.object} does not exist, cannot add {spec.name}")
        vals: dict[str, Any] = {"model_id": model_id, "name": spec.name, "field_description": spec.label,
                                "ttype": TTYPES[spec.type], "state": "manual", "required": False}
        if spec.external_id:
            vals["help"] = EXTERNAL_ID_MARK
        if spec.type == "Picklist":
            vals["selection_ids"] = [[0, 0, {"value": v, "name": v, "sequence": i}]
                                     for i, v in enumerate(spec.picklist_values)]
        if spec.type == "Lookup":
            vals["relation"] = spec.reference_to
        try:
            self.rpc("ir.model.fields", "create", vals)
        except OdooFault as exc:
            raise ContractError(f"{SYSTEM} did not create {spec.object}.{spec.name}: {exc.message[:300]}") from None
        self._fields.pop(spec.object, None)

    # --- values ------------------------------------------------------------------------------
    def _codes(self, relation: str) -> dict[str, list[tuple[int, int | None]]]:
        """Code -> [(id, country id)] of a code-keyed model (one read per connector)."""
        if relation not in self._code_rows:
            fields = ["code", "country_id"] if relation == "res.country.state" else ["code"]
            rows = self._read_call(relation, "search_read", [], fields, context={"active_test": False})
            table: dict[str, list[tuple[int, int | None]]] = {}
            for r in rows:
                country = r.get("country_id")
                table.setdefault(str(r["code"]).upper(), []).append(
                    (int(r["id"]), int(country[0]) if isinstance(country, list) else None))
            self._code_rows[relation] = table
        return self._code_rows[relation]

    def _code_of(self, relation: str, rid: int) -> str:
        if relation not in self._code_by_id:
            self._code_by_id[relation] = {i: code for code, rows in self._codes(relation).items() for i, _ in rows}
        return self._code_by_id[relation].get(rid, str(rid))

    def _by_code(self, obj: str, name: str, relation: str, value: Any, record: Mapping[str, Any]) -> int:
        text = str(value).strip()
        if text.isdigit():
            return int(text)
        rows = self._codes(relation).get(text.upper(), [])
        if relation == "res.country.state" and len(rows) > 1:
            country = record.get("country_id")
            if country not in (None, "", False):
                wanted = self._by_code(obj, "country_id", "res.country", country, record)
                rows = [r for r in rows if r[1] == wanted]
        if len(rows) != 1:
            found = "no" if not rows else f"{len(rows)}"
            raise Refused(name, f"{obj}.{name}: {found} {relation} with code {text!r}")
        return rows[0][0]

    def _out(self, obj: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """A record as Odoo takes it: False for empty, integer many2one ids (code-keyed ones resolved),
        ``YYYY-MM-DD HH:MM:SS`` datetimes. A value that cannot be sent raises :class:`Refused`."""
        fields = self.fields_of(obj)
        if obj not in self._refreshed and any(name != ID and name not in fields for name in record):
            # a field created after this connector read the model (by another instance: the prepare
            # step, a parallel load): read it again once, never send a datetime unconverted
            self._refreshed.add(obj)
            fields = self.fields_of(obj, refresh=True)
        out: dict[str, Any] = {}
        for name, value in record.items():
            if name == ID:
                continue
            meta = fields.get(name, {})
            kind = meta.get("type")
            if value is None or (value == "" and kind in ("many2one", "many2one_reference", "date", "datetime",
                                                         "integer", "float", "monetary", "selection")):
                out[name] = False
            elif kind == "many2one" and meta.get("relation") in CODE_KEYED:
                out[name] = self._by_code(obj, name, str(meta["relation"]), value, record)
            elif kind in ("many2one", "many2one_reference"):
                try:
                    out[name] = int(value)
                except (TypeError, ValueError):
                    raise Refused(name, f"{obj}.{name}: {value!r} is not a record id") from None
            elif kind == "datetime":
                out[name] = _odoo_datetime(str(value))
            elif kind == "date":
                out[name] = str(value)[:10]
            elif kind in ("float", "monetary") and isinstance(value, str):
                out[name] = float(value)
            elif kind == "integer" and isinstance(value, str):
                out[name] = int(float(value))
            else:
                out[name] = value
        return out

    def _convert(self, obj: str, records: list[dict[str, Any]], key_of: Callable[[dict[str, Any]], str]
                 ) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], list[WriteResult]]:
        """(record, values to send) for each record that can be sent, and a result for each that cannot."""
        ready: list[tuple[dict[str, Any], dict[str, Any]]] = []
        refused: list[WriteResult] = []
        for rec in records:
            try:
                ready.append((rec, self._out(obj, rec)))
            except Refused as exc:
                refused.append(WriteResult(key_of(rec), None, False, "invalid_value", str(exc), exc.field))
        return ready, refused

    def _in(self, obj: str, row: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
        """A row read back as the engine compares it: ``Id`` and lookups as strings, None for empty."""
        fields = self.fields_of(obj)
        out: dict[str, Any] = {ID: str(row["id"])}
        for name in names:
            if name == ID:
                continue
            value = row.get(name)
            kind = fields.get(name, {}).get("type")
            if kind == "boolean":
                out[name] = bool(value)
            elif value is False or value is None:
                out[name] = None
            elif kind == "many2one":
                rid = int(value[0] if isinstance(value, list) else value)
                relation = fields.get(name, {}).get("relation")
                out[name] = self._code_of(str(relation), rid) if relation in CODE_KEYED else str(rid)
            elif kind == "many2one_reference":
                out[name] = str(value) if value else None
            elif kind in ("one2many", "many2many"):
                out[name] = [str(v) for v in value]
            else:
                out[name] = value
        return out

    # --- lookups of keys ------------------------------------------------------------------------
    def _xmlids(self, obj: str, keys: list[str]) -> dict[str, int]:
        """Key -> record id, from this migration's external ids of ``obj``."""
        by_name = {xmlid_name(obj, k): k for k in keys}
        found: dict[str, int] = {}
        for chunk in chunks(sorted(by_name), IN_CHUNK):
            rows = self._read_call("ir.model.data", "search_read",
                                   [["module", "=", XMLID_MODULE], ["model", "=", obj], ["name", "in", chunk]],
                                   ["name", "res_id"])
            for r in rows:
                found[by_name[str(r["name"])]] = int(r["res_id"])
        return found

    def _by_key_field(self, obj: str, key_field: str, keys: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        if key_field not in self.fields_of(obj):
            return found
        for chunk in chunks(sorted(set(keys)), IN_CHUNK):
            for r in self._read_call(obj, "search_read", [[key_field, "in", chunk]], [key_field],
                                     context={"active_test": False}):
                found.setdefault(str(r[key_field]), int(r["id"]))
        return found

    def _register(self, obj: str, made: dict[str, int]) -> None:
        """External ids for records just created (one call for the whole batch)."""
        if not made:
            return
        vals = [{"module": XMLID_MODULE, "name": xmlid_name(obj, k), "model": obj, "res_id": rid,
                 "noupdate": True} for k, rid in made.items()]
        try:
            self.rpc("ir.model.data", "create", vals)
        except OdooFault as exc:
            raise ContractError(f"{SYSTEM} did not register external ids of {obj}: {exc.message[:300]}") from None

    def _existing(self, obj: str, key_field: str, keys: list[str]) -> dict[str, int]:
        """Key -> id of what the database holds: external ids first; a record whose create was answered
        but whose external id never got written (an interrupted call) is found by its key field and
        registered now."""
        found = self._xmlids(obj, keys)
        rest = [k for k in keys if k not in found]
        if rest:
            orphans = self._by_key_field(obj, key_field, rest)
            self._register(obj, orphans)
            found.update(orphans)
        return found

    # --- writes ------------------------------------------------------------------------------------
    def _result_of(self, key: str, exc: OdooFault) -> WriteResult:
        code = exc.name
        message = exc.message.strip().splitlines()[-1][:500] if exc.message.strip() else exc.name
        if "mandatory field is not set" in exc.message or "require a name" in exc.message:
            code = "missing_required"
        elif "_fkey" in exc.message or ("does not exist" in exc.message.lower() and "record" in exc.message.lower()):
            code = "missing_reference"
        fields = ",".join(re.findall(r"Field: [^(]*\((\w+)\)", exc.message)) or ",".join(
            re.findall(r"Invalid field '(\w+)'", exc.message))
        return WriteResult(key, None, False, code, message, fields)

    def _create(self, obj: str, key_field: str, records: list[dict[str, Any]], *, send_key: bool = True,
                register: bool = True) -> list[WriteResult]:
        """Create in calls of ``write_batch_max``; a call refused as a whole is split into single creates.

        A call retried after a lost answer first asks which of its keys already exist (when the key is sent).
        """
        ready, out = self._convert(obj, records, lambda r: str(r[key_field]))
        made: dict[str, int] = {}
        for chunk in chunks(ready, self.capabilities.write_batch_max):
            keys = [str(r[key_field]) for r, _ in chunk]
            vals = [v if send_key else {k: x for k, x in v.items() if k != key_field} for _, v in chunk]
            try:
                ids: list[int] | None = self._create_once(obj, key_field, keys, vals, find=send_key)
            except OdooFault:
                ids = None
            if ids is not None:
                made.update(zip(keys, ids, strict=True))
                out += [WriteResult(k, str(i), True) for k, i in zip(keys, ids, strict=True)]
                continue
            for key, one in zip(keys, vals, strict=True):
                try:
                    [rid] = self._create_once(obj, key_field, [key], [one], find=send_key)
                except OdooFault as exc:
                    out.append(self._result_of(key, exc))
                else:
                    made[key] = rid
                    out.append(WriteResult(key, str(rid), True))
        if register:
            self._register(obj, made)
        order = {str(r[key_field]): i for i, r in enumerate(records)}
        return sorted(out, key=lambda w: order.get(w.key, 0))

    def _create_once(self, obj: str, key_field: str, keys: list[str], vals: list[dict[str, Any]], *, find: bool
                     ) -> list[int]:
        """One ``create`` of a list under the retry policy; a retry first adopts what the lost call created."""
        attempts = {"n": 0}

        def attempt() -> list[int]:
            attempts["n"] += 1
            todo = list(range(len(vals)))
            held: dict[int, int] = {}
            if attempts["n"] > 1 and find:  # the previous answer was lost: the records may exist already
                there = self._by_key_field(obj, key_field, keys)
                held = {i: there[k] for i, k in enumerate(keys) if k in there}
                todo = [i for i in todo if i not in held]
            if todo:
                got = self._once(obj, "create", [[vals[i] for i in todo]], {}, None)
                new = got if isinstance(got, list) else [got]
                held.update(zip(todo, (int(x) for x in new), strict=True))
            return [held[i] for i in range(len(vals))]

        return retry.call(attempt)

    def upsert(self, obj: str, ext_field: str, records: Sequence[dict[str, Any]], *, allow_bulk: bool
               ) -> list[WriteResult]:
        """Create or update each record by its key (external id ``__flitstack__.<name>``); one result each."""
        records = list(records)  # parsed once here (a load's lines are parsed as they are read)
        if not records:
            return []
        keys = [str(r[ext_field]) for r in records]
        existing = self._existing(obj, ext_field, keys)
        new = [r for r in records if str(r[ext_field]) not in existing]
        old = [r for r in records if str(r[ext_field]) in existing]
        results = {w.key: w for w in self._create(obj, ext_field, new)}
        updates = [{**{k: v for k, v in r.items() if k != ext_field}, ID: str(existing[str(r[ext_field])])}
                   for r in old]
        for w, rec in zip(self.update(obj, updates), old, strict=True):
            key = str(rec[ext_field])
            results[key] = WriteResult(key, w.id, False, w.error_code, w.error_message, w.fields)
        return [results[k] for k in keys if k in results]

    def insert(self, obj: str, ext_field: str, records: Sequence[dict[str, Any]], *, match_on: list[str] | None = None
               ) -> list[WriteResult]:
        """Create; with ``match_on`` the key is not sent (nor registered) and records are matched on those fields."""
        records = list(records)  # parsed once here (a load's lines are parsed as they are read)
        if match_on is None:
            return self._create(obj, ext_field, records)
        return self._create(obj, ext_field, records, send_key=False, register=False)

    def update(self, obj: str, records: list[dict[str, Any]], *, allow_bulk: bool = False) -> list[WriteResult]:
        """Write by :data:`ID`, only what changed; records changing the same way share one ``write``."""
        if not records:
            return []
        names = sorted({k for r in records for k in r if k != ID})
        current = {str(r[ID]): r for r in self.rows_by_id(obj, [str(r[ID]) for r in records], names)}
        groups: dict[str, tuple[dict[str, Any], list[int]]] = {}
        results: dict[str, WriteResult] = {}
        changed: list[dict[str, Any]] = []
        for rec in records:
            rid = str(rec[ID])
            held = current.get(rid)
            if held is None:
                results[rid] = WriteResult(rid, rid, False, "odoo.exceptions.MissingError",
                                           "Record does not exist or has been deleted.")
                continue
            diff = {k: v for k, v in rec.items() if k != ID and not _same(v, held.get(k))}
            if not diff:
                results[rid] = WriteResult(rid, rid, False)
                continue
            changed.append({**diff, ID: rid})
        ready, refused = self._convert(obj, changed, lambda r: str(r[ID]))
        results.update({w.key: WriteResult(w.key, w.key, False, w.error_code, w.error_message, w.fields)
                        for w in refused})
        for rec, vals in ready:
            sig = json.dumps(vals, sort_keys=True, default=str)
            groups.setdefault(sig, (vals, []))[1].append(int(rec[ID]))
        for vals, ids in groups.values():
            for chunk in chunks(ids, self.capabilities.write_batch_max):
                try:
                    self.rpc(obj, "write", vals, ids=chunk)
                    results.update({str(i): WriteResult(str(i), str(i), False) for i in chunk})
                except OdooFault:
                    for i in chunk:
                        try:
                            self.rpc(obj, "write", vals, ids=[i])
                            results[str(i)] = WriteResult(str(i), str(i), False)
                        except OdooFault as exc:
                            res = self._result_of(str(i), exc)
                            results[str(i)] = WriteResult(str(i), str(i), False, res.error_code, res.error_message,
                                                          res.fields)
        return [results[str(r[ID])] for r in records]

    def delete_records(self, obj: str, ids: list[str]) -> list[WriteResult]:
        """``unlink`` (it removes the records' external ids too); a record already gone counts as deleted."""
        if not ids:
            return []
        present = self.existing_ids(obj, ids)
        results = {i: WriteResult(i, i, False) for i in ids if i not in present}
        for chunk in chunks(sorted(present, key=int), self.capabilities.write_batch_max):
            try:
                self.rpc(obj, "unlink", ids=[int(i) for i in chunk])
                results.update({i: WriteResult(i, i, False) for i in chunk})
            except OdooFault:
                for i in chunk:
                    try:
                        self.rpc(obj, "unlink", ids=[int(i)])
                        results[i] = WriteResult(i, i, False)
                    except OdooFault as exc:
                        res = self._result_of(i, exc)
                        results[i] = WriteResult(i, i, False, res.error_code, res.error_message)
        return [results[i] for i in ids]

    # --- reads ---------------------------------------------------------------------------------------
    def _search_read(self, obj: str, domain: list[Any], names: list[str]) -> list[dict[str, Any]]:
        return list(self._search_read_iter(obj, domain, names))

    def _search_read_iter(self, obj: str, domain: list[Any], names: list[str]) -> Iterator[dict[str, Any]]:
        """``search_read`` pages (by id, ``read_page`` rows each), the next asked when one is consumed."""
        fields = [n for n in dict.fromkeys(names) if n != ID]
        offset = 0
        while True:
            page = self._read_call(obj, "search_read", domain, fields or ["id"], offset, self.capabilities.read_page,
                                   "id", context={"active_test": False})
            yield from (self._in(obj, r, fields) for r in page)
            if len(page) < self.capabilities.read_page:
                return
            offset += len(page)

    def rows_by_id(self, obj: str, ids: list[str], fields: list[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        numeric = sorted({int(i) for i in ids if str(i).isdigit()})
        for chunk in chunks(numeric, IN_CHUNK):
            rows += self._search_read(obj, [["id", "in", chunk]], fields)
        return rows

    def retrieve(self, obj: str, ids: list[str], fields: list[str]) -> list[dict[str, Any] | None]:
        by_id = {r[ID]: r for r in self.rows_by_id(obj, ids, fields)}
        return [by_id.get(str(i)) for i in ids]

    def existing_ids(self, obj: str, ids: list[str]) -> set[str]:
        return {r[ID] for r in self.rows_by_id(obj, ids, [])}

    def find_by_key(self, obj: str, key_field: str, keys: list[str]) -> dict[str, str]:
        return {k: str(v) for k, v in self._existing(obj, key_field, keys).items()}

    def find_by_key_prefix(self, obj: str, key_field: str, prefix: str) -> dict[str, str]:
        return {str(r[key_field]): r[ID] for r in self.rows_with_key_prefix(obj, [], key_field, prefix)}

    def rows_with_key_prefix(self, obj: str, fields: list[str], key_field: str, prefix: str
                             ) -> Iterator[dict[str, Any]]:
        """``=like`` on the key ('_' and '%' escaped so they match themselves), page by page as consumed."""
        if key_field not in self.fields_of(obj):
            self.fields_of(obj, refresh=True)
            if key_field not in self.fields_of(obj):
                return iter(())
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._search_read_iter(obj, [[key_field, "=like", pattern]], [key_field, *fields])
        return (r for r in rows if str(r.get(key_field) or "").startswith(prefix))

    def find_natural(self, obj: str, fields: list[str], records: Sequence[dict[str, Any]]
                     ) -> dict[tuple[str, ...], str]:
        first = fields[0]
        values = sorted({str(r[first]) for r in records if r.get(first) not in (None, "")})
        found: dict[tuple[str, ...], str] = {}
        for chunk in chunks(values, IN_CHUNK):
            for row in self._search_read(obj, [[first, "in", chunk]], fields):
                found[tuple("" if row.get(f) is None else str(row.get(f)) for f in fields)] = row[ID]
        return found

    def modified_stamps(self, obj: str, ids: list[str]) -> dict[str, str]:
        """``write_date`` (moved by every change, UTC) as ISO 8601."""
        return {r[ID]: _iso(str(r["write_date"])) for r in self.rows_by_id(obj, ids, ["write_date"])
                if r.get("write_date")}

    # --- chatter -----------------------------------------------------------------------------------------
    def post_note(self, obj: str, res_id: str, body_html: str) -> int:
        """An internal note (``message_post``, ``mail.mt_note``) on a record; the new message's id."""
        try:
            got = self.rpc(obj, "message_post", ids=[int(res_id)], body=body_html, message_type="comment",
                           subtype_xmlid="mail.mt_note", body_is_html=True)
        except OdooFault as exc:
            raise ContractError(f"{SYSTEM} {obj}.message_post: {exc.message[:300]}") from None
        return int(got[0] if isinstance(got, list) else got)

    def post_run_summary(self, title: str, body_html: str) -> str:
        """A run's summary as a note on the migration dashboard record (seed 004), made on first use: one
        ``x_flitstack_migration`` record (a custom model with chatter), registered as an external id."""
        rid = self._dashboard()
        self.post_note(DASHBOARD_MODEL, str(rid), f"<p><b>{html.escape(title)}</b></p>{body_html}")
        return f"{DASHBOARD_MODEL},{rid}"

    def _dashboard(self) -> int:
        if self._model_id(DASHBOARD_MODEL) is None:
            self.create_custom_object(CustomObjectSpec(name=DASHBOARD_MODEL, label="FlitStack Migrations",
                                                       plural_label="FlitStack Migrations"))
        found = self._xmlids(DASHBOARD_MODEL, [DASHBOARD_KEY])
        if DASHBOARD_KEY in found:
            return found[DASHBOARD_KEY]
        try:
            got = self.rpc(DASHBOARD_MODEL, "create", [{"x_name": DASHBOARD_NAME}])
        except OdooFault as exc:
            raise ContractError(f"{SYSTEM} did not create the dashboard record: {exc.message[:300]}") from None
        rid = int(got[0] if isinstance(got, list) else got)
        self._register(DASHBOARD_MODEL, {DASHBOARD_KEY: rid})
        return rid

    # --- quotas --------------------------------------------------------------------------------------------
    def limits_report(self) -> dict[str, Any]:
        """Odoo documents no API quota; the transport and version in use are what is worth showing."""
        return {"version": self.version, "transport": self.transport.name}

    def calls_needed(self, obj: str, count: int, allow_bulk: bool) -> int:
        return write_cost(obj, count, allow_bulk, self.capabilities).calls

    def check_quota(self, needed: int = 1) -> None:
        """No daily quota to pace on (Odoo Online documents none, reference §4.2)."""


def _same(sent: Any, held: Any) -> bool:
    if sent is None or sent == "":
        return held in (None, "", False)
    if isinstance(sent, bool) or isinstance(held, bool):
        return bool(sent) == bool(held)
    if isinstance(sent, (int, float)) and not isinstance(sent, bool):
        try:
            return float(sent) == float(held)
        except (TypeError, ValueError):
            return False
    text = str(sent)
    if held is None:
        return False
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T.*", text):
        return _odoo_datetime(text) == str(held)[:19] or text[:10] == str(held)
    return text == str(held)


def _odoo_datetime(text: str) -> str:
    """ISO 8601 (any offset) -> Odoo's ``YYYY-MM-DD HH:MM:SS`` in UTC; a bare date -> its midnight."""
    if len(text) == 10:
        return f"{text} 00:00:00"
    normalized = text.replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(normalized)
    except ValueError:
        return text  # the server refuses it with its own message (a record-level reject)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _iso(odoo: str) -> str:
    return odoo.replace(" ", "T") + "Z" if " " in odoo else odoo
