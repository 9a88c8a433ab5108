"""The tenant dump directory: how anyone brings their own Sercom data to the stand-in.

A dump is plain files a person can produce from a real export with a few lines of script
and read with ``jq`` (format described in ``docs/tenant-dump-format.md``)::

    manifest.json                      {format_version, tenant, generated_by, seed?, counts}
    objects/<object>.jsonl             one record per line
    custom_fields.json                 custom-field definitions
    custom_objects.json                custom-object definitions (their records: objects/<name>.jsonl)
    automation_rules.json              automation rules
    attachments/<attachment id>/<file_name>   the file bytes

``read_dump`` validates everything with pydantic and reports each problem with the file,
line and field it is in, because a bad line 80,000 lines into a JSONL export is otherwise
hopeless to find.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from sandbox.sercom.model import (
    OBJECT_ORDER,
    OBJECTS,
    AutomationRule,
    CustomFieldDef,
    CustomObjectDef,
    Tenant,
    custom_record_model,
    record_model,
)
from sandbox.sercom.store import Store

FORMAT_VERSION: Literal[1] = 1
MAX_PROBLEMS = 50


class Manifest(BaseModel):
    """``manifest.json``: identifies the tenant and states how many records each object has."""

    model_config = ConfigDict(extra="allow")

    format_version: Literal[1]
    tenant: str = Field(min_length=1)
    generated_by: str
    seed: int | None = None
    counts: dict[str, int]


@dataclass(frozen=True)
class DumpProblem:
    """One defect in a dump, located precisely enough to fix it by hand."""

    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file} line {self.line}"
        return f"{where}, field '{self.field}': {self.message}" if self.field else f"{where}: {self.message}"


class DumpError(ValueError):
    """A dump directory that cannot be loaded; ``problems`` lists every defect found (up to 50)."""

    def __init__(self, problems: list[DumpProblem]) -> None:
        self.problems = problems
        more = "" if len(problems) < MAX_PROBLEMS else f"\n(stopped after {MAX_PROBLEMS} problems)"
        super().__init__("invalid tenant dump:\n" + "\n".join(f"  {p}" for p in problems) + more)


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# --------------------------------------------------------------------------- writing


def write_dump(tenant: Tenant, directory: Path) -> Path:
    """Write ``tenant`` as a dump directory (replacing a previous dump there, nothing else)."""
    return _write_dump(
        Path(directory),
        Manifest(format_version=FORMAT_VERSION, tenant=tenant.name, generated_by=tenant.generated_by,
                 seed=tenant.seed, counts=tenant.counts()),
        ((name, (json.dumps(rec, ensure_ascii=False) for rec in tenant.records.get(name, [])))
         for name in tenant.object_names()),
        ((rec, [content]) for rec in tenant.records.get("attachments", [])
         if (content := tenant.attachment_content.get(rec["id"])) is not None),
        tenant.custom_fields, tenant.automation_rules, tenant.custom_objects,
    )


def write_state_dump(store: Store, directory: Path) -> Path:
    """Write a stand-in's state as a dump directory, a record and a file chunk at a time (records in id order)."""
    meta = store.meta()

    def files() -> Iterator[tuple[dict[str, Any], Iterable[bytes]]]:
        for body in store.record_texts("attachments"):
            rec = json.loads(body)
            att = store.attachment(rec["id"])
            if att is not None:
                yield rec, store.read(att)

    return _write_dump(
        Path(directory),
        Manifest(format_version=FORMAT_VERSION, tenant=meta["tenant"], generated_by=meta.get("generated_by", "unknown"),
                 seed=int(meta["seed"]) if meta.get("seed") else None, counts=store.counts()),
        ((name, store.record_texts(name)) for name in store.counts()),
        files(),
        [CustomFieldDef.model_validate(d) for d in store.custom_fields()],
        [AutomationRule.model_validate(r) for r in store.automation_rules()],
        [CustomObjectDef.model_validate(c) for c in store.custom_objects()],
    )


