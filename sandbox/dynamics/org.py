"""The running environment: store + schema + config + seeded identity, shared by every request.

Creating an environment (first start) seeds the organisation and tenant ids, the app
registration's credentials, the root business unit, the application user, users from
``--users-file``, a default team and queue, the "Default Unit" unit group with its
"Primary Unit", and the USD base currency. Serving an existing state file changes nothing.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
import uuid
from pathlib import Path
from typing import Any

from sandbox.dynamics.config import DynamicsStandinConfig
from sandbox.dynamics.custom_schema import (
    column_from_stored,
    key_from_stored,
    normalise_column,
    normalise_key,
    normalise_relationship,
    normalise_table,
    table_from_stored,
)
from sandbox.dynamics.errors import INVALID_ARGUMENT, DataverseError
from sandbox.dynamics.schema import KeyDef, Schema, Table, metadata_id
from sandbox.dynamics.standard_tables import standard_tables
from sandbox.dynamics.store import Store
from sandbox.dynamics.values import key_text, now_iso

FIRST_CUSTOM_OTC = 10_200


class Org:
    """Everything a request handler needs about the environment."""

    def __init__(self, state_path: Path, config: DynamicsStandinConfig) -> None:
        self.state_path = state_path
        self.store = Store(state_path)
        self.config = config
        self.schema_lock = threading.RLock()
        self.rng = random.Random(config.fault_seed)
        self.rng_lock = threading.Lock()
        ident = self.store.get_meta("identity")
        if ident is None:
            raise RuntimeError(f"{state_path} is not an initialised stand-in environment; run create_org first")
        self.identity: dict[str, str] = json.loads(ident)
        self.org_id = self.identity["org_id"]
        self.tenant_id = self.identity["tenant_id"]
        self.app_user_id = self.identity["app_user_id"]
        self.business_unit_id = self.identity["business_unit_id"]
        self.currency_id = self.identity["currency_id"]
        self.schema = self._build_schema()

    # -- config / faults --------------------------------------------------------------------------------------
    def set_config(self, config: DynamicsStandinConfig) -> None:
        if config.fault_seed != self.config.fault_seed:
            with self.rng_lock:
                self.rng = random.Random(config.fault_seed)
        rebuild = config.field_service != self.config.field_service
        self.config = config
        if rebuild:
            with self.schema_lock:
                self.schema = self._build_schema()

    def roll(self, rate: float) -> bool:
        """One deterministic (seeded) fault draw."""
        if rate <= 0:
            return False
        with self.rng_lock:
            return self.rng.random() < rate

    def credentials(self) -> dict[str, str]:
        return {"client_id": self.identity["client_id"], "client_secret": self.identity["client_secret"]}

    # -- schema -----------------------------------------------------------------------------------------------
    def _build_schema(self) -> Schema:
        tables = standard_tables(self.config.field_service)
        for _logical, stored, _created in self.store.custom_tables():
            table = table_from_stored(stored)
            tables[table.logical] = table
        for tbl, _logical, stored, _created in self.store.custom_columns():
            if tbl in tables:
                col = column_from_stored(stored)
                tables[tbl].columns[col.logical] = col
        keys: dict[str, list[KeyDef]] = {}
        for tbl, _logical, stored, created, failed in self.store.custom_keys():
            keys.setdefault(tbl, []).append(key_from_stored(stored, created, failed))
        for tbl, defs in keys.items():
            if tbl in tables:
                tables[tbl].keys = tuple(defs)
        return Schema(tables)

    def custom_table_count(self) -> int:
        return len(self.store.custom_tables())

    def add_custom_table(self, meta: dict[str, Any]) -> Table:
        cfg = self.config
        with self.schema_lock:
            if cfg.sku == "professional" and self.custom_table_count() >= cfg.custom_table_limit:
                raise DataverseError(
                    400,
                    INVALID_ARGUMENT,
                    f"You can't create more than {cfg.custom_table_limit} custom tables with your Dynamics 365 "
                    "Professional license. Remove a custom table or upgrade to an Enterprise license.",
                )
            otc = FIRST_CUSTOM_OTC + self.custom_table_count()
            stored = normalise_table(meta, cfg.publisher_prefix, cfg.option_value_prefix, otc,
                                     not cfg.metadata_publish_required)
            logical = str(stored["SchemaName"]).lower()
            if self.schema.get(logical) is not None or self.schema.by_entity_set(logical + "s") is not None:
                raise DataverseError(
                    400, "0x80044363", f"An entity with the specified name {stored['SchemaName']} already exists."
                )
            self.store.add_custom_table(logical, stored)
            self.schema = self._build_schema()
            table = self.schema.get(logical)
            assert table is not None
            return table

    def add_custom_column(self, table: Table, meta: dict[str, Any]) -> str:
        cfg = self.config
        with self.schema_lock:
            stored = normalise_column(meta, cfg.publisher_prefix, cfg.option_value_prefix,
                                      not cfg.metadata_publish_required)
            logical = str(stored["SchemaName"]).lower()
            if table.column(logical) is not None:
                raise DataverseError(
                    400,
                    "0x80047013",
                    f"An attribute with the specified name {stored['SchemaName']} already exists for entity "
                    f"{table.logical}.",
                )
            self.store.add_custom_column(table.logical, logical, stored)
            self.schema = self._build_schema()
            return logical

    def add_relationship(self, meta: dict[str, Any]) -> dict[str, Any]:
        """A one-to-many relationship: its lookup column on the referencing table (stored as a custom column)."""
        cfg = self.config
        with self.schema_lock:
            odata_type = str(meta.get("@odata.type", "")).rsplit(".", 1)[-1]
            if odata_type == "ManyToManyRelationshipMetadata":
                raise DataverseError(400, INVALID_ARGUMENT, "Many-to-many relationships are not emulated by the "
                                     "stand-in.")
            if odata_type != "OneToManyRelationshipMetadata":
                raise DataverseError(400, INVALID_ARGUMENT, "The @odata.type of a relationship must be "
                                     "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata or "
                                     "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata.")
            tables = []
            for role in ("ReferencingEntity", "ReferencedEntity"):
                table = self.schema.get(str(meta.get(role) or "").lower())
                if table is None or not table.published:
                    raise DataverseError(404, "0x80040217", f"Could not find entity with LogicalName = "
                                         f"'{meta.get(role)}' in the MetadataCache.")
                tables.append(table)
            referencing, referenced = tables
            if not referencing.can_be_referencing:
                raise DataverseError(400, INVALID_ARGUMENT, f"The entity {referencing.logical} cannot be the "
                                     "referencing entity in a one-to-many relationship (CanBeReferencing is false).")
            stored = normalise_relationship(meta, referencing, referenced, cfg.publisher_prefix,
                                            not cfg.metadata_publish_required)
            relationship = str(stored["Relationship"]["SchemaName"])
            if self.relationship(relationship) is not None:
                raise DataverseError(400, "0x80047013", f"A relationship with the specified name {relationship} "
                                     "already exists.")
            logical = str(stored["SchemaName"]).lower()
            if referencing.column(logical) is not None:
                raise DataverseError(
                    400, "0x80047013",
                    f"An attribute with the specified name {stored['SchemaName']} already exists for entity "
                    f"{referencing.logical}.",
                )
            nav = str(stored["NavigationProperty"])
            if nav in referencing.navs or referencing.column(nav) is not None:
                raise DataverseError(400, "0x80047013", f"A navigation property named {nav} already exists on "
                                     f"entity {referencing.logical}.")
            self.store.add_custom_column(referencing.logical, logical, stored)
            self.schema = self._build_schema()
            return self.relationship(relationship) or {}

    def relationship(self, key: str) -> dict[str, Any] | None:
        """A custom one-to-many relationship by SchemaName or MetadataId (with its lookup's names)."""
        for tbl, logical, stored, _created in self.store.custom_columns():
            rel = stored.get("Relationship")
            if not rel:
                continue
            meta_id = metadata_id("relationship", str(rel["SchemaName"]))
            if key.lower() in (str(rel["SchemaName"]).lower(), meta_id):
                return {"MetadataId": meta_id, **rel, "ReferencingAttribute": logical, "ReferencingEntity": tbl,
                        "ReferencingEntityNavigationPropertyName": stored["NavigationProperty"],
                        "_published": stored.get("_published", True)}
        return None

    def add_custom_key(self, table: Table, meta: dict[str, Any]) -> KeyDef:
        with self.schema_lock:
            stored = normalise_key(meta, table, self.config.publisher_prefix)
            logical = str(stored["SchemaName"]).lower()
            if any(k.logical == logical for k in table.keys):
                raise DataverseError(
                    400, "0x80060893", f"An entity key with the name {stored['SchemaName']} already exists."
                )
            if table.key_for(set(stored["KeyAttributes"])) is not None:
                raise DataverseError(
                    400, "0x80060893", "An entity key with the same set of attributes already exists on this entity."
                )
            probe = KeyDef(logical, stored["SchemaName"], tuple(stored["KeyAttributes"]), "", 0.0)
            rows: list[tuple[str, str]] = []
            for doc in self.store.scan(table.logical):
                value = key_value(probe, doc)
                if value is not None:
                    rows.append((value, str(doc[table.primary_id])))
            failed = len({v for v, _ in rows}) != len(rows)  # duplicates: the index job fails (issue #870)
            with self.store.tx():
                self.store.add_custom_key(table.logical, logical, stored, failed)
                if not failed:
                    self.store.replace_key_index(table.logical, logical, rows)
            self.schema = self._build_schema()
            built = self.schema.get(table.logical)
            assert built is not None
            return next(k for k in built.keys if k.logical == logical)

    def publish_all(self) -> None:
        with self.schema_lock:
            self.store.publish_all()
            self.schema = self._build_schema()


def key_value(key: KeyDef, doc: dict[str, Any]) -> str | None:
    """Index text of a record's values for ``key`` (None when any part is empty)."""
    parts = []
    for name in key.attributes:
        value = doc.get(name)
        if value is None:
            return None
        parts.append(key_text(value))
    return "|".join(parts)


def create_org(state_path: Path, users: list[dict[str, Any]] | None = None) -> dict[str, str]:
    """Initialise a new state file; returns the identity (ids and credentials)."""
    store = Store(state_path)
    try:
        if store.get_meta("identity") is not None:
            raise RuntimeError(f"{state_path} already holds an environment")
        org_id = str(uuid.uuid4())
        ident = {
            "org_id": org_id,
            "tenant_id": str(uuid.uuid4()),
            "client_id": str(uuid.uuid4()),
            "client_secret": secrets.token_urlsafe(6) + "8Q~" + secrets.token_urlsafe(24),
            "org_name": f"flitstack{org_id[:8]}",
            "app_user_id": str(uuid.uuid4()),
            "business_unit_id": str(uuid.uuid4()),
            "team_id": str(uuid.uuid4()),
            "queue_id": str(uuid.uuid4()),
            "currency_id": str(uuid.uuid4()),
            "uomschedule_id": str(uuid.uuid4()),
            "uom_id": str(uuid.uuid4()),
        }
        seeder = _Seeder(store, ident)
        with store.tx():
            store.set_meta("identity", json.dumps(ident))
            store.set_meta("org_id", org_id)
            bu = ident["business_unit_id"]
            seeder.add("businessunit", bu, {"name": ident["org_name"], "parentbusinessunitid": None})
            seeder.add("systemuser", ident["app_user_id"], _user(
                {"firstname": "# FlitStack", "lastname": "Migration",
                 "internalemailaddress": f"flitstack-migration@{ident['org_name']}.example"}, bu,
                applicationid=ident["client_id"], accessmode=4))
            for spec in users or []:
                seeder.add("systemuser", str(uuid.uuid4()), _user(spec, bu))
            seeder.add("team", ident["team_id"], {"name": ident["org_name"], "teamtype": 0, "isdefault": True,
                                                 "businessunitid": _ref("businessunit", bu), "administratorid": None})
            seeder.add("queue", ident["queue_id"], {"name": f"<{ident['org_name']}>", "emailaddress": None,
                                                   "description": "Default queue", "statecode": 0, "statuscode": 1})
            seeder.add("transactioncurrency", ident["currency_id"], {
                "currencyname": "US Dollar", "isocurrencycode": "USD", "currencysymbol": "$", "exchangerate": 1.0,
                "statecode": 0, "statuscode": 1})
            seeder.add("uomschedule", ident["uomschedule_id"], {"name": "Default Unit", "baseuomname": "Primary Unit",
                                                               "description": None, "statecode": 0, "statuscode": 1})
            seeder.add("uom", ident["uom_id"], {
                "name": "Primary Unit", "uomscheduleid": _ref("uomschedule", ident["uomschedule_id"]),
                "baseuom": None, "quantity": 1.0, "isschedulebaseuom": True})
        return ident
    finally:
        store.close()


def _ref(table: str, record_id: str) -> dict[str, str]:
    return {"id": record_id, "type": table}


def _user(spec: dict[str, Any], bu: str, *, applicationid: str | None = None, accessmode: int = 0) -> dict[str, Any]:
    first = spec.get("firstname") or None
    last = spec.get("lastname") or "User"
    email = spec.get("internalemailaddress")
    return {
        "firstname": first,
        "lastname": last,
        "fullname": " ".join(p for p in (first, last) if p),
        "internalemailaddress": email,
        "domainname": email or f"{uuid.uuid4().hex[:8]}@example.invalid",
        "isdisabled": bool(spec.get("isdisabled", False)),
        "applicationid": applicationid,
        "businessunitid": _ref("businessunit", bu),
        "accessmode": accessmode,
    }


class _Seeder:
    """Writes seed records with the audit columns a real environment would show."""

    def __init__(self, store: Store, ident: dict[str, str]) -> None:
        self.store = store
        self.ident = ident
        self.now = now_iso()

    def add(self, table: str, record_id: str, fields: dict[str, Any]) -> None:
        app = _ref("systemuser", self.ident["app_user_id"])
        doc: dict[str, Any] = {
            f"{table}id": record_id,
            "createdon": self.now,
            "modifiedon": self.now,
            "createdby": app,
            "modifiedby": app,
            "overriddencreatedon": None,
            "versionnumber": self.store.next_number("version"),
            "importsequencenumber": None,
            **fields,
        }
        if table == "queue":
            doc.update(ownerid=app, owninguser=app, owningteam=None,
                       owningbusinessunit=_ref("businessunit", self.ident["business_unit_id"]))
        self.store.insert(table, record_id, doc, [])
