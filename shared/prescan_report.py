"""The pre-scan as documents people read: ``preflight.html`` (whole) and its summary in the mapping document.

Both are made from ``preflight.json`` (``shared.domain.prescan``), so the page, the sign-off and the machine
file never disagree. Long lists are cut on the page; the predicted rejects and the orphan references are whole
in their JSON-lines listings (``preflight-rejects.jsonl``, ``preflight-orphans.jsonl``, the groups of shared
e-mails and phones in ``preflight-duplicates.jsonl``), ``preflight.json``
keeping their counts and first rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.reports import mapping_html

#: Rows shown per table on the page.
PAGE_ROWS = 200

_LABELS = {
    "orphan_references": "references to records the source does not hold",
    "load_rejects": "records the load will reject (their own values or a missing parent)",
    "orphans_rejected": "of them rejected as orphans",
    "unassigned": "records without an assigned technician",
    "invalid_emails": "invalid e-mails",
    "duplicate_emails": "records sharing an e-mail",
    "invalid_phones": "invalid phones",
    "duplicate_phones": "records sharing a phone",
    "invalid_dates": "invalid dates",
    "technicians_without_active_user": "technicians without an active destination user",
    "files_over_limit": "files over the destination's limit",
    "unmapped_picklist_values": "pick-list values without a translation",
    "records_on_cycles": "records on a reference cycle",
    "control_characters": "text values holding control characters",
}


def _cell(value: object) -> str:
    text = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "'")


def _table(header: list[str], rows: Iterable[Iterable[object]], *, total: int | None = None,
           rest_in: str = "preflight.json") -> list[str]:
    """A Markdown table of the first :data:`PAGE_ROWS` rows; ``total`` when ``rows`` are only the first of
    a listing whose whole is in ``rest_in``."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    listed = list(rows)
    out += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in listed[:PAGE_ROWS]]
    whole = len(listed) if total is None else total
    if whole > PAGE_ROWS:
        out.append(f"\n… {whole - PAGE_ROWS:,} more rows in `{rest_in}`")
    return [*out, ""] if listed else ["None found.", ""]


def _mb(n: object) -> str:
    return "unknown" if n is None else f"{int(str(n)) / 1_048_576:,.1f} MB"


def summary_lines(scan: Mapping[str, Any]) -> list[str]:
    """One line per finding that is not zero (what the sign-off mail and Slack message show)."""
    s = scan["summary"]
    lines = [f"pre-scan: {s['records']:,} records, {s['files']:,} files"]
    lines += [f"pre-scan: {s[k]:,} {label}" for k, label in _LABELS.items() if s.get(k)]
    dest = scan["destination"]
    lines += [f"pre-scan: {dest['platform']} {what}: {dest[key]['status']} ({dest[key]['note']})"
              for key, what in (("api_budget", "API budget"), ("storage", "storage"),
                                ("custom_objects", "custom objects"))]
    return lines


