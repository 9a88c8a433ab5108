"""The run's cost against the destination's metered budget, shown in the mapping document at sign-off.

A destination whose API is metered by a budget a migration can exhaust (a rolling window of API credits)
prices the run before any write: what each mapping's records cost on the path the connector will take,
what creating the schema costs, what the budget has left now, and how many budget windows the run spans.
When it needs more than is left, the document says so and the load pauses at the budget's edge and
resumes once the window frees credits (the quota pause every destination uses).

The destination offers this through ``plan_budget`` (optional: a destination without one is priced by
nobody and this returns None); the domain names no platform.
"""

from __future__ import annotations

from typing import Any

from shared.connectors.destination import Destination
from shared.mapping.spec import MigrationSpec
from shared.models import DestCatalog


def budget_plan(spec: MigrationSpec, counts: dict[str, int], dcat: DestCatalog, dest: Destination
                ) -> dict[str, Any] | None:
    """The plan (JSON-ready), or None when the destination meters no budget a run can exhaust.

    Record counts are the source object's (an upper bound for a filtered mapping: Tasks and Events
    split one activity list, each priced at the whole).
    """
    price = getattr(dest, "plan_budget", None)
    if price is None:
        return None
    needs = [{"mapping": m.name, "object": m.dest_object, "records": int(counts.get(m.source_object, 0)),
              "bulk": not m.insert_only, "convert": int(counts.get(m.source_object, 0)) if m.convert else 0}
             for m in spec.mappings]
    new_objects = [o.name for o in spec.custom_objects if o.name not in dcat.objects]
    new_fields = [f"{f.object}.{f.name}" for f in spec.custom_fields
                  if f.object in new_objects or f.name not in dcat.objects.get(f.object, _EMPTY).fields]
    plan: dict[str, Any] = price(needs, new_objects=len(new_objects), new_fields=len(new_fields))
    return plan


class _Empty:
    fields: dict[str, Any] = {}


_EMPTY = _Empty()


def budget_markdown(plan: dict[str, Any]) -> str:
    """The plan as a section of the mapping document."""
    unit = plan["unit"]
    lines = [f"## {unit.capitalize()} budget plan", "",
             f"- {unit} needed by this run (at most): **{plan['needed']:,}** "
             f"(schema {plan['schema']:,}, records {plan['records']:,})",
             f"- {unit} available now: **{plan['available']:,}**" if plan.get("available") is not None
             else f"- {unit} available now: unknown",
             f"- window: {plan['window']}",
             ""]
    if plan["fits"]:
        lines.append(f"The run fits in what is left of the window's {unit}.")
    else:
        lines.append(f"**The run needs more {unit} than are left: it spans about {plan['windows']} windows.** "
                     f"The load pauses at the budget's edge and resumes from its checkpoint when the window "
                     f"frees {unit} (option `quota_pause_s` sets how often it looks).")
    lines += ["", f"| mapping | object | records | path | {unit} | calls |", "|---|---|---:|---|---:|---:|"]
    for row in plan["by_mapping"]:
        lines.append(f"| {row['mapping']} | {row['object']} | {row['records']:,} | {row['path']} | "
                     f"{row['cost']:,} | {row['calls']:,} |")
    if plan.get("notes"):
        lines += ["", *[f"- {n}" for n in plan["notes"]]]
    return "\n".join(lines) + "\n"
