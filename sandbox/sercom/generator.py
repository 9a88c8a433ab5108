"""Deterministic generator of a realistic Sercom tenant, with dial-able dirty data.

The migration engine has to cope with what real field-service tenants hold: customer
hierarchies, several service locations per account, work orders whose history points at
records that were deleted years ago, technicians without (or with shared) emails, dates
typed by hand. ``generate_tenant(records, seed, dirty)`` builds such a tenant; the same
``(records, seed, dirty)`` always yields byte-identical data, so tests and sample
migrations are reproducible. Generation is plain Python on pre-built pools (no per-record
object allocation beyond the dicts) so 100,000 records take a few seconds, and it streams:
``generate_state`` writes the tenant into a stand-in's SQLite state as it is made, so the
memory it needs does not grow with the tenant beyond a few bytes per record.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import sqlite3
import tempfile
import time
from array import array
from calendar import timegm
from collections.abc import Callable, Sequence
from itertools import accumulate
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sandbox.sercom.model import (
    OBJECT_ORDER,
    OBJECTS,
    AutomationRule,
    CustomFieldDef,
    CustomObjectDef,
    Tenant,
)
from sandbox.sercom.store import Store, add_default_key, building_state, updated_key, write_definitions, write_meta

GENERATOR_VERSION = "sandbox.sercom.generator/1"

#: All generated timestamps lie in the ~3 years before this instant. Fixed (not "now") so
#: that the output depends only on (records, seed, dirty).
AS_OF = "2026-09-30T18:00:00Z"
SPAN_SECONDS = 3 * 365 * 86400

#: Share of the total record count per object; ``activities`` absorbs the rounding so the
#: total is exactly the requested number.
SHARES: dict[str, float] = {
    "customers": 0.05,
    "locations": 0.06,
    "contacts": 0.10,
    "technicians": 0.005,
    "territories": 0.001,
    "products": 0.01,
    "assets": 0.07,
    "work_orders": 0.15,
    "parts_used": 0.15,
    "contracts": 0.02,
    "deals": 0.04,
    "notes": 0.06,
    "attachments": 0.03,
}
MINIMUMS: dict[str, int] = {"technicians": 5, "territories": 3, "products": 5}
PIPELINE_STAGE_COUNT = 7
MIN_RECORDS = 100

#: Reference fields the ``orphan_rate`` knob may point at records that do not exist.
#: Every other reference in a generated tenant resolves.
ORPHANABLE: tuple[tuple[str, str, str], ...] = (
    ("locations", "customer_id", "customers"),
    ("work_orders", "customer_id", "customers"),
    ("work_orders", "asset_id", "assets"),
    ("work_orders", "technician_id", "technicians"),
    ("parts_used", "work_order_id", "work_orders"),
    ("activities", "contact_id", "contacts"),
    ("activities", "work_order_id", "work_orders"),
)

#: Text fields the ``long_text_rate`` knob overflows, with the length they are stretched to.
LONG_TEXT_FIELDS: dict[str, tuple[str, int]] = {
    "customers": ("name", 320),
    "contacts": ("last_name", 120),
    "locations": ("city", 64),
    "products": ("name", 300),
    "work_orders": ("subject", 340),
    "activities": ("subject", 310),
    "notes": ("title", 300),
}

#: Date fields (not datetimes) the ``bad_date_rate`` knob may corrupt.
DATE_FIELDS: dict[str, tuple[str, ...]] = {
    "assets": ("install_date", "warranty_end_date"),
    "work_orders": ("scheduled_date",),
    "contracts": ("start_date", "end_date"),
    "deals": ("close_date",),
}
BAD_DATES = ("2023-02-30", "31/12/2022", "not a date", "2022-13-01", "00/00/0000", "12-31-2021", "TBD")


class DirtyKnobs(BaseModel):
    """Rates (0..1) of the data-quality problems real Sercom tenants show. All may be 0.

    Each rate is applied to the records of the objects it concerns: ``round(rate * n)`` of
    them are spoiled, so the effect is exact and testable rather than merely probable.
    """

    model_config = ConfigDict(extra="forbid")

    orphan_rate: float = Field(default=0.02, ge=0, le=1, description="child references to missing parents")
    contact_without_customer_rate: float = Field(default=0.03, ge=0, le=1, description="contacts.customer_id null")
    missing_email_rate: float = Field(default=0.02, ge=0, le=1, description="email null or empty")
    duplicate_email_rate: float = Field(default=0.01, ge=0, le=1, description="two contacts/technicians share one")
    mixed_case_email_rate: float = Field(default=0.02, ge=0, le=1, description="John.Smith@Acme.COM")
    long_text_rate: float = Field(default=0.01, ge=0, le=1, description="text beyond destination limits")
    unicode_rate: float = Field(default=0.02, ge=0, le=1, description="accents, CJK, emoji")
    bad_date_rate: float = Field(default=0.01, ge=0, le=1, description="impossible or mis-formatted dates")

    @classmethod
    def clean(cls) -> DirtyKnobs:
        """All knobs at zero: a tenant whose data is perfectly consistent."""
        return cls(**dict.fromkeys(cls.model_fields, 0.0))


# --------------------------------------------------------------------------- value pools

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
    "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony", "Sandra", "Mark", "Margaret",
    "Donald", "Ashley", "Steven", "Kimberly", "Andrew", "Emily", "Paul", "Donna", "Joshua", "Michelle",
    "Kenneth", "Carol", "Kevin", "Amanda", "Brian", "Melissa", "George", "Deborah", "Timothy", "Stephanie",
    "Ronald", "Rebecca", "Jason", "Laura", "Edward", "Sharon", "Jeffrey", "Cynthia", "Ryan", "Kathleen",
    "Jacob", "Amy", "Gary", "Angela", "Nicholas", "Shirley", "Eric", "Anna", "Jonathan", "Brenda", "Larry",
    "Pamela", "Justin", "Emma", "Scott", "Nicole", "Brandon", "Helen", "Benjamin", "Samantha", "Samuel",
    "Katherine", "Raymond", "Christine", "Gregory", "Debra", "Frank", "Rachel", "Alexander", "Carolyn",
    "Patrick", "Janet", "Jack", "Maria", "Dennis", "Olivia", "Jerry", "Heather", "Tyler", "Diane",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
    "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis",
    "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes",
    "Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper",
    "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson",
    "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez",
    "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Hartley",
)
COMPANY_WORDS = (
    "Mechanical", "Climate", "Comfort", "Air", "Heating", "Cooling", "Refrigeration", "Facilities",
    "Property", "Industrial", "Dairy", "Logistics", "Foods", "Medical", "Hospitality", "Retail", "Storage",
    "Manufacturing", "Plastics", "Printing", "Labs", "Holdings",
)
COMPANY_SUFFIXES = ("LLC", "Inc.", "Co.", "Group", "Partners", "Corp.", "& Sons", "Ltd.")
INDUSTRIES = (
    "Healthcare", "Hospitality", "Retail", "Manufacturing", "Education", "Government", "Food Service",
    "Property Management", "Logistics", "Data Centers", "Residential", "Agriculture",
)
GOV_BODIES = ("Public Works", "School District", "Water Authority", "Parks Department", "County Courthouse")
STREET_NAMES = (
    "Oak", "Maple", "Pine", "Cedar", "Elm", "Washington", "Lake", "Hill", "Main", "Park", "Sunset", "Ridge",
    "Meadow", "Forest", "River", "Spring", "Highland", "Church", "Mill", "Valley", "Franklin", "Jefferson",
    "Lincoln", "Madison", "Center", "Broad", "Market", "Industrial",
)
STREET_TYPES = ("St", "Ave", "Blvd", "Rd", "Dr", "Ln", "Way", "Ct", "Pkwy", "Hwy")
#: (city, state, 3-digit zip prefix, area code) - zip codes are US-shaped and match the state.
CITIES = (
    ("Austin", "TX", "787", "512"), ("Dallas", "TX", "752", "214"), ("Houston", "TX", "770", "713"),
    ("Phoenix", "AZ", "850", "602"), ("Denver", "CO", "802", "303"), ("Chicago", "IL", "606", "312"),
    ("Springfield", "IL", "627", "217"), ("Columbus", "OH", "432", "614"), ("Cleveland", "OH", "441", "216"),
    ("Atlanta", "GA", "303", "404"), ("Miami", "FL", "331", "305"), ("Orlando", "FL", "328", "407"),
    ("Tampa", "FL", "336", "813"), ("Charlotte", "NC", "282", "704"), ("Raleigh", "NC", "276", "919"),
    ("Nashville", "TN", "372", "615"), ("Memphis", "TN", "381", "901"), ("Boston", "MA", "021", "617"),
    ("Worcester", "MA", "016", "508"), ("Newark", "NJ", "071", "973"), ("Albany", "NY", "122", "518"),
    ("Buffalo", "NY", "142", "716"), ("Philadelphia", "PA", "191", "215"), ("Pittsburgh", "PA", "152", "412"),
    ("Baltimore", "MD", "212", "410"), ("Richmond", "VA", "232", "804"), ("Detroit", "MI", "482", "313"),
    ("Minneapolis", "MN", "554", "612"), ("Milwaukee", "WI", "532", "414"), ("Kansas City", "MO", "641", "816"),
    ("St. Louis", "MO", "631", "314"), ("Omaha", "NE", "681", "402"), ("Salt Lake City", "UT", "841", "801"),
    ("Las Vegas", "NV", "891", "702"), ("Seattle", "WA", "981", "206"), ("Portland", "OR", "972", "503"),
    ("Sacramento", "CA", "958", "916"), ("San Diego", "CA", "921", "619"), ("Fresno", "CA", "937", "559"),
    ("Boise", "ID", "837", "208"), ("Albuquerque", "NM", "871", "505"), ("Tulsa", "OK", "741", "918"),
)
LOCATION_NAMES = (
    "Main Office", "Warehouse", "North Plant", "South Campus", "Distribution Center", "Store #{n}",
    "Clinic {n}", "Building {L}", "Annex", "Cold Storage", "Rooftop Units", "Data Hall {n}",
)
TITLES = (
    "Facilities Manager", "Office Manager", "Owner", "Maintenance Supervisor", "Operations Director",
    "Accounts Payable", "Chief Engineer", "Property Manager", "Procurement Lead", "Homeowner", "CFO",
)
CONTACT_ROLES = ("billing", "technical", "decision_maker", None, None)
SKILLS = ("HVAC", "Electrical", "Plumbing", "Refrigeration", "Boilers", "Controls", "Fire Safety", "Generators")
TERRITORY_NAMES = (
    "Northeast Metro", "Mid-Atlantic", "Southeast", "Gulf Coast", "Great Lakes", "Central Plains",
    "Mountain West", "Desert Southwest", "Pacific Northwest", "California", "New England", "Tennessee Valley",
)
#: (product name, typical unit price)
CATALOG = (
    ("Rooftop Unit 5-Ton", 6400.0), ("Split System Condenser 3-Ton", 3100.0), ("Gas Furnace 80k BTU", 2200.0),
    ("Heat Pump 4-Ton", 4800.0), ("Walk-in Cooler Compressor", 2750.0), ("Ice Machine 500 lb", 3900.0),
    ("Commercial Boiler 500 MBH", 18500.0), ("Standby Generator 22 kW", 9800.0), ("Air Handler 2000 CFM", 5200.0),
    ("Smart Thermostat T6 Pro", 189.0), ("Condenser Fan Motor 1/3 HP", 245.0), ("Contactor 40A 24V Coil", 38.5),
    ("Run Capacitor 45/5 MFD", 24.0), ("Air Filter MERV 13 20x25x4", 32.0), ("Refrigerant R-410A 25 lb", 310.0),
    ("Expansion Valve TXV 3-Ton", 145.0), ("Igniter Hot Surface", 42.0), ("Flame Sensor", 18.0),
    ("Blower Motor ECM 1/2 HP", 520.0), ("Circuit Board Universal", 210.0), ("Backflow Preventer 2in", 860.0),
    ("Water Heater 50 gal", 1150.0), ("Sump Pump 1/2 HP", 265.0), ("Fire Damper 12x12", 175.0),
    ("Belt A-48", 14.0), ("Pressure Switch", 36.0), ("Drain Pan Treatment Tabs", 9.5),
)
PRODUCT_DESCRIPTIONS = (
    "Field-replaceable; stocked on trucks.", "Special order, 5-7 business days.",
    "OEM part - verify model/serial before install.", "Includes mounting hardware.",
    "Covered by 1-year parts warranty.", "Hazmat shipping applies.",
)
WO_SUBJECTS = {
    "repair": ("No cooling in {area}", "Unit short cycling", "Water leak under {area}", "Breaker tripping on startup",
               "Compressor not starting", "Strange noise from blower", "No heat - pilot out"),
    "maintenance": ("Quarterly PM - {area}", "Annual boiler inspection and cleaning", "Filter change - all units",
                    "Coil cleaning", "Semi-annual generator load test"),
    "installation": ("Install new {product}", "Replace {product}", "Thermostat upgrade - {area}"),
    "inspection": ("Pre-season inspection", "Warranty inspection", "Fire damper inspection", "Insurance inspection"),
    "emergency": ("EMERGENCY: walk-in cooler down", "EMERGENCY: no heat, building occupied", "Gas smell reported",
                  "Flooding in mechanical room"),
}
AREAS = ("server room", "lobby", "kitchen", "2nd floor", "warehouse", "suite 200", "east wing", "basement")
RESOLUTIONS = ("FIXED-ON-SITE", "PART-REPLACED", "NO-FAULT-FOUND", "ADJUSTED", "QUOTED-REPLACEMENT", "CLEANED")
MAINTENANCE_SUMMARIES = (
    "Replaced filters, checked refrigerant charge", "Cleaned condenser coil", "Replaced capacitor",
    "Lubricated bearings, tightened belts", "Firmware updated", "Calibrated thermostat", "Flushed drain line",
)
ACTIVITY_SUBJECTS = {
    "visit": ("Site visit - {wo}", "On-site diagnosis", "Follow-up visit", "Technician check-in"),
    "call": ("Call re: invoice", "Scheduling call", "Call about service renewal", "Callback - no heat complaint"),
    "email": ("Quote sent", "Service report emailed", "Contract renewal reminder", "Re: parts ETA"),
    "meeting": ("Quarterly business review", "Site survey walkthrough", "Budget planning meeting"),
}
OUTCOMES = {
    "visit": ("completed", "resolved", "follow_up", "rescheduled"),
    "call": ("completed", "no_answer", "left_voicemail", "follow_up"),
    "email": ("completed", "follow_up"),
    "meeting": ("completed", "rescheduled", "follow_up"),
}
NOTE_TITLES = (
    "Access instructions", "Customer prefers mornings", "Billing dispute", "Parts on backorder",
    "Dog on premises", "Upsell opportunity", "Warranty claim filed", "Gate code changed", "Escalation",
)
NOTE_BODIES = (
    "Spoke with the facilities manager; they asked us to call 30 minutes before arrival.",
    "Unit is past its service life - recommend replacement quote in Q3.",
    "Customer disputes the trip charge on the last invoice; credited 50% per manager approval.",
    "Ordered replacement board from distributor, ETA Friday. Temporary fix in place.",
    "Roof access via the east stairwell, key at front desk. Ladder required for RTU-3.",
)
STAGES = (
    ("Prospecting", 10, False, False), ("Qualification", 20, False, False), ("Site Survey", 40, False, False),
    ("Proposal", 60, False, False), ("Negotiation", 80, False, False), ("Closed Won", 100, True, True),
    ("Closed Lost", 0, True, False),
)
DEAL_NAMES = ("Service agreement renewal", "Rooftop unit replacement", "Boiler upgrade", "Preventive maintenance plan",
              "Generator install", "Controls retrofit", "Multi-site HVAC contract")
CONTRACT_TIERS = ("Platinum", "Gold", "Silver", "Bronze")
SLA_BY_TIER = {"Platinum": (2, 8), "Gold": (4, 24), "Silver": (8, 48), "Bronze": (24, 72)}
TERMS_PARAGRAPHS = (
    "1. Scope. Provider shall perform preventive maintenance on the covered equipment listed in Schedule A "
    "at the frequency stated therein, including inspection, cleaning, lubrication and adjustment.",
    "2. Response. Provider shall respond to emergency service requests within the SLA response window, "
    "24 hours a day, 7 days a week, including holidays, measured from the time the request is logged.",
    "3. Exclusions. Refrigerant, ductwork, structural repairs and damage caused by misuse, power surges, "
    "flooding or acts of God are excluded and billed at standard time-and-materials rates.",
    "4. Parts. Covered parts are supplied at no charge; non-covered parts are billed at list less 15%.",
    "5. Term and renewal. This agreement renews automatically for successive one-year terms unless either "
    "party gives written notice of non-renewal at least 30 days before the end of the current term.",
    "6. Limitation of liability. Provider's aggregate liability shall not exceed the fees paid in the twelve "
    "months preceding the claim. Neither party is liable for indirect or consequential damages.",
)
#: Unicode-rich replacements: accents, CJK, Cyrillic, RTL and emoji.
UNICODE_NAMES = (
    ("Zoë", "Ångström"), ("José", "Núñez"), ("François", "Lefèvre"), ("Søren", "Kierkegård"),
    ("Đặng", "Thị Hương"), ("太郎", "山田"), ("美咲", "佐藤"), ("Łukasz", "Wróbel"), ("Ольга", "Смирнова"),
    ("Chloé", "Müller-Lüdenscheidt"), ("Nguyễn", "Văn Minh"), ("Aurélie", "D'Aubigné"),
)
UNICODE_COMPANIES = (
    "Müller & Söhne Kältetechnik GmbH", "株式会社サンプル空調", "Café Olé ☕ Holdings", "Ñandú Refrigeración S.A.",
    "Øresund Facilities ApS", "Les Délices de Zoé", "Smørrebrød & Co 🥪", "Хладо-Сервис ООО",  # noqa: RUF001 - Cyrillic on purpose
)
UNICODE_SUFFIXES = (" 🔧", " ✅", " — naïve façade", " 修理", " ⚠️ urgent", " (Ünïcödé)", " 😀")

# Attachment kinds: (content_type, extension, file-name stem template, weight)
ATTACHMENT_KINDS = (
    ("image/jpeg", "jpg", "IMG_{date}_{n}", 40),
    ("application/pdf", "pdf", "signed-work-order-{ref}", 20),
    ("application/pdf", "pdf", "job-report-{ref}", 15),
    ("image/png", "png", "wiring-diagram-{n}", 8),
    ("text/plain", "txt", "technician-notes-{n}", 10),
    ("text/csv", "csv", "meter-readings-{n}", 7),
)


# --------------------------------------------------------------------------- helpers


def _epoch(iso: str) -> float:
    return float(timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")))


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _date(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def plan_counts(records: int) -> dict[str, int]:
    """How many records each object gets for a tenant of ``records`` in total (sums to ``records``)."""
    if records < MIN_RECORDS:
        raise ValueError(f"records must be at least {MIN_RECORDS} (got {records})")
    counts = {name: max(MINIMUMS.get(name, 1), round(records * share)) for name, share in SHARES.items()}
    # Every customer has 1..4 locations.
    counts["locations"] = max(counts["customers"], min(4 * counts["customers"], counts["locations"]))
    counts["pipeline_stages"] = PIPELINE_STAGE_COUNT
    counts["activities"] = records - sum(counts.values())
    if counts["activities"] < 1:  # pragma: no cover - guarded by MIN_RECORDS
        raise ValueError(f"records={records} too small for the minimum object counts")
    return {name: counts[name] for name in OBJECT_ORDER}


def _ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}_{i:06d}" for i in range(1, n + 1)]


def _missing_id(prefix: str, rng: random.Random) -> str:
    """An id in the object's format that no generated record has (numbers start at 900000)."""
    return f"{prefix}_{900000 + rng.randrange(99999):06d}"


