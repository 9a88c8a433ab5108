"""The ORM of one request: schema (builtin + ``state='manual'``), CRUD, x2many commands, search.

One :class:`Env` lives for one RPC call, inside one SQLite transaction opened by the caller, so
anything a call raises rolls all of it back (as Odoo's cursor does). Log-access fields and
``id`` are stripped from values silently (``_prepare_create_values``); unknown fields are
``ValueError("Invalid field ...")``; a many2one to a missing row is the foreign-key violation
the request wrapper turns into a ValidationError. Builtin rows of ``ir.model`` /
``ir.model.fields`` are synthesized from the catalog (ids below :data:`MANUAL_MODEL_FLOOR` /
:data:`MANUAL_FIELD_FLOOR`), custom ones are stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from sandbox.odoo import errors
from sandbox.odoo.catalog import INVENTORY_MODULES, builtin_models
from sandbox.odoo.config import OdooStandinConfig
from sandbox.odoo.domain import DomainCompiler, default_order, parse_order
from sandbox.odoo.fields import LOG_ACCESS, X2MANY, FieldSpec, ModelSpec, convert_scalar, now, read_scalar
from sandbox.odoo.store import Store

if TYPE_CHECKING:
    from sandbox.odoo.rules import Rules

MANUAL_MODEL_FLOOR = 1000
MANUAL_FIELD_FLOOR = 10000
VIRTUAL = ("ir.model", "ir.model.fields")
SCHEMA_MODELS = ("ir.model", "ir.model.fields", "ir.model.fields.selection")
STRIPPED = (*LOG_ACCESS, "id", "display_name", "__last_update")


class Env:
    """Schema, records and the ORM operations for one call by ``uid``."""

    def __init__(self, store: Store, config: OdooStandinConfig, uid: int, context: dict[str, Any] | None = None,
                 deadline: float | None = None) -> None:
        from sandbox.odoo.rules import Rules  # noqa: PLC0415 - the rules call back into the ORM

        self.store = store
        self.config = config
        self.version = config.version
        self.uid = uid
        self.context: dict[str, Any] = dict(context or {})
        self.deadline = deadline
        self.rules: Rules = Rules(self)
        self._registry: dict[str, ModelSpec] | None = None
        self.domains = DomainCompiler(self, self.version)

    # -- time limit ----------------------------------------------------------------------------------------------
    def check_deadline(self) -> None:
        """Odoo's master kills the worker past ``limit_time_real``; here the call stops and rolls back."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise errors.WorkerKilled

    # -- schema --------------------------------------------------------------------------------------------------
    def installed(self, spec: ModelSpec) -> bool:
        return spec.module not in INVENTORY_MODULES or self.config.inventory_installed

    @property
    def registry(self) -> dict[str, ModelSpec]:
        if self._registry is None:
            self._registry = self._build_registry()
        return self._registry

    def invalidate_registry(self) -> None:
        self._registry = None

    def _build_registry(self) -> dict[str, ModelSpec]:
        reg = {name: spec for name, spec in builtin_models(self.version).items() if self.installed(spec)}
        for row in self.store.scan("ir.model"):
            reg[row["model"]] = self.rules.custom_model_spec(row)
        manual: dict[str, dict[str, FieldSpec]] = {}
        for row in self.store.scan("ir.model.fields"):
            if row.get("model") in reg:
                manual.setdefault(row["model"], {})[row["name"]] = self.rules.manual_field_spec(row)
        for model, extra in manual.items():
            reg[model] = reg[model].with_fields(extra)
        return reg

    def spec(self, model: str) -> ModelSpec:
        return self.registry[model]

    # -- raw rows ------------------------------------------------------------------------------------------------
    def rows(self, model: str, equals: list[tuple[str, Any]] | None = None) -> list[dict[str, Any]]:
        stored = self.store.scan(model, equals)
        if model == "ir.model.data":  # external ids of modules that are not installed are not there
            stored = [r for r in stored if r.get("model") in self.registry]
        if model in VIRTUAL:
            virtual = self.rules.virtual_rows(model)
            if equals:
                virtual = [r for r in virtual if all(
                    (r.get(k) in v) if isinstance(v, list) else r.get(k) == v for k, v in equals)]
            return virtual + stored
        return stored

    def browse(self, model: str, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        ids = list(ids)
        if model in VIRTUAL:
            virtual = {r["id"]: r for r in self.rules.virtual_rows(model) if r["id"] in set(ids)}
            return {**virtual, **self.store.get_many(model, [i for i in ids if i not in virtual])}
        return self.store.get_many(model, ids)

    def row(self, model: str, rid: int) -> dict[str, Any]:
        """One stored row that must exist (MissingError otherwise)."""
        found = self.browse(model, [rid]).get(rid)
        if found is None:
            raise errors.missing(model, [rid], self.uid)
        return found

    def existing(self, model: str, ids: list[int]) -> dict[int, dict[str, Any]]:
        """The rows of ``ids``, or the MissingError a read/write on a deleted id raises."""
        found = self.browse(model, ids)
        gone = [i for i in ids if i not in found]
        if gone:
            raise errors.missing(model, gone, self.uid)
        return found

    # -- Resolver protocol (domain evaluation) ------------------------------------------------------------------
    def field_value(self, model: str, rec: dict[str, Any], name: str) -> Any:
        fs = self.spec(model).fields[name]
        if name == "id":
            return rec["id"]
        if fs.type == "one2many":
            return self.one2many_ids(model, rec["id"], fs)
        if not fs.store:
            return self.rules.computed(model, rec, name)
        return rec.get(name, False)

    def related(self, model: str, ids: list[int]) -> list[dict[str, Any]]:
        return list(self.browse(model, ids).values()) if ids else []

    def name_of(self, model: str, rec: dict[str, Any]) -> str:
        return self.rules.display_name(model, rec)

    def hierarchy(self, model: str, ids: list[int], down: bool) -> set[int]:
        """``ids`` and their descendants (``down``) or ancestors, level by level through the ``parent_id``
        index (as Odoo's ``child_of`` / ``_check_recursion`` query level by level), never every row."""
        found = set(ids)
        if "parent_id" not in self.spec(model).fields:
            return found
        frontier = set(ids)
        while frontier:
            if down:
                level = sorted(frontier)
                nxt = {r["id"] for i in range(0, len(level), 500)
                       for r in self.rows(model, [("parent_id", level[i:i + 500])])} - found
            else:
                nxt = {r["parent_id"] for r in self.browse(model, sorted(frontier)).values()
                       if r.get("parent_id")} - found
            found |= nxt
            frontier = nxt
        return found

    def one2many_ids(self, model: str, rid: int, fs: FieldSpec) -> list[int]:
        relation, inverse = str(fs.relation), str(fs.relation_field)
        if relation not in self.registry:
            return []
        equals: list[tuple[str, Any]] = [(inverse, rid)]
        if relation in ("mail.message", "ir.attachment"):
            equals.append(("model" if relation == "mail.message" else "res_model", model))
        return [r["id"] for r in self.rows(relation, equals)]

    # -- search -------------------------------------------------------------------------------------------------
    def search(self, model: str, domain: Any, offset: int = 0, limit: int | None = None, order: str | None = None,
               ) -> list[int]:
        spec = self.spec(model)
        keys = parse_order(spec, order) if order else default_order(spec)
        match = self.domains.compile(model, domain)
        rows = self.rows(model, self.domains.pushdown(model, domain))
        if "active" in spec.fields and self.context.get("active_test", True) and not _mentions(domain, "active"):
            rows = [r for r in rows if r.get("active", True)]
        hits = [r for r in rows if match(r)]
        self.check_deadline()
        hits.sort(key=lambda r: r["id"])
        for name, desc in reversed(keys):
            hits.sort(key=self._sorter(model, name), reverse=desc)
        start = int(offset or 0)
        hits = hits[start:start + int(limit)] if limit else hits[start:]
        return [int(r["id"]) for r in hits]

    def _sorter(self, model: str, name: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
        return lambda rec: self._sort_key(model, rec, name)

    def _sort_key(self, model: str, rec: dict[str, Any], name: str) -> tuple[int, Any]:
        fs = self.spec(model).fields[name]
        value = self.field_value(model, rec, name) if name != "display_name" else self.name_of(model, rec)
        if fs.type == "many2one" and isinstance(value, int) and value:
            row = self.browse(str(fs.relation), [value]).get(value)
            value = self.name_of(str(fs.relation), row).lower() if row else ""
        if fs.type != "boolean" and (value is None or value is False or value == ""):
            return (1, "")  # NULLS LAST ascending, NULLS FIRST descending (PostgreSQL's default)
        if isinstance(value, str):
            value = value.lower()
        return (0, value)

    # -- read ---------------------------------------------------------------------------------------------------
    def check_fields(self, model: str, names: Iterable[str]) -> None:
        spec = self.spec(model)
        for name in names:
            if name not in spec.fields:
                raise ValueError(f"Invalid field {name!r} on model {model!r}")

    def read(self, model: str, ids: list[int], fields: list[str] | None = None, load: str | None = "_classic_read"
             ) -> list[dict[str, Any]]:
        """``load='_classic_read'`` gives many2one as ``[id, name]``; anything else as the bare id."""
        spec = self.spec(model)
        names = list(fields) if fields else [n for n in spec.fields if n != "password"]
        self.check_fields(model, names)
        rows = self.existing(model, ids)
        out = []
        for rid in ids:
            self.check_deadline()
            rec = rows[rid]
            item: dict[str, Any] = {"id": rid}
            for name in names:
                if name != "id":
                    value = self.read_value(model, rec, spec.fields[name])
                    if load != "_classic_read" and spec.fields[name].type == "many2one" and value:
                        value = value[0]
                    item[name] = value
            out.append(item)
        return out

    def read_value(self, model: str, rec: dict[str, Any], fs: FieldSpec) -> Any:
        if fs.name == "display_name":
            return self.name_of(model, rec)
        if fs.name == "password":
            return ""
        if fs.type == "many2one":
            target = rec.get(fs.name) if fs.store else self.rules.computed(model, rec, fs.name)
            if not target:
                return False
            row = self.browse(str(fs.relation), [target]).get(target)
            return [target, self.name_of(str(fs.relation), row) if row else ""]
        if fs.type in X2MANY:
            return self.field_value(model, rec, fs.name) or []
        if not fs.store:
            return self.rules.computed(model, rec, fs.name)
        return read_scalar(fs, rec.get(fs.name, False))

    # -- create / write -----------------------------------------------------------------------------------------
    def _clean(self, model: str, vals: Any) -> dict[str, Any]:
        if not isinstance(vals, dict):
            raise TypeError(f"'{type(vals).__name__}' object is not a mapping")
        kept: dict[str, Any] = {k: v for k, v in vals.items() if k not in STRIPPED}
        self.check_fields(model, kept)
        return kept

    def _convert(self, model: str, vals: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Stored values and deferred x2many commands."""
        spec = self.spec(model)
        stored: dict[str, Any] = {}
        x2many: dict[str, Any] = {}
        for name, value in vals.items():
            fs = spec.fields[name]
            if fs.type in X2MANY:
                x2many[name] = value
            elif fs.type == "many2one":
                stored[name] = self._many2one(model, fs, value)
            elif fs.store:
                stored[name] = convert_scalar(fs, model, value)
        return stored, x2many

    def _many2one(self, model: str, fs: FieldSpec, value: Any) -> int | bool:
        if value is None or value is False or value == 0:
            return False
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"Wrong value for {fs.label(model)}: {value!r}")
        relation = str(fs.relation)
        if relation not in self.registry or not self.browse(relation, [value]):
            table = model.replace(".", "_")
            raise errors.foreign_key(self.spec(model).description, model, f"{table}_{fs.name}_fkey")
        return value

    def _check_required(self, model: str, rec: dict[str, Any]) -> None:
        spec = self.spec(model)
        for fs in spec.fields.values():
            if fs.required and fs.store and fs.type not in X2MANY and rec.get(fs.name) in (None, False, ""):
                if fs.type in ("char", "text", "html") and rec.get(fs.name) == "":
                    continue
                raise errors.not_null(spec.description, model, fs.string, fs.name)

    def create(self, model: str, vals_list: list[Any]) -> list[int]:
        spec = self.spec(model)
        ids = []
        for raw in vals_list:
            self.check_deadline()
            vals = self.rules.before_create(model, self._clean(model, raw))
            for name, fs in spec.fields.items():
                if name not in vals and fs.default is not None and fs.store:
                    vals[name] = fs.default
            stored, x2many = self._convert(model, vals)
            for name, fs in spec.fields.items():
                if fs.store and fs.type not in X2MANY and name not in stored and name not in LOG_ACCESS:
                    stored[name] = read_scalar(fs, False) if fs.type in ("boolean", "integer", "float") else False
            floor = MANUAL_MODEL_FLOOR if model == "ir.model" else MANUAL_FIELD_FLOOR if model == "ir.model.fields" \
                else 0
            rid = self.store.next_id(model, floor)
            stamp = now()
            rec = {**stored, "id": rid, "create_uid": self.uid, "create_date": stamp, "write_uid": self.uid,
                   "write_date": stamp}
            self._save(model, rec, vals, x2many, created=True)
            ids.append(rid)
        return ids

    def write(self, model: str, ids: list[int], raw: Any) -> None:
        rows = self.existing(model, ids)
        vals = self.rules.before_write(model, ids, self._clean(model, raw))
        stored, x2many = self._convert(model, vals)
        for rid in ids:
            self.check_deadline()
            rec = {**rows[rid], **stored, "write_uid": self.uid, "write_date": now()}
            self._save(model, rec, vals, x2many, created=False)

    def _save(self, model: str, rec: dict[str, Any], vals: dict[str, Any], x2many: dict[str, Any],
              created: bool) -> None:
        """Required check, many2many applied, row stored, one2many commands run, then the model's rules."""
        spec = self.spec(model)
        self._check_required(model, rec)
        for name, commands in x2many.items():
            if spec.fields[name].type == "many2many":
                rec[name] = self._many2many(model, spec.fields[name], list(rec.get(name) or []), commands)
        self.store.put(model, rec)
        if model in SCHEMA_MODELS:
            self.invalidate_registry()
        for name, commands in x2many.items():
            if spec.fields[name].type == "one2many":
                self._one2many(model, spec.fields[name], rec["id"], commands)
        self.rules.after_save(model, rec["id"], vals, created=created)

    def update_raw(self, model: str, rid: int, values: dict[str, Any]) -> None:
        """Store computed values (no conversion, no hooks): how stored computes are written."""
        rec = self.store.get(model, rid)
        if rec is not None:
            self.store.put(model, {**rec, **values})

    # -- x2many commands ----------------------------------------------------------------------------------------
    @staticmethod
    def _commands(value: Any) -> list[Any]:
        if value is False or value is None:
            return [(5,)]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"Wrong value for x2many field: {value!r}")
        if value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return [(6, 0, list(value))]
        return list(value)

    def _linkable(self, model: str, fs: FieldSpec, ids: list[int]) -> None:
        relation = str(fs.relation)
        found = self.browse(relation, ids)
        if any(i not in found for i in ids):
            raise errors.foreign_key(self.spec(model).description, model,
                                     f"{model.replace('.', '_')}_{fs.name}_rel_fkey")

    def _many2many(self, model: str, fs: FieldSpec, current: list[int], value: Any) -> list[int]:
        relation = str(fs.relation)
        ids = list(current)
        for cmd in self._commands(value):
            code = cmd[0] if isinstance(cmd, (list, tuple)) and cmd else None
            if code == 0:
                ids += self.create(relation, [cmd[2]])
            elif code == 1:
                self.write(relation, [cmd[1]], cmd[2])
            elif code == 2:
                self.unlink(relation, [cmd[1]])
                ids = [i for i in ids if i != cmd[1]]
            elif code == 3:
                ids = [i for i in ids if i != cmd[1]]
            elif code == 4:
                self._linkable(model, fs, [cmd[1]])
                ids += [cmd[1]] if cmd[1] not in ids else []
            elif code == 5:
                ids = []
            elif code == 6:
                self._linkable(model, fs, list(cmd[2]))
                ids = list(dict.fromkeys(cmd[2]))
            else:
                raise ValueError(f"Invalid x2many command {cmd!r} for {fs.label(model)}")
        return ids

    def _one2many(self, model: str, fs: FieldSpec, rid: int, value: Any) -> None:
        relation, inverse = str(fs.relation), str(fs.relation_field)
        if not self.spec(model).fields[fs.name].store and relation == "mail.message":
            raise ValueError(f"Field {fs.label(model)} cannot be written with commands")
        for cmd in self._commands(value):
            code = cmd[0] if isinstance(cmd, (list, tuple)) and cmd else None
            current = self.one2many_ids(model, rid, fs)
            if code == 0:
                self.create(relation, [{**cmd[2], inverse: rid}])
            elif code == 1:
                self.write(relation, [cmd[1]], cmd[2])
            elif code == 2:
                self.unlink(relation, [cmd[1]])
            elif code == 3:
                self._detach(relation, inverse, [cmd[1]])
            elif code == 4:
                self.write(relation, [cmd[1]], {inverse: rid})
            elif code == 5:
                self._detach(relation, inverse, current)
            elif code == 6:
                self._detach(relation, inverse, [i for i in current if i not in cmd[2]])
                if cmd[2]:
                    self.write(relation, list(cmd[2]), {inverse: rid})
            else:
                raise ValueError(f"Invalid x2many command {cmd!r} for {fs.label(model)}")

    def _detach(self, relation: str, inverse: str, ids: list[int]) -> None:
        """(3, id) / (5,) on a one2many: required inverse -> the child is deleted (cascade), else set to NULL."""
        if not ids:
            return
        if self.spec(relation).fields[inverse].required:
            self.unlink(relation, ids)
        else:
            self.write(relation, ids, {inverse: False})

    # -- unlink -------------------------------------------------------------------------------------------------
    def unlink(self, model: str, ids: list[int]) -> None:
        rows = self.browse(model, ids)
        ids = [i for i in ids if i in rows]
        if not ids:
            return
        self.check_deadline()
        self.rules.before_unlink(model, ids, rows)
        for other, spec in self.registry.items():
            for fs in spec.fields.values():
                if fs.relation != model or not fs.store:
                    continue
                if fs.type == "many2one":
                    refs = [r for r in self.store.scan(other, [(fs.name, ids)]) if r["id"] not in ids or other != model]
                    if refs and fs.required:
                        raise errors.foreign_key(spec.description, other, f"{other.replace('.', '_')}_{fs.name}_fkey")
                    for ref in refs:
                        self.update_raw(other, ref["id"], {fs.name: False})
                elif fs.type == "many2many":
                    for ref in self.store.scan(other):
                        if set(ref.get(fs.name) or []) & set(ids):
                            self.update_raw(other, ref["id"], {fs.name: [i for i in ref[fs.name] if i not in ids]})
        self.store.delete(model, ids)
        if model in SCHEMA_MODELS:
            self.invalidate_registry()
        for data in self.store.scan("ir.model.data", [("model", model), ("res_id", ids)]):
            self.store.delete("ir.model.data", [data["id"]])
        for att in self.store.scan("ir.attachment", [("res_model", model), ("res_id", ids)]):
            self.store.delete("ir.attachment", [att["id"]])
        if self.spec(model).mail_thread:
            for msg in self.store.scan("mail.message", [("model", model), ("res_id", ids)]):
                self.store.delete("mail.message", [msg["id"]])


def _mentions(domain: Any, name: str) -> bool:
    return any(isinstance(t, (list, tuple)) and len(t) == 3 and isinstance(t[0], str) and t[0].split(".")[0] == name
               for t in (domain or []))
