"""Rules of the technical models: custom schema (``ir.model``, ``ir.model.fields``), external ids, attachments.

* ``ir.model`` / ``ir.model.fields`` / ``ir.model.fields.selection``: builtin rows synthesized
  from the catalog, custom rows stored; the ``x_`` rules, ttypes and relations of
  ``odoo/addons/base/models/ir_model.py``; a manual field is real on its model from the next
  statement on.
* ``ir.model.data``: unique ``module.name`` (the unique index's own message), no spaces.
* ``ir.attachment``: base64 ``datas`` (decoding errors surface as Odoo's do), size, SHA-1
  checksum, mimetype guessed from the name, and the per-file limit knob.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import mimetypes
import re
from typing import TYPE_CHECKING, Any

from sandbox.odoo import errors
from sandbox.odoo.fields import TTYPES, FieldSpec, ModelSpec, magic_fields

if TYPE_CHECKING:
    from sandbox.odoo.orm import Env

_PG_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_MODEL_NAME = re.compile(r"^[a-z0-9_.]+$")


class TechnicalRules:
    """Mixed into :class:`sandbox.odoo.rules.Rules`; ``self.env`` is the call's environment."""

    env: Env

    def display_name(self, model: str, rec: dict[str, Any] | None) -> str:
        raise NotImplementedError  # provided by Rules

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
        rec = env.row("ir.model.fields", rid)
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

    def _data_check(self, rid: int) -> None:
        rec = self.env.row("ir.model.data", rid)
        if " " in str(rec.get("name")):
            raise errors.operation_failed("External IDs cannot contain spaces")
        same = self.env.store.scan("ir.model.data", [("module", rec["module"]), ("name", rec["name"])])
        if len(same) > 1:
            raise errors.operation_failed(
                'duplicate key value violates unique constraint "ir_model_data_module_name_uniq_index"\n'
                f"DETAIL:  Key (module, name)=({rec['module']}, {rec['name']}) already exists.\n")
        self.env.update_raw("ir.model.data", rid, {"complete_name": f"{rec['module']}.{rec['name']}"})

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
