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
from shared.scratch import scratch_db

PAGE = 1000


def _read(source: Source, catalog: SourceCatalog, obj: str) -> Iterator[dict[str, Any]]:
    if not any(o.name == obj for o in catalog.objects):
        return
    for page in source.pages(obj, page_size=PAGE):
        yield from page


_FACTS = """
CREATE TABLE customer (id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE ref (kind TEXT, customer_id TEXT);
"""


def discovery_facts(source: Source, catalog: SourceCatalog) -> dict[str, Any]:
    """The facts above, from one pass over work orders, customers, products and pipeline stages.

    Records stream through a page at a time; the questions asked across objects (a work order's or a
    location's customer that does not exist, locations per customer) go to a scratch SQLite file, so
    no list of customers, locations or files is held whatever the tenant's size."""
    status: Counter[str] = Counter()
    priority: Counter[str] = Counter()
    types: Counter[str] = Counter()
    with_amount: Counter[str] = Counter()
    custom: dict[str, Counter[str]] = {"customers": Counter(), "work_orders": Counter()}
    no_technician = 0
    with scratch_db(_FACTS, prefix="facts-") as db:
        def customers() -> Iterator[dict[str, Any]]:
            for c in _read(source, catalog, "customers"):
                custom["customers"].update(k for k, v in (c.get("custom_fields") or {}).items() if v not in (None, ""))
                db.execute("INSERT OR IGNORE INTO customer VALUES (?)", (str(c.get("id")),))
                yield c

        duplicates = customer_duplicates(customers())

        def work_orders() -> Iterator[tuple[str, str]]:
            nonlocal no_technician
            for wo in _read(source, catalog, "work_orders"):
                custom["work_orders"].update(k for k, v in (wo.get("custom_fields") or {}).items()
                                             if v not in (None, ""))
                no_technician += not wo.get("technician_id")
                status[str(wo.get("status") or "")] += 1
                priority[str(wo.get("priority") or "")] += 1
                kind = str(wo.get("type") or "")
                types[kind] += 1
                if wo.get("revenue") not in (None, ""):
                    with_amount[kind] += 1
                yield "work_order", str(wo.get("customer_id") or "")

        db.executemany("INSERT INTO ref VALUES (?, ?)", work_orders())
        db.executemany("INSERT INTO ref VALUES (?, ?)", (("location", str(loc.get("customer_id") or ""))
                                                         for loc in _read(source, catalog, "locations")))
        missing = dict(db.execute("""SELECT kind, COUNT(*) FROM ref
                                     WHERE NOT EXISTS (SELECT 1 FROM customer c WHERE c.id = ref.customer_id)
                                     GROUP BY kind""").fetchall())
        per_customer = dict(db.execute("""SELECT customer_id, COUNT(*) FROM ref WHERE kind = 'location'
                                          AND customer_id != '' GROUP BY customer_id HAVING COUNT(*) > 1
                                          ORDER BY customer_id""").fetchall())
    names: dict[str, str] = {}
    by_name: dict[str, list[dict[str, str]]] = {}
    for p in _read(source, catalog, "products"):
        names[str(p["id"])] = str(p.get("name") or "")
        by_name.setdefault(name_key(p.get("name")), []).append(
            {"id": str(p["id"]), "created_at": str(p.get("created_at") or "")})
    product_merged = {p["id"]: oldest(group)["id"]
                      for key, group in by_name.items() if key and len(group) > 1
                      for p in group if p is not oldest(group)}
    stages = [{k: s.get(k) for k in ("id", "name", "sort_order", "probability", "is_closed", "is_won")}
              for s in _read(source, catalog, "pipeline_stages")]
    files = {"count": 0, "bytes": 0, "largest_bytes": 0}
    for a in _read(source, catalog, "attachments"):
        size = int(a.get("size_bytes") or 0)
        files["count"] += 1
        files["bytes"] += size
        files["largest_bytes"] = max(files["largest_bytes"], size)
    return {
        "audit": {
            "locations_without_customer": missing.get("location", 0),
            "work_orders_without_technician": no_technician,
            "work_orders_without_customer": missing.get("work_order", 0),
            "custom_field_usage": {obj: dict(sorted(used.items())) for obj, used in custom.items()},
            "attachments": {"count": files["count"], "bytes": files["bytes"],
                            "average_bytes": round(files["bytes"] / files["count"]) if files["count"] else 0,
                            "largest_bytes": files["largest_bytes"]},
        },
        "locations": {"per_customer": per_customer},
        "work_orders": {"status": dict(status), "priority": dict(priority), "type": dict(types),
                        "with_amount": dict(with_amount), "total": sum(types.values())},
        "customers": duplicates,
        "products": {"names": names, "merged": product_merged},
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