def _write_dump(
    directory: Path,
    manifest: Manifest,
    objects: Iterable[tuple[str, Iterable[str]]],
    files: Iterable[tuple[dict[str, Any], Iterable[bytes]]],
    custom_fields: list[CustomFieldDef],
    automation_rules: list[AutomationRule],
    custom_objects: list[CustomObjectDef],
) -> Path:
    """``objects``: each object's records as JSON texts; ``files``: each attachment record with its bytes."""
    if directory.exists() and any(directory.iterdir()) and not (directory / "manifest.json").exists():
        raise FileExistsError(f"{directory} is not empty and is not a tenant dump; refusing to overwrite")
    for sub in ("objects", "attachments"):
        shutil.rmtree(directory / sub, ignore_errors=True)
    (directory / "objects").mkdir(parents=True)
    (directory / "attachments").mkdir()
    for name, texts in objects:
        with (directory / "objects" / f"{name}.jsonl").open("w", encoding="utf-8") as fh:
            fh.writelines(text + "\n" for text in texts)
    for rec, chunks in files:
        folder = directory / "attachments" / rec["id"]
        folder.mkdir()
        with (folder / _safe_file_name(rec["file_name"])).open("wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
    _write_json(directory / "custom_fields.json", [d.model_dump() for d in custom_fields])
    _write_json(directory / "automation_rules.json", [r.model_dump() for r in automation_rules])
    if custom_objects:
        _write_json(directory / "custom_objects.json", [c.model_dump() for c in custom_objects])
    _write_json(directory / "manifest.json", manifest.model_dump())
    return directory


def _write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _safe_file_name(name: str) -> str:
    """Refuse names that would escape ``attachments/<id>/`` (the name is data, not a path)."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise ValueError(f"unsafe attachment file_name {name!r}")
    return name


# --------------------------------------------------------------------------- reading


class _Reader:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.problems: list[DumpProblem] = []

    def problem(self, file: str, line: int | None, field: str | None, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(DumpProblem(file, line, field, message))

    def full(self) -> bool:
        return len(self.problems) >= MAX_PROBLEMS

    def json_file(self, rel: str, *, required: bool) -> Any:
        path = self.dir / rel
        if not path.exists():
            if required:
                self.problem(rel, None, None, "file is missing")
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self.problem(rel, getattr(exc, "lineno", None), None, f"not valid JSON: {exc}")
            return None

    def validated(self, rel: str, adapter: TypeAdapter[Any], payload: Any) -> Any:
        try:
            return adapter.validate_python(payload)
        except ValidationError as exc:
            for err in exc.errors():
                self.problem(rel, None, _loc(err["loc"]) or None, err["msg"])
            return None

    def records(self, name: str, custom: CustomObjectDef | None = None) -> list[dict[str, Any]]:
        rel = f"objects/{name}.jsonl"
        path = self.dir / rel
        if not path.exists():
            return []
        model = record_model(name) if custom is None else custom_record_model(custom)
        spec_fields = OBJECTS[name].field_names() if custom is None else [f.key for f in custom.fields]
        seen: set[str] = set()
        rows: list[dict[str, Any]] = []
        with path.open(encoding="utf-8") as fh:
            for lineno, raw in enumerate(fh, 1):
                if self.full():
                    break
                if not raw.strip():
                    continue
                try:
                    rec = json.loads(raw.rstrip("\r\n"))
                except json.JSONDecodeError as exc:
                    self.problem(rel, lineno, None, f"not valid JSON: {exc.msg} (column {exc.colno})")
                    continue
                if not isinstance(rec, dict):
                    self.problem(rel, lineno, None, f"expected a JSON object, got {type(rec).__name__}")
                    continue
                try:
                    valid = model.model_validate(rec)
                except ValidationError as exc:
                    for err in exc.errors():
                        self.problem(rel, lineno, _loc(err["loc"]) or None, err["msg"])
                    continue
                if rec["id"] in seen:
                    self.problem(rel, lineno, "id", f"duplicate id {rec['id']!r}")
                    continue
                seen.add(rec["id"])
                rec["created_at"] = valid.created_at  # type: ignore[attr-defined]
                rec["updated_at"] = valid.updated_at  # type: ignore[attr-defined]
                for fname in spec_fields:  # absent optional fields are served as null
                    rec.setdefault(fname, None)
                rows.append(rec)
        return rows

    def attachment_bytes(self, rows: list[dict[str, Any]]) -> dict[str, bytes]:
        content: dict[str, bytes] = {}
        for rec in rows:
            try:
                rel = f"attachments/{rec['id']}/{_safe_file_name(rec['file_name'])}"
            except ValueError as exc:
                self.problem("objects/attachments.jsonl", None, f"{rec['id']}.file_name", str(exc))
                continue
            path = self.dir / rel
            if not path.is_file():
                self.problem(rel, None, None, f"file for attachment {rec['id']} is missing")
                continue
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if rec.get("size_bytes") is None:
                rec["size_bytes"] = len(data)
            elif rec["size_bytes"] != len(data):
                self.problem(rel, None, "size_bytes", f"record says {rec['size_bytes']}, file has {len(data)} bytes")
            if rec.get("sha256") is None:
                rec["sha256"] = digest
            elif str(rec["sha256"]).lower() != digest:
                self.problem(rel, None, "sha256", f"record says {rec['sha256']}, file hashes to {digest}")
            content[rec["id"]] = data
        return content


def read_dump(directory: Path) -> Tenant:
    """Load and validate a dump directory; raise :class:`DumpError` listing every problem found."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DumpError([DumpProblem(str(directory), None, None, "not a directory")])
    reader = _Reader(directory)
    raw_manifest = reader.json_file("manifest.json", required=True)
    manifest: Manifest | None = None
    if raw_manifest is not None:
        manifest = reader.validated("manifest.json", TypeAdapter(Manifest), raw_manifest)
    customs_raw = reader.json_file("custom_objects.json", required=False)
    customs: list[CustomObjectDef] = []
    if customs_raw is not None:
        customs = reader.validated("custom_objects.json", TypeAdapter(list[CustomObjectDef]), customs_raw) or []
    names = [*OBJECT_ORDER, *(c.name for c in customs)]
    objects_dir = directory / "objects"
    if objects_dir.is_dir():
        for path in sorted(objects_dir.iterdir()):
            if path.suffix != ".jsonl" or path.stem not in names:
                reader.problem(f"objects/{path.name}", None, None,
                               f"unknown object file (expected one of: {', '.join(names)}; a custom object "
                               "is declared in custom_objects.json first)")
    records = {name: reader.records(name) for name in OBJECT_ORDER}
    records.update({c.name: reader.records(c.name, c) for c in customs})
    defs_raw = reader.json_file("custom_fields.json", required=False)
    defs: list[CustomFieldDef] = []
    if defs_raw is not None:
        defs = reader.validated("custom_fields.json", TypeAdapter(list[CustomFieldDef]), defs_raw) or []
        for i, d in enumerate(defs):
            if d.object not in OBJECTS or not OBJECTS[d.object].has_custom_fields:
                carriers = [s.name for s in OBJECTS.values() if s.has_custom_fields]
                reader.problem("custom_fields.json", None, f"[{i}].object",
                               f"{d.object!r} has no custom fields (one of: {', '.join(carriers)})")
    rules_raw = reader.json_file("automation_rules.json", required=False)
    rules: list[AutomationRule] = []
    if rules_raw is not None:
        rules = reader.validated("automation_rules.json", TypeAdapter(list[AutomationRule]), rules_raw) or []
    content = reader.attachment_bytes(records["attachments"])
    if manifest is not None:
        for name, expected in manifest.counts.items():
            if name not in records:
                reader.problem("manifest.json", None, f"counts.{name}", "unknown object")
            elif expected != len(records[name]):
                reader.problem("manifest.json", None, f"counts.{name}",
                               f"manifest says {expected}, objects/{name}.jsonl has {len(records[name])} records")
    if reader.problems:
        raise DumpError(reader.problems)
    assert manifest is not None
    return Tenant(
        name=manifest.tenant,
        records=records,
        custom_fields=defs,
        custom_objects=customs,
        automation_rules=rules,
        attachment_content=content,
        seed=manifest.seed,
        generated_by=manifest.generated_by,
    )
