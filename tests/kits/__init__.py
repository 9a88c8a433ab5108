"""Test kits: what the shared suites need to know about one connector, one file per connector.

``tests/kits/<kind>.py`` declares ``KIT``: a :class:`SourceKit` or a :class:`DestinationKit` (how to start
its stand-in, open the connector, the few platform facts the contract suite needs) and, for a
destination, its independent **probe** (a reader and editor of the stand-in that does not use our
connector: simple-salesforce, plain OData...). The contract, safety-net and sign-off suites run for
every registered connector through :func:`kit`; none of them names a connector.
"""

from __future__ import annotations

import importlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sandbox.serve import RunningStandin


class Probe(Protocol):
    """An independent reader and editor of a destination stand-in, as a person or a report tool would use it.

    Rows come back keyed by the engine's source key (``customers:42``) with the fields asked for,
    named as the spec names them.
    """

    def rows(self, obj: str, ext: str, source_object: str, fields: list[str]) -> dict[str, dict[str, Any]]: ...

    def ids(self, obj: str) -> set[str]: ...

    def edit(self, obj: str, dest_id: str, field: str, value: Any) -> None: ...


#: One record of a destination stand-in's state: (object, id, fields).
Row = tuple[str, str, dict[str, Any]]


def sql_rows(sql: str) -> Callable[[sqlite3.Connection], list[Row]]:
    """Rows of a stand-in that keeps each record as JSON: ``sql`` selects (object, id, data)."""
    def rows(db: sqlite3.Connection) -> list[Row]:
        return [(str(obj), str(rid), json.loads(data)) for obj, rid, data in db.execute(sql)]
    return rows


@dataclass(frozen=True)
class StateRules:
    """How the golden snapshot (``tests/golden/snapshot.py``) reads one destination stand-in's state."""

    #: (object, id, fields) of every live record, references written the way ids are.
    rows: Callable[[sqlite3.Connection], list[Row]]
    #: Fields the stand-in fills by itself in write order (row versions, auto-numbers): dropped.
    volatile: frozenset[str] = frozenset()
    #: Date-only fields the stand-in stamps with the day of the write when the request leaves them out.
    stamped_dates: frozenset[str] = frozenset()
    #: (pattern, placeholder) for ids that name no migrated record (the org's users, roles, layouts).
    foreign_id: tuple[str, str] | None = None

    def read(self, state: Path) -> list[Row]:
        """Every record of the stand-in's SQLite state file (opened read-only)."""
        db = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
        try:
            return self.rows(db)
        finally:
            db.close()


@dataclass
class SourceKit:
    name: str
    start: Callable[[Path], RunningStandin]
    connect: Callable[[RunningStandin], Any]
    throttle: Callable[[RunningStandin, int], None]
    attachment_object: str
    #: An object whose records carry ``updated_at`` (the delta contract pages it with ``updated_since``).
    delta_object: str
    #: The attachment record's fields that give its content's size and SHA-256.
    attachment_size_field: str = "size_bytes"
    attachment_hash_field: str = "sha256"
    #: Changes one source record as a user of the source would (the delta-window suites):
    #: ``edit(standin, object, record_id, {field: value})``.
    edit: Callable[[RunningStandin, str, str, dict[str, Any]], None] | None = None
    #: A source whose schema endpoint lists only part of its custom fields (the rest are on the records):
    #: the (object, key) pairs it does list, read from the stand-in.
    listed_custom_fields: Callable[[RunningStandin], set[tuple[str, str]]] | None = None
    #: ``serve`` arguments of a tenant whose pre-flight blocks the full run (None: nothing ever blocks it).
    blocking_args: list[str] | None = None
    #: ``serve`` arguments the workflow suites' local stacks give this source's stand-in: its slow,
    #: unconfirmed defaults shortened, with every code path they exercise kept (see the kit).
    local_args: list[str] = field(default_factory=list)


@dataclass
class DestinationKit:
    """What the destination suites need to know about one platform (names and sizes, no behaviour)."""

    name: str
    start: Callable[[Path], RunningStandin]
    connect: Callable[[RunningStandin], Any]
    writable_object: str
    required: dict[str, Any]  # fields every record of writable_object carries
    text_field: str
    ext_field: str  # the external-id field the suite creates
    required_on_create: tuple[str, list[str]]  # an object and fields its describe must flag required
    refused: dict[str, Any]  # fields that make the platform refuse a record of writable_object
    missing_object: str
    #: The independent client of the migrated destination (given the running local runtime).
    probe: Callable[[Any], Probe]
    #: (id, records, allow_bulk): write sizes that take each of the connector's write paths
    write_sizes: list[tuple[str, int, bool]] = field(default_factory=list)
    #: How the golden snapshot reads the stand-in's state.
    state: StateRules | None = None
    #: Why records written once (notes, files) cannot be found again in this destination when the
    #: crosswalk lost them (an abandoned run): None when they can (they carry the key, or a derived id).
    written_once_unfindable: str | None = None


def kit(kind: str) -> Any:
    """The kit of a registered connector (``tests/kits/<kind>.py``)."""
    return importlib.import_module(f"{__name__}.{kind}").KIT
