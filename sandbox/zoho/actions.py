"""Record actions beyond plain writes: lead conversion, attachments, notes of a record, contact roles.

* Convert (``POST /Leads/{id}/actions/convert``, 5 credits): an Account from ``Company`` (or the
  one given), a Contact from the lead's person fields (or the one given), a Deal when asked; the
  Lead is then hidden from reads (``converted=false`` default) and refuses a second conversion.
* Attachments (``/{Module}/{id}/Attachments``): multipart ``file`` up to ``attachment_max_bytes``.
* Contact roles: the role list (``/Contacts/roles``) and a Contact's role on a Deal
  (``/Deals/{deal}/Contact_Roles/{contact}``).
"""

from __future__ import annotations

from typing import Any

from sandbox.zoho.credits import CONVERT_COST, Credits, write_cost
from sandbox.zoho.errors import ZohoError, invalid_module, mandatory, required_param
from sandbox.zoho.http import Answer, Call, Router
from sandbox.zoho.multipart import form_parts
from sandbox.zoho.org import Org, iso
from sandbox.zoho.records import RecordEngine, WriteOptions
from sandbox.zoho.values import display_name

CONTACT_ROLES = ["Purchasing", "Technical Buyer", "Decision Maker", "Evaluator", "Influencer", "Executive Sponsor",
                 "Economic Decision Maker", "Developer/Evaluator", "Product Management"]


