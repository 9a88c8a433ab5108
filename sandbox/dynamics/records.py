"""The record engine: validate a Web API payload against the schema, write it, and read records back.

Everything a loader notices is decided here: unknown properties, ``@odata.bind`` resolution
(by GUID or alternate key), MaxLength, option sets, 1753 dates, SystemRequired columns,
state/status pairs and the close-only-through-actions rule, disabled owners,
``overriddencreatedon`` and alternate-key uniqueness. Non-creatable/updatable columns are
dropped silently, as Dataverse does.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sandbox.dynamics.config import DATA_PREFIX
from sandbox.dynamics.errors import (
    ATTACHMENT,
    DUPLICATE_KEY,
    INVALID_ARGUMENT,
    PAYLOAD_ERROR,
    PAYLOAD_HELP,
    PRIVILEGE,
    STATE_STATUS,
    USER_DISABLED,
    VALIDATION,
    DataverseError,
    bad_request,
    duplicate_record,
    key_record_not_found,
    no_property,
    outside_range,
    record_not_found,
    segment_not_found,
    too_long,
    undeclared_annotation,
)
from sandbox.dynamics.org import Org, key_value
from sandbox.dynamics.schema import LOOKUP_TYPES, OPTION_TYPES, STRING_TYPES, Column, KeyDef, Table, nav_name_of
from sandbox.dynamics.standard_tables import ADDRESS_PARTS, EMBEDDED_ADDRESSES
from sandbox.dynamics.values import DateRangeError, is_guid, now_iso, parse_datetime, parse_key_segment

REF_RE = re.compile(r"^([A-Za-z_][\w]*)\((.*)\)$")
CLOSE_ONLY = {
    ("incident", 1): ("Closed", "CloseIncidentRequest"),
    ("opportunity", 1): ("Won", "WinOpportunityRequest"),
    ("opportunity", 2): ("Lost", "LoseOpportunityRequest"),
}
CLOSABLE = frozenset({"incident", "opportunity"})
#: Internal index entries kept in ``record_keys`` beside the alternate keys ('#' cannot start a key's name).
PARENT_INDEX, OBJECT_INDEX, CLOSED_INDEX = "#parent", "#object", "#closed"


@dataclass(frozen=True)
class Prefs:
    """What the ``Prefer`` header asked for."""

    representation: bool = False
    max_page_size: int | None = None
    formatted: bool = False
    lookup_annotations: bool = False
    continue_on_error: bool = False

    @classmethod
    def parse(cls, header: str | None) -> Prefs:
        if not header:
            return cls()
        representation = formatted = lookups = continue_on_error = False
        page: int | None = None
        for name, value in preferences(header).items():
            if name == "return" and value.lower() == "representation":
                representation = True
            elif name == "odata.maxpagesize" and value.isdigit():
                page = int(value)
            elif name == "odata.include-annotations":
                for pattern in (v.strip() for v in value.split(",")):
                    formatted |= pattern in ("*", "OData.Community.Display.V1.FormattedValue", "OData.Community.*")
                    lookups |= pattern in ("*", "Microsoft.Dynamics.CRM.*", "Microsoft.Dynamics.CRM.lookuplogicalname")
            elif name == "odata.continue-on-error":
                continue_on_error = value.lower() != "false"
        return cls(representation, page, formatted, lookups, continue_on_error)


def preferences(header: str | None) -> dict[str, str]:
    """``Prefer`` header -> ``{name: value}`` (names lower-cased, quotes removed); commas inside a quoted
    value (``odata.include-annotations="A,B"``) do not split it."""
    out: dict[str, str] = {}
    for part in re.findall(r'(?:[^,"]|"[^"]*")+', header or ""):
        name, _, value = part.strip().partition("=")
        if name.strip():
            out[name.strip().lower()] = value.strip().strip('"')
    return out


def etag(doc: dict[str, Any]) -> str:
    return f'W/"{doc.get("versionnumber")}"'


class Engine:
    """Record operations over one :class:`Org` (stateless; safe to share between threads)."""

    def __init__(self, org: Org) -> None:
        self.org = org

    # -- lookups ----------------------------------------------------------------------------------------------
    def table_of_set(self, entity_set: str) -> Table:
        table = self.org.schema.by_entity_set(entity_set)
        if table is None or not table.published:
            raise segment_not_found(entity_set)
        return table

    def find(self, table: Table, key: str | dict[str, Any]) -> dict[str, Any] | None:
        """A record by GUID or by alternate-key values (``{"col": value}``)."""
        if isinstance(key, str):
            return self.org.store.get(table.logical, key.lower())
        if set(key) == {table.primary_id} and is_guid(key[table.primary_id]):
            return self.org.store.get(table.logical, str(key[table.primary_id]).lower())
        keydef = self.key_of(table, key)
        value = key_value(keydef, self._key_doc(table, key))
        ids = self.org.store.find_by_key(table.logical, keydef.logical, value or "")
        return self.org.store.get(table.logical, ids[0]) if ids else None

    def key_of(self, table: Table, values: dict[str, Any]) -> KeyDef:
        names = {_attr_name(n) for n in values}
        keydef = table.key_for(names)
        if keydef is None or keydef.status(self.org.config.key_activation_delay_s) != "Active":
            raise DataverseError(
                400, INVALID_ARGUMENT,
                f"The specified key attributes are not a defined key for the {table.logical} entity",
            )
        return keydef

    def _key_doc(self, table: Table, values: dict[str, Any]) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        for raw, value in values.items():
            name = _attr_name(raw)
            col = table.column(name)
            if col is not None and col.type in LOOKUP_TYPES and isinstance(value, str):
                doc[name] = {"id": value.lower(), "type": col.targets[0] if col.targets else ""}
            else:
                doc[name] = value
        return doc

    def parse_ref(self, text: str) -> tuple[Table, str | dict[str, Any]]:
        """``/accounts(<guid>)`` or ``accounts(key='x')`` (absolute URLs too) -> table and key."""
        path = text.strip()
        if "://" in path:
            path = path.split("://", 1)[1].partition("/")[2]
        path = path.lstrip("/")
        if path.startswith(DATA_PREFIX.lstrip("/")):
            path = path[len(DATA_PREFIX.lstrip("/")):]
        match = REF_RE.match(path)
        if not match:
            raise bad_request(f"The value '{text}' is not a valid entity reference.", PAYLOAD_ERROR)
        table = self.table_of_set(match.group(1))
        try:
            key = parse_key_segment(match.group(2))
        except ValueError as exc:
            raise bad_request(f"Bad Request - Error in query syntax: '{text}'.", PAYLOAD_ERROR) from exc
        return table, key

    def _bind(self, value: Any, nav: str, targets: tuple[str, ...], owner: Table) -> dict[str, str] | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise bad_request(PAYLOAD_HELP.format(
                entity=owner.entity_set, inner=f"The value of the '{nav}@odata.bind' annotation must be a string."),
                PAYLOAD_ERROR)
        target, key = self.parse_ref(value)
        if target.logical not in targets:
            raise bad_request(PAYLOAD_HELP.format(
                entity=owner.entity_set,
                inner=f"A resource of type 'Microsoft.Dynamics.CRM.{target.logical}' cannot be bound to the "
                f"navigation property '{nav}', whose type is "
                f"'{' or '.join('Microsoft.Dynamics.CRM.' + t for t in targets)}'."), PAYLOAD_ERROR)
        doc = self.find(target, key)
        if doc is None:
            if isinstance(key, str):
                raise record_not_found(target.logical, key)
            raise key_record_not_found(target.logical)
        return {"id": str(doc[target.primary_id]), "type": target.logical}

    # -- payload ----------------------------------------------------------------------------------------------
    def apply(self, table: Table, body: Any, *, creating: bool) -> dict[str, Any]:
        """Validated column changes of a create/update body (unwritable columns silently dropped)."""
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object.", PAYLOAD_ERROR)
        changes: dict[str, Any] = {}
        for key, value in body.items():
            if key.startswith("@"):
                continue
            name, at, annotation = key.partition("@")
            if at:
                if annotation != "odata.bind":
                    continue
                entry = table.navs.get(name)
                if entry is None or not entry[0].published:
                    raise undeclared_annotation(name, table.entity_set)
                col, targets = entry
                if col.create if creating else col.update:
                    changes[col.logical] = self._bind(value, name, targets, table)
                continue
            found = table.column(key)
            if found is None or not found.published:
                if key in table.navs:
                    raise bad_request("Deep insert/update through navigation properties is not emulated by the "
                                      f"stand-in; bind '{key}@odata.bind' to an existing record instead.")
                raise no_property(key, table.logical)
            col = found
            if col.type in LOOKUP_TYPES:
                raise bad_request("CRM do not support direct update of Entity Reference properties, Use Navigation "
                                  "properties instead.", PAYLOAD_ERROR)
            if col.create if creating else col.update:
                changes[col.logical] = self.coerce(table, col, value)
        return changes

    def coerce(self, table: Table, col: Column, value: Any) -> Any:
        """One value converted to its stored form, or the platform's error."""
        if value is None:
            return None
        kind = col.type
        if kind in STRING_TYPES or kind == "EntityName":
            if not isinstance(value, str):
                raise _type_error(value, "Edm.String")
            if col.max_length is not None and len(value) > col.max_length:
                raise too_long(col.logical, table.logical, col.max_length)
            return value
        if kind in ("Integer", "BigInt"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise _type_error(value, "Edm.Int32" if kind == "Integer" else "Edm.Int64")
            return self._range(table, col, value)
        if kind in ("Decimal", "Double", "Money"):
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError as exc:
                    raise _type_error(value, "Edm.Decimal") from exc
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _type_error(value, "Edm.Decimal" if kind != "Double" else "Edm.Double")
            value = self._range(table, col, value)
            return round(float(value), col.precision if kind == "Decimal" and col.precision is not None else 10)
        if kind == "Boolean":
            if not isinstance(value, bool):
                raise _type_error(value, "Edm.Boolean")
            return value
        if kind in OPTION_TYPES:
            if isinstance(value, bool) or not isinstance(value, int):
                raise _type_error(value, "Edm.Int32")
            if col.option(value) is None:
                raise outside_range(value, col.logical, table.logical, col.option_values())
            return value
        if kind == "DateTime":
            if not isinstance(value, str):
                raise _type_error(value, "Edm.DateTimeOffset")
            try:
                return parse_datetime(value, col.fmt == "DateOnly")
            except DateRangeError as exc:
                raise DataverseError(
                    400, INVALID_ARGUMENT,
                    f"The date-time format for {col.logical} is invalid, or value is outside the supported range.",
                ) from exc
            except ValueError as exc:
                raise _type_error(value, "Edm.DateTimeOffset") from exc
        if kind == "Uniqueidentifier":
            if not is_guid(value):
                raise _type_error(value, "Edm.Guid")
            return str(value).lower()
        return value

    @staticmethod
    def _range(table: Table, col: Column, value: float) -> float:
        lo, hi = col.min_value, col.max_value
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            shown = int(lo) if lo is not None and float(lo).is_integer() else lo
            top = int(hi) if hi is not None and float(hi).is_integer() else hi
            raise DataverseError(
                400, VALIDATION,
                f"A validation error occurred. The value {value} of '{col.logical}' on record of type "
                f"'{table.logical}' is outside the valid range({shown} to {top}).",
            )
        return value

    # -- writes -----------------------------------------------------------------------------------------------
    def create(self, table: Table, body: Any, caller: str, *, record_id: str | None = None,
               key_values: dict[str, Any] | None = None) -> dict[str, Any]:
        """Create one record (``record_id``/``key_values`` come from an upsert URL)."""
        changes = self.apply(table, body, creating=True)
        body_id = changes.pop(table.primary_id, None)
        rid = (record_id or body_id or str(uuid.uuid4())).lower()
        store = self.org.store
        with store.tx():
            if store.get(table.logical, rid) is not None:
                base = f"{table.schema_name}Base"
                raise duplicate_record(f"Violation of PRIMARY KEY constraint 'PK_{base}'. Cannot insert duplicate key "
                                       f"in object 'dbo.{base}'. The duplicate key value is ({rid}).")
            doc: dict[str, Any] = {c: None for c in table.columns}
            doc[table.primary_id] = rid
            for name, value in self._key_doc(table, key_values or {}).items():
                if name not in changes:
                    col = table.column(name)
                    doc[name] = self.coerce(table, col, value) if col and col.type not in LOOKUP_TYPES else value
            doc.update(changes)
            now = now_iso()
            self._created_on(table, doc, changes, caller, now)
            self._state(table, doc, changes, None)
            self._derived(table, doc, changes, caller)
            self._required(table, doc, creating=True)
            doc["modifiedon"] = now
            doc["createdby"] = doc["modifiedby"] = {"id": caller, "type": "systemuser"}
            doc["versionnumber"] = store.next_number("version")
            if table.logical == "customeraddress":
                self._address_number(doc, rid)
            keys = self._keys(table, doc, rid) + _index(table, doc)
            store.insert(table.logical, rid, doc, keys)
            self._sync_addresses(table, doc, set(doc), caller, creating=True)
        return doc

    def update(self, table: Table, doc: dict[str, Any], body: Any, caller: str) -> dict[str, Any]:
        changes = self.apply(table, body, creating=False)
        current = dict(doc)
        if (self.org.config.closed_records_read_only and table.logical in CLOSABLE
                and current.get("statecode") not in (None, 0) and set(changes) - {"statecode", "statuscode"}):
            raise DataverseError(
                400, INVALID_ARGUMENT,
                f"The {table.logical} with Id = {current[table.primary_id]} is closed or canceled and cannot be "
                "modified. Reactivate it first.",
            )
        new = {**current, **changes}
        self._state(table, new, changes, current)
        self._derived(table, new, changes, caller)
        self._required(table, new, creating=False)
        new["modifiedon"] = now_iso()
        new["modifiedby"] = {"id": caller, "type": "systemuser"}
        store = self.org.store
        with store.tx():
            new["versionnumber"] = store.next_number("version")
            rid = str(new[table.primary_id])
            if table.logical == "customeraddress" and {"addressnumber", "parentid"} & set(changes):
                self._address_number(new, rid)
            keys = self._keys(table, new, rid) + _index(table, new)
            store.update(table.logical, rid, new, keys)
            self._sync_addresses(table, new, set(changes), caller, creating=False)
        return new

    def delete(self, table: Table, doc: dict[str, Any]) -> None:
        store = self.org.store
        rid = str(doc[table.primary_id])
        with store.tx():
            store.delete(table.logical, rid)
            for child in CASCADE_DELETES.get(table.logical, ()):
                for child_id in store.find_by_key(child, _INDEXED[child][1], rid):
                    store.delete(child, child_id)

    def write_raw(self, table: Table, doc: dict[str, Any], caller: str) -> dict[str, Any]:
        """Save a document changed by an action (close/win/lose), bumping the audit columns."""
        doc["modifiedon"] = now_iso()
        doc["modifiedby"] = {"id": caller, "type": "systemuser"}
        store = self.org.store
        with store.tx():
            doc["versionnumber"] = store.next_number("version")
            rid = str(doc[table.primary_id])
            store.update(table.logical, rid, doc, self._keys(table, doc, rid) + _index(table, doc))
        return doc

    # -- rules ------------------------------------------------------------------------------------------------
    def _created_on(self, table: Table, doc: dict[str, Any], changes: dict[str, Any], caller: str, now: str) -> None:
        supplied = changes.get("overriddencreatedon")
        doc["createdon"] = now
        if supplied is None:
            return
        cfg = self.org.config
        if not cfg.override_created_on_privilege:
            raise DataverseError(
                403, PRIVILEGE,
                f"Principal user (Id={caller}, type=8, roleCount=1, privilegeCount=653, accessMode=4), is missing "
                f"prvOverrideCreatedOnCreatedBy privilege (Id=6b4e6ea4-1c1a-4e4c-a8b1-6c1d7ae8a4f5) on "
                f"OTC={table.object_type_code} for entity '{table.logical}'. context.Caller={caller}",
            )
        if cfg.overriddencreatedon_swaps:
            doc["createdon"], doc["overriddencreatedon"] = supplied, now

    def _state(self, table: Table, doc: dict[str, Any], changes: dict[str, Any],
               current: dict[str, Any] | None) -> None:
        state_col, status_col = table.column("statecode"), table.column("statuscode")
        if state_col is None or status_col is None:
            return
        state: Any = doc.get("statecode")
        status: Any = doc.get("statuscode") if "statuscode" in changes or current is not None else None
        if current is None and state is None:
            if status is not None and (opt := status_col.option(status)) is not None:
                state = opt.state
            elif table.logical == "product" and self.org.config.products_created_draft:
                state = 2
            else:
                state = 0
        if ("statecode" in changes and "statuscode" not in changes) or status is None:
            status = (state_col.option(state) or state_col.options[0]).default_status
        option = status_col.option(status) if status is not None else None
        if option is None or option.state != state:
            state_label = (state_col.option(state) or state_col.options[0]).label.replace(" ", "")
            raise DataverseError(
                400, STATE_STATUS,
                f"{status} is not a valid status code for state code {table.schema_name}State.{state_label} on "
                f"{table.logical} with Id {doc.get(table.primary_id)}.",
            )
        was = current.get("statecode") if current is not None else None
        if state != was and (table.logical, state) in CLOSE_ONLY:
            label, message = CLOSE_ONLY[(table.logical, state)]
            raise DataverseError(
                400, INVALID_ARGUMENT,
                f"This message can not be used to set the state of {table.logical} to {label}. In order to set state "
                f"of {table.logical} to {label}, use the {message} message instead.",
            )
        doc["statecode"], doc["statuscode"] = state, status

    def _derived(self, table: Table, doc: dict[str, Any], changes: dict[str, Any], caller: str) -> None:
        store = self.org.store
        if table.column("ownerid") is not None:
            if doc.get("ownerid") is None:
                doc["ownerid"] = {"id": caller, "type": "systemuser"}
            owner = doc["ownerid"]
            if "ownerid" in changes or doc.get("owningbusinessunit") is None:
                owner_doc = store.get(owner["type"], owner["id"]) or {}
                if owner["type"] == "systemuser" and owner_doc.get("isdisabled"):
                    raise DataverseError(
                        400, USER_DISABLED,
                        f"The user with SystemUserId={owner['id']} in OrganizationContext={self.org.org_id} is "
                        "disabled. Disabled users cannot log on.",
                    )
                doc["owninguser"] = owner if owner["type"] == "systemuser" else None
                doc["owningteam"] = owner if owner["type"] == "team" else None
                doc["owningbusinessunit"] = owner_doc.get("businessunitid") or {
                    "id": self.org.business_unit_id, "type": "businessunit"}
        if table.column("transactioncurrencyid") is not None and doc.get("transactioncurrencyid") is None:
            doc["transactioncurrencyid"] = {"id": self.org.currency_id, "type": "transactioncurrency"}
        if table.logical in ("contact", "systemuser"):
            doc["fullname"] = " ".join(p for p in (doc.get("firstname"), doc.get("lastname")) if p) or None
        if table.is_activity:
            doc["activitytypecode"] = table.logical
        if table.logical == "incident" and not doc.get("ticketnumber"):
            number = store.next_number("ticketnumber") + 1000
            doc["ticketnumber"] = f"CAS-{number:05d}-{uuid.uuid4().hex[:6].upper()}"
        if table.logical == "annotation":
            self._note(doc, changes)
        if table.logical == "customeraddress":
            parent = doc.get("parentid")
            doc["objecttypecode"] = doc["parentidtypecode"] = parent["type"] if parent else None
            doc["composite"] = _composite(doc)
        if table.logical == "queueitem":
            self._queue_item(doc, changes)
        if table.logical == "product" and ("defaultuomid" in changes or "defaultuomscheduleid" in changes):
            unit, group = doc.get("defaultuomid"), doc.get("defaultuomscheduleid")
            unit_doc = store.get("uom", unit["id"]) if unit else None
            if unit_doc and group and (unit_doc.get("uomscheduleid") or {}).get("id") != group["id"]:
                raise DataverseError(400, INVALID_ARGUMENT, "The unit does not belong to the unit group of the "
                                     "product. Choose a unit from the product's unit group.")

    def _note(self, doc: dict[str, Any], changes: dict[str, Any]) -> None:
        if "documentbody" in changes:
            body = doc.get("documentbody")
            size = 0
            if body:
                try:
                    size = len(base64.b64decode(body, validate=True))
                except (binascii.Error, ValueError) as exc:
                    raise bad_request("The documentbody value is not a valid base64 string.", PAYLOAD_ERROR) from exc
            if size > self.org.config.annotation_max_bytes:
                raise DataverseError(400, ATTACHMENT, "The attachment is either not a valid type or is too large. "
                                     "It cannot be uploaded or downloaded.")
            doc["filesize"] = size
            doc["isdocument"] = bool(body)
        obj = doc.get("objectid")
        doc["objecttypecode"] = obj["type"] if obj else None

    def _required(self, table: Table, doc: dict[str, Any], *, creating: bool) -> None:
        cfg = self.org.config
        if table.logical == "incident" and doc.get("customerid") is None:
            raise DataverseError(400, INVALID_ARGUMENT, "You should specify a parent contact or account.")
        if table.logical == "queueitem" and creating and (doc.get("queueid") is None or doc.get("objectid") is None):
            missing = "queueid" if doc.get("queueid") is None else "objectid"
            raise DataverseError(400, INVALID_ARGUMENT, f"A queue item needs a queue and a queue-enabled record: "
                                 f"'{missing}' is missing.")
        if table.logical == "contact" and cfg.contact_requires_account and doc.get("parentcustomerid") is None:
            raise DataverseError(400, INVALID_ARGUMENT, "A contact must be linked to a parent account "
                                 "(parentcustomerid) in this environment.")
        if (table.logical == "msdyn_customerasset" and cfg.asset_requires_account
                and doc.get("msdyn_account") is None):
            raise DataverseError(400, INVALID_ARGUMENT, "Account is required to create a customer asset.")
        for col in table.columns.values():
            if (col.required == "SystemRequired" and doc.get(col.logical) is None and not col.is_primary_id
                    and (col.create if creating else col.update)):
                raise DataverseError(
                    400, INVALID_ARGUMENT,
                    f"Attribute '{col.logical}' cannot be NULL: it is required (SystemRequired) on entity "
                    f"'{table.logical}'.",
                )

    def _keys(self, table: Table, doc: dict[str, Any], rid: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        delay = self.org.config.key_activation_delay_s
        for keydef in table.keys:
            status = keydef.status(delay)
            if status == "Failed":
                continue
            value = key_value(keydef, doc)
            if value is None:
                continue
            if status == "Active" and any(i != rid for i in self.org.store.find_by_key(table.logical, keydef.logical,
                                                                                         value)):
                names = ", ".join((table.column(a).display_name if table.column(a) else a)  # type: ignore[union-attr]
                                  for a in keydef.attributes)
                raise DataverseError(
                    412, DUPLICATE_KEY,
                    f"A record that has the attribute values {names} already exists. The entity key "
                    f"{keydef.display_name} requires that this set of attributes contains unique values. Select "
                    "unique values and try again.",
                )
            out.append((keydef.logical, value))
        return out

    # -- customer addresses and queue items -----------------------------------------------------------------------
    def _address_number(self, doc: dict[str, Any], rid: str) -> None:
        """Number a customeraddress: the next free one (3+ for accounts, 4+ for contacts) when none is given; a
        number its parent already uses is refused like the platform's unique index (or renumbered, by knob)."""
        parent = doc.get("parentid")
        if parent is None:
            return
        store = self.org.store
        taken: set[int] = set()
        for other_id in store.find_by_key("customeraddress", PARENT_INDEX, parent["id"]):
            other = store.get("customeraddress", other_id) if other_id != rid else None
            if other is not None and other.get("addressnumber") is not None:
                taken.add(int(other["addressnumber"]))
        number = doc.get("addressnumber")
        if number is not None and number in taken and self.org.config.address_number_conflict == "duplicate_key":
            raise duplicate_record(
                "Cannot insert duplicate key row in object 'dbo.CustomerAddressBase' with unique index "
                f"'ndx_customeraddress_parentid_addressnumber'. The duplicate key value is ({parent['id']}, {number}).")
        if number is None or number in taken:
            doc["addressnumber"] = max([EMBEDDED_ADDRESSES.get(parent["type"], 2), *taken]) + 1

    def _sync_addresses(self, table: Table, doc: dict[str, Any], changed: set[str], caller: str, *,
                        creating: bool) -> None:
        """Mirror an account's/contact's embedded addresses (``address<n>_*``) into its customeraddress rows."""
        count = EMBEDDED_ADDRESSES.get(table.logical)
        addresses = self.org.schema.get("customeraddress")
        if not count or addresses is None:
            return
        store = self.org.store
        pid = str(doc[table.primary_id])
        rows: dict[int, dict[str, Any]] = {}
        if not creating:
            for address_id in store.find_by_key("customeraddress", PARENT_INDEX, pid):
                row = store.get("customeraddress", address_id)
                if row is not None and row.get("addressnumber") is not None:
                    rows[int(row["addressnumber"])] = row
        now = now_iso()
        for n in range(1, count + 1):
            values = {part: doc.get(f"address{n}_{suffix}") for suffix, part in ADDRESS_PARTS.items()}
            row = rows.get(n)
            if row is None:
                if not self.org.config.embedded_address_records and not any(values.values()):
                    continue
                rid = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{pid}/customeraddress/{n}"))  # stable across runs
                row = {c: None for c in addresses.columns}
                row.update(values, customeraddressid=rid, addressnumber=n, createdon=now,
                           parentid={"id": pid, "type": table.logical})
            elif not any(f"address{n}_{suffix}" in changed for suffix in ADDRESS_PARTS):
                continue
            else:
                row = {**row, **values}
            row["objecttypecode"] = row["parentidtypecode"] = table.logical
            row["composite"] = _composite(row)
            row["modifiedon"] = now
            row["modifiedby"] = {"id": caller, "type": "systemuser"}
            row["createdby"] = row.get("createdby") or row["modifiedby"]
            row["transactioncurrencyid"] = row.get("transactioncurrencyid") or {
                "id": self.org.currency_id, "type": "transactioncurrency"}
            row["versionnumber"] = store.next_number("version")
            rid = str(row["customeraddressid"])
            keys = self._keys(addresses, row, rid) + _index(addresses, row)
            if n in rows:
                store.update("customeraddress", rid, row, keys)
            else:
                store.insert("customeraddress", rid, row, keys)

    def _queue_item(self, doc: dict[str, Any], changes: dict[str, Any]) -> None:
        """Title, object type and entered-on time of a queue item come from the platform, not the caller."""
        target = doc.get("objectid")
        if "objectid" in changes and target is not None:
            table = self.org.schema.get(target["type"])
            record = self.org.store.get(target["type"], target["id"]) or {}
            title = record.get(table.primary_name) if table is not None and table.primary_name else None
            doc["title"] = str(title)[:300] if title is not None else None
            doc["objectidtypecode"] = target["type"]
            otc = table.object_type_code if table is not None else None
            queue_items = self.org.schema.get("queueitem")
            column = queue_items.column("objecttypecode") if queue_items is not None else None
            doc["objecttypecode"] = otc if column is not None and otc is not None and column.option(otc) else None
        if doc.get("enteredon") is None or "queueid" in changes:
            doc["enteredon"] = now_iso()

    def active_queue_item(self, target: dict[str, str]) -> dict[str, Any] | None:
        """The active queue item holding ``target`` (``{"id", "type"}``), if any."""
        store = self.org.store
        for item_id in store.find_by_key("queueitem", OBJECT_INDEX, target["id"]):
            item = store.get("queueitem", item_id)
            if item is not None and item.get("statecode") == 0:
                return item
        return None

    # -- reading ----------------------------------------------------------------------------------------------
    def select(self, table: Table, spec: str | None) -> list[Column] | None:
        if not spec:
            return None
        cols: list[Column] = []
        for raw in spec.split(","):
            name = raw.strip()
            col = table.by_value_name(name)
            if col is None or not col.published:
                raise no_property(name, table.logical)
            cols.append(col)
        return cols

    def render(self, table: Table, doc: dict[str, Any], select: list[Column] | None, prefs: Prefs) -> dict[str, Any]:
        out: dict[str, Any] = {"@odata.etag": etag(doc)}
        cols = select if select is not None else [c for c in table.columns.values() if c.published]
        pid = table.column(table.primary_id)
        if pid is not None and pid not in cols:
            cols = [*cols, pid]
        for col in cols:
            raw = doc.get(col.logical)
            if col.type in LOOKUP_TYPES:
                name = col.value_name
                if raw:
                    if prefs.formatted:
                        out[f"{name}@OData.Community.Display.V1.FormattedValue"] = self._name_of(raw)
                    if prefs.lookup_annotations:
                        nav = nav_name_of(table.logical, col, raw["type"])
                        out[f"{name}@Microsoft.Dynamics.CRM.associatednavigationproperty"] = nav
                        out[f"{name}@Microsoft.Dynamics.CRM.lookuplogicalname"] = raw["type"]
                out[name] = raw["id"] if raw else None
                continue
            if prefs.formatted and raw is not None:
                shown = _formatted(col, raw)
                if shown is not None:
                    out[f"{col.logical}@OData.Community.Display.V1.FormattedValue"] = shown
            out[col.logical] = raw
        return out

    def _name_of(self, ref: dict[str, str]) -> str | None:
        target = self.org.schema.get(ref["type"])
        doc = self.org.store.get(ref["type"], ref["id"]) if target else None
        if target is None or doc is None or not target.primary_name:
            return None
        value = doc.get(target.primary_name)
        return str(value) if value is not None else None


#: Tables indexed by the record they hang off (internal ``record_keys``): column, index name.
_INDEXED = {"customeraddress": ("parentid", PARENT_INDEX), "queueitem": ("objectid", OBJECT_INDEX),
            "incidentresolution": ("incidentid", CLOSED_INDEX), "opportunityclose": ("opportunityid", CLOSED_INDEX)}
#: Parental relationships whose delete cascades (Dataverse's CascadeConfiguration Delete = Cascade):
#: table deleted -> the tables whose rows go with it (through the index above).
CASCADE_DELETES = {
    "account": ("customeraddress",),  # Account_CustomerAddress
    "contact": ("customeraddress",),  # Contact_CustomerAddress
    "incident": ("incidentresolution", "queueitem"),  # Incident_IncidentResolutions, queue items of the case
    "opportunity": ("opportunityclose",),  # Opportunity_OpportunityClose
}


def _index(table: Table, doc: dict[str, Any]) -> list[tuple[str, str]]:
    """Internal ``record_keys`` entries: an address by its parent, a queue item by its object, a close
    activity (incidentresolution / opportunityclose) by the record it closed."""
    column, index = _INDEXED.get(table.logical, (None, None))
    ref = doc.get(column) if column else None
    if not ref or index is None:
        return []
    return [(index, str(ref["id"]))]


def _composite(doc: dict[str, Any]) -> str | None:
    """The read-only ``composite`` of an address: street lines, "city, state postal code", country."""
    place = " ".join(p for p in (", ".join(p for p in (doc.get("city"), doc.get("stateorprovince")) if p),
                                 doc.get("postalcode")) if p)
    lines = [doc.get("line1"), doc.get("line2"), doc.get("line3"), place, doc.get("country")]
    text = "\n".join(str(p) for p in lines if p)
    return text or None


def _attr_name(name: str) -> str:
    return name[1:-6] if name.startswith("_") and name.endswith("_value") else name


def _formatted(col: Column, value: Any) -> str | None:
    if col.type in OPTION_TYPES:
        opt = col.option(int(value))
        return opt.label if opt else None
    if col.type == "Boolean":
        opt = col.option(int(bool(value)))
        return opt.label if opt else None
    if col.type == "Money":
        return f"${float(value):,.2f}"
    if col.type in ("Integer", "BigInt"):
        return f"{int(value):,}"
    if col.type == "DateTime":
        return str(value).replace("T", " ").rstrip("Z")
    return None


def _type_error(value: Any, edm: str) -> DataverseError:
    return bad_request(f"Cannot convert the literal '{value}' to the expected type '{edm}'.", PAYLOAD_ERROR)
