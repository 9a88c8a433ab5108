"""What a ServiceTracker tenant is, independent of where it comes from (generator or dump).

Both sources are *streams*: a tenant of a million records must load into SQLite without
holding the records in memory, so a source hands out one iterator of records per object
and the store writes them in chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sandbox.servicetracker.model import CustomFieldDef, CustomTableDef, MobileDevice


@dataclass(frozen=True)
class FileContent:
    """Where an attachment's bytes come from: generated from ``seed`` or read from ``path``."""

    seed: int | None = None
    path: Path | None = None


class TenantSource(Protocol):
    """A tenant as streams: records per object (standard objects and ``custom.<table>``)."""

    @property
    def name(self) -> str: ...

    @property
    def seed(self) -> int | None: ...

    @property
    def generated_by(self) -> str: ...

    def object_names(self) -> list[str]:
        """Standard objects, then one ``custom.<key>`` per custom table."""
        ...

    def records(self, obj: str) -> Iterator[dict[str, Any]]:
        """The records of ``obj`` in id order (attachments carry no stand-in internals)."""
        ...

    def custom_fields(self) -> list[CustomFieldDef]: ...

    def custom_tables(self) -> list[CustomTableDef]: ...

    def devices(self) -> list[MobileDevice]: ...

    def file_content(self, attachment: dict[str, Any]) -> FileContent:
        """Where the bytes of one attachment record come from."""
        ...
