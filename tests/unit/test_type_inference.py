"""Unit: custom-field types are checked against, and inferred from, the tenant's data."""

from __future__ import annotations

from shared.mapping.infer import inferred, sample_field
from shared.models import RunOptions, SourceCatalog, SourceField, SourceObject
from shared.pairs import sercom_salesforce as template
from tests.builders import dest_catalog


def test_declared_types_hold_when_the_data_agrees_and_give_way_when_it_does_not() -> None:
    numbers = sample_field([1, 2.5, "3", None, ""] + ["4"] * 40)
    assert inferred("number", numbers)[0] == "number"
    assert inferred("number", sample_field(["n/a", "lots", "7"]))[0] == "text"
    dates = sample_field(["2024-01-02"] * 99 + ["2023-02-30x"])  # one dirty value does not change the type
    assert inferred("date", dates)[0] == "date"
    # a declared text field keeps leading zeros: it is never turned into a number
    assert inferred("text", sample_field(["00123", "00456"]))[0] == "text"
    # an unknown declaration is inferred from the values
    assert inferred("string", sample_field([True, False, "true"]))[0] == "boolean"
    assert inferred("string", sample_field(["2024-05-01T10:00:00Z"]))[0] == "datetime"
    assert inferred("text", sample_field(["x" * 300]))[0] == "long_text"


def test_template_creates_fields_of_the_inferred_type_and_pick_lists_gain_used_values() -> None:
    fields = [
        SourceField(name="tier", type="picklist", custom=True, picklist_values=["Gold"],
                    sample=sample_field(["Gold", "Silver"])),
        SourceField(name="seats", type="string", custom=True, sample=sample_field(["3", "12"])),
        SourceField(name="notes", type="text", custom=True, sample=sample_field(["y" * 400])),
    ]
    source = SourceCatalog(tenant="t", objects=[SourceObject(name="customers", label="c", fields=fields, count=2)])
    spec = template.build_spec(source, dest_catalog(), RunOptions(), deal_stages={}, owners={},
                               fallback_owner_id="005")
    made = {f.name: f for f in spec.custom_fields if f.object == "Account"}
    assert made["Tier__c"].type == "Picklist" and made["Tier__c"].picklist_values == ["Gold", "Silver"]
    assert made["Seats__c"].type == "Number" and "inferred" in (made["Seats__c"].source or "")
    assert made["Notes__c"].type == "LongTextArea"
