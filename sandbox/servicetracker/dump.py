"""The ServiceTracker tenant dump directory: bring your own data (``docs/servicetracker-dump-format.md``).

::

    manifest.json                       {format_version, tenant, generated_by, seed?, counts}
    objects/<object>.jsonl              standard objects, one record per line, ids ascending
    custom_fields.json                  form-builder field definitions (optional; need not be complete)
    custom_tables.json                  custom-table definitions (optional)
    custom_tables/<key>.jsonl           rows of each custom table, ids ascending
    mobile_devices.json                 mobile app installs and their unsynced changes (optional)
    attachments/<id>/<file_name>        bytes of an attachment (or the record says ``content_seed``)

Reading is two streaming passes: :func:`validate_dump` checks every line (problems reported
with file, line and field; an unknown object, table or field is named), then
:class:`DumpTenant` streams the records into the store. Neither holds the records in memory;
ids must ascend within a file so duplicates are found without remembering every id.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

# The manifest and the problem report are the same as Sercom's dump format (generic): shared.
from sandbox.sercom.dump import MAX_PROBLEMS, DumpError, DumpProblem, Manifest
from sandbox.servicetracker.files import content_sha256
from sandbox.servicetracker.model import (
    CUSTOM_PREFIX,
    OBJECT_ORDER,
    OBJECTS,
    CustomFieldDef,
    CustomTableDef,
    MobileDevice,
    check_custom_row,
    check_record,
)
from sandbox.servicetracker.tenant import FileContent, TenantSource

FORMAT_VERSION: Literal[1] = 1


def _rel(obj: str) -> str:
    if obj.startswith(CUSTOM_PREFIX):
        return f"custom_tables/{obj.removeprefix(CUSTOM_PREFIX)}.jsonl"
    return f"objects/{obj}.jsonl"


def _safe_name(name: Any) -> str:
    """A file name that cannot escape ``attachments/<id>/`` (the name is data, not a path)."""
    if not isinstance(name, str) or not name or name in (".", "..") or any(c in name for c in "/\\\x00"):
        raise ValueError(f"unsafe attachment file_name {name!r}")
    return name


# --------------------------------------------------------------------------- writing


def write_dump(source: TenantSource, directory: Path) -> dict[str, int]:
    """Write ``source`` as a dump directory (streaming); returns the record counts."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()) and not (directory / "manifest.json").exists():
        raise FileExistsError(f"{directory} is not empty and is not a tenant dump; refusing to overwrite")
    for sub in ("objects", "custom_tables", "attachments"):
        shutil.rmtree(directory / sub, ignore_errors=True)
        (directory / sub).mkdir(parents=True)
    counts: dict[str, int] = {}
    for obj in source.object_names():
        n = 0
        with (directory / _rel(obj)).open("w", encoding="utf-8") as fh:
            for rec in source.records(obj):
                out = _attach(source, rec, directory) if obj == "attachments" else rec
                fh.write(json.dumps(out, ensure_ascii=False) + "\n")
                n += 1
        counts[obj] = n
    _write_json(directory / "custom_fields.json", [d.model_dump() for d in source.custom_fields()])
    _write_json(directory / "custom_tables.json", [t.model_dump() for t in source.custom_tables()])
    _write_json(directory / "mobile_devices.json", [d.model_dump() for d in source.devices()])
    manifest = Manifest(format_version=FORMAT_VERSION, tenant=source.name, generated_by=source.generated_by,
                        seed=source.seed, counts=counts)
    _write_json(directory / "manifest.json", manifest.model_dump())
    return counts


def _attach(source: TenantSource, rec: dict[str, Any], directory: Path) -> dict[str, Any]:
    content = source.file_content(rec)
    if content.seed is not None:
        return {**rec, "content_seed": content.seed}
    assert content.path is not None
    folder = directory / "attachments" / str(rec["id"])
    folder.mkdir()
    shutil.copyfile(content.path, folder / _safe_name(rec["file_name"]))
    return rec


def _write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- reading


