"""Extract: every source object read in partitions of whole pages into S3 batches of at most ``batch_size``
records and ``batch_bytes`` of JSON.

One Distributed Map item per object; the item calls ``extract_partition`` until it answers ``done``.
Each call reads one partition (about ``extract_partition_records`` records, ending on a page
boundary), writes its batch files, then a checkpoint (the source's resume token, the batch keys so
far, the count, the watermark). The checkpoint is written only after the partition's batches, so an
invocation that dies mid-partition is re-run from the last checkpoint: no finished partition is
fetched again, and the re-read partition rewrites the same batch keys (nothing lost, nothing twice).
The last partition writes the object's outcome record; ``verify`` refuses to go on unless every
object of the manifest recorded one (a Distributed Map item that failed silently cannot slip through).
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta
from typing import Any

from shared import planner
from shared.aws import BlobStore, json_line
from shared.connectors.source import Source
from shared.domain.keys import FULL, Keys, delta_phase
from shared.errors import IncompleteStepError
from shared.mapping.engine import output_counter
from shared.mapping.spec import MigrationSpec
from shared.models import RunRef
from shared.timeutil import iso, minus, now, parse_time

_SPECS: dict[str, MigrationSpec] = {}
_SPECS_KEPT = 8
_SPECS_LOCK = threading.Lock()  # local mode runs invocations in threads of one process


def load_spec(blobs: BlobStore, run: RunRef) -> MigrationSpec:
    """The run's spec. Validated once per content in a container: every extract, transform and load
    invocation reads it, and validating a spec of a few hundred rules costs more than fetching it. Keyed by
    the body's digest, so a spec rewritten at sign-off is validated afresh. Callers treat it as read-only."""
    body = blobs.get_bytes(Keys(run).spec)
    digest = hashlib.sha256(body).hexdigest()
    spec = _SPECS.get(digest)
    if spec is None:
        spec = MigrationSpec.model_validate(json.loads(body))
        with _SPECS_LOCK:
            while len(_SPECS) >= _SPECS_KEPT:
                _SPECS.pop(next(iter(_SPECS)))
            _SPECS[digest] = spec
    return spec


def plan(run: RunRef, blobs: BlobStore) -> dict[str, Any]:
    spec = load_spec(blobs, run)
    objects = sorted({m.source_object for m in spec.mappings})
    manifest = [{"object": obj} for obj in objects]
    keys = Keys(run)
    blobs.put_json(keys.extract_manifest, manifest)
    blobs.put_json(keys.extract_started, {"at": iso(now())})
    return {"manifest_key": keys.extract_manifest, "partitions": len(manifest)}


class _Watermark:
    """The newest (updated_at, id) versions an extraction has seen, for the next delta pass.

    ``recent`` keeps every (id -> updated_at) within the overlap window below the watermark: a
    pass re-reads that window (late commits) and skips exactly the versions already processed,
    so two records with the same timestamp are each picked up once.
    """

    def __init__(self, state: dict[str, Any] | None, overlap_s: int) -> None:
        state = state or {}
        self.watermark: str | None = state.get("watermark")
        self.recent: dict[str, str] = dict(state.get("recent") or {})
        self.overlap_s = overlap_s

    def seen(self, record: dict[str, Any]) -> bool:
        return self.recent.get(str(record["id"])) == record.get("updated_at")

    def add(self, record: dict[str, Any]) -> None:
        stamp = str(record.get("updated_at") or "")
        if not stamp:
            return
        self.recent[str(record["id"])] = stamp
        if self.watermark is None or parse_time(stamp) > parse_time(self.watermark):
            self.watermark = stamp

    def prune(self) -> None:
        """Forget the versions the overlap window has left behind. Pages come in (updated_at, id) order, so
        after each page ``recent`` holds only the window's records, not every record of the partition."""
        if self.watermark is not None and self.recent:
            floor = parse_time(minus(self.watermark, self.overlap_s))
            self.recent = {k: v for k, v in self.recent.items() if parse_time(v) >= floor}

    def state(self) -> dict[str, Any]:
        self.prune()
        return {"watermark": self.watermark, "recent": self.recent}


