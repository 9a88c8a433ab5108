"""The generated tenant's form-builder output: custom fields and custom tables.

A real ServiceTracker tenant is shaped by its admins in a drag-and-drop builder; these are
the fields and tables such an admin of an HVAC/facilities contractor builds. Their values
are drawn by :func:`custom_values` so the generator and the definitions cannot disagree.
"""

from __future__ import annotations

import random
from typing import Any

from sandbox.servicetracker.model import CustomColumn, CustomFieldDef, CustomTableDef

_FIELDS: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("clients", "service_tier", "Service tier", "dropdown", ("Bronze", "Silver", "Gold", "Platinum")),
    ("clients", "tax_exempt", "Tax exempt", "checkbox", ()),
    ("clients", "credit_limit", "Credit limit", "currency", ()),
    ("clients", "client_since", "Client since", "date", ()),
    ("clients", "referral_source", "Referral source", "dropdown", ("Web", "Referral", "Trade show", "Cold call")),
    ("client_contacts", "preferred_contact", "Preferred contact method", "dropdown", ("Email", "Phone", "SMS")),
    ("client_contacts", "after_hours_ok", "OK to call after hours", "checkbox", ()),
    ("assets", "refrigerant_type", "Refrigerant", "dropdown", ("R-410A", "R-22", "R-32", "R-454B")),
    ("assets", "filter_size", "Filter size", "text", ()),
    ("assets", "tonnage", "Tonnage", "number", ()),
    ("assets", "last_inspection", "Last inspection", "date", ()),
    ("projects", "cost_center", "Cost center", "text", ()),
    ("projects", "permit_required", "Permit required", "checkbox", ()),
    ("projects", "phase", "Phase", "dropdown", ("Design", "Procurement", "Install", "Closeout")),
    ("work_orders", "billing_code", "Billing code", "text", ()),
    ("work_orders", "travel_km", "Travel distance (km)", "number", ()),
    ("work_orders", "requires_lift", "Requires lift", "checkbox", ()),
    ("work_orders", "customer_po", "Customer PO", "text", ()),
    ("work_orders", "service_window", "Service window", "dropdown", ("Morning", "Afternoon", "Evening", "Weekend")),
    ("work_orders", "safety_checklist", "Safety checklist", "multi_select",
     ("Lockout-tagout", "PPE", "Confined space", "Hot work")),
    ("work_orders", "site_notes", "Site notes", "textarea", ()),
    ("work_order_tasks", "checklist_result", "Checklist result", "dropdown", ("Pass", "Fail", "N/A")),
    ("work_order_tasks", "reading_value", "Reading", "number", ()),
    ("work_order_tasks", "tools_required", "Tools required", "multi_select",
     ("Ladder", "Vacuum pump", "Recovery machine", "Multimeter")),
)


def custom_field_definitions() -> list[CustomFieldDef]:
    """Every custom field of the generated tenant (the schema endpoint lists only part of them)."""
    return [CustomFieldDef(object=o, key=k, label=lbl, type=t, options=list(opts))  # type: ignore[arg-type]
            for o, k, lbl, t, opts in _FIELDS]


def custom_values(obj: str, rng: random.Random, *, fill: float = 0.8) -> dict[str, Any]:
    """Values for ``obj``'s custom fields; each key is present with probability ``fill`` (forms are sparse)."""
    out: dict[str, Any] = {}
    for o, key, _, kind, opts in _FIELDS:
        if o != obj or rng.random() >= fill:
            continue
        match kind:
            case "dropdown":
                out[key] = rng.choice(opts)
            case "multi_select":
                out[key] = sorted(rng.sample(opts, rng.randint(1, len(opts))))
            case "checkbox":
                out[key] = rng.random() < 0.3
            case "currency":
                out[key] = float(rng.randrange(1, 60) * 2500)
            case "number":
                out[key] = round(rng.random() * 120, 1)
            case "date":
                out[key] = f"{rng.randrange(2008, 2026)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
            case "textarea":
                out[key] = rng.choice(("Gate code 4411#. Call ahead.", "Roof hatch key at security desk.",
                                       "Dog on premises - use side entrance.\nParking in rear lot only."))
            case _:
                out[key] = f"{key[:3].upper()}-{rng.randrange(1000, 99999)}"
    return out


def _col(key: str, label: str, type_: str, *, options: tuple[str, ...] = (), references: str | None = None,
         required: bool = False) -> CustomColumn:
    return CustomColumn(key=key, label=label, type=type_, options=list(options),  # type: ignore[arg-type]
                        references=references, required=required)


RESULTS = ("pass", "fail", "needs_repair")
CHECKLIST = ("Belts", "Filters", "Electrical", "Refrigerant", "Condensate", "Controls")
LOG_CATEGORIES = ("Travel", "Delay", "Safety", "Customer request", "Parts run")


def custom_table_definitions() -> list[CustomTableDef]:
    """The generated tenant's custom tables, each with its own column types."""
    return [
        CustomTableDef(key="signature_records", label="Signature Records", columns=[
            _col("work_order_id", "Work order", "reference", references="work_orders", required=True),
            _col("signed_by", "Signed by", "text", required=True),
            _col("signed_at", "Signed at", "datetime", required=True),
            _col("signature", "Signature", "signature"),
            _col("accepted_terms", "Accepted terms", "checkbox"),
        ]),
        CustomTableDef(key="inspection_forms", label="Inspection Forms", columns=[
            _col("asset_id", "Asset", "reference", references="assets"),
            _col("work_order_id", "Work order", "reference", references="work_orders"),
            _col("inspector_id", "Inspector", "reference", references="technicians"),
            _col("inspected_on", "Inspected on", "date", required=True),
            _col("result", "Result", "dropdown", options=RESULTS, required=True),
            _col("checklist", "Checklist", "multi_select", options=CHECKLIST),
            _col("pressure_psi", "Pressure (psi)", "number"),
            _col("labor_cost", "Labor cost", "currency"),
            _col("remarks", "Remarks", "textarea"),
        ]),
        CustomTableDef(key="custom_logs", label="Custom Logs", columns=[
            _col("work_order_id", "Work order", "reference", references="work_orders"),
            _col("logged_at", "Logged at", "datetime", required=True),
            _col("category", "Category", "dropdown", options=LOG_CATEGORIES),
            _col("message", "Message", "textarea"),
            _col("hours", "Hours", "number"),
        ]),
    ]
