"""What a person chose at the mapping sign-off, remembered per tenant and proposed first next time.

When a mapping is edited at sign-off (``PUT /migrations/{id}/mapping``), every proposer-placed source field
(a tenant custom field, a field of a tenant object) whose place differs from the proposal is recorded:
its new rule (and the custom field it needs), or that it was removed. The next discovery of the same
tenant for the same pair reads them before proposing (``origin: remembered``, confidence 1). Stored under
``memory/<pair>/<tenant>/mapping-decisions.json`` in the data bucket; later edits overwrite earlier ones
field by field.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from shared.mapping.spec import CustomFieldSpec, FieldRule, MigrationSpec
from shared.models import SourceCatalog


class FieldChoice(BaseModel):
    run_id: str
    dest_object: str
    rule: FieldRule | None = Field(description="None: the person removed the field (skip it)")
    custom_field: CustomFieldSpec | None = None


class ObjectChoice(BaseModel):
    run_id: str
    dest_object: str | None = Field(description="None: the person removed the object's mapping (skip it)")


class Memory(BaseModel):
    fields: dict[str, FieldChoice] = Field(default_factory=dict, description="'<object>|<path>' -> choice")
    objects: dict[str, ObjectChoice] = Field(default_factory=dict)

    def field(self, source_object: str, path: str, dest_object: str) -> FieldChoice | None:
        choice = self.fields.get(f"{source_object}|{path}")
        return choice if choice is not None and choice.dest_object == dest_object else None

    def object(self, source_object: str) -> ObjectChoice | None:
        return self.objects.get(source_object)


def memory_key(pair: str, tenant: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", tenant) or "_"
    return f"memory/{pair}/{safe}/mapping-decisions.json"


def _placements(spec: MigrationSpec, catalog: SourceCatalog) -> dict[tuple[str, str, str], FieldRule]:
    """(source object, proposer-placed source path, destination object) -> the rule that carries it."""
    placed: dict[tuple[str, str, str], FieldRule] = {}
    tenant_objects = {o.name for o in catalog.objects if o.custom}
    for m in spec.mappings:
        for r in m.fields:
            if r.source and (r.source.startswith("custom_fields.") or m.source_object in tenant_objects):
                placed[(m.source_object, r.source, m.dest_object)] = r
    return placed


def edits(proposed: MigrationSpec, edited: MigrationSpec, catalog: SourceCatalog, run_id: str,
          previous: Memory | None = None) -> Memory:
    """``previous`` updated with what ``edited`` changed against ``proposed`` (proposer-placed fields only)."""
    memory = previous.model_copy(deep=True) if previous else Memory()
    before, after = _placements(proposed, catalog), _placements(edited, catalog)
    created = {(f.object, f.name): f for f in edited.custom_fields}
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        source_object, path, dest_object = key
        memory.fields[f"{source_object}|{path}"] = FieldChoice(
            run_id=run_id, dest_object=dest_object, rule=new,
            custom_field=created.get((dest_object, new.dest)) if new else None)
    tenant_objects = {o.name for o in catalog.objects if o.custom}
    mapped_before = {m.source_object: m.dest_object for m in proposed.mappings if m.source_object in tenant_objects}
    mapped_after = {m.source_object: m.dest_object for m in edited.mappings if m.source_object in tenant_objects}
    for obj in mapped_before.keys() | mapped_after.keys():
        if mapped_before.get(obj) != mapped_after.get(obj):
            memory.objects[obj] = ObjectChoice(run_id=run_id, dest_object=mapped_after.get(obj))
    return memory


def load(raw: Any) -> Memory:
    return Memory.model_validate(raw) if raw else Memory()
