"""Sercom's normalisation into the canonical model: the facts discovery reads beyond the catalog.

Sercom declares pick-list values, but its history holds dirtier ones; the mapping must cover every
value actually used. So discovery pages the few objects whose values drive the spec and reports,
as JSON-ready facts a pair reads (never records):

- every distinct work-order status, priority and type, with counts, and how many work orders carry
  a revenue amount per type (to size a split between two destination objects);
- customer duplicates by name + domain (``shared.canonical.customer_duplicates``);
- product names, and duplicate names merged (a product's name is a match key in some destinations);
- the deal pipeline's stages (order, closed, won) for stage-by-stage value maps;
- how many service locations each customer has (those with more than one), for hierarchy reviews.
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
    for wo in _read(source, catalog, "work_orders"):
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
    return {
        "locations": {"per_customer": {c: n for c, n in sorted(per_customer.items()) if c and n > 1}},
        "work_orders": {"status": dict(status), "priority": dict(priority), "type": dict(types),
                        "with_amount": dict(with_amount), "total": sum(types.values())},
        "customers": customer_duplicates(_read(source, catalog, "customers")),
        "products": {"names": {str(p["id"]): str(p.get("name") or "") for p in products},
                     "merged": product_merged},
        "pipeline_stages": stages,
    }
