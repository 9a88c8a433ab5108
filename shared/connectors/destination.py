"""What the engine needs from a destination CRM: one typed Protocol every connector implements.

The domain layer (``shared/domain``) speaks only this interface, so it holds no query language
and no platform's object names. The methods say what the engine wants to know ("which of these
keys exist?", "when was this record last modified?") and each connector answers in its own API
(SOQL for Salesforce, OData ``$filter`` for Dataverse).

Conventions every connector keeps:

- **Record ids**: the engine's neutral id key is :data:`ID` (``"Id"``). Update payloads carry the
  record id under ``"Id"`` and every row a read returns (``retrieve``, ``rows_*``) carries it under
  ``"Id"`` too; a connector whose platform names its primary key differently (Dataverse:
  ``accountid``) translates both ways. Ids themselves are opaque strings.
- **Keys**: the external-id field (the spec's ``external_id_field``) carries
  ``<source object>:<source id>``; writes are keyed by it and every :class:`WriteResult` names it.
- **Per-record failures are results, never exceptions**; transport, auth and quota failures are
  raised as the error tree (``shared.errors``) after the shared retry policy (``shared.retry``).
- **Deletes converge**: a record already gone counts as deleted; object-specific ways of deleting
  (a Salesforce file is deleted through its ContentDocument) live in the connector.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, overload, runtime_checkable

from shared.mapping.spec import CustomFieldSpec, CustomObjectSpec
from shared.models import DestObject, DestUser

_T = TypeVar("_T")

#: The engine's neutral name of a record's id in update payloads and read rows.
ID = "Id"


@dataclass
class WriteResult:
    """The outcome of writing one record: its key, destination id, whether it was created."""

    key: str
    id: str | None
    created: bool
    error_code: str | None = None
    error_message: str | None = None
    fields: str = ""

    @property
    def ok(self) -> bool:
        return self.error_code is None


@dataclass(frozen=True)
class WriteCost:
    """What one load (at most ``Capabilities.bulk_batch_max`` records) costs: API calls, and the units the
    platform meters them in (calls, credits, requests) — the connector's one cost model, which its client's
    ``calls_needed`` and the estimate before any credentials (``shared.domain.estimate``) both read."""

    calls: int
    units: int


#: Neutral reasons a write result can carry, whatever the platform's own code (the engine acts on these;
#: the platform's code stays in ``error_code`` for the people reading the reject report).
Reason = Literal["insert_only_field", "duplicate", "invalid_value", "missing_required", "missing_reference",
                 "locked", "limit", "gone", "other"]


@dataclass(frozen=True)
class NamingRule:
    """How the platform names what a migration creates: custom fields, the external-id field, labels.

    ``prefix``/``suffix`` frame a custom name (Salesforce ``Contract_Tier__c``, Dataverse
    ``flit_contract_tier``); ``title_case`` keeps each word's capital (Salesforce) or lower-cases the
    whole name (Dataverse logical names); ``body_max`` bounds the part between them.
    """

    prefix: str
    suffix: str
    title_case: bool
    body_max: int
    label_max: int
    #: The external-id field: its name is made from the source's label (``Sercom Id`` -> ``Sercom_Id__c``).
    external_id_length: int

    def custom_name(self, key: str) -> str:
        """A source field key as this platform's custom-field name."""
        if self.title_case:
            words = [w for w in re.split(r"[^A-Za-z0-9]+", key) if w]
            body = "_".join(w[:1].upper() + w[1:] for w in words) or "Field"
            if body[0].isdigit():
                body = "X" + body
        else:
            body = re.sub(r"[^0-9a-z]+", "_", key.casefold()).strip("_") or "field"
            if body[0].isdigit():
                body = "x" + body
        return self.prefix + body[: self.body_max] + self.suffix

    def external_id(self, source_label: str) -> str:
        """The field every record carries its source key in (``Sercom_Id__c``, ``flit_sercomid``)."""
        if self.title_case:
            return self.custom_name(f"{source_label} Id")
        return self.custom_name(re.sub(r"[^0-9a-z]+", "", source_label.casefold()) + "id")


