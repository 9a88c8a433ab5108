"""Unit: ServiceTracker's custom-field inference and the servicetracker-salesforce template's shape
(fakes at our interfaces: catalogs as data, no stand-in)."""

from __future__ import annotations

from shared import planner
from shared.connectors.servicetracker.discovery import infer_unlisted
from shared.mapping.engine import CompiledMapping
from shared.mapping.infer import sample_field
from shared.models import DestCatalog, RunOptions, ServiceTrackerOptions, SourceCatalog, SourceField, SourceObject
from shared.pairs import for_pair


def test_an_unlisted_field_is_typed_from_its_values_with_its_evidence() -> None:
    # GIVEN values of custom fields the schema does not list
    numbers = infer_unlisted("credit_limit", sample_field([1200, 3400.5, 800]), 0, 5)
    choices = infer_unlisted("referral_source", sample_field(["Web", "Web", "Referral", "Web", "Referral"]), 0, 6)
    flags = infer_unlisted("tax_exempt", sample_field([True, False, True]), 0, 4)
    lists = infer_unlisted("tools", sample_field(["Ladder; PPE", "PPE"]), 2, 3)
    free = infer_unlisted("note", sample_field([f"text {i}" for i in range(30)]), 0, 30)
    # THEN each is typed by what the data supports, and says why
    assert (numbers.type, flags.type, lists.type, free.type) == ("number", "boolean", "multi_select", "text")
    assert choices.type == "picklist" and choices.picklist_values == ["Referral", "Web"]
    assert all(f.custom and "not listed by /v2/schema" in f.evidence for f in (numbers, choices, flags, lists, free))
    assert "on 3 of 5 records" in numbers.evidence


def _catalog() -> SourceCatalog:
    def obj(name: str, *fields: str) -> SourceObject:
        return SourceObject(name=name, label=name, count=1,
                            fields=[SourceField(name=f, type="string") for f in ("id", *fields)])

    return SourceCatalog(tenant="t", objects=[
        obj("clients", "name"), obj("locations", "client_id"), obj("client_contacts", "client_id"),
        obj("technicians", "email"), obj("inventory_items", "name"), obj("assets", "client_id"),
        obj("contracts", "client_id"), obj("projects", "billable", "work_order_ids"),
        obj("work_orders", "project_id", "type"), obj("work_order_tasks", "work_order_id"),
        obj("parts_used", "work_order_id"), obj("invoices", "client_id"), obj("notes", "work_order_id"),
        obj("attachments", "parent_id")])


def _spec(options: RunOptions | None = None):  # type: ignore[no-untyped-def]
    options = options or RunOptions()
    dest = DestCatalog(instance="https://org", objects={}, users=[], integration_user_id="005x",
                       audit_fields_settable=True)
    return for_pair("servicetracker-salesforce").build_spec(_catalog(), dest, options, extras={},
                                                            owners={"1": "005a"}, fallback_owner_id="005x")


def test_the_project_work_order_cycle_is_broken_on_the_work_order_and_projects_load_first() -> None:
    spec = _spec()
    levels = planner.levels(spec)
    level_of = {name: i for i, names in enumerate(levels) for name in names}
    for wo in ("work_orders->Case", "work_orders->Work_Order__c"):
        deferred = [lk for lk in spec.mapping(wo).lookups if lk.deferred]
        assert [lk.source for lk in deferred] == ["project_id"]
        assert {t.dest_object for lk in deferred for t in lk.all_targets()} == {"Opportunity", "Project__c"}
        assert level_of[wo] > max(level_of["projects->Opportunity"], level_of["projects->Project__c"])
    assert {m.name for m in planner.deferred_mappings(spec)} == {"work_orders->Case", "work_orders->Work_Order__c"}


def test_work_orders_and_projects_are_routed_by_rule_and_none_is_left_out() -> None:
    spec = _spec()
    crosswalk: dict[str, dict[str, str]] = {"__defaults__": {}}
    records = [{"id": str(i), "type": t, "billable": b, "created_at": "2024-01-01T00:00:00Z",
                "updated_at": "2024-01-01T00:00:00Z", "projected_end_date": "2024-05-01", "name": "P",
                "status": "active", "number": f"WO-{i}"}
               for i, (t, b) in enumerate([("break_fix", True), ("support", False), ("installation", True),
                                          ("made_up_type", False)])]
    routed = {name: CompiledMapping(spec, spec.mapping(name), crosswalk).apply(records)
              for name in ("work_orders->Case", "work_orders->Work_Order__c", "projects->Opportunity",
                           "projects->Project__c")}
    cases, others = routed["work_orders->Case"], routed["work_orders->Work_Order__c"]
    assert [k.split(":")[1] for k in cases.keys] == ["0", "1"] and [k.split(":")[1] for k in others.keys] == ["2", "3"]
    assert [k.split(":")[1] for k in routed["projects->Opportunity"].keys] == ["0", "2"]
    assert [k.split(":")[1] for k in routed["projects->Project__c"].keys] == ["1", "3"]
    everything = _spec(RunOptions(servicetracker=ServiceTrackerOptions(projects_as="all_project")))
    assert not CompiledMapping(everything, everything.mapping("projects->Opportunity"), crosswalk).apply(records).keys
    projects = CompiledMapping(everything, everything.mapping("projects->Project__c"), crosswalk).apply(records)
    assert len(projects.keys) == 4
