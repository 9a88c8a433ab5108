"""Issue 14's probe of ``PUT …/mapping``: edits that would silently corrupt or drop data are refused.

GIVEN a proposed spec (customers -> Account) and both catalogs, WHEN the probe's edits are validated
(``max_length: -1`` / 0 / 10³⁰, a ``where`` on a field that does not exist, empty mappings or fields,
a dest field that does not exist), THEN each is refused naming its field path and what is allowed.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.mapping.spec import MigrationSpec
from shared.mapping.validate import parse_spec, validate_against
from shared.models import DestCatalog, SourceCatalog

SOURCE = SourceCatalog.model_validate({"tenant": "t", "objects": [{
    "name": "customers", "label": "Customers",
    "fields": [{"name": "name", "type": "string"}, {"name": "status", "type": "string"}]}]})
DEST = DestCatalog.model_validate({"instance": "i", "users": [], "integration_user_id": "u",
                                   "audit_fields_settable": True, "objects": {"Account": {"name": "Account", "fields": {
                                       "Name": {"name": "Name", "type": "string", "length": 255},
                                       "Ext__c": {"name": "Ext__c", "type": "string", "length": 40}}}}})


def spec(**mapping: Any) -> dict[str, Any]:
    base = {"name": "accounts", "source_object": "customers", "dest_object": "Account",
            "fields": [{"dest": "Name", "source": "name", "max_length": 255}]}
    return {"pair": "sercom-salesforce", "external_id_field": "Ext__c", "fallback_owner_id": "u",
            "audit_fields": True, "mappings": [{**base, **mapping}]}


PROPOSED = MigrationSpec.model_validate(spec())


def refusals(body: dict[str, Any]) -> dict[str, str]:
    parsed, errors = parse_spec(body)
    assert parsed is not None, errors
    return {e["field"]: e["message"] for e in validate_against(parsed, SOURCE, DEST, PROPOSED)}


def test_the_proposal_itself_passes() -> None:
    assert refusals(spec()) == {}


@pytest.mark.parametrize("length", [-1, 0, 256, 10**30])
def test_a_max_length_outside_the_destinations_is_refused(length: int) -> None:
    got = refusals(spec(fields=[{"dest": "Name", "source": "name", "max_length": length}]))
    assert got["mappings[0].fields[0].max_length"] == f"{length} is not a length for Account.Name; allowed: 1 to 255"


@pytest.mark.parametrize(("mapping", "field"), [
    ({"where": {"colour": ["red"]}}, "mappings[0].where.colour"),
    ({"require_present": ["nope"]}, "mappings[0].require_present[0]"),
    ({"unless": [{"where": {"ghost": ["x"]}}]}, "mappings[0].unless[0].where.ghost"),
    ({"unless": [{"present": ["ghost"]}]}, "mappings[0].unless[0].present[0]"),
])
def test_conditions_on_fields_that_do_not_exist_are_refused(mapping: dict[str, Any], field: str) -> None:
    message = refusals(spec(**mapping))[field]
    assert "is not a field of source object 'customers'" in message and "allowed: " in message


def test_emptied_mappings_and_fields_are_refused() -> None:
    assert "the proposal has 1 mappings" in refusals({**spec(), "mappings": []})["mappings"]
    assert "keep at least one" in refusals(spec(fields=[]))["mappings[0].fields"]


def test_a_dest_field_that_does_not_exist_is_refused() -> None:
    got = refusals(spec(fields=[{"dest": "Nmae", "source": "name"}]))
    assert got["mappings[0].fields[0].dest"].startswith("'Nmae' is not a field of 'Account'")


def test_a_condition_on_an_existing_field_passes() -> None:
    assert refusals(spec(where={"status": ["active"]}, require_present=["name"])) == {}