@dataclass(frozen=True)
class TimestampStrategy:
    """Where a record's original created/modified times go on this platform.

    When ``native_created`` is createable on the object (judged from its describe; for an object the
    run creates, from the org-wide permission), the original created time is written there on insert
    (and ``native_modified`` too, when the platform lets it be set); otherwise, and for what the
    platform never lets a client set, custom fields carry them.
    """

    native_created: str
    native_modified: str | None
    custom_created: tuple[str, str]
    custom_modified: tuple[str, str]


@dataclass(frozen=True)
class TypeRule:
    """How one inferred source type lands: the custom field's type, the transform, its size."""

    field_type: str
    transform: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a destination can do and must be spared, declared as data by each connector.

    The engine reads it: Map concurrency (``max_parallel_loads``), batch packing
    (``write_batch_max``, ``bulk_*``), pacing (``quota_model``, ``api_reserve_fraction``), and the spec
    builder (naming, timestamps, type table, defaults) — nothing about a platform is hard-coded elsewhere.

    ``write_batch_max`` is how many records one write call carries (Salesforce sObject
    Collections: 200; a Dataverse ``$batch``: 999 writes + one read). ``bulk_threshold`` is the
    size above which a load goes through a bulk API (None: the platform has none);
    ``bulk_batch_max`` is what one bulk job (or, without bulk, one load) may hold.
    """

    write_batch_max: int
    bulk_batch_max: int
    bulk_threshold: int | None
    max_parallel_loads: int
    read_page: int
    naming: NamingRule
    timestamps: TimestampStrategy
    #: Inferred source type (``shared.mapping.infer``) -> how it lands; ``text`` is the fallback.
    types: Mapping[str, TypeRule]
    no_bulk_objects: frozenset[str] = frozenset()
    #: Share of a daily API quota a migration leaves for the org's other integrations (0: no daily quota).
    api_reserve_fraction: float = 0.0
    #: ``daily_calls`` (Salesforce), ``rolling_requests`` (Dataverse service protection), ``credits``, ``none``.
    quota_model: str = "none"
    #: Whether the platform upserts by an external id natively (else the connector reads first).
    native_upsert: bool = True
    #: Pick-lists whose options are integers the migration chooses (Dataverse choices), numbered from here.
    integer_choices_from: int | None = None
    #: Objects that cannot carry custom fields (no external id, no original-time columns).
    no_custom_fields: frozenset[str] = frozenset()
    #: Fields the platform fills on create when a payload leaves them out (never "missing").
    platform_defaulted: frozenset[str] = frozenset()
    #: Text lengths used when a describe gives none.
    default_lengths: Mapping[str, int] = field(default_factory=dict)
    #: Numbers cannot be empty on the platform: an empty number reads back as 0 (Odoo's float fields).
    empty_numbers_read_as_zero: bool = False
    #: The platform's record-level codes -> the neutral reason the engine acts on.
    error_reasons: Mapping[str, Reason] = field(default_factory=dict)
    #: Whether the connector implements :class:`SchemaRemoval` (rollback with ``rollback_schema``).
    removes_schema: bool = False
    #: Whether the connector implements :class:`RunJournal` (each finished run summed up in the destination).
    keeps_run_journal: bool = False
    #: Largest file one write may carry on the path the connector takes (None: the platform documents none).
    max_file_bytes: int | None = None
    #: Custom objects an org may hold (None: no documented ceiling, or it depends on an edition we cannot read).
    custom_object_limit: int | None = None
    #: Data storage one record takes (None: the platform does not meter storage per record).
    record_storage_bytes: int | None = None
    #: What a person should know about these three limits (edition, org setting), shown with the pre-scan.
    limit_notes: tuple[str, ...] = ()
    #: The name field of an object the run creates, and its length (Salesforce ``Name``, Odoo ``x_name``).
    record_name_field: str = "Name"
    record_name_length: int = 80

    def uses_bulk(self, obj: str, count: int) -> bool:
        """Whether a write of ``count`` records of ``obj`` goes through the bulk path."""
        return self.bulk_threshold is not None and count > self.bulk_threshold and obj not in self.no_bulk_objects

    def reason(self, code: str | None) -> Reason | None:
        """The neutral reason of a platform's record-level code (None: the write succeeded)."""
        if code is None:
            return None
        return self.error_reasons.get(code, "other")


