"""Transform one extracted batch for one mapping into a load-ready batch.

Lookups resolve through the crosswalk snapshots of earlier levels; records already in the
destination (per the crosswalk) lose their insert-only fields (audit timestamps) so an
upsert that updates never tries to set them. Rejects and field-level issues are written
beside the batch: nothing is dropped without a row that says why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any

from shared.aws import BlobStore, CrosswalkStore, json_line
from shared.connectors.source import Source
from shared.domain import files, xwalk
from shared.domain.extract import load_spec
from shared.domain.keys import FULL, Keys, environment
from shared.mapping.engine import CompiledMapping, TransformResult, source_key
from shared.mapping.spec import ObjectMapping
from shared.models import DestCatalog, RunRef


@lru_cache(maxsize=8)
def _instance(blobs: BlobStore, dest_catalog_key: str) -> str:
    return DestCatalog.model_validate(blobs.get_json(dest_catalog_key)).instance


def clear_caches() -> None:
    """Forget cached destination instances (local mode: a new engine's bucket may reuse a run id) and the
    downloaded crosswalk snapshots (their files: an ETag names its content, so only the disk is freed)."""
    _instance.cache_clear()
    xwalk.clear_cache()


def crosswalk_scope(instance: str, dest_object: str) -> str:
    return f"{instance}#{dest_object}"


def crosswalk_snapshots(blobs: BlobStore, keys: Keys, mapping: ObjectMapping) -> dict[str, Mapping[str, str]]:
    """The merged snapshot of every lookup target (opened, not read: each lookup is a point query, D-054) and
    the run's default records under ``__defaults__``."""
    wanted = {t.dest_object for lk in mapping.lookups if not lk.deferred for t in lk.all_targets()}
    snapshot: dict[str, Mapping[str, str]] = {d: xwalk.open_snapshot(blobs, keys.xwalk_merged(d))
                                              for d in sorted(wanted)}
    snapshot["__defaults__"] = blobs.get_json(keys.defaults) if blobs.exists(keys.defaults) else {}
    return snapshot


def transform_batch(run: RunRef, item: dict[str, Any], blobs: BlobStore, crosswalk: CrosswalkStore,
                    open_source: Callable[[], Source]) -> dict[str, Any]:
    """``open_source`` is called only for a file the FetchFiles fan-out did not copy to S3 already."""
    keys = Keys(run)
    spec = load_spec(blobs, run)
    mapping = spec.mapping(str(item["mapping"]))
    batch_id = str(item["batch_id"])
    instance = (blobs.get_json(keys.sample_environment)["instance"]
                if environment(run, str(item.get("phase", FULL))) == "sample" else _instance(blobs, keys.dest_catalog))
    scope = crosswalk_scope(instance, mapping.dest_object)
    compiled = CompiledMapping(spec, mapping, crosswalk_snapshots(blobs, keys, mapping))
    result, found, already = TransformResult(), dict[str, str](), dict[str, str]()

    def lines() -> Iterator[bytes]:
        """The load-ready records, encoded as each source batch is transformed: the item holds one source
        batch and its output at a time, never the whole load's records (the upload spools to disk past
        ``SPOOL_BYTES``). Everything but the records is merged into ``result``: its keys, one per record, count
        them."""
        # One source batch at a time: a filtered mapping (Event from activities) packs several into one item
        # (load.pack), and only the records it keeps are held, not every source record of the item.
        for source_batch in item["source_keys"]:
            records = blobs.get_lines(str(source_batch))
            # Records the destination already holds (earlier runs, or adopted at PrepareDestination):
            # their insert-only fields are left out, and the load takes their before-images.
            compiled_keys = (source_key(mapping.source_object, str(r.get("id"))) for r in records)
            if mapping.explode:
                compiled_keys = (source_key(mapping.source_object, f"{r.get('id')}#{n}") for r in records
                                 for n in range(len(r.get(mapping.explode) or [])))
            held = crosswalk.get_many(scope, compiled_keys)
            found.update(held)
            part = compiled.apply(records, existing_keys=held.keys())
            # Loaded before (an earlier run, the sample, a delta pass): never inserted twice, still linkable.
            # Natural-key objects too: their key includes create-only fields (AccountContactRole.AccountId)
            # that an update would leave out, so they could no longer be matched.
            if (mapping.insert_only or mapping.natural_key) and held:
                keep = [(r, k) for r, k in zip(part.records, part.keys, strict=True) if k not in held]
                already.update((k, held[k]) for k in part.keys if k in held)
                part.records, part.keys = [r for r, _ in keep], [k for _, k in keep]
            if mapping.attachment_source and part.records:
                # A reference to the file in S3, not its content: the load reads it one write request at a time.
                by_id = {str(r.get("id")): r for r in records}
                files.attach_refs(keys, mapping.source_object, mapping.attachment_source,
                                  [(rec, by_id[key.split(":", 1)[1]]) for rec, key in zip(part.records, part.keys,
                                                                                           strict=True)],
                                  blobs, open_source)
            del records
            out, part.records = part.records, []
            result.merge(part)
            yield from (json_line(rec) for rec in out)
            del out

    blobs.put_encoded_lines(keys.load_ready(batch_id), lines())
    blobs.put_json(keys.already_loaded(batch_id), already)
    blobs.put_json(keys.existing(batch_id), {k: found[k] for k in result.keys if k in found})
    blobs.put_lines(keys.rejects(batch_id), [r.as_row() for r in result.rejects])
    blobs.put_lines(keys.issues(batch_id), [i.as_row() for i in result.issues])
    return {"load_key": keys.load_ready(batch_id), "count": len(result.keys), "rejected": len(result.rejects),
            "filtered_out": result.skipped, "issues": len(result.issues), "input": result.seen,
            "already_loaded": len(already)}
