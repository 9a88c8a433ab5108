"""The Sercom tenant generator and the dump-directory format.

The mapping templates and the engine's data-quality checks are tested against generated
tenants, so the generator itself must be exact: the right volumes, references that resolve
except where a knob says they must not, and dirty data only when asked for.
"""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sandbox.sercom import generator
from sandbox.sercom.dump import DumpError, read_dump, write_dump, write_state_dump
from sandbox.sercom.generator import (
    AS_OF,
    DATE_FIELDS,
    MIN_RECORDS,
    ORPHANABLE,
    SPAN_SECONDS,
    DirtyKnobs,
    generate_tenant,
    plan_counts,
)
from sandbox.sercom.model import OBJECT_ORDER, OBJECTS, POLYMORPHIC_TARGETS, Tenant, parse_timestamp

RECORDS = 3000


@pytest.fixture(scope="module")
def tenant() -> Tenant:
    return generate_tenant(RECORDS, seed=5, dirty=DirtyKnobs())


@pytest.fixture(scope="module")
def clean() -> Tenant:
    return generate_tenant(RECORDS, seed=5, dirty=DirtyKnobs.clean())


def _ids(t: Tenant) -> dict[str, set[str]]:
    return {name: {r["id"] for r in t.records[name]} for name in OBJECT_ORDER}


def _dangling(t: Tenant) -> dict[tuple[str, str], int]:
    """(object, field) -> number of records whose reference points at no record."""
    ids = _ids(t)
    out: dict[tuple[str, str], int] = {}
    for name, spec in OBJECTS.items():
        for f in spec.fields:
            if f.type != "reference" or f.name == "id":
                continue
            missing = 0
            for rec in t.records[name]:
                value = rec[f.name]
                if value is None:
                    continue
                target = POLYMORPHIC_TARGETS[rec["parent_type"]] if f.polymorphic else f.references
                assert target is not None
                missing += value not in ids[target]
            out[(name, f.name)] = missing
    return out


# --------------------------------------------------------------------------- volumes


@pytest.mark.parametrize("records", [MIN_RECORDS, 1000, 12_345, 100_000])
def test_plan_distributes_exactly_n(records: int) -> None:
    counts = plan_counts(records)
    assert sum(counts.values()) == records
    assert counts["pipeline_stages"] == 7
    assert counts["technicians"] >= 5 and counts["territories"] >= 3 and counts["products"] >= 5
    assert counts["customers"] <= counts["locations"] <= 4 * counts["customers"]


def test_plan_shares_at_scale() -> None:
    counts = plan_counts(100_000)
    assert counts["customers"] == 5000 and counts["work_orders"] == 15_000 and counts["parts_used"] == 15_000
    assert counts["technicians"] == 500 and counts["territories"] == 100 and counts["attachments"] == 3000
    assert 0.23 <= counts["activities"] / 100_000 <= 0.26


def test_too_few_records_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        plan_counts(MIN_RECORDS - 1)


def test_generated_total_is_n(tenant: Tenant) -> None:
    assert tenant.total() == RECORDS
    assert tenant.counts() == plan_counts(RECORDS)


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_tenant(tenant: Tenant) -> None:
    again = generate_tenant(RECORDS, seed=5, dirty=DirtyKnobs())
    assert json.dumps(again.records, sort_keys=True) == json.dumps(tenant.records, sort_keys=True)
    assert again.attachment_content == tenant.attachment_content


def test_other_seed_other_tenant(tenant: Tenant) -> None:
    other = generate_tenant(RECORDS, seed=6, dirty=DirtyKnobs())
    assert other.records["customers"] != tenant.records["customers"]


# --------------------------------------------------------------------------- integrity


def test_references_resolve_except_orphan_rate(tenant: Tenant) -> None:
    knobs = DirtyKnobs()
    dangling = _dangling(tenant)
    orphanable = {(o, f) for o, f, _ in ORPHANABLE}
    for (name, fld), missing in dangling.items():
        if (name, fld) not in orphanable:
            assert missing == 0, f"{name}.{fld} has {missing} dangling references"
    for name, fld, _ in ORPHANABLE:
        non_null = sum(r[fld] is not None for r in tenant.records[name])
        assert dangling[(name, fld)] == max(1, round(knobs.orphan_rate * non_null)), (name, fld)


def test_clean_tenant_has_no_orphans(clean: Tenant) -> None:
    assert not any(_dangling(clean).values())
    ids = _ids(clean)
    for ter in clean.records["territories"]:
        assert set(ter["technician_ids"]) <= ids["technicians"]


