"""Reconcile each mapping, source against destination, then write the exception report and close the run.

For every mapping: source records = filtered out + loaded + rejected, and the destination
holds exactly the loaded records (counted on the external id's source prefix). Beyond
counts, the records the run sent are profiled against what the destination holds for them
(:mod:`shared.domain.profile`): empty-value rates, pick-list histograms, numeric sums,
date ranges and orphaned lookups, each checked against :class:`Thresholds`. Any failed
check fails reconciliation, and the report (JSON + a readable HTML page with charts) says
which mapping, which field and by how much.

API cost: one destination read per mapping (its pages), or one per chunk of recorded ids for
objects without the external id — the same calls the counts needed before, plus the pages.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from shared.aws import BlobStore, Stores, now_iso
from shared.connectors.destination import RunJournal
from shared.domain.extract import load_spec
from shared.domain.keys import Keys
from shared.domain.profile import (
    REFUSED,
    Check,
    Pair,
    ProfileDestination,
    ProfiledField,
    Thresholds,
    compare,
    compare_source,
    destination_rows,
    profile_pair,
    profile_source,
    profiled_fields,
    source_fields,
)
from shared.domain.spill import Spill
from shared.domain.xwalk import open_snapshot
from shared.executions import ExecutionStart, rollback_start
from shared.mapping.engine import source_key
from shared.mapping.spec import MigrationSpec, ObjectMapping
from shared.models import RunRef
from shared.reports import ISSUE_COLUMNS, REJECT_COLUMNS, csv_chunks, reconciliation_html


class ReconcileDestination(ProfileDestination, Protocol):
    """The destination connector as reconciliation uses it: profile reads, and its API call counter."""

    calls: int


def _outcomes(stores: Stores, keys: Keys) -> list[dict[str, Any]]:
    levels = stores.blobs.get_json(keys.levels)
    out: list[dict[str, Any]] = []
    for index in range(len(levels)):
        out += [stores.blobs.get_json(k) for k in stores.blobs.keys(keys.outcomes_prefix(index))]
    return out


def _batches(blobs: BlobStore, keys: Keys) -> dict[str, list[dict[str, Any]]]:
    """Mapping name -> the work items of its loads (batch id, source batches), from the level manifests."""
    out: dict[str, list[dict[str, Any]]] = {}
    for index in range(len(blobs.get_json(keys.levels))):
        for item in blobs.get_json(keys.level_manifest(index)):
            out.setdefault(str(item["mapping"]), []).append(item)
    return out


def _profile(blobs: BlobStore, keys: Keys, fields: list[ProfiledField], batch_ids: list[str], key_field: str,
             held: Spill) -> tuple[Pair, int]:
    """Sent against held, batch by batch; and how many records were rejected as orphans before loading."""
    orphans = 0
    for batch_id in batch_ids:
        held.mark(REFUSED, (f"{r['source_object']}:{r['source_id']}"
                            for r in blobs.get_lines(keys.rejects(batch_id + ".load"))))
        orphans += sum(1 for r in blobs.get_lines(keys.rejects(batch_id)) if r.get("code") == "orphan")
    records = (r for batch_id in batch_ids for r in blobs.get_lines(keys.load_ready(batch_id)))
    return profile_pair(fields, records, key_field, held), orphans


def carries_key(spec: MigrationSpec, dest_object: str) -> bool:
    """Whether records of ``dest_object`` carry the external id (the spec creates it there, or it is native).

    Objects that cannot (notes and queue items on some platforms, written with deterministic ids) are
    counted and profiled through the ids the run recorded instead of a read by key prefix.
    """
    ext = spec.external_id_field
    declared = [f for f in spec.custom_fields if f.name == ext]
    return not declared or any(f.object == dest_object for f in declared)


def _against_source(blobs: BlobStore, m: ObjectMapping, items: list[dict[str, Any]], held: Spill,
                    thresholds: Thresholds) -> list[Check]:
    """The destination against the raw source values of the same records, translated as the mapping declares."""
    fields = source_fields(m)
    if not fields:
        return []
    raw = (r for item in items for k in dict.fromkeys(item.get("source_keys", [])) for r in blobs.get_lines(str(k)))
    side = profile_source(fields, raw, lambda r: source_key(m.source_object, str(r.get("id"))), held)
    return compare_source(side, thresholds)


def _held(dest: ProfileDestination, m: ObjectMapping, fields: list[ProfiledField], ext: str,
          recorded: Iterable[tuple[str, str]] | None, held: Spill) -> int:
    """Write the destination's rows of ``m`` into ``held`` as they are read, by source key; how many it holds."""
    count = 0

    def counted() -> Iterator[tuple[str, dict[str, Any]]]:
        nonlocal count
        for key, row in destination_rows(dest, m, fields, ext, recorded):
            count += 1
            if key is not None:
                yield key, row

    held.put(counted())
    return count


