"""The canonical field-service model between sources and destinations.

A source maps its records into this vocabulary and owns its normalisation (its folder under
``shared/connectors/<kind>/``); a pair maps out of it into one destination. The model names the
entities a field-service CRM holds and the shared vocabularies their values fall into, so a pair
never matches a source's raw words itself:

- **entities**: :data:`ENTITIES` (customer, location, contact, technician, work order, ...) with the
  role each plays; a source's profile says which of its objects holds each one.
- **work-order states**: raw status words -> :data:`STATES` (open, on hold, waiting, done, cancelled).
- **priorities**: raw priority words -> :data:`PRIORITIES` (high, normal, low).
- **identity keys**: :func:`name_key` and :func:`domain_of` (a company is the same company when its
  name and domain are), used to find duplicates before they load.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from itertools import groupby
from typing import Any
from urllib.parse import urlsplit

from shared.scratch import scratch_db

#: The entities of the model and what each is (pairs and source profiles are written against these).
ENTITIES: dict[str, str] = {
    "customer": "a company or person served (account)",
    "location": "a service site of a customer",
    "contact": "a person at a customer",
    "technician": "a person who does the work (a user in the destination)",
    "work_order": "a job: repair, maintenance, installation, inspection",
    "asset": "installed equipment at a customer",
    "product": "a catalog item (parts, services)",
    "activity": "a visit, call, e-mail or meeting with its original times",
    "part_used": "a product consumed by a work order",
    "contract": "an agreement with SLA terms",
    "deal": "a sales opportunity or project in a pipeline",
    "pipeline_stage": "a stage of a deal pipeline",
    "invoice": "a bill with payment lines",
    "territory": "a service area with its technicians",
    "note": "free text on a record",
    "attachment": "a file on a record",
    "custom_object": "a tenant-defined table",
}

STATES = ("open", "on_hold", "waiting", "done", "cancelled")
STATUS_WORDS: dict[str, str] = {
    **dict.fromkeys(("new", "open", "scheduled", "dispatched", "in_progress", "assigned", "pending", "en_route",
                     "started", "reopened", "active", "working", "accepted"), "open"),
    **dict.fromkeys(("on_hold", "hold", "paused", "suspended", "deferred"), "on_hold"),
    **dict.fromkeys(("waiting", "waiting_for_details", "awaiting_customer", "awaiting_parts", "waiting_on_customer",
                     "waiting_for_parts", "waiting_parts"), "waiting"),
    **dict.fromkeys(("completed", "complete", "closed", "resolved", "done", "finished", "invoiced", "won"), "done"),
    **dict.fromkeys(("cancelled", "canceled", "void", "voided", "lost", "rejected", "abandoned"), "cancelled"),
}
PRIORITIES = ("high", "normal", "low")
PRIORITY_WORDS: dict[str, str] = {
    **dict.fromkeys(("high", "urgent", "critical", "emergency", "highest", "asap", "p1", "top"), "high"),
    **dict.fromkeys(("normal", "medium", "standard", "moderate", "routine", "default", "p2", "p3"), "normal"),
    **dict.fromkeys(("low", "minor", "lowest", "p4", "p5"), "low"),
}
FREE_MAIL = frozenset({"gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com", "live.com",
                       "msn.com", "proton.me", "protonmail.com", "gmx.com", "mail.com"})


def norm(value: object) -> str:
    """A comparison key for a pick-list word: ``" In Progress"`` -> ``in_progress``."""
    return re.sub(r"[^0-9a-z]+", "_", str(value).strip().casefold()).strip("_")


def state_of(status: object) -> str | None:
    """The canonical state of a raw status word (None: not recognised, a person must choose)."""
    return STATUS_WORDS.get(norm(status))


def priority_of(priority: object) -> str | None:
    """The canonical priority of a raw priority word (None: not recognised)."""
    return PRIORITY_WORDS.get(norm(priority))


def name_key(name: object) -> str:
    """Company-name comparison key: accents, case, spacing and punctuation ignored."""
    text = unicodedata.normalize("NFKD", str(name or "")).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def domain_of(record: dict[str, Any]) -> str:
    """A customer's domain: its website host, else its e-mail domain unless that is a free-mail provider."""
    website = str(record.get("website") or "").strip()
    if website:
        host = urlsplit(website if "//" in website else f"//{website}").hostname or ""
        host = host.casefold().removeprefix("www.")
        if host:
            return host
    email = str(record.get("email") or "").strip().casefold()
    domain = email.rpartition("@")[2] if "@" in email else ""
    return "" if domain in FREE_MAIL else domain


def oldest(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The record that survives a merge: the first created (then the smallest id)."""
    return min(records, key=lambda r: (str(r.get("created_at") or ""), str(r.get("id"))))


_DUPLICATES = "CREATE TABLE c (key TEXT, domain TEXT, id TEXT, name TEXT, created_at TEXT, parent_id TEXT)"


def customer_duplicates(customers: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Groups of customers with the same name and domain; the oldest survives.

    Customers without a domain are never merged (two residential "John Smith"s are two people);
    a group where one member is another's parent is left for a person to decide. The customers stream
    through: what a group needs (id, name, creation, parent) goes to a scratch SQLite file, so no
    list of the tenant's customers is held.
    """
    tally = {"total": 0, "no_domain": 0}

    def keyed() -> Iterator[tuple[str, str, str, str, str, str]]:
        for rec in customers:
            tally["total"] += 1
            domain, key = domain_of(rec), name_key(rec.get("name"))
            if not domain or not key:
                tally["no_domain"] += 1
                continue
            yield (key, domain, str(rec["id"]), str(rec.get("name") or ""), str(rec.get("created_at") or ""),
                   str(rec.get("parent_id") or ""))

    merged: dict[str, str] = {}
    rows: list[dict[str, str]] = []
    with scratch_db(_DUPLICATES, prefix="duplicates-") as db:
        db.executemany("INSERT INTO c VALUES (?, ?, ?, ?, ?, ?)", keyed())
        db.execute("CREATE INDEX c_group ON c (key, domain)")
        found = db.execute("""
            SELECT c.key, c.domain, c.id, c.name, c.created_at, c.parent_id FROM c
            JOIN (SELECT key, domain FROM c GROUP BY key, domain HAVING COUNT(*) > 1) g
              ON g.key = c.key AND g.domain = c.domain
            ORDER BY c.key, c.domain, c.id""")
        for (_, domain), group in groupby(found, key=lambda r: (r[0], r[1])):
            members = [{"id": i, "name": n, "created_at": c, "parent_id": p} for _, _, i, n, c, p in group]
            survivor = oldest(members)
            ids = {m["id"] for m in members}
            nested = any(m["parent_id"] in ids for m in members)
            for m in members:
                if m is survivor:
                    continue
                decision = "left apart: one is the other's parent" if nested else "merged"
                if not nested:
                    merged[m["id"]] = survivor["id"]
                rows.append({"duplicate_id": m["id"], "duplicate_name": m["name"], "survivor_id": survivor["id"],
                             "survivor_name": survivor["name"], "domain": domain, "decision": decision})
    return {"total": tally["total"], "without_domain": tally["no_domain"], "merged": merged, "rows": rows}
