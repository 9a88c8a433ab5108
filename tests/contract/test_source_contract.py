"""Contract: what every source connector guarantees to the engine."""

from __future__ import annotations

import json
from typing import Any

from tests.contract.conftest import sha256


def test_catalog_lists_objects_fields_custom_fields_and_counts(source: Any) -> None:
    _, conn, _ = source
    catalog = conn.catalog()
    assert catalog.objects
    for obj in catalog.objects:
        assert obj.fields and obj.count >= 0
        assert any(f.name == "id" for f in obj.fields), obj.name
    assert any(f.custom for o in catalog.objects for f in o.fields), "tenant-defined fields are discovered"
    picklists = [f for o in catalog.objects for f in o.fields if f.custom and f.type == "picklist"]
    assert picklists and all(f.picklist_values for f in picklists)


def test_pages_yield_every_record_exactly_once_and_match_the_count(source: Any) -> None:
    _, conn, _ = source
    for obj in conn.catalog().objects:
        ids = [r["id"] for page in conn.pages(obj.name, page_size=37) for r in page]
        assert len(ids) == len(set(ids)) == conn.count(obj.name) == obj.count, obj.name


def test_a_read_resumes_from_any_page_token_in_another_client(source: Any) -> None:
    # GIVEN a read of the largest object, page by page, with the token resuming after each page
    kit, conn, standin = source
    obj = max(conn.catalog().objects, key=lambda o: o.count).name
    pages = list(conn.pages_from(obj, None, page_size=10))
    tokens = [token for _, token in pages]
    assert len(pages) >= 3 and tokens[-1] is None and all(tokens[:-1]), obj
    ids = [r["id"] for rows, _ in pages for r in rows]
    assert ids == [r["id"] for page in conn.pages(obj, page_size=10) for r in page]
    done = 0
    for rows, token in pages[:3]:
        done += len(rows)
        # WHEN another client (another invocation) resumes from a token
        fresh = kit.connect(standin)
        try:
            rest = [r["id"] for more, _ in fresh.pages_from(obj, token, page_size=10) for r in more]
        finally:
            fresh.close()
        # THEN it reads exactly the records after that page: none again, none lost
        assert rest == ids[done:], (obj, done)


def test_updated_since_returns_exactly_the_later_records(source: Any) -> None:
    kit, conn, _ = source
    records = [r for page in conn.pages(kit.delta_object) for r in page]
    stamps = sorted(r["updated_at"] for r in records)
    since = stamps[len(stamps) // 2]
    later = [r for page in conn.pages(kit.delta_object, updated_since=since) for r in page]
    assert {r["id"] for r in later} == {r["id"] for r in records if r["updated_at"] >= since}
    assert conn.count(kit.delta_object, updated_since=since) == len(later)


def test_attachment_content_streams_intact(source: Any) -> None:
    kit, conn, _ = source
    for att in conn.read_all(kit.attachment_object)[:5]:
        content = conn.attachment(att["id"])
        assert len(content) == att[kit.attachment_size_field]
        assert sha256(content) == att[kit.attachment_hash_field]


def test_throttling_is_absorbed_by_the_retry_policy(source: Any) -> None:
    kit, conn, standin = source
    smallest = min((o for o in conn.catalog().objects if o.count >= 10), key=lambda o: o.count).name
    kit.throttle(standin, 3)
    try:
        pages = [len(p) for p in conn.pages(smallest, page_size=5)]
    finally:
        kit.throttle(standin, 0)
    assert sum(pages) == conn.count(smallest)


def test_users_are_the_people_records_are_assigned_to(source: Any) -> None:
    _, conn, _ = source
    people = conn.users()
    assert people and all(p.get("id") for p in people)
    assert any(p.get("email") for p in people)


def test_facts_are_json_ready_and_hold_no_records(source: Any) -> None:
    _, conn, _ = source
    catalog = conn.catalog()
    facts = conn.facts(catalog)
    json.dumps(facts)
    assert len(json.dumps(facts)) < 200_000


def test_text_with_unicode_line_separators_reads_back_exactly(source: Any) -> None:
    # GIVEN a record whose text holds every separator str.splitlines cuts at but JSON leaves raw (a note pasted
    # from a word processor carries U+2028), changed in the source (so a delta read sees it too)
    kit, conn, standin = source
    assert kit.edit is not None
    target = next(iter(conn.pages(kit.delta_object, page_size=5)))[0]
    assert "description" in target, sorted(target)
    text = "line\u2028separator\u2029paragraph\x85next line\x1cfile\x1dgroup\x1erecord end"
    kit.edit(standin, kit.delta_object, str(target["id"]), {"description": text})
    # WHEN the object is read (every page, as extraction reads it)
    read = {str(r["id"]): r for page in conn.pages(kit.delta_object, page_size=50) for r in page}
    # THEN the record arrives whole, with its text as written, and no record is lost or split
    assert read[str(target["id"])]["description"] == text
    assert len(read) == conn.count(kit.delta_object)
