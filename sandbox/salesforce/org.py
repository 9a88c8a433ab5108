"""The running org: store + schema + config + seeded identity, shared by every route.

Creating an org (first start) seeds the org id, OAuth credentials, the integration admin
user and any users from ``--users-file``. Serving an existing state file changes nothing.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from sandbox.salesforce.config import SalesforceStandinConfig
from sandbox.salesforce.custom_schema import build_field, build_object, integrity
from sandbox.salesforce.errors import ApiError
from sandbox.salesforce.ids import POD, base62, to18
from sandbox.salesforce.schema import FieldDef, ObjectDef, Schema
from sandbox.salesforce.standard_objects import standard_objects
from sandbox.salesforce.store import Store, sf_datetime

USER_PREFIX = "005"


class Org:
    """Everything a request handler needs about the org."""

    def __init__(self, state_path: Path, config: SalesforceStandinConfig) -> None:
        self.state_path = state_path
        self.store = Store(state_path)
        self.config = config
        self.schema_lock = threading.RLock()
        self.rng = random.Random(config.fault_seed)
        self.rng_lock = threading.Lock()
        if self.store.get_meta("org_id") is None:
            raise RuntimeError(f"{state_path} is not an initialised stand-in org; run create_org first")
        self.org_id = str(self.store.get_meta("org_id"))
        self.admin_user_id = str(self.store.get_meta("admin_user_id"))
        self.schema = self._build_schema()
        self.store.build_query_keys({o.name: [f.name for f in o.keyed] for o in self.schema.objects.values()})

    # -- config / faults -------------------------------------------------------------------------
    def set_config(self, config: SalesforceStandinConfig) -> None:
        if config.fault_seed != self.config.fault_seed:
            with self.rng_lock:
                self.rng = random.Random(config.fault_seed)
        self.config = config

    def roll(self, rate: float) -> bool:
        """One deterministic (seeded) fault draw."""
        if rate <= 0:
            return False
        with self.rng_lock:
            return self.rng.random() < rate

    def credentials(self) -> dict[str, str]:
        raw = self.store.get_meta("credentials")
        return json.loads(raw) if raw else {}

    # -- schema ----------------------------------------------------------------------------------
    def _build_schema(self) -> Schema:
        objects = standard_objects()
        for name, oid, prefix, meta, _created in self.store.custom_objects():
            objects[name] = build_object(name, prefix, meta, oid)
        schema = Schema(objects)
        for obj, name, fid, meta, _created in self.store.custom_fields():
            target = schema.get(obj)
            if target is not None:
                target.add_field(_with_id(build_field(name, meta, lambda t: _canonical(schema, t)), fid))
        return schema

    def field_createable(self, fdef: FieldDef) -> bool:
        return self.config.audit_fields_permission if fdef.audit else fdef.createable

    def is_restricted(self, fdef: FieldDef) -> bool:
        if not fdef.restricted:
            return False
        return self.config.standard_picklists_restricted if fdef.restrictable else True

    def add_custom_field(self, full_name: str, meta: dict[str, Any]) -> str:
        obj_name, _, field_name = full_name.partition(".")
        if not field_name:
            raise integrity(f"FullName must look like 'Object.Field__c', not {full_name!r}")
        with self.schema_lock:
            objdef = self.schema.get(obj_name)
            if objdef is None:
                raise integrity(f"Cannot find object '{obj_name}' for field {full_name}", "INVALID_CROSS_REFERENCE_KEY")
            fdef = build_field(field_name, meta, lambda t: _canonical(self.schema, t))
            if objdef.field(field_name) is not None:
                raise ApiError.of(
                    400,
                    "DUPLICATE_DEVELOPER_NAME",
                    f"There is already a field named {field_name[:-3]} on {objdef.label}.",
                    [],
                )
            fid = self.store.new_id("00N")
            self.store.add_custom_field(objdef.name, field_name, fid, meta)
            fdef = _with_id(fdef, fid)
            new_obj = objdef.copy()
            new_obj.add_field(fdef)
            self._replace_object(new_obj)
            if fdef.keyed:
                self.store.reindex_field(objdef.name, fdef.name, fdef.key_of)
            return fid

    def add_custom_object(self, full_name: str, meta: dict[str, Any]) -> str:
        with self.schema_lock:
            if self.schema.get(full_name) is not None:
                raise ApiError.of(
                    400,
                    "DUPLICATE_DEVELOPER_NAME",
                    f"There is already an object named {full_name[:-3]}.",
                    [],
                )
            number = self.store.next_number("custom_object_prefix")
            prefix = "a" + base62(number, 2)
            oid = self.store.new_id("01I")
            objdef = build_object(full_name, prefix, meta, oid)
            self.store.add_custom_object(full_name, oid, prefix, meta)
            self._replace_object(objdef)
            return oid

    def remove_custom_field(self, fid: str) -> bool:
        """Delete a custom field by its Tooling id; False when no field has it."""
        with self.schema_lock:
            hit = next(((o, n) for o, n, i, _m, _d in self.store.custom_fields() if i[:15] == fid[:15]), None)
            if hit is None:
                return False
            obj, name = hit
            self.store.remove_custom_field(obj, name)
            objdef = self.schema.get(obj)
            if objdef is not None:
                new_obj = objdef.copy()
                new_obj.fields.pop(name, None)
                new_obj.reindex()
                self._replace_object(new_obj)
            return True

    def remove_custom_object(self, oid: str) -> bool:
        """Delete a custom object (its fields and records with it) by its Tooling id; False when none has it."""
        with self.schema_lock:
            name = next((n for n, i, _p, _m, _d in self.store.custom_objects() if i[:15] == oid[:15]), None)
            if name is None:
                return False
            self.store.remove_custom_object(name)
            objects = {k: v for k, v in self.schema.objects.items() if k != name}
            self.schema = Schema(objects)
            return True

    def _replace_object(self, objdef: ObjectDef) -> None:
        objects = dict(self.schema.objects)
        objects[objdef.name] = objdef
        self.schema = Schema(objects)  # swap atomically: readers keep a consistent old view


def _canonical(schema: Schema, name: str) -> str | None:
    objdef = schema.get(name)
    return objdef.name if objdef else None


def _with_id(fdef: FieldDef, fid: str) -> FieldDef:
    return replace(fdef, durable_id=fid)


def create_org(state_path: Path, users: list[dict[str, Any]] | None = None) -> dict[str, str]:
    """Initialise a new state file: org id, credentials, admin user, seeded users. Returns credentials."""
    store = Store(state_path)
    try:
        if store.get_meta("org_id") is not None:
            raise RuntimeError(f"{state_path} already holds an org")
        org_id = to18("00D" + POD + base62(random.SystemRandom().randrange(62**9), 9))
        domain = f"flitstack-{org_id[-6:].lower()}.example"
        creds = {
            "username": f"integration@{domain}",
            "password": secrets.token_urlsafe(12),
            "client_id": "3MVG9" + secrets.token_urlsafe(30).replace("-", "A").replace("_", "B"),
            "client_secret": secrets.token_hex(32).upper(),
        }
        now = sf_datetime()
        with store.tx():
            store.set_meta("org_id", org_id)
            store.set_meta("credentials", json.dumps(creds))
            store.set_meta("created_date", now)
            admin_id = store.new_id(USER_PREFIX)
            store.set_meta("admin_user_id", admin_id)
            _add_user(
                store,
                admin_id,
                admin_id,
                now,
                {
                    "FirstName": "Integration",
                    "LastName": "User",
                    "Email": creds["username"],
                    "Username": creds["username"],
                    "IsActive": True,
                    "Title": "Migration integration user",
                },
            )
            for spec in users or []:
                _add_user(store, store.new_id(USER_PREFIX), admin_id, now, spec, domain=domain)
        return creds
    finally:
        store.close()


def _add_user(store: Store, uid: str, admin_id: str, now: str, spec: dict[str, Any], *, domain: str = "") -> None:
    first = spec.get("FirstName") or None
    last = spec.get("LastName") or "User"
    email = spec.get("Email") or f"{uid.lower()}@{domain}"
    data = {
        "Id": uid,
        "IsDeleted": False,
        "FirstName": first,
        "LastName": last,
        "Name": " ".join(p for p in (first, last) if p),
        "Email": email,
        "Username": spec.get("Username") or f"{email}.{domain or 'sandbox'}",
        "Alias": spec.get("Alias") or ((first or "")[:1] + last)[:8].lower(),
        "IsActive": bool(spec.get("IsActive", True)),
        "Title": spec.get("Title"),
        "CreatedDate": now,
        "CreatedById": admin_id,
        "LastModifiedDate": now,
        "LastModifiedById": admin_id,
        "SystemModstamp": now,
    }
    username_field = standard_objects()["User"].fields["Username"]
    store.insert_record("User", uid, data, [("Username", username_field.key_of(data["Username"]))])