def test_customer_hierarchy_depth_and_no_cycles(tenant: Tenant) -> None:
    parent = {c["id"]: c["parent_id"] for c in tenant.records["customers"]}
    assert 0.02 <= sum(p is not None for p in parent.values()) / len(parent) <= 0.15
    for cid in parent:
        depth, node, seen = 1, cid, {cid}
        while parent[node] is not None:
            node = parent[node]
            assert node not in seen, "cycle"
            seen.add(node)
            depth += 1
        assert depth <= 3


def test_locations_per_customer(clean: Tenant) -> None:
    per: dict[str, list[dict[str, Any]]] = {}
    for loc in clean.records["locations"]:
        per.setdefault(loc["customer_id"], []).append(loc)
    assert set(per) == _ids(clean)["customers"]
    for locs in per.values():
        assert 1 <= len(locs) <= 4
        assert sum(loc["is_primary"] for loc in locs) == 1


def test_work_order_children_belong_to_its_customer(clean: Tenant) -> None:
    by_id = {name: {r["id"]: r for r in clean.records[name]} for name in ("locations", "contacts", "assets")}
    for wo in clean.records["work_orders"]:
        assert by_id["locations"][wo["location_id"]]["customer_id"] == wo["customer_id"]
        if wo["contact_id"]:
            assert by_id["contacts"][wo["contact_id"]]["customer_id"] == wo["customer_id"]
        if wo["asset_id"]:
            assert by_id["assets"][wo["asset_id"]]["customer_id"] == wo["customer_id"]


# --------------------------------------------------------------------------- values


def test_timestamps_in_window(tenant: Tenant) -> None:
    end = parse_timestamp(AS_OF)
    for name in OBJECT_ORDER:
        for rec in tenant.records[name]:
            created, updated = parse_timestamp(rec["created_at"]), parse_timestamp(rec["updated_at"])
            assert created <= updated <= end, (name, rec["id"])
            assert (end - created).total_seconds() <= SPAN_SECONDS + 86400


def test_status_history_consistent(tenant: Tenant) -> None:
    for wo in tenant.records["work_orders"]:
        history = wo["status_history"]
        assert history[0]["status"] == "new" and history[-1]["status"] == wo["status"]
        times = [h["at"] for h in history]
        assert times == sorted(times) and times[0] == wo["created_at"] and times[-1] <= wo["updated_at"]
        assert (wo["completed_at"] is not None) == (wo["status"] == "completed")
        if wo["completed_at"]:
            assert wo["completed_at"] == times[-1] and wo["revenue"] is not None
        if wo["status"] == "new":
            assert wo["technician_id"] is None


def test_attachment_content_matches_metadata(tenant: Tenant) -> None:
    magic = {"application/pdf": b"%PDF", "image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG"}
    for att in tenant.records["attachments"]:
        content = tenant.attachment_content[att["id"]]
        assert 200 <= att["size_bytes"] == len(content) <= 20_000
        assert att["sha256"] == hashlib.sha256(content).hexdigest()
        assert content.startswith(magic.get(att["content_type"], b""))


def test_custom_fields_follow_definitions(tenant: Tenant) -> None:
    defs = {(d.object, d.key): d for d in tenant.custom_fields}
    for key in [("customers", "contract_tier"), ("customers", "customer_since"), ("customers", "credit_limit"),
                ("contacts", "preferred_channel"), ("assets", "firmware_version"),
                ("work_orders", "warranty_claim"), ("work_orders", "site_access_notes"),
                ("work_orders", "travel_distance_km")]:
        assert key in defs
    assert defs[("customers", "contract_tier")].picklist_values == ["Platinum", "Gold", "Silver", "Bronze"]
    for name in ("customers", "contacts", "assets", "work_orders"):
        for rec in tenant.records[name]:
            assert {(name, k) for k in rec["custom_fields"]} <= set(defs)
            for (obj, key), d in defs.items():
                if obj == name and d.required:
                    assert rec["custom_fields"].get(key) is not None
    assert 6 <= len(tenant.automation_rules) <= 10


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_clean_knobs_give_clean_data(clean: Tenant) -> None:
    for name in OBJECT_ORDER:
        for rec in clean.records[name]:
            assert all(s.isascii() for s in _strings(rec)), (name, rec["id"])
    assert all(c["customer_id"] for c in clean.records["contacts"])
    for name in ("contacts", "technicians"):
        emails = [r["email"] for r in clean.records[name]]
        assert all(emails) and all(e == e.lower() for e in emails) and len(set(emails)) == len(emails)
    for name, fields in DATE_FIELDS.items():
        for rec in clean.records[name]:
            for fld in fields:
                if rec[fld] is not None:
                    date.fromisoformat(rec[fld])
    assert max(len(c["name"]) for c in clean.records["customers"]) <= 255
    assert max(len(wo["subject"]) for wo in clean.records["work_orders"]) <= 255
    assert max(len(loc["city"]) for loc in clean.records["locations"]) <= 40


