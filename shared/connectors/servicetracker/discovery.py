"""ServiceTracker's catalog: the schema endpoint's objects and fields, plus every custom field the
records carry, typed from the data with its evidence.

Why: custom fields built in ServiceTracker's drag-and-drop form builder are "not centrally documented"
(seed 003) — ``/v2/schema`` lists only some of them, yet their values are on the records. So every
object that has a form (``custom_fields`` among its fields) is read whole through one export job and
each ``custom_fields`` key is profiled (``shared.mapping.infer.sample_field``). A key the schema lists
keeps its declared type when the data agrees; a key it does not list gets the type the data supports
and, when it holds few distinct values, becomes a pick-list of exactly those values. Each field says
why in ``SourceField.evidence`` (the mapping document shows it).
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from shared.mapping.infer import FieldSample, fits, sample_field
from shared.models import SourceCatalog, SourceField, SourceObject

if TYPE_CHECKING:
    from shared.connectors.servicetracker.client import ServiceTrackerSource

#: ServiceTracker's field types -> the catalog's vocabulary (``shared.mapping.infer``).
TYPES: dict[str, str] = {
    "id": "id", "string": "string", "text": "long_text", "email": "email", "phone": "phone", "url": "url",
    "integer": "number", "number": "number", "boolean": "boolean", "date": "date", "datetime": "datetime",
    "picklist": "picklist", "reference": "reference", "list": "list", "object": "object",
}
#: The form builder's (and custom-table columns') types -> the catalog's vocabulary.
BUILDER_TYPES: dict[str, str] = {
    "text": "text", "textarea": "long_text", "number": "number", "currency": "number", "date": "date",
    "checkbox": "boolean", "dropdown": "picklist", "multi_select": "multi_select", "datetime": "datetime",
    "reference": "reference", "signature": "long_text",
}
#: An unlisted text field with at most this many distinct values, each used on average at least
#: twice, is a pick-list (a dropdown the schema forgot), not free text.
PICKLIST_MAX_VALUES = 20


def _declared(defn: dict[str, Any]) -> SourceField:
    kind = BUILDER_TYPES.get(str(defn.get("type")), "text")
    options = [str(o) for o in defn.get("options") or []]
    return SourceField(name=str(defn["key"]), type=kind, label=str(defn.get("label") or defn["key"]),
                       required=bool(defn.get("required")), picklist_values=options, custom=True,
                       evidence=f"listed by /v2/schema as {defn.get('type')!r}"
                                + (f" with {len(options)} options" if options else ""))


def infer_unlisted(key: str, sample: FieldSample, lists: int, records: int) -> SourceField:
    """A custom field the schema does not list, typed from what the records hold."""
    seen = f"not listed by /v2/schema; on {sample.seen} of {records} records"
    if lists and lists >= sample.seen:
        return SourceField(name=key, type="multi_select", label=key.replace("_", " ").capitalize(), custom=True,
                           sample=sample, evidence=f"{seen}; every value a list -> multi-select")
    for kind in ("boolean", "number", "date", "datetime"):
        if sample.seen and fits(sample, kind):
            return SourceField(name=key, type=kind, label=key.replace("_", " ").capitalize(), custom=True,
                               sample=sample, evidence=f"{seen}; {sample.kinds.get(kind, 0)} values read as {kind}")
    few = sample.observed and len(sample.observed) <= PICKLIST_MAX_VALUES and 2 * len(sample.observed) <= sample.seen
    if few:
        return SourceField(name=key, type="picklist", label=key.replace("_", " ").capitalize(), custom=True,
                           picklist_values=list(sample.observed), sample=sample,
                           evidence=f"{seen}; {len(sample.observed)} distinct values -> pick-list of those values")
    kind = "long_text" if sample.max_length > 255 else "text"
    return SourceField(name=key, type=kind, label=key.replace("_", " ").capitalize(), custom=True, sample=sample,
                       evidence=f"{seen}; free text up to {sample.max_length} characters")


def _profile(source: ServiceTrackerSource, obj: str, count: int
             ) -> tuple[dict[str, FieldSample], dict[str, int], int]:
    """Every custom-field key on the records of ``obj`` (one export job), its value profile and how
    many of its values are lists."""
    values: dict[str, list[Any]] = {}
    lists: Counter[str] = Counter()
    profiles: dict[str, FieldSample] = {}
    records = 0
    if count == 0:
        return profiles, dict(lists), 0
    for rows in source.export(obj):
        for rec in rows:
            records += 1
            for key, value in (rec.get("custom_fields") or {}).items():
                if isinstance(value, list):
                    lists[key] += 1
                values.setdefault(key, []).append("; ".join(map(str, value)) if isinstance(value, list) else value)
        # fold the page into running profiles (memory bounded by one result page)
        for key, vals in values.items():
            profiles[key] = _merge(profiles.get(key), sample_field(vals))
        values.clear()
    return profiles, dict(lists), records


def _merge(a: FieldSample | None, b: FieldSample) -> FieldSample:
    if a is None:
        return b
    kinds = Counter(a.kinds)
    kinds.update(b.kinds)
    observed = sorted(set(a.observed) | set(b.observed)) if a.observed and b.observed else []
    if len(observed) > 100:
        observed = []
    return FieldSample(seen=a.seen + b.seen, kinds=dict(kinds), max_length=max(a.max_length, b.max_length),
                       observed=observed)


def build_catalog(source: ServiceTrackerSource, parallel: int = 1) -> SourceCatalog:
    """``parallel``: export jobs run at once while profiling (the source's declared parallel reads: its
    concurrent-export limit), so discovery takes about one job's time per ``parallel`` objects."""
    schema = source.schema()
    objects: list[SourceObject] = []
    with_forms = [obj for obj in schema["objects"] if any(f["name"] == "custom_fields" for f in obj["fields"])]
    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="st-profile") as pool:
        profiled = dict(zip([o["name"] for o in with_forms], pool.map(
            lambda o: _profile(source, o["name"], int(o.get("count", 0))), with_forms), strict=True))
    for obj in schema["objects"]:
        fields = [SourceField(name=f["name"], type=TYPES.get(f["type"], "text"), label=f["name"],
                              required=bool(f.get("required")), picklist_values=list(f.get("options") or []),
                              references=f.get("references")) for f in obj["fields"]]
        if obj["name"] == "clients":  # the connector's own normalisation adds these (client.py)
            fields += [SourceField(name="site_count", type="number", label="Sites",
                                   evidence="derived by the connector: the client's locations"),
                       SourceField(name="primary_site", type="object", label="Primary site",
                                   evidence="derived by the connector: the client's primary (else first) location")]
        if any(f["name"] == "custom_fields" for f in obj["fields"]):
            declared = {str(d["key"]): _declared(d) for d in obj.get("custom_fields") or []}
            profiles, lists, records = profiled[obj["name"]]
            for key, field in declared.items():
                sample = profiles.get(key)
                extra = [v for v in (sample.observed if sample else []) if v not in field.picklist_values]
                note = f"; on {sample.seen} of {records} records" if sample else "; no record uses it"
                if field.type == "picklist" and extra:
                    note += f"; {len(extra)} more values used: {extra[:5]}"
                fields.append(field.model_copy(update={
                    "sample": sample, "evidence": field.evidence + note,
                    "picklist_values": [*field.picklist_values, *extra] if field.type == "picklist"
                    else field.picklist_values}))
            for key in sorted(set(profiles) - set(declared)):
                fields.append(infer_unlisted(key, profiles[key], lists.get(key, 0), records))
        objects.append(SourceObject(name=obj["name"], label=obj.get("label", obj["name"]), fields=fields,
                                    count=int(obj.get("count", 0))))
    for table in schema.get("custom_tables") or []:
        fields = [SourceField(name="id", type="id", label="Id", required=True),
                  SourceField(name="created_at", type="datetime", label="Created", required=True),
                  SourceField(name="modified_at", type="datetime", label="Modified", required=True)]
        fields += [SourceField(name=c["key"], type=BUILDER_TYPES.get(c["type"], "text"), label=c.get("label", c["key"]),
                               required=bool(c.get("required")), picklist_values=list(c.get("options") or []),
                               references=c.get("references"),
                               evidence=f"custom-table column {c['type']!r}") for c in table["columns"]]
        objects.append(SourceObject(name=f"custom_{table['key']}", label=table.get("label", table["key"]),
                                    fields=fields, count=int(table.get("count", 0))))
    return SourceCatalog(tenant=str(schema.get("tenant", "")), objects=objects)
