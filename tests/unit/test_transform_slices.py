"""Unit: a transform item that packs several source batches (a filtered mapping, Event from activities; see
``load.pack``) is transformed one source batch at a time: the result is what the whole item gives at once,
a source batch's records are gone before the next one is read, and its output is encoded into the upload before
then: a transform holds one source batch and what it makes of it, whatever the filter keeps.

Fakes stand at our interfaces (blobs and crosswalk in dicts, from the loader's tests).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable
from typing import Any

from shared.domain import transform
from shared.domain.keys import Keys
from shared.mapping.engine import CompiledMapping, source_key
from shared.mapping.spec import FieldRule, MigrationSpec, ObjectMapping
from shared.models import DestCatalog, Endpoint, RunRef
from tests.unit.test_load_merged_and_matched import FakeCrosswalk
from tests.unit.test_reconcile_profile import FakeBlobs

EXT = "Sercom_Id__c"
INSTANCE = "https://org.example"
RUN = RunRef(run_id="run-s", pair="sercom-salesforce", source=Endpoint(kind="sercom", secret_name="flitstack/s"),
             destination=Endpoint(kind="salesforce", secret_name="flitstack/d"))
EVENTS = ObjectMapping(
    name="activities->Event", source_object="activities", dest_object="Event", where={"type": ["meeting"]},
    fields=[FieldRule(dest="Subject", source="subject"),
            FieldRule(dest="CreatedDate", source="created_at", transform="datetime", insert_only=True)])
BATCHES = [f"runs/run-s/extract/activities/{n:05d}.jsonl" for n in range(3)]


class Record(dict[str, Any]):
    """A source record that counts how many of its kind are alive."""

    alive = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        Record.alive += 1

    def __del__(self) -> None:
        Record.alive -= 1


class CountingBlobs(FakeBlobs):
    """Source batches come out as ``Record`` objects; each read notes how many were still alive before it."""

    def __init__(self) -> None:
        super().__init__()
        self.alive_at_read: list[int] = []
        self.uploaded_at_read: list[int] = []
        self.uploading: list[bytes] = []

    def get_lines(self, key: str) -> list[Any]:
        rows = super().get_lines(key)
        if key not in BATCHES:
            return rows
        gc.collect()
        self.alive_at_read.append(Record.alive)
        self.uploaded_at_read.append(len(self.uploading))
        return [Record(r) for r in rows]

    def put_encoded_lines(self, key: str, lines: Iterable[bytes]) -> str:
        """Takes the lines as they come (the upload's spool), noting how many it has when a batch is read."""
        self.uploading = []
        for line in lines:
            self.uploading.append(line)
        self.data[key] = [json.loads(line) for line in self.uploading]
        return key

    def __hash__(self) -> int:  # the transform caches the destination catalog per blob store
        return id(self)


def activities(n: int) -> list[dict[str, Any]]:
    kinds = ("call", "meeting", "email", "task", "visit")
    return [{"id": f"a{n}-{i}", "type": kinds[i % 5], "subject": f"S{n}-{i}",
             "created_at": "2024-03-01T10:00:00Z"} for i in range(200)]


def staged() -> tuple[CountingBlobs, FakeCrosswalk, MigrationSpec]:
    spec = MigrationSpec(pair="sercom-salesforce", external_id_field=EXT, mappings=[EVENTS], fallback_owner_id="u",
                         audit_fields=True)
    blobs, crosswalk, keys = CountingBlobs(), FakeCrosswalk(), Keys(RUN)
    blobs.put_json(keys.spec, spec.model_dump())
    blobs.put_json(keys.dest_catalog, DestCatalog(instance=INSTANCE, objects={}, users=[], integration_user_id="u",
                                                  audit_fields_settable=True).model_dump())
    for n, key in enumerate(BATCHES):
        blobs.put_lines(key, activities(n))
    # loaded before: one meeting of the first source batch and one of the last (the load updates them)
    crosswalk.put_many(transform.crosswalk_scope(INSTANCE, "Event"),
                       {source_key("activities", "a0-1"): "00U1", source_key("activities", "a2-6"): "00U2"}, "old")
    return blobs, crosswalk, spec


def test_a_packed_item_is_transformed_one_source_batch_at_a_time_with_the_whole_items_result() -> None:
    blobs, crosswalk, spec = staged()
    item = {"mapping": EVENTS.name, "batch_id": "L03-M15-00000", "level": 3, "source_keys": BATCHES}

    got = transform.transform_batch(RUN, item, blobs, crosswalk, open_source=lambda: None)  # type: ignore[arg-type]

    # no source record of an earlier batch is alive when the next one is read
    assert blobs.alive_at_read == [0, 0, 0]
    # and the output of each is on its way to S3 before the next is read: the item never holds its load's records
    assert blobs.uploaded_at_read == [0, 40, 80]
    assert got == {"load_key": Keys(RUN).load_ready(item["batch_id"]), "count": 120, "rejected": 0,
                   "filtered_out": 480, "issues": 0, "input": 600, "already_loaded": 0}
    whole = [r for key in BATCHES for r in FakeBlobs.get_lines(blobs, key)]
    existing = frozenset({source_key("activities", "a0-1"), source_key("activities", "a2-6")})
    expected = CompiledMapping(spec, EVENTS, {}).apply(whole, existing_keys=existing).records
    loaded = blobs.get_lines(Keys(RUN).load_ready(item["batch_id"]))
    assert loaded == expected
    by_key = {r[EXT]: r for r in loaded}
    # the records loaded before keep their original creation time out of the update, in every slice
    assert "CreatedDate" not in by_key["activities:a0-1"] and "CreatedDate" not in by_key["activities:a2-6"]
    assert by_key["activities:a1-1"]["CreatedDate"] == "2024-03-01T10:00:00.000Z"
    assert blobs.get_json(Keys(RUN).existing(item["batch_id"])) == {"activities:a0-1": "00U1",
                                                                   "activities:a2-6": "00U2"}
