"""Odoo's test kit: the contract facts and the independent probe (plain ``xmlrpc.client``, never our connector)."""

from __future__ import annotations

import json
import sqlite3
import ssl
import xmlrpc.client
from pathlib import Path
from typing import Any

from sandbox.odoo.catalog import builtin_models
from sandbox.serve import RunningStandin, start_standin
from shared.connectors.odoo.client import OdooDestination
from tests.kits import DestinationKit, Row, StateRules


class OdooProbe:
    """Reads and edits the migrated database as Odoo's own documentation does: ``xmlrpc.client`` and
    ``execute_kw`` (many2one values read back as ``[id, name]``; the probe keeps the id, as text)."""

    def __init__(self, runtime: Any) -> None:
        info = runtime.destination_standin.info
        ctx = ssl.create_default_context(cafile=info["ca_path"])
        creds = info["credentials"]
        self.db, self.key = creds["db"], creds["api_key"]
        common = xmlrpc.client.ServerProxy(f"{info['url']}/xmlrpc/2/common", context=ctx)
        self.uid = common.authenticate(self.db, creds["login"], self.key, {})
        assert self.uid, "the probe could not log in"
        self.models = xmlrpc.client.ServerProxy(f"{info['url']}/xmlrpc/2/object", context=ctx)

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.models.execute_kw(self.db, self.uid, self.key, model, method, list(args), kwargs)

    @staticmethod
    def _value(value: Any, kind: str) -> Any:
        if kind == "many2one" and isinstance(value, list):  # [id, display name]
            return str(value[0])
        if kind == "many2one_reference":  # a bare id (res_id of a message or an attachment)
            return str(value) if value else None
        return None if value is False and kind != "boolean" else value

    def rows(self, obj: str, ext: str, source_object: str, fields: list[str]) -> dict[str, dict[str, Any]]:
        types = {k: v["type"] for k, v in self.call(obj, "fields_get", attributes=["type"]).items()}
        found = self.call(obj, "search_read", [[ext, "=like", source_object + ":%"]], [ext, *fields],
                          context={"active_test": False})
        return {str(r[ext]): {**{f: self._value(r.get(f), types.get(f, "")) for f in fields}, "Id": str(r["id"])}
                for r in found if str(r[ext]).startswith(source_object + ":")}

    def ids(self, obj: str) -> set[str]:
        return {str(i) for i in self.call(obj, "search", [], context={"active_test": False})}

    def edit(self, obj: str, dest_id: str, field: str, value: Any) -> None:
        self.call(obj, "write", [int(dest_id)], {field: False if value is None else value})


def _connect(s: RunningStandin) -> OdooDestination:
    c = s.info["credentials"]
    return OdooDestination(s.url, c["db"], c["login"], c["api_key"], ca_pem=Path(s.ca_path).read_text())

#: Odoo's log-access fields: who and when at run time (the source's times live in x_original_* fields);
#: the golden snapshot leaves them out.
_LOG_ACCESS = frozenset({"create_date", "write_date", "create_uid", "write_uid"})


def _state_rows(db: sqlite3.Connection) -> list[Row]:
    """The Odoo stand-in's records with ids as ``<model>:<id>`` and every reference written the same way.

    Odoo ids are integers per model, so a reference names its model only through the field's relation
    (builtin fields from the stand-in's catalog, custom ones from ``ir.model.fields``); a
    ``many2one_reference`` (``res_id``) through its record's ``model`` / ``res_model``.
    """
    raw = [(model, int(rid), json.loads(data))
           for model, rid, data in db.execute("SELECT model, id, data FROM records")]
    relations: dict[str, dict[str, tuple[str, str | None]]] = {
        m: {f.name: (f.type, f.relation) for f in spec.fields.values()} for m, spec in builtin_models(17).items()}
    for model, _, data in raw:
        if model == "ir.model.fields":
            relations.setdefault(str(data.get("model")), {})[str(data["name"])] = (
                str(data.get("ttype")), data.get("relation") or None)
    out: list[Row] = []
    for model, rid, data in raw:
        fields: dict[str, Any] = {}
        for name, stored in data.items():
            if name in _LOG_ACCESS or name == "id":
                continue
            kind, relation = relations.get(model, {}).get(name, ("", None))
            target = relation or (data.get("model") or data.get("res_model") if kind == "many2one_reference" else None)
            value = stored
            if target and isinstance(stored, int) and not isinstance(stored, bool):
                value = f"{target}:{stored}"
            elif target and isinstance(stored, list):
                value = sorted(f"{target}:{v}" for v in stored if isinstance(v, int))
            fields[name] = value
        out.append((model, f"{model}:{rid}", fields))
    return out


KIT = DestinationKit(
    name="odoo",
    start=lambda d: start_standin("odoo", ["--state", str(d / "odoo.sqlite"), "--version", "17"]),
    connect=_connect,
    writable_object="res.partner",
    required={"name": "Contract Test Co", "is_company": True},
    text_field="comment",
    ext_field="x_contract_key",
    required_on_create=("crm.lead", ["name"]),
    refused={"name": False},  # "Contacts require a name"
    missing_object="x_no_such_model",
    probe=OdooProbe,
    write_sizes=[("one-call", 40, False), ("several-calls", 260, True)],
    state=StateRules(rows=_state_rows),
)
