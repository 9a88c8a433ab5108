"""The sample-migration diff page a person signs off: what each field was, became, and reads back as.

Self-contained HTML (inline CSS, no script, nothing fetched). At the top, a summary per
mapping with the count of each flag; then every flagged field, grouped by mapping (the rows a
reviewer must look at); then, folded per mapping, every field of every sample record.
Flagged cells carry ``data-flag`` attributes and rows ``data-field`` / ``data-source-id`` so a
test can check what is shown without reading pixels.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from shared.report_html import CSS, FAIL, PASS

FLAG_HELP = {
    "truncated": "the value was longer than the destination field and was cut",
    "picklist_mismatch": "the pick-list value had no mapping, or the destination holds another value",
    "lookup_failed": "a reference did not resolve to a destination record",
    "type_coerced": "the value was converted (date, number, boolean) or dropped as invalid",
    "readback_mismatch": "the destination holds something other than what was written",
    "rejected": "the record was not loaded",
}
EXTRA_CSS = f"""
td.flagged{{background:#fdecea}} .flag{{display:inline-block;border-radius:8px;padding:1px 6px;margin:1px;
  font-size:11px;color:#fff;background:{FAIL}}}
.ok{{color:{PASS}}} code{{font-size:12px;white-space:pre-wrap;word-break:break-word}}
td.v{{max-width:280px}}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _cut(value: str, width: int = 160) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def _row(r: Mapping[str, Any]) -> str:
    flags = "".join(f'<span class="flag" data-flag="{_e(f)}" title="{_e(FLAG_HELP.get(f, f))}">{_e(f)}</span>'
                    for f in r["flags"]) or '<span class="ok">ok</span>'
    cls = ' class="flagged"' if r["flags"] else ""
    return (f'<tr data-mapping="{_e(r["mapping"])}" data-source-id="{_e(r["source_id"])}" '
            f'data-field="{_e(r["field"])}" data-flags="{_e(" ".join(r["flags"]))}">'
            f"<td>{_e(r['source_id'])}</td><td>{_e(r['field'])}</td><td>{_e(r['source_field'])}</td>"
            f"<td class='v'><code>{_e(_cut(r['source_value']))}</code></td>"
            f"<td class='v'><code>{_e(_cut(r['transformed_value']))}</code></td>"
            f"<td class='v'><code>{_e(_cut(r['readback_value']))}</code></td>"
            f"<td{cls}>{flags}</td><td class='muted'>{_e(r['detail'])}</td></tr>")


_HEAD = ("<tr><th>source id</th><th>field</th><th>from</th><th>source value</th><th>transformed</th>"
         "<th>read back</th><th>flags</th><th>detail</th></tr>")


def sample_diff_html(run_id: str, summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> str:
    flagged = [r for r in rows if r["flags"]]
    by_mapping: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        by_mapping[r["mapping"]].append(r)
    flag_names = list(FLAG_HELP)
    head = "".join(f"<th>{_e(f)}</th>" for f in flag_names)
    table = "".join(
        f"<tr><td>{_e(m['mapping'])}</td><td>{_e(m['dest_object'])}</td><td class='n'>{m['records']}</td>"
        f"<td class='n'>{m['fields']}</td>" + "".join(
            f"<td class='n{' flagged' if m[f] else ''}'>{m[f]}</td>" for f in flag_names) + "</tr>"
        for m in summary["mappings"])
    missing = summary.get("custom_fields_not_in_sample") or []
    verdict = "pass" if not flagged else "fail"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>Sample diff {_e(run_id)}</title><style>{CSS}{EXTRA_CSS}</style></head><body>",
        f'<header class="verdict {verdict}" id="verdict" data-flagged="{len(flagged)}">',
        f"<h1>Sample migration: {len(flagged)} flagged of {summary['fields']} fields</h1>",
        f"<p>Run <b>{_e(run_id)}</b> · {summary['records']} records ({summary['files']} with files) loaded, "
        "read back and compared. Approve to run the full migration, or reject with a reason.</p></header><main>",
        "<h2>Per mapping</h2><table id='summary'><tr><th>mapping</th><th>destination</th><th>records</th>"
        f"<th>fields</th>{head}</tr>{table}</table>",
        "<p class='muted'>" + " · ".join(f"<b>{_e(k)}</b>: {_e(v)}" for k, v in FLAG_HELP.items()) + "</p>",
    ]
    if missing:
        parts.append("<p class='muted' id='not-covered'>Custom fields no sample record carries a value for: "
                     + ", ".join(f"<code>{_e(m)}</code>" for m in missing) + "</p>")
    parts.append(f"<h2 id='flagged'>Flagged fields ({len(flagged)})</h2>")
    if flagged:
        parts.append(f"<table id='flagged-table'>{_HEAD}" + "".join(_row(r) for r in flagged) + "</table>")
    else:
        parts.append("<p class='ok'>Every field read back as transformed, and nothing was flagged.</p>")
    parts.append("<h2>Every field, by mapping</h2>")
    for name, group in by_mapping.items():
        n_flagged = sum(1 for r in group if r["flags"])
        parts.append(f"<details><summary>{_e(name)}: {len({r['source_id'] for r in group})} records, "
                     f"{len(group)} fields, {n_flagged} flagged</summary><table>{_HEAD}"
                     + "".join(_row(r) for r in group) + "</table></details>")
    parts.append("</main></body></html>")
    return "".join(parts)
