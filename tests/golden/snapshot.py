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

What is platform-specific (how a stand-in keeps its records, which fields it fills by itself, which
ids name no migrated record) comes from the destination's test kit: :class:`tests.kits.StateRules`.

The golden files (``tests/golden/*.json``) are made by :func:`write_golden` and compared by the
workflow test; ``FLITSTACK_REGOLD=1`` rewrites them (after a change *meant* to alter behaviour).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from sandbox.sercom.generator import AS_OF
from tests.kits import Row, StateRules

GOLDEN = Path(__file__).parent
#: The org's random domain (the Salesforce stand-in names its users after its org id).
_ORG_DOMAIN = re.compile(r"flitstack-?[a-z0-9]{6,8}(?=\.example\b|>|$)")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}")  # ISO 8601, or Odoo's "YYYY-MM-DD HH:MM:SS"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
RUN_TIME = "<run time>"


def _scrub(value: Any, tokens: dict[str, str], rules: StateRules) -> Any:
    if isinstance(value, str):
        if value in tokens:
            return tokens[value]
        if _UUID.match(value):  # an id that names no record (an application id)
            return "<uuid>"
        if rules.foreign_id and re.match(rules.foreign_id[0], value):
            return rules.foreign_id[1]
        value = _ORG_DOMAIN.sub("flitstack-<org>", value)
        if _ISO.match(value) and value[:19] > AS_OF[:19] and value[:10] > "2026-10-01":
            return RUN_TIME
        return value
    if isinstance(value, list):
        return [_scrub(v, tokens, rules) for v in value]
    if isinstance(value, dict):
        return {k: _stamped(k, v, rules) or _scrub(v, tokens, rules) for k, v in value.items()}
    return value


def _stamped(key: str, value: Any, rules: StateRules) -> str | None:
    """``<run time>`` for a date the stand-in stamped on the day of the run (after the tenant's ``AS_OF``)."""
    if key in rules.stamped_dates and isinstance(value, str) and _DATE.match(value) and value > AS_OF[:10]:
        return RUN_TIME
    return None


def _content(obj: str, fields: dict[str, Any], tokens: dict[str, str], own_id: str, rules: StateRules
             ) -> dict[str, Any]:
    kept = {k: v for k, v in fields.items() if k not in rules.volatile and v != own_id}
    return {"object": obj, "fields": _scrub(kept, tokens, rules)}


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _tokens(rows: list[Row], ext_field: str, rules: StateRules) -> dict[str, str]:
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
            token = f"{obj}#{_digest(_content(obj, fields, tokens, rid, rules))}"
            if tokens.get(rid) != token:
                tokens[rid] = token
                changed = True
        if not changed:
            break
    return tokens


def snapshot(spec: dict[str, Any], state: Path, ext_field: str, rules: StateRules) -> dict[str, Any]:
    """The spec and every destination record, ids tokenised and run times masked; equal for equal outcomes.

    ``rules`` come from the destination's test kit (:class:`tests.kits.StateRules`)."""
    rows = rules.read(state)
    tokens = _tokens(rows, ext_field, rules)
    records = [{"id": tokens[rid], **_content(obj, fields, tokens, rid, rules)} for obj, rid, fields in rows]
    return {"spec": _scrub(spec, tokens, rules),
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
