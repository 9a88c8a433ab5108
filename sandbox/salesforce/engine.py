"""The write engine shared by REST, sObject Collections and Bulk 2.0.

Every API funnels through :class:`Writer`, so a record that fails over REST fails the
same way in a Bulk job; only the error *envelope* differs (see :mod:`errors`). Order of
checks follows Salesforce: deserialize (done by the caller) -> field existence and
writability -> required -> per-field validation -> object rules -> uniqueness -> save.
Each call writes immediately inside the caller's transaction, so later records of the
same batch see earlier ones (unique values, parents created first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.salesforce import rules
from sandbox.salesforce.errors import RecordError, SfError, ValueParseError, invalid_field, not_writable
from sandbox.salesforce.ids import normalize_id
from sandbox.salesforce.org import Org
from sandbox.salesforce.schema import STRING_TYPES, FieldDef, ObjectDef
from sandbox.salesforce.store import sf_datetime
from sandbox.salesforce.values import coerce

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class RelRef:
    """A lookup given by the parent's external id (``Account.Sercom_Id__c`` / nested JSON object)."""

    fdef: FieldDef
    target: str | None
    ext_field: str
    value: Any


@dataclass
class Prepared:
    """A deserialized incoming record: typed values by canonical field name."""

    values: dict[str, Any] = field(default_factory=dict)
    refs: list[RelRef] = field(default_factory=list)
    errors: list[SfError] = field(default_factory=list)
    record_id: Any = None
    has_id: bool = False


@dataclass
class SaveResult:
    id: str | None
    success: bool
    errors: list[SfError]
    created: bool | None = None


class MultipleMatches(Exception):
    """An upsert key matched more than one record (REST answers 300)."""

    def __init__(self, field_name: str, ids: list[str]) -> None:
        super().__init__(field_name)
        self.field_name = field_name
        self.ids = ids

    def error(self) -> SfError:
        return SfError(
            "DUPLICATE_EXTERNAL_ID",
            f"{self.field_name}: more than one record found for external id field: [{', '.join(self.ids)}]",
            (self.field_name,),
        )


def prepare_json(objdef: ObjectDef, raw: dict[str, Any]) -> Prepared:
    """Deserialize a JSON record body (raises ValueParseError for an undeserializable value)."""
    prep = Prepared()
    for key, value in raw.items():
        if key == "attributes":
            continue
        if key.lower() == "id":
            prep.has_id, prep.record_id = True, value
            continue
        fdef = objdef.field(key)
        if fdef is None:
            rel = objdef.relationship(key)
            if rel is not None and isinstance(value, dict):
                keys = [k for k in value if k != "attributes"]
                target = (value.get("attributes") or {}).get("type")
                if len(keys) != 1:
                    prep.errors.append(
                        SfError(
                            "INVALID_FIELD",
                            f"The relationship {key} must name exactly one external id field of the parent",
                            (rel.name,),
                        )
                    )
                else:
                    prep.refs.append(RelRef(rel, target, keys[0], value[keys[0]]))
                continue
            prep.errors.append(invalid_field(key, objdef.name))
            continue
        prep.values[fdef.name] = coerce(fdef, value)
    return prep