def extract_partition(run: RunRef, partition: dict[str, Any], source: Source, blobs: BlobStore,
                      phase: str = FULL, since: str | None = None, mark: _Watermark | None = None
                      ) -> dict[str, Any]:
    """Read the next partition of one source object (from its checkpoint); in a delta pass, only versions
    not processed yet. Answers ``done`` once the object is read to its end and its outcome recorded."""
    obj = str(partition["object"])
    keys = Keys(run, phase)
    size = run.options.batch_size
    checkpoint_key = keys.extract_checkpoint(obj)
    state: dict[str, Any] = (blobs.get_json(checkpoint_key) if blobs.exists(checkpoint_key) else
                             {"resume": None, "batches": [], "count": 0, "sizes": None, "calls": 0, "partitions": 0,
                              "done": False, "mark": (mark or _Watermark(None, run.options.delta_overlap_s)).state()})
    if state["done"]:  # a retried item whose last partition had finished: nothing to read again
        return {"object": obj, "count": state["count"], "batches": len(state["batches"]), "done": True,
                "partition": state["partitions"]}
    mark = _Watermark(state["mark"], run.options.delta_overlap_s)
    batch: list[bytes] = []  # the records as their JSON lines: a batch ends at `size` records or `max_bytes`
    max_bytes = run.options.batch_bytes
    batch_keys: list[str] = list(state["batches"])
    read = 0

    calls_before = source.calls
    counters = {m.name: output_counter(m) for m in load_spec(blobs, run).mappings if m.source_object == obj}
    sizes: dict[str, list[int]] = state["sizes"] or {name: [] for name in counters}
    outputs = dict.fromkeys(counters, 0)
    width = 0

    def flush() -> None:
        nonlocal width
        for name, n in outputs.items():
            sizes[name].append(n)
            outputs[name] = 0
        batch_keys.append(blobs.put_encoded_lines(keys.extract_batch(obj, len(batch_keys)), batch))
        batch.clear()
        width = 0

    resume: str | None = state["resume"]
    for page, resume in source.pages_from(obj, state["resume"], page_size=run.options.extract_page_size,
                                          updated_since=since):
        read += len(page)
        for record in page:
            if mark.seen(record):
                continue
            mark.add(record)
            line = json_line(record)
            batch.append(line)
            width += len(line) + 1
            for name, count in counters.items():
                outputs[name] += count(record)
            state["count"] += 1
            if len(batch) >= size or width >= max_bytes:
                flush()
        mark.prune()
        if resume and read >= run.options.extract_partition_records:
            break  # a whole partition read: checkpoint it and hand over to the next invocation
    done = not resume
    if batch or (done and not batch_keys and phase == FULL):
        flush()
    state.update(resume=resume, batches=batch_keys, sizes=sizes, mark=mark.state(), done=done,
                 calls=state["calls"] + source.calls - calls_before, partitions=state["partitions"] + 1)
    if done:
        # calls: what reading the object cost the source's API (the bench holds it to the API's minimum)
        outcome = {"object": obj, "count": state["count"], "batches": batch_keys, "sizes": sizes,
                   "mark": state["mark"], "calls": state["calls"], "partitions": state["partitions"]}
        blobs.put_json(keys.extract_outcome(obj), outcome)
    blobs.put_json(checkpoint_key, state)  # last: it advances only after the partition's batches are written
    return {"object": obj, "count": state["count"], "batches": len(batch_keys), "done": done,
            "partition": state["partitions"]}


def verify(run: RunRef, blobs: BlobStore) -> dict[str, Any]:
    """Every partition recorded its outcome; then fix the load levels for the run."""
    keys = Keys(run)
    manifest = blobs.get_json(keys.extract_manifest)
    missing = [p["object"] for p in manifest if not blobs.exists(keys.extract_outcome(p["object"]))]
    if missing:
        raise IncompleteStepError(f"extraction did not complete for {missing}")
    spec = load_spec(blobs, run)
    levels = planner.levels(spec)
    blobs.put_json(keys.levels, levels)
    return {"index": 0, "count": len(levels), "phase": FULL}


# --- delta pickup ----------------------------------------------------------------------------------
def delta_start(run: RunRef, blobs: BlobStore) -> dict[str, Any]:
    """Open the delta-pickup window: watermarks from the full extraction, a deadline, pass 0."""
    opts = run.options
    if opts.delta_window_s == 0:
        return {"active": False, "pass": 0, "poll_s": opts.delta_poll_s}
    keys = Keys(run)
    started = blobs.get_json(keys.extract_started)["at"]
    objects = {p["object"]: blobs.get_json(keys.extract_outcome(p["object"]))["mark"]
               for p in blobs.get_json(keys.extract_manifest)}
    deadline = iso(now() + timedelta(seconds=opts.delta_window_s))
    state = {"started_at": started, "deadline": deadline, "objects": objects, "deleted": {}, "passes": []}
    blobs.put_json(keys.delta_state(), state)
    return {"active": True, "pass": 0, "poll_s": opts.delta_poll_s, "deadline": deadline}


