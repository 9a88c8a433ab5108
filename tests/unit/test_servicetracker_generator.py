"""The ServiceTracker tenant generator, its dirty-data knobs and the dump format (in-process, no server).

The source connector and the pair will be tested against generated tenants, so the
generator must be exact: the planned volumes, references that resolve except where a knob
says they must not, the project <-> work order cycle in both directions, custom fields and
tables that match their definitions, and memory that does not grow with the tenant.
"""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from sandbox.servicetracker.dirt import MISSING_ID_BASE, ORPHANABLE, DirtyKnobs
from sandbox.servicetracker.dump import DumpError, read_dump, write_dump
from sandbox.servicetracker.files import LARGE_FILE_BYTES, content_chunks
from sandbox.servicetracker.generator import MIN_RECORDS, GeneratedTenant, plan_counts
from sandbox.servicetracker.model import ATTACHMENT_PARENTS, OBJECTS, check_custom_row, check_record
from sandbox.servicetracker.store import Store

RECORDS, SEED = 3000, 5


@pytest.fixture(scope="module")
def dirty() -> dict[str, list[dict[str, Any]]]:
    tenant = GeneratedTenant(RECORDS, SEED)
    return {obj: list(tenant.records(obj)) for obj in tenant.object_names()}


@pytest.fixture(scope="module")
def clean() -> dict[str, list[dict[str, Any]]]:
    tenant = GeneratedTenant(RECORDS, SEED, DirtyKnobs.clean())
    return {obj: list(tenant.records(obj)) for obj in tenant.object_names()}


def _dangling(records: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, str], int]:
    ids = {obj: {r["id"] for r in rows} for obj, rows in records.items()}
    out: dict[tuple[str, str], int] = {}
    for obj, spec in OBJECTS.items():
        for fs in spec.fields:
            if fs.type != "reference":
                continue
            missing = 0
            for rec in records[obj]:
                target = ATTACHMENT_PARENTS[rec["parent_type"]] if fs.name == "parent_id" else fs.references
                assert target is not None
                missing += rec[fs.name] is not None and rec[fs.name] not in ids[target]
            out[(obj, fs.name)] = missing
    return out


@pytest.mark.parametrize("records", [MIN_RECORDS, 1000, 12_345, 1_000_000])
def test_plan_distributes_exactly_n(records: int) -> None:
    counts = plan_counts(records)
    assert sum(counts.values()) == records and min(counts.values()) >= 1
    assert counts["locations"] > counts["clients"]  # some clients have several sites
    with pytest.raises(ValueError, match="at least"):
        plan_counts(MIN_RECORDS - 1)


def test_deterministic_and_seed_sensitive() -> None:
    a, b, c = GeneratedTenant(500, 1), GeneratedTenant(500, 1), GeneratedTenant(500, 2)
    assert list(a.records("work_orders")) == list(b.records("work_orders"))
    assert list(a.records("work_orders")) != list(c.records("work_orders"))
    assert a.record("invoices", 17) == list(a.records("invoices"))[17]  # any record alone, same as streamed


def test_clean_tenant_resolves_every_reference(clean: dict[str, list[dict[str, Any]]]) -> None:
    assert set(_dangling(clean).values()) == {0}
    for obj, rows in clean.items():
        if obj in OBJECTS:
            assert all(check_record(obj, dict(r), {}) == [] for r in rows), obj
    emails = [t["email"] for t in clean["technicians"]]
    assert all(emails) and len(set(emails)) == len(emails)


def test_orphans_and_emails_are_exact(dirty: dict[str, list[dict[str, Any]]]) -> None:
    dangling = _dangling(dirty)
    for obj, field in ORPHANABLE:
        k = max(1, round(DirtyKnobs().orphan_rate * len(dirty[obj])))
        assert 1 <= dangling[(obj, field)] <= k, (obj, field)
        assert all(r[field] >= MISSING_ID_BASE for r in dirty[obj] if r[field] is not None and
                   r[field] > len(dirty[OBJECTS[obj].field(field).references or obj]))  # type: ignore[union-attr]
    for obj in ("work_order_tasks", "parts_used", "notes"):  # always set, so exactly k
        assert dangling[(obj, "work_order_id")] == max(1, round(0.02 * len(dirty[obj])))
    others = set(dangling) - set(ORPHANABLE)
    assert {dangling[key] for key in others} == {0}
    techs = [t["email"] for t in dirty["technicians"]]
    assert any(e in (None, "") for e in techs)
    present = [e for e in techs if e]
    assert len(set(present)) < len(present)  # a shared address


def test_project_work_order_cycle(dirty: dict[str, list[dict[str, Any]]]) -> None:
    wos = {w["id"]: w for w in dirty["work_orders"]}
    listed = {wo: p["id"] for p in dirty["projects"] for wo in p["work_order_ids"]}
    assert listed and {w: wos[w]["project_id"] for w in listed} == listed
    assert {w["id"] for w in wos.values() if w["project_id"]} == set(listed)


