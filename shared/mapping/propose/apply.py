"""The proposer over a whole migration spec, at discovery: what the pair's data does not cover gets a place.

The pair's rows place the source's standard objects and fields. Everything else a tenant has goes
through the proposer (:mod:`shared.mapping.propose.matcher`):

- **custom fields on a mapped object**: the pair's builder gives each one a new custom field; the proposer
  weighs that against the destination object's *free* standard fields (no rule of the pair fills them) and
  moves the field onto one when it is the better, confident choice (``cust_fax_no`` -> ``Fax``);
- **custom objects** (``SourceObject.custom``): a new custom object with a custom field per field (typed
  from the sampled values), its name field, the external id and original times, and a lookup for each
  reference to an object the pair migrates;
- a proposal **below the threshold is not applied**: a custom field whose best proposal is weak keeps the
  pair's lossless default (its own new custom field) and is flagged for the person at the mapping sign-off
  (``flag``), with the proposal, its reasons and alternatives; a tenant object proposed onto an existing
  object, or not surely placed, is not migrated at all: it and its fields wait (``flagged``) until a person
  maps them at the sign-off;
- **choices a person made at an earlier sign-off** of the same tenant (:mod:`.memory`) come first, as they
  were made (``origin: remembered``).

Every source field ends in the report with a status: ``pair`` (a pair row), ``applied`` (a confident or
remembered proposal), ``flagged`` (waiting for a person) or ``skipped`` (deliberately left out, and why):
none is silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.connectors.destination import Capabilities
from shared.mapping.propose.evidence import dest_kind
from shared.mapping.propose.matcher import (
    THRESHOLD,
    FieldProposal,
    ObjectProposal,
    Option,
    SourceColumn,
    TargetColumn,
    propose_fields,
    propose_object,
)
from shared.mapping.propose.memory import Memory
from shared.mapping.spec import (
    CustomObjectSpec,
    FieldRule,
    LookupRule,
    LookupTarget,
    MigrationSpec,
    ObjectMapping,
)
from shared.models import DestCatalog, DestField, RunOptions, SourceCatalog, SourceField, SourceObject
from shared.pairs.builder import SpecBuilder

Status = Literal["pair", "applied", "flagged", "skipped"]
SYSTEM_FIELDS = ("id", "created_at", "updated_at")
#: Proposer kinds -> the kinds of the platforms' type tables (``Capabilities.types``).
_TYPE_TABLE_KIND = {"email": "text", "phone": "text", "url": "text", "currency": "number", "reference": "text"}
_INTEGER_TYPES = frozenset({"int", "integer", "bigint", "long"})
#: Destination field kinds -> the transform a rule onto an existing field uses.
_TRANSFORM = {"email": "email", "phone": "phone", "url": "url", "date": "date", "datetime": "datetime",
              "number": "number", "currency": "currency", "boolean": "boolean", "long_text": "text",
              "text": "string"}


class FieldDecision(BaseModel):
    """Where one source field went, or why it did not."""

    source_object: str
    source: str = Field(description="the source path (custom_fields.<key> for a custom field)")
    status: Status
    dest_object: str | None = None
    dest: str | None = None
    new_field: bool = False
    confidence: float | None = None
    kind: str | None = None
    origin: Literal["pair", "proposed", "remembered"] = "proposed"
    #: A proposal below the threshold concerns this field: shown to the person at the mapping sign-off.
    flag: bool = False
    reasons: list[str] = Field(default_factory=list)
    alternatives: list[Option] = Field(default_factory=list)


class ObjectDecision(BaseModel):
    source_object: str
    status: Status
    dest_object: str | None = None
    new_object: bool = False
    confidence: float | None = None
    origin: Literal["proposed", "remembered"] = "proposed"
    reasons: list[str] = Field(default_factory=list)
    alternatives: list[Option] = Field(default_factory=list)


class ProposalReport(BaseModel):
    """What the proposer decided, and every source field's status (``proposals.json``)."""

    threshold: float = THRESHOLD
    objects: list[ObjectDecision] = Field(default_factory=list)
    fields: list[FieldDecision] = Field(default_factory=list)

    def flagged(self) -> list[FieldDecision]:
        """Fields a person should look at: waiting (not migrated) or landed by default beside a weak proposal."""
        return [f for f in self.fields if f.status == "flagged" or f.flag]


def _used_sources(m: ObjectMapping) -> set[str]:
    used = {r.source for r in m.fields if r.source} | {s for r in m.fields for s in r.sources}
    used |= {lk.source for lk in m.lookups if lk.source} | {c.source for lk in m.lookups for c in lk.or_else}
    used |= {lk.type_field for lk in m.lookups if lk.type_field}
    used |= set(m.where) | set(m.require_present) | set(m.timestamps) | {"id"}
    if m.owner:
        used.add(m.owner.source)
    if m.explode:
        used.add(m.explode)
    return {u.removeprefix("_parent.") for u in used}