def _reconcile_mapping(spec: MigrationSpec, m: ObjectMapping, totals: Counter[str], extracted: int,
                       items: list[dict[str, Any]], dest: ProfileDestination, blobs: BlobStore, keys: Keys,
                       thresholds: Thresholds) -> dict[str, Any]:
    batch_ids = [str(i["batch_id"]) for i in items]
    ext = spec.external_id_field
    fields, skipped = profiled_fields(m, thresholds)
    source = totals["input"] if m.explode else extracted  # exploded: one record per list element
    rejected = totals["transform_rejected"] + totals["load_rejected"]
    loaded = totals["loaded"]
    recorded: Iterable[tuple[str, str]] | None = None
    if m.natural_key or not carries_key(spec, m.dest_object):  # no external id here: the ids the run recorded
        # (id, key) in id order, as the snapshot's query reads them (D-054): no dict of every entry
        snapshot = open_snapshot(blobs, keys.xwalk_merged(m.dest_object))
        # merged duplicates alias their survivor's record there: each record is counted once, by its own key
        aliases = {f"{m.source_object}:{d}" for d in spec.merged.get(m.source_object, {})}
        recorded = ((i, k) for i, k in snapshot.by_id(f"{m.source_object}:") if k not in aliases)
    with Spill() as held:  # the join of sent and held goes through a temporary file, not a dict of every row
        in_dest = _held(dest, m, fields, ext, recorded, held)
        pair, rejected_orphans = _profile(blobs, keys, fields, batch_ids, ext, held)
        against_source = _against_source(blobs, m, items, held, thresholds)
    accounted = totals["filtered_out"] + loaded + rejected
    checks = [
        Check(check="accounted", source=source, destination=accounted, difference=float(abs(source - accounted)),
              limit="equal", passed=source == accounted, note="source = filtered out + loaded + rejected"),
        Check(check="count", source=loaded, destination=in_dest, difference=float(abs(in_dest - loaded)),
              limit=f"within {thresholds.count_difference}",
              passed=abs(in_dest - loaded) <= thresholds.count_difference,
              note="records loaded (or already there) against records the destination holds"),
        *compare(fields, pair, thresholds, rejected_orphans),
        *against_source,
    ]
    return {"mapping": m.name, "dest_object": m.dest_object, "source": source, "filtered_out": totals["filtered_out"],
            "loaded": loaded, "rejected": rejected, "destination": in_dest,
            "passed": all(c.passed for c in checks), "profiled": pair.sent.records,
            "checks": [c.model_dump() for c in checks], "not_profiled": skipped}


