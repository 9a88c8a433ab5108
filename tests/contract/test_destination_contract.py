"""Contract: what every destination connector guarantees to the engine."""

from __future__ import annotations

from typing import Any

import pytest

from shared.mapping.spec import CustomFieldSpec

EXT = "Contract_Key__c"


@pytest.fixture(scope="module")
def ready(destination: Any) -> Any:
    kit, conn = destination
    conn.create_custom_field(CustomFieldSpec(object=kit.writable_object, name=EXT, label="Contract Key", type="Text",
                                             length=80, external_id=True, unique=True))
    return kit, conn


def test_declares_its_limits_as_data(destination: Any) -> None:
    _, conn = destination
    assert conn.limits.collection_max > 0 and conn.limits.bulk_internal_batch >= conn.limits.collection_max
    assert conn.limits.max_parallel_loads >= 1


def test_describes_objects_and_users(destination: Any) -> None:
    kit, conn = destination
    described = conn.describe(kit.writable_object)
    assert described is not None
    assert all(described.fields[f].required_on_create for f in kit.required)
    assert conn.describe("No_Such_Object__c") is None
    assert any(u.id == conn.integration_user_id for u in conn.users())


def test_created_custom_field_is_described_and_usable(ready: Any) -> None:
    kit, conn = ready
    assert EXT in conn.describe(kit.writable_object).fields


@pytest.mark.parametrize("bulk", [False, True], ids=["collections", "bulk"])
def test_upsert_creates_then_updates_the_same_records(ready: Any, bulk: bool) -> None:
    kit, conn = ready
    n = conn.limits.bulk_threshold + 50 if bulk else 250
    assert conn.use_bulk(kit.writable_object, n) is bulk
    records = [{**kit.required, EXT: f"{'b' if bulk else 'c'}:{i}", kit.text_field: "v1"} for i in range(n)]
    first = conn.upsert(kit.writable_object, EXT, records, allow_bulk=bulk)
    assert len(first) == n and all(r.ok and r.created for r in first)
    again = conn.upsert(kit.writable_object, EXT, [{**r, kit.text_field: "v2"} for r in records], allow_bulk=bulk)
    assert all(r.ok and not r.created for r in again)
    assert {r.key: r.id for r in first} == {r.key: r.id for r in again}
    back = conn.retrieve(kit.writable_object, [first[0].id], [kit.text_field])
    assert back[0][kit.text_field] == "v2"


def test_record_failures_are_results_not_exceptions(ready: Any) -> None:
    kit, conn = ready
    good = {**kit.required, EXT: "f:ok"}
    bad = {EXT: "f:bad"}  # required fields missing
    results = {r.key: r for r in conn.upsert(kit.writable_object, EXT, [good, bad], allow_bulk=False)}
    assert results["f:ok"].ok
    assert not results["f:bad"].ok and results["f:bad"].error_code and results["f:bad"].error_message


def test_insert_update_retrieve_delete(ready: Any) -> None:
    kit, conn = ready
    [made] = conn.insert(kit.writable_object, EXT, [{**kit.required, EXT: "d:1"}])
    assert made.ok and made.created
    [changed] = conn.update(kit.writable_object, [{"Id": made.id, kit.text_field: "changed"}])
    assert changed.ok
    assert conn.retrieve(kit.writable_object, [made.id], [kit.text_field])[0][kit.text_field] == "changed"
    [gone] = conn.delete([made.id])
    assert gone.ok
    assert conn.retrieve(kit.writable_object, [made.id], [kit.text_field]) in ([None], [])


@pytest.mark.parametrize("n", [20, 1_100], ids=["collections", "bulk"])
def test_insert_matched_on_natural_key_without_sending_the_key(ready: Any, n: int) -> None:
    # GIVEN records identified by a natural key (for objects that cannot carry the external id)
    kit, conn = ready
    name_field = next(iter(kit.required))
    records = [{**kit.required, name_field: f"natural {n}-{i}", EXT: f"n{n}:{i}"} for i in range(n)]
    # WHEN they are inserted with the key left out of the body
    results = conn.insert(kit.writable_object, EXT, records, match_on=[name_field])
    # THEN every result comes back under its own key, and the key field was not written
    assert sorted(r.key for r in results) == sorted(r[EXT] for r in records)
    assert all(r.ok and r.created and r.id for r in results)
    back = conn.retrieve(kit.writable_object, [results[0].id], [EXT, name_field])[0]
    assert back[EXT] is None
