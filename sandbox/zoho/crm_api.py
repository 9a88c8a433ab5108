"""Record routes of ``/crm/v8``: insert, update, upsert, delete, get (list, by id, by external id), COQL.

Each handler checks the call shape first (a refused call costs nothing), then debits its credits
(``ceil(records / 10)`` for writes, 1 for reads, COQL by LIMIT) and runs the engine.
"""

from __future__ import annotations

from typing import Any

from sandbox.zoho.credits import Credits, write_cost
from sandbox.zoho.errors import ZohoError, invalid_module, mandatory, required_param
from sandbox.zoho.http import Answer, Call, Router
from sandbox.zoho.org import Org
from sandbox.zoho.query import Reader
from sandbox.zoho.records import RecordEngine, WriteOptions
from sandbox.zoho.schema import ModuleDef

TRIGGERS = {"workflow", "approval", "blueprint", "pathfinder", "orchestration"}
NOT_RECORD_MODULES = {"Attachments"}


class CrmApi:
    def __init__(self, org: Org, credits: Credits) -> None:
        self.org = org
        self.credits = credits
        self.engine = RecordEngine(org)
        self.reader = Reader(org)

    def register(self, router: Router) -> None:
        p = "/crm/v8"
        router.add("POST", f"{p}/coql", self.coql, "coql")
        router.add("POST", f"{p}/{{module}}/upsert", self.upsert, "modules")
        router.add("GET", f"{p}/{{module}}", self.list, "modules")
        router.add("POST", f"{p}/{{module}}", self.insert, "modules")
        router.add("PUT", f"{p}/{{module}}", self.update, "modules")
        router.add("DELETE", f"{p}/{{module}}", self.delete_many, "modules")
        router.add("GET", f"{p}/{{module}}/{{record_id}}", self.get_one, "modules")
        router.add("PUT", f"{p}/{{module}}/{{record_id}}", self.update_one, "modules")
        router.add("DELETE", f"{p}/{{module}}/{{record_id}}", self.delete_one, "modules")

    # -- helpers ----------------------------------------------------------------------------------------------
    def module(self, call: Call) -> ModuleDef:
        mod = self.org.module(call.match["module"])
        if mod is None or mod.api_name in NOT_RECORD_MODULES:
            raise invalid_module(call.match["module"])
        return mod

    def _items(self, call: Call) -> tuple[list[Any], dict[str, Any]]:
        body = call.json()
        if not isinstance(body, dict):
            raise ZohoError("INVALID_DATA", "body", {"expected_data_type": "jsonobject"})
        data = body.get("data")
        if not isinstance(data, list) or not data:
            raise mandatory("data", "$.data")
        limit = self.org.config.max_records_per_call
        if len(data) > limit:
            raise ZohoError("LIMIT_EXCEEDED", "Record count exceeded",
                            {"api_name": "data", "json_path": "$.data", "limit": limit})
        return data, body

    def _options(self, call: Call, body: dict[str, Any]) -> WriteOptions:
        trigger = body.get("trigger")
        if trigger is not None and (not isinstance(trigger, list) or not set(trigger) <= TRIGGERS):
            raise ZohoError("INVALID_DATA", "invalid data", {"api_name": "trigger", "json_path": "$.trigger"})
        return WriteOptions(trigger=trigger, external=call.external())

    def _external_target(self, mod: ModuleDef, call: Call, value: str) -> dict[str, Any] | None:
        """``/Module/{value}`` with ``X-EXTERNAL: Module.Field``: the record whose external field holds value."""
        for entry in call.external():
            name, _, field_name = entry.partition(".")
            if name == mod.api_name and field_name in mod.fields and mod.fields[field_name].external:
                return next((r for r in self.org.store.scan(mod.api_name) if str(r.get(field_name)) == value), None)
        return None

    def _write(self, call: Call, op: str, match_one: str | None = None) -> Answer:
        mod = self.module(call)
        items, body = self._items(call)
        opts = self._options(call, body)
        if op == "upsert":
            opts.duplicate_check_fields = self._duplicate_fields(mod, body)
        match: dict[int, dict[str, Any]] = {}
        if match_one is not None:
            target = self._external_target(mod, call, match_one) if call.external() else \
                self.org.store.get(mod.api_name, match_one)
            if target is None:
                raise ZohoError("INVALID_DATA", "the id given seems to be invalid", {"id": match_one}, 400)
            items = items[:1]
            match[0] = target
        self.credits.charge(write_cost(len(items)), f"{call.method} {mod.api_name}")
        results = self.engine.write(mod.api_name, op, items, opts, call.user_id, match)
        ok_status = self.org.config.all_success_status if op in ("insert", "upsert") else 200
        return Answer.results(results, ok_status, self.org.config.all_failed_status)

    def _duplicate_fields(self, mod: ModuleDef, body: dict[str, Any]) -> list[str] | None:
        fields = body.get("duplicate_check_fields")
        if fields is None:
            return None
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise ZohoError("INVALID_DATA", "invalid data", {"api_name": "duplicate_check_fields",
                                                            "json_path": "$.duplicate_check_fields"})
        for name in fields:
            fd = mod.fields.get(name)
            if fd is None or not (fd.unique or fd.external or name == mod.duplicate_field):
                raise ZohoError("INVALID_DATA", "invalid data", {
                    "api_name": name, "json_path": "$.duplicate_check_fields",
                    "reason": "only the system duplicate field or unique fields can be duplicate check fields"})
        return fields

    # -- handlers ---------------------------------------------------------------------------------------------
    def insert(self, call: Call) -> Answer:
        return self._write(call, "insert")

    def update(self, call: Call) -> Answer:
        return self._write(call, "update")

    def upsert(self, call: Call) -> Answer:
        return self._write(call, "upsert")

    def update_one(self, call: Call) -> Answer:
        return self._write(call, "update", call.match["record_id"])

    def delete_many(self, call: Call) -> Answer:
        mod = self.module(call)
        raw = call.params.get("ids")
        if not raw:
            raise required_param("ids")
        ids = [i.strip() for i in raw.split(",") if i.strip()]
        if len(ids) > self.org.config.max_records_per_call:
            raise ZohoError("LIMIT_EXCEEDED", "Record count exceeded",
                            {"param": "ids", "limit": self.org.config.max_records_per_call})
        self.credits.charge(write_cost(len(ids)), f"DELETE {mod.api_name}")
        return Answer.results(self.engine.delete(mod.api_name, ids), 200, self.org.config.all_failed_status)

    def delete_one(self, call: Call) -> Answer:
        mod = self.module(call)
        record_id = call.match["record_id"]
        if call.external():
            found = self._external_target(mod, call, record_id)
            record_id = found["id"] if found else record_id
        self.credits.charge(1, f"DELETE {mod.api_name}")
        return Answer.results(self.engine.delete(mod.api_name, [record_id]), 200, self.org.config.all_failed_status)

    def list(self, call: Call) -> Answer:
        mod = self.module(call)
        status, body = self.reader.list_records(mod.api_name, call.params)
        self.credits.charge(1, f"GET {mod.api_name}")
        return Answer(status, body)

    def get_one(self, call: Call) -> Answer:
        mod = self.module(call)
        record_id = call.match["record_id"]
        self.credits.charge(1, f"GET {mod.api_name}/id")
        found = self._external_target(mod, call, record_id) if call.external() else \
            self.reader.get_record(mod.api_name, record_id)
        if found is None:
            return Answer(204)
        return Answer(200, {"data": [found]})

    def coql(self, call: Call) -> Answer:
        status, body, cost = self.reader.coql(call.json())
        self.credits.charge(cost, "POST coql")
        return Answer(status, body)
