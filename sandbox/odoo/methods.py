"""The model methods callable over RPC, with the signatures Odoo gives them (per version).

Arguments are bound to real Python signatures, so a wrong argument is the ``TypeError`` Odoo
raises (fault 1 over XML-RPC, 422 over JSON-2). ``@api.model`` methods take no ids; the others
get the record ids first (``execute_kw``'s ``args[0]``, JSON-2's ``ids``). A method that does not
exist on the model is ``AttributeError`` (as ``getattr(type(model), name)`` fails); a private one
is an AccessError. Results that are records are handed back as :class:`Records` so each
transport can downgrade them (``create`` -> id or ids, ``message_post`` -> id; JSON-2 -> ids).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.odoo import errors
from sandbox.odoo.orm import Env

FIELD_ATTRIBUTES = ("string", "help", "type", "required", "readonly", "store", "selection", "relation",
                    "relation_field", "sortable", "searchable", "manual", "name")


@dataclass
class Records:
    """A recordset returned by a method."""

    model: str
    ids: list[int]


@dataclass
class Rs:
    """``self`` of a model method: the environment, the model and the record ids."""

    env: Env
    model: str
    ids: list[int]


# -- @api.model methods ---------------------------------------------------------------------------------------------
def create(self: Rs, vals_list: Any) -> Records:
    batch = vals_list if isinstance(vals_list, list) else [vals_list]
    return Records(self.model, self.env.create(self.model, batch))


def search(self: Rs, domain: Any, offset: int = 0, limit: int | None = None, order: str | None = None) -> Records:
    return Records(self.model, self.env.search(self.model, domain, offset, limit, order))


def search_count(self: Rs, domain: Any, limit: int | None = None) -> int:
    return len(self.env.search(self.model, domain, 0, limit, None))


def search_read(self: Rs, domain: Any = None, fields: list[str] | None = None, offset: int = 0,
                limit: int | None = None, order: str | None = None, load: str = "_classic_read"
                ) -> list[dict[str, Any]]:
    if fields:
        self.env.check_fields(self.model, fields)
    ids = self.env.search(self.model, domain or [], offset, limit, order)
    return self.env.read(self.model, ids, fields, load) if ids else []


def fields_get(self: Rs, allfields: list[str] | None = None, attributes: list[str] | None = None
               ) -> dict[str, dict[str, Any]]:
    spec = self.env.spec(self.model)
    out: dict[str, dict[str, Any]] = {}
    for name, fs in spec.fields.items():
        if allfields and name not in allfields:
            continue
        desc: dict[str, Any] = {"name": name, "string": fs.string, "type": fs.type, "required": fs.required,
                                "readonly": fs.readonly or name in ("id", "display_name", "create_uid", "create_date",
                                                                    "write_uid", "write_date"),
                                "store": fs.store, "manual": fs.manual, "sortable": fs.store,
                                "searchable": fs.store or fs.type == "one2many" or name == "display_name"}
        if fs.help:
            desc["help"] = fs.help
        if fs.type == "selection":
            desc["selection"] = [list(s) for s in fs.selection]
        if fs.relation:
            desc["relation"] = fs.relation
        if fs.relation_field:
            desc["relation_field"] = fs.relation_field
        out[name] = {k: v for k, v in desc.items() if k in attributes} if attributes else desc
    return out


def _name_search(self: Rs, name: str, domain: Any, operator: str, limit: int | None) -> list[list[Any]]:
    spec = self.env.spec(self.model)
    field = spec.rec_name if spec.rec_name in spec.fields else "display_name"
    full = list(domain or [])
    if name:
        full = ["&", *full, (field, operator, name)] if full else [(field, operator, name)]
    ids = self.env.search(self.model, full, 0, limit, None)
    rows = self.env.browse(self.model, ids)
    return [[i, self.env.name_of(self.model, rows[i])] for i in ids]


def name_search_17(self: Rs, name: str = "", args: Any = None, operator: str = "ilike", limit: int = 100
                   ) -> list[list[Any]]:
    return _name_search(self, name, args, operator, limit)


def name_search_18(self: Rs, name: str = "", domain: Any = None, operator: str = "ilike", limit: int = 100
                   ) -> list[list[Any]]:
    return _name_search(self, name, domain, operator, limit)


def check_object_reference(self: Rs, module: str, xml_id: str, raise_on_access_error: bool = False) -> list[Any]:
    rows = self.env.rows("ir.model.data", [("module", module), ("name", xml_id)])
    if not rows:
        raise ValueError(f"External ID not found in the system: {module}.{xml_id}")
    return [rows[0]["model"], rows[0]["res_id"]]


def context_get(self: Rs) -> dict[str, Any]:
    user = self.env.browse("res.users", [self.env.uid]).get(self.env.uid) or {}
    return {"lang": user.get("lang") or "en_US", "tz": user.get("tz") or False, "uid": self.env.uid}


def default_get(self: Rs, fields_list: list[str]) -> dict[str, Any]:
    spec = self.env.spec(self.model)
    self.env.check_fields(self.model, fields_list)
    return {n: spec.fields[n].default for n in fields_list if spec.fields[n].default is not None}


# -- record methods -------------------------------------------------------------------------------------------------
def read(self: Rs, fields: list[str] | None = None, load: str = "_classic_read") -> list[dict[str, Any]]:
    return self.env.read(self.model, self.ids, fields, load)


def write(self: Rs, vals: dict[str, Any]) -> bool:
    self.env.write(self.model, self.ids, vals)
    return True


def unlink(self: Rs) -> bool:
    self.env.unlink(self.model, self.ids)
    return True


def exists(self: Rs) -> Records:
    return Records(self.model, [i for i in self.ids if i in self.env.browse(self.model, self.ids)])


def action_archive(self: Rs) -> None:
    """Returns nothing, so XML-RPC (``allow_none=False``) cannot marshal the answer, as on 17."""
    self.env.write(self.model, self.ids, {"active": False})


def action_unarchive(self: Rs) -> None:
    self.env.write(self.model, self.ids, {"active": True})


def message_post(self: Rs, *, body: str = "", subject: str | None = None, message_type: str = "notification",
                 email_from: str | None = None, author_id: int | None = None, parent_id: int | bool = False,
                 subtype_xmlid: str | None = None, subtype_id: int | bool = False, partner_ids: list[int] | None = None,
                 attachments: list[Any] | None = None, attachment_ids: list[int] | None = None,
                 body_is_html: bool = False, **kwargs: Any) -> Records:
    env = self.env
    if len(self.ids) != 1:
        raise ValueError(f"Expected singleton: {self.model}({', '.join(map(str, self.ids))})")
    env.existing(self.model, self.ids)
    _check_post_parameters(env, set(kwargs))
    if attachments:
        raise errors.UserError("Posting raw attachments (name, content) tuples is not supported by this stand-in; "
                               "create ir.attachment records and pass attachment_ids")
    if subtype_xmlid:
        module, _, name = subtype_xmlid.partition(".")
        rows = env.rows("ir.model.data", [("module", module), ("name", name)])
        if not rows:
            raise ValueError(f"External ID not found in the system: {subtype_xmlid}")
        subtype_id = rows[0]["res_id"]
    text = body if isinstance(body, str) else str(body or "")
    if text and not body_is_html:
        text = html.escape(text, quote=True).replace("&#x27;", "&#39;").replace("&quot;", "&#34;")
    vals: dict[str, Any] = {"body": text, "model": self.model, "res_id": self.ids[0], "message_type": message_type,
                            "subject": subject or False, "subtype_id": subtype_id or False,
                            "parent_id": parent_id, **kwargs}
    if author_id:
        vals["author_id"] = author_id
    if email_from:
        vals["email_from"] = email_from
    vals.pop("parent_id")
    if attachment_ids:
        vals["attachment_ids"] = [(6, 0, list(attachment_ids))]
        env.write("ir.attachment", list(attachment_ids), {"res_model": self.model, "res_id": self.ids[0]})
    del partner_ids
    return Records("mail.message", env.create("mail.message", [vals]))


POST_FORBIDDEN = {"model", "res_id", "subtype"}


def _check_post_parameters(env: Env, names: set[str]) -> None:
    """``mail.thread._raise_for_invalid_parameters``: extra values must be mail.message fields, minus a few."""
    allowed = set(env.spec("mail.message").fields) - {"id", "display_name"}
    invalid = (names & POST_FORBIDDEN) | (names - allowed)
    if invalid:
        raise ValueError(f"Those values are not supported when posting or notifying: {', '.join(sorted(invalid))}")


API_MODEL = {"create", "search", "search_count", "search_read", "fields_get", "name_search", "check_object_reference",
             "context_get", "default_get"}
COMMON: dict[str, Callable[..., Any]] = {
    "create": create, "search": search, "search_count": search_count, "search_read": search_read,
    "fields_get": fields_get, "default_get": default_get, "read": read, "write": write, "unlink": unlink,
    "exists": exists,
}


def lookup(env: Env, model: str, method: str) -> tuple[Callable[..., Any], bool]:
    """The function behind ``model.method`` and whether it is ``@api.model``; Odoo's refusals otherwise."""
    if method.startswith("_"):
        shown = method if env.version == 17 else f"'{model}.{method}'"
        raise errors.AccessError(f"Private methods (such as {shown}) cannot be called remotely.")
    spec = env.registry.get(model)
    if spec is None:
        raise errors.UserError(f"Object {model} doesn't exist")
    table = dict(COMMON)
    table["name_search"] = name_search_17 if env.version == 17 else name_search_18
    if "active" in spec.fields:
        table["action_archive"] = action_archive
        table["action_unarchive"] = action_unarchive
    if spec.mail_thread:
        table["message_post"] = message_post
    if model == "ir.model.data":
        table["check_object_reference"] = check_object_reference
    if model == "res.users":
        table["context_get"] = context_get
    fn = table.get(method)
    if fn is None:  # 17: call_kw's getattr(type(model), name); 18+: service.model.get_public_method
        if env.version == 17:
            raise AttributeError(f"type object '{model}' has no attribute '{method}'")
        raise AttributeError(f"The method '{model}.{method}' does not exist")
    return fn, method in API_MODEL
