"""Unit: the Sercom -> Zoho CRM template covers seed 002 and transforms a generated tenant.

GIVEN the Sercom catalog and facts of a generated tenant (the dynamics template test's builders) and Zoho
describes made the way the connector reads ``settings/fields`` (the stand-in's standard modules, through
the connector's own field translation), THEN the spec covers every row of the pair page and the engine
turns the tenant's records into load-ready ones.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sandbox.zoho.schema import standard_modules
from shared import planner
from shared.connectors.zoho.client import FILE_FIELD, _dest_field
from shared.errors import MappingError
from shared.mapping.engine import CompiledMapping, source_key
from shared.models import DealStage, DestCatalog, DestField, DestObject, DestUser, RunOptions
from shared.pairs import sercom_zoho as template
from tests.unit.test_template_sercom_dynamics import extras, source_catalog, tenant

OWNERS = {"tec_000001": "u-1", "tec_000002": "u-2"}
RECORD_MODULES = ["Leads", "Contacts", "Accounts", "Deals", "Tasks", "Events", "Calls"]
# Seed 002's object table: Sercom object -> the Zoho modules it must land in.
SEED_002_ROWS = {
    "contacts": {"Contacts", "Leads"},
    "customers": {"Accounts"},
    "deals": {"Deals"},
    "activities": {"Tasks", "Events"},
    "attachments": {"Attachments"},
    "notes": {"Notes"},
    # Sercom objects beyond the seed's table, carried where Zoho offers a home (territories: see the guarantees)
    "products": {"Products"},
    "parts_used": {"Parts_Used"},
    "contracts": {"Service_Contracts"},
}


def dest_catalog() -> DestCatalog:
    objects: dict[str, DestObject] = {}
    for name, mod in standard_modules(lambda kind, key: f"{kind}:{key}").items():
        fields = {f.api_name: _dest_field(f.describe(name)) for f in mod.fields.values()}
        for base, f in list(fields.items()):
            if f.type in ("multi_module_lookup", "parent"):
                fields.update({f"{base}__{m}": DestField(name=f"{base}__{m}", type="lookup", reference_to=[m])
                               for m in RECORD_MODULES})
        objects[name] = DestObject(name=name, fields=fields)
    objects["Attachments"] = DestObject(name="Attachments", fields={
        "File_Name": DestField(name="File_Name", type="text", length=255),
        "Parent_Id": DestField(name="Parent_Id", type="parent", nillable=False),
        FILE_FIELD: DestField(name=FILE_FIELD, type="file")})
    return DestCatalog(instance="https://zoho.test", objects=objects,
                       users=[DestUser(id="u-int", email="admin@example.com", active=True)],
                       integration_user_id="u-int", audit_fields_settable=False)


def build(**run: Any) -> Any:
    return template.build_spec(source_catalog(tenant()), dest_catalog(), RunOptions(**run), extras=extras(),
                               owners=OWNERS, fallback_owner_id="u-int")


def test_every_row_of_seed_002_lands_where_the_pair_page_says() -> None:
    spec = build()
    lands: dict[str, set[str]] = {}
    for m in spec.mappings:
        lands.setdefault(m.source_object, set()).add(m.dest_object)
    for source, modules in SEED_002_ROWS.items():
        assert modules <= lands[source], (source, lands.get(source))
    assert "territories" not in lands  # no Zoho record holds a territory (docs/guarantees-zoho.md)
    assert spec.mapping("parts_used->Parts_Used").lookups[0].on_missing == "reject"  # never a part of no order
    assert "Product" in {lk.dest for lk in spec.mapping("assets->Service_Assets").lookups}
    assert {o.name for o in spec.custom_objects} == {"Work_Orders", "Service_Assets", "Service_Locations",
                                                     "Parts_Used", "Service_Contracts"}
    # original times in custom datetime fields (Zoho's own are read-only), on every module that takes fields
    for m in spec.mappings:
        names = {r.dest for r in m.fields}
        if m.dest_object in ("Notes", "Attachments"):
            assert m.insert_only and "Original_Created_Date" not in names
        else:
            assert {"Original_Created_Date", "Original_Modified_Date"} <= names, m.name
    created = {(f.object, f.name): f for f in spec.custom_fields}
    assert created[("Accounts", "Original_Created_Date")].type == "DateTime"
    assert created[("Accounts", "Sercom_Id")].external_id
    assert not spec.audit_fields


def test_prospects_are_leads_and_the_rest_contacts_exactly_once() -> None:
    spec = build()
    contacts, leads = (next(m for m in spec.mappings if m.dest_object == d) for d in ("Contacts", "Leads"))
    crosswalk: dict[str, dict[str, str]] = {"__defaults__": {template.DEFAULT_ACCOUNT_KEY: "acc-default"}}
    records = tenant().records["contacts"]
    landed = Counter()
    for m in (contacts, leads):
        compiled = CompiledMapping(spec, m, crosswalk)
        landed[m.dest_object] = len(compiled.apply(records).keys)
    prospects = sum(1 for r in records if r.get("is_prospect") is True)
    assert landed["Leads"] == prospects > 0
    assert landed["Contacts"] + landed["Leads"] == len(records)


def test_contacts_without_a_loaded_company_get_the_unassigned_account() -> None:
    spec = build()
    m = next(m for m in spec.mappings if m.dest_object == "Contacts")
    crosswalk = {"__defaults__": {template.DEFAULT_ACCOUNT_KEY: "acc-default"}, "Accounts": {}}
    result = CompiledMapping(spec, m, crosswalk).apply(tenant().records["contacts"][:50])
    assert result.records and all(r["Account_Name"] == "acc-default" for r in result.records)
    assert spec.default_records[template.DEFAULT_ACCOUNT_KEY]["Account_Name"] == "Unassigned"


def test_deals_map_stages_value_by_value_on_the_standard_pipeline() -> None:
    spec = build()
    deals = next(m for m in spec.mappings if m.dest_object == "Deals")
    rules = {r.dest: r for r in deals.fields}
    assert rules["Pipeline"].constant == "Standard"
    stages = set((rules["Stage"].value_map or {}).values())
    allowed = set(dest_catalog().objects["Deals"].fields["Stage"].picklist_values)
    assert stages <= allowed and {"Closed Won", "Closed Lost"} <= stages
    assert "Probability" not in rules  # Zoho re-applies it from the stage
    assert deals.owner is not None and deals.owner.dest == "Owner"


def test_activities_link_their_account_per_module_and_load_after_it() -> None:
    spec = build()
    tasks = next(m for m in spec.mappings if m.dest_object == "Tasks")
    what = next(lk for lk in tasks.lookups if lk.dest == "What_Id")
    assert [t.dest for t in what.all_targets()] == ["What_Id__Accounts"]
    who = next(lk for lk in tasks.lookups if lk.dest == "Who_Id")
    assert {t.dest_object for t in who.all_targets()} == {"Contacts", "Leads"}
    levels = planner.levels(spec)
    level_of = {name: i for i, names in enumerate(levels) for name in names}
    assert level_of["activities->Tasks"] > level_of["customers->Accounts"]
    assert level_of["activities->Tasks"] > level_of["contacts->Leads"]
    crosswalk = {"Accounts": {source_key("customers", r["id"]): f"a-{r['id']}"
                              for r in tenant().records["customers"]}}
    out = CompiledMapping(spec, tasks, crosswalk).apply(tenant().records["activities"][:200])
    assert out.records and all(r.get("What_Id__Accounts", "").startswith("a-") for r in out.records)
    assert {r["Task_Type"] for r in out.records} <= {"Call", "Email", "Visit"}


def test_a_meetings_contact_or_lead_is_its_events_participant() -> None:
    spec = build()
    events = spec.mapping("activities->Events")
    meetings = [r for r in tenant().records["activities"] if r["type"] == "meeting" and r.get("contact_id")]
    assert len(meetings) >= 2
    # GIVEN the first meeting's person landed as a Contact and the second's as a Lead
    first = meetings[0]["contact_id"]
    second = next(m["contact_id"] for m in meetings if m["contact_id"] != first)
    crosswalk = {"Contacts": {source_key("contacts", first): "c-1"}, "Leads": {source_key("contacts", second): "l-2"},
                 "Accounts": {}}
    out = CompiledMapping(spec, events, crosswalk).apply([m for m in meetings if m["contact_id"] in (first, second)])
    # THEN each event names its attendee per module (the connector sends Participants [{type, participant}])
    by_person = {r.get("Participants__Contacts") or r.get("Participants__Leads"): r for r in out.records}
    assert by_person["c-1"]["Participants__Contacts"] == "c-1" and "Participants__Leads" not in by_person["c-1"]
    assert by_person["l-2"]["Participants__Leads"] == "l-2" and by_person["l-2"]["Who_Id"] == "l-2"


def test_lead_conversion_is_the_users_rule_and_loads_after_the_accounts_it_links_to() -> None:
    # GIVEN the default options THEN leads arrive unconverted (conversion costs 5 credits a lead)
    assert build().mapping("contacts->Leads").convert is None
    # WHEN the person asks to convert the prospects whose company was migrated
    spec = build(zoho={"convert_leads": "with_company"})
    conv = spec.mapping("contacts->Leads").convert
    # THEN the Leads mapping converts those into Contacts, attached to the company's Account (else the default)
    assert conv is not None and conv.into == "Contacts" and conv.present == ["customer_id"]
    assert [(lk.dest, lk.target.dest_object if lk.target else None, lk.default_key) for lk in conv.link] == [
        ("Accounts", "Accounts", template.DEFAULT_ACCOUNT_KEY)]
    assert build(zoho={"convert_leads": "all"}).mapping("contacts->Leads").convert.present == []  # type: ignore[union-attr]
    # ...and the plan loads Leads after Accounts (the link) and before what looks up the person's Contact
    levels = {name: i for i, names in enumerate(planner.levels(spec)) for name in names}
    assert levels["customers->Accounts"] < levels["contacts->Leads"] < levels["deals->Deals"]
    assert levels["contacts->Leads"] < levels["activities->Tasks"]


def test_a_conversion_on_a_mapping_that_is_not_upserted_is_refused_naming_it() -> None:
    spec = build(zoho={"convert_leads": "all"}).model_dump()
    notes = next(m for m in spec["mappings"] if m["name"] == "notes->Notes")
    notes["convert"] = {"into": "Contacts"}
    try:
        type(build()).model_validate(spec)
    except ValueError as exc:
        assert "notes->Notes" in str(exc) and "'convert' needs an upserted mapping" in str(exc)
    else:
        raise AssertionError("a conversion on an insert-only mapping was accepted")


def test_deals_land_on_the_pipeline_the_options_name_with_its_own_stages() -> None:
    # GIVEN an org with a second Deals pipeline whose stages are a subset of the Stage pick-list
    dest = dest_catalog().model_copy(update={"pipelines": {
        "Standard": [DealStage(name=s, kind="open") for s in template.OPEN_STAGES]
        + [DealStage(name="Closed Won", kind="won"), DealStage(name="Closed Lost", kind="lost")],
        "Field Service": [DealStage(name="Qualification", kind="open"), DealStage(name="Proposal/Price Quote",
                                                                                  kind="open"),
                          DealStage(name="Closed Won", kind="won"), DealStage(name="Closed Lost", kind="lost")]}})
    dest.objects["Deals"].fields["Pipeline"].picklist_values = ["Standard", "Field Service"]  # as described

    def spec_for(pipeline: str) -> Any:
        return template.build_spec(source_catalog(tenant()), dest, RunOptions(zoho={"pipeline": pipeline}),
                                   extras=extras(), owners=OWNERS, fallback_owner_id="u-int")

    # WHEN the person names it THEN every deal goes there, its stages mapped onto that pipeline's only
    deals = spec_for("Field Service").mapping("deals->Deals")
    fields = {f.dest: f for f in deals.fields}
    assert fields["Pipeline"].constant == "Field Service"
    assert set((fields["Stage"].value_map or {}).values()) <= {"Qualification", "Proposal/Price Quote",
                                                               "Closed Won", "Closed Lost"}
    assert "Proposal/Price Quote" in (fields["Stage"].value_map or {}).values()  # open stages in order
    # ...and a pipeline the org lacks is refused, naming the option and what is allowed
    try:
        spec_for("Renewals")
    except MappingError as exc:
        assert "options.zoho.pipeline" in str(exc) and "'Field Service', 'Standard'" in str(exc)
    else:
        raise AssertionError("an unknown pipeline was accepted")
