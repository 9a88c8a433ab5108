"""The proposer over a spec: custom fields moved onto free standard fields, tenant objects created, every field
accounted for, and a person's sign-off edits proposed first for the tenant's next run."""

from __future__ import annotations

from typing import Any

from shared.connectors import registry
from shared.mapping.propose.apply import propose_spec
from shared.mapping.propose.memory import Memory, edits
from shared.mapping.propose.report import proposals_markdown
from shared.mapping.spec import CustomFieldSpec, FieldRule, MigrationSpec, ObjectMapping
from shared.models import DestCatalog, DestField, DestObject, RunOptions, SourceCatalog, SourceField, SourceObject

CAPS = registry.destination("salesforce").capabilities


def _catalogs() -> tuple[SourceCatalog, DestCatalog]:
    customers = SourceObject(name="customers", label="Customer", count=3, fields=[
        SourceField(name="id", type="id"), SourceField(name="name", type="string"),
        SourceField(name="status_history", type="list"),
        SourceField(name="cust_fax_no", type="text", label="Fax no.", custom=True),
        SourceField(name="gate_code", type="text", label="Gate code", custom=True)])
    vehicles = SourceObject(name="vehicles", label="Vehicle", count=2, custom=True, fields=[
        SourceField(name="id", type="id"), SourceField(name="created_at", type="datetime"),
        SourceField(name="updated_at", type="datetime"),
        SourceField(name="plate_no", type="text", required=True), SourceField(name="insured", type="boolean"),
        SourceField(name="owner_customer", type="reference", references="customers")])
    account = DestObject(name="Account", fields={n: DestField(name=n, type=t) for n, t in (
        ("Name", "string"), ("Fax", "phone"), ("Site", "string"), ("Description", "textarea"))})
    return (SourceCatalog(tenant="acme", objects=[customers, vehicles]),
            DestCatalog(instance="https://x", objects={"Account": account}, users=[], integration_user_id="005",
                        audit_fields_settable=True))


def _spec() -> MigrationSpec:
    rules = [FieldRule(dest="Name", source="name"),
             FieldRule(dest="Cust_Fax_No__c", source="custom_fields.cust_fax_no", max_length=255),
             FieldRule(dest="Gate_Code__c", source="custom_fields.gate_code", max_length=255)]
    fields = [CustomFieldSpec(object="Account", name="Sercom_Id__c", label="Sercom Id", type="Text", length=80,
                              external_id=True, unique=True),
              CustomFieldSpec(object="Account", name="Cust_Fax_No__c", label="Fax no.", type="Text", length=255),
              CustomFieldSpec(object="Account", name="Gate_Code__c", label="Gate code", type="Text", length=255)]
    return MigrationSpec(pair="sercom-salesforce", external_id_field="Sercom_Id__c", custom_fields=fields,
                         mappings=[ObjectMapping(name="accounts", source_object="customers", dest_object="Account",
                                                 fields=rules)], fallback_owner_id="005", audit_fields=True)


SAMPLES = {"customers": [{"id": f"c{i}", "custom_fields": {"cust_fax_no": f"+1 555 201 33{i}{i}",
                                                           "gate_code": f"{i}4{i}A"}} for i in range(5)],
           "vehicles": [{"id": "v1", "plate_no": "AB-123", "insured": True, "owner_customer": "c1"}]}


