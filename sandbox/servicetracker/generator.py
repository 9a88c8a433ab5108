"""Deterministic, streaming generator of a ServiceTracker tenant of any size.

Every record is a pure function of ``(seed, object, index)`` and the planned counts: its
parents are found by arithmetic (proportional picks, modular inverses), not by looking at
records generated before. So records stream straight into SQLite or a dump file with
memory that does not grow with the tenant, any record can be re-computed alone (the tests
do), and the project <-> work order cycle holds in both directions by construction: project
``k`` lists work orders ``k, k + P, k + 2P, ...`` and exactly those reference project ``k``.
Dirty data is layered on top by :mod:`sandbox.servicetracker.dirt`.
"""

from __future__ import annotations

import hashlib
import random
import time
from calendar import timegm
from collections.abc import Iterator
from functools import lru_cache
from math import gcd
from typing import Any

from sandbox.sercom.generator import (  # generic value pools (names, cities, catalogue), shared
    CATALOG,
    CITIES,
    COMPANY_SUFFIXES,
    COMPANY_WORDS,
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAMES,
    NOTE_BODIES,
    SKILLS,
    STREET_NAMES,
    STREET_TYPES,
    TERMS_PARAGRAPHS,
    TITLES,
    UNICODE_COMPANIES,
    UNICODE_NAMES,
    UNICODE_SUFFIXES,
)
from sandbox.servicetracker.definitions import (
    CHECKLIST,
    LOG_CATEGORIES,
    RESULTS,
    custom_field_definitions,
    custom_table_definitions,
    custom_values,
)
from sandbox.servicetracker.dirt import (
    BAD_DATE_FIELDS,
    BAD_DATES,
    LONG_TEXT,
    MISSING_ID_BASE,
    ORPHANABLE,
    DirtyKnobs,
    Selector,
    stretch,
)
from sandbox.servicetracker.files import LARGE_FILE_BYTES, content_sha256
from sandbox.servicetracker.model import (
    CUSTOM_PREFIX,
    OBJECT_ORDER,
    CustomFieldDef,
    CustomTableDef,
    MobileDevice,
)
from sandbox.servicetracker.tenant import FileContent

GENERATOR_VERSION = "sandbox.servicetracker.generator/1"
#: Generated timestamps lie in the 3 years before this instant (fixed, so output depends only on the inputs).
AS_OF = "2026-09-30T18:00:00Z"
SPAN_SECONDS = 3 * 365 * 86400
MIN_RECORDS = 300

#: Share of the requested total per object; ``custom.custom_logs`` absorbs the rounding.
SHARES: dict[str, float] = {
    "clients": 0.04, "locations": 0.06, "client_contacts": 0.08, "technicians": 0.005, "inventory_items": 0.01,
    "assets": 0.06, "contracts": 0.015, "projects": 0.01, "work_orders": 0.18, "work_order_tasks": 0.24,
    "parts_used": 0.08, "invoices": 0.06, "notes": 0.06, "attachments": 0.03,
    "custom.signature_records": 0.02, "custom.inspection_forms": 0.02,
}
MINIMUMS: dict[str, int] = {"technicians": 6, "inventory_items": 5, "projects": 3, "contracts": 3}
#: Work orders per project (the first ``WO_PER_PROJECT * projects`` work orders belong to projects).
WO_PER_PROJECT = 4
#: Multipliers for the asset/contract <-> work order/client arithmetic (primes, made coprime to the count).
ASSET_STEP, CONTRACT_STEP = 7919, 104_729

WO_TYPES_ASSET = ("break_fix", "break_fix", "support", "preventive_maintenance", "preventive_maintenance",
                  "scheduled_service")
WO_TYPES_OTHER = ("break_fix", "support", "support", "installation", "scheduled_service")
WO_SUMMARIES = {
    "break_fix": ("No cooling - {area}", "Unit short cycling", "Water leak under {area}", "Breaker trips on start"),
    "support": ("Thermostat schedule question", "Remote monitoring alert", "Customer portal access", "Warranty query"),
    "preventive_maintenance": ("Quarterly PM - {area}", "Annual boiler service", "Filter change - all units"),
    "scheduled_service": ("Scheduled coil cleaning", "Semi-annual generator load test", "Seasonal start-up"),
    "installation": ("Install {item}", "Replace {item}", "Controls retrofit - {area}"),
}
AREAS = ("server room", "lobby", "kitchen", "2nd floor", "warehouse", "suite 200", "east wing", "roof")
TASK_SUBJECTS = ("Safety briefing", "Isolate power", "Inspect unit", "Replace filter", "Check refrigerant charge",
                 "Test run", "Clean up site", "Customer walkthrough", "Take readings", "Photograph nameplate")
