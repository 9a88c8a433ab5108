"""The automation export: every destination's plan validates against the committed JSON Schema.

GIVEN the Sercom automation rules (the generator's, what every demo tenant serves) and each pair's golden spec
WHEN the export is made for every registered destination
THEN it validates against docs/contracts/automation-export.schema.json, keeps every rule and action, names
the destination's own construct, and its page escapes what the source wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from sandbox.sercom.generator import automation_rules
from shared.automation import automation_export, automation_html
from shared.connectors import registry
from shared.errors import ConfigurationError
from shared.mapping.spec import MigrationSpec
from shared.models import SourceCatalog

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs/contracts/automation-export.schema.json").read_text())
#: The construct each destination's export must name for a record-created rule.
CREATED = {"salesforce": "Record-Triggered Flow", "dynamics": "Power Automate", "zoho": "Workflow rule",
           "odoo": "base.automation"}


def _catalog(rules: list[dict[str, Any]]) -> SourceCatalog:
    return SourceCatalog(tenant="t", objects=[], automation_rules=rules)


def _spec(pair: str) -> MigrationSpec:
    return MigrationSpec.model_validate(json.loads((ROOT / f"tests/golden/{pair}.json").read_text())["spec"])


@pytest.mark.parametrize("dest", registry.kinds("destination"))
def test_the_export_of_every_destination_validates_against_its_schema(dest: str) -> None:
    Draft202012Validator.check_schema(SCHEMA)
    rules = [r.model_dump() for r in automation_rules()]
    pair = f"sercom-{dest}"
    export = automation_export(_catalog(rules), pair, _spec(pair))
    Draft202012Validator(SCHEMA).validate(export)
    assert [r["source_rule"]["id"] for r in export["rules"]] == [r["id"] for r in rules]
    for out, rule in zip(export["rules"], rules, strict=True):
        assert [a["text"] for a in out["actions"]] == rule["actions"]  # none dropped
        landed = {m.dest_object for m in _spec(pair).mappings if m.source_object == rule["object"]}
        assert set(out["dest_objects"]) <= landed
        assert out["dest_objects"] or out["rebuild_steps"][0].startswith(f"{rule['object']} is not migrated")
        assert out["rebuild_steps"][-1].endswith(f"{'active' if rule['active'] else 'inactive'} in the source)")
    created = next(r for r in export["rules"] if r["source_rule"]["trigger"] == "on_create")
    assert CREATED[dest] in created["native"]["construct"]
    kinds = {a["kind"] for r in export["rules"] for a in r["actions"]}
    assert {"email", "field_update", "create_record", "sms", "assign"} <= kinds


def test_a_source_without_rules_exports_an_empty_plan_and_a_bad_trigger_is_refused() -> None:
    empty = automation_export(_catalog([]), "servicetracker-salesforce", _spec("servicetracker-salesforce"))
    Draft202012Validator(SCHEMA).validate(empty)
    assert empty["rules"] == []
    bad = {"id": "r1", "name": "x", "object": "work_orders", "trigger": "on_delete", "conditions": [], "actions": []}
    with pytest.raises(ConfigurationError, match="trigger 'on_delete' is not one of"):
        automation_export(_catalog([bad]), "sercom-zoho")


def test_the_page_escapes_what_the_source_wrote() -> None:
    rule = {"id": "r1", "name": "<script>alert(1)</script>", "object": "work_orders", "trigger": "on_update",
            "conditions": ["status changed"], "actions": ["set priority = urgent"], "active": True}
    page = automation_html(automation_export(_catalog([rule]), "sercom-odoo", _spec("sercom-odoo")))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Update the record" in page and "crm.lead" in page