class _Checker:
    """The first pass: every problem of a dump directory, collected up to :data:`MAX_PROBLEMS`."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.problems: list[DumpProblem] = []

    def problem(self, file: str, line: int | None, field: str | None, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(DumpProblem(file, line, field, message))

    def json_file(self, rel: str, adapter: TypeAdapter[Any], *, required: bool) -> Any:
        path = self.dir / rel
        if not path.exists():
            if required:
                self.problem(rel, None, None, "file is missing")
            return None
        try:
            return adapter.validate_json(path.read_bytes())
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"])
                self.problem(rel, None, loc or None, err["msg"])
        return None

    def lines(self, rel: str) -> Iterator[tuple[int, dict[str, Any]]]:
        path = self.dir / rel
        if not path.exists():
            return
        with path.open(encoding="utf-8") as fh:
            for lineno, raw in enumerate(fh, 1):
                if len(self.problems) >= MAX_PROBLEMS:
                    return
                if not raw.strip():
                    continue
                try:
                    rec = json.loads(raw)
                except json.JSONDecodeError as exc:
                    self.problem(rel, lineno, None, f"not valid JSON: {exc.msg} (column {exc.colno})")
                    continue
                if not isinstance(rec, dict):
                    self.problem(rel, lineno, None, f"expected a JSON object, got {type(rec).__name__}")
                    continue
                yield lineno, rec


class DumpTenant:
    """A validated dump directory as a :class:`~sandbox.servicetracker.tenant.TenantSource`."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        if not self.dir.is_dir():
            raise DumpError([DumpProblem(str(directory), None, None, "not a directory")])
        check = _Checker(self.dir)
        manifest = check.json_file("manifest.json", TypeAdapter(Manifest), required=True)
        self._fields: list[CustomFieldDef] = check.json_file(
            "custom_fields.json", TypeAdapter(list[CustomFieldDef]), required=False) or []
        self._tables: list[CustomTableDef] = check.json_file(
            "custom_tables.json", TypeAdapter(list[CustomTableDef]), required=False) or []
        self._devices: list[MobileDevice] = check.json_file(
            "mobile_devices.json", TypeAdapter(list[MobileDevice]), required=False) or []
        self._seeds: dict[int, int] = {}
        self._check_definitions(check)
        counts = {obj: self._check_records(check, obj) for obj in self.object_names()}
        if manifest is not None:
            for obj, expected in manifest.counts.items():
                if obj not in counts:
                    check.problem("manifest.json", None, f"counts.{obj}", f"unknown object {obj!r}")
                elif expected != counts[obj]:
                    check.problem("manifest.json", None, f"counts.{obj}",
                                  f"manifest says {expected}, {_rel(obj)} has {counts[obj]} records")
        if check.problems:
            raise DumpError(check.problems)
        assert manifest is not None
        self.name, self.seed, self.generated_by = manifest.tenant, manifest.seed, manifest.generated_by
        self.record_counts = counts

    def _check_definitions(self, check: _Checker) -> None:
        seen: set[tuple[str, str]] = set()
        for i, d in enumerate(self._fields):
            if d.object not in OBJECTS or not OBJECTS[d.object].has_custom_fields:
                carriers = ", ".join(s.name for s in OBJECTS.values() if s.has_custom_fields)
                check.problem("custom_fields.json", None, f"[{i}].object",
                              f"unknown object {d.object!r} for custom fields (one of: {carriers})")
            if (d.object, d.key) in seen:
                check.problem("custom_fields.json", None, f"[{i}].key", f"{d.object}.{d.key} defined twice")
            seen.add((d.object, d.key))
        if len({t.key for t in self._tables}) != len(self._tables):
            check.problem("custom_tables.json", None, "key", "custom table keys must be unique")
        for folder, allowed in (("objects", set(OBJECT_ORDER)), ("custom_tables", {t.key for t in self._tables})):
            path = self.dir / folder
            for file in sorted(path.iterdir()) if path.is_dir() else []:
                if file.suffix != ".jsonl" or file.stem not in allowed:
                    what = "object" if folder == "objects" else "custom table (not in custom_tables.json)"
                    check.problem(f"{folder}/{file.name}", None, None,
                                  f"unknown {what} {file.stem!r}; expected one of: {', '.join(sorted(allowed))}")

    def _check_records(self, check: _Checker, obj: str) -> int:
        rel = _rel(obj)
        table = next((t for t in self._tables if t.object_name == obj), None)
        defs = {d.key: d for d in self._fields if d.object == obj}
        last_id, n = 0, 0
        for lineno, rec in check.lines(rel):
            seed = rec.pop("content_seed", None) if obj == "attachments" else None
            problems = check_custom_row(table, rec) if table else check_record(obj, rec, defs)
            for field, message in problems:
                check.problem(rel, lineno, field, message)
            if problems:
                continue
            if rec["id"] <= last_id:
                check.problem(rel, lineno, "id", f"id {rec['id']} is not above the previous id {last_id} "
                                                 "(ids must ascend: sort the file by id)")
            last_id, n = rec["id"], n + 1
            if obj == "attachments":
                self._check_file(check, lineno, rec, seed)
        return n

    def _check_file(self, check: _Checker, lineno: int, rec: dict[str, Any], seed: Any) -> None:
        rel = "objects/attachments.jsonl"
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int):
                check.problem(rel, lineno, "content_seed", "must be an integer")
            elif rec.get("sha256") and content_sha256(seed, rec["size_bytes"], rec["content_type"]) != rec["sha256"]:
                check.problem(rel, lineno, "sha256", "does not match the generated content of content_seed")
            return
        try:
            path = self._file_path(rec)
        except ValueError as exc:
            check.problem(rel, lineno, "file_name", str(exc))
            return
        if not path.is_file():
            check.problem(f"attachments/{rec['id']}/{rec['file_name']}", None, None,
                          f"file for attachment {rec['id']} is missing (or give content_seed)")
            return
        size = path.stat().st_size
        if size != rec["size_bytes"]:
            check.problem(rel, lineno, "size_bytes", f"record says {rec['size_bytes']}, the file has {size} bytes")
        if rec.get("sha256"):
            digest = hashlib.sha256()
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
            if digest.hexdigest() != str(rec["sha256"]).lower():
                check.problem(rel, lineno, "sha256", f"record says {rec['sha256']}, the file hashes to "
                                                     f"{digest.hexdigest()}")

    def _file_path(self, rec: dict[str, Any]) -> Path:
        return self.dir / "attachments" / str(rec["id"]) / _safe_name(rec["file_name"])

    # -- TenantSource ----------------------------------------------------------------------

    def object_names(self) -> list[str]:
        return [*OBJECT_ORDER, *(t.object_name for t in self._tables)]

    def records(self, obj: str) -> Iterator[dict[str, Any]]:
        """Second pass: the validated records, absent standard fields filled with ``null``."""
        rel = _rel(obj)
        table = next((t for t in self._tables if t.object_name == obj), None)
        names = ["id", *(c.key for c in table.columns)] if table else OBJECTS[obj].field_names()
        reader = _Checker(self.dir)
        for _, rec in reader.lines(rel):
            if obj == "attachments" and "content_seed" in rec:
                self._seeds[rec["id"]] = rec.pop("content_seed")
            (check_custom_row(table, rec) if table else check_record(obj, rec, {}))  # canonical timestamps
            yield {**dict.fromkeys(names), **rec}

    def custom_fields(self) -> list[CustomFieldDef]:
        return list(self._fields)

    def custom_tables(self) -> list[CustomTableDef]:
        return list(self._tables)

    def devices(self) -> list[MobileDevice]:
        return list(self._devices)

    def file_content(self, attachment: dict[str, Any]) -> FileContent:
        seed = self._seeds.pop(attachment["id"], None)
        return FileContent(seed=seed) if seed is not None else FileContent(path=self._file_path(attachment))


def read_dump(directory: Path) -> DumpTenant:
    """Validate ``directory`` (raising :class:`DumpError` with every problem) and return it as a source."""
    return DumpTenant(directory)


__all__ = ["FORMAT_VERSION", "DumpError", "DumpProblem", "DumpTenant", "Manifest", "read_dump", "write_dump"]
