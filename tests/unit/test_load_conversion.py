"""Unit: the loader's record conversion (``ObjectMapping.convert``, Zoho's Convert Lead) stopped by the
budget part-way and resumed: what was converted is recorded as it goes, never converted or rewritten again.

Fakes stand at our interfaces (the loader test's blobs, crosswalk, audit); the destination records every
write and runs out of budget after a set number of conversions, as the Zoho connector does (it checks the
credits before each call). The real connector and stand-in are exercised by tests/workflow/test_zoho_leads.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.connectors.destination import WriteResult
from shared.connectors.zoho.capabilities import CAPABILITIES
from shared.domain import load, xwalk
from shared.domain.keys import Keys
from shared.errors import QuotaExhaustedError
from shared.mapping.spec import Conversion, FieldRule, LookupRule, LookupTarget, MigrationSpec, ObjectMapping
from shared.models import Endpoint, RunRef
from tests.unit.test_load_merged_and_matched import Stores

EXT = "Sercom_Id"
RUN = RunRef(run_id="run-c", pair="sercom-zoho", source=Endpoint(kind="sercom", secret_name="flitstack/s"),
             destination=Endpoint(kind="zoho", secret_name="flitstack/z"))
ITEM = {"mapping": "contacts->Leads", "batch_id": "L01-M00-00000", "level": 1, "source_keys": ["src/0.jsonl"]}


class Dest:
    """Leads upserted (a converted one refused, as Zoho does); conversions until the budget is spent."""

    name, label, scope, capabilities = "zoho", "Zoho CRM", "https://zoho.example", CAPABILITIES

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.upserted: list[str] = []
        self.converted: dict[str, dict[str, str]] = {}  # lead id -> links

    def upsert(self, obj: str, ext: str, records: list[dict[str, Any]], *, allow_bulk: bool) -> list[WriteResult]:
        self.upserted += [r[ext] for r in records]
        return [WriteResult(r[ext], f"lead-{r[ext]}", True) if f"lead-{r[ext]}" not in self.converted
                else WriteResult(r[ext], None, False, "CONVERTED_RECORD", "can't update the converted record")
                for r in records]

    def retrieve(self, obj: str, ids: list[str], fields: list[str]) -> list[dict[str, Any] | None]:
        return [None for _ in ids]

    def convert(self, obj: str, into: str, items: list[tuple[str, str, dict[str, str]]]) -> list[WriteResult]:
        out: list[WriteResult] = []
        for key, lead_id, links in items:
            if self.budget <= 0:
                if out:  # the connector's contract: what was done before the budget's edge, then the pause
                    return out
                raise QuotaExhaustedError("credits spent")
            self.budget -= 1
            self.converted[lead_id] = links
            out.append(WriteResult(key, f"contact-{key}", True))
        return out


def staged() -> Stores:
    leads = ObjectMapping(
        name="contacts->Leads", source_object="contacts", dest_object="Leads", where={"is_prospect": ["true"]},
        fields=[FieldRule(dest="Last_Name", source="last_name")],
        convert=Conversion(into="Contacts", present=["customer_id"], link=[LookupRule(
            dest="Accounts", source="customer_id", target=LookupTarget(source_object="customers",
                                                                         dest_object="Accounts"),
            on_missing="default", default_key="flitstack:default-account")]))
    spec = MigrationSpec(pair="sercom-zoho", external_id_field=EXT, mappings=[leads], fallback_owner_id="u",
                         audit_fields=False)
    stores = Stores()
    keys, b = Keys(RUN), stores.blobs
    b.put_json(keys.spec, spec.model_dump())
    source = [{"id": f"c{i}", "last_name": f"L{i}", "is_prospect": True, "customer_id": f"k{i % 3}"}
              for i in range(25)] + [{"id": "c99", "last_name": "Solo", "is_prospect": True}]
    b.put_lines("src/0.jsonl", source)
    b.put_lines(keys.load_ready(ITEM["batch_id"]), [{EXT: f"contacts:{r['id']}", "Last_Name": r["last_name"]}
                                                    for r in source])
    b.put_json(keys.existing(ITEM["batch_id"]), {})
    b.put_json(keys.already_loaded(ITEM["batch_id"]), {})
    xwalk.write_snapshot(b, keys.xwalk_merged("Accounts"), {f"customers:k{i}": f"A{i}" for i in range(3)})
    b.put_json(keys.defaults, {"flitstack:default-account": "A-default"})
    return stores


def test_a_conversion_stopped_by_the_budget_resumes_without_converting_or_rewriting_twice() -> None:
    stores = staged()
    keys = Keys(RUN)
    transformed = {"load_key": keys.load_ready(ITEM["batch_id"]), "input": 26}
    # GIVEN a budget that covers 13 of the 25 conversions the rule takes (the 26th prospect has no company)
    dest = Dest(budget=13)
    # WHEN the batch is loaded THEN the budget stops it (the level pauses), the 13 conversions made recorded
    with pytest.raises(QuotaExhaustedError):
        load.load_batch(RUN, ITEM, transformed, dest, stores)  # type: ignore[arg-type]
    xwalk = stores.crosswalk.data
    assert len(xwalk["https://zoho.example#Leads"]) == 26  # the leads were recorded before converting
    assert len(xwalk["https://zoho.example#Contacts"]) == 13
    # WHEN the window frees credits and the batch is retried
    dest.budget = 100
    outcome = load.load_batch(RUN, ITEM, transformed, dest, stores)  # type: ignore[arg-type]
    # THEN each lead is converted exactly once (13 before the stop, the other 12 now) and none is refused
    assert len(dest.converted) == 25 and outcome["converted"] == 12 and outcome["load_rejected"] == 0
    assert outcome["loaded"] == 26 and outcome["already_loaded"] == 13
    # ...the converted leads were not written again (Zoho refuses to update one); the others were
    assert dest.upserted.count("contacts:c0") == 1 and dest.upserted.count("contacts:c24") == 2
    # ...every conversion is attached to the lead's company Account, the one without a company converts nothing
    assert {links["Accounts"] for links in dest.converted.values()} == {"A0", "A1", "A2"}
    assert "lead-contacts:c99" not in dest.converted
    # ...the Contacts are recorded for later levels and audited as created (rollback deletes them)
    assert len(xwalk["https://zoho.example#Contacts"]) == 25
    made = [e for e in stores.audit.entries if e["dest_object"] == "Contacts"]
    assert len({e["source_key"] for e in made}) == 25 and {e["operation"] for e in made} == {"created"}
