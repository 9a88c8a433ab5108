"""The migration spec: the proposed mapping a person confirms before any record moves.

A spec is data: which source object lands in which destination object, field by field,
with value maps for pick-lists, lookups resolved through the crosswalk, the custom fields
and objects to create first, and the owner rules. The engine (``engine.py``) compiles it;
the planner orders it; the mapping document renders it. Validation names the offending
field and what is allowed, so an edited spec is refused with a message a person can act on.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

Transform = Literal[
    "string", "text", "email", "phone", "url", "date", "datetime", "number", "integer", "currency",
    "boolean", "picklist", "constant", "full_name", "json", "joined_lines", "lines_text",
    "months_between", "product", "base64_text", "user_list", "choice", "add_minutes", "history_html",
]
MULTI_SOURCE: frozenset[str] = frozenset({"full_name", "joined_lines", "months_between", "product", "add_minutes"})
OnInvalid = Literal["reject", "null"]


class FieldRule(BaseModel):
    """One destination field filled from a source path (dotted, e.g. ``custom_fields.tier``)."""

    model_config = ConfigDict(extra="forbid")

    dest: str
    source: str | None = None
    sources: list[str] = Field(default_factory=list, description="inputs of full_name/joined_lines")
    transform: Transform = "string"
    value_map: dict[str, str] | None = None
    default: str | None = Field(default=None, description="pick-list value for source values the map lacks")
    constant: str | int | float | bool | None = None
    max_length: int | None = None
    required: bool = False
    on_invalid: OnInvalid = "null"
    insert_only: bool = False

    @model_validator(mode="after")
    def _shape(self) -> FieldRule:
        if self.transform == "constant":
            if self.constant is None:
                raise ValueError(f"field {self.dest!r}: transform 'constant' needs 'constant'")
        elif self.transform in MULTI_SOURCE:
            if not self.sources:
                raise ValueError(f"field {self.dest!r}: transform {self.transform!r} needs 'sources'")
        elif not self.source:
            raise ValueError(f"field {self.dest!r}: transform {self.transform!r} needs 'source'")
        if self.transform in ("picklist", "choice") and self.value_map is None:
            raise ValueError(f"field {self.dest!r}: transform {self.transform!r} needs a 'value_map'")
        if self.transform == "choice":
            bad = [v for v in [*(self.value_map or {}).values(), self.default] if v is not None and not _is_int(v)]
            if bad:
                raise ValueError(f"field {self.dest!r}: transform 'choice' maps to integer option values, not {bad}")
        return self


def _is_int(text: str) -> bool:
    return text.strip().lstrip("-").isdigit()


class LookupTarget(BaseModel):
    """Where a lookup points: the source object whose key is referenced and its destination."""

    model_config = ConfigDict(extra="forbid")

    source_object: str
    dest_object: str
    dest: str | None = Field(
        default=None,
        description="the destination field filled when the reference resolves to this target (Dataverse names "
        "a polymorphic lookup per target table: regardingobjectid_incident_task); None: the rule's own dest",
    )


class LookupCandidate(BaseModel):
    """An alternative source of a lookup, used when the rule's own source field is empty."""

    model_config = ConfigDict(extra="forbid")

    source: str
    target: LookupTarget


