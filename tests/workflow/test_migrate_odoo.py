"""Workflow: what only the Odoo pair does (seed 004), through the real ASL on moto and the Odoo stand-in,
read back with plain ``xmlrpc.client`` (:class:`tests.kits.odoo.OdooProbe`).

The pair-independent guarantees (nothing lost or duplicated, second run, delta, rollback) are in
``test_safety_net.py``, which runs Odoo with the Inventory app absent; here the database has it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest

from flitstack.runtime import LocalRuntime, local_environment
from shared.mapping.spec import MigrationSpec
from shared.models import RunOptions
from shared.pairs.sercom_odoo import PARTS_STATUSES
from tests.kits.odoo import OdooProbe
from tests.workflow.conftest import s3_json, s3_lines

pytestmark = pytest.mark.slow
RECORDS = 300


@pytest.fixture(scope="module", params=[17, 19], ids=lambda v: f"odoo{v}")
def rt(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    """17 speaks XML-RPC, 19 JSON-2: both transports carry the inventory path, the chatter and the journal."""
    folder: Path = tmp_path_factory.mktemp(f"odoo{request.param}-inventory")
    local_environment(folder / "lambda.jsonl")
    with LocalRuntime(folder=folder, records=RECORDS, seed=21, destination="odoo",
                      destination_args=["--inventory", "--version", str(request.param)]) as runtime:
        yield runtime


@pytest.fixture(scope="module")
def full(rt: LocalRuntime) -> str:
    """The first full run (the tests below read it; the last one rolls it back)."""
    _run(rt, "inv-full")
    return "inv-full"


def _run(rt: LocalRuntime, run_id: str) -> None:
    desc = rt.wait(rt.start_migration(rt.run_ref(run_id, RunOptions(batch_size=500))), timeout_s=900)
    assert desc["status"] == "SUCCEEDED", desc
    recon = s3_json(rt, f"runs/{run_id}/reports/reconciliation.json")
    assert recon["passed"], [(m["mapping"], c) for m in recon["mappings"] for c in m["checks"] if not c["passed"]]


def _extracted(rt: LocalRuntime, run_id: str, obj: str) -> list[dict[str, Any]]:
    outcome = s3_json(rt, f"runs/{run_id}/extract/outcomes/{obj}.json")
    return [r for key in outcome["batches"] for r in s3_lines(rt, key)]


def test_status_history_is_one_chatter_summary_and_notes_carry_the_technicians_partner(
        rt: LocalRuntime, full: str) -> None:
    """GIVEN a full run WHEN the leads' chatter is read THEN each job has exactly one status-history note listing
    every change with its original UTC time, and each note on a job is authored by the partner of the user its
    technician was matched to by e-mail (else the fallback owner's partner)."""
    probe = OdooProbe(rt)
    jobs = {w["id"]: w for w in _extracted(rt, full, "work_orders")}
    leads = {r["x_sercomid"]: r["id"] for r in probe.call("crm.lead", "search_read", [], ["x_sercomid"])}
    summaries = probe.call("mail.message", "search_read", [["subject", "=", "Sercom status history"]],
                           ["model", "res_id", "body", "subtype_id", "message_type"])
    by_lead = {(m["model"], m["res_id"]): m for m in summaries}
    assert len(by_lead) == len(summaries) == len(leads)  # one summary per lead, no more
    for key, lead_id in leads.items():
        message = by_lead[("crm.lead", lead_id)]
        assert message["subtype_id"][1] == "Note" and message["message_type"] == "comment"
        history = jobs[key.split(":", 1)[1]]["status_history"]
        assert message["body"].count("<li>") == len(history)
        for change in history:
            assert change["at"][:10] + " " in message["body"]
    spec = MigrationSpec.model_validate(s3_json(rt, f"runs/{full}/spec.json"))
    partner_of = {str(u["id"]): u["partner_id"][0] for u in probe.call(
        "res.users", "search_read", [], ["partner_id"], context={"active_test": False})}
    fallback = partner_of[spec.fallback_owner_id]
    notes = probe.call("mail.message", "search_read", [["x_sercomid", "=like", "notes:%"], ["model", "=", "crm.lead"]],
                       ["x_sercomid", "author_id"])
    sources = {n["id"]: n for n in _extracted(rt, full, "notes")}
    matched = 0
    for note in notes:
        author = sources[str(note["x_sercomid"]).split(":", 1)[1]]["author_id"]
        partner = partner_of.get(spec.owners.get(author, ""))  # the user the technician was matched to
        assert note["author_id"][0] == (partner or fallback)
        matched += partner is not None
    assert notes and matched


def test_the_run_is_summed_up_on_the_dashboard_record_and_in_the_audit_csv(rt: LocalRuntime, full: str) -> None:
    """GIVEN a finished run THEN a note on the migration dashboard record (x_flitstack_migration) gives its
    status and per-mapping counts, and audit.csv lists every write the audit log holds (create + id)."""
    probe = OdooProbe(rt)
    summary = s3_json(rt, f"runs/{full}/reports/summary.json")
    model, _, rid = summary["journal"].partition(",")
    assert model == "x_flitstack_migration"
    assert probe.call("ir.model.data", "search_read", [["module", "=", "__flitstack__"], ["model", "=", model]],
                      ["res_id"]) == [{"id": ANY, "res_id": int(rid)}]
    [note] = probe.call("mail.message", "search_read", [["model", "=", model], ["res_id", "=", int(rid)]],
                        ["body", "subtype_id"])
    assert note["subtype_id"][1] == "Note" and f"Migration {full}" in note["body"] and "succeeded" in note["body"]
    loaded = summary["objects"]["parts_used->stock.move.line"]["loaded"]
    assert "parts_used-&gt;stock.move.line: " in note["body"]
    assert f"{loaded} loaded" in note["body"]
    engine = rt.engine
    assert engine is not None and engine.stack is not None
    text = engine.client("s3").get_object(Bucket=engine.stack.bucket, Key=f"runs/{full}/reports/audit.csv")
    rows = list(csv.DictReader(io.StringIO(text["Body"].read().decode())))
    lines = {r["source_key"]: r["dest_id"] for r in rows
             if r["dest_object"] == "stock.move.line" and r["operation"] == "created"}
    assert len(lines) == loaded and all(r["at"] and r["env"] == "target" for r in rows)
    found = probe.call("stock.move.line", "search_read", [], ["x_sercomid"])
    assert {str(r["x_sercomid"]): str(r["id"]) for r in found} == lines


def test_parts_land_as_stock_move_lines_in_a_transfer_linked_to_the_opportunity(rt: LocalRuntime, full: str) -> None:
    """GIVEN an Odoo database with Inventory WHEN Sercom migrates THEN each part of a worked job is a
    stock.move.line (its product, quantity and serial) in its job's draft transfer, which points at the job's
    opportunity; Odoo gave every line its stock.move; the plan said so; rollback removes it all."""
    engine = rt.engine
    assert engine is not None and engine.stack is not None
    plan = engine.client("s3").get_object(Bucket=engine.stack.bucket, Key="runs/inv-full/reports/parts-plan.md")
    assert "Path: **stock.move.line**" in plan["Body"].read().decode()
    signoff = engine.client("s3").get_object(Bucket=engine.stack.bucket, Key="runs/inv-full/reports/mapping.md")
    assert "Inventory is installed (parts-plan.md)" in signoff["Body"].read().decode()  # what the person signs
    probe = OdooProbe(rt)
    parts = {p["id"]: p for p in _extracted(rt, "inv-full", "parts_used")}
    jobs = {w["id"]: w for w in _extracted(rt, "inv-full", "work_orders")}
    products = {p["id"]: p for p in _extracted(rt, "inv-full", "products")}
    lines = probe.call("stock.move.line", "search_read", [["x_sercomid", "=like", "parts_used:%"]],
                       ["x_sercomid", "picking_id", "product_id", "quantity", "lot_name", "move_id", "state"])
    worked = {k for k, p in parts.items()  # a part of a job the source lost is an orphan (rejected too)
              if jobs.get(p["work_order_id"], {}).get("status") in PARTS_STATUSES}
    assert worked and {str(r["x_sercomid"]).split(":", 1)[1] for r in lines} == worked
    rejects = [r for r in s3_lines(rt, "runs/inv-full/rejects/") if r.get("source_object") == "parts_used"]
    assert {r["source_id"] for r in rejects} == set(parts) - worked  # reported, never dropped
    pickings = {r["id"]: r for r in probe.call("stock.picking", "search_read", [["x_sercomid", "!=", False]],
                                               ["x_sercomid", "x_lead_id", "origin", "state", "picking_type_id"])}
    leads = {r["id"]: r["x_sercomid"] for r in probe.call("crm.lead", "search_read", [], ["x_sercomid"])}
    codes = {r["id"]: r["default_code"] for r in probe.call("product.product", "search_read", [],
                                                            ["default_code"])}
    for line in lines:
        part = parts[str(line["x_sercomid"]).split(":", 1)[1]]
        picking = pickings[line["picking_id"][0]]
        assert picking["x_sercomid"] == f"work_orders:{part['work_order_id']}"
        assert leads[picking["x_lead_id"][0]] == picking["x_sercomid"]  # the transfer is on the opportunity
        assert picking["origin"] == jobs[part["work_order_id"]]["number"] and picking["state"] == "draft"
        assert codes[line["product_id"][0]] == products[part["product_id"]]["sku"]
        assert line["quantity"] == float(part["quantity"]) and (line["lot_name"] or None) == part["serial_number"]
        assert line["move_id"] and line["state"] == "draft"
    assert rt.wait(rt.start_rollback("inv-full"), timeout_s=900)["status"] == "SUCCEEDED"
    assert s3_json(rt, "runs/inv-full/reports/rollback.json")["passed"]
    assert probe.call("stock.move.line", "search_count", []) == 0
    assert probe.call("stock.move", "search_count", []) == 0  # the transfers took their moves with them
    assert probe.call("stock.picking", "search_count", [["x_sercomid", "!=", False]]) == 0
