"""Unit: the merged crosswalk snapshot (``shared.domain.xwalk``): an SQLite file in S3 read by point queries.

GIVEN a real :class:`BlobStore` over moto's S3 (every GET counted through botocore's own event hooks), WHEN
snapshots are written, merged, replaced and read (from many threads at once), THEN they answer as the dicts
they replace did, each version is downloaded once per process, and a superseded version leaves the cache.
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from shared.aws import BlobStore
from shared.domain import xwalk
from shared.domain.profile import READ_IDS, Thresholds, destination_rows, profiled_fields
from shared.mapping.engine import crosswalk_aliases
from shared.mapping.spec import FieldRule, MigrationSpec, ObjectMapping
from tests.unit.test_reconcile_profile import FakeDest

BUCKET = "flitstack-data"
KEY = "runs/r1/xwalk-merged/Account.sqlite"


class Counted:
    """GETs of snapshot objects, counted as botocore sends them."""

    def __init__(self) -> None:
        self.gets: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.gets.append(str(params["Key"]))


@pytest.fixture()
def s3(in_process_aws: None) -> Iterator[tuple[BlobStore, Counted]]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        counted = Counted()
        client.meta.events.register("before-parameter-build.s3.GetObject", counted)
        xwalk.clear_cache()
        yield BlobStore(BUCKET, client=client), counted
        xwalk.clear_cache()


def test_a_snapshot_reads_as_the_mapping_it_was_written_from(s3: tuple[BlobStore, Counted]) -> None:
    blobs, _ = s3
    data = {"customers:c1": "001A", "customers:c2": "001B", "leads:l1": "001C", "customers;x": "001D",
            "customers:Ünïcode ✓": "001E"}
    xwalk.write_snapshot(blobs, KEY, data)
    snap = xwalk.open_snapshot(blobs, KEY)
    assert snap.get("customers:c1") == "001A" and snap["leads:l1"] == "001C"
    assert snap.get("customers:nope") is None and snap.get("customers:nope", "") == ""
    assert "customers:c2" in snap and "customers:nope" not in snap and 3 not in snap
    with pytest.raises(KeyError):
        snap["customers:nope"]
    assert len(snap) == 5 and sorted(snap) == sorted(data) and dict(snap.items()) == data
    assert dict(snap) == data and snap == data  # Mapping's own equality and conversion
    # a prefix reads only that source object's keys (';' sorts right after ':'), and by id, in id order
    assert list(snap.rows("customers:")) == sorted((k, v) for k, v in data.items() if k.startswith("customers:"))
    assert list(snap.by_id("customers:")) == [("001A", "customers:c1"), ("001B", "customers:c2"),
                                              ("001E", "customers:Ünïcode ✓")]
    # an object that is not there is an empty snapshot, not an error
    empty = xwalk.open_snapshot(blobs, "runs/r1/xwalk-merged/Nothing.sqlite")
    assert len(empty) == 0 and empty.get("customers:c1") is None and list(empty.by_id("customers:")) == []


def test_merge_streams_parts_later_ones_win_adds_aliases_and_is_idempotent(s3: tuple[BlobStore, Counted]) -> None:
    blobs, _ = s3
    spec = MigrationSpec(pair="sercom-salesforce", external_id_field="Ext__c", fallback_owner_id="005",
                         audit_fields=False, merged={"customers": {"c9": "c1"}},
                         mappings=[ObjectMapping(name="customers->Account", source_object="customers",
                                                 dest_object="Account", fields=[FieldRule(dest="Name", source="n")])])
    xwalk.write_snapshot(blobs, KEY, {"customers:c0": "A0", "customers:c1": "OLD"})
    blobs.put_json("parts/0.json", {"customers:c1": "A1", "customers:c2": "X"})
    blobs.put_json("parts/1.json", {"customers:c2": "A2"})
    want = {"customers:c0": "A0", "customers:c1": "A1", "customers:c2": "A2", "customers:c9": "A1"}
    for _ in range(2):  # a retried VerifyLevel merges the same parts again
        count = xwalk.merge(blobs, KEY, ["parts/0.json", "parts/1.json"],
                            lambda merged: crosswalk_aliases(spec, "Account", merged))
        assert count == 4 and dict(xwalk.open_snapshot(blobs, KEY).items()) == want
    # a first level starts from nothing
    assert xwalk.merge(blobs, "runs/r1/xwalk-merged/Case.sqlite", ["parts/1.json"]) == 1


def test_each_version_is_downloaded_once_and_a_new_one_replaces_it(s3: tuple[BlobStore, Counted]) -> None:
    blobs, counted = s3
    xwalk.write_snapshot(blobs, KEY, {"customers:c1": "V1"})
    xwalk.clear_cache()  # as another container would: it has not seen the upload
    first = xwalk.open_snapshot(blobs, KEY)
    again = xwalk.open_snapshot(blobs, KEY)
    assert first["customers:c1"] == again["customers:c1"] == "V1" and counted.gets == [KEY]
    (old,) = xwalk.cached_files()
    # a new version written elsewhere (another process: this one's cache does not know it) is seen
    other = BlobStore(BUCKET, client=boto3.client("s3", region_name="us-east-1"))
    other.put_bytes(KEY, xwalk_file({"customers:c1": "V2", "customers:c2": "V2"}))
    newer = xwalk.open_snapshot(blobs, KEY)
    assert newer["customers:c1"] == "V2" and len(newer) == 2 and counted.gets == [KEY, KEY]
    # the superseded file is gone from the cache folder; a snapshot opened on it still reads it
    (current,) = xwalk.cached_files()
    assert current != old and not old.exists() and current.exists()
    assert first["customers:c1"] == "V1" and len(first) == 1
    # a merge in this process publishes its result to the cache: no download to read it back
    blobs.put_json("parts/0.json", {"customers:c3": "V3"})
    xwalk.merge(blobs, KEY, ["parts/0.json"])
    assert xwalk.open_snapshot(blobs, KEY)["customers:c3"] == "V3" and counted.gets.count(KEY) == 2
    # and a deleted snapshot (prepare() of an approved target) reads as empty
    blobs.delete(KEY)
    assert len(xwalk.open_snapshot(blobs, KEY)) == 0


def test_the_cache_keeps_a_bounded_number_of_files(s3: tuple[BlobStore, Counted], monkeypatch: pytest.MonkeyPatch
                                                   ) -> None:
    blobs, _ = s3
    monkeypatch.setattr(xwalk, "CACHED_KEYS", 3)
    for n in range(6):
        xwalk.write_snapshot(blobs, f"runs/r1/xwalk-merged/O{n}.sqlite", {f"o:{n}": str(n)})
    files = xwalk.cached_files()
    assert len(files) == 3 and sorted(p.name for p in files[0].parent.glob("*.sqlite")) == sorted(
        p.name for p in files)
    assert xwalk.open_snapshot(blobs, "runs/r1/xwalk-merged/O0.sqlite")["o:0"] == "0"  # evicted: fetched again


def test_concurrent_readers_share_one_download_and_see_whole_versions(s3: tuple[BlobStore, Counted]) -> None:
    blobs, counted = s3
    n = 5_000
    xwalk.write_snapshot(blobs, KEY, {f"customers:c{i}": f"V1-{i}" for i in range(n)})
    xwalk.clear_cache()
    shared = xwalk.open_snapshot(blobs, KEY)  # one snapshot used by every thread too
    start, errors, seen = threading.Barrier(8), [], []

    def reader(t: int) -> None:
        try:
            start.wait()
            for round_ in range(3):
                snap = xwalk.open_snapshot(blobs, KEY)
                values = {snap[f"customers:c{i}"][:2] for i in range(t, n, 37)}
                assert len(values) == 1, values  # one version throughout a snapshot's life
                assert shared.get(f"customers:c{t + round_}") == f"V1-{t + round_}"
                seen.append(values.pop())
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(t,)) for t in range(7)]
    for th in threads:
        th.start()
    start.wait()
    xwalk.write_snapshot(blobs, KEY, {f"customers:c{i}": f"V2-{i}" for i in range(n)})  # while they read
    for th in threads:
        th.join()
    assert not errors, errors
    assert len(seen) == 21 and set(seen) <= {"V1", "V2"}
    assert counted.gets.count(KEY) <= 2  # v1 once at most (v2 was published here); never once per reader
    assert xwalk.open_snapshot(blobs, KEY)["customers:c7"] == "V2-7"


def test_recorded_ids_reach_the_destination_once_each_in_chunks(s3: tuple[BlobStore, Counted]) -> None:
    # GIVEN a snapshot of more ids than one read takes, an id recorded under two keys, and another object's keys
    blobs, _ = s3
    roles = ObjectMapping(name="contacts->AccountContactRole", source_object="contacts",
                          dest_object="AccountContactRole", natural_key=["AccountId", "ContactId"],
                          fields=[FieldRule(dest="Role", source="role")])
    data = {f"contacts:c{i:05d}": f"02Z{i:012d}" for i in range(READ_IDS * 2 + 10)}
    data["contacts:zz-same-as-first"] = "02Z000000000000"
    data["customers:x"] = "02Zother"
    xwalk.write_snapshot(blobs, KEY, data)
    dest = FakeDest({"AccountContactRole": [{"Id": i, "Role": "R"} for i in sorted(set(data.values()))]})
    # WHEN the destination is read by the recorded ids, as reconciliation does
    rows = list(destination_rows(dest, roles, profiled_fields(roles, Thresholds())[0], "Ext__c",
                                 xwalk.open_snapshot(blobs, KEY).by_id("contacts:")))
    # THEN every id once, in reads of READ_IDS, the other object's id never asked
    assert [r[3] for r in dest.reads] == [READ_IDS, READ_IDS, 10]
    assert len(rows) == READ_IDS * 2 + 10 and len({r["Id"] for _, r in rows}) == len(rows)
    keys = {r["Id"]: k for k, r in rows}
    assert keys["02Z000000000000"] == "contacts:zz-same-as-first" and keys["02Z000000000042"] == "contacts:c00042"


def xwalk_file(mapping: dict[str, str]) -> bytes:
    """The bytes of a snapshot file, as another process would upload them."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.sqlite"
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE xwalk (key TEXT PRIMARY KEY, id TEXT NOT NULL) WITHOUT ROWID")
        db.executemany("INSERT INTO xwalk VALUES (?, ?)", mapping.items())
        db.commit()
        db.close()
        return path.read_bytes()