def _phone(rng: random.Random, area: str) -> str:
    """US numbers in the mix of formats hand-entered CRM data shows (555-01xx: fictional range)."""
    line = f"01{rng.randrange(100):02d}"
    match rng.randrange(5):
        case 0:
            return f"({area}) 555-{line}"
        case 1:
            return f"{area}-555-{line}"
        case 2:
            return f"+1 {area} 555 {line}"
        case 3:
            return f"{area}.555.{line}"
        case _:
            return f"+1{area}555{line}"


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())[:24] or "mail"


class _Clock:
    """Draws creation/update instants inside the tenant's 3-year window."""

    def __init__(self, rng: random.Random, as_of: float) -> None:
        self.rng = rng
        self.end = as_of
        self.start = as_of - SPAN_SECONDS

    def created_after(self, earliest: float) -> float:
        lo = max(earliest, self.start)
        return lo + self.rng.random() * max(0.0, self.end - 3600 - lo)

    def updated_after(self, created: float) -> float:
        r = self.rng.random()
        if r < 0.45:
            return created
        span = self.end - created
        return created + (r - 0.45) / 0.55 * min(span, 200 * 86400)


# --------------------------------------------------------------------------- generation


def generate_tenant(
    records: int, seed: int, dirty: DirtyKnobs | None = None, *, name: str | None = None, tailored: bool = False
) -> Tenant:
    """Build a tenant of exactly ``records`` records, deterministic for ``(records, seed, dirty)``.

    ``tailored``: the tenant also has what an admin added over the years (:func:`tailor`): custom fields
    with their own renamed, abbreviated and non-English names on customers, contacts and work orders, and
    two custom objects with records (beyond ``records``). The standard records are the same either way.

    The whole tenant is returned in memory (tests, dumps); :func:`generate_state` writes one to a stand-in's
    state file in flat memory, and this is that state read back, so the two are always the same tenant.
    """
    with tempfile.TemporaryDirectory(prefix="sercom-tenant-") as folder:
        store = generate_state(Path(folder) / "tenant.sqlite", records, seed, dirty, name=name, tailored=tailored)
        try:
            return store.tenant()
        finally:
            store.close()