class LookupRule(BaseModel):
    """A destination reference field resolved through the id crosswalk.

    ``on_missing`` decides what happens when the referenced source record has no
    destination id: ``reject`` quarantines the record (an orphan), ``null`` leaves the
    field empty and reports it, ``default`` uses the run's default record (the default
    account, the fallback owner).

    A rule with an empty ``source`` and ``on_missing: default`` is a *fixed* lookup: every
    record points at the default record (e.g. the destination's seeded unit of measure).
    A typed rule may list several targets for one type value; they are tried in order
    (a work order landed as either a case or an opportunity).
    """

    model_config = ConfigDict(extra="forbid")

    dest: str
    source: str = ""
    target: LookupTarget | None = None
    or_else: list[LookupCandidate] = Field(default_factory=list, description="tried in order when source is empty")
    type_field: str | None = None
    targets: dict[str, LookupTarget | list[LookupTarget]] = Field(default_factory=dict)
    on_missing: Literal["reject", "null", "default"] = "null"
    default_key: str | None = None
    deferred: bool = False
    insert_only: bool = Field(default=False, description="the destination refuses it on update")

    @model_validator(mode="after")
    def _shape(self) -> LookupRule:
        if self.on_missing == "default" and not self.default_key:
            raise ValueError(f"lookup {self.dest!r}: on_missing 'default' needs 'default_key'")
        if not self.source:
            if self.on_missing != "default" or self.type_field or self.or_else:
                raise ValueError(f"lookup {self.dest!r}: needs 'source' (an empty source is only for a fixed "
                                 "lookup: on_missing 'default' with its default_key)")
            return self
        if self.type_field:
            if not self.targets:
                raise ValueError(f"lookup {self.dest!r}: a polymorphic lookup needs 'targets'")
        elif self.target is None:
            raise ValueError(f"lookup {self.dest!r}: needs 'target' (or 'type_field' + 'targets')")
        return self

    def typed_targets(self, type_value: str) -> list[LookupTarget]:
        """The targets tried, in order, for one value of ``type_field`` (empty: unknown type)."""
        found = self.targets.get(type_value)
        return [] if found is None else found if isinstance(found, list) else [found]

    def all_targets(self) -> list[LookupTarget]:
        own: list[LookupTarget] = []
        if self.type_field:
            for value in self.targets:
                own += self.typed_targets(value)
        elif self.target:
            own = [self.target]
        return own + [c.target for c in self.or_else]

    def all_dests(self) -> list[str]:
        """Every destination field this rule may fill (its own, and per-target ones)."""
        return list(dict.fromkeys([self.dest, *(t.dest for t in self.all_targets() if t.dest)]))


class OwnerRule(BaseModel):
    """OwnerId from a source technician id, matched to a destination user by email."""

    model_config = ConfigDict(extra="forbid")

    dest: str = "OwnerId"
    source: str


class Condition(BaseModel):
    """A test on a source record: every ``where`` field holds one of its values and every ``present`` field is set."""

    model_config = ConfigDict(extra="forbid")

    where: dict[str, list[str]] = Field(default_factory=dict)
    present: list[str] = Field(default_factory=list)


class Conversion(BaseModel):
    """Records of a mapping the destination converts once written (a Zoho Lead into a Contact).

    The records meeting ``where`` / ``present`` (every one when both are empty) are converted through the
    destination's conversion call after their batch is written; the record the conversion creates in
    ``into`` takes the source key in ``into``'s crosswalk (later lookups of the same source record resolve
    to it) and is audited as created (rollback deletes it). ``link`` attaches the conversion to records the
    run already loaded (the lead's company: an existing Account) instead of letting the destination create
    them; a link that does not resolve falls back to its ``default_key`` record.
    """

    model_config = ConfigDict(extra="forbid")

    into: str
    where: dict[str, list[str]] = Field(default_factory=dict)
    present: list[str] = Field(default_factory=list)
    link: list[LookupRule] = Field(default_factory=list, description="dest = the object the conversion links to")

    @model_validator(mode="after")
    def _links(self) -> Conversion:
        for lk in self.link:
            if lk.type_field or lk.or_else or lk.target is None:
                raise ValueError(f"conversion link {lk.dest!r}: needs one 'target' (no type_field, no or_else)")
        return self