def test_get_many_answers_what_get_answers_in_chunks(s3: tuple[BlobStore, Counted]) -> None:
    blobs, _ = s3
    entries = {f"customers:c{i}": f"001{i:015d}" for i in range(1_200)}
    xwalk.write_snapshot(blobs, KEY, entries)
    snap = xwalk.open_snapshot(blobs, KEY)
    asked = [f"customers:c{i}" for i in range(0, 2_400, 2)]  # half of them absent; more than two chunks
    assert len(asked) > 2 * xwalk.MANY_CHUNK
    assert snap.get_many([*asked, *asked]) == {k: entries[k] for k in asked if k in entries}


def test_a_compiled_mapping_resolves_through_prefetched_snapshots_as_through_the_snapshots(
        s3: tuple[BlobStore, Counted]) -> None:
    from shared.mapping.engine import CompiledMapping, Prefetched
    from shared.mapping.spec import LookupRule, LookupTarget

    blobs, _ = s3
    accounts = {f"customers:c{i}": f"001{i:015d}" for i in range(0, 300, 3)}
    xwalk.write_snapshot(blobs, KEY, accounts)
    spec = MigrationSpec(pair="sercom-salesforce", external_id_field="Ext__c", fallback_owner_id="005",
                         audit_fields=True, mappings=[ObjectMapping(
        name="contacts", source_object="contacts", dest_object="Contact",
        fields=[FieldRule(source="name", dest="LastName")],
        lookups=[LookupRule(source="customer_id", dest="AccountId", on_missing="null",
                        target=LookupTarget(source_object="customers", dest_object="Account"))])])
    records = [{"id": str(i), "name": f"n{i}", "customer_id": f"c{i}" if i % 7 else None} for i in range(200)]
    snap = xwalk.open_snapshot(blobs, KEY)
    queries: list[str] = []
    snap._db.set_trace_callback(queries.append)
    mapping = spec.mapping("contacts")
    result = CompiledMapping(spec, mapping, {"Account": snap, "__defaults__": {}}).apply(records)
    expected = {f"contacts:{r['id']}": accounts.get(f"customers:{r['customer_id']}") for r in records}
    assert {r["Ext__c"]: r.get("AccountId") for r in result.records} == expected
    assert sum(1 for q in queries if " IN (" in q) == 1 and not any("WHERE key = " in q for q in queries)
    # a key outside the prefetched ones is still a lookup in the snapshot
    view = Prefetched(snap, ["customers:c3"])
    assert view.get("customers:c3") == accounts["customers:c3"] and view.get("customers:c6") == accounts["customers:c6"]
    assert view.get("customers:c4") is None and "customers:c4" not in view


