"""The one spec builder every pair uses, parameterised by the destination's declared capabilities.

A pair file says *what* lands where (mappings as data: destination field <- source field, value
maps, conditions, lookups) and names the few computed pieces; this builder does everything that
is the same for every pair and differs only by platform, reading it from
:class:`shared.connectors.destination.Capabilities`:

- custom fields and the external-id field, named by the platform's naming rule;
- the original created/modified times, by the platform's timestamp strategy;
- tenant-defined custom fields, typed from the data through the platform's type table (pick-lists as
  restricted pick-lists, or as integer choices on platforms whose options are integers);
- lengths from the describe (else the platform's defaults), pick-lists conformed to the org,
  create-only fields and lookups never sent on update, and every field the destination requires
  filled by some rule (a mapping error naming the field otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.connectors.destination import Capabilities
from shared.errors import MappingError
from shared.mapping.infer import inferred
from shared.mapping.spec import (
    CustomFieldSpec,
    CustomObjectSpec,
    FieldRule,
    LookupTarget,
    MigrationSpec,
    ObjectMapping,
    OwnerRule,
)
from shared.models import DestCatalog, DestField, DestObject, RunOptions, SourceCatalog, SourceObject

#: What a pair file needs besides the spec's rule classes (re-exported for pairs that import them from here).
__all__ = ["MigrationSpec", "ObjectMapping", "OwnerRule", "SpecBuilder", "stage_map", "target", "title_map"]


def target(source: str, dest: str, field: str | None = None) -> LookupTarget:
    """Where a lookup points: a source object's record, landed in ``dest`` (``field``: per-target column)."""
    return LookupTarget(source_object=source, dest_object=dest, dest=field)


def title_map(values: Iterable[str]) -> dict[str, str]:
    """Value-by-value pick-list map that keeps each source value as a readable label."""
    return {v: v.replace("_", " ").title() for v in values}


def stage_map(stage_rows: list[dict[str, Any]], open_stages: list[str], won: str, lost: str) -> dict[str, str]:
    """Pipeline stage id -> destination stage, value by value, from the source's stage facts.

    Closed stages become ``won`` / ``lost``; open stages keep their order and land on the
    destination's open stages in the same order (the last one absorbs any extra).
    """
    mapping: dict[str, str] = {}
    open_rows = sorted((r for r in stage_rows if not r.get("is_closed")),
                       key=lambda r: float(str(r.get("sort_order") or 0)))
    for i, row in enumerate(open_rows):
        mapping[str(row["id"])] = open_stages[min(i, len(open_stages) - 1)]
    for row in stage_rows:
        if row.get("is_closed"):
            mapping[str(row["id"])] = won if row.get("is_won") else lost
    return mapping