class ObjectMapping(BaseModel):
    """How one source object lands in one destination object."""

    model_config = ConfigDict(extra="forbid")

    name: str
    source_object: str
    dest_object: str
    description: str = ""
    where: dict[str, list[str]] = Field(default_factory=dict, description="source field -> allowed values")
    require_present: list[str] = Field(default_factory=list, description="source fields that must be non-empty")
    unless: list[Condition] = Field(
        default_factory=list,
        description="a record meeting any of these conditions is filtered out (the complement of another "
        "mapping's where + require_present, e.g. work orders split between two destination objects)",
    )
    fields: list[FieldRule] = Field(default_factory=list)
    lookups: list[LookupRule] = Field(default_factory=list)
    owner: OwnerRule | None = None
    insert_only: bool = False
    natural_key: list[str] = Field(
        default_factory=list,
        description="destination fields identifying a record on objects that cannot carry the external id",
    )
    attachment_source: str | None = Field(default=None, description="dest field that receives file content")
    explode: str | None = Field(
        default=None,
        description="a list field of the source record; each element becomes one destination record "
        "(element fields by name, the source record as `_parent.<field>`, id `<parent id>#<n>`)",
    )
    timestamps: tuple[str, str] = Field(default=("created_at", "updated_at"),
                                        description="source fields holding the original created/modified times")
    convert: Conversion | None = Field(default=None, description="records the destination converts once written")

    @model_serializer(mode="wrap")
    def _without_no_conversion(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """``convert`` only where a mapping converts (specs written before it existed read the same)."""
        data: dict[str, Any] = handler(self)
        if data.get("convert", 0) is None:
            del data["convert"]
        return data

    @model_validator(mode="after")
    def _unique_dest(self) -> ObjectMapping:
        seen: set[str] = set()
        dests = [f.dest for f in self.fields] + [d for lk in self.lookups for d in lk.all_dests()]
        if self.owner:
            dests.append(self.owner.dest)
        for dest in dests:
            if dest in seen:
                raise ValueError(f"mapping {self.name!r}: destination field {dest!r} is filled twice")
            seen.add(dest)
        if self.convert and (self.insert_only or self.natural_key or self.explode):
            raise ValueError(f"mapping {self.name!r}: 'convert' needs an upserted mapping (not insert_only, "
                             "natural_key or explode)")
        return self


class CustomFieldSpec(BaseModel):
    """A field to create in the destination before loading."""

    model_config = ConfigDict(extra="forbid")

    object: str
    name: str
    label: str
    type: Literal[
        "Text", "LongTextArea", "Number", "Currency", "Date", "DateTime", "Checkbox", "Picklist",
        "Email", "Phone", "Url", "Lookup",
    ]
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    picklist_values: list[str] = Field(default_factory=list)
    option_values: dict[str, int] = Field(
        default_factory=dict,
        description="label -> integer value, for platforms whose choices are integers (Dataverse): the "
        "connector creates each option with exactly this value, so the mapping can emit it",
    )
    restricted: bool = False
    external_id: bool = False
    unique: bool = False
    reference_to: str | None = None
    source: str | None = Field(default=None, description="the source field it carries, for the document")


class CustomObjectSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    label: str
    plural_label: str


class MigrationSpec(BaseModel):
    """The whole proposed mapping for one run (approved as is, or edited then approved)."""

    model_config = ConfigDict(extra="forbid")

    pair: str
    external_id_field: str
    custom_objects: list[CustomObjectSpec] = Field(default_factory=list)
    custom_fields: list[CustomFieldSpec] = Field(default_factory=list)
    mappings: list[ObjectMapping]
    owners: dict[str, str] = Field(default_factory=dict, description="source technician id -> user id")
    fallback_owner_id: str
    default_records: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="default key -> {object, Name...}: created before load. With a 'match' entry (comma-separated "
        "field names) the record is found by those fields and never created or changed (a seeded record: "
        "Dataverse's default unit of measure, a routing queue)",
    )
    merged: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="source object -> {duplicate id -> surviving id}: duplicates are not loaded (reported as "
        "merged) and every lookup to a duplicate resolves to the surviving record",
    )
    audit_fields: bool = Field(description="True: CreatedDate/LastModifiedDate set on insert")

    def mapping(self, name: str) -> ObjectMapping:
        for m in self.mappings:
            if m.name == name:
                return m
        raise KeyError(name)
