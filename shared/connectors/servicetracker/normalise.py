"""ServiceTracker's normalisation into the canonical model, and its pre-flight check.

The facts discovery reads beyond the catalog (JSON-ready, never records):

- work orders: every distinct type, status and priority with counts, each status and priority with
  its canonical word (``shared.canonical``), and how many carry a project (the project <-> work order
  cycle the plan breaks);
- projects: how many are billable (Opportunity) and how many are not (``Project__c``);
- clients: duplicates by name + domain, and the clients with more than one location (their
  locations become site records; a single site is the Account's shipping address);
- attachments: the files above Salesforce's 25 MB default, flagged for the plan.

:func:`preflight` (the connector's ``preflight()``): the mobile devices holding offline changes the server
has not received. While any device holds some, the full run is blocked (``blocking``) until they sync or
a person overrides it at the sample sign-off (``shared.domain.preflight``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from shared.canonical import customer_duplicates, priority_of, state_of
from shared.models import SourceCatalog

if TYPE_CHECKING:
    from shared.connectors.servicetracker.client import ServiceTrackerSource

#: Salesforce's default file size limit (seed 003: "File size limits (Salesforce default 25MB per file)").
LARGE_FILE_BYTES = 25 * 1024 * 1024


def _read(source: ServiceTrackerSource, catalog: SourceCatalog, obj: str) -> Iterator[dict[str, Any]]:
    if not any(o.name == obj and o.count for o in catalog.objects):
        return
    for rows in source.export(obj):
        yield from rows


def preflight(source: ServiceTrackerSource) -> dict[str, Any]:
    """Devices with unsynced offline data: what blocks the full run, per device and technician."""
    status = source.sync_status()
    summary = status.get("summary") or {}
    devices = [{k: d.get(k) for k in ("device_id", "technician_id", "platform", "last_sync_at", "unsynced_changes",
                                      "oldest_unsynced_change_at", "unsynced_by_object")}
               for d in status.get("devices") or [] if d.get("unsynced_changes")]
    blocking = bool(devices)
    return {"check": "mobile_sync", "blocking": blocking,
            "message": (f"{len(devices)} mobile devices hold {summary.get('unsynced_changes', 0)} offline changes not "
                        "yet synced; the full run waits until they sync or a person overrides this at sign-off")
            if blocking else "every mobile device has synced",
            "summary": summary, "devices": devices}


def discovery_facts(source: ServiceTrackerSource, catalog: SourceCatalog, parallel: int = 1) -> dict[str, Any]:
    """What the pair's rules need to know about the tenant, one export job per object read; the reads
    are independent, so up to ``parallel`` of them (the source's concurrent-export limit) run at once."""

    def work_orders() -> dict[str, Any]:
        types: Counter[str] = Counter()
        status: Counter[str] = Counter()
        priority: Counter[str] = Counter()
        with_project = 0
        for wo in _read(source, catalog, "work_orders"):
            types[str(wo.get("type") or "")] += 1
            status[str(wo.get("status") or "")] += 1
            priority[str(wo.get("priority") or "")] += 1
            with_project += wo.get("project_id") is not None
        return {"type": dict(types), "status": dict(status), "priority": dict(priority),
                "state_of": {s: state_of(s) for s in status}, "priority_of": {p: priority_of(p) for p in priority},
                "with_project": with_project, "total": sum(types.values())}

    def projects() -> dict[str, int]:
        billable: Counter[str] = Counter()
        for p in _read(source, catalog, "projects"):
            billable["billable" if p.get("billable") else "not_billable"] += 1
        return dict(billable)

    def multi_site_clients() -> list[str]:
        sites: Counter[str] = Counter()
        for loc in _read(source, catalog, "locations"):
            sites[str(loc.get("client_id"))] += 1
        return sorted((c for c, n in sites.items() if n > 1), key=lambda c: (len(c), c))

    def large_files() -> list[dict[str, Any]]:
        return [{"id": str(a["id"]), "file_name": str(a.get("file_name") or ""),
                 "size_bytes": int(a.get("size_bytes") or 0), "parent_type": str(a.get("parent_type") or ""),
                 "parent_id": str(a.get("parent_id") or "")}
                for a in _read(source, catalog, "attachments") if int(a.get("size_bytes") or 0) > LARGE_FILE_BYTES]

    def customers() -> Any:
        return customer_duplicates(_read(source, catalog, "clients"))

    readers: dict[str, Callable[[], Any]] = {"work_orders": work_orders, "projects": projects,
                                             "customers": customers, "multi_site_clients": multi_site_clients,
                                             "large_files": large_files}
    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="st-facts") as pool:
        futures = {name: pool.submit(read) for name, read in readers.items()}
        return {name: future.result() for name, future in futures.items()}