def test_object_specific_shapes(dirty: dict[str, list[dict[str, Any]]]) -> None:
    assert {w["type"] for w in dirty["work_orders"]} == set(OBJECTS["work_orders"].field("type").picklist_values)  # type: ignore[union-attr]
    assert {p["billable"] for p in dirty["projects"]} == {True, False}
    per_client: dict[int, int] = {}
    for loc in dirty["locations"]:
        per_client[loc["client_id"]] = per_client.get(loc["client_id"], 0) + 1
    assert max(per_client.values()) >= 3 and min(per_client.values()) == 1
    assert all(sum(c["is_primary"] for c in dirty["client_contacts"] if c["client_id"] == cid) == 1
               for cid in list(per_client)[:50])
    tasks = dirty["work_order_tasks"]
    assert any(t["custom_fields"] for t in tasks) and any(not t["custom_fields"] for t in tasks)
    assert any(t["scheduled_start"] and t["scheduled_end"] > t["scheduled_start"] for t in tasks)
    wos = {w["id"]: w for w in dirty["work_orders"]}
    for asset in dirty["assets"]:
        for entry in asset["work_history"]:
            orphaned = MISSING_ID_BASE + entry["work_order_id"] - 1  # the orphan knob re-pointed that work order
            assert wos[entry["work_order_id"]]["asset_id"] in (asset["id"], orphaned)
    paid = [i for i in dirty["invoices"] if i["status"] == "paid"]
    assert paid and all(i["balance"] == 0 and round(sum(p["amount"] for p in i["payment_lines"]), 2) == i["total"]
                        for i in paid)
    assert any(i["work_order_id"] for i in dirty["invoices"]) and any(i["contract_id"] for i in dirty["invoices"])
    assert all(c["line_items"] for c in dirty["contracts"])
    assert {a["parent_type"] for a in dirty["attachments"]} == {"work_order", "contract"}


def test_custom_fields_and_tables_match_definitions(dirty: dict[str, list[dict[str, Any]]]) -> None:
    tenant = GeneratedTenant(RECORDS, SEED)
    defs = {(d.object, d.key): d for d in tenant.custom_fields()}
    for obj in {o for o, _ in defs}:
        for rec in dirty[obj]:
            for key, value in rec["custom_fields"].items():
                d = defs[(obj, key)]
                if d.type == "dropdown":
                    assert value in d.options
                if d.type == "multi_select":
                    assert set(value) <= set(d.options)
    for table in tenant.custom_tables():
        rows = dirty[table.object_name]
        assert rows and all(check_custom_row(table, dict(r)) == [] for r in rows)


def test_files_declare_large_sizes_and_stream_their_bytes() -> None:
    tenant = GeneratedTenant(1000, 3, large_file_rate=0.05)
    files = list(tenant.records("attachments"))
    large = [f for f in files if f["size_bytes"] > LARGE_FILE_BYTES]
    assert len(large) == round(0.05 * len(files))
    small = files[0]
    data = b"".join(content_chunks(tenant.file_content(small).seed or 0, small["size_bytes"], small["content_type"]))
    assert len(data) == small["size_bytes"] and hashlib.sha256(data).hexdigest() == small["sha256"]


def test_devices_knob() -> None:
    devices = GeneratedTenant(1000, 3, unsynced_devices=4).devices()
    unsynced = [d for d in devices if d.unsynced_changes]
    assert len(unsynced) == 4 and all(d.oldest_unsynced_change_at for d in unsynced)
    assert not [d for d in GeneratedTenant(1000, 3, unsynced_devices=0).devices() if d.unsynced_changes]


def test_generation_memory_does_not_grow_with_size() -> None:
    def peak(records: int) -> int:
        tenant = GeneratedTenant(records, 9, large_file_rate=0.0)
        tracemalloc.start()
        for obj in tenant.object_names():
            for _ in tenant.records(obj):
                pass
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    small, large = peak(2000), peak(16_000)
    assert large < small * 1.6 + 2_000_000, (small, large)


# --------------------------------------------------------------------------- dump format


def test_dump_round_trip_through_the_store(tmp_path: Path) -> None:
    tenant = GeneratedTenant(400, 12)
    counts = write_dump(tenant, tmp_path / "dump")
    assert counts == tenant.counts
    assert json.loads((tmp_path / "dump/manifest.json").read_text())["counts"] == counts
    dump = read_dump(tmp_path / "dump")
    assert dump.record_counts == counts and dump.name == tenant.name
    for obj in tenant.object_names():
        assert list(dump.records(obj)) == list(tenant.records(obj)), obj
    store = Store.create(tmp_path / "state.sqlite", read_dump(tmp_path / "dump"), api_token="t")
    assert store.counts() == counts
    assert json.loads(store.get("projects", 1) or "{}") == tenant.record("projects", 0)
    assert {d["device_id"]: d for d in store.devices()} == {d.device_id: d.model_dump() for d in tenant.devices()}
    stored = store.file(1)
    assert stored is not None and stored.content_seed == tenant.file_content({"id": 1}).seed


