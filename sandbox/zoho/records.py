"""The write engine: insert / update / upsert / delete of up to 100 records a call, one result per record.

Records are processed in request order; each one succeeds or fails on its own (Zoho's 207
semantics: a failed record never rolls the others back). Checks, in Zoho's order of concern:
mandatory fields, value types and lengths, restricted pick-lists, lookups that must resolve,
``$se_module`` with ``What_Id``, Deal pipeline/stage, unique and external fields. An insert with
workflow triggers on fires the seeded workflow (a follow-up Task for a new Lead).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.zoho.errors import ZohoError, duplicate, invalid_data, invalid_id, mandatory
from sandbox.zoho.org import Org, iso
from sandbox.zoho.schema import DEAL_STAGES, FieldDef, ModuleDef
from sandbox.zoho.values import check_value, display_name

AUDIT_FIELDS = ("Created_Time", "Modified_Time", "Created_By", "Modified_By")
STAGE_PROBABILITY = {stage: prob for stage, prob, _ in DEAL_STAGES}


@dataclass
class WriteOptions:
    """What the call said besides the records."""

    trigger: list[str] | None = None  # None = not sent: every trigger fires
    duplicate_check_fields: list[str] | None = None
    external: list[str] = field(default_factory=list)  # X-EXTERNAL entries (Module.Field[.Ext])
    bulk: bool = False  # bulk write: no workflows


class _UniqueIndex:
    """Values of the module's unique/external fields, built once per call, kept current as records are written."""

    def __init__(self, org: Org, mod: ModuleDef) -> None:
        self.keys = [f.api_name for f in mod.fields.values() if f.unique or f.external]
        if mod.duplicate_field:
            self.keys.append(mod.duplicate_field)
        self.by_key: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in self.keys}
        for record in org.store.scan(mod.api_name):
            self.add(record)

    def add(self, record: dict[str, Any]) -> None:
        for key in self.keys:
            value = record.get(key)
            if isinstance(value, str | int | float) and str(value) != "":
                self.by_key[key].setdefault(str(value).lower(), record)

    def remove(self, record: dict[str, Any]) -> None:
        for key in self.keys:
            value = record.get(key)
            if value is not None and self.by_key[key].get(str(value).lower(), {}).get("id") == record["id"]:
                del self.by_key[key][str(value).lower()]

    def find(self, key: str, value: Any) -> dict[str, Any] | None:
        if value is None or key not in self.by_key:
            return None
        return self.by_key[key].get(str(value).lower())


def _check_duration(value: str, path: str) -> None:
    """A call lasts ``mm:ss`` (or ``hh:mm:ss``) and not zero (insert-records page: duration may not be 0)."""
    parts = value.split(":")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise invalid_data("Call_Duration", path, "text", reason="expected mm:ss")
    if all(int(p) == 0 for p in parts):
        raise invalid_data("Call_Duration", path, "text", reason="duration may not be 0")


