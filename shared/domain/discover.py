"""Discover: read both schemas, resolve owners by email, propose the mapping.

Outputs (in the run's folder): the source and destination catalogs, the proposed
migration spec (machine-readable), the mapping document a person reviews, the
unmatched-technicians report and the automation rules to rebuild natively.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.aws import BlobStore
from shared.destinations.salesforce import SalesforceDestination
from shared.domain.keys import Keys
from shared.errors import ConfigurationError
from shared.mapping.infer import sample_custom_fields
from shared.mapping.spec import MigrationSpec
from shared.models import DestCatalog, DestUser, RunRef, SourceCatalog
from shared.reports import automation_rules_markdown, csv_text, mapping_markdown
from shared.sources.sercom import SercomSource
from shared.templates import sercom_salesforce as template

TECHNICIANS = "technicians"


@dataclass
class OwnerResolution:
    owners: dict[str, str]
    unmatched: list[dict[str, str]]


def resolve_owners(technicians: list[dict[str, Any]], users: list[DestUser]) -> OwnerResolution:
    """Technician -> user by case-insensitive email; every miss is reported with its reason."""
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
               "sercom_active": str(bool(t.get("active"))).lower()}
        candidates = by_email.get(email, [])
        if not email:
            unmatched.append({**row, "reason": "technician has no email address"})
        elif seen.get(email, 0) > 1:
            unmatched.append({**row, "reason": f"email {email!r} is shared by {seen[email]} technicians"})
        elif not candidates:
            unmatched.append({**row, "reason": "no Salesforce user has this email"})
        elif not candidates[0].active:
            unmatched.append({**row, "reason": "the matching Salesforce user is inactive"})
        else:
            owners[tid] = candidates[0].id
    return OwnerResolution(owners, unmatched)


def dest_catalog(dest: SalesforceDestination, objects: list[str]) -> DestCatalog:
    described = {}
    for name in objects:
        obj = dest.describe(name)
        if obj is not None:
            described[name] = obj
    account = described.get("Account")
    created = account.fields.get("CreatedDate") if account else None
    return DestCatalog(instance=dest.instance_url, objects=described, users=dest.users(),
                       integration_user_id=dest.integration_user_id,
                       audit_fields_settable=bool(created and created.createable))


STANDARD_OBJECTS = ["Account", "Contact", "AccountContactRole", "Case", "Asset", "Product2", "Contract",
                    "Entitlement", "Opportunity", "Task", "Event", "ContentVersion",
                    "Work_Order__c", "Parts_Used__c", "Service_Territory__c"]


SAMPLE_SIZE = 1000


def sample_data(source: SercomSource, catalog: SourceCatalog) -> None:
    """Profile the first page of every object with custom fields (one call each): the template
    checks declared types against the data and infers them where the declaration does not hold."""
    for obj in catalog.objects:
        custom = [f for f in obj.fields if f.custom]
        if not custom or obj.count == 0:
            continue
        records = next(iter(source.pages(obj.name, page_size=SAMPLE_SIZE)), [])
        samples = sample_custom_fields(records, [f.name for f in custom])
        for f in custom:
            f.sample = samples[f.name]


def discover(run: RunRef, source: SercomSource, dest: SalesforceDestination, blobs: BlobStore) -> dict[str, Any]:
    keys = Keys(run)
    catalog: SourceCatalog = source.catalog()
    sample_data(source, catalog)
    stages = source.read_all("pipeline_stages") if any(o.name == "pipeline_stages" for o in catalog.objects) else []
    technicians = source.read_all(TECHNICIANS)
    dcat = dest_catalog(dest, STANDARD_OBJECTS)
    owners = resolve_owners(technicians, dcat.users)
    fallback = dcat.integration_user_id
    if run.options.fallback_owner_email:
        wanted = run.options.fallback_owner_email.strip().lower()
        match = [u for u in dcat.users if u.email == wanted and u.active]
        if not match:
            raise ConfigurationError(f"options.fallback_owner_email: no active Salesforce user has {wanted!r}")
        fallback = match[0].id
    spec: MigrationSpec = template.build_spec(
        catalog, dcat, run.options, deal_stages=template.deal_stage_map(stages), owners=owners.owners,
        fallback_owner_id=fallback)
    blobs.put_json(keys.source_catalog, catalog.model_dump())
    blobs.put_json(keys.dest_catalog, dcat.model_dump())
    blobs.put_json(keys.spec, spec.model_dump())
    blobs.put_json(keys.report("mapping.json"), spec.model_dump())
    blobs.put_text(keys.report("mapping.md"), mapping_markdown(spec, catalog, dcat), "text/markdown; charset=utf-8")
    blobs.put_text(keys.report("unmatched-technicians.csv"),
                   csv_text(owners.unmatched, ["technician_id", "name", "email", "sercom_active", "reason"]),
                   "text/csv")
    blobs.put_text(keys.report("automation-rules.md"), automation_rules_markdown(catalog),
                   "text/markdown; charset=utf-8")
    counts = {o.name: o.count for o in catalog.objects}
    return {"catalog_key": keys.source_catalog, "plan_key": keys.spec, "mapping_key": keys.report("mapping.md"),
            "source_counts": counts, "unmatched_technicians": len(owners.unmatched),
            "audit_fields": dcat.audit_fields_settable}