def test_default_knobs_make_each_problem_appear(tenant: Tenant) -> None:
    contacts, techs = tenant.records["contacts"], tenant.records["technicians"]
    assert any(c["customer_id"] is None for c in contacts)
    assert any(not c["email"] for c in contacts + techs)
    assert any(e and e != e.lower() for e in (c["email"] for c in contacts))
    for rows in (contacts, techs):
        emails = [r["email"].lower() for r in rows if r["email"]]
        assert len(set(emails)) < len(emails), "duplicate emails expected"
    assert any(len(c["name"]) > 300 for c in tenant.records["customers"])
    assert any(len(loc["city"]) > 50 for loc in tenant.records["locations"])
    assert any(not s.isascii() for n in tenant.records["notes"] for s in _strings(n))
    bad = 0
    for name, fields in DATE_FIELDS.items():
        for rec in tenant.records[name]:
            for fld in fields:
                try:
                    date.fromisoformat(rec[fld])
                except (TypeError, ValueError):
                    bad += 1
    assert bad > 0


def test_knobs_validated() -> None:
    with pytest.raises(ValueError):
        DirtyKnobs(orphan_rate=1.5)
    with pytest.raises(ValueError):
        DirtyKnobs(typo_rate=0.1)  # type: ignore[call-arg]


# --------------------------------------------------------------------------- dump format


def test_dump_round_trip(tenant: Tenant, tmp_path: Path) -> None:
    out = write_dump(tenant, tmp_path / "dump")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format_version"] == 1 and manifest["seed"] == 5 and manifest["counts"] == tenant.counts()
    att = tenant.records["attachments"][0]
    assert (out / "attachments" / att["id"] / att["file_name"]).read_bytes() == tenant.attachment_content[att["id"]]
    back = read_dump(out)
    assert back.name == tenant.name and back.counts() == tenant.counts()
    assert json.dumps(back.records, sort_keys=True) == json.dumps(tenant.records, sort_keys=True)
    assert back.attachment_content == tenant.attachment_content
    assert back.custom_fields == tenant.custom_fields and back.automation_rules == tenant.automation_rules
    write_dump(back, out)  # rewriting an existing dump is allowed


def test_a_state_dumps_to_the_same_files_as_its_tenant(tmp_path: Path) -> None:
    # GIVEN a tailored tenant generated into a state file, and the same tenant in memory
    store = generator.generate_state(tmp_path / "s.sqlite", 300, 8, DirtyKnobs(), tailored=True)
    # WHEN both are written as dumps (the state a record and a file chunk at a time)
    streamed = write_state_dump(store, tmp_path / "streamed")
    whole = write_dump(generate_tenant(300, seed=8, dirty=DirtyKnobs(), tailored=True), tmp_path / "whole")
    # THEN the two folders hold the same files, byte for byte
    files = sorted(p.relative_to(streamed) for p in streamed.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(whole) for p in whole.rglob("*") if p.is_file())
    assert all((streamed / f).read_bytes() == (whole / f).read_bytes() for f in files)
    assert any(f.parts[0] == "attachments" for f in files) and (streamed / "custom_objects.json").exists()


