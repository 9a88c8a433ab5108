"""Table and column definitions (the stand-in's EntityMetadata / AttributeMetadata).

A :class:`Schema` is an immutable view: standard tables (``standard_tables.py``) plus the
custom tables, columns and alternate keys kept in SQLite. Creating metadata builds a new
Schema and swaps it in, so a request always sees one consistent version.

Navigation properties are derived here, because Dataverse names them by rule: a simple
lookup ``parentaccountid`` binds as ``parentaccountid``; a customer lookup as
``customerid_account`` / ``customerid_contact``; ``ownerid`` takes ``/systemusers(…)`` or
``/teams(…)``; an activity's ``regardingobjectid`` as ``regardingobjectid_<table>_<activity>``;
a note's ``objectid`` as ``objectid_<table>``; other multi-table lookups (``customeraddress.parentid``,
``queueitem.objectid``) as ``<column>_<table>``. A custom lookup created through ``RelationshipDefinitions``
binds through its ``ReferencingEntityNavigationPropertyName`` (by default the lookup's SchemaName, case kept).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Literal

LookupKind = Literal["single", "customer", "owner", "regarding", "objectid", "multi"]
LOOKUP_TYPES = frozenset({"Lookup", "Customer", "Owner"})
OPTION_TYPES = frozenset({"Picklist", "State", "Status"})
STRING_TYPES = frozenset({"String", "Memo"})
_NS = uuid.UUID("6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0")


def metadata_id(*parts: str) -> str:
    """Stable MetadataId for a table/column/key (uuid5 of its names)."""
    return str(uuid.uuid5(_NS, "/".join(parts)))


def schema_name_of(logical: str) -> str:
    return "_".join(p[:1].upper() + p[1:] for p in logical.split("_"))


@dataclass(frozen=True)
class Option:
    """One option of a choice/state/status column (``state`` for statuses, ``default_status`` for states)."""

    value: int
    label: str
    state: int | None = None
    default_status: int | None = None


@dataclass(frozen=True)
class Column:
    """One AttributeMetadata."""

    logical: str
    type: str
    schema_name: str = ""
    display_name: str = ""
    max_length: int | None = None
    required: str = "None"
    create: bool = True
    update: bool = True
    targets: tuple[str, ...] = ()
    lookup_kind: LookupKind | None = None
    options: tuple[Option, ...] = ()
    is_custom: bool = False
    is_primary_id: bool = False
    is_primary_name: bool = False
    fmt: str | None = None
    precision: int | None = None
    min_value: float | None = None
    max_value: float | None = None
    published: bool = True
    nav_name: str | None = None  # single-valued navigation property when it is not the logical name

    def option_values(self) -> list[int]:
        return [o.value for o in self.options]

    def option(self, value: int) -> Option | None:
        return next((o for o in self.options if o.value == value), None)

    @property
    def value_name(self) -> str:
        """Wire name when read back: ``_x_value`` for lookups."""
        return f"_{self.logical}_value" if self.type in LOOKUP_TYPES else self.logical


@dataclass(frozen=True)
class KeyDef:
    """An alternate key (EntityKeyMetadata)."""

    logical: str
    schema_name: str
    attributes: tuple[str, ...]
    display_name: str
    created_at: float
    failed: bool = False

    def status(self, delay_s: float, now: float | None = None) -> str:
        if self.failed:
            return "Failed"
        return "Pending" if (now or time.time()) < self.created_at + delay_s else "Active"


@dataclass
class Table:
    """One EntityMetadata with its columns, alternate keys and derived navigation properties."""

    logical: str
    entity_set: str
    primary_id: str
    primary_name: str | None
    columns: dict[str, Column]
    display_name: str = ""
    display_collection: str = ""
    schema_name: str = ""
    object_type_code: int = 0
    ownership: str = "UserOwned"
    is_custom: bool = False
    is_activity: bool = False
    has_notes: bool = False
    has_activities: bool = False
    published: bool = True
    can_be_referencing: bool = True  # custom lookups (RelationshipDefinitions) may be added to it
    keys: tuple[KeyDef, ...] = ()
    navs: dict[str, tuple[Column, tuple[str, ...]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.schema_name = self.schema_name or schema_name_of(self.logical)
        self.display_name = self.display_name or self.schema_name
        self.display_collection = self.display_collection or self.display_name + "s"

    @property
    def metadata_id(self) -> str:
        return metadata_id(self.logical)

    def column(self, name: str) -> Column | None:
        return self.columns.get(name)

    def by_value_name(self, name: str) -> Column | None:
        """Column for a wire name (``_x_value`` for lookups, the logical name otherwise)."""
        if name.startswith("_") and name.endswith("_value"):
            col = self.columns.get(name[1:-6])
            return col if col is not None and col.type in LOOKUP_TYPES else None
        col = self.columns.get(name)
        return col if col is not None and col.type not in LOOKUP_TYPES else None

    def key_for(self, names: set[str]) -> KeyDef | None:
        return next((k for k in self.keys if set(k.attributes) == names), None)


class Schema:
    """All tables, indexed by logical name and entity-set name."""

    def __init__(self, tables: dict[str, Table]) -> None:
        regarding = tuple(sorted(t.logical for t in tables.values() if t.has_activities))
        notes = tuple(sorted(t.logical for t in tables.values() if t.has_notes))
        self.tables: dict[str, Table] = {}
        for table in tables.values():
            cols: dict[str, Column] = {}
            navs: dict[str, tuple[Column, tuple[str, ...]]] = {}
            for defined in table.columns.values():
                wanted = {"regarding": regarding, "objectid": notes}.get(defined.lookup_kind or "", defined.targets)
                col = replace(defined, targets=tuple(t for t in wanted if t in tables))
                cols[col.logical] = col
                for nav, targets in _navs_of(table.logical, col):
                    navs[nav] = (col, targets)
            self.tables[table.logical] = replace(table, columns=cols, navs=navs)
        self.by_set = {t.entity_set: t for t in self.tables.values()}

    def get(self, logical: str) -> Table | None:
        return self.tables.get(logical)

    def by_entity_set(self, name: str) -> Table | None:
        return self.by_set.get(name)


def _navs_of(table: str, col: Column) -> list[tuple[str, tuple[str, ...]]]:
    if col.type not in LOOKUP_TYPES or (not col.create and not col.update):
        return []
    if col.lookup_kind == "customer":
        return [(f"{col.logical}_{t}", (t,)) for t in col.targets]
    if col.lookup_kind == "regarding":
        return [(f"{col.logical}_{t}_{table}", (t,)) for t in col.targets]
    if col.lookup_kind in ("objectid", "multi"):
        return [(f"{col.logical}_{t}", (t,)) for t in col.targets]
    return [(col.nav_name or col.logical, col.targets)]


def nav_name_of(table: str, col: Column, target: str) -> str:
    """The navigation property a stored reference to ``target`` was written through."""
    if col.lookup_kind in ("customer", "objectid", "multi"):
        return f"{col.logical}_{target}"
    if col.lookup_kind == "regarding":
        return f"{col.logical}_{target}_{table}"
    return col.nav_name or col.logical


# -- column builders -------------------------------------------------------------------------------------------


def _col(logical: str, type_: str, label: str | None, **kw: object) -> Column:
    return Column(logical, type_, schema_name_of(logical), label or schema_name_of(logical), **kw)  # type: ignore[arg-type]


def string(logical: str, length: int, label: str | None = None, *, required: str = "None", fmt: str = "Text",
           create: bool = True, update: bool = True) -> Column:
    return _col(logical, "String", label, max_length=length, required=required, fmt=fmt, create=create,
                update=update)


def memo(logical: str, length: int = 2000, label: str | None = None, *, required: str = "None", create: bool = True,
         update: bool = True) -> Column:
    return _col(logical, "Memo", label, max_length=length, required=required, fmt="TextArea", create=create,
                update=update)


def entity_name(logical: str, label: str | None = None, *, required: str = "None", create: bool = True,
                update: bool = True) -> Column:
    """An EntityName column (a table's logical name, e.g. ``objecttypecode``)."""
    return _col(logical, "EntityName", label, required=required, create=create, update=update)


def integer(logical: str, label: str | None = None, *, lo: int = -2_147_483_648, hi: int = 2_147_483_647,
            create: bool = True, update: bool = True) -> Column:
    return _col(logical, "Integer", label, min_value=lo, max_value=hi, create=create, update=update)


def decimal(logical: str, label: str | None = None, *, precision: int = 2) -> Column:
    return _col(logical, "Decimal", label, precision=precision, min_value=-100_000_000_000, max_value=100_000_000_000)


def double(logical: str, label: str | None = None, *, lo: float = -1e9, hi: float = 1e9) -> Column:
    return _col(logical, "Double", label, precision=5, min_value=lo, max_value=hi)


def money(logical: str, label: str | None = None) -> Column:
    return _col(logical, "Money", label, precision=2, min_value=-922_337_203_685_477, max_value=922_337_203_685_477)


def datetime_col(logical: str, label: str | None = None, *, date_only: bool = False, create: bool = True,
                 update: bool = True, required: str = "None") -> Column:
    return _col(logical, "DateTime", label, fmt="DateOnly" if date_only else "DateAndTime", create=create,
                update=update, required=required)


def boolean(logical: str, label: str | None = None, true_label: str = "Yes", false_label: str = "No", *,
            create: bool = True, update: bool = True) -> Column:
    return _col(logical, "Boolean", label, options=(Option(0, false_label), Option(1, true_label)),
                create=create, update=update)


def picklist(logical: str, options: list[tuple[int, str]], label: str | None = None, *,
             required: str = "None", create: bool = True, update: bool = True) -> Column:
    return _col(logical, "Picklist", label, options=tuple(Option(v, t) for v, t in options), required=required,
                create=create, update=update)


def lookup(logical: str, *targets: str, label: str | None = None, required: str = "None", create: bool = True,
           update: bool = True, kind: LookupKind = "single", nav: str | None = None) -> Column:
    type_ = "Customer" if kind == "customer" else "Owner" if kind == "owner" else "Lookup"
    return _col(logical, type_, label, targets=targets, lookup_kind=kind, required=required, create=create,
                update=update, nav_name=nav)


def readonly_lookup(logical: str, *targets: str, label: str | None = None) -> Column:
    return lookup(logical, *targets, label=label, create=False, update=False)


def state_status(states: list[tuple[int, str, int]], statuses: list[tuple[int, str, int]]) -> list[Column]:
    """``statecode`` (value, label, default status) and ``statuscode`` (value, label, state)."""
    return [
        _col("statecode", "State", "Status", required="SystemRequired",
             options=tuple(Option(v, t, default_status=d) for v, t, d in states)),
        _col("statuscode", "Status", "Status Reason", options=tuple(Option(v, t, state=s) for v, t, s in statuses)),
    ]


ACTIVE_INACTIVE = state_status([(0, "Active", 1), (1, "Inactive", 2)], [(1, "Active", 0), (2, "Inactive", 1)])


def system_columns(logical: str, primary_id: str, ownership: str) -> list[Column]:
    """Key, audit and ownership columns every table of ``ownership`` carries."""
    cols = [
        _col(primary_id, "Uniqueidentifier", None, is_primary_id=True, update=False),
        datetime_col("createdon", "Created On", create=False, update=False),
        datetime_col("modifiedon", "Modified On", create=False, update=False),
        readonly_lookup("createdby", "systemuser", label="Created By"),
        readonly_lookup("modifiedby", "systemuser", label="Modified By"),
        datetime_col("overriddencreatedon", "Record Created On", update=False),
        _col("versionnumber", "BigInt", "Version Number", create=False, update=False),
        integer("importsequencenumber", "Import Sequence Number", update=False),
    ]
    if ownership == "UserOwned":
        cols += [
            lookup("ownerid", "systemuser", "team", label="Owner", required="SystemRequired", kind="owner"),
            readonly_lookup("owninguser", "systemuser", label="Owning User"),
            readonly_lookup("owningteam", "team", label="Owning Team"),
            readonly_lookup("owningbusinessunit", "businessunit", label="Owning Business Unit"),
        ]
    return cols


def make_table(logical: str, entity_set: str, columns: list[Column], *, primary_id: str | None = None,
               primary_name: str | None = "name", ownership: str = "UserOwned", **kw: object) -> Table:
    pid = primary_id or f"{logical}id"
    cols = {c.logical: c for c in system_columns(logical, pid, ownership)}
    for col in columns:
        cols[col.logical] = replace(col, is_primary_name=True) if primary_name and col.logical == primary_name else col
    return Table(logical, entity_set, pid, primary_name, cols, ownership=ownership, **kw)  # type: ignore[arg-type]


def customer_lookup(logical: str, label: str, *, required: str = "None") -> Column:
    return lookup(logical, "account", "contact", label=label, required=required, kind="customer")