ATTACHMENT_KINDS = (("image/jpeg", "jpg", "IMG_{n}"), ("application/pdf", "pdf", "signed-{ref}"),
                    ("application/pdf", "pdf", "service-report-{ref}"), ("image/png", "png", "diagram-{n}"))
LARGE_KINDS = (("video/mp4", "mp4", "site-walkthrough-{ref}"), ("application/pdf", "pdf", "as-built-drawings-{ref}"))


def _epoch(iso: str) -> float:
    return float(timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")))


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _date(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def plan_counts(records: int) -> dict[str, int]:
    """Records per object (standard and custom tables) for a tenant of exactly ``records``."""
    if records < MIN_RECORDS:
        raise ValueError(f"records must be at least {MIN_RECORDS} (got {records})")
    counts = {name: max(MINIMUMS.get(name, 1), round(records * share)) for name, share in SHARES.items()}
    counts["locations"] = max(counts["locations"], counts["clients"])
    counts["client_contacts"] = max(counts["client_contacts"], counts["clients"])
    counts["custom.custom_logs"] = records - sum(counts.values())
    if counts["custom.custom_logs"] < 1:  # pragma: no cover - guarded by MIN_RECORDS
        raise ValueError(f"records={records} too small")
    return counts


def _coprime(step: int, n: int) -> int:
    while gcd(step, n) != 1:
        step += 1
    return step


def _phone(rng: random.Random, area: str) -> str:
    line = f"01{rng.randrange(100):02d}"
    return rng.choice((f"({area}) 555-{line}", f"+1 {area} 555 {line}", f"{area}-555-{line}", f"{area}.555.{line}"))


class GeneratedTenant:
    """A generated tenant as a :class:`~sandbox.servicetracker.tenant.TenantSource` (streams, never a list)."""

    def __init__(self, records: int, seed: int, dirty: DirtyKnobs | None = None, *, name: str | None = None,
                 unsynced_devices: int = 2, large_file_rate: float = 0.02) -> None:
        self.counts = plan_counts(records)
        self.seed = seed
        self.dirty = dirty if dirty is not None else DirtyKnobs()
        self.name = name or f"servicetracker-demo-{seed}"
        self.generated_by = GENERATOR_VERSION
        self.unsynced_devices = unsynced_devices
        self.as_of = _epoch(AS_OF)
        self.start = self.as_of - SPAN_SECONDS
        c = self.counts
        self.project_wos = min(c["work_orders"], WO_PER_PROJECT * c["projects"])
        self.asset_step = _coprime(ASSET_STEP, c["assets"])
        self.asset_inverse = pow(self.asset_step, -1, c["assets"]) if c["assets"] > 1 else 0
        self.contract_step = _coprime(CONTRACT_STEP, c["clients"])
        self.contract_inverse = pow(self.contract_step, -1, c["clients"]) if c["clients"] > 1 else 0
        self.multi_site = max(1, (c["locations"] - c["clients"]) // 3)
        self.large = Selector(seed, "large_file", "attachments", "size_bytes", c["attachments"], large_file_rate)
        self._selectors: dict[tuple[str, str, str], Selector] = {}
        # Bounded caches: parents are looked up again and again, memory stays flat.
        self.base = lru_cache(maxsize=2048)(self._base)

    # -- TenantSource --------------------------------------------------------------------

    def object_names(self) -> list[str]:
        return [*OBJECT_ORDER, *(t.object_name for t in self.custom_tables())]

    def records(self, obj: str) -> Iterator[dict[str, Any]]:
        for i in range(self.counts[obj]):
            yield self.record(obj, i)

    def custom_fields(self) -> list[CustomFieldDef]:
        return custom_field_definitions()

    def custom_tables(self) -> list[CustomTableDef]:
        return custom_table_definitions()

    def file_content(self, attachment: dict[str, Any]) -> FileContent:
        return FileContent(seed=self.content_seed(int(attachment["id"]) - 1))

    def devices(self) -> list[MobileDevice]:
        """One app install per technician, a second one for every third; ``unsynced_devices`` hold offline data."""
        n_tec = self.counts["technicians"]
        count = n_tec + n_tec // 3
        unsynced = Selector(self.seed, "unsynced", "devices", "", count, 1.0)
        unsynced.k = min(count, max(0, self.unsynced_devices))
        out = []
        objects = ("work_orders", "work_order_tasks", "notes", "attachments", "custom.signature_records")
        for d in range(count):
            rng = self.rng("devices", d)
            tech = d % n_tec
            last_sync = self.as_of - rng.random() * 3 * 86400
            by_obj: dict[str, int] = {}
            oldest = None
            if d in unsynced:
                by_obj = {o: rng.randint(1, 12) for o in rng.sample(objects, rng.randint(1, 3))}
                oldest = _iso(last_sync + rng.random() * 3600)
            out.append(MobileDevice(
                device_id=f"dev-{hashlib.sha1(f'{self.seed}:{d}'.encode()).hexdigest()[:12]}",  # noqa: S324 - an id
                technician_id=tech + 1, platform=rng.choice(("ios", "android")),
                app_version=rng.choice(("5.14.2", "5.15.0", "5.16.1")), last_sync_at=_iso(last_sync),
                unsynced_changes=sum(by_obj.values()), oldest_unsynced_change_at=oldest, unsynced_by_object=by_obj))
        return out

    # -- building blocks -----------------------------------------------------------------

    def rng(self, obj: str, i: int) -> random.Random:
        return random.Random(f"st:{self.seed}:{obj}:{i}")

    def content_seed(self, i: int) -> int:
        return int.from_bytes(hashlib.blake2b(f"st-file:{self.seed}:{i}".encode(), digest_size=7).digest(), "big")

    def created(self, obj: str, i: int) -> float:
        """Creation instant: ids are auto-increment, so creation time grows with the index."""
        n = self.counts[obj]
        u = random.Random(f"st-t:{self.seed}:{obj}:{i}").random()
        return self.start + SPAN_SECONDS * 0.97 * (i + u) / n

    def stamp(self, rec: dict[str, Any], rng: random.Random, created: float, at_least: float = 0.0) -> dict[str, Any]:
        created = min(created, self.as_of - 60)
        r = rng.random()
        modified = created if r < 0.45 else created + (r - 0.45) / 0.55 * 200 * 86400
        rec["created_at"] = _iso(created)
        rec["modified_at"] = _iso(min(self.as_of, max(modified, at_least, created)))
        return rec

    def pick(self, rng: random.Random, parent: str, child: str, i: int) -> int:
        """A parent index created before child ``i`` (proportional position), uniformly."""
        upto = max(1, min(self.counts[parent], (i + 1) * self.counts[parent] // max(1, self.counts[child])))
        return rng.randrange(upto)

    def selector(self, knob: str, obj: str, field: str) -> Selector:
        key = (knob, obj, field)
        if key not in self._selectors:
            self._selectors[key] = Selector(self.seed, knob, obj, field, self.counts[obj], getattr(self.dirty, knob))
        return self._selectors[key]

    # -- parent arithmetic ---------------------------------------------------------------

    def client_locations(self, c: int) -> list[int]:
        extra = self.counts["locations"] - self.counts["clients"]
        more = range(c, extra, self.multi_site) if c < self.multi_site else range(0)
        return [c, *(self.counts["clients"] + j for j in more)]

    def client_contracts(self, c: int) -> list[int]:
        n_c = self.counts["clients"]
        first = (c * self.contract_inverse) % n_c if n_c > 1 else 0
        return list(range(first, self.counts["contracts"], n_c))

    def contract_client(self, k: int) -> int:
        return (k * self.contract_step) % self.counts["clients"]

    def project_work_orders(self, k: int) -> list[int]:
        return list(range(k, self.project_wos, self.counts["projects"]))

    def asset_owner(self, a: int) -> tuple[int, int]:
        """(client, location) of asset ``a`` - drawn apart from the asset's other values, because a
        work order needs them and the asset's work history needs the work orders."""
        r = random.Random(f"st-own:{self.seed}:{a}")
        c = self.pick(r, "clients", "assets", a)
        return c, r.choice(self.client_locations(c))

    def wo_asset(self, w: int) -> int | None:
        if w < self.project_wos or w % 3 == 0:
            return None
        return (w * self.asset_step) % self.counts["assets"]

    def asset_work_orders(self, a: int) -> list[int]:
        n_a = self.counts["assets"]
        first = (a * self.asset_inverse) % n_a if n_a > 1 else 0
        return [w for w in range(first, self.counts["work_orders"], n_a) if self.wo_asset(w) == a]

    # -- records -------------------------------------------------------------------------

    def record(self, obj: str, i: int) -> dict[str, Any]:
        """Record ``i`` of ``obj`` as served (a copy: dirt never leaks into the cached clean record)."""
        rec = dict(self.base(obj, i))
        for key in ("custom_fields",):
            if isinstance(rec.get(key), dict):
                rec[key] = dict(rec[key])
        self.spoil(obj, i, rec)
        return rec

    def _base(self, obj: str, i: int) -> dict[str, Any]:
        builder = getattr(self, "_" + obj.replace(CUSTOM_PREFIX, "ct_"))
        return dict(builder(i, self.rng(obj, i)))

    def _clients(self, i: int, r: random.Random) -> dict[str, Any]:
        city = r.choice(CITIES)
        residential = r.random() < 0.2
        if residential:
            first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
            name, domain = f"{first} {last}", r.choice(("gmail.com", "yahoo.com", "outlook.com"))
            email, website, industry = f"{first}.{last}{i}@{domain}".lower(), None, "Residential"
        else:
            name = f"{r.choice(LAST_NAMES)} {r.choice(COMPANY_WORDS)} {r.choice(COMPANY_SUFFIXES)}"
            domain = "".join(ch for ch in name.lower() if ch.isalnum())[:20] + ".com"
            email, website, industry = f"service@{domain}", f"https://www.{domain}", r.choice(INDUSTRIES)
        cf = custom_values("clients", r)
        return self.stamp({
            "id": i + 1, "name": name, "client_number": f"C-{10000 + i + 1}",
            "status": r.choice(("active",) * 17 + ("inactive", "inactive", "prospect")),
            "phone": _phone(r, city[3]), "email": email, "website": website, "industry": industry,
            "street": f"{r.randrange(10, 9999)} {r.choice(STREET_NAMES)} {r.choice(STREET_TYPES)}", "city": city[0],
            "state": city[1], "postal_code": f"{city[2]}{r.randrange(100):02d}", "country": "US", "custom_fields": cf,
        }, r, self.created("clients", i))

    def _locations(self, i: int, r: random.Random) -> dict[str, Any]:
        n_c = self.counts["clients"]
        c = i if i < n_c else (i - n_c) % self.multi_site
        client = self.base("clients", c)
        if i < n_c:
            street, city, state, postal = client["street"], client["city"], client["state"], client["postal_code"]
            name, site_type = "Main site", "residence" if client["industry"] == "Residential" else "headquarters"
        else:
            city_row = r.choice(CITIES)
            street = f"{r.randrange(10, 9999)} {r.choice(STREET_NAMES)} {r.choice(STREET_TYPES)}"
            city, state, postal = city_row[0], city_row[1], f"{city_row[2]}{r.randrange(100):02d}"
            site_type = r.choice(("branch", "warehouse", "plant", "store"))
            name = f"{site_type.title()} {r.randrange(1, 40)}"
        created = max(self.created("locations", i), self.created("clients", c) + 60)
        return self.stamp({
            "id": i + 1, "client_id": c + 1, "name": name, "site_type": site_type, "street": street, "city": city,
            "state": state, "postal_code": postal, "country": "US", "latitude": round(25 + r.random() * 23, 5),
            "longitude": round(-123 + r.random() * 53, 5), "is_primary": i < n_c,
        }, r, created)

    def _client_contacts(self, i: int, r: random.Random) -> dict[str, Any]:
        n_c = self.counts["clients"]
        c = i if i < n_c else self.pick(r, "clients", "client_contacts", i)
        client = self.base("clients", c)
        first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
        domain = client["email"].partition("@")[2] or "example.com"
        locs = self.client_locations(c)
        default_loc = r.choice(locs) + 1 if r.random() < 0.7 else None
        created = max(self.created("client_contacts", i), self.created("clients", c) + 120)
        return self.stamp({
            "id": i + 1, "client_id": c + 1, "first_name": first, "last_name": last,
            "email": f"{first}.{last}.{i + 1}@{domain}".lower(), "phone": _phone(r, "512"),
            "mobile": _phone(r, "737") if r.random() < 0.6 else None, "title": r.choice(TITLES),
            "role": r.choice(("owner", "site_manager")) if i < n_c else r.choice(
                ("billing", "technical", "decision_maker", "site_manager", None)),
            "is_primary": i < n_c, "default_location_id": default_loc,
            "custom_fields": custom_values("client_contacts", r, fill=0.5),
        }, r, created)

    def _technicians(self, i: int, r: random.Random) -> dict[str, Any]:
        first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
        return self.stamp({
            "id": i + 1, "employee_number": f"E{1000 + i + 1}", "first_name": first, "last_name": last,
            "email": f"{first[0]}{last}{i + 1}@st-fieldops.com".lower(), "phone": _phone(r, "512"),
            "role": "dispatcher" if i == 0 else r.choice(("technician",) * 5 + ("lead_technician", "subcontractor")),
            "active": r.random() < 0.88, "hourly_rate": float(r.randrange(28, 95)),
            "skills": sorted(r.sample(SKILLS, r.randint(1, 3))),
        }, r, self.start + r.random() * 90 * 86400)

    def _inventory_items(self, i: int, r: random.Random) -> dict[str, Any]:
        name, price = CATALOG[i % len(CATALOG)]
        if i >= len(CATALOG):
            name = f"{name} (rev {i // len(CATALOG) + 1})"
        return self.stamp({
            "id": i + 1, "part_number": f"PN-{20000 + i + 1}", "name": name,
            "description": r.choice(("Stocked on trucks.", "Special order.", None)),
            "category": r.choice(("HVAC", "Electrical", "Plumbing", "Consumables")),
            "unit_cost": round(price * 0.6, 2), "unit_price": round(price, 2),
            "quantity_on_hand": r.randrange(0, 250), "active": r.random() < 0.93,
        }, r, self.start + r.random() * 60 * 86400)

    def _assets(self, i: int, r: random.Random) -> dict[str, Any]:
        c, loc = self.asset_owner(i)
        item = r.randrange(self.counts["inventory_items"])
        created = max(self.created("assets", i), self.created("clients", c) + 3600)
        history = []
        for w in self.asset_work_orders(i):
            wo = self.base("work_orders", w)
            if wo["status"] in ("completed", "closed"):
                history.append({"work_order_id": w + 1, "date": wo["completed_at"][:10], "summary": wo["summary"]})
        last = _epoch(f"{history[-1]['date']}T00:00:00Z") if history else 0.0
        return self.stamp({
            "id": i + 1, "client_id": c + 1, "location_id": loc + 1,
            "inventory_item_id": item + 1, "name": f"{CATALOG[item % len(CATALOG)][0]} #{r.randrange(1, 12)}",
            "serial_number": f"SN{r.randrange(10**8, 10**9)}", "install_date": _date(created - r.random() * 4e8),
            "warranty_end_date": _date(created + r.random() * 1e8),
            "status": r.choice(("active",) * 6 + ("in_service", "out_of_service", "retired")),
            "work_history": history, "custom_fields": custom_values("assets", r),
        }, r, created, at_least=last)

    def _contracts(self, i: int, r: random.Random) -> dict[str, Any]:
        c = self.contract_client(i)
        created = max(self.created("contracts", i), self.created("clients", c) + 3600)
        start = created + r.random() * 30 * 86400
        end = start + r.choice((1, 1, 2, 3)) * 365 * 86400
        status = "cancelled" if r.random() < 0.05 else (
            "draft" if start > self.as_of else "expired" if end < self.as_of else "active")
        lines: list[dict[str, Any]] = [{"description": d, "quantity": q, "unit_price": p, "sla_response_hours": s}
                 for d, q, p, s in r.sample((("Quarterly PM visit", 4, 450.0, 24), ("Emergency call-out", 1, 0.0, 4),
                                             ("Filter replacement", 12, 32.0, 48), ("Parts discount 15%", 1, 0.0, 0),
                                             ("Remote monitoring", 12, 59.0, 8)), r.randint(1, 4))]
        year = time.gmtime(start).tm_year
        return self.stamp({
            "id": i + 1, "client_id": c + 1, "contract_number": f"SC-{year}-{i + 1:05d}",
            "name": f"{r.choice(('Gold', 'Silver', 'Platinum'))} Service Agreement {year}",
            "start_date": _date(start), "end_date": _date(end), "status": status,
            "billing_frequency": r.choice(("monthly", "quarterly", "annually")),
            "total_value": round(sum(x["quantity"] * x["unit_price"] for x in lines), 2),
            "terms": "\n\n".join(TERMS_PARAGRAPHS[: r.randint(2, 5)]), "line_items": lines,
        }, r, created)

    def _projects(self, i: int, r: random.Random) -> dict[str, Any]:
        c = self.pick(r, "clients", "projects", i)
        created = max(self.created("projects", i), self.created("clients", c) + 3600)
        billable = r.random() < 0.6
        start = created + r.random() * 20 * 86400
        wos = [w + 1 for w in self.project_work_orders(i)]
        return self.stamp({
            "id": i + 1, "client_id": c + 1, "project_number": f"PRJ-{500 + i + 1}",
            "name": r.choice(("Chiller replacement", "Building automation upgrade", "New store fit-out",
                              "Boiler room retrofit", "Annual compliance program", "Warehouse ventilation")),
            "billable": billable, "budget": float(r.randrange(5, 400) * 1000) if billable or r.random() < 0.5 else None,
            "start_date": _date(start), "projected_end_date": _date(start + r.randrange(14, 300) * 86400),
            "status": r.choice(("planning", "active", "active", "on_hold", "completed", "cancelled")),
            "manager_id": r.randrange(self.counts["technicians"]) + 1,
            "description": r.choice(NOTE_BODIES), "work_order_ids": wos,
            "custom_fields": custom_values("projects", r),
        }, r, created)

    def _work_orders(self, i: int, r: random.Random) -> dict[str, Any]:
        project = i % self.counts["projects"] if i < self.project_wos else None
        asset = self.wo_asset(i)
        if project is not None:
            prj = self.base("projects", project)
            c, wo_type = prj["client_id"] - 1, r.choice(("installation", "installation", "scheduled_service"))
            loc = r.choice(self.client_locations(c))
        elif asset is not None:
            c, loc = self.asset_owner(asset)
            wo_type = r.choice(WO_TYPES_ASSET)
        else:
            c = self.pick(r, "clients", "work_orders", i)
            wo_type, loc = r.choice(WO_TYPES_OTHER), r.choice(self.client_locations(c))
        created = self.created("work_orders", i)
        age = self.as_of - created
        status = (r.choice(("completed", "closed", "closed", "cancelled")) if age > 30 * 86400 else
                  r.choice(("new", "scheduled", "dispatched", "in_progress", "on_hold", "completed")))
        sched = created + r.random() * 10 * 86400
        done = min(self.as_of - 60, sched + r.random() * 5 * 86400)
        contracts = self.client_contracts(c) if wo_type in ("preventive_maintenance", "scheduled_service") else []
        item = CATALOG[r.randrange(len(CATALOG))][0]
        summary = r.choice(WO_SUMMARIES[wo_type]).format(area=r.choice(AREAS), item=item)
        return self.stamp({
            "id": i + 1, "number": f"WO-{100000 + i + 1}", "type": wo_type, "status": status,
            "priority": "emergency" if wo_type == "break_fix" and r.random() < 0.1 else r.choice(
                ("low", "medium", "medium", "high")),
            "client_id": c + 1, "location_id": loc + 1, "contact_id": c + 1 if r.random() < 0.85 else None,
            "asset_id": None if asset is None else asset + 1, "project_id": None if project is None else project + 1,
            "contract_id": contracts[0] + 1 if contracts else None,
            "technician_id": None if status == "new" else r.randrange(self.counts["technicians"]) + 1,
            "summary": summary, "description": f"{summary}. {r.choice(NOTE_BODIES)}",
            "scheduled_start": None if status == "new" else _iso(sched),
            "completed_at": _iso(done) if status in ("completed", "closed") else None,
            "custom_fields": custom_values("work_orders", r, fill=0.6),
        }, r, created, at_least=done if status in ("completed", "closed") else 0.0)

    def _work_order_tasks(self, i: int, r: random.Random) -> dict[str, Any]:
        n_t, n_w = self.counts["work_order_tasks"], self.counts["work_orders"]
        w = i * n_w // n_t
        first = -(-w * n_t // n_w)
        wo_created = self.created("work_orders", w)
        start = wo_created + r.random() * 5 * 86400 if r.random() < 0.7 else None
        minutes = r.choice((15, 30, 45, 60, 90, 120, 240))
        return self.stamp({
            "id": i + 1, "work_order_id": w + 1, "sequence": i - first + 1, "subject": r.choice(TASK_SUBJECTS),
            "status": r.choice(("open", "in_progress", "done", "done", "done", "skipped")),
            "priority": r.choice(("low", "normal", "normal", "high")),
            "technician_id": r.randrange(self.counts["technicians"]) + 1 if r.random() < 0.8 else None,
            "scheduled_start": None if start is None else _iso(start),
            "scheduled_end": None if start is None else _iso(start + minutes * 60), "duration_minutes": minutes,
            "custom_fields": custom_values("work_order_tasks", r) if r.random() < 0.3 else {},
        }, r, wo_created + 60)

    def _parts_used(self, i: int, r: random.Random) -> dict[str, Any]:
        w = self.pick(r, "work_orders", "parts_used", i)
        asset = self.wo_asset(w)
        item = r.randrange(self.counts["inventory_items"])
        price = CATALOG[item % len(CATALOG)][1] * 0.6
        quantity = float(r.choice((1, 1, 1, 2, 2, 3, 4, 0.5)))
        return self.stamp({
            "id": i + 1, "work_order_id": w + 1, "asset_id": None if asset is None else asset + 1,
            "inventory_item_id": item + 1, "part_number": f"PN-{20000 + item + 1}", "quantity": quantity,
            "unit_cost": round(price, 2), "total_cost": round(price * quantity, 2),
        }, r, self.created("work_orders", w) + 3600)

    def _invoices(self, i: int, r: random.Random) -> dict[str, Any]:
        kind = r.random()
        w: int | None = None
        contract: int | None = None
        if kind < 0.6:
            w = self.pick(r, "work_orders", "invoices", i)
            wo = self.base("work_orders", w)
            c, contract = wo["client_id"] - 1, (wo["contract_id"] or 0) - 1
            contract = None if contract < 0 else contract
        elif kind < 0.8:
            contract = self.pick(r, "contracts", "invoices", i)
            c = self.contract_client(contract)
        else:
            c = self.pick(r, "clients", "invoices", i)
        issued = self.created("invoices", i)
        total = round(120 + r.random() * 6000, 2)
        status = r.choice(("draft", "sent", "partially_paid", "paid", "paid", "paid", "overdue", "void"))
        payments: list[dict[str, Any]] = []
        if status in ("paid", "partially_paid"):
            parts = 1 if status == "paid" and r.random() < 0.7 else 2
            share = 1.0 if status == "paid" else r.uniform(0.2, 0.8)
            amounts = [round(total * share / parts, 2)] * parts
            amounts[-1] = round(total * share - sum(amounts[:-1]), 2)
            for k, amount in enumerate(amounts):
                payments.append({"paid_at": _iso(min(self.as_of, issued + (k + 1) * r.randrange(2, 20) * 86400)),
                                 "amount": amount, "method": r.choice(("card", "ach", "check")),
                                 "reference": f"PAY-{r.randrange(10**6, 10**7)}"})
        balance = 0.0 if status in ("paid", "void") else round(total - sum(p["amount"] for p in payments), 2)
        return self.stamp({
            "id": i + 1, "invoice_number": f"INV-{70000 + i + 1}", "client_id": c + 1,
            "work_order_id": None if w is None else w + 1, "contract_id": None if contract is None else contract + 1,
            "issue_date": _date(issued), "due_date": _date(issued + 30 * 86400), "status": status, "currency": "USD",
            "total": total, "balance": balance, "payment_lines": payments,
        }, r, issued, at_least=max((_epoch(p["paid_at"]) for p in payments), default=0.0))

    def _notes(self, i: int, r: random.Random) -> dict[str, Any]:
        w = self.pick(r, "work_orders", "notes", i)
        return self.stamp({
            "id": i + 1, "work_order_id": w + 1, "author_id": r.randrange(self.counts["technicians"]) + 1,
            "body": " ".join(r.sample(NOTE_BODIES, r.randint(1, 3))), "is_internal": r.random() < 0.3,
        }, r, self.created("work_orders", w) + r.random() * 5 * 86400)

    def _attachments(self, i: int, r: random.Random) -> dict[str, Any]:
        on_contract = r.random() < 0.2
        if on_contract:
            p = self.pick(r, "contracts", "attachments", i)
            parent_type, ref, created = "contract", f"SC-{p + 1:05d}", self.created("contracts", p) + 7200
        else:
            p = self.pick(r, "work_orders", "attachments", i)
            parent_type, ref, created = "work_order", f"WO-{100000 + p + 1}", self.created("work_orders", p) + 7200
        if i in self.large:
            ctype, ext, stem = r.choice(LARGE_KINDS)
            size = LARGE_FILE_BYTES + r.randrange(1, 40 * 1024 * 1024)
        else:
            ctype, ext, stem = r.choice(ATTACHMENT_KINDS)
            size = r.randrange(300, 200_000)
        return self.stamp({
            "id": i + 1, "parent_type": parent_type, "parent_id": p + 1,
            "file_name": stem.format(n=r.randrange(1000, 9999), ref=ref) + f".{ext}", "content_type": ctype,
            "size_bytes": size, "sha256": content_sha256(self.content_seed(i), size, ctype),
            "uploaded_by": r.randrange(self.counts["technicians"]) + 1,
            "description": "Contract document" if on_contract else r.choice(("Before photo", "After photo", None)),
        }, r, created)

    def _ct_signature_records(self, i: int, r: random.Random) -> dict[str, Any]:
        w = self.pick(r, "work_orders", "custom.signature_records", i)
        at = self.created("work_orders", w) + r.random() * 3 * 86400
        return self.stamp({
            "id": i + 1, "work_order_id": w + 1, "signed_by": f"{r.choice(FIRST_NAMES)} {r.choice(LAST_NAMES)}",
            "signed_at": _iso(min(at, self.as_of - 60)),
            "signature": "data:image/png;base64,iVBORw0KGgo" + hashlib.sha1(str(i).encode()).hexdigest(),  # noqa: S324
            "accepted_terms": r.random() < 0.95,
        }, r, at)

    def _ct_inspection_forms(self, i: int, r: random.Random) -> dict[str, Any]:
        a = self.pick(r, "assets", "custom.inspection_forms", i)
        wos = self.asset_work_orders(a)
        at = self.created("custom.inspection_forms", i)
        return self.stamp({
            "id": i + 1, "asset_id": a + 1, "work_order_id": wos[0] + 1 if wos else None,
            "inspector_id": r.randrange(self.counts["technicians"]) + 1, "inspected_on": _date(at),
            "result": r.choice(RESULTS), "checklist": sorted(r.sample(CHECKLIST, r.randint(1, 4))),
            "pressure_psi": round(60 + r.random() * 300, 1) if r.random() < 0.7 else None,
            "labor_cost": float(r.randrange(50, 900)), "remarks": r.choice(NOTE_BODIES) if r.random() < 0.4 else None,
        }, r, at)

    def _ct_custom_logs(self, i: int, r: random.Random) -> dict[str, Any]:
        w = self.pick(r, "work_orders", "custom.custom_logs", i)
        at = self.created("work_orders", w) + r.random() * 2 * 86400
        return self.stamp({
            "id": i + 1, "work_order_id": w + 1 if r.random() < 0.9 else None,
            "logged_at": _iso(min(at, self.as_of - 60)), "category": r.choice(LOG_CATEGORIES),
            "message": r.choice(NOTE_BODIES), "hours": round(r.random() * 4, 2),
        }, r, at)

    # -- dirty data ----------------------------------------------------------------------

    def spoil(self, obj: str, i: int, rec: dict[str, Any]) -> None:
        """Apply every dirty knob that chose record ``i`` of ``obj``."""
        for o, fld in ORPHANABLE:
            if o == obj and rec.get(fld) is not None and i in self.selector("orphan_rate", o, fld):
                rec[fld] = MISSING_ID_BASE + i
        if obj in ("technicians", "client_contacts"):
            dup = self.selector("duplicate_email_rate", obj, "email")
            if i in dup and self.counts[obj] > 1:
                rec["email"] = self.base(obj, (i + 1) % self.counts[obj])["email"]
            gone = self.selector("missing_email_rate", obj, "email")
            if i in gone:
                rec["email"] = None if gone.variant(i, 3) else ""
            uni = self.selector("unicode_rate", obj, "name")
            if i in uni:
                rec["first_name"], rec["last_name"] = UNICODE_NAMES[uni.variant(i, len(UNICODE_NAMES))]
        if obj == "clients" and i in (uni := self.selector("unicode_rate", obj, "name")):
            rec["name"] = UNICODE_COMPANIES[uni.variant(i, len(UNICODE_COMPANIES))]
        if obj in ("work_orders", "notes"):
            fld = "summary" if obj == "work_orders" else "body"
            if i in (uni := self.selector("unicode_rate", obj, fld)):
                rec[fld] = f"{rec[fld]}{UNICODE_SUFFIXES[uni.variant(i, len(UNICODE_SUFFIXES))]}"
        for (o, fld), length in LONG_TEXT.items():
            if o == obj and i in self.selector("long_text_rate", o, fld):
                rec[fld] = stretch(str(rec[fld] or ""), length)
        for o, fld in BAD_DATE_FIELDS:
            if o != obj or i not in (sel := self.selector("bad_date_rate", o, fld)):
                continue
            bad = BAD_DATES[sel.variant(i, len(BAD_DATES))]
            if fld.startswith("custom_fields."):
                rec["custom_fields"][fld.partition(".")[2]] = bad
            else:
                rec[fld] = bad


def generate_tenant(records: int, seed: int, dirty: DirtyKnobs | None = None, **kw: Any) -> GeneratedTenant:
    """A generated tenant of exactly ``records`` records (deterministic for the same arguments)."""
    return GeneratedTenant(records, seed, dirty, **kw)
