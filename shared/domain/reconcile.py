"""Reconcile counts per mapping, then write the exception report and close the run.

For every mapping: source records = filtered out + loaded + rejected, and the destination
holds exactly the loaded records (counted on the external id's source prefix). Any
mismatch fails reconciliation, and the report says which mapping and by how much.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from shared.aws import Stores, now_iso
from shared.destinations.salesforce import SalesforceDestination
from shared.domain.extract import load_spec
from shared.domain.keys import Keys
from shared.models import RunRef
from shared.reports import ISSUE_COLUMNS, REJECT_COLUMNS, csv_text, reconciliation_html


def _outcomes(stores: Stores, keys: Keys) -> list[dict[str, Any]]:
    levels = stores.blobs.get_json(keys.levels)
    out: list[dict[str, Any]] = []
    for index in range(len(levels)):
        out += [stores.blobs.get_json(k) for k in stores.blobs.keys(keys.outcomes_prefix(index))]
    return out


def reconcile(run: RunRef, dest: SalesforceDestination, stores: Stores) -> dict[str, Any]:
    keys = Keys(run)
    spec = load_spec(stores.blobs, run)
    totals: dict[str, Counter[str]] = {}
    for o in _outcomes(stores, keys):
        totals.setdefault(o["mapping"], Counter()).update(
            {k: int(o[k]) for k in ("input", "filtered_out", "transform_rejected", "loaded", "load_rejected")})
    rows = []
    for m in spec.mappings:
        t = totals.get(m.name, Counter())
        extracted = int(stores.blobs.get_json(keys.extract_outcome(m.source_object))["count"])
        source = t["input"] if m.explode else extracted  # exploded: one record per list element
        rejected = t["transform_rejected"] + t["load_rejected"]
        if m.natural_key:  # no external id on this object: count the ids the run recorded
            merged = keys.xwalk_merged(m.dest_object)
            ids = stores.blobs.get_json(merged) if stores.blobs.exists(merged) else {}
            in_dest = dest.count_ids(m.dest_object, [v for k, v in ids.items()
                                                     if k.startswith(f"{m.source_object}:")])
        else:
            in_dest = dest.count(f"{spec.external_id_field} LIKE '{m.source_object}:%'", m.dest_object)
        passed = source == t["filtered_out"] + t["loaded"] + rejected and in_dest == t["loaded"]
        rows.append({"mapping": m.name, "dest_object": m.dest_object, "source": source,
                     "filtered_out": t["filtered_out"], "loaded": t["loaded"], "rejected": rejected,
                     "destination": in_dest, "passed": passed})
    passed = all(r["passed"] for r in rows)
    report = {"run_id": run.run_id, "passed": passed, "at": now_iso(), "mappings": rows}
    stores.blobs.put_json(keys.report("reconciliation.json"), report)
    stores.blobs.put_text(keys.report("reconciliation.html"), reconciliation_html(rows, passed, run.run_id),
                          "text/html; charset=utf-8")
    stores.runs.update(run.run_id, step="Reconcile", reconciliation=report)
    return {"report_key": keys.report("reconciliation.json"), "passed": passed}


def _gather(stores: Stores, prefix: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for key in stores.blobs.keys(prefix):
        rows += stores.blobs.get_lines(key)
    return rows


def finalize(run: RunRef, stores: Stores) -> dict[str, Any]:
    """Exceptions report (rejects, field issues, unmatched technicians) and the run summary."""
    keys = Keys(run)
    rejects = _gather(stores, f"{run.prefix}/rejects/")
    issues = _gather(stores, f"{run.prefix}/issues/")
    stores.blobs.put_text(keys.report("rejects.csv"), csv_text(rejects, REJECT_COLUMNS), "text/csv")
    stores.blobs.put_text(keys.report("field-issues.csv"), csv_text(issues, ISSUE_COLUMNS), "text/csv")
    by_code = Counter((r["dest_object"], r["code"]) for r in rejects)
    issue_codes = Counter((r["dest_object"], r["code"]) for r in issues)
    unmatched = stores.blobs.get_bytes(keys.report("unmatched-technicians.csv")).decode().count("\n") - 1
    lines = ["# Exceptions report", "", f"Run `{run.run_id}`.", "",
             f"- records rejected (not loaded, each with its reason): **{len(rejects)}** — `rejects.csv`",
             f"- field-level changes (truncated, left empty, defaulted): **{len(issues)}** — `field-issues.csv`",
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
        "finished_at": now_iso(), "rejected": len(rejects), "field_issues": len(issues),
        "unmatched_technicians": unmatched,
        "objects": {r["mapping"]: {k: r[k] for k in ("source", "loaded", "rejected", "filtered_out", "destination")}
                    for r in recon["mappings"]},
    }
    stores.blobs.put_json(keys.report("summary.json"), summary)
    reports = [keys.report(n) for n in ("mapping.md", "exceptions.md", "rejects.csv", "field-issues.csv",
                                        "unmatched-technicians.csv", "reconciliation.html", "summary.json")]
    stores.runs.update(run.run_id, status=summary["status"], step="Finalize", summary=summary, reports=reports)
    return {"status": summary["status"], "reports": len(reports)}


def record_failure(run: RunRef, error: dict[str, Any], stores: Stores) -> dict[str, Any]:
    """The run ended on a fatal error: keep what and where, for the person and for resuming."""
    failure = {"error": str(error.get("Error", "")), "cause": str(error.get("Cause", ""))[:4000], "at": now_iso()}
    stores.blobs.put_json(Keys(run).report("failure.json"), failure)
    stores.runs.update(run.run_id, status="failed", failure=failure)
    return {"status": "failed"}
