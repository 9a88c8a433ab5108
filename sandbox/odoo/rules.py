"""Model-specific behaviour: defaults, stored computes, constraints and the technical models.

Each rule mirrors what the named Odoo model does on create/write, as far as a loader notices:

* ``res.partner``: ``company_type`` <-> ``is_company``; a contact under a parent with an
  address takes the parent's address (``onchange_parent_id`` applied by ``_fields_sync``);
  stored ``commercial_partner_id`` / ``complete_name`` recomputed down the tree; "Contacts
  require a name"; no recursive hierarchies.
* ``res.users``: a partner is created for the user; unique login; password kept apart.
* ``crm.lead``: type from the Leads setting, first stage, salesperson = caller, probability
  0-100 (SQL check), a won stage sets probability 100 and ``date_closed``.
* ``ir.model`` / ``ir.model.fields`` / ``ir.model.fields.selection``: the ``x_`` rules, ttypes,
  relations; a manual field is real on the model from the next statement on.
* ``ir.model.data``: unique ``module.name``, no spaces; ``ir.attachment``: base64 ``datas``,
  size, checksum, mimetype and the per-file limit; ``mail.message``: author, date, record name.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import mimetypes
import re
from typing import TYPE_CHECKING, Any

from sandbox.odoo import errors
from sandbox.odoo.catalog import ADDRESS_FIELDS, PARTNER_TYPES
from sandbox.odoo.fields import TTYPES, FieldSpec, ModelSpec, magic_fields, now

if TYPE_CHECKING:
    from sandbox.odoo.orm import Env

_PG_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_MODEL_NAME = re.compile(r"^[a-z0-9_.]+$")
_DISPLAYED_TYPES = ("invoice", "delivery", "other")


class Rules:
    """Hooks the ORM calls around its generic create/write/unlink/read."""

    def __init__(self, env: Env) -> None:
        self.env = env

    # -- schema from ir.model / ir.model.fields rows ---------------------------------------------------------
    def custom_model_spec(self, row: dict[str, Any]) -> ModelSpec:
        spec = ModelSpec(row["model"], row.get("name") or row["model"], order="id", rec_name="x_name",
                         module="__custom__", mail_thread=bool(row.get("is_mail_thread")), manual=True,
                         model_id=row["id"])
        spec.fields = {fs.name: fs for fs in magic_fields()}
        return spec

    def manual_field_spec(self, row: dict[str, Any]) -> FieldSpec:
        selection: tuple[tuple[str, str], ...] = ()
        if row["ttype"] == "selection":
            options = sorted(self.env.store.scan("ir.model.fields.selection", [("field_id", row["id"])]),
                             key=lambda r: (r.get("sequence") or 0, r["id"]))
            selection = tuple((o["value"], o["name"]) for o in options)
        return FieldSpec(row["name"], row["ttype"], row.get("field_description") or row["name"],
                         required=bool(row.get("required")), readonly=bool(row.get("readonly")),
                         relation=row.get("relation") or None, relation_field=row.get("relation_field") or None,
                         selection=selection, help=row.get("help") or "", manual=True, field_id=row["id"])

    def virtual_rows(self, model: str) -> list[dict[str, Any]]:
        """Builtin ``ir.model`` / ``ir.model.fields`` rows of the installed modules."""
        out: list[dict[str, Any]] = []
        for spec in self.env.registry.values():
            if spec.manual:
                continue
            if model == "ir.model":
                out.append({"id": spec.model_id, "name": spec.description, "model": spec.name, "state": "base",
                            "info": False, "modules": spec.module, "transient": False,
                            "is_mail_thread": spec.mail_thread, "create_uid": 1, "write_uid": 1,
                            "create_date": "2024-01-01 00:00:00", "write_date": "2024-01-01 00:00:00"})
                continue
            for fs in spec.fields.values():
                if fs.manual:
                    continue
                out.append({"id": fs.field_id, "name": fs.name, "model": spec.name, "model_id": spec.model_id,
                            "field_description": fs.string, "help": fs.help or False, "ttype": fs.type,
                            "relation": fs.relation or False, "relation_field": fs.relation_field or False,
                            "required": fs.required, "readonly": fs.readonly, "store": fs.store, "index": False,
                            "copied": False, "on_delete": "set null", "state": "base", "create_uid": 1,
                            "write_uid": 1, "create_date": "2024-01-01 00:00:00",
                            "write_date": "2024-01-01 00:00:00", "complete_name": f"{spec.name}.{fs.name}"})
        return out

    # -- computed / display ------------------------------------------------------------------------------------
    def computed(self, model: str, rec: dict[str, Any], name: str) -> Any:
        if model == "res.partner" and name == "company_type":
            return "company" if rec.get("is_company") else "person"
        return False

    def display_name(self, model: str, rec: dict[str, Any] | None) -> str:
        if rec is None:
            return ""
        if model == "res.partner":
            return str(rec.get("complete_name") or rec.get("name") or "")
        if model == "ir.model.data":
            return f"{rec.get('module')}.{rec.get('name')}"
        if model == "stock.location":
            return str(rec.get("complete_name") or rec.get("name") or "")
        spec = self.env.spec(model) if model in self.env.registry else None
        rec_name = spec.rec_name if spec else "name"
        if spec and rec_name in spec.fields and spec.fields[rec_name].type == "many2one" and rec.get(rec_name):
            target = str(spec.fields[rec_name].relation)
            return self.display_name(target, self.env.browse(target, [rec[rec_name]]).get(rec[rec_name]))
        value = rec.get(rec_name or "name") if rec_name else None
        return str(value) if value else f"{model},{rec['id']}"

    # -- create / write hooks ------------------------------------------------------------------------------------
    def before_create(self, model: str, vals: dict[str, Any]) -> dict[str, Any]:
        hook = getattr(self, f"_create_{model.replace('.', '_')}", None)
        return hook(vals) if hook else vals

    def before_write(self, model: str, ids: list[int], vals: dict[str, Any]) -> dict[str, Any]:
        if model == "res.partner" and "company_type" in vals:
            vals = {**vals, "is_company": vals.pop("company_type") == "company"}
        if model in ("ir.model.fields", "ir.model"):
            base = [i for i in ids if i < (10000 if model == "ir.model.fields" else 1000)]
            if base:
                raise errors.UserError("Properties of base fields cannot be altered in this manner! Please modify "
                                       "them through Python code, preferably through a custom addon!")
        if model == "ir.attachment" and "datas" in vals:
            vals = {**vals, **self._attachment_content(vals["datas"])}
        if model == "res.users" and "password" in vals:
            for uid in ids:
                self.env.store.set_password(uid, str(vals["password"]))
            vals = {k: v for k, v in vals.items() if k != "password"}
        if model == "crm.lead" and vals.get("stage_id"):
            stage = self.env.browse("crm.stage", [vals["stage_id"]]).get(vals["stage_id"])
            if stage and stage.get("is_won"):
                vals = {"probability": 100.0, **vals, "date_closed": now()}
        return vals

    def after_save(self, model: str, rid: int, vals: dict[str, Any], created: bool) -> None:
        if model == "res.partner":
            self._partner_sync(rid, vals, created)
        elif model == "res.users":
            self._users_check(rid, vals)
        elif model == "crm.lead":
            prob = self.env.store.get(model, rid)["probability"]
            if not 0 <= prob <= 100:
                raise errors.operation_failed("The probability of closing the deal should be between 0% and 100%!")
        elif model == "ir.model":
            self._model_created(rid, vals, created)
        elif model == "ir.model.fields":
            self._field_check(rid)
        elif model == "ir.model.data":
            self._data_check(rid)
        elif model == "ir.model.fields.selection":
            self.env.invalidate_registry()

    def before_unlink(self, model: str, ids: list[int], rows: dict[int, dict[str, Any]]) -> None:
        if model in ("ir.model.fields", "ir.model"):
            if any(i < (10000 if model == "ir.model.fields" else 1000) for i in ids):
                raise errors.UserError("This column contains module data and cannot be removed!")
            if model == "ir.model":
                for rid in ids:
                    for fld in self.env.store.scan("ir.model.fields", [("model_id", rid)]):
                        self.env.store.delete("ir.model.fields", [fld["id"]])
                    custom = rows[rid]["model"]
                    self.env.store.delete(custom, [r["id"] for r in self.env.store.scan(custom)])
            self.env.invalidate_registry()

    # -- res.partner ---------------------------------------------------------------------------------------------
    def _create_res_partner(self, vals: dict[str, Any]) -> dict[str, Any]:
        if "company_type" in vals:
            vals["is_company"] = vals.pop("company_type") == "company"
        vals.setdefault("type", "contact")
        parent_id = vals.get("parent_id")
        if parent_id and vals.get("type") == "contact" and isinstance(parent_id, int):
            parent = self.env.browse("res.partner", [parent_id]).get(parent_id)
            if parent and any(parent.get(k) for k in ADDRESS_FIELDS):
                vals.update({k: parent.get(k) or False for k in ADDRESS_FIELDS})
        return vals

    def _partner_sync(self, rid: int, vals: dict[str, Any], created: bool) -> None:
        env = self.env
        rec = env.store.get("res.partner", rid)
        if rec.get("type") == "contact" and not rec.get("name"):
            raise errors.operation_failed("Contacts require a name")
        if rec.get("parent_id") and rid in env.hierarchy("res.partner", [rec["parent_id"]], down=False):
            raise errors.ValidationError("You cannot create recursive Partner hierarchies.")
        if "parent_id" in vals and rec.get("parent_id") and rec.get("type") == "contact" and not created:
            parent = env.store.get("res.partner", rec["parent_id"])
            if parent and any(parent.get(k) for k in ADDRESS_FIELDS):
                env.update_raw("res.partner", rid, {k: parent.get(k) or False for k in ADDRESS_FIELDS})
        self._partner_compute(rid)
        if not created and set(vals) & {*ADDRESS_FIELDS, "name", "is_company", "parent_id"}:
            parent = env.store.get("res.partner", rid)
            address = {k: parent.get(k) or False for k in ADDRESS_FIELDS}
            for child in env.store.scan("res.partner", [("parent_id", rid)]):
                if set(vals) & set(ADDRESS_FIELDS) and child.get("type") == "contact":
                    env.update_raw("res.partner", child["id"], address)
                self._partner_sync(child["id"], {}, created=False)

    def _partner_compute(self, rid: int) -> None:
        env = self.env
        rec = env.store.get("res.partner", rid)
        commercial = rec
        seen = {rid}
        while not commercial.get("is_company") and commercial.get("parent_id") and commercial["parent_id"] not in seen:
            seen.add(commercial["parent_id"])
            commercial = env.store.get("res.partner", commercial["parent_id"]) or commercial
        parent = env.store.get("res.partner", rec["parent_id"]) if rec.get("parent_id") else None
        company_name = commercial.get("name") if commercial["id"] != rid else (rec.get("company_name") or False)
        name = rec.get("name") or ""
        if rec.get("company_name") or parent:
            if not name and rec.get("type") in _DISPLAYED_TYPES:
                name = dict(PARTNER_TYPES)[rec["type"]]
            if not rec.get("is_company"):
                name = f"{company_name or (parent or {}).get('name') or ''}, {name}"
        env.update_raw("res.partner", rid, {"commercial_partner_id": commercial["id"],
                                            "commercial_company_name": company_name or False,
                                            "complete_name": name.strip() or False})

    # -- res.users -----------------------------------------------------------------------------------------------
    def _create_res_users(self, vals: dict[str, Any]) -> dict[str, Any]:
        password = vals.pop("password", None)
        if not vals.get("partner_id"):
            name = vals.get("name") or vals.get("login")
            vals["partner_id"] = self.env.create("res.partner", [{"name": name, "email": vals.get("email")}])[0]
        vals.setdefault("share", False)
        if password:
            self._pending_password = str(password)
        return vals

    def _users_check(self, rid: int, vals: dict[str, Any]) -> None:
        env = self.env
        rec = env.store.get("res.users", rid)
        if sum(1 for r in env.store.scan("res.users", [("login", rec["login"])])) > 1:
            raise errors.operation_failed("You can not have two users with the same login !")
        pending = getattr(self, "_pending_password", None)
        if pending:
            env.store.set_password(rid, pending)
            self._pending_password = None
        sync = {k: vals[k] for k in ("name", "email") if k in vals}
        if sync and rec.get("partner_id"):
            env.update_raw("res.partner", rec["partner_id"], sync)
            self._partner_compute(rec["partner_id"])

    # -- crm.lead ------------------------------------------------------------------------------------------------
    def _create_crm_lead(self, vals: dict[str, Any]) -> dict[str, Any]:
        env = self.env
        vals.setdefault("type", "lead" if env.config.crm_use_leads else "opportunity")
        if "stage_id" not in vals:
            stages = env.search("crm.stage", [], limit=1)
            vals["stage_id"] = stages[0] if stages else False
        vals.setdefault("user_id", env.uid)
        if "team_id" not in vals:
            teams = env.search("crm.team", [], limit=1)
            vals["team_id"] = teams[0] if teams else False
        if vals.get("partner_id") and not vals.get("email_from") and isinstance(vals["partner_id"], int):
            partner = env.browse("res.partner", [vals["partner_id"]]).get(vals["partner_id"])
            if partner and partner.get("email"):
                vals["email_from"] = partner["email"]
        return self.before_write("crm.lead", [], vals)

    # -- ir.model / ir.model.fields -------------------------------------------------------------------------------
    def _create_ir_model(self, vals: dict[str, Any]) -> dict[str, Any]:
        name = vals.get("model") or ""
        vals.setdefault("state", "manual")
        if vals["state"] == "manual" and not str(name).startswith("x_"):
            raise errors.ValidationError("The model name must start with 'x_'.")
        if not _MODEL_NAME.match(str(name)):
            raise errors.ValidationError(
                "The model name can only contain lowercase characters, digits, underscores and dots.")
        if name in self.env.registry:
            raise errors.operation_failed("Each model must have a unique name.")
        if "field_id" not in vals:
            vals["field_id"] = [(0, 0, {"name": "x_name", "field_description": "Name", "ttype": "char",
                                        "copied": True})]
        self.env.invalidate_registry()
        return vals

    def _model_created(self, rid: int, vals: dict[str, Any], created: bool) -> None:
        self.env.invalidate_registry()

    def _create_ir_model_fields(self, vals: dict[str, Any]) -> dict[str, Any]:
        env = self.env
        model_id = vals.get("model_id")
        rows = env.browse("ir.model", [model_id]) if isinstance(model_id, int) else {}
        if model_id and rows:
            vals["model"] = rows[model_id]["model"]
        elif vals.get("model") and not model_id:
            found = env.rows("ir.model", [("model", vals["model"])])
            if found:
                vals["model_id"] = found[0]["id"]
        vals.setdefault("state", "manual")
        vals.setdefault("field_description", vals.get("name"))
        if isinstance(vals.get("selection"), str) and vals.get("ttype") == "selection":
            options = ast.literal_eval(vals.pop("selection"))
            vals["selection_ids"] = [(0, 0, {"value": k, "name": v, "sequence": i}) for i, (k, v) in enumerate(options)]
        else:
            vals.pop("selection", None)
        if vals.get("ttype") not in TTYPES and vals.get("ttype") in ("properties", "properties_definition"):
            raise errors.UserError(f"Field type {vals['ttype']!r} cannot be created through the external API here")
        return vals

    def _field_check(self, rid: int) -> None:
        env = self.env
        rec = env.store.get("ir.model.fields", rid)
        name = str(rec.get("name") or "")
        if rec.get("state") == "manual" and not name.startswith("x_"):
            raise errors.ValidationError("Custom fields must have a name that starts with 'x_'!")
        if not _PG_NAME.match(name):
            raise errors.ValidationError("Field names can only contain characters, digits and underscores (up to 63).")
        model = rec.get("model")
        if model not in env.registry:
            raise errors.UserError(f"Model {model} does not exist!")
        if (name in env.spec(model).fields and not env.spec(model).fields[name].manual) or sum(
                1 for r in env.store.scan("ir.model.fields", [("model", model), ("name", name)])) > 1:
            raise errors.operation_failed("Field names must be unique per model.")
        ttype = rec.get("ttype")
        if ttype in ("many2one", "many2many", "one2many"):
            relation = rec.get("relation")
            if not relation or relation not in env.registry:
                raise errors.UserError(f"Model {relation} does not exist!")
            if ttype == "one2many":
                inverse = env.spec(relation).fields.get(str(rec.get("relation_field")))
                if inverse is None or inverse.type != "many2one":
                    raise errors.UserError(f"Many2one {rec.get('relation_field')} on model {relation} does not exist!")
            if ttype == "many2one" and rec.get("required") and rec.get("on_delete") == "set null":
                raise errors.ValidationError(
                    f"The m2o field {name} is required but declares its ondelete policy as being 'set null'. Only "
                    "'restrict' and 'cascade' make sense.")
        env.invalidate_registry()

    # -- ir.model.data -------------------------------------------------------------------------------------------
    def _data_check(self, rid: int) -> None:
        rec = self.env.store.get("ir.model.data", rid)
        if " " in str(rec.get("name")):
            raise errors.operation_failed("External IDs cannot contain spaces")
        same = self.env.store.scan("ir.model.data", [("module", rec["module"]), ("name", rec["name"])])
        if len(same) > 1:
            raise errors.operation_failed(
                'duplicate key value violates unique constraint "ir_model_data_module_name_uniq_index"\n'
                f"DETAIL:  Key (module, name)=({rec['module']}, {rec['name']}) already exists.\n")
        self.env.update_raw("ir.model.data", rid, {"complete_name": f"{rec['module']}.{rec['name']}"})

    # -- ir.attachment -------------------------------------------------------------------------------------------
    def _attachment_content(self, datas: Any) -> dict[str, Any]:
        if datas in (False, None):
            return {"datas": False, "file_size": 0, "checksum": False}
        raw = base64.b64decode(datas if isinstance(datas, (str, bytes)) else str(datas))  # binascii.Error -> fault 1
        limit = self.env.config.attachment_limit()
        if limit and len(raw) > limit:
            raise errors.UserError(f"The file is too large ({len(raw)} bytes); the maximum size is {limit} bytes.")
        return {"datas": base64.b64encode(raw).decode(), "file_size": len(raw),
                "checksum": hashlib.sha1(raw).hexdigest()}  # noqa: S324 - Odoo's checksum is SHA-1

    def _create_ir_attachment(self, vals: dict[str, Any]) -> dict[str, Any]:
        if "datas" in vals:
            vals.update(self._attachment_content(vals["datas"]))
        if not vals.get("mimetype"):
            guessed = mimetypes.guess_type(str(vals.get("name") or ""))[0]
            vals["mimetype"] = guessed or ("application/octet-stream" if vals.get("datas") else False)
        model, res_id = vals.get("res_model"), vals.get("res_id")
        if model and res_id and model in self.env.registry:
            row = self.env.browse(str(model), [int(res_id)]).get(int(res_id))
            vals["res_name"] = self.display_name(str(model), row) if row else False
        return vals

    # -- mail.message --------------------------------------------------------------------------------------------
    def _create_mail_message(self, vals: dict[str, Any]) -> dict[str, Any]:
        env = self.env
        if "author_id" not in vals:
            user = env.browse("res.users", [env.uid]).get(env.uid)
            vals["author_id"] = user["partner_id"] if user else False
        vals.setdefault("date", now())
        model, res_id = vals.get("model"), vals.get("res_id")
        if model and res_id and model in env.registry:
            row = env.browse(str(model), [int(res_id)]).get(int(res_id))
            vals["record_name"] = self.display_name(str(model), row) if row else False
        if vals.get("subtype_id"):
            sub = env.browse("mail.message.subtype", [vals["subtype_id"]]).get(vals["subtype_id"])
            vals.setdefault("is_internal", bool(sub and sub.get("internal")))
        return vals

    # -- stock ---------------------------------------------------------------------------------------------------
    def _create_stock_picking(self, vals: dict[str, Any]) -> dict[str, Any]:
        env = self.env
        ptype = env.browse("stock.picking.type", [vals.get("picking_type_id") or 0]).get(vals.get("picking_type_id"))
        if ptype:
            vals.setdefault("location_id", ptype.get("default_location_src_id") or False)
            vals.setdefault("location_dest_id", ptype.get("default_location_dest_id") or False)
            if vals.get("name", "/") == "/":
                number = env.store.next_id(f"sequence:stock.picking.type:{ptype['id']}")
                vals["name"] = f"WH/{ptype.get('sequence_code') or 'OUT'}/{number:05d}"
        vals.setdefault("scheduled_date", now())
        return vals

    def _create_stock_move_line(self, vals: dict[str, Any]) -> dict[str, Any]:
        env = self.env
        picking = env.browse("stock.picking", [vals.get("picking_id") or 0]).get(vals.get("picking_id"))
        if picking:
            vals.setdefault("location_id", picking.get("location_id") or False)
            vals.setdefault("location_dest_id", picking.get("location_dest_id") or False)
        product = env.browse("product.product", [vals.get("product_id") or 0]).get(vals.get("product_id"))
        if product and not vals.get("product_uom_id"):
            vals["product_uom_id"] = product.get("uom_id") or False
        vals.setdefault("date", now())
        return vals

