"""Reports a person reads: the mapping document, exceptions, reconciliation.

Each report exists as a machine-readable file (JSON/CSV) and a readable one (Markdown or
HTML). Reports carry record ids and field values, never credentials.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable, Iterator
from typing import Any

from markdown_it import MarkdownIt

from shared import report_html
from shared.connectors import registry
from shared.mapping.spec import MigrationSpec
from shared.models import DestCatalog, SourceCatalog

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet will not run as a formula: a string starting with =, +, -, @, tab or CR
    gets a leading ``'`` (OWASP's CSV-injection advice); numbers are left alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


#: Roughly how many characters of CSV :func:`csv_chunks` gathers before handing a piece on.
CSV_CHUNK_CHARS = 64 * 1024


def csv_chunks(rows: Iterable[dict[str, Any]], columns: list[str]) -> Iterator[str]:
    """The CSV of ``rows`` (header first, ``\n`` line ends, cells through :func:`csv_cell`, columns not
    listed ignored) in pieces of about :data:`CSV_CHUNK_CHARS`: joined, they are :func:`csv_text`; the rows
    are consumed as the pieces are, so a long CSV never exists whole in memory."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: csv_cell(value) for key, value in row.items()})
        if buf.tell() >= CSV_CHUNK_CHARS:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue()


def csv_text(rows: Iterable[dict[str, Any]], columns: list[str]) -> str:
    return "".join(csv_chunks(rows, columns))


def _md_escape(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _labels(pair: str) -> tuple[str, str, Any]:
    """``sercom-dynamics`` -> (``Sercom``, ``Dynamics 365``, its capabilities), from the registry."""
    source_kind, _, dest_kind = pair.partition("-")
    dest = registry.destination(dest_kind)
    return registry.source(source_kind).label, dest.label, dest.capabilities


def destination_name(pair: str) -> str:
    """``sercom-dynamics`` -> ``Dynamics 365`` (what the documents call the destination)."""
    return _labels(pair)[1]


def mapping_html(markdown: str, title: str) -> str:
    """The mapping document as a self-contained page (raw HTML in the source is escaped, not passed)."""
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{MAPPING_CSS}</style></head><body><main>{body}</main>"
            "</body></html>")


MAPPING_CSS = """body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;color:#222;
background:#fafafa} main{max-width:1180px;margin:0 auto;padding:24px} table{border-collapse:collapse;background:#fff;
font-size:13px;margin:8px 0} th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0} code{font-size:12px}"""


def mapping_markdown(spec: MigrationSpec, source: SourceCatalog, dest: DestCatalog) -> str:
    """The field-level mapping document reviewed and approved before any record moves."""
    source_label, where, caps = _labels(spec.pair)
    ts = caps.timestamps
    counts = {o.name: o.count for o in source.objects}
    lines = [
        f"# Mapping document — {spec.pair}",
        "",
        f"Destination: {dest.instance}. External id on every object: `{spec.external_id_field}` "
        f"(value `<{source_label} object>:<{source_label} id>`, so reruns upsert and never duplicate).",
        "",
        "Original timestamps: " + (
            f"{'/'.join(n for n in (ts.native_created, ts.native_modified) if n)} set on insert (permission present)"
            if spec.audit_fields else
            f"{ts.custom_created[0]} / {ts.custom_modified[0]} (no permission to set the platform's own)"),
        "",
        "## Objects",
        "",
        f"| # | {source_label} object | records | {where} object | notes |",
        "|---|---|---|---|---|",
    ]
    for i, m in enumerate(spec.mappings, 1):
        lines.append(f"| {i} | {m.source_object} | {counts.get(m.source_object, '')} | {m.dest_object} | "
                     f"{_md_escape(m.description)} |")
    lines += ["", "## Schema created before loading", ""]
    lines += [f"- custom object `{o.name}` ({o.label})" for o in spec.custom_objects]
    lines += ["", "| object | field | type | details | from |", "|---|---|---|---|---|"]
    for f in spec.custom_fields:
        details = []
        if f.length:
            details.append(f"length {f.length}")
        if f.picklist_values:
            details.append("values: " + ", ".join(f.picklist_values))
        if f.reference_to:
            details.append(f"-> {f.reference_to}")
        if f.external_id:
            details.append("external id, unique")
        lines.append(f"| {f.object} | `{f.name}` | {f.type} | {_md_escape('; '.join(details))} | {f.source or ''} |")
    for m in spec.mappings:
        lines += ["", f"## {m.name}", ""]
        if m.where:
            lines.append("Only records where " + ", ".join(f"`{k}` in {v}" for k, v in m.where.items()) + ".")
        if m.convert:
            rule = [f"`{k}` in {v}" for k, v in m.convert.where.items()] + [f"`{p}` set" for p in m.convert.present]
            links = ", ".join(f"{lk.dest} from `{lk.source}`" for lk in m.convert.link)
            lines.append(f"Then converted into {m.convert.into} ({' and '.join(rule) or 'every record'}"
                         f"{'; attached to ' + links if links else ''}).")
        lines += [f"| {where} field | from | transform | values |", "|---|---|---|---|"]
        for fr in m.fields:
            src = fr.source or ", ".join(fr.sources) or repr(fr.constant)
            values = ", ".join(f"{k} → {v}" for k, v in (fr.value_map or {}).items())
            extra = f" (max {fr.max_length})" if fr.max_length else ""
            lines.append(f"| {fr.dest} | {src} | {fr.transform}{extra} | {_md_escape(values)} |")
        for lk in m.lookups:
            targets = ", ".join(f"{t.source_object}→{t.dest_object}" for t in lk.all_targets())
            how = "second pass" if lk.deferred else f"if missing: {lk.on_missing}"
            lines.append(f"| {lk.dest} | {lk.source} | lookup ({how}) | {targets} |")
        if m.owner:
            lines.append(f"| {m.owner.dest} | {m.owner.source} | owner by email, else fallback owner | |")
    lines += ["", f"## Owners ({len(spec.owners)} technicians matched by email)", "",
              f"Fallback owner: `{spec.fallback_owner_id}`. Unmatched technicians: `unmatched-technicians.csv`.", ""]
    return "\n".join(lines)


def automation_rules_markdown(source: SourceCatalog, pair: str) -> str:
    source_label, where, _ = _labels(pair)
    lines = [f"# {source_label} automation rules to rebuild natively in {where}", "",
             "Workflows are not migrated; this is the reference for rebuilding them natively.", ""]
    for rule in source.automation_rules:
        lines += [f"## {rule.get('name')} ({rule.get('object')}, {rule.get('trigger')}, "
                  f"{'active' if rule.get('active') else 'inactive'})", ""]
        lines += [f"- when: {c}" for c in rule.get("conditions", [])]
        lines += [f"- then: {a}" for a in rule.get("actions", [])]
        lines.append("")
    return "\n".join(lines)


REJECT_COLUMNS = ["source_object", "source_id", "dest_object", "code", "field", "reason"]
ISSUE_COLUMNS = ["source_object", "source_id", "dest_object", "field", "code", "detail"]


def reconciliation_html(rows: list[dict[str, Any]], passed: bool, run_id: str, *, at: str = "",
                        thresholds: dict[str, Any] | None = None) -> str:
    """The reconciliation page: verdict, summary table, per mapping its charts and checks (see ``report_html``)."""
    return report_html.render(rows, passed, run_id, at=at, thresholds=thresholds)
