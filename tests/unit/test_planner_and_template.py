"""Unit: the pair template covers seed 000's object table, and load order is a real topological sort."""

from __future__ import annotations

import pytest

from shared import planner
from shared.errors import MappingError
from shared.mapping.spec import LookupRule, LookupTarget, MigrationSpec, ObjectMapping
from tests.builders import spec

SEED_000_ROWS = {  # Sercom object -> Salesforce objects it must land in
    "customers": {"Account"}, "contacts": {"Contact", "AccountContactRole"}, "work_orders": {"Case", "Work_Order__c"},
    "assets": {"Asset"}, "activities": {"Task", "Event"}, "parts_used": {"Parts_Used__c"},
    "contracts": {"Contract", "Entitlement"}, "territories": {"Service_Territory__c"},
    "notes": {"ContentVersion"}, "attachments": {"ContentVersion"},
}


def test_template_covers_every_row_of_the_object_table() -> None:
    s = spec()
    produced: dict[str, set[str]] = {}
    for m in s.mappings:
        produced.setdefault(m.source_object, set()).add(m.dest_object)
    for source, dests in SEED_000_ROWS.items():
        assert dests <= produced.get(source, set()), source
    assert {o.name for o in s.custom_objects} == {"Work_Order__c", "Parts_Used__c", "Service_Territory__c"}
    assert {f.object for f in s.custom_fields if f.name == "Sercom_Id__c"} == {
        m.dest_object for m in s.mappings if not m.natural_key}
    picklist = next(f for f in s.custom_fields if f.name == "Contract_Tier__c")
    assert picklist.picklist_values == ["Platinum", "Gold", "Silver", "Bronze"]


def test_levels_put_parents_before_children() -> None:
    s = spec()
    level_of = {name: i for i, names in enumerate(planner.levels(s)) for name in names}
    for m in s.mappings:
        for lk in m.lookups:
            if lk.deferred:
                continue
            for t in lk.all_targets():
                for p in s.mappings:
                    if (p.source_object, p.dest_object) == (t.source_object, t.dest_object) and p.name != m.name:
                        assert level_of[p.name] < level_of[m.name], (p.name, m.name)
    assert [m.name for m in planner.deferred_mappings(s)] == ["customers->Account"]


def test_mappings_that_carry_files_load_after_every_level_that_needs_none() -> None:
    # GIVEN the template, whose files (attachments) look up the same parents as activities and notes
    s = spec()
    with_files = {m.name for m in s.mappings if m.attachment_source}
    assert with_files == {"attachments->ContentVersion"}
    # WHEN it is planned
    planned = planner.levels(s)
    first = planner.first_level_with_files(s, planned)
    # THEN no level before the first with files needs a copied file, and every mapping without files is in one
    assert first < len(planned) and set(planned[first]) == with_files
    assert {n for names in planned[:first] for n in names} == {m.name for m in s.mappings} - with_files
    # AND a mapping that looks up a file-carrying one still loads after it
    files = ObjectMapping(name="files", source_object="f", dest_object="F", attachment_source="Body__c")
    link = ObjectMapping(name="link", source_object="l", dest_object="L", lookups=[
        LookupRule(dest="F__c", source="f_id", target=LookupTarget(source_object="f", dest_object="F"))])
    plain = ObjectMapping(name="plain", source_object="p", dest_object="P")
    small = MigrationSpec(pair="p", external_id_field="E__c", mappings=[files, link, plain], fallback_owner_id="005",
                          audit_fields=False)
    assert planner.levels(small) == [["plain"], ["files"], ["link"]]
    assert planner.first_level_with_files(small, planner.levels(small)) == 1
    assert planner.first_level_with_files(small, [["plain"], ["link"]]) == 2


def test_undeclared_cycle_is_refused_with_the_mappings_named() -> None:
    a = ObjectMapping(name="a", source_object="x", dest_object="X", lookups=[
        LookupRule(dest="Y__c", source="y_id", target=LookupTarget(source_object="y", dest_object="Y"))])
    b = ObjectMapping(name="b", source_object="y", dest_object="Y", lookups=[
        LookupRule(dest="X__c", source="x_id", target=LookupTarget(source_object="x", dest_object="X"))])
    s = MigrationSpec(pair="p", external_id_field="E__c", mappings=[a, b], fallback_owner_id="005", audit_fields=False)
    with pytest.raises(MappingError, match=r"cycle among \['a', 'b'\]"):
        planner.levels(s)


def test_required_destination_field_without_rule_is_a_mapping_error() -> None:
    from shared.models import DestField, RunOptions
    from shared.pairs import sercom_salesforce as template
    from tests.builders import dest_catalog, source_catalog

    dest = dest_catalog()
    dest.objects["Account"].fields["Region__c"] = DestField(name="Region__c", type="string", nillable=False)
    with pytest.raises(MappingError, match=r"Account requires \['Region__c'\]"):
        template.build_spec(source_catalog(), dest, RunOptions(), deal_stages={}, owners={}, fallback_owner_id="005")


def test_invalid_spec_edits_are_refused_with_the_field_named() -> None:
    from pydantic import ValidationError

    from shared.mapping.spec import FieldRule

    with pytest.raises(ValidationError, match="transform 'picklist' needs a 'value_map'"):
        FieldRule(dest="Status", source="status", transform="picklist")
    with pytest.raises(ValidationError, match="'Name' is filled twice"):
        ObjectMapping(name="m", source_object="s", dest_object="D",
                      fields=[FieldRule(dest="Name", source="a"), FieldRule(dest="Name", source="b")])


def test_picklists_are_conformed_to_what_the_org_allows() -> None:
    from shared.mapping.engine import CompiledMapping
    from shared.models import DestField, DestObject, RunOptions
    from shared.pairs import sercom_salesforce as template
    from tests.builders import dest_catalog, source_catalog

    # GIVEN an org whose restricted Case.Type lacks the Sercom service types and Industry is a short list
    dest = dest_catalog()
    dest.objects["Case"] = DestObject(name="Case", fields={
        "Type": DestField(name="Type", type="picklist", picklist_values=["Mechanical", "Other"],
                          restricted_picklist=True)})
    dest.objects["Account"].fields["Industry"] = DestField(name="Industry", type="picklist", restricted_picklist=True,
                                                           picklist_values=["Energy", "Other"])
    s = template.build_spec(source_catalog(), dest, RunOptions(), deal_stages={}, owners={}, fallback_owner_id="005")
    # WHEN records are transformed
    case = CompiledMapping(s, s.mapping("work_orders->Case"), {"Account": {"customers:c": "001"}})
    out = case.apply([{"id": "w", "number": "W", "customer_id": "c", "type": "repair"}])
    acc = CompiledMapping(s, s.mapping("customers->Account"), {}).apply(
        [{"id": "c", "name": "A", "industry": "ENERGY"}, {"id": "d", "name": "B", "industry": "Logistics"}])
    # THEN only allowed values are sent, and every substitution is reported
    assert out.records[0]["Type"] == "Other"
    assert [r["Industry"] for r in acc.records] == ["Energy", "Other"]
    assert [i.code for i in acc.issues] == ["picklist_defaulted"]