def generate_state(
    path: Path,
    records: int,
    seed: int,
    dirty: DirtyKnobs | None = None,
    *,
    name: str | None = None,
    tailored: bool = False,
    api_key: str | None = None,
) -> Store:
    """Generate a tenant (as :func:`generate_tenant`) straight into a new stand-in state file at ``path``.

    Memory stays flat in ``records``: each object's records go to SQLite :data:`CHUNK` at a time as they are
    made and each attachment's bytes as soon as they are drawn; later objects find what they need of earlier
    ones in a few compact per-record columns (:class:`_Generator`), the rest in the state. The dirty data
    (:class:`_Dirt`) and the tailoring (:func:`tailor`) are then applied to the stored records, drawing from
    their random streams exactly as they did on in-memory lists, so a tenant is the same bytes as ever.
    """
    dirty = dirty if dirty is not None else DirtyKnobs()
    counts = plan_counts(records)
    with building_state(path) as conn:
        write_meta(conn, name or f"sercom-demo-{seed}", GENERATOR_VERSION, seed)
        sink = _Sink(conn)
        _Generator(counts, seed, sink).run()
        stored = _StoredRecords(conn)
        _Dirt(stored, dirty, random.Random(f"sercom-dirt:{seed}")).apply()
        stored.flush()
        extra_fields, custom_objects = tailor(stored, sink, seed) if tailored else ([], [])
        sink.flush()
        write_definitions(conn, custom_field_definitions() + extra_fields, custom_objects, automation_rules())
        add_default_key(conn, api_key)
    return Store(path)


#: Custom fields a tailored tenant adds, named the way admins name them: (object, key, label, type, values).
TAILORED_FIELDS: tuple[tuple[str, str, str, str, str], ...] = (
    ("customers", "cust_fax_no", "Fax no.", "text", "phone"),
    ("customers", "nb_employes", "Nb employés", "number", "count"),
    ("customers", "x_ticker", "Ticker", "text", "ticker"),
    ("customers", "gate_code", "Gate code", "text", "code"),
    ("contacts", "Geburtsdatum", "Geburtsdatum", "date", "birthdate"),
    ("contacts", "asst_nm", "Asst.", "text", "person"),
    ("contacts", "dept", "Dept.", "text", "department"),
    ("contacts", "lst_survey_scr", "Last survey score", "number", "count"),
    ("work_orders", "access_hrs", "Access hours", "text", "hours"),
)

#: Custom objects a tailored tenant has (abbreviated field names; one reference to customers).
TAILORED_OBJECTS: tuple[dict[str, Any], ...] = (
    {"name": "site_inspections", "label": "Site inspection", "prefix": "ins", "fields": [
        {"key": "insp_dt", "label": "Insp. date", "type": "date"},
        {"key": "rslt", "label": "Result", "type": "picklist", "picklist_values": ["pass", "fail", "conditional"]},
        {"key": "inspector_email", "label": "Inspector e-mail", "type": "email"},
        {"key": "insp_notes", "label": "Notes", "type": "text"},
        {"key": "scr", "label": "Score", "type": "number"},
        {"key": "cust", "label": "Customer", "type": "reference", "references": "customers"},
    ]},
    {"name": "vehicles", "label": "Vehicle", "prefix": "veh", "fields": [
        {"key": "plate_no", "label": "Plate no.", "type": "text", "required": True},
        {"key": "make", "label": "Make", "type": "text"},
        {"key": "mileage_km", "label": "Mileage (km)", "type": "number"},
        {"key": "last_svc", "label": "Last service", "type": "date"},
        {"key": "insured", "label": "Insured", "type": "boolean"},
    ]},
)
#: A custom-field key the tailored tenant's work orders hold without a definition (found by sampling).
UNDECLARED_KEY = "legacy_ref"
_DEPARTMENTS = ("Facilities", "Operations", "Finance", "Procurement", "IT")


def _tailored_value(kind: str, rng: random.Random) -> Any:
    if kind == "phone":
        return f"+1 ({rng.randint(200, 989)}) {rng.randint(200, 989)}-{rng.randint(1000, 9999)}"
    if kind == "count":
        return rng.randint(1, 900)
    if kind == "ticker":
        return "".join(rng.choice("ABCDEFGHKLMNPRSTVXZ") for _ in range(rng.randint(3, 4)))
    if kind == "code":
        return f"{rng.randint(1000, 9999)}{rng.choice('ABC#')}"
    if kind == "birthdate":
        return f"{rng.randint(1955, 2000)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if kind == "person":
        return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    if kind == "department":
        return rng.choice(_DEPARTMENTS)
    return f"{rng.randint(6, 9)}am-{rng.randint(3, 6)}pm"


