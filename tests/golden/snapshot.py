"""A run's outcome as comparable data: the mapping spec and every destination record, ids and run times aside.

The connector-kit refactor (issue 9) promises that behaviour is unchanged. This module turns a
finished run into a snapshot that two runs of the same tenant (same seed, same options) share
exactly, whatever order the parallel loads wrote in:

- every record of every object in the destination stand-in's SQLite state, each field kept;
- a record id becomes a stable token: ``<object>|<external key>`` for records that carry the source
  key, else ``<object>#<digest of its content>`` (content with its references already tokenised,
  repeated until nothing changes), so lookups compare by *what* they point at;
- a timestamp written at run time (after the generated tenant's fixed ``AS_OF``) becomes
  ``<run time>``; the source's own timestamps (migrated into audit or custom fields) are kept;
- the org's random domain in user names (and a Dataverse business unit's) becomes ``flitstack-<org>``, an
  id naming no record (an application id) ``<uuid>``;
- values the stand-in fills by itself in write order (row versions, auto-numbers) are dropped.

The golden files (``tests/golden/*.json``) are made by :func:`write_golden` and compared by the
workflow test; ``FLITSTACK_REGOLD=1`` rewrites them (after a change *meant* to alter behaviour).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from sandbox.sercom.generator import AS_OF

GOLDEN = Path(__file__).parent
#: The org's random domain (the Salesforce stand-in names its users after its org id).
_ORG_DOMAIN = re.compile(r"flitstack-?[a-z0-9]{6,8}(?=\.example\b|>|$)")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
#: A Zoho id naming no record (users, roles, profiles, layouts): its digits start with the org's random prefix.
_ZOHO_ID = re.compile(r"^\d{16,19}$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Date-only fields a stand-in stamps with the day of the write when the request leaves them out
#: (Dataverse's ``WinOpportunity``/``LoseOpportunity`` without ``actualend``).
STAMPED_DATES = frozenset({"actualclosedate"})
#: Fields a stand-in fills by itself (row versions, auto-numbers): their values depend on write order.
VOLATILE = frozenset({"versionnumber", "ticketnumber", "CaseNumber", "ContractNumber"})
RUN_TIME = "<run time>"


#: Odoo's log-access fields: who and when at run time (the source's times live in x_original_* fields).
ODOO_LOG_ACCESS = frozenset({"create_date", "write_date", "create_uid", "write_uid"})


def _odoo_rows(db: sqlite3.Connection) -> list[tuple[str, str, dict[str, Any]]]:
    """The Odoo stand-in's records with ids as ``<model>:<id>`` and every reference written the same way.

    Odoo ids are integers per model, so a reference names its model only through the field's relation
    (builtin fields from the stand-in's catalog, custom ones from ``ir.model.fields``); a
    ``many2one_reference`` (``res_id``) through its record's ``model`` / ``res_model``.
    """
    from sandbox.odoo.catalog import builtin_models

    raw = [(model, int(rid), json.loads(data))
           for model, rid, data in db.execute("SELECT model, id, data FROM records")]
    relations: dict[str, dict[str, tuple[str, str | None]]] = {
        m: {f.name: (f.type, f.relation) for f in spec.fields.values()} for m, spec in builtin_models(17).items()}
    for model, _, data in raw:
        if model == "ir.model.fields":
            relations.setdefault(str(data.get("model")), {})[str(data["name"])] = (
                str(data.get("ttype")), data.get("relation") or None)
    out: list[tuple[str, str, dict[str, Any]]] = []
    for model, rid, data in raw:
        fields: dict[str, Any] = {}
        for name, stored in data.items():
            if name in ODOO_LOG_ACCESS or name == "id":
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


def _rows(state: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(object, id, fields) of every live record of a Salesforce, Dataverse, Zoho or Odoo stand-in state."""
    db = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        columns = {r[1] for r in db.execute("PRAGMA table_info(records)")}
        if "model" in columns:  # Odoo stand-in
            return _odoo_rows(db)
        if "object" in columns:  # Salesforce stand-in
            sql = "SELECT object, id, data FROM records WHERE is_deleted = 0"
        elif "module" in columns:  # Zoho stand-in (its users are records of module "users")
            sql = "SELECT module, id, data FROM records"
        else:  # Dataverse stand-in
            sql = "SELECT tbl, id, data FROM records"
        return [(obj, rid, json.loads(data)) for obj, rid, data in db.execute(sql)]
    finally:
        db.close()


def _scrub(value: Any, tokens: dict[str, str]) -> Any:
    if isinstance(value, str):
        if value in tokens:
            return tokens[value]
        if _UUID.match(value):  # an id that names no record (an application id)
            return "<uuid>"
        if _ZOHO_ID.match(value):
            return "<zoho id>"
        value = _ORG_DOMAIN.sub("flitstack-<org>", value)
        if _ISO.match(value) and value[:19] > AS_OF[:19] and value[:10] > "2026-10-01":
            return RUN_TIME
        return value
    if isinstance(value, list):
        return [_scrub(v, tokens) for v in value]
    if isinstance(value, dict):
        return {k: _stamped(k, v) or _scrub(v, tokens) for k, v in value.items()}
    return value


def _stamped(key: str, value: Any) -> str | None:
    """``<run time>`` for a date the stand-in stamped on the day of the run (after the tenant's ``AS_OF``)."""
    if key in STAMPED_DATES and isinstance(value, str) and _DATE.match(value) and value > AS_OF[:10]:
        return RUN_TIME
    return None


def _content(obj: str, fields: dict[str, Any], tokens: dict[str, str], own_id: str) -> dict[str, Any]:
    kept = {k: v for k, v in fields.items() if k not in VOLATILE and v != own_id}
    return {"object": obj, "fields": _scrub(kept, tokens)}


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _tokens(rows: list[tuple[str, str, dict[str, Any]]], ext_field: str) -> dict[str, str]:
    """Record id -> stable token (see the module docstring)."""
    tokens: dict[str, str] = {}
    for obj, rid, fields in rows:
        key = fields.get(ext_field)
        if isinstance(key, str) and key:
            tokens[rid] = f"{obj}|{key}"
    pending = [(obj, rid, fields) for obj, rid, fields in rows if rid not in tokens]
    for _ in range(6):  # references to keyless records resolve a level per pass
        changed = False
        for obj, rid, fields in pending:
            token = f"{obj}#{_digest(_content(obj, fields, tokens, rid))}"
            if tokens.get(rid) != token:
                tokens[rid] = token
                changed = True
        if not changed:
            break
    return tokens


def snapshot(spec: dict[str, Any], state: Path, ext_field: str) -> dict[str, Any]:
    """The spec and every destination record, ids tokenised and run times masked; equal for equal outcomes."""
    rows = _rows(state)
    tokens = _tokens(rows, ext_field)
    records = [{"id": tokens[rid], **_content(obj, fields, tokens, rid)} for obj, rid, fields in rows]
    return {"spec": _scrub(spec, tokens),
            "records": sorted(records, key=lambda r: (r["object"], r["id"], _digest(r)))}


def summary(records: list[dict[str, Any]]) -> dict[str, int]:
    """Records per object (printed when a comparison fails)."""
    return dict(sorted(Counter(r["object"] for r in records).items()))


def golden_path(pair: str) -> Path:
    return GOLDEN / f"{pair}.json"


def write_golden(pair: str, snapshot: dict[str, Any]) -> Path:
    path = golden_path(pair)
    lines = ["{", f' "spec": {json.dumps(snapshot["spec"], sort_keys=True)},', ' "records": [']
    records = snapshot["records"]
    lines += [f"  {json.dumps(r, sort_keys=True, ensure_ascii=False)}{',' if i < len(records) - 1 else ''}"
              for i, r in enumerate(records)]
    lines += [" ]", "}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_golden(pair: str) -> dict[str, Any]:
    return json.loads(golden_path(pair).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def differences(expected: dict[str, Any], actual: dict[str, Any], limit: int = 12) -> list[str]:
    """Readable differences: spec mappings that changed, then records missing or new per object."""
    out: list[str] = []
    exp_spec, act_spec = expected["spec"], actual["spec"]
    for key in sorted(set(exp_spec) | set(act_spec)):
        if key == "mappings":
            exp_m = {m["name"]: m for m in exp_spec.get("mappings", [])}
            act_m = {m["name"]: m for m in act_spec.get("mappings", [])}
            for name in sorted(set(exp_m) | set(act_m)):
                if exp_m.get(name) != act_m.get(name):
                    out.append(f"spec mapping {name!r} differs")
            if [m["name"] for m in exp_spec.get("mappings", [])] != [m["name"] for m in act_spec.get("mappings", [])]:
                out.append("spec mapping order differs")
        elif exp_spec.get(key) != act_spec.get(key):
            out.append(f"spec {key!r} differs")
    exp_r = Counter(json.dumps(r, sort_keys=True) for r in expected["records"])
    act_r = Counter(json.dumps(r, sort_keys=True) for r in actual["records"])
    missing, extra = exp_r - act_r, act_r - exp_r
    for label, bag in (("missing", missing), ("new", extra)):
        for text in list(bag.elements())[:limit]:
            out.append(f"{label}: {text[:400]}")
    return out