def delta_extract(run: RunRef, delta: dict[str, Any], source: Source, blobs: BlobStore) -> dict[str, Any]:
    """One pass: every record created or modified since the watermark (minus the overlap), and the
    source deletions since the window opened (flagged, never deleted in the destination)."""
    keys = Keys(run)
    state = blobs.get_json(keys.delta_state())
    n = int(delta["pass"]) + 1
    phase = delta_phase(n)
    picked: dict[str, int] = {}
    overlap = run.options.delta_overlap_s
    for obj, mark_state in state["objects"].items():
        mark = _Watermark(mark_state, overlap)
        since = minus(mark.watermark or state["started_at"], overlap)
        result: dict[str, Any] = {"done": False}
        while not result["done"]:  # a delta pass reads changes since the last pass: small, one invocation
            result = extract_partition(run, {"object": obj}, source, blobs, phase=phase, since=since, mark=mark)
        state["objects"][obj] = blobs.get_json(Keys(run, phase).extract_outcome(obj))["mark"]
        picked[obj] = int(result["count"])
    deletions = []
    for obj in state["objects"]:
        known = set(state["deleted"].get(obj, []))
        for row in source.deleted(obj, state["started_at"]):
            if str(row["id"]) not in known:
                deletions.append({"object": obj, "id": str(row["id"]), "deleted_at": row.get("deleted_at")})
                known.add(str(row["id"]))
        state["deleted"][obj] = sorted(known)
    blobs.put_lines(Keys(run, phase).delta_events("deletions"), deletions)
    last = now() >= parse_time(state["deadline"])
    state["passes"].append({"pass": n, "phase": phase, "at": iso(now()), "picked": picked,
                            "deletions": len(deletions)})
    blobs.put_json(keys.delta_state(), state)
    levels = blobs.get_json(keys.levels)
    return {"active": not last, "pass": n, "poll_s": run.options.delta_poll_s, "deadline": state["deadline"],
            "cursor": {"index": 0, "count": len(levels), "phase": phase}}


def delta_report(run: RunRef, blobs: BlobStore) -> dict[str, Any]:
    """What the window picked up, loaded, flagged (source deletions) and refused to overwrite (conflicts)."""
    keys = Keys(run)
    if not blobs.exists(keys.delta_state()):
        return {"passes": 0, "conflicts": 0, "deletions": 0}
    state = blobs.get_json(keys.delta_state())
    passes = []
    conflicts: list[dict[str, Any]] = []
    deletions: list[dict[str, Any]] = []
    for p in state["passes"]:
        pk = Keys(run, p["phase"])
        loaded = 0
        for key in blobs.keys(f"{pk.q}/levels/"):
            if "/outcomes/" in key:
                loaded += int(blobs.get_json(key)["loaded"])
        pass_conflicts = [row for key in blobs.keys(f"{pk.q}/conflicts/") for row in blobs.get_lines(key)]
        pass_deletions = blobs.get_lines(pk.delta_events("deletions"))
        conflicts += pass_conflicts
        deletions += pass_deletions
        passes.append({**p, "loaded": loaded, "conflicts": len(pass_conflicts)})
    report = {"run_id": run.run_id, "window_opened": state["started_at"], "deadline": state["deadline"],
              "passes": passes, "conflicts": conflicts, "deletions": deletions}
    blobs.put_json(keys.report("delta.json"), report)
    lines = ["# Delta pickup", "", f"Window until {state['deadline']}; {len(passes)} passes.", "",
             "| pass | at | picked up | loaded | conflicts | source deletions |", "|---|---|---|---|---|---|"]
    lines += [f"| {p['pass']} | {p['at']} | {sum(p['picked'].values())} | {p['loaded']} | {p['conflicts']} | "
              f"{p['deletions']} |" for p in passes]
    lines += ["", "## Conflicts (changed in the destination after loading; not overwritten)", ""]
    lines += [f"- {c['dest_object']} `{c['dest_id']}` ({c['source_key']}): ours {c['our_last_write']}, "
              f"theirs {c['their_change']}" for c in conflicts] or ["- none"]
    lines += ["", "## Deleted in the source (flagged; the destination record is kept)", ""]
    lines += [f"- {d['object']} `{d['id']}` at {d['deleted_at']}" for d in deletions] or ["- none"]
    blobs.put_text(keys.report("delta.md"), "\n".join(lines) + "\n", "text/markdown; charset=utf-8")
    return {"passes": len(passes), "conflicts": len(conflicts), "deletions": len(deletions)}