def _tailored_draw(kind: str, rng: random.Random) -> Any:
    """One record's value of a tailored field (``kind``), or of :data:`UNDECLARED_KEY`; None: it has none."""
    if kind == UNDECLARED_KEY:
        return f"LEG-{rng.randint(10_000, 99_999)}" if rng.random() < 0.6 else None
    return _tailored_value(kind, rng) if rng.random() < 0.85 else None


def tailor(stored: _StoredRecords, sink: _Sink, seed: int) -> tuple[list[CustomFieldDef], list[CustomObjectDef]]:
    """What a long-lived tenant adds: :data:`TAILORED_FIELDS` filled on most records, :data:`UNDECLARED_KEY` on
    work orders without a definition, and the records of :data:`TAILORED_OBJECTS` (about one inspection per two
    customers, one vehicle per two technicians).

    One random stream fills the fields one after the other, each over all of its object's records in order.
    Its draws never depend on the records, so each field's starting point is found by drawing through the
    fields before it, and then every record of an object gets all its fields in one pass over the state.
    """
    rng = random.Random(f"sercom-tailor:{seed}")
    defs = [CustomFieldDef(object=o, key=k, label=lbl, type=t)  # type: ignore[arg-type]
            for o, k, lbl, t, _ in TAILORED_FIELDS]
    fills: dict[str, list[tuple[str, str, random.Random]]] = {}
    for obj, key, kind in [*((o, k, kind) for o, k, _, _, kind in TAILORED_FIELDS),
                           ("work_orders", UNDECLARED_KEY, UNDECLARED_KEY)]:  # a key an old import left
        start = random.Random()
        start.setstate(rng.getstate())
        fills.setdefault(obj, []).append((key, kind, start))
        for _ in range(stored.count(obj)):
            _tailored_draw(kind, rng)

    for obj, fields in fills.items():
        def fill(rec: dict[str, Any], fields: list[tuple[str, str, random.Random]] = fields) -> None:
            for key, kind, field_rng in fields:
                value = _tailored_draw(kind, field_rng)
                if value is not None:
                    rec.setdefault("custom_fields", {})[key] = value
        stored.rewrite(obj, fill)

    objects = [CustomObjectDef.model_validate(o) for o in TAILORED_OBJECTS]
    customers = _Ids("cus", stored.count("customers"))
    stamp = stored.first("customers")["created_at"] if customers else "2024-01-01T00:00:00Z"
    for i in range(max(2, len(customers) // 2)):
        sink.add("site_inspections", {
            "id": f"ins_{i + 1:06d}", "created_at": stamp, "updated_at": stamp,
            "insp_dt": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "rslt": rng.choice(("pass", "pass", "fail", "conditional")),
            "inspector_email": f"{rng.choice(FIRST_NAMES).lower()}.{rng.choice(LAST_NAMES).lower()}@inspect.example",
            "insp_notes": rng.choice(("Boiler room clear", "Replace filter next visit", "Access via side gate")),
            "scr": float(rng.randint(40, 100)), "cust": rng.choice(customers) if customers else None})
    sink.flush()
    for i in range(max(2, stored.count("technicians") // 2)):
        sink.add("vehicles", {
            "id": f"veh_{i + 1:06d}", "created_at": stamp, "updated_at": stamp,
            "plate_no": f"{rng.choice('ABCDEFGH')}{rng.choice('KLMNPRST')}-{rng.randint(100, 999)}",
            "make": rng.choice(("Ford Transit", "Mercedes Sprinter", "Ram ProMaster")),
            "mileage_km": float(rng.randint(5_000, 240_000)),
            "last_svc": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", "insured": rng.random() < 0.9})
    sink.flush()
    return defs, objects


def custom_field_definitions() -> list[CustomFieldDef]:
    """The tenant's custom fields (the contract's minimum plus a few more a real tenant would have)."""
    rows: list[tuple[str, str, str, str, list[str], bool]] = [
        ("customers", "contract_tier", "Contract tier", "picklist", list(CONTRACT_TIERS), True),
        ("customers", "customer_since", "Customer since", "date", [], False),
        ("customers", "credit_limit", "Credit limit", "number", [], False),
        ("customers", "tax_exempt", "Tax exempt", "boolean", [], False),
        ("contacts", "preferred_channel", "Preferred channel", "picklist", ["Email", "Phone", "SMS"], False),
        ("contacts", "newsletter_opt_in", "Newsletter opt-in", "boolean", [], False),
        ("assets", "firmware_version", "Firmware version", "text", [], False),
        ("assets", "last_inspection_date", "Last inspection", "date", [], False),
        ("work_orders", "warranty_claim", "Warranty claim", "boolean", [], False),
        ("work_orders", "site_access_notes", "Site access notes", "text", [], False),
        ("work_orders", "travel_distance_km", "Travel distance (km)", "number", [], False),
        ("work_orders", "billing_code", "Billing code", "text", [], False),
        ("work_orders", "service_tier", "Service tier", "picklist", ["Standard", "Priority", "24x7"], False),
    ]
    return [
        CustomFieldDef(object=o, key=k, label=lbl, type=t, picklist_values=pv, required=req)  # type: ignore[arg-type]
        for o, k, lbl, t, pv, req in rows
    ]


def automation_rules() -> list[AutomationRule]:
    """The tenant's automation rules - exported as a rebuild reference, never migrated."""
    rules: list[dict[str, Any]] = [
        {"name": "Email customer on job completion", "object": "work_orders", "trigger": "on_update",
         "conditions": ["status changed to completed", "contact.email is not empty"],
         "actions": ["send_email template=job_completed to=contact.email", "attach job report PDF"]},
        {"name": "Page on-call dispatcher for emergencies", "object": "work_orders", "trigger": "on_create",
         "conditions": ["type == emergency"], "actions": ["set priority = urgent", "send_sms to=dispatch_on_call"]},
        {"name": "Auto-assign technician by territory", "object": "work_orders", "trigger": "on_create",
         "conditions": ["technician_id is empty", "location.zip within territory.zip_ranges"],
         "actions": ["assign technician_id = territory round-robin (active, matching skills)"]},
        {"name": "Escalate SLA breach", "object": "work_orders", "trigger": "schedule", "schedule": "every 15 minutes",
         "conditions": ["status not in (completed, cancelled)", "age_hours > contract.sla_resolution_hours"],
         "actions": ["set priority = urgent", "notify account owner", "add note 'SLA breached'"]},
        {"name": "Warranty expiry reminder", "object": "assets", "trigger": "schedule", "schedule": "daily 06:00",
         "conditions": ["warranty_end_date within 30 days", "status in (active, installed)"],
         "actions": ["create activity type=call for primary contact"]},
        {"name": "Contract renewal opportunity", "object": "contracts", "trigger": "schedule",
         "schedule": "daily 06:00", "conditions": ["status == active", "end_date within 60 days"],
         "actions": ["create deal stage=Prospecting amount=contract value"]},
        {"name": "Won deal creates installation job", "object": "deals", "trigger": "on_update",
         "conditions": ["stage changed to Closed Won"],
         "actions": ["create work_order type=installation status=new", "notify operations manager"]},
        {"name": "Status-change notification to customer portal", "object": "work_orders", "trigger": "on_update",
         "conditions": ["status changed"], "actions": ["post update to customer portal"], "active": False},
    ]
    return [AutomationRule(id=f"rul_{i:06d}", **r) for i, r in enumerate(rules, 1)]


#: Records written to the state per statement while generating (and re-read per statement by the later passes).
CHUNK = 5000


class _Ids:
    """The ids ``<prefix>_000001`` .. of ``n`` records, as a sequence computed on access."""

    def __init__(self, prefix: str, n: int) -> None:
        self.prefix, self.n = prefix, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> str:
        if not 0 <= index < self.n:
            raise IndexError(index)
        return f"{self.prefix}_{index + 1:06d}"


def _groups(owner: array[int], n_groups: int) -> tuple[array[int], array[int]]:
    """Members by group, for ``owner[i]`` = the group of member ``i``: the members of group ``g`` are
    ``members[start[g]:start[g + 1]]``, in increasing order."""
    start = array("q", bytes(8 * (n_groups + 1)))
    for g in owner:
        start[g + 1] += 1
    for g in range(n_groups):
        start[g + 1] += start[g]
    members, fill = array("q", bytes(8 * len(owner))), start[:-1]
    for i, g in enumerate(owner):
        members[fill[g]] = i
        fill[g] += 1
    return start, members


class _Sink:
    """Writes generated records to the state being built, :data:`CHUNK` rows per statement."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, obj: str, rec: dict[str, Any]) -> None:
        self.rows.append((obj, rec["id"], updated_key(rec["updated_at"]), json.dumps(rec, ensure_ascii=False)))
        if len(self.rows) >= CHUNK:
            self.flush()

    def add_file(self, att_id: str, content: bytes) -> None:
        self.conn.execute("INSERT INTO attachment_blobs VALUES (?, ?)", (att_id, content))

    def flush(self) -> None:
        if self.rows:
            self.conn.executemany("INSERT INTO records (object, id, updated_key, body) VALUES (?, ?, ?, ?)", self.rows)
            self.rows.clear()

    def value(self, obj: str, record_id: str, field: str) -> Any:
        """A field of a record already generated (and written)."""
        self.flush()
        row = self.conn.execute(
            "SELECT json_extract(body, ?) FROM records WHERE object=? AND id=?", (f"$.{field}", obj, record_id)
        ).fetchone()
        return None if row is None else row[0]


class _Generator:
    """Generates the standard objects in order into a :class:`_Sink`, keeping of each record only what later
    objects need: its creation instant, its owner and the like, in compact per-object columns."""

    def __init__(self, counts: dict[str, int], seed: int, sink: _Sink) -> None:
        self.counts = counts
        self.seed = seed
        self.sink = sink
        self.as_of = _epoch(AS_OF)
        self.created: dict[str, array[float]] = {name: array("d") for name in OBJECT_ORDER}

    def rng(self, name: str) -> random.Random:
        # One stream per object: changing how one object is generated leaves the others intact.
        return random.Random(f"sercom:{self.seed}:{name}")

    def stamp(self, obj: str, rec: dict[str, Any], created: float, updated: float) -> None:
        rec["created_at"] = _iso(created)
        rec["updated_at"] = _iso(max(created, min(updated, self.as_of)))
        self.created[obj].append(created)
        self.sink.add(obj, rec)

    def run(self) -> None:
        for step in (self.territories_and_technicians, self.products, self.pipeline_stages, self.customers,
                     self.locations, self.contacts, self.assets, self.work_orders, self.parts_used, self.contracts,
                     self.deals, self.activities, self.notes, self.attachments):
            step()
            self.sink.flush()


    # -- reference data ------------------------------------------------------------------

    def territories_and_technicians(self) -> None:
        rng = self.rng("territories")
        clock = _Clock(rng, self.as_of)
        n_ter, n_tec = self.counts["territories"], self.counts["technicians"]
        ter_ids, tec_ids = _ids("ter", n_ter), _ids("tec", n_tec)
        members: list[list[str]] = [[] for _ in range(n_ter)]
        tec_territory = [i % n_ter for i in range(n_tec)]
        for i, t in enumerate(tec_territory):
            members[t].append(tec_ids[i])
        band = 100000 // n_ter
        width = 500 if band >= 2000 else max(1, band // 4)
        for t in range(n_ter):
            base = t * band
            slots = sorted(rng.sample(range(band // width), k=min(rng.randint(2, 4), band // width)))
            ranges = [f"{base + s * width:05d}-{base + (s + 1) * width - 1:05d}" for s in slots]
            name = TERRITORY_NAMES[t % len(TERRITORY_NAMES)]
            if t >= len(TERRITORY_NAMES):
                name = f"{name} {t // len(TERRITORY_NAMES) + 1}"
            created = clock.start + rng.random() * 30 * 86400
            self.stamp("territories", {"id": ter_ids[t], "name": name, "zip_ranges": ranges,
                                       "technician_ids": members[t]}, created, clock.updated_after(created))
        rng = self.rng("technicians")
        clock = _Clock(rng, self.as_of)
        seen: set[str] = set()
        for i in range(n_tec):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = f"{first[0]}{last}@sercom-fieldops.com".lower()
            k = 2
            while email in seen:
                email = f"{first[0]}{last}{k}@sercom-fieldops.com".lower()
                k += 1
            seen.add(email)
            city = rng.choice(CITIES)
            created = clock.created_after(0)
            self.stamp("technicians", {
                "id": tec_ids[i], "first_name": first, "last_name": last, "email": email,
                "phone": _phone(rng, city[3]), "active": rng.random() < 0.85,
                "territory_id": ter_ids[tec_territory[i]], "skills": sorted(rng.sample(SKILLS, rng.randint(1, 3))),
            }, created, clock.updated_after(created))

    def products(self) -> None:
        rng = self.rng("products")
        clock = _Clock(rng, self.as_of)
        self.products_info: list[tuple[str, str, float]] = []  # (name, sku, unit price)
        for i, pid in enumerate(_ids("prd", self.counts["products"])):
            name, price = CATALOG[i % len(CATALOG)]
            if i >= len(CATALOG):
                name = f"{name} Series {i // len(CATALOG) + 1}"
            created = clock.start + rng.random() * 60 * 86400
            description = rng.choice(PRODUCT_DESCRIPTIONS)
            sku, unit_price = f"SKU-{10000 + i}", round(price * (0.9 + rng.random() * 0.2), 2)
            self.products_info.append((name, sku, unit_price))
            self.stamp("products", {
                "id": pid, "sku": sku, "name": name, "description": description,
                "unit_price": unit_price, "active": rng.random() < 0.9,
            }, created, clock.updated_after(created))

    def pipeline_stages(self) -> None:
        start = self.as_of - SPAN_SECONDS
        for i, (name, prob, closed, won) in enumerate(STAGES):
            self.stamp("pipeline_stages", {
                "id": f"stg_{i + 1:06d}", "name": name, "sort_order": i + 1, "probability": prob,
                "is_closed": closed, "is_won": won,
            }, start + i * 60, start + i * 60)

    # -- accounts --------------------------------------------------------------------------

    def customers(self) -> None:
        rng = self.rng("customers")
        clock = _Clock(rng, self.as_of)
        n = self.counts["customers"]
        ids = _ids("cus", n)
        depth = [1] * n
        self.cust_city: list[tuple[str, str, str, str]] = []
        self.cust_domain: list[str] = []
        self.cust_address: list[tuple[str, str]] = []  # (street, zip)
        types = ("commercial",) * 5 + ("residential",) * 2 + ("industrial",) * 2 + ("government",)
        for i in range(n):
            account_type = rng.choice(types)
            city = rng.choice(CITIES)
            if account_type == "residential":
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                name, domain = f"{first} {last}", rng.choice(("gmail.com", "yahoo.com", "outlook.com", "icloud.com"))
                email = f"{first}.{last}{rng.randrange(10, 99)}@{domain}".lower()
                website = None
                industry = "Residential"
            else:
                if account_type == "government":
                    name = f"City of {city[0]} {rng.choice(GOV_BODIES)}"
                    domain = f"{_slug(city[0])}{city[1].lower()}.gov"
                else:
                    name = f"{rng.choice(LAST_NAMES)} {rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIXES)}"
                    domain = f"{_slug(name[: name.rfind(' ')])}.com"
                email = f"{rng.choice(('info', 'service', 'ap', 'facilities'))}@{domain}"
                website = f"https://www.{domain}"
                industry = "Government" if account_type == "government" else rng.choice(INDUSTRIES)
            parent = None
            if i > 3 and account_type != "residential" and rng.random() < 0.13:
                j = rng.randrange(i)
                if depth[j] < 3:
                    parent, depth[i] = ids[j], depth[j] + 1
            street = f"{rng.randrange(10, 9999)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_TYPES)}"
            zip_code = f"{city[2]}{rng.randrange(100):02d}"
            created = clock.created_after(0)
            self.cust_city.append(city)
            self.cust_domain.append(domain)
            self.cust_address.append((street, zip_code))
            revenue = None if account_type == "residential" else float(rng.randrange(2, 5000) * 10000)
            cf: dict[str, Any] = {"contract_tier": rng.choice(CONTRACT_TIERS)}
            if rng.random() < 0.8:
                cf["customer_since"] = _date(created - rng.random() * 5 * 365 * 86400)
            if account_type != "residential":
                cf["credit_limit"] = float(rng.randrange(1, 50) * 5000)
            cf["tax_exempt"] = account_type == "government"
            self.stamp("customers", {
                "id": ids[i], "name": name, "account_type": account_type, "parent_id": parent,
                "phone": _phone(rng, city[3]), "email": email, "website": website, "industry": industry,
                "annual_revenue": revenue, "billing_street": street, "billing_city": city[0],
                "billing_state": city[1], "billing_zip": zip_code, "billing_country": "US", "custom_fields": cf,
            }, created, clock.updated_after(created))

    def locations(self) -> None:
        rng = self.rng("locations")
        clock = _Clock(rng, self.as_of)
        n_c, n = self.counts["customers"], self.counts["locations"]
        owners = list(range(n_c))
        per = [1] * n_c
        while len(owners) < n:
            c = rng.randrange(n_c)
            if per[c] < 4:
                per[c] += 1
                owners.append(c)
        owners.sort()
        # A customer's locations are consecutive: those of c are range(loc_start[c], loc_start[c + 1]).
        self.loc_start = array("q", [0] * (n_c + 1))
        for c in owners:
            self.loc_start[c + 1] += 1
        for c in range(n_c):
            self.loc_start[c + 1] += self.loc_start[c]
        names: dict[str, str] = {}  # few distinct names: each kept once
        self.loc_name: list[str] = []
        cust_ids = _Ids("cus", n_c)
        for i, c in enumerate(owners):
            primary = i == self.loc_start[c]
            if primary:
                city = self.cust_city[c]
                street, zip_code = self.cust_address[c]
                name = "Main Office" if rng.random() < 0.7 else "Headquarters"
            else:
                city = self.cust_city[c] if rng.random() < 0.6 else rng.choice(CITIES)
                street = f"{rng.randrange(10, 9999)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_TYPES)}"
                zip_code = f"{city[2]}{rng.randrange(100):02d}"
                name = rng.choice(LOCATION_NAMES).format(n=rng.randrange(1, 60), L=rng.choice("ABCDEF"))
            created = clock.created_after(self.created["customers"][c])
            self.loc_name.append(names.setdefault(name, name))
            self.stamp("locations", {
                "id": f"loc_{i + 1:06d}", "customer_id": cust_ids[c], "name": name, "street": street,
                "city": city[0], "state": city[1], "zip": zip_code, "country": "US", "is_primary": primary,
            }, created, clock.updated_after(created))
        del self.cust_address

    def cust_locations(self, c: int) -> range:
        return range(self.loc_start[c], self.loc_start[c + 1])

    def contacts(self) -> None:
        rng = self.rng("contacts")
        clock = _Clock(rng, self.as_of)
        n_c, n = self.counts["customers"], self.counts["contacts"]
        owners = array("q", [i % n_c if i < n_c else rng.randrange(n_c) for i in range(n)])
        self.contact_start, self.contact_members = _groups(owners, n_c)
        cust_ids = _Ids("cus", n_c)
        seen: set[str] = set()
        for i, c in enumerate(owners):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            base = f"{first}.{last}".lower()
            email = f"{base}@{self.cust_domain[c]}"
            k = 2
            while email in seen:
                email = f"{base}{k}@{self.cust_domain[c]}"
                k += 1
            seen.add(email)
            role = "primary" if i == self.contact_members[self.contact_start[c]] else rng.choice(CONTACT_ROLES)
            area = self.cust_city[c][3]
            cf: dict[str, Any] = {}
            if rng.random() < 0.75:
                cf["preferred_channel"] = rng.choice(("Email", "Email", "Phone", "SMS"))
            cf["newsletter_opt_in"] = rng.random() < 0.4
            created = clock.created_after(self.created["customers"][c])
            self.stamp("contacts", {
                "id": f"con_{i + 1:06d}", "customer_id": cust_ids[c], "first_name": first, "last_name": last,
                "email": email, "phone": _phone(rng, area), "mobile": _phone(rng, area) if rng.random() < 0.7 else None,
                "title": rng.choice(TITLES), "role": role, "is_prospect": rng.random() < 0.12, "custom_fields": cf,
            }, created, clock.updated_after(created))
        del self.cust_domain, self.cust_city

    def cust_contacts(self, c: int) -> array[int]:
        return self.contact_members[self.contact_start[c]:self.contact_start[c + 1]]

    def assets(self) -> None:
        rng = self.rng("assets")
        clock = _Clock(rng, self.as_of)
        n_c, n, n_p = self.counts["customers"], self.counts["assets"], self.counts["products"]
        owners = array("q")
        self.asset_loc = array("q")
        statuses = ("active",) * 5 + ("installed",) * 3 + ("in_repair", "retired")
        for i in range(n):
            c = rng.randrange(n_c)
            owners.append(c)
            p = rng.randrange(n_p)
            loc = rng.choice(self.cust_locations(c))
            self.asset_loc.append(loc)
            product_name = self.products_info[p][0]
            created = clock.created_after(self.created["customers"][c])
            install = created - rng.random() * 2 * 365 * 86400
            warranty = install + rng.choice((1, 2, 3, 5)) * 365 * 86400
            history = []
            t = install
            for _ in range(rng.randrange(5)):
                t += rng.random() * 200 * 86400
                if t > self.as_of:
                    break
                history.append({"date": _date(t), "summary": rng.choice(MAINTENANCE_SUMMARIES)})
            serial = (f"{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}"
                      f"{rng.randrange(10, 99)}-{rng.randrange(1000, 9999)}-{rng.randrange(16**4):04X}")
            cf: dict[str, Any] = {}
            if rng.random() < 0.6:
                cf["firmware_version"] = f"v{rng.randrange(1, 5)}.{rng.randrange(10)}.{rng.randrange(20)}"
            if history:
                cf["last_inspection_date"] = history[-1]["date"]
            self.stamp("assets", {
                "id": f"ast_{i + 1:06d}", "customer_id": f"cus_{c + 1:06d}", "location_id": f"loc_{loc + 1:06d}",
                "product_id": f"prd_{p + 1:06d}", "name": f"{product_name} ({self.loc_name[loc]})",
                "serial_number": serial, "status": rng.choice(statuses), "install_date": _date(install),
                "warranty_end_date": _date(warranty), "maintenance_history": history, "custom_fields": cf,
            }, created, clock.updated_after(created))
        self.asset_start, self.asset_members = _groups(owners, n_c)
        del self.loc_name

    def cust_assets(self, c: int) -> array[int]:
        return self.asset_members[self.asset_start[c]:self.asset_start[c + 1]]

    # -- field service ---------------------------------------------------------------------

    def work_orders(self) -> None:
        rng = self.rng("work_orders")
        clock = _Clock(rng, self.as_of)
        n_c, n, n_t = self.counts["customers"], self.counts["work_orders"], self.counts["technicians"]
        types = ("repair",) * 4 + ("maintenance",) * 3 + ("installation", "inspection", "emergency")
        recent_statuses = ("new", "scheduled", "scheduled", "dispatched", "in_progress", "in_progress",
                           "on_hold", "completed", "completed", "cancelled")
        old_statuses = ("completed",) * 17 + ("cancelled", "cancelled", "on_hold")
        priorities = ("low", "normal", "normal", "normal", "high", "urgent")
        # Per work order: its customer, whether work was done, and its contact, asset and technician (-1: none).
        self.wo_owner, self.wo_worked = array("q"), bytearray()
        self.wo_contact, self.wo_asset, self.wo_tech = array("q"), array("q"), array("q")
        for i in range(n):
            c = rng.randrange(n_c)
            wo_type = rng.choice(types)
            created = clock.created_after(self.created["customers"][c])
            status = rng.choice(old_statuses if self.as_of - created > 45 * 86400 else recent_statuses)
            path = self._status_path(rng, status)
            times = [created]
            for _ in path[1:]:
                times.append(times[-1] + 600 + rng.random() * 3 * 86400)
            if times[-1] > self.as_of:  # squeeze the history into the window
                scale = (self.as_of - created) / (times[-1] - created)
                times = [created + (t - created) * scale for t in times]
            history = [{"status": s, "at": _iso(t)} for s, t in zip(path, times, strict=True)]
            technician = None if status == "new" or (status == "cancelled" and len(path) <= 2) else (
                f"tec_{rng.randrange(n_t) + 1:06d}")
            contacts, assets = self.cust_contacts(c), self.cust_assets(c)
            asset = rng.choice(assets) if assets and rng.random() < 0.7 else None
            loc = (self.asset_location(asset) if asset is not None else rng.choice(self.cust_locations(c)))
            sched = times[path.index("scheduled")] + rng.random() * 5 * 86400 if "scheduled" in path else None
            worked = status in ("in_progress", "on_hold", "completed")
            subject = rng.choice(WO_SUBJECTS[wo_type]).format(
                area=rng.choice(AREAS), product=rng.choice(CATALOG)[0])
            cf: dict[str, Any] = {"warranty_claim": rng.random() < 0.08,
                                  "billing_code": f"BC-{rng.randrange(1000, 9999)}"}
            if rng.random() < 0.3:
                cf["site_access_notes"] = rng.choice(("Gate code 4471#", "Check in with security desk",
                                                      "Roof hatch key at front desk", "Call ahead 30 min"))
            if technician:
                cf["travel_distance_km"] = round(rng.random() * 80, 1)
            cf["service_tier"] = rng.choice(("Standard", "Standard", "Priority", "24x7"))
            contact = rng.choice(contacts) if contacts and rng.random() < 0.85 else None
            self.wo_owner.append(c)
            self.wo_worked.append(worked)
            self.wo_contact.append(-1 if contact is None else contact)
            self.wo_asset.append(-1 if asset is None else asset)
            self.wo_tech.append(-1 if technician is None else int(technician[4:]) - 1)
            self.stamp("work_orders", {
                "id": f"wo_{i + 1:06d}", "number": f"WO-{i + 1:06d}", "customer_id": f"cus_{c + 1:06d}",
                "location_id": f"loc_{loc + 1:06d}",
                "contact_id": f"con_{contact + 1:06d}" if contact is not None else None,
                "asset_id": f"ast_{asset + 1:06d}" if asset is not None else None, "technician_id": technician,
                "type": wo_type, "status": status,
                "priority": "urgent" if wo_type == "emergency" else rng.choice(priorities),
                "origin": rng.choice(("phone", "phone", "email", "web", "portal")), "subject": subject,
                "description": f"{subject}. Reported by site contact; {rng.choice(NOTE_BODIES)}",
                "scheduled_date": _date(sched) if sched is not None else None,
                "completed_at": history[-1]["at"] if status == "completed" else None,
                "labor_hours": round(0.5 + rng.random() * 7.5, 2) if worked else None,
                "revenue": round(150 + rng.random() * 4000, 2) if status == "completed" else None,
                "resolution_code": rng.choice(RESOLUTIONS) if status == "completed" else (
                    "CANCELLED-BY-CUSTOMER" if status == "cancelled" else None),
                "status_history": history, "custom_fields": cf,
            }, created, times[-1] + rng.random() * 7200)

    def asset_location(self, asset: int) -> int:
        return self.asset_loc[asset]

    @staticmethod
    def _status_path(rng: random.Random, status: str) -> list[str]:
        """A plausible status history ending in ``status`` (always starting at ``new``)."""
        flow = ["new", "scheduled", "dispatched", "in_progress"]
        if status == "cancelled":
            return [*flow[: rng.randint(1, 3)], "cancelled"]
        if status == "on_hold":
            return [*flow, "on_hold"]
        if status == "completed":
            hold = ["on_hold", "in_progress"] if rng.random() < 0.15 else []
            return [*flow, *hold, "completed"]
        return flow[: flow.index(status) + 1]

    def parts_used(self) -> None:
        rng = self.rng("parts_used")
        clock = _Clock(rng, self.as_of)
        n, n_p = self.counts["parts_used"], self.counts["products"]
        worked = array("q", (i for i, done in enumerate(self.wo_worked) if done))
        pool = worked or range(len(self.wo_worked))
        products = self.products_info
        for i in range(n):
            w = rng.choice(pool)
            p = rng.randrange(n_p)
            created = clock.created_after(self.created["work_orders"][w])
            serial = f"PN{rng.randrange(10**7, 10**8)}" if rng.random() < 0.3 else None
            self.stamp("parts_used", {
                "id": f"prt_{i + 1:06d}", "work_order_id": f"wo_{w + 1:06d}", "product_id": f"prd_{p + 1:06d}",
                "part_number": products[p][1], "quantity": rng.choice((1, 1, 1, 2, 2, 3, 4, 6)),
                "unit_cost": round(products[p][2] * (0.55 + rng.random() * 0.15), 2),
                "serial_number": serial,
                "warranty_status": rng.choice(("in_warranty", "out_of_warranty", "out_of_warranty", "unknown")),
            }, created, clock.updated_after(created))

    def contracts(self) -> None:
        rng = self.rng("contracts")
        clock = _Clock(rng, self.as_of)
        n_c = self.counts["customers"]
        for i in range(self.counts["contracts"]):
            c = rng.randrange(n_c)
            created = clock.created_after(self.created["customers"][c])
            tier = rng.choice(CONTRACT_TIERS)
            start = created + rng.random() * 30 * 86400
            end = start + rng.choice((1, 1, 2, 3)) * 365 * 86400
            if rng.random() < 0.05:
                status = "terminated"
            elif start > self.as_of:
                status = "draft"
            elif end < self.as_of:
                status = "expired"
            else:
                status = "active"
            year = time.gmtime(start).tm_year
            response, resolution = SLA_BY_TIER[tier]
            terms = "\n\n".join(TERMS_PARAGRAPHS[: rng.randint(3, len(TERMS_PARAGRAPHS))])
            self.stamp("contracts", {
                "id": f"ctr_{i + 1:06d}", "customer_id": f"cus_{c + 1:06d}",
                "name": f"{tier} Service Agreement {year}", "number": f"CTR-{year}-{i + 1:05d}",
                "start_date": _date(start), "end_date": _date(end), "status": status,
                "sla_response_hours": response, "sla_resolution_hours": resolution, "terms": terms,
            }, created, clock.updated_after(created))

    def deals(self) -> None:
        rng = self.rng("deals")
        clock = _Clock(rng, self.as_of)
        n_c, n_t = self.counts["customers"], self.counts["technicians"]
        for i in range(self.counts["deals"]):
            c = rng.randrange(n_c)
            created = clock.created_after(self.created["customers"][c])
            contacts = self.cust_contacts(c)
            stage = rng.randrange(len(STAGES))
            close = created + rng.random() * 120 * 86400
            cus_id = f"cus_{c + 1:06d}"
            self.stamp("deals", {
                "id": f"dea_{i + 1:06d}",
                "name": f"{rng.choice(DEAL_NAMES)} - {self.sink.value('customers', cus_id, 'name')}",
                "customer_id": cus_id,
                "contact_id": f"con_{rng.choice(contacts) + 1:06d}" if contacts and rng.random() < 0.8 else None,
                "stage_id": f"stg_{stage + 1:06d}", "amount": float(rng.randrange(5, 800) * 250),
                "close_date": _date(close), "owner_id": f"tec_{rng.randrange(n_t) + 1:06d}",
            }, created, clock.updated_after(created))

    def activities(self) -> None:
        rng = self.rng("activities")
        clock = _Clock(rng, self.as_of)
        n_c, n_t, n_w = self.counts["customers"], self.counts["technicians"], self.counts["work_orders"]
        kinds = ("visit",) * 7 + ("call",) * 6 + ("email",) * 4 + ("meeting",) * 3
        for i in range(self.counts["activities"]):
            kind = rng.choice(kinds)
            wo_id = asset_id = None
            if kind == "visit":
                w = rng.randrange(n_w)
                c = self.wo_owner[w]
                wo_id = f"wo_{w + 1:06d}"
                asset_id = f"ast_{self.wo_asset[w] + 1:06d}" if self.wo_asset[w] >= 0 else None
                contact_id = f"con_{self.wo_contact[w] + 1:06d}" if self.wo_contact[w] >= 0 else None
                technician = self.wo_tech[w]
                tech = f"tec_{technician + 1:06d}" if technician >= 0 else f"tec_{rng.randrange(n_t) + 1:06d}"
                started = clock.created_after(self.created["work_orders"][w])
                subject = rng.choice(ACTIVITY_SUBJECTS["visit"]).format(wo=f"WO-{w + 1:06d}")
            else:
                c = rng.randrange(n_c)
                contacts = self.cust_contacts(c)
                contact_id = f"con_{rng.choice(contacts) + 1:06d}" if contacts and rng.random() < 0.9 else None
                tech = f"tec_{rng.randrange(n_t) + 1:06d}"
                started = clock.created_after(self.created["customers"][c])
                subject = rng.choice(ACTIVITY_SUBJECTS[kind])
            duration = rng.choice((5, 10, 15, 30, 45, 60, 90, 120, 180)) if kind != "email" else 0
            created = min(started + duration * 60, self.as_of)
            self.stamp("activities", {
                "id": f"act_{i + 1:06d}", "type": kind, "subject": subject,
                "description": rng.choice(NOTE_BODIES) if rng.random() < 0.6 else None,
                "customer_id": f"cus_{c + 1:06d}", "contact_id": contact_id, "work_order_id": wo_id,
                "asset_id": asset_id, "technician_id": tech, "started_at": _iso(started),
                "duration_minutes": duration, "outcome": rng.choice(OUTCOMES[kind]),
            }, created, clock.updated_after(created))

    def _parent(self, rng: random.Random, weights: tuple[tuple[str, int], ...]) -> tuple[str, int]:
        """Pick a polymorphic parent (parent_type, index) with the given type weights."""
        cum = list(accumulate(w for _, w in weights))
        ptype = rng.choices([t for t, _ in weights], cum_weights=cum)[0]
        obj = f"{ptype}s"
        return ptype, rng.randrange(self.counts[obj])

    def notes(self) -> None:
        rng = self.rng("notes")
        clock = _Clock(rng, self.as_of)
        n_t = self.counts["technicians"]
        weights = (("work_order", 50), ("customer", 20), ("contact", 10), ("asset", 10), ("deal", 10))
        for i in range(self.counts["notes"]):
            ptype, idx = self._parent(rng, weights)
            obj = f"{ptype}s"
            created = clock.created_after(self.created[obj][idx])
            self.stamp("notes", {
                "id": f"not_{i + 1:06d}", "parent_type": ptype, "parent_id": f"{OBJECTS[obj].prefix}_{idx + 1:06d}",
                "title": rng.choice(NOTE_TITLES), "body": " ".join(rng.sample(NOTE_BODIES, rng.randint(1, 3))),
                "author_id": f"tec_{rng.randrange(n_t) + 1:06d}",
            }, created, clock.updated_after(created))

    def attachments(self) -> None:
        rng = self.rng("attachments")
        clock = _Clock(rng, self.as_of)
        weights = (("work_order", 60), ("asset", 15), ("customer", 10), ("deal", 8), ("contact", 7))
        kind_cum = list(accumulate(k[3] for k in ATTACHMENT_KINDS))
        for i in range(self.counts["attachments"]):
            att_id = f"att_{i + 1:06d}"
            ptype, idx = self._parent(rng, weights)
            obj = f"{ptype}s"
            parent_id = f"{OBJECTS[obj].prefix}_{idx + 1:06d}"
            created = clock.created_after(self.created[obj][idx])
            ctype, ext, stem, _ = rng.choices(ATTACHMENT_KINDS, cum_weights=kind_cum)[0]
            ref = f"WO-{idx + 1:06d}" if obj == "work_orders" else parent_id
            file_name = stem.format(date=time.strftime("%Y%m%d", time.gmtime(created)), n=rng.randrange(1000, 9999),
                                    ref=ref) + f".{ext}"
            size = int(math.exp(math.log(200) + rng.random() * (math.log(20000) - math.log(200))))
            content = _file_bytes(rng, ctype, size, ref)
            self.sink.add_file(att_id, content)
            self.stamp("attachments", {
                "id": att_id, "parent_type": ptype, "parent_id": parent_id, "file_name": file_name,
                "content_type": ctype, "size_bytes": len(content), "sha256": hashlib.sha256(content).hexdigest(),
            }, created, created)


def _file_bytes(rng: random.Random, content_type: str, size: int, ref: str) -> bytes:
    """Deterministic file content of exactly ``size`` bytes with the right magic numbers."""
    if content_type.startswith("text/"):
        csv = content_type == "text/csv"
        lines = ["timestamp,meter,reading_kwh" if csv else f"Technician notes for {ref}"]
        length = len(lines[0]) + 1
        while length < size:
            if csv:
                line = (f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:00,"
                        f"M{rng.randrange(1, 10)},{rng.random() * 900:.2f}")
            else:
                line = rng.choice(NOTE_BODIES)
            lines.append(line)
            length += len(line) + 1
        return ("\n".join(lines) + "\n").encode()[:size]
    head, tail = {
        "application/pdf": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", b"\n%%EOF\n"),
        "image/jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", b"\xff\xd9"),
        "image/png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"\x00\x00\x00\x00IEND\xaeB`\x82"),
    }[content_type]
    return head + rng.randbytes(max(0, size - len(head) - len(tail))) + tail


# --------------------------------------------------------------------------- dirty data


class _StoredRecords:
    """The records of a state being built, as the passes after generation see them.

    :meth:`rows` is one object's records (or those with a field set) in generation order, as a sequence whose
    records are loaded on first access and then kept, edits and all, until :meth:`flush` writes them back; so
    only the records a pass draws are ever in memory.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.loaded: dict[int, dict[str, Any]] = {}

    def span(self, obj: str) -> range:
        """The rowids of ``obj``'s records: consecutive, as the generator writes one object at a time."""
        lo, hi, n = self.conn.execute("SELECT MIN(rowid), MAX(rowid), COUNT(*) FROM records WHERE object=?",
                                      (obj,)).fetchone()
        if not n:
            return range(0)
        if hi - lo + 1 != n:  # pragma: no cover - a state written otherwise
            raise RuntimeError(f"the records of {obj} are not stored consecutively")
        return range(lo, hi + 1)

    def count(self, obj: str) -> int:
        return len(self.span(obj))

    def rows(self, obj: str, field: str | None = None, *, non_empty: bool = False) -> _Rows:
        """``obj``'s records, or those whose ``field`` is not null (``non_empty``: nor the empty string)."""
        self.flush()
        span = self.span(obj)
        if field is None or not span:
            return _Rows(self, span)
        sql = "SELECT rowid FROM records WHERE rowid BETWEEN ? AND ? AND json_extract(body, ?) IS NOT NULL"
        if non_empty:
            sql += " AND json_extract(body, ?) != ''"
        args = (span.start, span.stop - 1, f"$.{field}", *((f"$.{field}",) if non_empty else ()))
        return _Rows(self, array("q", (r[0] for r in self.conn.execute(sql + " ORDER BY rowid", args))))

    def record(self, rowid: int) -> dict[str, Any]:
        rec = self.loaded.get(rowid)
        if rec is None:
            (body,) = self.conn.execute("SELECT body FROM records WHERE rowid=?", (rowid,)).fetchone()
            rec = self.loaded[rowid] = json.loads(body)
        return rec

    def first(self, obj: str) -> dict[str, Any]:
        return self.record(self.span(obj)[0])

    def flush(self) -> None:
        """Write back the records loaded (none of the passes changes ``updated_at``, so the keys stand)."""
        self.conn.executemany("UPDATE records SET body=? WHERE rowid=?",
                              ((json.dumps(rec, ensure_ascii=False), rowid) for rowid, rec in self.loaded.items()))
        self.loaded.clear()

    def rewrite(self, obj: str, edit: Callable[[dict[str, Any]], None]) -> None:
        """Apply ``edit`` to every record of ``obj`` in order, :data:`CHUNK` records at a time."""
        self.flush()
        span = self.span(obj)
        for start in range(span.start, span.stop, CHUNK):
            edited = []
            for rowid, body in self.conn.execute("SELECT rowid, body FROM records WHERE rowid BETWEEN ? AND ?",
                                                 (start, min(start + CHUNK, span.stop) - 1)).fetchall():
                rec = json.loads(body)
                edit(rec)
                edited.append((json.dumps(rec, ensure_ascii=False), rowid))
            self.conn.executemany("UPDATE records SET body=? WHERE rowid=?", edited)


class _Rows:
    """Records of one object by position (see :meth:`_StoredRecords.rows`)."""

    def __init__(self, stored: _StoredRecords, rowids: Sequence[int]) -> None:
        self.stored, self.rowids = stored, rowids

    def __len__(self) -> int:
        return len(self.rowids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.stored.record(self.rowids[index])


class _Dirt:
    """Applies the ``DirtyKnobs`` to freshly generated, fully consistent records."""

    def __init__(self, records: _StoredRecords, knobs: DirtyKnobs, rng: random.Random) -> None:
        self.records = records
        self.knobs = knobs
        self.rng = rng

    def pick(self, rows: _Rows, rate: float) -> list[dict[str, Any]]:
        """``round(rate * n)`` distinct rows - at least one when the knob is on, so every enabled
        problem is present even in a small tenant (and never any when it is off)."""
        if rate <= 0 or not len(rows):
            return []
        k = max(1, round(rate * len(rows)))
        # Positions drawn exactly as random.sample(rows, ...) would draw the rows themselves.
        return [rows[j] for j in self.rng.sample(range(len(rows)), min(k, len(rows)))]

    def apply(self) -> None:
        k = self.knobs
        for obj, fld, target in ORPHANABLE:
            for rec in self.pick(self.records.rows(obj, fld), k.orphan_rate):
                rec[fld] = _missing_id(OBJECTS[target].prefix, self.rng)
        for rec in self.pick(self.records.rows("contacts"), k.contact_without_customer_rate):
            rec["customer_id"] = None
            rec["role"] = None
        for obj in ("contacts", "technicians"):
            rows = self.records.rows(obj)
            for rec in self.pick(rows, k.duplicate_email_rate):
                others = [r for r in (self.rng.choice(rows) for _ in range(8)) if r is not rec]
                if others:
                    rec["email"] = others[0]["email"]
        for obj in ("customers", "contacts", "technicians"):
            for rec in self.pick(self.records.rows(obj, "email", non_empty=True), k.mixed_case_email_rate):
                local, _, domain = rec["email"].partition("@")
                rec["email"] = f"{local.title()}@{domain[:1].upper()}{domain[1:-3]}{domain[-3:].upper()}"
            for rec in self.pick(self.records.rows(obj), k.missing_email_rate):
                rec["email"] = None if self.rng.random() < 0.7 else ""
        for obj, (fld, length) in LONG_TEXT_FIELDS.items():
            for rec in self.pick(self.records.rows(obj), k.long_text_rate):
                rec[fld] = _stretch(str(rec[fld] or "x"), length + self.rng.randrange(40))
        self.unicode()
        for obj, fields in DATE_FIELDS.items():
            for rec in self.pick(self.records.rows(obj), k.bad_date_rate):
                rec[self.rng.choice(fields)] = self.rng.choice(BAD_DATES)
        for rec in self.pick(self.records.rows("customers"), k.bad_date_rate):
            rec["custom_fields"]["customer_since"] = self.rng.choice(BAD_DATES)

    def unicode(self) -> None:
        rate, rng = self.knobs.unicode_rate, self.rng
        for obj in ("contacts", "technicians"):
            for rec in self.pick(self.records.rows(obj), rate):
                rec["first_name"], rec["last_name"] = rng.choice(UNICODE_NAMES)
        for rec in self.pick(self.records.rows("customers"), rate):
            rec["name"] = rng.choice(UNICODE_COMPANIES)
        for obj, fld in (("work_orders", "subject"), ("activities", "subject"), ("notes", "body"),
                         ("notes", "title"), ("locations", "name")):
            for rec in self.pick(self.records.rows(obj), rate):
                rec[fld] = f"{rec[fld] or ''}{rng.choice(UNICODE_SUFFIXES)}"
        for rec in self.pick(self.records.rows("locations"), rate):
            rec["city"] = rng.choice(("Cañon City", "Española", "Coeur d'Alène", "Mañana Springs"))


def _stretch(text: str, length: int) -> str:
    """Repeat ``text`` (with a realistic separator) to exactly ``length`` characters."""
    out = text
    while len(out) < length:
        out = f"{out} - {text}"
    return out[:length]
