"""Discover: read both schemas, resolve owners by email, propose the mapping.

Outputs (in the run's folder): the source and destination catalogs, the proposed
migration spec (machine-readable), the mapping document a person reviews, the
unmatched-technicians report and the automation rules to rebuild natively.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from shared.automation import automation_export, automation_html
from shared.aws import BlobStore, now_iso
from shared.connectors.destination import Destination
from shared.connectors.source import Source
from shared.domain.budget import budget_markdown, budget_plan
from shared.domain.keys import Keys
from shared.domain.prescan import prescan
from shared.errors import ConfigurationError
from shared.mapping.infer import data_type, sample_custom_fields
from shared.mapping.propose.apply import propose_spec
from shared.mapping.propose.memory import load as load_memory
from shared.mapping.propose.memory import memory_key
from shared.mapping.propose.report import proposals_markdown
from shared.mapping.spec import MigrationSpec
from shared.models import DestCatalog, DestUser, RunRef, SourceCatalog, SourceField
from shared.pairs import for_pair
from shared.prescan_report import preflight_html, preflight_markdown
from shared.reports import automation_rules_markdown, csv_text, mapping_html, mapping_markdown


@dataclass
class OwnerResolution:
    owners: dict[str, str]
    unmatched: list[dict[str, str]]


def resolve_owners(technicians: list[dict[str, Any]], users: list[DestUser], platform: str = "destination"
                   ) -> OwnerResolution:
    """Technician -> user by case-insensitive email; every miss is reported with its reason.

    ``platform`` names the destination in the reasons ("no <destination> user has this email").
    """
    by_email: dict[str, list[DestUser]] = {}
    for u in users:
        if u.email:
            by_email.setdefault(u.email.strip().lower(), []).append(u)
    seen: dict[str, int] = {}
    for t in technicians:
        email = str(t.get("email") or "").strip().lower()
        if email:
            seen[email] = seen.get(email, 0) + 1
    owners: dict[str, str] = {}
    unmatched: list[dict[str, str]] = []
    for t in technicians:
        tid = str(t["id"])
        email = str(t.get("email") or "").strip().lower()
        name = f"{t.get('first_name') or ''} {t.get('last_name') or ''}".strip()
        row = {"technician_id": tid, "name": name, "email": str(t.get("email") or ""),
               "active_in_source": str(bool(t.get("active"))).lower()}
        candidates = by_email.get(email, [])
        if not email:
            unmatched.append({**row, "reason": "technician has no email address"})
        elif seen.get(email, 0) > 1:
            unmatched.append({**row, "reason": f"email {email!r} is shared by {seen[email]} technicians"})
        elif not candidates:
            unmatched.append({**row, "reason": f"no {platform} user has this email"})
        elif not candidates[0].active:
            unmatched.append({**row, "reason": f"the matching {platform} user is inactive"})
        else:
            owners[tid] = candidates[0].id
    return OwnerResolution(owners, unmatched)


def dest_catalog(dest: Destination, objects: list[str]) -> DestCatalog:
    described = {}
    for name in objects:
        obj = dest.describe(name)
        if obj is not None:
            described[name] = obj
    pipelines = getattr(dest, "pipelines", None)  # optional: destinations that keep several deal pipelines
    return DestCatalog(instance=dest.instance_url, objects=described, users=dest.users(),
                       integration_user_id=dest.integration_user_id,
                       audit_fields_settable=dest.audit_fields_settable(described),
                       pipelines=pipelines() if pipelines is not None else {})


SAMPLE_SIZE = 1000


def sample_data(source: Source, catalog: SourceCatalog) -> dict[str, list[dict[str, Any]]]:
    """Profile the first page of every object with custom fields (one call each): the template
    checks declared types against the data and infers them where the declaration does not hold.
    A custom-field key the records hold but the schema does not declare joins the catalog (typed from the
    data, its evidence saying so), so it is mapped rather than dropped. Tenant-defined objects are read the
    same way; the pages read are returned for the mapping proposer."""
    pages: dict[str, list[dict[str, Any]]] = {}
    for obj in catalog.objects:
        custom = [f for f in obj.fields if f.custom]
        carries = bool(custom) or any(f.name == "custom_fields" for f in obj.fields)
        if (not carries and not obj.custom) or obj.count == 0:
            continue
        if any(f.sample is not None for f in custom):
            continue  # the source profiled this object's records itself (all of them, not a first page)
        records = next(iter(source.pages(obj.name, page_size=SAMPLE_SIZE)), [])
        pages[obj.name] = records
        declared = {f.name for f in custom}
        found = Counter(k for r in records for k, v in (r.get("custom_fields") or {}).items()
                        if k not in declared and v not in (None, ""))
        samples = sample_custom_fields(records, [*declared, *found])
        for f in custom:
            f.sample = samples[f.name]
        for key, n in found.items():
            obj.fields.append(SourceField(name=key, type=data_type(samples[key]), label=key, custom=True,
                                          sample=samples[key], evidence=f"not in the schema: found in {n} of "
                                          f"{len(records)} sampled records"))
    return pages


def write_prescan(run: RunRef, spec: MigrationSpec, catalog: SourceCatalog, source: Source, dest: Destination,
                  dcat: DestCatalog, unmatched: list[dict[str, str]], blobs: BlobStore) -> str:
    """The data-quality pre-scan (``shared.domain.prescan``) into ``preflight.json`` / ``preflight.html`` and
    its record-by-record listings (``preflight-{rejects,orphans,duplicates}.jsonl``, streamed);
    returns its summary for the mapping document, so the person signing off the mapping sees it first."""
    keys = Keys(run)
    scan = prescan(spec, catalog, source, dest, dcat, unmatched, run_id=run.run_id,
                   listing=lambda name, rows: blobs.put_lines(keys.report(name), rows))
    blobs.put_json(keys.report("preflight.json"), scan)
    blobs.put_text(keys.report("preflight.html"), preflight_html(scan), "text/html; charset=utf-8")
    return preflight_markdown(scan)


def write_automation(run: RunRef, catalog: SourceCatalog, spec: MigrationSpec, blobs: BlobStore) -> None:
    """The source's automation rules as the destination's native constructs (``shared.automation``):
    ``automation-rules.json`` (``docs/contracts/automation-export.schema.json``) and a readable page."""
    export = automation_export(catalog, run.pair, spec)
    keys = Keys(run)
    blobs.put_json(keys.report("automation-rules.json"), export)
    blobs.put_text(keys.report("automation-rules.html"), automation_html(export), "text/html; charset=utf-8")


def discover(run: RunRef, source: Source, dest: Destination, blobs: BlobStore) -> dict[str, Any]:
    keys = Keys(run)
    template = for_pair(run.pair)
    catalog: SourceCatalog = source.catalog()
    pages = sample_data(source, catalog)
    extras = source.facts(catalog)
    ready = {**source.preflight(), "checked_at": now_iso()}  # shown in the plan and at the sample sign-off
    technicians = source.users()
    dcat = dest_catalog(dest, template.DEST_OBJECTS)
    owners = resolve_owners(technicians, dcat.users, dest.label)
    fallback = dcat.integration_user_id
    if run.options.fallback_owner_email:
        wanted = run.options.fallback_owner_email.strip().lower()
        match = [u for u in dcat.users if u.email == wanted and u.active]
        if not match:
            raise ConfigurationError(f"options.fallback_owner_email: no active {dest.label} user has {wanted!r}")
        fallback = match[0].id
    spec: MigrationSpec = template.build_spec(catalog, dcat, run.options, extras=extras, owners=owners.owners,
                                              fallback_owner_id=fallback)
    memory_at = memory_key(run.pair, catalog.tenant)
    spec, proposals = propose_spec(spec, catalog, dcat, dest.capabilities, run.options, samples=pages,
                                   memory=load_memory(blobs.get_json(memory_at) if blobs.exists(memory_at) else None))
    blobs.put_json(keys.report("proposals.json"), proposals.model_dump())
    blobs.put_json(keys.source_catalog, catalog.model_dump())
    blobs.put_json(keys.report("readiness.json"), ready)
    blobs.put_json(keys.dest_catalog, dcat.model_dump())
    blobs.put_json(keys.spec, spec.model_dump())
    blobs.put_json(keys.report("mapping.json"), spec.model_dump())
    document = (mapping_markdown(spec, catalog, dcat) + "\n" + proposals_markdown(proposals) + "\n"
                + write_prescan(run, spec, catalog, source, dest, dcat, owners.unmatched, blobs))
    counts = {o.name: o.count for o in catalog.objects}
    plan = budget_plan(spec, counts, dcat, dest)
    if plan is not None:  # a metered destination: the cost against what is left, read at sign-off
        document += "\n" + budget_markdown(plan)
        blobs.put_json(keys.report("budget-plan.json"), plan)
    blobs.put_text(keys.report("mapping.md"), document, "text/markdown; charset=utf-8")
    blobs.put_text(keys.report("mapping.html"), mapping_html(document, f"Mapping {run.run_id}"),
                   "text/html; charset=utf-8")
    blobs.put_text(keys.report("unmatched-technicians.csv"),
                   csv_text(owners.unmatched, ["technician_id", "name", "email", "active_in_source", "reason"]),
                   "text/csv")
    blobs.put_text(keys.report("automation-rules.md"), automation_rules_markdown(catalog, run.pair),
                   "text/markdown; charset=utf-8")
    write_automation(run, catalog, spec, blobs)
    for name, (text, content_type) in template.extra_reports(spec, catalog, dcat, extras).items():
        blobs.put_text(keys.report(name), text, content_type)
    return {"catalog_key": keys.source_catalog, "plan_key": keys.spec, "mapping_key": keys.report("mapping.md"),
            "source_counts": counts, "unmatched_technicians": len(owners.unmatched),
            "audit_fields": dcat.audit_fields_settable, "preflight_blocking": bool(ready.get("blocking")),
            "proposals_flagged": len(proposals.flagged())}