class RecordEngine:
    def __init__(self, org: Org) -> None:
        self.org = org

    # -- lookups ----------------------------------------------------------------------------------------------
    def _resolver(self, module: str, item: dict[str, Any], opts: WriteOptions) -> Any:
        org = self.org

        def resolve(fd: FieldDef, value: dict[str, Any], path: str) -> dict[str, Any]:
            if fd.data_type in ("ownerlookup", "userlookup"):
                user = org.user(str(value.get("id", "")))
                if user is None or user.get("status") != "active":
                    raise invalid_data(fd.api_name, path, "jsonobject", reason="user is not active or not found")
                return {"name": user["full_name"], "id": user["id"], "email": user["email"]}
            if fd.data_type == "parent":
                target = ((value.get("module") or {}).get("api_name")) if isinstance(value.get("module"), dict) \
                    else None
                if not target:
                    raise mandatory("module", f"{path}.module")
                found = org.store.get(target, str(value.get("id", "")))
                if found is None:
                    raise invalid_data(fd.api_name, path, "jsonobject")
                return {"module": org.minified_module(target), "id": found["id"], "name": display_name(target,
                                                                                                       found)}
            targets = [fd.lookup] if fd.lookup else []
            if fd.api_name == "Who_Id":
                targets = ["Contacts", "Leads"]
            if fd.data_type == "multi_module_lookup":
                se_module = item.get("$se_module")
                if not se_module:
                    raise mandatory("$se_module", path.rsplit(".", 1)[0] + ".$se_module")
                targets = [str(se_module)]
            found_doc, found_mod = self._lookup_target(module, fd, value, targets, opts)
            if found_doc is None:
                raise invalid_data(fd.api_name, path, "jsonobject")
            return {"name": display_name(found_mod, found_doc), "id": found_doc["id"]}

        return resolve

    def _lookup_target(self, module: str, fd: FieldDef, value: dict[str, Any], targets: list[str],
                       opts: WriteOptions) -> tuple[dict[str, Any] | None, str]:
        if "id" in value:
            for target in targets:
                found = self.org.store.get(target, str(value["id"]))
                if found is not None:
                    return found, target
            return None, ""
        for key, wanted in value.items():  # {"External_Field": "value"} allowed by X-EXTERNAL
            if f"{module}.{fd.api_name}.{key}" not in opts.external:
                continue
            for target in targets:
                mod = self.org.module(target)
                if mod is None or key not in mod.fields or not mod.fields[key].external:
                    continue
                for doc in self.org.store.scan(target):
                    if str(doc.get(key)) == str(wanted):
                        return doc, target
        return None, ""

    # -- one record -------------------------------------------------------------------------------------------
    def _validate(self, mod: ModuleDef, item: dict[str, Any], index: int, existing: dict[str, Any] | None,
                  opts: WriteOptions) -> dict[str, Any]:
        cfg = self.org.config
        base = f"$.data[{index}]"
        resolve = self._resolver(mod.api_name, item, opts)
        changes: dict[str, Any] = {}
        for key, value in item.items():
            if key == "id" or key.startswith("$"):
                continue
            fd = mod.fields.get(key)
            if fd is None:
                if cfg.unknown_fields == "invalid_data":
                    raise invalid_data(key, f"{base}.{key}")
                continue
            if fd.read_only:
                if key in AUDIT_FIELDS[:2] and cfg.readonly_timestamps == "invalid_data":
                    raise invalid_data(key, f"{base}.{key}", reason="read only field")
                continue
            stored = check_value(fd, value, f"{base}.{key}", resolve, cfg.max_participants)
            if fd.mandatory and stored in (None, "", []):
                raise mandatory(key, f"{base}.{key}")
            changes[key] = stored
        if existing is None:
            for fd in mod.fields.values():
                if fd.mandatory and changes.get(fd.api_name) in (None, "", []) and fd.api_name != "Pipeline":
                    raise mandatory(fd.api_name, f"{base}.{fd.api_name}")
        if "$se_module" in item and "What_Id" in mod.fields:
            changes["$se_module"] = item["$se_module"]
        if mod.api_name == "Deals":
            self._deal_rules(changes, existing, base)
        if mod.api_name == "Calls" and "Call_Duration" in changes:
            _check_duration(str(changes["Call_Duration"]), f"{base}.Call_Duration")
        return changes

    def _deal_rules(self, changes: dict[str, Any], existing: dict[str, Any] | None, base: str) -> None:
        merged = {**(existing or {}), **changes}
        if self.org.config.pipelines_enabled and not merged.get("Pipeline"):
            raise mandatory("Pipeline", f"{base}.Pipeline")
        stages = self.org.pipeline_stages().get(str(merged.get("Pipeline") or "Standard"), [])
        if ("Stage" in changes or "Pipeline" in changes) and merged.get("Stage") not in stages:
            raise ZohoError("INVALID_DATA", "Pipeline doesn't contain the Stage",
                            {"api_name": "Stage", "json_path": f"{base}.Stage"})
        if "Stage" in changes and "Probability" not in changes:
            changes["Probability"] = STAGE_PROBABILITY[str(merged["Stage"])]

    def _check_unique(self, mod: ModuleDef, changes: dict[str, Any], index: int, self_id: str | None,
                      uniques: _UniqueIndex) -> None:
        for fd in mod.fields.values():
            if not (fd.unique or fd.external) or changes.get(fd.api_name) in (None, ""):
                continue
            clash = uniques.find(fd.api_name, changes[fd.api_name])
            if clash is not None and clash["id"] != self_id:
                raise duplicate(fd.api_name, f"$.data[{index}].{fd.api_name}",
                                self.org.minified_module(mod.api_name), clash)

    def _details(self, record: dict[str, Any]) -> dict[str, Any]:
        return {k: record[k] for k in ("Modified_Time", "Modified_By", "Created_Time", "id", "Created_By")} | {
            "$approval_state": "approved"}

    def _store(self, mod: ModuleDef, record: dict[str, Any], changes: dict[str, Any], caller: str,
               uniques: _UniqueIndex) -> dict[str, Any]:
        now = iso(self.org.now())
        user = self.org.minified_user(caller)
        if not record:
            owner = self.org.user(caller) or {}
            record = {"id": self.org.new_id(), "Owner": {"name": owner.get("full_name", ""), "id": caller,
                                                         "email": owner.get("email", "")},
                      "Created_Time": now, "Created_By": user}
        else:
            uniques.remove(record)
        record = {**record, **changes, "Modified_Time": now, "Modified_By": user}
        self.org.store.put(mod.api_name, record["id"], record)
        uniques.add(record)
        return record

    def _fire_workflows(self, mod: ModuleDef, record: dict[str, Any], opts: WriteOptions, caller: str) -> None:
        """The seeded rule "New lead follow-up": a Task linked to the new Lead (Zoho runs it after the insert)."""
        if opts.bulk or not self.org.config.workflow_rules_enabled or mod.api_name != "Leads":
            return
        if opts.trigger is not None and "workflow" not in opts.trigger:
            return
        tasks = self.org.module("Tasks")
        assert tasks is not None
        changes = {"Subject": f"Follow up: {display_name('Leads', record)}", "Status": "Not Started",
                   "Priority": "High", "What_Id": {"name": display_name("Leads", record), "id": record["id"]},
                   "$se_module": "Leads", "Description": "Created by workflow rule 'New lead follow-up'"}
        self._store(tasks, {}, changes, caller, _UniqueIndex(self.org, tasks))

    # -- calls ------------------------------------------------------------------------------------------------
    def write(self, module: str, op: str, items: list[Any], opts: WriteOptions, caller: str,
              match: dict[int, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """One result per item (``op`` is insert, update or upsert). ``match`` pre-resolves update targets."""
        mod = self.org.module(module)
        assert mod is not None
        uniques = _UniqueIndex(self.org, mod)
        results: list[dict[str, Any]] = []
        with self.org.store.tx():
            for index, item in enumerate(items):
                try:
                    if not isinstance(item, dict):
                        raise ZohoError("INVALID_DATA", "invalid data", {"json_path": f"$.data[{index}]",
                                                                        "expected_data_type": "jsonobject"})
                    results.append(self._write_one(mod, op, item, index, opts, caller, uniques,
                                                   (match or {}).get(index)))
                except ZohoError as exc:
                    results.append(exc.body())
        return results

    def _write_one(self, mod: ModuleDef, op: str, item: dict[str, Any], index: int, opts: WriteOptions,
                   caller: str, uniques: _UniqueIndex, target: dict[str, Any] | None) -> dict[str, Any]:
        existing: dict[str, Any] | None = target
        duplicate_field: str | None = None
        if op == "update" and existing is None:
            if "id" not in item:
                raise mandatory("id", f"$.data[{index}].id")
            existing = self.org.store.get(mod.api_name, str(item["id"]))
            if existing is None:
                raise ZohoError("INVALID_DATA", "the id given seems to be invalid",
                                {"api_name": "id", "json_path": f"$.data[{index}].id"})
        if op == "update" and existing and existing.get("$converted"):
            raise ZohoError("CONVERTED_RECORD", "can't update the converted record", {"id": existing["id"]})
        if op == "upsert":
            existing, duplicate_field = self._upsert_match(mod, item, opts, uniques)
        changes = self._validate(mod, item, index, existing, opts)
        self._check_unique(mod, changes, index, existing["id"] if existing else None, uniques)
        record = self._store(mod, existing or {}, changes, caller, uniques)
        if existing is None:
            self._fire_workflows(mod, record, opts, caller)
        result: dict[str, Any] = {"code": "SUCCESS", "details": self._details(record),
                                  "message": "record updated" if existing else "record added", "status": "success"}
        if op == "upsert":
            result["action"] = "update" if existing else "insert"
            if duplicate_field:
                result["duplicate_field"] = duplicate_field
        return result

    def _upsert_match(self, mod: ModuleDef, item: dict[str, Any], opts: WriteOptions,
                      uniques: _UniqueIndex) -> tuple[dict[str, Any] | None, str | None]:
        external = [e.split(".", 1)[1] for e in opts.external if e.count(".") == 1 and e.startswith(mod.api_name)]
        keys = external or opts.duplicate_check_fields
        if keys is None:
            keys = ([mod.duplicate_field] if mod.duplicate_field else []) + [
                f.api_name for f in mod.fields.values() if f.unique or f.external]
        for key in keys:
            found = uniques.find(key, item.get(key))
            if found is not None:
                return found, key
        return None, None

    def delete(self, module: str, ids: list[str]) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        with self.org.store.tx():
            for record_id in ids:
                if self.org.store.get(module, record_id) is None:
                    results.append(invalid_id(record_id).body())
                    continue
                self.org.store.delete(module, record_id)
                results.append({"code": "SUCCESS", "details": {"id": record_id}, "message": "record deleted",
                                "status": "success"})
        return results