def reconcile(run: RunRef, dest: ReconcileDestination, stores: Stores, thresholds: Thresholds | None = None
              ) -> dict[str, Any]:
    """Check every mapping (counts, then the profiles), write the JSON report and the page, record the verdict."""
    keys = Keys(run)
    spec = load_spec(stores.blobs, run)
    caps = getattr(dest, "capabilities", None)
    limits = thresholds or Thresholds(empty_number_is_zero=bool(getattr(caps, "empty_numbers_read_as_zero", False)))
    calls_before = dest.calls
    totals: dict[str, Counter[str]] = {}
    for o in _outcomes(stores, keys):
        totals.setdefault(o["mapping"], Counter()).update(
            {k: int(o[k]) for k in ("input", "filtered_out", "transform_rejected", "loaded", "load_rejected")})
    batches = _batches(stores.blobs, keys)
    extracted = {obj: int(stores.blobs.get_json(keys.extract_outcome(obj))["count"])
                 for obj in {m.source_object for m in spec.mappings}}
    rows = [_reconcile_mapping(spec, m, totals.get(m.name, Counter()), extracted[m.source_object],
                               batches.get(m.name, []), dest, stores.blobs, keys, limits)
            for m in spec.mappings]
    passed = all(r["passed"] for r in rows)
    at = now_iso()
    limits_json: dict[str, Any] = limits.model_dump(mode="json")
    report: dict[str, Any] = {"run_id": run.run_id, "passed": passed, "at": at, "mappings": rows,
                              "thresholds": limits_json, "destination_calls": dest.calls - calls_before}
    stores.blobs.put_json(keys.report("reconciliation.json"), report)
    stores.blobs.put_text(keys.report("reconciliation.html"),
                          reconciliation_html(rows, passed, run.run_id, at=at, thresholds=limits_json),
                          "text/html; charset=utf-8")
    summary = {k: report[k] for k in ("run_id", "passed", "at", "destination_calls")}
    summary["mappings"] = [{k: v for k, v in r.items() if k not in ("checks", "not_profiled")} for r in rows]
    stores.runs.update(run.run_id, step="Reconcile", reconciliation=summary)
    return {"report_key": keys.report("reconciliation.json"), "passed": passed}


def start_rollback(run: RunRef, stores: Stores, start_execution: Callable[[ExecutionStart], str]) -> dict[str, Any]:
    """Reconciliation failed and the run asked for ``on_failed_reconciliation: rollback``: start the
    rollback workflow (the same one a person starts) and record it on the run, so the status view
    shows it and a second rollback is refused while it runs."""
    start = rollback_start(run)
    arn = start_execution(start)
    stores.runs.update(run.run_id, rollback_execution=arn,
                       auto_rollback={"reason": "reconciliation failed (on_failed_reconciliation: rollback)",
                                      "rollback_id": start.name, "at": now_iso()})
    return {"rollback_id": start.name}


def _lines(blobs: BlobStore, prefix: str) -> Iterator[dict[str, Any]]:
    """Every JSON-lines row under ``prefix``, one object (one batch's file) in memory at a time."""
    for key in blobs.keys(prefix):
        yield from blobs.get_lines(key)


def _counted(rows: Iterable[dict[str, Any]], by_code: Counter[tuple[str, str]]) -> Iterator[dict[str, Any]]:
    """``rows`` passed on, each counted in ``by_code`` by (destination object, code) as it goes by."""
    for row in rows:
        by_code[(row["dest_object"], row["code"])] += 1
        yield row


def _encoded(pieces: Iterable[str]) -> Iterator[bytes]:
    return (piece.encode() for piece in pieces)


def _audit_rows(stores: Stores, run_id: str, spill: Spill) -> Iterator[dict[str, Any]]:
    """The run's audit entries by (at, seq), ``env`` filled in: read page by page into ``spill``, sorted there.

    Only the CSV's columns are kept (not the before-images, which can be large): the CSV ignores the rest."""
    spill.append(((e.get("at", ""), e.get("seq", "")),
                  {c: v for c in AUDIT_COLUMNS if (v := e.get(c, "target" if c == "env" else None)) is not None})
                 for e in stores.audit.entries(run_id))
    return spill.ordered()


#: Columns of ``audit.csv``: every destination write of the run, as the audit log holds it (no before-images).
AUDIT_COLUMNS = ["at", "env", "operation", "dest_object", "source_key", "dest_id", "batch"]


def _journal_html(run: RunRef, summary: dict[str, Any]) -> str:
    """The run summed up for a person reading the destination's record of migrations."""
    rows = "".join(f"<li>{html.escape(name)}: {o['source']} in the source, {o['loaded']} loaded, "
                   f"{o['rejected']} rejected, {o['filtered_out']} filtered out</li>"
                   for name, o in sorted(summary["objects"].items()))
    return (f"<p>Migration <b>{html.escape(run.run_id)}</b> ({html.escape(run.pair)}) finished: "
            f"<b>{html.escape(summary['status'])}</b>; "
            f"{summary['rejected']} records rejected, {summary['field_issues']} field-level changes, "
            f"{summary['unmatched_technicians']} unmatched technicians. Reports: mapping.md, exceptions.md, "
            f"rejects.csv, audit.csv.</p><ul>{rows}</ul>")