@runtime_checkable
class RunJournal(Protocol):
    """A destination that keeps the story of the migrations run into it (Odoo, seed 004: a chatter summary
    posted on a dedicated migration dashboard record)."""

    def post_run_summary(self, title: str, body_html: str) -> str:
        """Post one run's summary; a reference to where it landed (e.g. ``x_flitstack_migration,1``)."""
        ...


class SchemaRemoval(Protocol):
    """A destination that can remove the custom schema a run created (``Capabilities.removes_schema``).

    Rollback asks only after every record the run wrote is gone, and removes a field or an object only
    when it holds no data, so nothing a person entered meanwhile is lost with it.
    """

    def holds_data(self, obj: str, field_name: str | None = None) -> bool:
        """Whether any record of ``obj`` exists (``field_name`` None) or holds a value in ``field_name``."""
        ...

    def drop_custom_field(self, obj: str, field_name: str) -> None: ...

    def drop_custom_object(self, obj: str) -> None: ...


@runtime_checkable
class Destination(Protocol):
    """One destination org/environment, authenticated. Credentials never appear in repr, logs or errors."""

    #: ``salesforce`` | ``dynamics``: names the platform in messages people read.
    name: str
    #: A readable platform name ("Salesforce", "Dynamics 365") for reports and errors.
    label: str
    capabilities: Capabilities
    #: HTTP requests made so far (every request, token calls included).
    calls: int
    instance_url: str
    integration_user_id: str
    #: Fields the platform moves on every write (rollback compares restored records without them).
    system_fields: tuple[str, ...]
    #: What a delete means on this platform, for the rollback report ("Recycle Bin, 15 days"...).
    delete_note: str

    @property
    def scope(self) -> str:
        """Crosswalk scope prefix: the org/environment, so two never share ids."""
        ...

    def close(self) -> None: ...

    # --- schema and users -------------------------------------------------------------------------
    def describe(self, obj: str) -> DestObject | None:
        """The object's fields, pick-lists and references, or None when it does not exist (yet)."""
        ...

    def users(self) -> list[DestUser]: ...

    def audit_fields_settable(self, described: Mapping[str, DestObject]) -> bool:
        """Whether original created times can be written on insert, judged from describes already made."""
        ...

    def create_custom_object(self, spec: CustomObjectSpec) -> None: ...

    def create_custom_field(self, spec: CustomFieldSpec) -> None:
        """Create the field; with ``external_id`` it becomes the key writes upsert on."""
        ...

    # --- writes -----------------------------------------------------------------------------------
    def upsert(self, obj: str, ext_field: str, records: Sequence[dict[str, Any]], *, allow_bulk: bool
               ) -> list[WriteResult]:
        """Create or update each record by its external id; one result per record, keyed by it."""
        ...

    def insert(self, obj: str, ext_field: str, records: Sequence[dict[str, Any]], *,
               match_on: list[str] | None = None) -> list[WriteResult]:
        """Insert (objects written once); with ``match_on`` the key is not sent (objects that cannot carry it)."""
        ...

    def update(self, obj: str, records: list[dict[str, Any]], *, allow_bulk: bool = False) -> list[WriteResult]:
        """Update by :data:`ID`; results keyed by the id. ``None`` sets a field to null."""
        ...

    def delete_records(self, obj: str, ids: list[str]) -> list[WriteResult]:
        """Delete records of ``obj`` (results keyed by the id given); already gone counts as deleted."""
        ...

    # --- reads ------------------------------------------------------------------------------------
    def retrieve(self, obj: str, ids: list[str], fields: list[str]) -> list[dict[str, Any] | None]:
        """``fields`` of each id, in the order of ``ids``; None where the record does not exist."""
        ...

    def existing_ids(self, obj: str, ids: list[str]) -> set[str]:
        """Which of ``ids`` still exist, as the ids were given."""
        ...

    def find_by_key(self, obj: str, key_field: str, keys: list[str]) -> dict[str, str]:
        """Key -> id for the ``keys`` the destination holds (insert-only objects, retried inserts)."""
        ...

    def find_by_key_prefix(self, obj: str, key_field: str, prefix: str) -> dict[str, str]:
        """Key -> id for every record whose key starts with ``prefix`` (earlier runs, other tools)."""
        ...

    def find_natural(self, obj: str, fields: list[str], records: Sequence[dict[str, Any]]
                     ) -> dict[tuple[str, ...], str]:
        """Records already present matched on a natural key: (values of ``fields`` as text) -> id.

        Candidates are narrowed by the first field's values among ``records``.
        """
        ...

    def modified_stamps(self, obj: str, ids: list[str]) -> dict[str, str]:
        """Id -> when anyone last changed the record (ISO 8601), for delta conflict detection."""
        ...

    def rows_with_key_prefix(self, obj: str, fields: list[str], key_field: str, prefix: str
                             ) -> Iterator[dict[str, Any]]:
        """``fields`` (+ :data:`ID`, ``key_field``) of every record whose key starts with ``prefix``.

        Yielded as the platform's pages arrive (a page is read when the one before is consumed), so a
        caller that streams them (reconciliation) never holds more than a page of an object's records.
        """
        ...

    def rows_by_id(self, obj: str, ids: list[str], fields: list[str]) -> list[dict[str, Any]]:
        """``fields`` (+ :data:`ID`) of the records among ``ids`` that exist (any order)."""
        ...

    # --- quotas -----------------------------------------------------------------------------------
    def limits_report(self) -> dict[str, Any]:
        """What the platform says is left of its quotas (shown with the run's status)."""
        ...

    def calls_needed(self, obj: str, count: int, allow_bulk: bool) -> int:
        """The fewest API calls a write of ``count`` records costs (planner, bench, quota pacing)."""
        ...

    def check_quota(self, needed: int = 1) -> None:
        """Raise ``QuotaExhaustedError`` before a write the remaining daily quota cannot cover."""
        ...


