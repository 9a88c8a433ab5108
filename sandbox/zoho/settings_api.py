"""Metadata routes: ``settings/fields`` (read, create custom fields), ``settings/modules`` (read, create
custom modules), ``settings/layouts``, ``settings/pipeline`` and ``users``.

Custom field api names are derived from the label the way Zoho shows them (words joined by
``_``, other characters dropped, a number appended on a clash — the exact rule is UNCONFIRMED;
clients must read the name back from the response, as the reference advises).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from sandbox.zoho.credits import CUSTOM_MODULE_COST, Credits
from sandbox.zoho.errors import ZohoError, invalid_module, mandatory, required_param
from sandbox.zoho.http import Answer, Call, Router
from sandbox.zoho.module_meta import describe_module
from sandbox.zoho.org import Org, iso
from sandbox.zoho.schema import DEAL_STAGES, TEXT_LEN, FieldDef, ModuleDef

CREATABLE_TYPES = {
    "text": TEXT_LEN, "textarea": 32_000, "email": 100, "phone": 30, "website": 255, "integer": 9, "bigint": 18,
    "double": 16, "currency": 16, "percent": 5, "boolean": 0, "date": 0, "datetime": 0, "picklist": 255,
    "multiselectpicklist": 255, "lookup": 0,
}
UserFilter = Callable[[dict[str, Any], str], bool]
USER_TYPES: dict[str, UserFilter] = {
    "AllUsers": lambda u, admin: True, "ActiveUsers": lambda u, admin: u["status"] == "active",
    "DeactiveUsers": lambda u, admin: u["status"] == "disabled",
    "ActiveConfirmedUsers": lambda u, admin: u["status"] == "active" and u["confirm"],
    "ConfirmedUsers": lambda u, admin: u["confirm"], "NotConfirmedUsers": lambda u, admin: not u["confirm"],
    "AdminUsers": lambda u, admin: u["profile"]["name"] == "Administrator",
    "CurrentUser": lambda u, admin: u["id"] == admin,
}


def api_name_from_label(label: str, taken: set[str]) -> str:
    base = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9]+", "_", label.strip())).strip("_") or "Field"
    if base[0].isdigit():
        base = f"C_{base}"
    name, n = base, 1
    while name in taken or name.lower() in {t.lower() for t in taken}:
        name = f"{base}{n}"
        n += 1
    return name


class SettingsApi:
    def __init__(self, org: Org, credits: Credits) -> None:
        self.org = org
        self.credits = credits

    def register(self, router: Router) -> None:
        p = "/crm/v8"
        router.add("GET", f"{p}/settings/fields", self.fields, "settings")
        router.add("POST", f"{p}/settings/fields", self.create_fields, "settings")
        router.add("GET", f"{p}/settings/fields/{{field_id}}", self.field, "settings")
        router.add("GET", f"{p}/settings/modules", self.modules, "settings")
        router.add("POST", f"{p}/settings/modules", self.create_modules, "settings")
        router.add("GET", f"{p}/settings/modules/{{api_name}}", self.module_one, "settings")
        router.add("GET", f"{p}/settings/layouts", self.layouts, "settings")
        router.add("GET", f"{p}/settings/pipeline", self.pipeline, "settings")
        router.add("GET", f"{p}/users", self.users, "users")
        router.add("GET", f"{p}/users/{{user_id}}", self.user, "users")

    def _module_param(self, call: Call) -> Any:
        name = call.params.get("module")
        if not name:
            raise required_param("module")
        mod = self.org.module(name)
        if mod is None:
            raise invalid_module(name)
        return mod

    # -- fields -----------------------------------------------------------------------------------------------
    def fields(self, call: Call) -> Answer:
        mod = self._module_param(call)
        self.credits.charge(1, "GET settings/fields")
        return Answer(200, {"fields": [f.describe() for f in mod.fields.values()]})

    def field(self, call: Call) -> Answer:
        mod = self._module_param(call)
        self.credits.charge(1, "GET settings/fields/id")
        found = next((f for f in mod.fields.values() if f.field_id == call.match["field_id"]), None)
        return Answer(200, {"fields": [found.describe()]}) if found else Answer(204)

    def create_fields(self, call: Call) -> Answer:
        mod = self._module_param(call)
        body = call.json()
        items = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise mandatory("fields", "$.fields")
        self.credits.charge(1, "POST settings/fields")
        results = []
        with self.org.schema_lock:
            for index, item in enumerate(items):
                try:
                    fd = self._new_field(mod, item, index)
                except ZohoError as exc:
                    results.append(exc.body())
                    continue
                self.org.store.add_custom_field(mod.api_name, fd.api_name, asdict(fd))
                mod.fields[fd.api_name] = fd
                results.append({"code": "SUCCESS", "details": {"id": fd.field_id}, "message": "field created",
                                "status": "success"})
        return Answer.results(results, 201, 400).with_key("fields")

    def _new_field(self, mod: Any, item: Any, index: int) -> FieldDef:
        path = f"$.fields[{index}]"
        if not isinstance(item, dict):
            raise ZohoError("INVALID_DATA", "invalid data", {"json_path": path, "expected_data_type": "jsonobject"})
        label, dtype = item.get("field_label"), item.get("data_type")
        if not isinstance(label, str) or not label.strip():
            raise mandatory("field_label", f"{path}.field_label")
        if dtype not in CREATABLE_TYPES:
            raise ZohoError("INVALID_DATA", "invalid data", {"api_name": "data_type", "json_path": f"{path}.data_type",
                                                            "supported_values": sorted(CREATABLE_TYPES)})
        if any(f.label.lower() == label.strip().lower() for f in mod.fields.values()):
            raise ZohoError("DUPLICATE_DATA", "duplicate data", {"api_name": "field_label",
                                                                "json_path": f"{path}.field_label"})
        length = item.get("length", CREATABLE_TYPES[dtype])
        if not isinstance(length, int) or length < 0 or (CREATABLE_TYPES[dtype] and length > CREATABLE_TYPES[dtype]):
            raise ZohoError("INVALID_DATA", "invalid data", {"api_name": "length", "json_path": f"{path}.length",
                                                            "maximum_length": str(CREATABLE_TYPES[dtype])})
        picklist: list[str] = []
        if dtype in ("picklist", "multiselectpicklist"):
            values = item.get("pick_list_values")
            if not isinstance(values, list) or not values:
                raise mandatory("pick_list_values", f"{path}.pick_list_values")
            picklist = [str(v.get("actual_value") or v.get("display_value")) if isinstance(v, dict) else str(v)
                        for v in values]
        lookup = None
        if dtype == "lookup":
            target = ((item.get("lookup") or {}).get("module") or {}).get("api_name")
            if not target:
                raise mandatory("lookup", f"{path}.lookup")
            if self.org.module(target) is None:
                raise invalid_module(target)
            lookup = self.org.module(target).api_name  # type: ignore[union-attr]
        external = item.get("external")
        if external is not None and (not isinstance(external, dict) or external.get("type") not in ("user", "org")):
            raise ZohoError("INVALID_DATA", "invalid data", {"api_name": "external", "json_path": f"{path}.external"})
        api_name = api_name_from_label(label, set(mod.fields))
        return FieldDef(api_name, label.strip(), dtype, length, False, False, picklist,
                        bool(item.get("restricted_picklist", True)), lookup,
                        item.get("unique") is not None, external, True,
                        self.org.meta_id("field", f"{mod.api_name}.{api_name}"))

    # -- modules ----------------------------------------------------------------------------------------------
    def _describe_module(self, mod: Any, sequence: int) -> dict[str, Any]:
        created = iso(float(self.org.identity["created_at"]))
        return describe_module(mod, sequence, created, self.org.minified_user(self.org.admin_id), self.org.meta_id)

    def modules(self, call: Call) -> Answer:
        self.credits.charge(1, "GET settings/modules")
        with self.org.schema_lock:
            mods = list(self.org.modules.values())
        out = [self._describe_module(m, i + 1) for i, m in enumerate(mods)]
        attachments = ModuleDef("Attachments", "Attachment", "Attachments", {},
                                self.org.meta_id("module", "Attachments"))
        out.append(self._describe_module(attachments, len(out) + 1) | {"creatable": False, "editable": False,
                                                                        "show_as_tab": False})
        return Answer(200, {"modules": out})

    def module_one(self, call: Call) -> Answer:
        mod = self.org.module(call.match["api_name"])
        if mod is None:
            raise invalid_module(call.match["api_name"])
        self.credits.charge(1, "GET settings/modules/name")
        return Answer(200, {"modules": [self._describe_module(mod, 1)]})

    def create_modules(self, call: Call) -> Answer:
        body = call.json()
        items = body.get("modules") if isinstance(body, dict) else None
        if not isinstance(items, list) or len(items) != 1:
            raise mandatory("modules", "$.modules")
        item = items[0]
        if not isinstance(item, dict) or not item.get("plural_label") or not item.get("singular_label"):
            raise mandatory("plural_label", "$.modules[0].plural_label")
        if not isinstance(item.get("profiles"), list) or not item["profiles"]:
            raise mandatory("profiles", "$.modules[0].profiles")
        self.credits.charge(CUSTOM_MODULE_COST, "POST settings/modules")
        with self.org.schema_lock:
            api_name = str(item.get("api_name") or api_name_from_label(str(item["plural_label"]),
                                                                       set(self.org.modules)))
            if self.org.module(api_name) is not None:
                raise ZohoError("DUPLICATE_DATA", "duplicate data", {"api_name": "api_name",
                                                                    "json_path": "$.modules[0].api_name"})
            module_id = self.org.meta_id("module", api_name)
            self.org.store.add_custom_module(api_name, {
                "api_name": api_name, "singular_label": str(item["singular_label"]),
                "plural_label": str(item["plural_label"]), "id": module_id})
            self.org.rebuild_schema()
        return Answer(200, {"modules": [{"code": "SUCCESS", "details": {"id": module_id},
                                         "message": "module created successfully", "status": "success"}]})

    # -- layouts / pipeline -----------------------------------------------------------------------------------
    def layouts(self, call: Call) -> Answer:
        mod = self._module_param(call)
        self.credits.charge(1, "GET settings/layouts")
        return Answer(200, {"layouts": [{"id": self.org.meta_id("layout", mod.api_name), "name": "Standard",
                                         "status": "active", "visible": True}]})

    def pipeline(self, call: Call) -> Answer:
        layout = call.params.get("layout_id")
        if not layout:
            raise required_param("layout_id")
        if layout != self.org.meta_id("layout", "Deals"):
            raise ZohoError("INVALID_DATA", "invalid data", {"param": "layout_id"})
        self.credits.charge(1, "GET settings/pipeline")
        known = {s: (prob, cat) for s, prob, cat in DEAL_STAGES}

        def maps(stages: list[str]) -> list[dict[str, Any]]:
            return [{"display_value": s, "actual_value": s, "id": self.org.meta_id("stage", s),
                     "sequence_number": i + 1,
                     "forecast_category": {"name": known[s][1], "id": self.org.meta_id("forecast", known[s][1])},
                     "probability": known[s][0], "colour_code": "#E6EEF6",
                     "forecast_type": "Open" if known[s][1] == "Pipeline" else
                     ("Closed Won" if known[s][0] == 100 else "Closed Lost"), "delete": None}
                    for i, s in enumerate(stages) if s in known]

        return Answer(200, {"pipeline": [
            {"id": self.org.meta_id("pipeline", name), "display_value": name, "actual_value": name,
             "default": name == "Standard", "child_available": False, "maps": maps(stages)}
            for name, stages in self.org.pipeline_stages().items()]})

    # -- users ------------------------------------------------------------------------------------------------
    def users(self, call: Call) -> Answer:
        kind = call.params.get("type", "AllUsers")
        if kind not in USER_TYPES:
            raise ZohoError("INVALID_DATA", "invalid data", {"param": "type", "supported_values": sorted(USER_TYPES)})
        per_page = int(call.params.get("per_page", "200") or 200)
        page = int(call.params.get("page", "1") or 1)
        self.credits.charge(1, "GET users")
        users = [u for u in self.org.users() if USER_TYPES[kind](u, call.user_id)]
        chunk = users[(page - 1) * per_page: page * per_page]
        if not chunk:
            return Answer(204)
        return Answer(200, {"users": chunk, "info": {"per_page": per_page, "count": len(chunk), "page": page,
                                                      "more_records": page * per_page < len(users)}})

    def user(self, call: Call) -> Answer:
        self.credits.charge(1, "GET users/id")
        found = self.org.user(call.match["user_id"])
        return Answer(200, {"users": [found]}) if found else Answer(204)