def _minimal_dump(root: Path) -> Path:
    (root / "objects").mkdir(parents=True)
    (root / "manifest.json").write_text(json.dumps({
        "format_version": 1, "tenant": "acme", "generated_by": "hand", "counts": {"clients": 1}}))
    (root / "objects/clients.jsonl").write_text(json.dumps({
        "id": 1, "name": "Acme", "client_number": "C-1", "status": "active", "custom_fields": {"undeclared": 3},
        "created_at": "2024-01-02T03:04:05+02:00", "modified_at": "2024-01-02T03:04:05Z"}) + "\n")
    return root


def test_minimal_dump_allows_undeclared_custom_fields(tmp_path: Path) -> None:
    dump = read_dump(_minimal_dump(tmp_path / "d"))
    [client] = list(dump.records("clients"))
    assert client["custom_fields"] == {"undeclared": 3} and client["created_at"] == "2024-01-02T01:04:05Z"
    assert client["phone"] is None  # absent optional fields are served as null


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: (d / "objects/widgets.jsonl").write_text(""), "objects/widgets.jsonl: unknown object 'widgets'"),
    (lambda d: _append(d, "clients", {"colour": "red"}), "field 'colour': unknown field of clients"),
    (lambda d: _append(d, "clients", {"id": 1}), "field 'id': id 1 is not above the previous id 1"),
    (lambda d: _append(d, "clients", {"status": None}), "field 'status': field required"),
    (lambda d: _append(d, "clients", {"modified_at": "yesterday"}), "field 'modified_at'"),
    (lambda d: (d / "custom_tables").mkdir() or (d / "custom_tables/forms.jsonl").write_text(""),
     "unknown custom table (not in custom_tables.json) 'forms'"),
    (lambda d: (d / "custom_fields.json").write_text(json.dumps([
        {"object": "invoices", "key": "x", "label": "X", "type": "text"}])), "unknown object 'invoices' for custom"),
    (lambda d: (d / "manifest.json").write_text(json.dumps({
        "format_version": 1, "tenant": "acme", "generated_by": "hand", "counts": {"clients": 2}})),
     "manifest says 2, objects/clients.jsonl has 1 records"),
])
def test_dump_problems_are_named(tmp_path: Path, mutate: Any, expected: str) -> None:
    root = _minimal_dump(tmp_path / "d")
    mutate(root)
    with pytest.raises(DumpError) as caught:
        read_dump(root)
    assert expected in str(caught.value)


def test_custom_table_rows_are_checked_against_their_columns(tmp_path: Path) -> None:
    root = _minimal_dump(tmp_path / "d")
    (root / "custom_tables.json").write_text(json.dumps([{"key": "forms", "label": "Forms", "columns": [
        {"key": "score", "label": "Score", "type": "number", "required": True}]}]))
    (root / "custom_tables").mkdir()
    rows: list[dict[str, Any]] = [
        {"id": 1, "score": 3.5}, {"id": 2, "score": "high"}, {"id": 3, "score": 1, "extra": True}]
    stamp = {"created_at": "2024-01-01T00:00:00Z", "modified_at": "2024-01-01T00:00:00Z"}
    (root / "custom_tables/forms.jsonl").write_text("".join(json.dumps({**r, **stamp}) + "\n" for r in rows))
    with pytest.raises(DumpError) as caught:
        read_dump(root)
    text = str(caught.value)
    assert "custom_tables/forms.jsonl line 2, field 'score': expected int/float, got str" in text
    assert "line 3, field 'extra': unknown column of custom table 'forms'" in text


def test_attachment_files_are_checked(tmp_path: Path) -> None:
    root = _minimal_dump(tmp_path / "d")
    stamp = {"created_at": "2024-01-01T00:00:00Z", "modified_at": "2024-01-01T00:00:00Z"}
    att = {"id": 1, "parent_type": "work_order", "parent_id": 1, "file_name": "a.txt", "content_type": "text/plain",
           "size_bytes": 5, "sha256": "00", **stamp}
    (root / "objects/attachments.jsonl").write_text(json.dumps(att) + "\n")
    with pytest.raises(DumpError, match="file for attachment 1 is missing"):
        read_dump(root)
    (root / "attachments/1").mkdir(parents=True)
    (root / "attachments/1/a.txt").write_bytes(b"hello")
    with pytest.raises(DumpError, match="field 'sha256': record says 00"):
        read_dump(root)
    att["sha256"] = hashlib.sha256(b"hello").hexdigest()
    (root / "objects/attachments.jsonl").write_text(json.dumps(att) + "\n")
    store = Store.create(tmp_path / "s.sqlite", read_dump(root))
    assert b"".join(store.blob_chunks(1)) == b"hello"


def _append(root: Path, obj: str, changes: dict[str, Any]) -> None:
    path = root / f"objects/{obj}.jsonl"
    first = json.loads(path.read_text().splitlines()[0])
    path.write_text(path.read_text() + json.dumps({**first, "id": 2, **changes}) + "\n")
