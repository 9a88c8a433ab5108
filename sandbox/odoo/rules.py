"""Model-specific behaviour of the business models: defaults, stored computes, constraints.

Each rule mirrors what the named Odoo model does on create/write, as far as a loader notices:

* ``res.partner``: ``company_type`` <-> ``is_company``; a contact under a parent with an
  address takes the parent's address (``onchange_parent_id`` applied by ``_fields_sync``);
  stored ``commercial_partner_id`` / ``complete_name`` recomputed down the tree; "Contacts
  require a name"; no recursive hierarchies.
* ``res.users``: a partner is created for the user; unique login; password kept apart.
* ``crm.lead``: type from the Leads setting, first stage, salesperson = caller, probability
  0-100 (SQL check), a won stage sets probability 100 and ``date_closed``.
* ``mail.message``: author, date, record name; ``stock.*``: names and locations from the
  operation type and the picking; a move line put into a transfer gets its ``stock.move``; done
  operations cannot be deleted, a transfer takes its moves and lines with it; ``product.product``
  defaults to the Units unit of measure.

The technical models (custom schema, external ids, attachments) are in :mod:`sandbox.odoo.technical`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.odoo import errors
from sandbox.odoo.catalog import ADDRESS_FIELDS, PARTNER_TYPES
from sandbox.odoo.fields import now
from sandbox.odoo.technical import TechnicalRules

if TYPE_CHECKING:
    from sandbox.odoo.orm import Env

_DISPLAYED_TYPES = ("invoice", "delivery", "other")


class Rules(TechnicalRules):
    """Hooks the ORM calls around its generic create/write/unlink/read."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self._pending_password: str | None = None  # set by create, stored once the user has an id

    def _linked(self, model: str, rid: Any) -> dict[str, Any] | None:
        """The row a many2one value points at, if the value is an existing id."""
        if not isinstance(rid, int) or isinstance(rid, bool) or not rid:
            return None
        return self.env.browse(model, [rid]).get(rid)

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
            prob = self.env.row(model, rid)["probability"]
            if not 0 <= prob <= 100:
                raise errors.operation_failed("The probability of closing the deal should be between 0% and 100%!")
        elif model == "ir.model":
            self._model_created(rid, vals, created)
        elif model == "ir.model.fields":
            self._field_check(rid)
        elif model == "ir.model.data":
            self._data_check(rid)
        elif model == "stock.move.line":
            self._move_line_saved(rid)
        elif model == "ir.model.fields.selection":
            self.env.invalidate_registry()

    def before_unlink(self, model: str, ids: list[int], rows: dict[int, dict[str, Any]]) -> None:
        if model in ("stock.picking", "stock.move", "stock.move.line"):
            self._stock_unlink(model, ids, rows)
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
        rec = env.row("res.partner", rid)
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
            parent = env.row("res.partner", rid)
            address = {k: parent.get(k) or False for k in ADDRESS_FIELDS}
            for child in env.store.scan("res.partner", [("parent_id", rid)]):
                if set(vals) & set(ADDRESS_FIELDS) and child.get("type") == "contact":
                    env.update_raw("res.partner", child["id"], address)
                self._partner_sync(child["id"], {}, created=False)

    def _partner_compute(self, rid: int) -> None:
        env = self.env
        rec = env.row("res.partner", rid)
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
        rec = env.row("res.users", rid)
        if sum(1 for r in env.store.scan("res.users", [("login", rec["login"])])) > 1:
            raise errors.operation_failed("You can not have two users with the same login !")
        if self._pending_password:
            env.store.set_password(rid, self._pending_password)
            self._pending_password = None
        sync: dict[str, Any] = {k: vals[k] for k in ("name", "email") if k in vals}
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
        ptype = self._linked("stock.picking.type", vals.get("picking_type_id"))
        if ptype:
            vals.setdefault("location_id", ptype.get("default_location_src_id") or False)
            vals.setdefault("location_dest_id", ptype.get("default_location_dest_id") or False)
            if vals.get("name", "/") == "/":
                number = env.store.next_id(f"sequence:stock.picking.type:{ptype['id']}")
                vals["name"] = f"WH/{ptype.get('sequence_code') or 'OUT'}/{number:05d}"
        vals.setdefault("scheduled_date", now())
        return vals

    def _create_product_product(self, vals: dict[str, Any]) -> dict[str, Any]:
        """``product.template._get_default_uom_id``: Units when no unit is given."""
        if not vals.get("uom_id"):
            units = self.env.rows("ir.model.data", [("module", "uom"), ("name", "product_uom_unit")])
            vals["uom_id"] = units[0]["res_id"] if units else False
        return vals

    def _from_picking_and_product(self, vals: dict[str, Any], uom_field: str) -> dict[str, Any]:
        """Locations from the transfer, the unit from the product, the date now (a move's or a line's defaults)."""
        picking = self._linked("stock.picking", vals.get("picking_id"))
        if picking:
            if picking.get("state") == "cancel":
                raise errors.UserError(f"You cannot add operations to the cancelled transfer {picking.get('name')}.")
            vals.setdefault("location_id", picking.get("location_id") or False)
            vals.setdefault("location_dest_id", picking.get("location_dest_id") or False)
        product = self._linked("product.product", vals.get("product_id"))
        if product and not vals.get(uom_field):
            vals[uom_field] = product.get("uom_id") or False
        vals.setdefault("date", now())
        return vals

    def _create_stock_move_line(self, vals: dict[str, Any]) -> dict[str, Any]:
        return self._from_picking_and_product(vals, "product_uom_id")

    def _create_stock_move(self, vals: dict[str, Any]) -> dict[str, Any]:
        picking = self._linked("stock.picking", vals.get("picking_id"))
        if picking:
            vals.setdefault("origin", picking.get("origin") or False)
        return self._from_picking_and_product(vals, "product_uom")

    def _move_line_saved(self, rid: int) -> None:
        """``stock.move.line.create``: a line put straight into a transfer joins the transfer's move of its
        product, or gets a move of its own (demand = its quantity); its state follows its move."""
        env = self.env
        line = env.row("stock.move.line", rid)
        move_id = line.get("move_id")
        if not move_id and line.get("picking_id"):
            moves = [m for m in env.store.scan("stock.move", [("picking_id", line["picking_id"])])
                     if m.get("product_id") == line["product_id"] and m.get("state") not in ("done", "cancel")]
            if moves:
                move_id = moves[0]["id"]
            else:
                product = env.row("product.product", line["product_id"])
                move_id = env.create("stock.move", [{
                    "name": product.get("name") or "", "picking_id": line["picking_id"],
                    "product_id": line["product_id"], "product_uom": line["product_uom_id"],
                    "product_uom_qty": line.get("quantity") or 0.0, "quantity": line.get("quantity") or 0.0,
                    "location_id": line["location_id"], "location_dest_id": line["location_dest_id"]}])[0]
            env.update_raw("stock.move.line", rid, {"move_id": move_id})
        if move_id:
            move = env.row("stock.move", move_id)
            env.update_raw("stock.move.line", rid, {"state": move.get("state") or "draft"})

    def _stock_unlink(self, model: str, ids: list[int], rows: dict[int, dict[str, Any]]) -> None:
        """Done operations cannot be deleted; a transfer takes its moves and lines with it (``ondelete='cascade'``)."""
        env = self.env
        done = [r for r in rows.values() if r.get("state") == "done"]
        if done and model == "stock.move.line":
            raise errors.UserError("You can not delete product moves if the picking is done. You can only correct "
                                   "the done quantities.")
        if done and model == "stock.move":
            raise errors.UserError("You can only delete draft or cancelled moves.")
        if done and model == "stock.picking":
            raise errors.UserError("You cannot delete a transfer that is done.")
        inverse = {"stock.picking": "picking_id", "stock.move": "move_id"}.get(model)
        if inverse:
            for child in ("stock.move.line", "stock.move") if model == "stock.picking" else ("stock.move.line",):
                env.store.delete(child, [r["id"] for r in env.store.scan(child, [(inverse, ids)])])