def test_a_file_past_the_part_size_goes_up_in_parts_one_at_a_time_and_reads_back(
        s3: tuple[BlobStore, Counted], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blobs, _ = s3
    monkeypatch.setattr("shared.aws.PART_BYTES", 5 * 1024 * 1024)  # S3's smallest part but the last
    sent: list[int] = []
    blobs.s3.meta.events.register("before-parameter-build.s3.UploadPart",
                                  lambda params, **_: sent.append(len(params["Body"])))
    big, small = tmp_path / "big.sqlite", tmp_path / "small.sqlite"
    big.write_bytes(bytes(range(256)) * (48 * 1024))  # 12 MiB: two parts of 5 MiB and one of 2
    small.write_bytes(b"x" * 1000)
    etag = blobs.upload_file("big", str(big))
    assert sent == [5 * 1024 * 1024, 5 * 1024 * 1024, 2 * 1024 * 1024]
    assert etag.strip('"').endswith("-3") and etag == blobs.etag("big")
    assert blobs.get_bytes("big") == big.read_bytes()
    assert blobs.upload_file("small", str(small)) == blobs.etag("small")  # one PUT below the part size
    assert sent == [5 * 1024 * 1024] * 2 + [2 * 1024 * 1024]
    assert blobs.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_a_multipart_upload_that_fails_is_aborted(s3: tuple[BlobStore, Counted], monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    blobs, _ = s3
    monkeypatch.setattr("shared.aws.PART_BYTES", 5 * 1024 * 1024)
    big = tmp_path / "big.sqlite"
    big.write_bytes(b"y" * (11 * 1024 * 1024))

    def refuse_the_second(params: dict[str, Any], **_: Any) -> None:
        if params["PartNumber"] == 2:
            raise OSError("connection reset")

    blobs.s3.meta.events.register("before-parameter-build.s3.UploadPart", refuse_the_second)
    with pytest.raises(OSError, match="connection reset"):
        blobs.upload_file("big", str(big))
    assert blobs.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert blobs.etag("big") is None