def _values(field: SourceField, path: str, records: list[dict[str, Any]]) -> list[Any]:
    if records:
        if path.startswith("custom_fields."):
            return [(r.get("custom_fields") or {}).get(field.name) for r in records]
        return [r.get(path) for r in records]
    return list(field.sample.observed) if field.sample else []


def _column(field: SourceField, path: str, records: list[dict[str, Any]]) -> SourceColumn:
    return SourceColumn(name=field.name, label=field.label, type=field.type, values=_values(field, path, records),
                        picklist=field.picklist_values)


def _existing_rule(proposal: FieldProposal, path: str, dest: DestField) -> FieldRule:
    kind = dest_kind(dest.type)
    if kind == "picklist":
        return FieldRule(dest=dest.name, source=path, transform="picklist", value_map=proposal.value_map or {})
    transform = "integer" if dest.type.casefold() in _INTEGER_TYPES else _TRANSFORM.get(kind, "string")
    return FieldRule(dest=dest.name, source=path, transform=transform,  # type: ignore[arg-type]
                     max_length=dest.length or None)


class _Proposer:
    def __init__(self, spec: MigrationSpec, catalog: SourceCatalog, dcat: DestCatalog, caps: Capabilities,
                 options: RunOptions, samples: dict[str, list[dict[str, Any]]], memory: Memory) -> None:
        self.spec, self.catalog, self.dcat, self.caps = spec, catalog, dcat, caps
        self.options, self.samples, self.memory = options, samples, memory
        self.b = SpecBuilder(catalog, dcat, options, caps, source_label="source")
        self.b.ext_id = spec.external_id_field  # what the pair named it, and its label
        self.b.ext_label = next((f.label for f in spec.custom_fields if f.name == spec.external_id_field),
                                spec.external_id_field)
        self.b.fields = {(f.object, f.name): f for f in spec.custom_fields}
        self.mappings = [m.model_copy(deep=True) for m in spec.mappings]
        self.dropped: set[tuple[str, str]] = set()
        self.objects: list[CustomObjectSpec] = list(spec.custom_objects)
        self.report = ProposalReport()

    # --- custom fields of mapped objects ----------------------------------------------------------
    def free_targets(self, m: ObjectMapping) -> dict[str, DestField]:
        described = self.dcat.objects.get(m.dest_object)
        if described is None:
            return {}
        filled = {r.dest for r in m.fields} | {d for lk in m.lookups for d in lk.all_dests()}
        filled |= {m.owner.dest} if m.owner else set()
        created = {f.name for f in self.spec.custom_fields if f.object == m.dest_object}
        free = {}
        for name, f in described.fields.items():
            kind = dest_kind(f.type)
            if (name in filled or name in created or not f.createable or not f.updateable or f.external_id
                    or kind == "reference" or name == self.spec.external_id_field
                    or (kind == "picklist" and (self.caps.integer_choices_from is not None or not f.picklist_values))):
                continue
            free[name] = f
        return free

    def custom_fields(self, m: ObjectMapping) -> None:
        try:
            sobj = self.catalog.object(m.source_object)
        except KeyError:
            return
        tenant = {f"custom_fields.{f.name}": f for f in sobj.fields if f.custom}
        rules = [r for r in m.fields if r.source in tenant]
        if not rules:
            return
        free = self.free_targets(m)
        pending: list[tuple[FieldRule, SourceField]] = []
        for rule in rules:
            assert rule.source is not None
            if self.remembered(m, rule, tenant[rule.source], free):
                continue
            pending.append((rule, tenant[rule.source]))
        records = self.samples.get(m.source_object, [])
        columns = [_column(f, r.source or "", records) for r, f in pending]
        targets = [TargetColumn(n, f.label, f.type, f.picklist_values) for n, f in free.items()]
        for (rule, _field), p in zip(pending, propose_fields(columns, targets), strict=True):
            path = rule.source or ""
            entry = FieldDecision(source_object=m.source_object, source=path, status="applied",
                                  dest_object=m.dest_object, confidence=p.confidence, kind=p.kind,
                                  reasons=p.reasons, alternatives=p.alternatives)
            if p.target is not None and p.confident:
                self.drop(m, rule, replace=_existing_rule(p, path, free[p.target]))
                entry.dest = p.target
            else:  # the pair's default stays: a new custom field, nothing lost
                entry.dest, entry.new_field = rule.dest, True
                if not p.confident or p.target is not None:
                    entry.flag = True
                    entry.reasons.append(
                        f"best proposal {p.target or 'a new field'} at {p.confidence:.2f} is below {THRESHOLD}: "
                        f"it lands in the new field {rule.dest} unless a person moves it at the mapping sign-off")
            self.report.fields.append(entry)

    def remembered(self, m: ObjectMapping, rule: FieldRule, field: SourceField, free: dict[str, DestField]) -> bool:
        choice = self.memory.field(m.source_object, rule.source or "", m.dest_object)
        if choice is None:
            return False
        entry = FieldDecision(source_object=m.source_object, source=rule.source or "", status="applied",
                              dest_object=m.dest_object, confidence=1.0, origin="remembered", kind=field.type,
                              reasons=[f"chosen by a person at the sign-off of run {choice.run_id}"])
        if choice.rule is None:
            self.drop(m, rule)
            entry.status, entry.dest_object = "skipped", None
            entry.reasons.append("skipped at that sign-off")
        elif choice.rule.dest != rule.dest:
            self.drop(m, rule, replace=choice.rule)
            entry.dest = choice.rule.dest
            free.pop(choice.rule.dest, None)
            if choice.custom_field is not None:
                self.b.fields.setdefault((m.dest_object, choice.custom_field.name), choice.custom_field)
                entry.new_field = True
        else:
            entry.dest, entry.new_field = rule.dest, (m.dest_object, rule.dest) in self.b.fields
        self.report.fields.append(entry)
        return True

    def drop(self, m: ObjectMapping, rule: FieldRule, replace: FieldRule | None = None) -> None:
        """Take ``rule`` out of ``m`` (or put ``replace`` in its place); its custom field goes unless used."""
        kept: list[FieldRule] = []
        for r in m.fields:
            if r is not rule:
                kept.append(r)
            elif replace is not None:
                kept.append(replace)
        m.fields = kept
        self.dropped.add((m.dest_object, rule.dest))

    # --- custom objects ---------------------------------------------------------------------------
    def custom_object(self, sobj: SourceObject) -> None:
        existing = {n: d.label or n for n, d in self.dcat.objects.items()}
        choice = self.memory.object(sobj.name)
        if choice is not None and choice.dest_object is None:
            self.report.objects.append(ObjectDecision(
                source_object=sobj.name, status="skipped", origin="remembered", confidence=1.0,
                reasons=[f"skipped by a person at the sign-off of run {choice.run_id}"]))
            self.fields_of(sobj, "skipped", f"the object was skipped at the sign-off of run {choice.run_id}")
            return
        op: ObjectProposal = propose_object(sobj.name, sobj.label, existing)
        if op.target is not None or op.confidence < THRESHOLD:
            self.report.objects.append(ObjectDecision(
                source_object=sobj.name, status="flagged", dest_object=op.target, confidence=op.confidence,
                reasons=[*op.reasons, "not migrated unless a person maps it at the mapping sign-off"],
                alternatives=op.alternatives))
            self.fields_of(sobj, "flagged", "its object waits for a decision at the mapping sign-off")
            return
        dest = self.caps.naming.custom_name(sobj.name)
        label = (sobj.label or sobj.name)[: self.caps.naming.label_max]
        self.objects.append(CustomObjectSpec(name=dest, label=label, plural_label=label))
        self.report.objects.append(ObjectDecision(source_object=sobj.name, status="applied", dest_object=dest,
                                                  new_object=True, confidence=op.confidence, reasons=op.reasons,
                                                  alternatives=op.alternatives))
        mapping = ObjectMapping(name=sobj.name, source_object=sobj.name, dest_object=dest,
                                description=f"tenant object {sobj.name!r} (proposed)")
        plain = [f for f in sobj.fields if f.name not in SYSTEM_FIELDS and f.type != "reference"]
        named = next((f for f in plain if f.required and f.type in ("text", "string")), None)
        mapping.fields.append(FieldRule(dest=self.caps.record_name_field, source=named.name if named else "id",
                                        max_length=self.caps.record_name_length))
        records = self.samples.get(sobj.name, [])
        for f, p in zip(plain, propose_fields([_column(f, f.name, records) for f in plain], []), strict=True):
            kind = _TYPE_TABLE_KIND.get(p.kind, p.kind)
            values = [*f.picklist_values, *(str(v) for v in _values(f, f.name, records) if v not in (None, ""))]
            rule = self.b.typed_column(dest, self.caps.naming.custom_name(f.name), f.label or f.name, kind, f.name,
                                       values if kind == "picklist" else [], f"{f.name} ({p.reasons[-1]})")
            mapping.fields.append(rule)
            self.report.fields.append(FieldDecision(
                source_object=sobj.name, source=f.name, status="applied", dest_object=dest, dest=rule.dest,
                new_field=True, confidence=p.confidence, kind=p.kind, reasons=p.reasons))
        for f in sobj.fields:
            if f.type == "reference":
                self.reference(sobj, f, mapping)
        self.b.add(mapping)
        self.mappings.append(mapping)

    def reference(self, sobj: SourceObject, f: SourceField, mapping: ObjectMapping) -> None:
        parent = next((m for m in self.mappings if m.source_object == f.references and not m.explode), None)
        if parent is None:
            self.report.fields.append(FieldDecision(
                source_object=sobj.name, source=f.name, status="skipped",
                reasons=[f"references {f.references!r}, which this pair does not migrate"]))
            return
        name = self.b.custom(mapping.dest_object, self.caps.naming.custom_name(f.name), f.label or f.name, "Lookup",
                             reference_to=parent.dest_object, source=f"{f.name} (reference to {f.references})")
        mapping.lookups.append(LookupRule(dest=name, source=f.name, on_missing="null", target=LookupTarget(
            source_object=parent.source_object, dest_object=parent.dest_object)))
        self.report.fields.append(FieldDecision(
            source_object=sobj.name, source=f.name, status="applied", dest_object=mapping.dest_object, dest=name,
            new_field=True, confidence=1.0, kind="reference",
            reasons=[f"declared reference to {f.references}: a lookup to {parent.dest_object}"]))

    def fields_of(self, sobj: SourceObject, status: Status, why: str) -> None:
        for f in sobj.fields:
            self.report.fields.append(FieldDecision(source_object=sobj.name, source=f.name, status=status,
                                                    reasons=[why]))

    # --- the rest: the pair's own rows, and what it leaves out ------------------------------------
    def coverage(self, objects: Iterable[SourceObject]) -> None:
        decided = {(d.source_object, d.source) for d in self.report.fields}
        decided_objects = {d.source_object for d in self.report.objects}
        for sobj in objects:
            mappings = [m for m in self.mappings if m.source_object == sobj.name]
            used = set().union(*(_used_sources(m) for m in mappings)) if mappings else set()
            for f in sobj.fields:
                path = f"custom_fields.{f.name}" if f.custom else f.name
                if (sobj.name, path) in decided:
                    continue
                if not mappings:
                    why = "the run's object filter leaves the object out" if self.excluded(sobj.name) else \
                        "the pair does not migrate this object"
                    self.report.fields.append(FieldDecision(source_object=sobj.name, source=path, status="skipped",
                                                            reasons=[why]))
                elif sobj.name in decided_objects and path in used:  # a new object's id and original times
                    self.report.fields.append(FieldDecision(
                        source_object=sobj.name, source=path, status="applied", dest_object=mappings[0].dest_object,
                        reasons=["the external id" if path == "id" else "an original timestamp"]))
                elif path in used or (f.name == "custom_fields" and any(u.startswith("custom_fields.")
                                                                        for u in used)):
                    dests = sorted({m.dest_object for m in mappings})
                    self.report.fields.append(FieldDecision(source_object=sobj.name, source=path, status="pair",
                                                            origin="pair", dest_object=", ".join(dests)))
                else:
                    self.report.fields.append(FieldDecision(
                        source_object=sobj.name, source=path, status="skipped",
                        reasons=["the pair's mapping leaves this field out (see the pair's mapping document)"]))

    def excluded(self, obj: str) -> bool:
        return bool(self.options.objects) and obj not in (self.options.objects or [])

    def finish(self) -> MigrationSpec:
        used = {(m.dest_object, r.dest) for m in self.mappings for r in m.fields}
        used |= {(m.dest_object, d) for m in self.mappings for lk in m.lookups for d in lk.all_dests()}
        fields = [f for key, f in self.b.fields.items() if key not in self.dropped or key in used]
        return self.spec.model_copy(update={"mappings": self.mappings, "custom_fields": fields,
                                            "custom_objects": self.objects})


def propose_spec(spec: MigrationSpec, catalog: SourceCatalog, dcat: DestCatalog, caps: Capabilities,
                 options: RunOptions, *, samples: dict[str, list[dict[str, Any]]], memory: Memory
                 ) -> tuple[MigrationSpec, ProposalReport]:
    """The pair's spec with the proposer's confident (and remembered) choices applied, and the report."""
    p = _Proposer(spec, catalog, dcat, caps, options, samples, memory)
    for m in p.mappings:
        p.custom_fields(m)
    mapped = {m.source_object for m in spec.mappings}
    for sobj in catalog.objects:
        if sobj.custom and sobj.name not in mapped and not p.excluded(sobj.name):
            p.custom_object(sobj)
    p.coverage(catalog.objects)
    return p.finish(), p.report
