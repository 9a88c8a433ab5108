"""File content (attachments) copied source → S3 by its own fan-out, then read by the load one request at a time.

Why: fetched inside a transform batch, a run's files were downloaded one at a time and a whole
batch's files sat base64-encoded in memory and in the load-ready batch. Now ``plan`` cuts every
extracted batch of a mapping that carries file content (``ObjectMapping.attachment_source``) into
work items of :data:`FILES_PER_ITEM` files; the FetchFiles Distributed Map runs them as many at once
as the source declares it can serve (``SourceLimits.max_parallel_reads``, sized to its rate limit),
each streaming its files into ``files/<object>/<id>.<version>`` without holding one whole in memory, and
reading only its own lines of the batch (a ranged GET over the byte span ``plan`` recorded), not the batch.
A file already copied is skipped, so a retried item converges. The levels before the first that carries
files (``planner.levels`` puts file-carrying mappings as late as their lookups allow) load beside the fan-out
(the FilesBesideLevels Parallel, D-053). The load-ready record carries a reference (:func:`ref`); the load
resolves references one write request at a time (:func:`resolve`).
A file the fan-out did not copy (a delta pass, the sample) is copied when the transform meets it.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from typing import Any

from shared import planner
from shared.aws import BlobStore
from shared.connectors.source import Source
from shared.domain.extract import load_spec
from shared.domain.keys import Keys
from shared.errors import ContractError, IncompleteStepError
from shared.models import RunRef

#: Files one FetchFiles item copies: small enough that many items run at once on a few hundred files.
FILES_PER_ITEM = 50
#: The key a load-ready record's file field holds instead of the content.
REF = "$file"


def file_key(keys: Keys, obj: str, record: dict[str, Any]) -> str:
    """Where one version of a file lives: a changed file (new ``updated_at``) gets a new key."""
    version = hashlib.sha256(str(record.get("updated_at") or "").encode()).hexdigest()[:12]
    return f"{keys.files_prefix}{obj}/{record['id']}.{version}"


def ref(key: str, size: int) -> dict[str, Any]:
    return {REF: key, "size": size}


def is_ref(value: Any) -> bool:
    return isinstance(value, dict) and REF in value


def plan(run: RunRef, blobs: BlobStore, max_parallel_reads: int) -> dict[str, Any]:
    """The FetchFiles manifest: slices of the extracted batches of every object whose mapping carries files;
    and the first load level that needs them (the levels before it load while the files are copied)."""
    keys = Keys(run)
    spec = load_spec(blobs, run)
    objects = sorted({m.source_object for m in spec.mappings if m.attachment_source})
    items: list[dict[str, Any]] = []
    for obj in objects:
        for batch_key in blobs.get_json(keys.extract_outcome(obj))["batches"]:
            starts = blobs.line_starts(batch_key)
            size = len(starts) - 1
            items += [{"object": obj, "batch_key": batch_key, "start": start,
                       "count": min(FILES_PER_ITEM, size - start), "item": len(items) + n,
                       "span": [starts[start], starts[min(start + FILES_PER_ITEM, size)]]}
                      for n, start in enumerate(range(0, size, FILES_PER_ITEM))]
    blobs.put_json(keys.files_manifest, items)
    return {"manifest_key": keys.files_manifest, "items": len(items), "max_concurrency": max_parallel_reads,
            "first_level": planner.first_level_with_files(spec, blobs.get_json(keys.levels))}


def copy(keys: Keys, obj: str, record: dict[str, Any], source: Callable[[], Source],
         blobs: BlobStore) -> tuple[str, int, bool]:
    """Stream one file into S3 unless this version is there already: (key, size, copied now).
    ``source`` is called only when the file has to be copied (it may open the source, or pace calls)."""
    key = file_key(keys, obj, record)
    size = blobs.size(key)
    if size is not None:
        return key, size, False
    return key, blobs.put_stream(key, source().attachment_chunks(str(record["id"]))), True


def fetch(run: RunRef, item: dict[str, Any], source: Source, blobs: BlobStore, pace_s: float = 0.0,
          clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Copy one item's files, one call each at most every ``pace_s`` seconds (the source's rate shared by
    the Map's concurrent items), then record its outcome (VerifyFiles checks every item recorded one)."""
    keys = Keys(run)
    count = int(item["count"])
    first, end = item["span"]
    records = blobs.get_lines(str(item["batch_key"]), (int(first), int(end)))
    if len(records) != count:
        raise ContractError(f"files item {item['item']}: bytes {first}-{end} of {item['batch_key']} hold "
                            f"{len(records)} records, the manifest says {count} (was the batch rewritten "
                            "after PlanFiles?)")
    copied = 0
    size = 0
    next_call = clock()

    def paced() -> Source:
        nonlocal next_call
        wait = next_call - clock()
        if wait > 0:
            sleep(wait)
        next_call = max(next_call, clock()) + pace_s
        return source

    for record in records:
        _, n, fresh = copy(keys, str(item["object"]), record, paced, blobs)
        copied += fresh
        size += n
    if copied and next_call > clock():
        sleep(next_call - clock())  # the slot stays taken for the pace: the next item's first call waits too
    outcome = {"item": int(item["item"]), "files": len(records), "copied": copied, "bytes": size}
    blobs.put_json(keys.files_outcome(int(item["item"])), outcome)
    return outcome


def verify(run: RunRef, blobs: BlobStore) -> dict[str, Any]:
    keys = Keys(run)
    manifest = blobs.get_json(keys.files_manifest)
    missing = [i["item"] for i in manifest if not blobs.exists(keys.files_outcome(int(i["item"])))]
    if missing:
        raise IncompleteStepError(f"file copies did not complete for items {missing[:20]} ({len(missing)} in all)")
    return {"items": len(manifest), "files": sum(int(i["count"]) for i in manifest)}


def attach_refs(keys: Keys, obj: str, field: str, records: Iterable[tuple[dict[str, Any], dict[str, Any]]],
                blobs: BlobStore, open_source: Callable[[], Source]) -> None:
    """Put into ``field`` of each (load-ready record, its source record) a reference to the file, copied
    now if the fan-out did not copy it (the source is opened only then)."""
    with ExitStack() as stack:
        opened: list[Source] = []

        def source() -> Source:
            if not opened:
                opened.append(stack.enter_context(open_source()))
            return opened[0]

        for rec, raw in records:
            key, size, _ = copy(keys, obj, raw, source, blobs)
            rec[field] = ref(key, size)


def resolve(records: Iterable[dict[str, Any]], field: str, blobs: BlobStore) -> list[dict[str, Any]]:
    """The records of one write request with their file content, base64 as the destinations' APIs take it."""
    return [{**r, field: base64.b64encode(blobs.get_bytes(r[field][REF])).decode("ascii")} if is_ref(r.get(field))
            else r for r in records]
