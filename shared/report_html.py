"""The reconciliation page a person reads: a verdict, a summary table, and per mapping its charts and checks.

Self-contained: one HTML file with inline CSS and inline SVG (no script, no network, no
fonts to fetch), so it opens the same from S3, a laptop or an e-mail attachment. Charts:
per mapping, the empty-value rate of every profiled field and a histogram per pick-list or
boolean field, what the run sent beside what the destination holds. Failed checks are red,
listed first, and their charts framed in red.

SVG elements carry ``data-*`` attributes (mapping, field, side, value) so a test can check
what was drawn without reading pixels.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

SENT = "#4c78a8"
HELD = "#f58518"
FAIL = "#c62828"
PASS = "#2e7d32"  # noqa: S105 - a colour
MAX_VALUES = 24  # histogram categories drawn; the rest are summed into one bar
CHART_W, LABEL_W, VALUE_W = 520, 170, 70
BAR_H, GROUP_GAP = 11, 8

CSS = f"""
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;color:#222;background:#fafafa}}
main{{max-width:1180px;margin:0 auto;padding:24px}}
h1{{margin:0;font-size:28px}} h2{{font-size:20px;margin:0}} h3{{font-size:15px;margin:16px 0 6px}}
.verdict{{padding:20px 24px;color:#fff}} .verdict.pass{{background:{PASS}}} .verdict.fail{{background:{FAIL}}}
.verdict p{{margin:6px 0 0;opacity:.95}}
table{{border-collapse:collapse;background:#fff;font-size:13px;margin:8px 0}}
th,td{{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}}
th{{background:#f0f0f0}} td.n{{text-align:right;font-variant-numeric:tabular-nums}}
tr.fail td{{background:#fdecea}} tr.pass td.r{{color:{PASS}}} tr.fail td.r{{color:{FAIL};font-weight:600}}
.badge{{display:inline-block;padding:2px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600;
  vertical-align:middle;margin-left:8px}}
.badge.pass{{background:{PASS}}} .badge.fail{{background:{FAIL}}}
section.mapping{{background:#fff;border:1px solid #ddd;border-left:6px solid {PASS};margin:18px 0;padding:14px 18px}}
section.mapping.fail{{border-left-color:{FAIL}}}
.meta{{color:#555;font-size:13px;margin:4px 0 0}}
.failed-list{{color:{FAIL};margin:8px 0;padding-left:20px;font-size:14px}}
.charts{{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}}
figure{{margin:0;border:1px solid #e3e3e3;padding:8px;background:#fff}} figure.fail{{border:2px solid {FAIL}}}
figcaption{{font-size:13px;font-weight:600;margin-bottom:4px}} figure.fail figcaption{{color:{FAIL}}}
.legend span{{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:-1px}}
details summary{{cursor:pointer;font-size:13px;color:#333;margin-top:8px}}
.muted{{color:#777;font-size:12px}}
svg text{{font-family:inherit;font-size:11px;fill:#333}}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _slug(name: str) -> str:
    return "m-" + re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()


def _num(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.4g}"
    return str(value)


def _value(check: Mapping[str, Any], side: str) -> str:
    v = check.get(side)
    if check["check"] == "null_rate" and isinstance(v, (int, float)):
        return f"{v:.2f} %"
    if isinstance(v, dict):
        if check["check"] == "date_range":
            return f"{v.get('min') or '—'} … {v.get('max') or '—'}"
        return ", ".join(f"{k}: {_num(n)}" for k, n in v.items()) or "—"
    return _num(v)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _label(text: str, width: int = 26) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _bars(rows: Sequence[tuple[str, float, float, str, str]], scale: float, kind: str, mapping: str, field: str,
          failed: bool, caption: str, axis: str) -> str:
    """Horizontal grouped bars: per row (label, sent, held, sent text, held text) a blue and an orange bar."""
    group = 2 * BAR_H + GROUP_GAP
    height = 18 + group * len(rows) + 16
    span = CHART_W - LABEL_W - VALUE_W
    parts = [f'<svg class="chart {kind}" data-mapping="{_e(mapping)}" data-field="{_e(field)}" '
             f'data-failed="{str(failed).lower()}" width="{CHART_W}" height="{height}" '
             f'viewBox="0 0 {CHART_W} {height}" role="img" aria-label="{_e(caption)}">',
             f'<line x1="{LABEL_W}" y1="12" x2="{LABEL_W}" y2="{height - 14}" stroke="#999"/>']
    for i, (name, sent, held, sent_text, held_text) in enumerate(rows):
        y = 16 + i * group
        differs = sent != held
        colour = f' style="fill:{FAIL};font-weight:600"' if differs and failed else ""
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + BAR_H + 3}" text-anchor="end"{colour}>'
                     f'<title>{_e(name)}</title>{_e(_label(name))}</text>')
        for j, (side, value, text, fill) in enumerate((("source", sent, sent_text, SENT),
                                                       ("destination", held, held_text, HELD))):
            w = 0.0 if scale <= 0 else span * min(value, scale) / scale
            w = max(w, 1.5) if value > 0 else 0.0
            by = y + j * BAR_H
            parts.append(f'<rect class="bar {side}" data-side="{side}" data-value="{_e(name)}" '
                         f'data-amount="{value:g}" x="{LABEL_W}" y="{by}" width="{w:.1f}" height="{BAR_H - 1}" '
                         f'fill="{fill}"><title>{_e(name)} — {side}: {_e(text)}</title></rect>')
            parts.append(f'<text x="{LABEL_W + w + 4:.1f}" y="{by + BAR_H - 2}" style="font-size:10px">'
                         f'{_e(text)}</text>')
    base = height - 4
    parts.append(f'<text x="{LABEL_W}" y="{base}" class="muted" style="font-size:10px;fill:#777">0</text>')
    parts.append(f'<text x="{LABEL_W + span}" y="{base}" text-anchor="end" style="font-size:10px;fill:#777">'
                 f'{_e(axis)}</text>')
    parts.append("</svg>")
    return (f'<figure class="{"fail" if failed else "pass"}"><figcaption>{_e(caption)}'
            f'{" — differs" if failed else ""}</figcaption>{"".join(parts)}</figure>')


def _null_chart(mapping: str, checks: list[Mapping[str, Any]]) -> str:
    rates = [c for c in checks if c["check"] == "null_rate"]
    if not rates:
        return ""
    top = max([float(c["source"] or 0) for c in rates] + [float(c["destination"] or 0) for c in rates])
    scale = 100.0 if top > 50 else 50.0 if top > 20 else 20.0 if top > 10 else 10.0
    rows = [(str(c["field"]), float(c["source"] or 0), float(c["destination"] or 0),
             f"{float(c['source'] or 0):.1f}%", f"{float(c['destination'] or 0):.1f}%") for c in rates]
    failed = any(not c["passed"] for c in rates)
    return _bars(rows, scale, "null-rate", mapping, "*", failed, "Empty values per field (% of records)",
                 f"{scale:g}%")


def _histogram_chart(mapping: str, check: Mapping[str, Any]) -> str:
    sent: dict[str, int] = dict(check.get("source") or {})
    held: dict[str, int] = dict(check.get("destination") or {})
    values = sorted(set(sent) | set(held), key=lambda v: (-max(sent.get(v, 0), held.get(v, 0)), v))
    rows = [(v, float(sent.get(v, 0)), float(held.get(v, 0)), _num(sent.get(v, 0)), _num(held.get(v, 0)))
            for v in values[:MAX_VALUES]]
    rest = values[MAX_VALUES:]
    if rest:
        s, h = sum(sent.get(v, 0) for v in rest), sum(held.get(v, 0) for v in rest)
        rows.append((f"({len(rest)} other values)", float(s), float(h), _num(s), _num(h)))
    scale = max([r[1] for r in rows] + [r[2] for r in rows] + [1.0])
    return _bars(rows, scale, "histogram", mapping, str(check["field"]), not check["passed"],
                 f"{check['field']} — records per value", _num(int(scale)))


def _checks_table(checks: list[Mapping[str, Any]]) -> str:
    ordered = sorted(checks, key=lambda c: c["passed"])  # failed first, otherwise as computed
    head = "".join(f"<th>{h}</th>" for h in
                   ("check", "field", "sent / source", "destination", "difference", "limit", "result", "note"))
    body = []
    for c in ordered:
        cls = "pass" if c["passed"] else "fail"
        body.append(f'<tr class="{cls}" data-check="{_e(c["check"])}" data-field="{_e(c.get("field") or "")}">'
                    f'<td>{_e(c["check"])}</td><td>{_e(c.get("field") or "")}</td>'
                    f'<td class="n">{_e(_value(c, "source"))}</td><td class="n">{_e(_value(c, "destination"))}</td>'
                    f'<td class="n">{_e(_num(c.get("difference")))}</td><td>{_e(c.get("limit", ""))}</td>'
                    f'<td class="r">{"pass" if c["passed"] else "FAIL"}</td><td>{_e(c.get("note", ""))}</td></tr>')
    return f'<table class="checks"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _totals_table(checks: list[Mapping[str, Any]]) -> str:
    """Sums and date ranges side by side: the numbers a person checks first after counts."""
    body = "".join(
        f'<tr class="{"pass" if c["passed"] else "fail"}" data-check="{_e(c["check"])}" data-field="{_e(c["field"])}">'
        f'<td>{_e(c["field"])}</td><td>{"sum" if c["check"] == "sum" else "earliest … latest"}</td>'
        f'<td class="n">{_e(_value(c, "source"))}</td><td class="n">{_e(_value(c, "destination"))}</td>'
        f'<td class="r">{"pass" if c["passed"] else "FAIL"}</td></tr>' for c in checks)
    return ('<table class="totals"><thead><tr><th>field</th><th>compared</th><th>sent</th><th>destination</th>'
            f"<th>result</th></tr></thead><tbody>{body}</tbody></table>")


def _describe(c: Mapping[str, Any]) -> str:
    where = f"{c['check']}{' of ' + str(c['field']) if c.get('field') else ''}"
    return (f"{where}: sent {_value(c, 'source')}, destination {_value(c, 'destination')} "
            f"(limit {c.get('limit', '')})")


def _section(row: Mapping[str, Any]) -> str:
    name = str(row["mapping"])
    checks: list[Mapping[str, Any]] = list(row.get("checks") or [])
    failed = [c for c in checks if not c["passed"]]
    ok = bool(row["passed"])
    cls = "pass" if ok else "fail"
    out = [f'<section class="mapping {cls}" id="{_slug(name)}" data-mapping="{_e(name)}" '
           f'data-passed="{str(ok).lower()}">',
           f'<h2>{_e(name)}<span class="badge {cls}">{"passed" if ok else "FAILED"}</span></h2>',
           f'<p class="meta">{_e(row.get("dest_object", ""))} · source {_num(row["source"])} · filtered out '
           f'{_num(row["filtered_out"])} · loaded {_num(row["loaded"])} · rejected {_num(row["rejected"])} · '
           f'in destination {_num(row["destination"])} · profiled {_num(row.get("profiled"))}</p>']
    if failed:
        out.append('<ul class="failed-list">' + "".join(f"<li>{_e(_describe(c))}</li>" for c in failed) + "</ul>")
    totals = [c for c in checks if c["check"] in ("sum", "date_range")]
    if totals:
        out.append(_totals_table(totals))
    charts = [_null_chart(name, checks)] + [_histogram_chart(name, c) for c in checks if c["check"] == "histogram"]
    charts = [c for c in charts if c]
    if charts:
        out.append(f'<div class="charts">{"".join(charts)}</div>')
    if checks:
        out.append(f"<details{' open' if failed else ''}><summary>All {len(checks)} checks "
                   f"({len(checks) - len(failed)} passed)</summary>{_checks_table(checks)}</details>")
    skipped: Mapping[str, str] = row.get("not_profiled") or {}
    if skipped:
        out.append('<p class="muted">Not profiled: ' +
                   "; ".join(f"{_e(k)} ({_e(v)})" for k, v in skipped.items()) + "</p>")
    out.append("</section>")
    return "".join(out)


def _summary(rows: Sequence[Mapping[str, Any]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("mapping", "destination object", "source", "filtered out", "loaded",
                                             "rejected", "in destination", "checks passed", "result"))
    body = []
    for r in rows:
        checks = list(r.get("checks") or [])
        good = sum(1 for c in checks if c["passed"])
        cls = "pass" if r["passed"] else "fail"
        body.append(f'<tr class="{cls}" data-mapping="{_e(r["mapping"])}"><td><a href="#{_slug(str(r["mapping"]))}">'
                    f'{_e(r["mapping"])}</a></td><td>{_e(r.get("dest_object", ""))}</td>'
                    + "".join(f'<td class="n">{_num(r[k])}</td>' for k in
                              ("source", "filtered_out", "loaded", "rejected", "destination"))
                    + f'<td class="n">{good} / {len(checks)}</td>'
                    f'<td class="r">{"pass" if r["passed"] else "FAIL"}</td></tr>')
    return f'<table id="summary"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _failures(rows: Sequence[Mapping[str, Any]]) -> str:
    """Every failed check first, each linking to its mapping: what a person must look at."""
    items = [f'<li><a href="#{_slug(str(r["mapping"]))}">{_e(r["mapping"])}</a> — {_e(_describe(c))}</li>'
             for r in rows for c in (r.get("checks") or []) if not c["passed"]]
    return f'<h2>Failed checks</h2><ul class="failed-list" id="failed">{"".join(items)}</ul>' if items else ""


def _thresholds(thresholds: Mapping[str, Any] | None) -> str:
    if not thresholds:
        return ""
    items = "".join(f"<li><code>{_e(k)}</code>: {_e(sorted(v) if isinstance(v, (list, set, frozenset)) else v)}"
                    "</li>" for k, v in thresholds.items())
    return f'<details><summary>Thresholds</summary><ul class="muted">{items}</ul></details>'


def render(rows: Sequence[Mapping[str, Any]], passed: bool, run_id: str, *, at: str = "",
           thresholds: Mapping[str, Any] | None = None) -> str:
    failed_maps = [r for r in rows if not r["passed"]]
    failed_checks = sum(1 for r in rows for c in (r.get("checks") or []) if not c["passed"])
    verdict = "passed" if passed else "FAILED"
    tally = (f"{len(rows) - len(failed_maps)} of {len(rows)} mappings passed"
             + (f"; {_plural(failed_checks, 'failed check')} in {_plural(len(failed_maps), 'mapping')}"
                if failed_maps else ""))
    legend = (f'<p class="legend muted">Charts:<span style="background:{SENT}"></span>sent by the run (source)'
              f'<span style="background:{HELD}"></span>held by the destination. A red frame marks a failed check.</p>')
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>Reconciliation {_e(run_id)} — {verdict}</title><style>{CSS}</style></head><body>"
            f'<header class="verdict {"pass" if passed else "fail"}" id="verdict" data-passed="{str(passed).lower()}">'
            f"<h1>Reconciliation {verdict}</h1><p>Run <b>{_e(run_id)}</b>{' · ' + _e(at) if at else ''} · "
            f"{_e(tally)}</p></header><main>{legend}{_failures(rows)}<h2>Summary</h2>{_summary(rows)}{_thresholds(thresholds)}"
            + "".join(_section(r) for r in rows) + "</main></body></html>")