def test_write_dump_refuses_foreign_directory(tenant: Tenant, tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        write_dump(tenant, tmp_path)


@pytest.fixture()
def small_dump(tmp_path: Path) -> Path:
    return write_dump(generate_tenant(MIN_RECORDS, seed=1, dirty=DirtyKnobs.clean()), tmp_path / "d")


def _rewrite_line(path: Path, lineno: int, edit: Any) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[lineno - 1] = edit(lines[lineno - 1])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _set(field: str, value: Any) -> Any:
    def edit(line: str) -> str:
        rec = json.loads(line)
        rec[field] = value
        return json.dumps(rec)
    return edit


def test_bad_lines_named_by_file_line_field(small_dump: Path) -> None:
    _rewrite_line(small_dump / "objects/parts_used.jsonl", 3, _set("quantity", "two"))
    _rewrite_line(small_dump / "objects/contacts.jsonl", 2, _set("updated_at", "yesterday"))
    _rewrite_line(small_dump / "objects/customers.jsonl", 4, lambda line: line[:-5])
    _rewrite_line(small_dump / "objects/technicians.jsonl", 1, lambda line: json.dumps(
        {k: v for k, v in json.loads(line).items() if k != "id"}))
    with pytest.raises(DumpError) as info:
        read_dump(small_dump)
    where = {(p.file, p.line, p.field) for p in info.value.problems}
    assert ("objects/parts_used.jsonl", 3, "quantity") in where
    assert ("objects/contacts.jsonl", 2, "updated_at") in where
    assert ("objects/customers.jsonl", 4, None) in where
    assert ("objects/technicians.jsonl", 1, "id") in where
    text = str(info.value)
    assert "objects/parts_used.jsonl line 3, field 'quantity'" in text


def test_bad_manifest_and_attachment_detected(small_dump: Path) -> None:
    manifest = json.loads((small_dump / "manifest.json").read_text())
    manifest["counts"]["notes"] += 1
    (small_dump / "manifest.json").write_text(json.dumps(manifest))
    att = json.loads((small_dump / "objects/attachments.jsonl").read_text().splitlines()[0])
    (small_dump / "attachments" / att["id"] / att["file_name"]).write_bytes(b"tampered")
    (small_dump / "objects/widgets.jsonl").write_text("")
    with pytest.raises(DumpError) as info:
        read_dump(small_dump)
    where = {(p.file, p.field) for p in info.value.problems}
    assert ("manifest.json", "counts.notes") in where
    assert (f"attachments/{att['id']}/{att['file_name']}", "sha256") in where
    assert ("objects/widgets.jsonl", None) in where


def test_minimal_hand_written_dump(tmp_path: Path) -> None:
    """Bring-your-own data: optional fields and files may be left out; attachment hashes are computed."""
    (tmp_path / "objects").mkdir()
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"format_version": 1, "tenant": "acme", "generated_by": "hand", "counts": {"customers": 1, "attachments": 1}}))
    (tmp_path / "objects/customers.jsonl").write_text(json.dumps(
        {"id": "cus_1", "name": "Acme", "account_type": "commercial", "created_at": "2024-01-02T03:04:05+02:00",
         "updated_at": "2024-01-02T03:04:05.5Z"}) + "\n")
    (tmp_path / "objects/attachments.jsonl").write_text(json.dumps(
        {"id": "att_1", "parent_type": "customer", "parent_id": "cus_1", "file_name": "a.txt",
         "content_type": "text/plain", "created_at": "2024-01-02T00:00:00Z", "updated_at": "2024-01-02T00:00:00Z"}))
    (tmp_path / "attachments/att_1").mkdir(parents=True)
    (tmp_path / "attachments/att_1/a.txt").write_bytes(b"hello")
    t = read_dump(tmp_path)
    cus = t.records["customers"][0]
    assert cus["created_at"] == "2024-01-02T01:04:05Z" and cus["updated_at"] == "2024-01-02T03:04:05.500000Z"
    assert cus["billing_city"] is None
    att = t.records["attachments"][0]
    assert att["size_bytes"] == 5 and att["sha256"] == hashlib.sha256(b"hello").hexdigest()


# --------------------------------------------------------------------------- streaming


#: See test_a_tenant_is_the_same_bytes_as_it_always_was.
DIGEST_500_5 = "adcbe7431f7bff2f8ac7fc8b65e1a8f214108e06e05dbe7b23b0cfb947cdd57c"


def _digest(tenant: Tenant) -> str:
    digest = hashlib.sha256()
    for name in tenant.object_names():
        for rec in tenant.records[name]:
            digest.update(json.dumps(rec, ensure_ascii=False).encode() + b"\n")
    for att_id, content in tenant.attachment_content.items():
        digest.update(att_id.encode() + b"=" + content)
    return digest.hexdigest()


def test_a_tenant_is_the_same_bytes_as_it_always_was() -> None:
    # Migration results and committed expectations depend on the exact data: this digest was taken from the
    # generator before it streamed into SQLite (every knob on, tailored), and must not move unless on purpose.
    knobs = DirtyKnobs(**dict.fromkeys(DirtyKnobs.model_fields, 0.3))
    assert _digest(generate_tenant(500, seed=5, dirty=knobs, tailored=True)) == DIGEST_500_5


def test_generation_memory_does_not_grow_with_the_tenant(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # GIVEN small write chunks, so that a few thousand records are many chunks
    monkeypatch.setattr(generator, "CHUNK", 500)

    def peak(records: int) -> int:
        tracemalloc.start()
        try:
            generator.generate_state(tmp_path / f"{records}.sqlite", records, 5, DirtyKnobs()).close()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    # WHEN tenants of 3,000 and 9,000 records are generated into a state file
    # THEN the larger one needs about the same memory (it was 3x when tenants were built in memory)
    small, large = peak(3000), peak(9000)
    assert large < 1.5 * small, (small, large)
