"""Contract: what every destination connector guarantees to the engine.

The suite speaks only the :class:`shared.connectors.destination.Destination` protocol; the kit names
the platform's objects and fields and the write sizes that take each write path.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.connectors.destination import ID, Destination
from shared.mapping.spec import CustomFieldSpec
from tests.contract.conftest import DestinationKit


@pytest.fixture(scope="module")
def ready(destination: Any) -> Any:
    kit, conn = destination
    conn.create_custom_field(CustomFieldSpec(object=kit.writable_object, name=kit.ext_field, label="Contract Key",
                                             type="Text", length=80, external_id=True, unique=True))
    return kit, conn


def test_implements_the_protocol(destination: Any) -> None:
    _, conn = destination
    assert isinstance(conn, Destination)


def test_declares_its_limits_as_data(destination: Any) -> None:
    _, conn = destination
    caps = conn.capabilities
    assert caps.write_batch_max > 0 and caps.bulk_batch_max >= caps.write_batch_max
    assert conn.capabilities.max_parallel_loads >= 1 and conn.capabilities.read_page > 0


def test_describes_objects_and_users(destination: Any) -> None:
    kit, conn = destination
    described = conn.describe(kit.writable_object)
    assert described is not None and kit.text_field in described.fields
    obj, required = kit.required_on_create
    assert all(conn.describe(obj).fields[f].required_on_create for f in required)
    assert conn.describe(kit.missing_object) is None
    assert any(u.id == conn.integration_user_id for u in conn.users())


def test_created_custom_field_is_described_and_usable(ready: Any) -> None:
    kit, conn = ready
    field = conn.describe(kit.writable_object).fields[kit.ext_field]
    assert field.external_id


def test_upsert_creates_then_updates_the_same_records(ready: Any) -> None:
    kit, conn = ready
    for label, n, bulk in kit.write_sizes:  # each write path of the connector (Salesforce: Collections, Bulk)
        ext = kit.ext_field
        records = [{**kit.required, ext: f"{label}:{i}", kit.text_field: "v1"} for i in range(n - 1)]
        refused = {**kit.refused, ext: f"refused-{label}:0"}  # among them: its failure comes back under its key
        before = conn.calls
        answered = {r.key: r for r in conn.upsert(kit.writable_object, ext, [*records, refused], allow_bulk=bulk)}
        assert conn.calls > before and conn.calls_needed(kit.writable_object, n, bulk) >= 1
        failed = answered.pop(refused[ext])
        assert not failed.ok and failed.error_code and failed.error_message, label
        first = [answered[r[ext]] for r in records]
        assert len(answered) == n - 1 and all(r.ok and r.created for r in first), label
        again = conn.upsert(kit.writable_object, ext, [{**r, kit.text_field: "v2"} for r in records],
                            allow_bulk=bulk)
        assert all(r.ok and not r.created for r in again), label
        assert {r.key: r.id for r in first} == {r.key: r.id for r in again}
        back = conn.retrieve(kit.writable_object, [first[0].id], [kit.text_field])
        assert back[0][kit.text_field] == "v2"
        found = conn.find_by_key(kit.writable_object, ext, [records[0][ext], "nope:0"])
        assert found == {records[0][ext]: first[0].id}
        assert conn.find_by_key_prefix(kit.writable_object, ext, f"{label}:") == {r.key: r.id for r in first}


def test_record_failures_are_results_not_exceptions(ready: Any) -> None:
    kit, conn = ready
    ext = kit.ext_field
    good = {**kit.required, ext: "f:ok"}
    bad = {**kit.refused, ext: "f:bad"}
    results = {r.key: r for r in conn.upsert(kit.writable_object, ext, [good, bad], allow_bulk=False)}
    assert results["f:ok"].ok
    assert not results["f:bad"].ok and results["f:bad"].error_code and results["f:bad"].error_message


def test_insert_update_retrieve_delete(ready: Any) -> None:
    kit, conn = ready
    ext = kit.ext_field
    [made] = conn.insert(kit.writable_object, ext, [{**kit.required, ext: "d:1"}])
    assert made.ok and made.created
    [changed] = conn.update(kit.writable_object, [{ID: made.id, kit.text_field: "changed"}])
    assert changed.ok and changed.key == made.id
    row = conn.retrieve(kit.writable_object, [made.id], [ID, kit.text_field])[0]
    assert row[kit.text_field] == "changed" and row[ID] == made.id
    assert conn.existing_ids(kit.writable_object, [made.id]) == {made.id}
    [gone] = conn.delete_records(kit.writable_object, [made.id])
    assert gone.ok
    assert conn.retrieve(kit.writable_object, [made.id], [kit.text_field]) == [None]
    assert conn.existing_ids(kit.writable_object, [made.id]) == set()
    [again] = conn.delete_records(kit.writable_object, [made.id])  # already gone: a retried delete converges
    assert again.ok


def test_profile_reads_and_modified_stamps(ready: Any) -> None:
    kit, conn = ready
    ext = kit.ext_field
    written = conn.upsert(kit.writable_object, ext, [{**kit.required, ext: f"p:{i}", kit.text_field: f"t{i}"}
                                                      for i in range(3)], allow_bulk=False)
    rows = list(conn.rows_with_key_prefix(kit.writable_object, [kit.text_field], ext, "p:"))
    assert sorted((r[ext], r[kit.text_field]) for r in rows) == [(f"p:{i}", f"t{i}") for i in range(3)]
    assert {r[ID] for r in rows} == {w.id for w in written}
    by_id = conn.rows_by_id(kit.writable_object, [w.id for w in written][:2], [kit.text_field])
    assert sorted(r[kit.text_field] for r in by_id) == ["t0", "t1"]
    stamps = conn.modified_stamps(kit.writable_object, [w.id for w in written])
    assert set(stamps) == {w.id for w in written} and all(stamps.values())


@pytest.mark.parametrize("n", [20, 1_100], ids=["small", "large"])
def test_insert_matched_on_natural_key_without_sending_the_key(ready: Any, n: int) -> None:
    # GIVEN records identified by a natural key (for objects that cannot carry the external id)
    kit: DestinationKit
    kit, conn = ready
    ext = kit.ext_field
    name_field = next(iter(kit.required))
    records = [{**kit.required, name_field: f"natural {n}-{i}", ext: f"n{n}:{i}"} for i in range(n)]
    # WHEN they are inserted with the key left out of the body
    results = conn.insert(kit.writable_object, ext, records, match_on=[name_field])
    # THEN every result comes back under its own key, and the key field was not written
    assert sorted(r.key for r in results) == sorted(r[ext] for r in records)
    assert all(r.ok and r.created and r.id for r in results)
    back = conn.retrieve(kit.writable_object, [results[0].id], [ext, name_field])[0]
    assert back[ext] is None
    # AND they are found again by that natural key
    found = conn.find_natural(kit.writable_object, [name_field], records[:3])
    assert found == {(r[name_field],): res.id for r, res in zip(records[:3], results[:3], strict=True)}


def test_natural_key_text_with_spaces_quotes_and_url_characters(ready: Any) -> None:
    # GIVEN records whose natural key is free text (product names: spaces, quotes, URL-reserved characters)
    kit: DestinationKit
    kit, conn = ready
    ext = kit.ext_field
    name_field = next(iter(kit.required))
    names = ["Air Filter 20x25", "O'Brien & Sons #1", "50% off + more: a/b?c", "back\\slash <x> *"]
    records = [{**kit.required, name_field: name, ext: f"nt:{i}"} for i, name in enumerate(names)]
    results = conn.insert(kit.writable_object, ext, records, match_on=[name_field])
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    # WHEN they are looked up by that key THEN each is found, under its exact text
    found = conn.find_natural(kit.writable_object, [name_field], records)
    assert found == {(r[name_field],): res.id for r, res in zip(records, results, strict=True)}