class SpecBuilder:
    """Accumulates mappings and the schema they need, checking them against the describes."""

    def __init__(self, source: SourceCatalog, dest: DestCatalog, options: RunOptions, caps: Capabilities, *,
                 source_label: str) -> None:
        self.source = source
        self.dest = dest
        self.options = options
        self.caps = caps
        self.ext_id = caps.naming.external_id(source_label)
        self.ext_label = f"{source_label} Id"
        self.fields: dict[tuple[str, str], CustomFieldSpec] = {}
        self.mappings: list[ObjectMapping] = []

    # --- describes ------------------------------------------------------------------------
    def described(self, obj: str) -> DestObject | None:
        return self.dest.objects.get(obj)

    def field(self, obj: str, name: str) -> DestField | None:
        d = self.described(obj)
        return d.fields.get(name) if d else None

    def has_source(self, obj: str) -> bool:
        return any(o.name == obj for o in self.source.objects) and (
            not self.options.objects or obj in self.options.objects)

    def length(self, obj: str, name: str, default: int | None = None) -> int | None:
        """A text field's length: the describe's, else the custom field's, else ``default`` or the platform's."""
        f = self.field(obj, name)
        if f and f.length:
            return f.length
        spec = self.fields.get((obj, name))
        if spec and spec.length:
            return spec.length
        return default if default is not None else self.caps.default_lengths.get(name)

    def option(self, obj: str, name: str, label: str, fallback: int) -> int:
        """The integer of an option by its label in the describe, else ``fallback`` (the platform default)."""
        f = self.field(obj, name)
        if f and f.picklist_labels:
            for value, text in f.picklist_labels.items():
                if text.casefold() == label.casefold():
                    return int(value)
        return fallback

    def has_label(self, obj: str, name: str, label: str) -> bool:
        f = self.field(obj, name)
        return bool(f and any(t.casefold() == label.casefold() for t in f.picklist_labels.values()))

    # --- schema -----------------------------------------------------------------------------
    def custom(self, obj: str, name: str, label: str, type_: str, **kw: Any) -> str:
        spec = CustomFieldSpec(object=obj, name=name, label=label[: self.caps.naming.label_max],
                               type=type_, **kw)  # type: ignore[arg-type]
        self.fields.setdefault((obj, name), spec)
        return name

    def choice_column(self, obj: str, name: str, label: str, labels: Iterable[str], source: str | None = None
                      ) -> dict[str, int]:
        """A custom integer-choice column whose option values this migration fixes (label -> value)."""
        base = self.caps.integer_choices_from or 1
        values = {lbl: base + i for i, lbl in enumerate(dict.fromkeys(labels))}
        self.custom(obj, name, label, "Picklist", picklist_values=list(values), option_values=values,
                    restricted=True, source=source)
        return values

    def native_or_custom(self, obj: str, native: str, custom: str, label: str, type_: str, **kw: Any) -> str:
        """The standard field when the object has it, else a custom field carrying the same data."""
        if self.field(obj, native) is not None:
            return native
        return self.custom(obj, custom, label, type_, **kw)

    def text(self, obj: str, dest: str, source: str, *, required: bool = False, transform: str = "string",
             on_invalid: str = "null", default: int | None = None) -> FieldRule:
        return FieldRule(dest=dest, source=source, transform=transform, required=required,  # type: ignore[arg-type]
                         max_length=self.length(obj, dest, default), on_invalid=on_invalid)  # type: ignore[arg-type]

    def rows(self, obj: str, dest_from_source: dict[str, str]) -> list[FieldRule]:
        """Plain rows, destination field <- source field, each as long as the destination allows."""
        return [self.text(obj, dest, source) for dest, source in dest_from_source.items()]

    def custom_text(self, obj: str, name: str, label: str, source: str, length: int = 100) -> FieldRule:
        self.custom(obj, name, label, "Text", length=length)
        return FieldRule(dest=name, source=source, max_length=length)

    def column(self, obj: str, name: str, label: str, type_: str, source: str, transform: str, **kw: Any
               ) -> FieldRule:
        """A custom field and the rule that fills it."""
        self.custom(obj, name, label, type_, **kw)
        return FieldRule(dest=name, source=source, transform=transform)  # type: ignore[arg-type]

    def memo(self, obj: str, name: str, label: str, source: str, transform: str = "text") -> FieldRule:
        """A long-text custom field (the platform's long-text size) and its rule."""
        length = self.caps.types["long_text"].length
        self.custom(obj, name, label, "LongTextArea", length=length)
        return FieldRule(dest=name, source=source, transform=transform, max_length=length)  # type: ignore[arg-type]

    def free_picklist(self, obj: str, dest: str, source: str) -> FieldRule:
        """A free-text source value into a destination pick-list: kept as is, conformed later."""
        field = self.field(obj, dest)
        if field is None or not field.picklist_values:
            return self.text(obj, dest, source)
        return FieldRule(dest=dest, source=source, transform="picklist",
                         value_map={v: v for v in field.picklist_values})

    # --- common parts of every mapping ------------------------------------------------------
    def customizable(self, obj: str) -> bool:
        return obj not in self.caps.no_custom_fields

    def audit_capable(self, obj: str) -> bool:
        """Whether the original created time can be written into the platform's own field on insert."""
        if self.described(obj) is None:  # created by this run: follows the environment's permission
            return self.dest.audit_fields_settable
        f = self.field(obj, self.caps.timestamps.native_created)
        return bool(f and f.createable)

    def timestamps(self, obj: str, sources: tuple[str, str]) -> list[FieldRule]:
        created, modified = sources
        ts = self.caps.timestamps
        customizable = self.customizable(obj)
        rules: list[FieldRule] = []
        native = self.audit_capable(obj)
        if native:
            rules.append(FieldRule(dest=ts.native_created, source=created, transform="datetime", insert_only=True))
        elif customizable:
            rules.append(self.column(obj, *ts.custom_created, "DateTime", created, "datetime"))
        if native and ts.native_modified:
            rules.append(FieldRule(dest=ts.native_modified, source=modified, transform="datetime", insert_only=True))
        elif customizable:  # the platform never lets a client set it: the original lives in a field of its own
            rules.append(self.column(obj, *ts.custom_modified, "DateTime", modified, "datetime"))
        return rules

    def tenant_fields(self, source_obj: str, dest_obj: str) -> list[FieldRule]:
        """The tenant's custom fields -> custom fields typed from the data (the platform's type table)."""
        try:
            sobj: SourceObject = self.source.object(source_obj)
        except KeyError:
            return []
        rules: list[FieldRule] = []
        naming = self.caps.naming
        for f in sobj.fields:
            if not f.custom:
                continue
            name = naming.custom_name(f.name)
            if (dest_obj, name) in self.fields:  # a field of the pair already has the name
                name = naming.custom_name(f"cf_{f.name}")
            path = f"custom_fields.{f.name}"
            label = f.label or f.name
            if f.type == "multi_select":  # a list of choices: one per line, in a long-text field
                rules.append(self.memo(dest_obj, name, label, path, transform="lines_text"))
                self.fields[(dest_obj, name)] = self.fields[(dest_obj, name)].model_copy(
                    update={"source": f"{path} (multi-select: one value per line)"})
                continue
            kind, why = inferred(f.type, f.sample)
            values = [*f.picklist_values, *(f.sample.observed if f.sample else [])] if kind == "picklist" else []
            rules.append(self.typed_column(dest_obj, name, label, kind, path, values, f"{path} ({why})"))
        return rules

    def typed_column(self, dest_obj: str, name: str, label: str, kind: str, path: str, values: Iterable[str],
                     note: str) -> FieldRule:
        """A custom field of an inferred kind (the platform's type table; pick-lists restricted to ``values``,
        or integer choices where the platform's options are integers) and the rule that fills it."""
        if kind == "picklist":
            values = list(dict.fromkeys(values))
            if self.caps.integer_choices_from is not None:
                options = self.choice_column(dest_obj, name, label, values, source=note)
                return FieldRule(dest=name, source=path, transform="choice",
                                 value_map={v: str(options[v]) for v in values})
            self.custom(dest_obj, name, label, "Picklist", picklist_values=values, restricted=True, source=note)
            return FieldRule(dest=name, source=path, transform="picklist", value_map={v: v for v in values})
        rule = self.caps.types.get(kind) or self.caps.types["text"]
        extra = {k: v for k, v in (("length", rule.length), ("precision", rule.precision),
                                   ("scale", rule.scale)) if v is not None}
        self.custom(dest_obj, name, label, rule.field_type, source=note, **extra)
        return FieldRule(dest=name, source=path, transform=rule.transform,  # type: ignore[arg-type]
                         max_length=rule.length)

    def table_fields(self, source_obj: str, dest_obj: str, skip: Iterable[str] = ()) -> list[FieldRule]:
        """A tenant-defined table's columns -> custom fields of the custom object it lands in, 1:1, each typed
        from its declared type through the platform's type table (pick-lists restricted to their options;
        references are the pair's lookups, so they are skipped, as are ``skip`` and the system fields)."""
        try:
            sobj: SourceObject = self.source.object(source_obj)
        except KeyError:
            return []
        rules: list[FieldRule] = []
        left_out = {"id", "created_at", "modified_at", "updated_at", *skip}
        for f in sobj.fields:
            if f.name in left_out or f.type == "reference":
                continue
            name = self.caps.naming.custom_name(f.name)
            note = f"{f.name} ({f.evidence or f.type})"
            rules.append(self.typed_column(dest_obj, name, f.label or f.name, f.type, f.name, f.picklist_values, note))
        return rules

    def add(self, mapping: ObjectMapping, *, timestamps: bool = True) -> bool:
        """Take a mapping (unless the run's object filter leaves its source out), with its external id and
        original times."""
        if self.options.objects and mapping.source_object not in self.options.objects:
            return False
        if self.customizable(mapping.dest_object):
            self.custom(mapping.dest_object, self.ext_id, self.ext_label, "Text",
                        length=self.caps.naming.external_id_length, external_id=True, unique=True)
        if timestamps:
            mapping.fields.extend(self.timestamps(mapping.dest_object, mapping.timestamps))
        self.mappings.append(mapping)
        return True

    # --- passes over the whole spec ------------------------------------------------------------
    def conform_picklists(self) -> None:
        """Make every pick-list rule land on values the destination allows.

        Targets the org lacks are matched case-insensitively, else sent to "Other" when the
        org has it; unknown source values fall back to the same default, each reported.
        A constant the org refuses is a mapping error, named.
        """
        for m in self.mappings:
            described = self.described(m.dest_object)
            for i, rule in enumerate(m.fields):
                field = described.fields.get(rule.dest) if described else None
                if field is None or not field.restricted_picklist or not field.picklist_values:
                    continue
                allowed = {v.casefold(): v for v in field.picklist_values}
                fallback = allowed.get("other")
                if rule.transform == "constant":
                    if str(rule.constant).casefold() not in allowed:
                        raise MappingError(f"mapping {m.name!r}: {m.dest_object}.{rule.dest} does not allow "
                                           f"{rule.constant!r} (allowed: {field.picklist_values})")
                    continue
                if rule.transform != "picklist" or rule.value_map is None:
                    continue
                conformed = {}
                for src, dest_value in rule.value_map.items():
                    match = allowed.get(dest_value.casefold(), fallback)
                    if match is not None:
                        conformed[src] = match
                m.fields[i] = rule.model_copy(update={"value_map": conformed, "default": rule.default or fallback})

    def conform_updateable(self) -> None:
        """Fields and lookups the destination accepts on create only are never sent when a record is updated."""
        for m in self.mappings:
            described = self.described(m.dest_object)
            if described is None:
                continue
            fields = described.fields

            def create_only(name: str, fields: dict[str, DestField] = fields) -> bool:
                f = fields.get(name)
                return bool(f and f.createable and not f.updateable)

            m.fields = [r.model_copy(update={"insert_only": True}) if create_only(r.dest) else r for r in m.fields]
            m.lookups = [lk.model_copy(update={"insert_only": True}) if create_only(lk.dest) else lk
                         for lk in m.lookups]

    def check_required(self) -> None:
        """Every field the destination requires on create is filled by some rule (per-target lookup
        names count; fields the platform fills itself are never missing)."""
        for m in self.mappings:
            described = self.described(m.dest_object)
            if described is None:
                continue
            filled = {f.dest for f in m.fields} | {d for lk in m.lookups for d in lk.all_dests()}
            filled |= {m.owner.dest} if m.owner else set()
            filled |= {m.attachment_source} if m.attachment_source else set()
            missing = sorted(n for n, f in described.fields.items() if f.required_on_create and n not in filled
                             and n not in self.caps.platform_defaulted
                             and not any(d.startswith(n + "_") for d in filled))
            if missing:
                raise MappingError(f"mapping {m.name!r}: {m.dest_object} requires {missing} but no rule fills them")

    def finish(self, pair: str, *, custom_objects: list[CustomObjectSpec], owners: dict[str, str],
               fallback_owner_id: str, default_records: dict[str, dict[str, str]],
               merged: dict[str, dict[str, str]] | None = None) -> MigrationSpec:
        """The spec: only the schema the kept mappings need, in the order it was declared."""
        used = {m.dest_object for m in self.mappings}
        return MigrationSpec(
            pair=pair,
            external_id_field=self.ext_id,
            custom_objects=[o for o in custom_objects if o.name in used],
            custom_fields=[f for f in self.fields.values() if f.object in used],
            mappings=self.mappings,
            owners=owners,
            fallback_owner_id=fallback_owner_id,
            default_records=default_records,
            merged=merged or {},
            audit_fields=self.dest.audit_fields_settable,
        )