@overload
def chunks(items: list[_T], size: int) -> list[list[_T]]: ...


@overload
def chunks(items: Sequence[_T], size: int) -> list[Sequence[_T]]: ...


def chunks(items: Sequence[_T], size: int) -> list[Sequence[_T]] | list[list[_T]]:
    """``items`` in consecutive slices of at most ``size`` (a connector's calls of at most ``size`` records)."""
    return [items[i : i + size] for i in range(0, len(items), size)]


class LineRecords(Sequence[dict[str, Any]]):
    """Records kept as their JSON lines (as the load-ready batch holds them), each parsed when it is read.

    A load item writes up to 10,000 records, four items at a time: as dictionaries 10,000 work orders are
    20 to 30 MiB, as their lines under half of that, and a pass over them (a Bulk CSV written, a request's
    slice sent) parses one record at a time (``tests/unit/test_line_records.py``). Every read gives a new
    dictionary, so nothing a reader does to one changes the records. The key of each record (``key_field``)
    is read once, when the lines are given: filtering by key (:meth:`where_key`) and listing keys
    (:attr:`keys`) parse nothing.
    """

    __slots__ = ("_lines", "key_field", "keys")

    def __init__(self, lines: list[bytes], key_field: str, keys: list[str] | None = None) -> None:
        self._lines = lines
        self.key_field = key_field
        self.keys: list[str] = keys if keys is not None else [str(json.loads(line)[key_field]) for line in lines]

    def __len__(self) -> int:
        return len(self._lines)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> LineRecords: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | LineRecords:
        if isinstance(index, slice):
            return LineRecords(self._lines[index], self.key_field, self.keys[index])
        record: dict[str, Any] = json.loads(self._lines[index])
        return record

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (json.loads(line) for line in self._lines)

    def where_key(self, keep: Callable[[str], bool]) -> LineRecords:
        """The records whose key ``keep`` accepts, in order (their lines are shared, not copied)."""
        chosen = [i for i, key in enumerate(self.keys) if keep(key)]
        return LineRecords([self._lines[i] for i in chosen], self.key_field, [self.keys[i] for i in chosen])
