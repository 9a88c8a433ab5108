"""Check an edited mapping against both schemas, with errors a person can act on.

Used when a person edits the proposed mapping at sign-off (``PUT /migrations/{id}/mapping``).
Each error names where in the spec it is (``mappings[3].fields[2].dest``) and what is
allowed there, so the editor can fix it without reading code.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from shared import planner
from shared.errors import MappingError
from shared.mapping.spec import MigrationSpec
from shared.models import DestCatalog, SourceCatalog

#: The longest text any supported destination stores in one field (Dataverse's multi-line text, 1 MiB);
#: a length above it is a typo, not a setting.
MAX_FIELD_LENGTH = 1_048_576

#: Fields a source record always has, whatever the catalog lists.
_IMPLICIT_SOURCE = {"id", "created_at", "updated_at"}


def _allowed(names: set[str], limit: int = 12) -> str:
    listed = sorted(names)
    more = f" (+{len(listed) - limit} more)" if len(listed) > limit else ""
    return ", ".join(listed[:limit]) + more


def parse_spec(body: Any) -> tuple[MigrationSpec | None, list[dict[str, str]]]:
    """The spec, or the pydantic errors as (field path, message) rows."""
    try:
        return MigrationSpec.model_validate(body), []
    except ValidationError as exc:
        return None, [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
                      for e in exc.errors(include_input=False, include_url=False)]


def validate_against(spec: MigrationSpec, source: SourceCatalog, dest: DestCatalog, proposed: MigrationSpec
                     ) -> list[dict[str, str]]:
    """Every reference in ``spec`` exists on its side; pair-level settings are not changed."""
    errors: list[dict[str, str]] = []

    def err(where: str, message: str) -> None:
        errors.append({"field": where, "message": message})

    if spec.pair != proposed.pair:
        err("pair", f"cannot change the pair (it is {proposed.pair!r})")
    if spec.external_id_field != proposed.external_id_field:
        err("external_id_field", f"cannot change the external id field (it is {proposed.external_id_field!r})")
    sources = {o.name: {f.name for f in o.fields} | _IMPLICIT_SOURCE for o in source.objects}
    custom_objects = {o.name for o in spec.custom_objects}
    custom_fields: dict[str, set[str]] = {}
    for f in spec.custom_fields:
        custom_fields.setdefault(f.object, set()).add(f.name)
    # A custom object the run will create has, besides its custom fields, the standard fields a new
    # object gets (name, owner, audit dates...): the ones the proposed mapping writes are known good.
    proposed_fields: dict[str, set[str]] = {}
    for pm in proposed.mappings:
        proposed_fields.setdefault(pm.dest_object, set()).update(
            [r.dest for r in pm.fields] + [lk.dest for lk in pm.lookups] + ([pm.owner.dest] if pm.owner else []))
    if not spec.mappings and proposed.mappings:
        err("mappings", f"is empty: the proposal has {len(proposed.mappings)} mappings; an edit keeps at least one "
                        "(reject the sign-off to migrate nothing)")
    for k, cf in enumerate(spec.custom_fields):
        if cf.length is not None and not 1 <= cf.length <= MAX_FIELD_LENGTH:
            err(f"custom_fields[{k}].length", f"{cf.length} is not a length; allowed: 1 to {MAX_FIELD_LENGTH}")
    proposed_by_name = {pm.name: pm for pm in proposed.mappings}
    names = [m.name for m in spec.mappings]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        err("mappings", f"mapping name {dup!r} is used twice; names must be unique")
    # Per-target lookup names the proposal itself writes are known good, also where the target is an object
    # the run creates (a note's parent named per module, ``Parent_Id__Work_Orders``, before that module exists).
    proposed_targets = {(pm.dest_object, t.dest) for pm in proposed.mappings for lk in pm.lookups
                        for t in lk.all_targets() if t.dest}
    for i, m in enumerate(spec.mappings):
        at = f"mappings[{i}]"
        if m.source_object not in sources:
            err(f"{at}.source_object", f"{m.source_object!r} is not a source object; allowed: {_allowed(set(sources))}")
            continue
        src_fields = sources[m.source_object]
        described = dest.objects.get(m.dest_object)
        if described is None and m.dest_object not in custom_objects:
            err(f"{at}.dest_object", f"{m.dest_object!r} is neither in the destination nor a custom object of the "
                                     f"spec; allowed: {_allowed(set(dest.objects) | custom_objects)}")
            continue
        dest_fields = set(described.fields) if described else proposed_fields.get(m.dest_object, set())
        dest_fields |= custom_fields.get(m.dest_object, set()) | {spec.external_id_field}

        def source_ok(where: str, path: str | None, src_fields: set[str] = src_fields, m: Any = m) -> None:
            if path and not m.explode and path.split(".", 1)[0] not in src_fields:
                err(where, f"{path!r} is not a field of source object {m.source_object!r}; "
                           f"allowed: {_allowed(src_fields)}")

        before = proposed_by_name.get(m.name)
        if not m.fields and before is not None and before.fields:
            err(f"{at}.fields", f"is empty: the proposal maps {len(before.fields)} fields of {m.name!r}; "
                                "keep at least one, or remove the mapping")
        for field in m.where:
            source_ok(f"{at}.where.{field}", field)
        for k, field in enumerate(m.require_present):
            source_ok(f"{at}.require_present[{k}]", field)
        for c, condition in enumerate(m.unless):
            for field in condition.where:
                source_ok(f"{at}.unless[{c}].where.{field}", field)
            for k, field in enumerate(condition.present):
                source_ok(f"{at}.unless[{c}].present[{k}]", field)
        for j, rule in enumerate(m.fields):
            where = f"{at}.fields[{j}]"
            if rule.dest not in dest_fields:
                err(f"{where}.dest", f"{rule.dest!r} is not a field of {m.dest_object!r} nor a custom field of the "
                                     f"spec; allowed: {_allowed(dest_fields)}")
            source_ok(f"{where}.source", rule.source)
            for k, s in enumerate(rule.sources):
                source_ok(f"{where}.sources[{k}]", s)
            target = described.fields.get(rule.dest) if described else None
            if target is not None and target.restricted_picklist and rule.value_map:
                bad = sorted({v for v in rule.value_map.values() if v not in target.picklist_values})
                if bad:
                    err(f"{where}.value_map", f"{bad} are not values of the restricted pick-list "
                                              f"{m.dest_object}.{rule.dest}; allowed: "
                                              f"{_allowed(set(target.picklist_values), 30)}")
            if rule.max_length is not None:
                custom = next((cf for cf in spec.custom_fields if cf.object == m.dest_object and cf.name == rule.dest),
                              None)
                room = (target.length if target is not None and target.length > 0
                        else custom.length if custom is not None and custom.length else MAX_FIELD_LENGTH)
                if not 1 <= rule.max_length <= room:
                    err(f"{where}.max_length", f"{rule.max_length} is not a length for {m.dest_object}.{rule.dest}; "
                                               f"allowed: 1 to {room}")
            if target is not None and not target.createable and not target.updateable:
                err(f"{where}.dest", f"{m.dest_object}.{rule.dest} is read-only in the destination")
        for j, lk in enumerate(m.lookups):
            where = f"{at}.lookups[{j}]"
            # A lookup whose targets name their own destination field (Dataverse's per-table navigation
            # properties, regardingobjectid_account_task...) writes those, not ``dest``.
            per_target = [(k, t.dest) for k, t in enumerate(lk.all_targets()) if t.dest]
            for k, name in per_target:
                if name not in dest_fields and (m.dest_object, name) not in proposed_targets:
                    err(f"{where}.targets[{k}].dest", f"{name!r} is not a field of {m.dest_object!r}; "
                                                      f"allowed: {_allowed(dest_fields)}")
            uses_own = not per_target or any(not t.dest for t in lk.all_targets())
            if uses_own and lk.dest not in dest_fields:
                err(f"{where}.dest", f"{lk.dest!r} is not a field of {m.dest_object!r}; "
                                     f"allowed: {_allowed(dest_fields)}")
            source_ok(f"{where}.source", lk.source)
            for t in lk.all_targets():
                if t.source_object not in sources:
                    err(f"{where}.target", f"{t.source_object!r} is not a source object")
        if m.owner is not None:
            source_ok(f"{at}.owner.source", m.owner.source)
    if not errors:
        try:
            planner.levels(spec)
        except MappingError as exc:
            err("mappings", str(exc))
    return errors
