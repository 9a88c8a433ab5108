"""Sercom's normalisation into the canonical model: the facts discovery reads beyond the catalog.

Sercom declares pick-list values, but its history holds dirtier ones; the mapping must cover every
value actually used. So discovery pages the few objects whose values drive the spec and reports,
as JSON-ready facts a pair reads (never records):

- every distinct work-order status, priority and type, with counts, and how many work orders carry
  a revenue amount per type (to size a split between two destination objects);
- customer duplicates by name + domain (``shared.canonical.customer_duplicates``);
- product names, and duplicate names merged (a product's name is a match key in some destinations);
- the deal pipeline's stages (order, closed, won) for stage-by-stage value maps;
- how many service locations each customer has (those with more than one), for hierarchy reviews;
- the pre-migration data-quality audit: orphaned locations (no existing customer), work orders without a
  technician or an existing customer, custom-field usage, attachment volume and sizes (:func:`audit_markdown`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from shared.canonical import customer_duplicates, name_key, oldest
from shared.connectors.source import Source
from shared.models import SourceCatalog

PAGE = 1000


def _read(source: Source, catalog: SourceCatalog, obj: str) -> Iterator[dict[str, Any]]:
    if not any(o.name == obj for o in catalog.objects):
        return
    for page in source.pages(obj, page_size=PAGE):
        yield from page


def discovery_facts(source: Source, catalog: SourceCatalog) -> dict[str, Any]:
    """The facts above, from one pass over work orders, customers, products and pipeline stages."""
    status: Counter[str] = Counter()
    priority: Counter[str] = Counter()
    types: Counter[str] = Counter()
    with_amount: Counter[str] = Counter()
    custom: dict[str, Counter[str]] = {"customers": Counter(), "work_orders": Counter()}
    customers = list(_read(source, catalog, "customers"))
    customer_ids = {str(c.get("id")) for c in customers}
    no_technician = no_customer = 0
    for wo in _read(source, catalog, "work_orders"):
        custom["work_orders"].update(k for k, v in (wo.get("custom_fields") or {}).items() if v not in (None, ""))
        no_technician += not wo.get("technician_id")
        no_customer += str(wo.get("customer_id") or "") not in customer_ids
        status[str(wo.get("status") or "")] += 1
        priority[str(wo.get("priority") or "")] += 1
        kind = str(wo.get("type") or "")
        types[kind] += 1
        if wo.get("revenue") not in (None, ""):
            with_amount[kind] += 1
    products = list(_read(source, catalog, "products"))
    by_name: dict[str, list[dict[str, Any]]] = {}
    for p in products:
        by_name.setdefault(name_key(p.get("name")), []).append(p)
    product_merged = {str(p["id"]): str(oldest(group)["id"])
                      for key, group in by_name.items() if key and len(group) > 1
                      for p in group if p is not oldest(group)}
    stages = [{k: s.get(k) for k in ("id", "name", "sort_order", "probability", "is_closed", "is_won")}
              for s in _read(source, catalog, "pipeline_stages")]
    per_customer: Counter[str] = Counter(str(loc.get("customer_id") or "") for loc in
                                         _read(source, catalog, "locations"))
    for c in customers:
        custom["customers"].update(k for k, v in (c.get("custom_fields") or {}).items() if v not in (None, ""))
    sizes = [int(a.get("size_bytes") or 0) for a in _read(source, catalog, "attachments")]
    return {
        "audit": {
            "locations_without_customer": sum(n for c, n in per_customer.items() if c not in customer_ids),
            "work_orders_without_technician": no_technician, "work_orders_without_customer": no_customer,
            "custom_field_usage": {obj: dict(sorted(used.items())) for obj, used in custom.items()},
            "attachments": {"count": len(sizes), "bytes": sum(sizes),
                            "average_bytes": round(sum(sizes) / len(sizes)) if sizes else 0,
                            "largest_bytes": max(sizes, default=0)},
        },
        "locations": {"per_customer": {c: n for c, n in sorted(per_customer.items()) if c and n > 1}},
        "work_orders": {"status": dict(status), "priority": dict(priority), "type": dict(types),
                        "with_amount": dict(with_amount), "total": sum(types.values())},
        "customers": customer_duplicates(customers),
        "products": {"names": {str(p["id"]): str(p.get("name") or "") for p in products},
                     "merged": product_merged},
        "pipeline_stages": stages,
    }


def audit_markdown(facts: dict[str, Any]) -> str:
    """The pre-migration data-quality report a team reviews before the scope is confirmed (seed 004, step 1)."""
    audit = facts.get("audit") or {}
    files = audit.get("attachments") or {}
    lines = ["# Sercom data-quality audit", "",
             f"- service locations without an existing customer (orphans, rejected at load): "
             f"**{audit.get('locations_without_customer', 0)}**",
             f"- work orders without a technician: **{audit.get('work_orders_without_technician', 0)}**",
             f"- work orders without an existing customer: **{audit.get('work_orders_without_customer', 0)}**",
             f"- attachments: **{files.get('count', 0)}**, {files.get('bytes', 0)} bytes in all, "
             f"{files.get('average_bytes', 0)} bytes on average, the largest {files.get('largest_bytes', 0)} bytes",
             "", "## Custom-field usage (records with a value)", "", "| object | field | records |", "|---|---|---|"]
    for obj, used in sorted((audit.get("custom_field_usage") or {}).items()):
        lines += [f"| {obj} | {name} | {n} |" for name, n in used.items()]
    return "\n".join(lines) + "\n"