class Actions:
    def __init__(self, org: Org, credits: Credits, engine: RecordEngine) -> None:
        self.org = org
        self.credits = credits
        self.engine = engine

    def register(self, router: Router) -> None:
        p = "/crm/v8"
        router.add("POST", f"{p}/Leads/{{lead_id}}/actions/convert", self.convert, "modules")
        router.add("GET", f"{p}/Contacts/roles", self.roles, "settings")
        router.add("POST", f"{p}/Contacts/roles", self.add_roles, "settings")
        router.add("GET", f"{p}/Deals/{{deal_id}}/Contact_Roles", self.deal_roles, "modules")
        router.add("PUT", f"{p}/Deals/{{deal_id}}/Contact_Roles/{{contact_id}}", self.set_deal_role, "modules")
        router.add("DELETE", f"{p}/Deals/{{deal_id}}/Contact_Roles/{{contact_id}}", self.drop_deal_role, "modules")
        router.add("GET", f"{p}/{{module}}/{{record_id}}/Attachments", self.attachments, "modules")
        router.add("POST", f"{p}/{{module}}/{{record_id}}/Attachments", self.attach, "modules")
        router.add("GET", f"{p}/{{module}}/{{record_id}}/Attachments/{{att_id}}", self.download, "modules")
        router.add("DELETE", f"{p}/{{module}}/{{record_id}}/Attachments/{{att_id}}", self.detach, "modules")
        router.add("GET", f"{p}/{{module}}/{{record_id}}/Notes", self.record_notes, "modules")
        router.add("POST", f"{p}/{{module}}/{{record_id}}/Notes", self.add_record_notes, "modules")

    def _parent(self, call: Call) -> tuple[str, dict[str, Any]]:
        mod = self.org.module(call.match["module"])
        if mod is None:
            raise invalid_module(call.match["module"])
        record = self.org.store.get(mod.api_name, call.match["record_id"])
        if record is None:
            raise ZohoError("INVALID_DATA", "the given id seems to be invalid", {"id": call.match["record_id"]})
        return mod.api_name, record

    # -- convert ----------------------------------------------------------------------------------------------
    def convert(self, call: Call) -> Answer:
        lead = self.org.store.get("Leads", call.match["lead_id"])
        if lead is None:
            raise ZohoError("INVALID_DATA", "the id given seems to be invalid", {"resource_path_index": 0})
        if lead.get("$converted"):
            raise ZohoError("ID_ALREADY_CONVERTED", "id already converted", {"resource_path_index": 0})
        body = call.json()
        items = body.get("data") if isinstance(body, dict) else None
        if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
            raise mandatory("data", "$.data")
        spec = items[0]
        self.credits.charge(CONVERT_COST, "POST Leads/convert")
        with self.org.store.tx():
            account = self._convert_part(spec, "Accounts", {"Account_Name": lead.get("Company") or
                                                            display_name("Leads", lead)}, call)
            contact = self._convert_part(spec, "Contacts", {
                k: lead[k] for k in ("First_Name", "Last_Name", "Email", "Phone", "Mobile", "Title",
                                     "Lead_Source") if lead.get(k) is not None
            } | {"Account_Name": {"id": account["id"]}}, call)
            deal: dict[str, Any] | None = None
            if isinstance(spec.get("Deals"), dict):
                deal = self._convert_part({"Deals": {**spec["Deals"], "Account_Name": {"id": account["id"]},
                                                     "Contact_Name": {"id": contact["id"]}}},
                                          "Deals", {}, call, create_only=True)
            lead = {**lead, "$converted": True, "$converted_detail": {"Accounts": account["id"],
                    "Contacts": contact["id"], "Deals": deal["id"] if deal else None},
                    "Modified_Time": iso(self.org.now())}
            self.org.store.put("Leads", lead["id"], lead)
        details = {"Accounts": account, "Contacts": contact, "Deals": deal}
        return Answer(200, {"data": [{"code": "SUCCESS", "details": details,
                                      "message": "The record has been converted successfully",
                                      "status": "success"}]})

    def _convert_part(self, spec: dict[str, Any], module: str, fallback: dict[str, Any], call: Call,
                      create_only: bool = False) -> dict[str, str]:
        given = spec.get(module)
        if not create_only and isinstance(given, dict) and "id" in given:
            found = self.org.store.get(module, str(given["id"]))
            if found is None:
                raise ZohoError("INVALID_DATA", "invalid data",
                                {"api_name": module, "json_path": f"$.data[0].{module}"})
            return {"name": display_name(module, found), "id": found["id"]}
        payload = given if create_only else fallback
        result = self.engine.write(module, "insert", [payload], WriteOptions(trigger=[]), call.user_id)[0]
        if result["status"] != "success":
            raise ZohoError(result["code"], result["message"], result["details"])
        record = self.org.store.get(module, result["details"]["id"]) or {}
        return {"name": display_name(module, record), "id": result["details"]["id"]}

    # -- attachments ------------------------------------------------------------------------------------------
    def attach(self, call: Call) -> Answer:
        module, record = self._parent(call)
        parts = form_parts(call.header("content-type"), call.body)
        if "file" not in parts:
            if "attachmentUrl" in parts:
                raise ZohoError("NOT_SUPPORTED", "attachmentUrl is not supported by the stand-in",
                                {"param": "attachmentUrl"})
            raise required_param("file")
        name, content = parts["file"]
        limit = self.org.config.attachment_max_bytes
        if len(content) > limit:
            raise ZohoError("FILE_SIZE_MORE_THAN_ALLOWED_SIZE", "file size is more than the allowed size",
                            {"maximum_size": limit, "size": len(content)})
        self.credits.charge(1, "POST Attachments")
        now = iso(self.org.now())
        user = self.org.minified_user(call.user_id)
        att_id = self.org.new_id()
        file_name = name or "attachment"
        meta: dict[str, Any] = {"id": att_id, "File_Name": file_name, "Size": str(len(content)), "Created_Time": now,
                "Modified_Time": now, "Created_By": user, "Modified_By": user, "Owner": user,
                "Parent_Id": {"module": self.org.minified_module(module), "id": record["id"],
                              "name": display_name(module, record)}, "$se_module": module, "$file_id": att_id,
                "$type": "Attachment", "$editable": True}
        self.org.store.add_file(att_id, "attachment", file_name, content, meta)
        self.org.store.put("Attachments", att_id, meta)
        details = {k: meta[k] for k in ("id", "Modified_Time", "Created_Time", "Modified_By", "Created_By")}
        return Answer(200, {"data": [{"code": "SUCCESS", "details": details,
                                      "message": "attachment uploaded successfully", "status": "success"}]})

    def _children(self, call: Call, module: str, api: str) -> Answer:
        """A record's notes or attachments: ``fields`` mandatory, one page, 204 when there are none."""
        _, record = self._parent(call)
        fields = call.params.get("fields")
        if not fields:
            raise required_param("fields")
        self.credits.charge(1, api)
        rows = [r for r in self.org.store.scan(module) if (r.get("Parent_Id") or {}).get("id") == record["id"]]
        if not rows:
            return Answer(204)
        wanted = [f.strip() for f in fields.split(",")]
        data = [{k: r.get(k) for k in wanted} | {"id": r["id"]} for r in rows]
        return Answer(200, {"data": data, "info": {"per_page": 200, "count": len(data), "page": 1,
                                                   "more_records": False}})

    def attachments(self, call: Call) -> Answer:
        return self._children(call, "Attachments", "GET Attachments")

    def download(self, call: Call) -> Answer:
        self._parent(call)
        found = self.org.store.file(call.match["att_id"])
        if found is None:
            return Answer(204)
        self.credits.charge(1, "GET Attachments/id")
        _, name, content, _ = found
        return Answer(200, raw=content, headers={"Content-Type": "application/octet-stream",
                                                 "Content-Disposition": f'attachment; filename="{name}"'})

    def detach(self, call: Call) -> Answer:
        self._parent(call)
        att_id = call.match["att_id"]
        if self.org.store.get("Attachments", att_id) is None:
            raise ZohoError("INVALID_DATA", "the given id seems to be invalid", {"id": att_id})
        self.credits.charge(1, "DELETE Attachments")
        self.org.store.delete("Attachments", att_id)
        self.org.store.delete_file(att_id)
        return Answer(200, {"data": [{"code": "SUCCESS", "details": {"id": att_id}, "message": "record deleted",
                                      "status": "success"}]})

    # -- notes of a record ------------------------------------------------------------------------------------
    def record_notes(self, call: Call) -> Answer:
        return self._children(call, "Notes", "GET Notes of record")

    def add_record_notes(self, call: Call) -> Answer:
        module, record = self._parent(call)
        body = call.json()
        items = body.get("data") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise mandatory("data", "$.data")
        if len(items) > self.org.config.max_records_per_call:
            raise ZohoError("LIMIT_EXCEEDED", "Record count exceeded", {"api_name": "data", "limit":
                                                                      self.org.config.max_records_per_call})
        parent = {"module": {"api_name": module, "id": self.org.minified_module(module)["id"]}, "id": record["id"]}
        items = [{**i, "Parent_Id": parent} if isinstance(i, dict) else i for i in items]
        self.credits.charge(write_cost(len(items)), "POST Notes of record")
        results = self.engine.write("Notes", "insert", items, WriteOptions(trigger=[]), call.user_id)
        return Answer.results(results, self.org.config.all_success_status, self.org.config.all_failed_status)

    # -- contact roles ----------------------------------------------------------------------------------------
    def _roles(self) -> list[dict[str, Any]]:
        stored = self.org.store.scan("$contact_roles")
        if stored:
            return stored
        roles: list[dict[str, Any]] = [{"id": self.org.meta_id("role", n), "name": n, "sequence_number": i + 1}
                 for i, n in enumerate(CONTACT_ROLES)]
        with self.org.store.tx():
            for role in roles:
                self.org.store.put("$contact_roles", role["id"], role)
        return roles

    def roles(self, call: Call) -> Answer:
        self.credits.charge(1, "GET Contacts/roles")
        return Answer(200, {"contact_roles": self._roles()})

    def add_roles(self, call: Call) -> Answer:
        body = call.json()
        items = body.get("contact_roles") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise mandatory("contact_roles", "$.contact_roles")
        self.credits.charge(1, "POST Contacts/roles")
        existing = {r["name"].lower() for r in self._roles()}
        results = []
        for index, item in enumerate(items):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str) or not name.strip():
                results.append(mandatory("name", f"$.contact_roles[{index}].name").body())
            elif name.lower() in existing:
                results.append(ZohoError("DUPLICATE_DATA", "duplicate data", {
                    "api_name": "name", "json_path": f"$.contact_roles[{index}].name"}).body())
            else:
                role: dict[str, Any] = {"id": self.org.new_id(), "name": name, "sequence_number": len(existing) + 1}
                existing.add(name.lower())
                self.org.store.put("$contact_roles", role["id"], role)
                results.append({"code": "SUCCESS", "details": {"id": role["id"]}, "message": "contact role added",
                                "status": "success"})
        return Answer.results(results, 200, 400).with_key("contact_roles")

    def _deal_and_contact(self, call: Call) -> tuple[dict[str, Any], dict[str, Any]]:
        deal = self.org.store.get("Deals", call.match["deal_id"])
        contact = self.org.store.get("Contacts", call.match.get("contact_id", "")) if "contact_id" in call.match \
            else {}
        if deal is None or contact is None:
            raise ZohoError("INVALID_DATA", "the id given seems to be invalid", {})
        return deal, contact

    def set_deal_role(self, call: Call) -> Answer:
        deal, contact = self._deal_and_contact(call)
        body = call.json()
        items = body.get("data") if isinstance(body, dict) else None
        role_ref = (items[0] or {}).get("Contact_Role") if isinstance(items, list) and items else None
        if not isinstance(role_ref, dict) or "id" not in role_ref:
            raise mandatory("Contact_Role", "$.data[0].Contact_Role")
        role = next((r for r in self._roles() if r["id"] == str(role_ref["id"])), None)
        if role is None:
            raise ZohoError("INVALID_DATA", "invalid data", {"api_name": "Contact_Role",
                                                            "json_path": "$.data[0].Contact_Role"})
        self.credits.charge(1, "PUT Deals/Contact_Roles")
        key = f"{deal['id']}:{contact['id']}"
        self.org.store.put("$deal_contact_roles", key, {"id": key, "deal": deal["id"], "contact": contact["id"],
                                                       "Contact_Role": {"name": role["name"], "id": role["id"]}})
        return Answer(200, {"data": [{"code": "SUCCESS", "details": {"id": contact["id"]},
                                      "message": "relation updated", "status": "success"}]})

    def drop_deal_role(self, call: Call) -> Answer:
        deal, contact = self._deal_and_contact(call)
        self.credits.charge(1, "DELETE Deals/Contact_Roles")
        self.org.store.delete("$deal_contact_roles", f"{deal['id']}:{contact['id']}")
        return Answer(200, {"data": [{"code": "SUCCESS", "details": {"id": contact["id"]},
                                      "message": "relation removed", "status": "success"}]})

    def deal_roles(self, call: Call) -> Answer:
        deal, _ = self._deal_and_contact(call)
        self.credits.charge(1, "GET Deals/Contact_Roles")
        rows = [r for r in self.org.store.scan("$deal_contact_roles") if r["deal"] == deal["id"]]
        if not rows:
            return Answer(204)
        data = []
        for row in rows:
            contact = self.org.store.get("Contacts", row["contact"]) or {}
            data.append({"id": row["contact"], "Full_Name": display_name("Contacts", contact),
                         "Email": contact.get("Email"), "Contact_Role": row["Contact_Role"]})
        return Answer(200, {"data": data, "info": {"per_page": 200, "count": len(data), "page": 1,
                                                   "more_records": False}})