def preflight_markdown(scan: Mapping[str, Any], *, whole: bool = False) -> str:
    """The pre-scan in Markdown: its summary (the mapping document's section) or ``whole`` (the page)."""
    s = scan["summary"]
    lines = ["## Data-quality pre-scan", "",
             f"Read from the source before any write ({scan['scanned_at']}); whole report: `preflight.html`.", ""]
    lines += _table(["finding", "count"], [[label, f"{s[k]:,}"] for k, label in _LABELS.items()])
    dest = scan["destination"]
    lines += [f"### {dest['platform']}", ""]
    lines += _table(["check", "needed", "left", "status", "note"], [
        ["API budget", f"{dest['api_budget']['needed']:,} {dest['api_budget']['unit']}",
         "unknown" if dest["api_budget"]["left"] is None else f"{dest['api_budget']['left']:,}",
         dest["api_budget"]["status"], dest["api_budget"]["note"]],
        ["data storage", _mb(dest["storage"]["data_needed_bytes"]), _mb(dest["storage"]["data_left_bytes"]),
         dest["storage"]["status"], dest["storage"]["note"]],
        ["file storage", _mb(dest["storage"]["files_needed_bytes"]), _mb(dest["storage"]["files_left_bytes"]),
         dest["storage"]["status"], ""],
        ["custom objects", len(dest["custom_objects"]["to_create"]), dest["custom_objects"]["ceiling"] or "no ceiling",
         dest["custom_objects"]["status"], dest["custom_objects"]["note"]],
    ])
    lines += [f"- {n}" for n in dest["notes"]] + [""]
    if not whole:
        return "\n".join(lines)
    lines += ["## Records by object", ""]
    lines += _table(["object", "records"], [[o, f"{n:,}"] for o, n in scan["counts"].items()])
    lines += ["## Records the load will reject", ""]
    lines += _table(["object", "id", "into", "code", "field", "reason"],
                    [[r["source_object"], r["source_id"], r["dest_object"], r["code"], r["field"], r["reason"]]
                     for r in scan["load_rejects"]],
                    total=s["load_rejects"], rest_in=scan["listings"]["load_rejects"])
    lines += ["## Orphans by relation", "", f"Every orphan reference, one per line: `{scan['listings']['orphans']}`.",
              ""]
    lines += _table(["object", "field", "points at", "count", "what the load does", "records (id → missing id)"],
                    [[o["object"], o["field"], o["target"], o["count"], o["load_does"],
                      [f"{r['id']} → {r['ref']}" for r in o["records"][:25]]] for o in scan["orphans"]])
    people = scan["unassigned"]["people_object"] or "technicians"
    lines += [f"## Records with no {people} assigned", ""]
    lines += _table(["object", "field", "count", "first ids"],
                    [[r["object"], r["field"], r["count"], r["ids"]] for r in scan["unassigned"]["relations"]])
    for kind in ("emails", "phones", "dates"):
        lines += [f"## Invalid {kind}", ""]
        lines += _table(["object", "field", "count", "first ids"],
                        [[r["object"], r["field"], r["count"], r["ids"]] for r in scan[kind]["invalid"]])
        if "duplicates" in scan[kind]:
            lines += [f"## Duplicate {kind}", ""]
            lines += _table(["object", "field", "value", "records", "ids"],
                            [[r["object"], r["field"], r["value"], r["count"], r["ids"]]
                             for r in scan[kind]["duplicates"]],
                            total=s[f"duplicate_{kind}_groups"], rest_in=scan["listings"]["duplicates"])
    lines += ["## Technicians without an active destination user", ""]
    lines += _table(["technician", "name", "email", "reason"],
                    [[t["technician_id"], t["name"], t["email"], t["reason"]]
                     for t in scan["technicians_without_active_user"]])
    lines += ["## Files", ""]
    lines += _table(["object", "files", "total", "average", "largest", "limit", "over the limit"],
                    [[f["object"], f"{f['count']:,}", _mb(f["total_bytes"]), _mb(f["average_bytes"]),
                      _mb(f["largest_bytes"]), "none declared" if f["limit_bytes"] is None else _mb(f["limit_bytes"]),
                      [f"{o['id']} {o['file_name']} ({_mb(o['size_bytes'])})" for o in f["over_limit"]]]
                     for f in scan["attachments"]])
    lines += ["## Custom-field fill rates", ""]
    lines += _table(["object", "field", "filled", "rate"],
                    [[f["object"], f["field"], f"{f['filled']:,} of {f['records']:,}", f"{f['rate']:.0%}"]
                     for f in scan["custom_field_fill"]])
    lines += ["## Pick-list values without a translation", ""]
    lines += _table(["mapping", "destination field", "source field", "values (records)"],
                    [[p["mapping"], p["dest_field"], p["source_field"],
                      [f"{v} ({n})" for v, n in p["values"].items()]] for p in scan["unmapped_picklist_values"]])
    lines += ["## Reference cycles", ""]
    lines += _table(["object", "records", "through fields", "first ids"],
                    [[c["object"], c["count"], c["fields"], c["ids"]] for c in scan["cycles"]])
    lines += ["## Control characters in text", ""]
    lines += _table(["object", "field", "records", "first ids"],
                    [[c["object"], c["field"], c["count"], c["ids"]] for c in scan["control_characters"]])
    return "\n".join(lines)


def preflight_html(scan: Mapping[str, Any]) -> str:
    """The whole pre-scan as a self-contained page."""
    title = f"Pre-scan {scan['run_id']} ({scan['pair']})"
    return mapping_html(f"# {title}\n\n" + preflight_markdown(scan, whole=True), title)
