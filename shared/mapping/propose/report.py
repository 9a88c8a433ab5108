"""The proposer's part of the mapping document: what waits for a person first, then what was applied."""

from __future__ import annotations

from collections import Counter

from shared.mapping.propose.apply import FieldDecision, ProposalReport


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _where(d: FieldDecision) -> str:
    if d.dest is None:
        return "-"
    target = f"{d.dest_object}.{d.dest}" if d.dest_object else d.dest
    return f"new field {target}" if d.new_field else target


def _alternatives(d: FieldDecision) -> str:
    return ", ".join(f"{a.target or 'new field'} ({a.score:.2f})" for a in d.alternatives) or "-"


def proposals_markdown(report: ProposalReport) -> str:
    """Markdown: flagged proposals (a person decides), applied proposals with reasons, and coverage counts."""
    lines = ["## Proposed for what the pair does not cover", "",
             f"Confidence threshold {report.threshold}: proposals at or above it are in the mapping above; "
             "proposals below it are **not** applied and wait for you. Add one by editing the mapping "
             "(`PUT /migrations/{id}/mapping`); what you change is proposed first for this tenant's next run.", ""]
    flagged_objects = [o for o in report.objects if o.status == "flagged"]
    flagged = report.flagged()
    lines += [f"### Needs your decision ({len(flagged_objects)} objects, {len(flagged)} fields)", ""]
    if flagged_objects:
        lines += ["| source object | proposal | confidence | reasons |", "|---|---|---|---|"]
        lines += [f"| {o.source_object} | {o.dest_object or 'new custom object'} | {o.confidence} | "
                  f"{_cell('; '.join(o.reasons))} |" for o in flagged_objects]
        lines.append("")
    if flagged:
        lines += ["| source | proposal | confidence | reasons | alternatives |", "|---|---|---|---|---|"]
        lines += [f"| {d.source_object}.{d.source} | {_where(d)} | {d.confidence} | {_cell('; '.join(d.reasons))} "
                  f"| {_cell(_alternatives(d))} |" for d in flagged]
        lines.append("")
    if not flagged and not flagged_objects:
        lines += ["Nothing: every proposal is confident.", ""]
    applied_objects = [o for o in report.objects if o.status == "applied"]
    if applied_objects:
        lines += ["### Tenant objects", "", "| source object | lands in | confidence | reasons |", "|---|---|---|---|"]
        lines += [f"| {o.source_object} | {o.dest_object}{' (new)' if o.new_object else ''} | {o.confidence} | "
                  f"{_cell('; '.join(o.reasons))} |" for o in applied_objects]
        lines.append("")
    applied = [d for d in report.fields if d.status == "applied" and not d.flag and d.dest]
    if applied:
        lines += ["### Applied proposals", "", "| source | lands in | confidence | origin | reasons | alternatives |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {d.source_object}.{d.source} | {_where(d)} | {d.confidence} | {d.origin} | "
                  f"{_cell('; '.join(d.reasons))} | {_cell(_alternatives(d))} |" for d in applied]
        lines.append("")
    skipped = [d for d in report.fields if d.status == "skipped"]
    counts = Counter(d.status for d in report.fields)
    lines += ["### Every source field", "",
              f"{counts['pair']} placed by the pair, {counts['applied']} by proposals, {counts['flagged']} waiting "
              f"for you, {counts['skipped']} deliberately skipped (listed in `proposals.json` with the reason):", ""]
    reasons = Counter(d.reasons[0] if d.reasons else "" for d in skipped)
    lines += [f"- {n} skipped: {_cell(why)}" for why, n in reasons.most_common()]
    return "\n".join(lines) + "\n"