def test_fields_move_objects_are_created_and_every_field_is_accounted_for() -> None:
    source, dest = _catalogs()
    spec, report = propose_spec(_spec(), source, dest, CAPS, RunOptions(), samples=SAMPLES, memory=Memory())
    accounts = spec.mapping("accounts")
    assert {r.source: r.dest for r in accounts.fields}["custom_fields.cust_fax_no"] == "Fax"
    assert "Cust_Fax_No__c" not in {f.name for f in spec.custom_fields}  # the field it no longer needs
    assert {r.source: r.dest for r in accounts.fields}["custom_fields.gate_code"] == "Gate_Code__c"
    vehicles = spec.mapping("vehicles")
    assert vehicles.dest_object == "Vehicles__c" and [o.name for o in spec.custom_objects] == ["Vehicles__c"]
    assert ("plate_no", "Name") in {(r.source, r.dest) for r in vehicles.fields}  # the required text names it
    assert vehicles.lookups[0].target is not None and vehicles.lookups[0].target.dest_object == "Account"
    statuses = {(f.source_object, f.source): f.status for f in report.fields}
    assert statuses[("customers", "status_history")] == "skipped"
    assert statuses[("customers", "name")] == "pair"
    expected = {(o.name, f"custom_fields.{f.name}" if f.custom else f.name) for o in source.objects for f in o.fields}
    assert expected == set(statuses)


def test_sign_off_edits_are_proposed_first_next_time() -> None:
    source, dest = _catalogs()
    proposed, _ = propose_spec(_spec(), source, dest, CAPS, RunOptions(), samples=SAMPLES, memory=Memory())
    # GIVEN a person moved the gate code onto Site at the sign-off of run-1
    edited = proposed.model_copy(deep=True)
    accounts = edited.mapping("accounts")
    accounts.fields = [r.model_copy(update={"dest": "Site"}) if r.source == "custom_fields.gate_code" else r
                       for r in accounts.fields]
    memory = edits(proposed, edited, source, "run-1")
    assert set(memory.fields) == {"customers|custom_fields.gate_code"}
    # WHEN the same tenant is discovered again
    spec, report = propose_spec(_spec(), source, dest, CAPS, RunOptions(), samples=SAMPLES,
                                memory=Memory.model_validate_json(memory.model_dump_json()))
    # THEN the person's choice comes first, said to be theirs
    assert {r.source: r.dest for r in spec.mapping("accounts").fields}["custom_fields.gate_code"] == "Site"
    gate = next(f for f in report.fields if f.source == "custom_fields.gate_code")
    assert gate.origin == "remembered" and "run-1" in gate.reasons[0]


def test_a_tenant_object_like_an_existing_one_waits_for_a_person() -> None:
    # GIVEN a tenant object named like the destination's accounts ("Kunden")
    source, dest = _catalogs()
    kunden = source.object("vehicles").model_copy(update={"name": "Kunden", "label": "Kunden"})
    source = source.model_copy(update={"objects": [*source.objects, kunden]})
    # WHEN proposed
    spec, report = propose_spec(_spec(), source, dest, CAPS, RunOptions(), samples=SAMPLES, memory=Memory())
    # THEN it is proposed onto Account but not applied: no mapping, every field waiting, and the document says so
    assert not any(m.source_object == "Kunden" for m in spec.mappings)
    decision = next(o for o in report.objects if o.source_object == "Kunden")
    assert decision.status == "flagged" and decision.dest_object == "Account"
    assert {f.status for f in report.fields if f.source_object == "Kunden"} == {"flagged"}
    assert len(report.flagged()) >= len(kunden.fields)
    assert "| Kunden | Account |" in proposals_markdown(report)


def test_a_custom_field_only_the_records_hold_joins_the_catalog() -> None:
    from shared.domain.discover import sample_data

    class Pages:
        def pages(self, obj: str, page_size: int = 1000, updated_since: str | None = None) -> Any:
            yield [{"id": f"w{i}", "custom_fields": {"declared": "x", "legacy_ref": f"LEG-{i}", "hours": i}}
                   for i in range(1, 6)]

    catalog = SourceCatalog(tenant="t", objects=[SourceObject(name="work_orders", label="Work order", count=5, fields=[
        SourceField(name="id", type="id"), SourceField(name="custom_fields", type="object"),
        SourceField(name="declared", type="text", custom=True)])])
    sample_data(Pages(), catalog)  # type: ignore[arg-type]
    found = {f.name: f for f in catalog.object("work_orders").fields if f.custom}
    assert found["legacy_ref"].type == "text" and found["hours"].type == "number"
    assert "not in the schema: found in 5 of 5" in found["legacy_ref"].evidence