def finalize(run: RunRef, stores: Stores, journal: RunJournal | None = None) -> dict[str, Any]:
    """Exceptions report (rejects, field issues, unmatched technicians), the audit CSV (every write) and the run
    summary; a destination keeping a :class:`RunJournal` gets the summary posted too."""
    keys = Keys(run)
    with Spill() as spill:  # ~1.3 audit entries per source record: sorted on disk, not in a list
        stores.blobs.put_stream(keys.report("audit.csv"),
                                _encoded(csv_chunks(_audit_rows(stores, run.run_id, spill), AUDIT_COLUMNS)),
                                "text/csv")
    by_code: Counter[tuple[str, str]] = Counter()
    issue_codes: Counter[tuple[str, str]] = Counter()
    stores.blobs.put_stream(keys.report("rejects.csv"), _encoded(csv_chunks(
        _counted(_lines(stores.blobs, f"{run.prefix}/rejects/"), by_code), REJECT_COLUMNS)), "text/csv")
    stores.blobs.put_stream(keys.report("field-issues.csv"), _encoded(csv_chunks(
        _counted(_lines(stores.blobs, f"{run.prefix}/issues/"), issue_codes), ISSUE_COLUMNS)), "text/csv")
    rejected, field_issues = sum(by_code.values()), sum(issue_codes.values())
    unmatched = stores.blobs.get_bytes(keys.report("unmatched-technicians.csv")).decode().count("\n") - 1
    lines = ["# Exceptions report", "", f"Run `{run.run_id}`.", "",
             f"- records rejected (not loaded, each with its reason): **{rejected}** — `rejects.csv`",
             f"- field-level changes (truncated, left empty, defaulted): **{field_issues}** — `field-issues.csv`",
             f"- technicians without a matching user (fallback owner used): **{unmatched}** — "
             "`unmatched-technicians.csv`", "", "## Rejected records by reason", "",
             "| destination object | code | records |", "|---|---|---|"]
    lines += [f"| {o} | {c} | {n} |" for (o, c), n in sorted(by_code.items())]
    lines += ["", "## Field-level changes by kind", "", "| destination object | code | fields |", "|---|---|---|"]
    lines += [f"| {o} | {c} | {n} |" for (o, c), n in sorted(issue_codes.items())]
    stores.blobs.put_text(keys.report("exceptions.md"), "\n".join(lines) + "\n", "text/markdown; charset=utf-8")
    recon = stores.blobs.get_json(keys.report("reconciliation.json"))
    summary = {
        "run_id": run.run_id, "status": "succeeded" if recon["passed"] else "reconciliation_failed",
        "finished_at": now_iso(), "rejected": rejected, "field_issues": field_issues,
        "unmatched_technicians": unmatched,
        "objects": {r["mapping"]: {k: r[k] for k in ("source", "loaded", "rejected", "filtered_out", "destination")}
                    for r in recon["mappings"]},
    }
    if journal is not None:
        summary["journal"] = journal.post_run_summary(f"Migration {run.run_id}", _journal_html(run, summary))
    stores.blobs.put_json(keys.report("summary.json"), summary)
    reports = [keys.report(n) for n in ("mapping.md", "exceptions.md", "rejects.csv", "field-issues.csv",
                                        "unmatched-technicians.csv", "reconciliation.html", "summary.json",
                                        "audit.csv")]
    stores.runs.update(run.run_id, status=summary["status"], step="Finalize", summary=summary, reports=reports)
    return {"status": summary["status"], "reports": len(reports)}


def record_failure(run: RunRef, error: dict[str, Any], stores: Stores) -> dict[str, Any]:
    """The run ended on a fatal error: keep what and where, for the person and for resuming."""
    failure = {"error": str(error.get("Error", "")), "cause": str(error.get("Cause", ""))[:4000], "at": now_iso()}
    stores.blobs.put_json(Keys(run).report("failure.json"), failure)
    stores.runs.update(run.run_id, status="failed", failure=failure)
    return {"status": "failed"}