class Writer:
    """Validates and saves records for one API call (or one Bulk batch) as the given user."""

    def __init__(self, org: Org, user_id: str, *, api: str) -> None:
        self.org = org
        self.store = org.store
        self.schema = org.schema
        self.cfg = org.config
        self.user_id = user_id
        self.api = api
        self.now = sf_datetime()
        self._meta: dict[str, tuple[str, bool] | None] = {}
        self._active: dict[str, bool] = {}

    # -- public operations ------------------------------------------------------------------------
    def insert(self, objdef: ObjectDef, prep: Prepared) -> SaveResult:
        try:
            return SaveResult(self._insert(objdef, prep), True, [], created=True)
        except RecordError as exc:
            return SaveResult(None, False, exc.errors)

    def update(self, objdef: ObjectDef | None, prep: Prepared, record_id: Any) -> SaveResult:
        try:
            return SaveResult(self._update(objdef, prep, record_id), True, [], created=False)
        except RecordError as exc:
            nid = normalize_id(record_id) if isinstance(record_id, str) else None
            return SaveResult(nid, False, exc.errors)

    def upsert(self, objdef: ObjectDef, ext: FieldDef, raw_value: Any, prep: Prepared) -> SaveResult:
        """Insert or update by ``ext``; raises MultipleMatches when the key is ambiguous."""
        if prep.errors:
            return SaveResult(None, False, prep.errors)
        if ext.name == "Id":
            if raw_value in (None, ""):
                return self.insert(objdef, prep)
            return self.update(objdef, prep, raw_value)
        try:
            typed = coerce(ext, raw_value)
        except ValueParseError:
            typed = None
        if typed is None:
            return SaveResult(None, False, [SfError("MISSING_ARGUMENT", f"{ext.name} not specified", (ext.name,))])
        ids = self.store.find_by_key(objdef.name, ext.name, ext.key_of(typed))
        if len(ids) > 1:
            raise MultipleMatches(ext.name, ids)
        if ids:
            return self.update(objdef, prep, ids[0])
        prep.values[ext.name] = typed
        return self.insert(objdef, prep)

    def delete(self, record_id: Any, *, hard: bool = False, objdef: ObjectDef | None = None) -> SaveResult:
        try:
            return SaveResult(self._delete(record_id, hard, objdef), True, [])
        except RecordError as exc:
            nid = normalize_id(record_id) if isinstance(record_id, str) else None
            return SaveResult(nid, False, exc.errors)

    # -- insert / update / delete ---------------------------------------------------------------
    def _insert(self, objdef: ObjectDef, prep: Prepared) -> str:
        if prep.errors:
            raise RecordError(*prep.errors)
        if prep.has_id and prep.record_id not in (None, ""):
            message = (
                "The Id field should not be specified in the sobject data."
                if self.api == "rest"
                else "cannot specify Id in an insert call"
            )
            raise RecordError(SfError("INVALID_FIELD", message, ("Id",)))
        if not objdef.createable:
            raise RecordError(SfError("INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {objdef.label}"))
        values = dict(prep.values)
        self._resolve_refs(prep.refs, values)
        refused = [n for n in values if not self.org.field_createable(objdef.fields[n])]
        if refused:
            raise RecordError(not_writable(refused))
        doc = self._defaults(objdef)
        for name, value in values.items():
            if value is not None or objdef.fields[name].nillable:
                doc[name] = value
        missing = [name for name in objdef.required if doc.get(name) is None]
        if missing:
            raise RecordError(
                SfError(
                    "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", tuple(missing)
                )
            )
        self._validate(objdef, values)
        doc.update({k: v for k, v in values.items() if v is not None})
        rules.apply(self, objdef, doc, None)
        self._check_unique(objdef, doc, None)
        self._maybe_lock()
        record_id = self.store.new_id(objdef.key_prefix)
        doc["Id"] = record_id
        self._system_fields(objdef, doc, insert=True)
        rules.before_save_insert(self, objdef, record_id, doc)
        keys = [(f.name, f.key_of(doc[f.name])) for f in objdef.keyed if doc.get(f.name) is not None]
        self.store.insert_record(objdef.name, record_id, _ordered(objdef, doc), keys)
        self._meta[record_id] = (objdef.name, False)
        rules.after_insert(self, objdef, record_id, doc)
        return record_id

    def _load(self, record_id: Any, objdef: ObjectDef | None) -> tuple[str, ObjectDef, dict[str, Any]]:
        nid = normalize_id(record_id) if isinstance(record_id, str) else None
        label = objdef.label if objdef else "Record"
        if nid is None:
            raise RecordError(SfError("MALFORMED_ID", f"{label} ID: id value of incorrect type: {record_id}", ("Id",)))
        got = self.store.get_record(nid)
        if got is None:
            raise RecordError(SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ()))
        obj, doc, deleted = got
        if deleted:
            raise RecordError(SfError("ENTITY_IS_DELETED", "entity is deleted", ()))
        if objdef is not None and obj != objdef.name:
            raise RecordError(SfError("MALFORMED_ID", f"{label} ID: id value of incorrect type: {nid}", ("Id",)))
        return nid, self.schema.objects[obj], doc

    def _update(self, objdef: ObjectDef | None, prep: Prepared, record_id: Any) -> str:
        if prep.errors:
            raise RecordError(*prep.errors)
        nid, objdef, doc = self._load(record_id, objdef)
        if not objdef.updateable:
            raise RecordError(SfError("INVALID_TYPE_FOR_OPERATION", f"entity type cannot be updated: {objdef.label}"))
        values = dict(prep.values)
        self._resolve_refs(prep.refs, values)
        refused = [n for n in values if not objdef.fields[n].updateable]
        if refused:
            raise RecordError(not_writable(refused))
        nulled = [n for n, v in values.items() if v is None and not objdef.fields[n].nillable]
        for name in list(nulled):
            if objdef.fields[name].type == "boolean":
                values[name] = False
                nulled.remove(name)
        if nulled:
            raise RecordError(
                SfError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(nulled)}]", tuple(nulled))
            )
        self._validate(objdef, values)
        merged = {**doc, **values}
        rules.apply(self, objdef, merged, doc)
        self._check_unique(objdef, values, nid)
        self._maybe_lock()
        self._system_fields(objdef, merged, insert=False)
        keys = {
            f.name: (f.key_of(merged[f.name]) if merged.get(f.name) is not None else None)
            for f in objdef.keyed
            if merged.get(f.name) != doc.get(f.name)
        }
        self.store.update_record(objdef.name, nid, _ordered(objdef, merged), keys)
        return nid

    def _delete(self, record_id: Any, hard: bool, objdef: ObjectDef | None) -> str:
        nid = normalize_id(record_id) if isinstance(record_id, str) else None
        if nid is None:
            raise RecordError(SfError("MALFORMED_ID", f"malformed id {record_id}", ()))
        got = self.store.get_record(nid)
        if got is None:
            raise RecordError(SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ()))
        obj, doc, deleted = got
        if deleted and not hard:
            raise RecordError(SfError("ENTITY_IS_DELETED", "entity is deleted", ()))
        if objdef is not None and obj != objdef.name:
            raise RecordError(SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ()))
        target = self.schema.objects[obj]
        if not target.deletable or obj == "ContentVersion":
            raise RecordError(SfError("INVALID_TYPE_FOR_OPERATION", f"entity type cannot be deleted: {target.label}"))
        self._maybe_lock()
        self.remove(obj, nid, doc, hard)
        rules.after_delete(self, target, nid, hard)
        return nid

    def remove(self, obj: str, nid: str, doc: dict[str, Any], hard: bool) -> None:
        """Delete without checks (also used for cascades)."""
        doc.update(
            {
                "IsDeleted": True,
                "SystemModstamp": self.now,
                "LastModifiedDate": self.now,
                "LastModifiedById": self.user_id,
            }
        )
        self.store.delete_record(nid, doc, hard)
        self._meta[nid] = None if hard else (obj, True)

    def raw_insert(self, objdef: ObjectDef, doc: dict[str, Any]) -> str:
        """Insert a system-generated record (ContentDocument, its links) without API validation."""
        record_id = doc.get("Id") or self.store.new_id(objdef.key_prefix)
        doc["Id"] = record_id
        self._system_fields(objdef, doc, insert=True)
        keys = [
            (f.name, f.key_of(doc[f.name])) for f in objdef.fields.values() if f.keyed and doc.get(f.name) is not None
        ]
        self.store.insert_record(objdef.name, record_id, _ordered(objdef, doc), keys)
        self._meta[record_id] = (objdef.name, False)
        return record_id

    def raw_update(self, objdef: ObjectDef, record_id: str, changes: dict[str, Any]) -> None:
        got = self.store.get_record(record_id)
        if got is None:
            return
        doc = {**got[1], **changes, "SystemModstamp": self.now}
        self.store.update_record(objdef.name, record_id, _ordered(objdef, doc))

    # -- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _defaults(objdef: ObjectDef) -> dict[str, Any]:
        return dict(objdef.defaults)

    def _system_fields(self, objdef: ObjectDef, doc: dict[str, Any], *, insert: bool) -> None:
        if insert:
            doc["IsDeleted"] = False
            if "OwnerId" in objdef.fields and doc.get("OwnerId") is None:
                doc["OwnerId"] = self.user_id
            doc.setdefault("CreatedDate", None)
            doc["CreatedDate"] = doc["CreatedDate"] or self.now
            doc["CreatedById"] = doc.get("CreatedById") or self.user_id
            doc["LastModifiedDate"] = doc.get("LastModifiedDate") or self.now
            doc["LastModifiedById"] = doc.get("LastModifiedById") or self.user_id
        else:
            doc["LastModifiedDate"] = self.now
            doc["LastModifiedById"] = self.user_id
        doc["SystemModstamp"] = self.now

    def _resolve_refs(self, refs: list[RelRef], values: dict[str, Any]) -> None:
        for ref in refs:
            values[ref.fdef.name] = self._resolve_ref(ref)

    def _resolve_ref(self, ref: RelRef) -> str | None:
        if ref.value in (None, ""):
            return None
        targets = [ref.target] if ref.target else self.schema.reference_targets(ref.fdef)
        rel = ref.fdef.relationship_name
        tdef = self.schema.get(targets[0]) if len(targets) == 1 and targets[0] else None
        if tdef is None or not self.schema.accepts(ref.fdef, tdef.name):
            raise RecordError(
                SfError(
                    "INVALID_FIELD", f"Cannot resolve the parent type of relationship {rel}; name it explicitly", ()
                )
            )
        ext = tdef.field(ref.ext_field)
        if ext is None:
            raise RecordError(invalid_field(ref.ext_field, tdef.name))
        if ext.name == "Id":
            return normalize_id(str(ref.value)) or str(ref.value)
        if not ext.keyed:
            raise RecordError(
                SfError(
                    "INVALID_FIELD",
                    f"Field name provided, {ext.name} is not an External ID or indexed field for {tdef.name}",
                    (),
                )
            )
        try:
            typed = coerce(ext, ref.value)
        except ValueParseError:
            typed = ref.value
        ids = self.store.find_by_key(tdef.name, ext.name, ext.key_of(typed))
        if not ids:
            raise RecordError(
                SfError(
                    "INVALID_FIELD",
                    f"Foreign key external ID: {ref.value} not found for field {ext.name} in entity {tdef.name}",
                    (),
                )
            )
        if len(ids) > 1:
            raise RecordError(
                SfError(
                    "INVALID_FIELD",
                    f"Foreign key external ID: {ref.value} matches more than one {tdef.name} on field {ext.name}",
                    (),
                )
            )
        return ids[0]

    def _validate(self, objdef: ObjectDef, values: dict[str, Any]) -> None:
        errors: list[SfError] = []
        for name, value in list(values.items()):
            if value is None:
                continue
            fdef = objdef.fields[name]
            label = fdef.display_label
            try:
                if fdef.type == "reference":
                    values[name] = self.check_reference(objdef, fdef, value)
                elif fdef.type in STRING_TYPES and fdef.length and len(value) > fdef.length:
                    errors.append(
                        SfError(
                            "STRING_TOO_LONG",
                            f"{label}: data value too large: {value} (max length={fdef.length})",
                            (name,),
                        )
                    )
                elif fdef.type == "picklist" and self.org.is_restricted(fdef) and value not in fdef.picklist:
                    errors.append(
                        SfError(
                            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                            f"{label}: bad value for restricted picklist field: {value}",
                            (name,),
                        )
                    )
                elif fdef.type == "email" and not _EMAIL_RE.match(value):
                    errors.append(SfError("INVALID_EMAIL_ADDRESS", f"{label}: invalid email address: {value}", (name,)))
                elif fdef.type in ("double", "currency", "percent", "int") and fdef.precision:
                    values[name] = self._check_number(fdef, value)
            except RecordError as exc:
                errors.extend(exc.errors)
        if errors:
            raise RecordError(*errors)

    @staticmethod
    def _check_number(fdef: FieldDef, value: float | int) -> float | int:
        digits = fdef.precision - fdef.scale
        if abs(value) >= 10**digits:
            raise RecordError(
                SfError(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    f"{fdef.display_label}: value outside of valid range on numeric field: {value}",
                    (fdef.name,),
                )
            )
        if fdef.type == "int":
            return value
        quantum = Decimal(1).scaleb(-fdef.scale)
        return float(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP))  # Salesforce rounds half-up

    def check_reference(self, objdef: ObjectDef, fdef: FieldDef, value: Any) -> str:
        label = fdef.display_label
        nid = normalize_id(str(value))
        if nid is None:
            raise RecordError(SfError("MALFORMED_ID", f"{label}: id value of incorrect type: {value}", (fdef.name,)))
        meta = self.meta(nid)
        if meta is None:
            raise RecordError(SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", (fdef.name,)))
        target, deleted = meta
        if deleted:
            raise RecordError(SfError("ENTITY_IS_DELETED", "entity is deleted", (fdef.name,)))
        if not self.schema.accepts(fdef, target):
            raise RecordError(
                SfError(
                    "INVALID_CROSS_REFERENCE_KEY",
                    f"invalid cross reference id: {label} cannot point to a {target}",
                    (fdef.name,),
                )
            )
        if (
            target == "User"
            and fdef.name == "OwnerId"
            and not self.cfg.audit_fields_permission
            and not self.user_active(nid)
        ):
            raise RecordError(
                SfError(
                    "INACTIVE_OWNER_OR_USER",
                    f"operation performed with inactive user [{nid}] as owner of {objdef.label.lower()}",
                    (),
                )
            )
        return nid

    def meta(self, nid: str) -> tuple[str, bool] | None:
        if nid not in self._meta:
            self._meta[nid] = self.store.record_meta(nid)
        return self._meta[nid]

    def user_active(self, uid: str) -> bool:
        if uid not in self._active:
            got = self.store.get_record(uid)
            self._active[uid] = bool(got and got[1].get("IsActive"))
        return self._active[uid]

    def _check_unique(self, objdef: ObjectDef, values: dict[str, Any], self_id: str | None) -> None:
        for name, value in values.items():
            fdef = objdef.fields.get(name)
            if fdef is None or not fdef.unique or value is None:
                continue
            others = [i for i in self.store.find_by_key(objdef.name, name, fdef.key_of(value)) if i != self_id]
            if others:
                raise RecordError(
                    SfError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {name} duplicates value on record with id: {others[0]}",
                        (),
                    )
                )

    def _maybe_lock(self) -> None:
        if self.api != "rest" and self.org.roll(self.cfg.fault_lock_row_rate):
            raise RecordError(SfError("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record", ()))

    def next_auto_number(self, objdef: ObjectDef, fmt: str, start: int = 1) -> str:
        number = self.store.next_number(f"autonumber:{objdef.name}") + start - 1
        match = re.search(r"\{(0+)\}", fmt)
        if not match:
            return fmt + str(number)
        return fmt[: match.start()] + str(number).zfill(len(match.group(1))) + fmt[match.end() :]


def _ordered(objdef: ObjectDef, doc: dict[str, Any]) -> dict[str, Any]:
    """Store fields in describe order so snapshots and JSON output are stable."""
    return {name: doc[name] for name in objdef.fields if name in doc}
