"""Workflow: the reconciliation page of a real run, opened in headless Chromium.

GIVEN a small Sercom -> Salesforce migration through the real ASL (its Reconcile step wrote
the report), WHEN the page is rendered by Chromium, THEN the charts are there (an SVG per
pick-list field with one bar per value and side) and painted (the screenshot holds the bar
colours). Then the migrated org is changed behind the run's back (a Case's Priority, a
Work Order's Asset link, an Opportunity's Amount), reconciliation runs again, and the page
shows exactly those checks as failed.

The screenshots stay in the run folder (``<tmp>/flitstack*/reports/reconciliation*.png``).
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections import Counter
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from flitstack.runtime import LocalRuntime
from shared.aws import BlobStore, RunStore
from shared.connectors.salesforce.client import SalesforceDestination
from shared.domain import reconcile
from shared.report_html import FAIL, HELD, SENT
from tests.workflow.conftest import browse as _browse
from tests.workflow.conftest import s3_json, salesforce_client

pytestmark = pytest.mark.slow
RUN = "page-run"
class _Dom(HTMLParser):
    """Elements with their attributes, and which SVG each rect/text lies in."""

    def __init__(self) -> None:
        super().__init__()
        self.svgs: list[dict[str, str]] = []
        self.rects: list[dict[str, str]] = []  # each with "svg": the index of its chart
        self.rows: list[dict[str, str]] = []
        self.sections: list[dict[str, str]] = []
        self.figures: list[dict[str, str]] = []
        self.verdict: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "svg":
            a["section"] = self.sections[-1].get("data-mapping", "") if self.sections else ""
            self.svgs.append(a)
        elif tag == "rect" and self.svgs:
            self.rects.append({**a, "svg": str(len(self.svgs) - 1)})
        elif tag == "tr" and "data-check" in a:
            a["section"] = self.sections[-1].get("data-mapping", "") if self.sections else ""
            self.rows.append(a)
        elif tag == "section":
            self.sections.append(a)
        elif tag == "figure":
            self.figures.append(a)
        elif tag == "header" and a.get("id") == "verdict":
            self.verdict = a


def _dom(html_text: str) -> _Dom:
    dom = _Dom()
    dom.feed(html_text)
    return dom


def _unfilter(kind: int, line: bytearray, prev: bytearray, step: int) -> bytearray:
    """Undo one PNG row filter (None, Sub, Up, Average, Paeth); Up, the common one, on whole rows at once."""
    n = len(line)
    if kind == 2:  # Up: byte-wise add without carries between bytes (SWAR on one big integer)
        high = int.from_bytes(b"\x80" * n, "big")
        a, b = int.from_bytes(line, "big"), int.from_bytes(prev, "big")
        return bytearray((((a & ~high) + (b & ~high)) ^ ((a ^ b) & high)).to_bytes(n, "big"))
    for x in range(n):
        left = line[x - step] if x >= step else 0
        if kind == 1:
            line[x] = (line[x] + left) & 0xFF
        elif kind == 3:
            line[x] = (line[x] + (left + prev[x]) // 2) & 0xFF
        elif kind == 4:
            up, corner = prev[x], prev[x - step] if x >= step else 0
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
    return line


def _pixels(png: bytes, enough: Callable[[Counter[tuple[int, int, int]]], bool]) -> Counter[tuple[int, int, int]]:
    """Count the colours of an 8-bit RGB/RGBA PNG (what Chromium writes), top down, until ``enough``."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        data = png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", data[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    raw, stride = zlib.decompress(idat), width * channels
    prev, counts = bytearray(stride), Counter[tuple[int, int, int]]()
    for row in range(height):
        start = row * (stride + 1)
        line = _unfilter(raw[start], bytearray(raw[start + 1 : start + 1 + stride]), prev, channels)
        counts.update(zip(line[0::channels], line[1::channels], line[2::channels], strict=True))
        if enough(counts):
            break
        prev = line
    return counts


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


@pytest.fixture(scope="module")
def run(runtime_factory: Any) -> tuple[LocalRuntime, Path]:
    runtime = runtime_factory(records=300, seed=5)
    desc = runtime.wait(runtime.start_migration(runtime.run_ref(RUN)), timeout_s=600)
    assert desc["status"] == "SUCCEEDED", desc
    reports = runtime.folder / "reports"
    runtime.download_reports(RUN, reports)
    return runtime, reports


def test_the_page_of_a_real_run_draws_its_charts(run: tuple[LocalRuntime, Path]) -> None:
    runtime, reports = run
    recon = s3_json(runtime, f"runs/{RUN}/reports/reconciliation.json")
    assert recon["passed"], [c for r in recon["mappings"] for c in r["checks"] if not c["passed"]]
    for row in recon["mappings"]:  # the keys other code reads stay, the checks come beside them
        keys = {"mapping", "source", "loaded", "rejected", "filtered_out", "destination", "passed", "checks"}
        assert keys <= set(row)
    page = reports / "reconciliation.html"
    assert not re.search(r"(src|href)=['\"]?https?:", page.read_text()), "the page must not fetch anything"

    dom = _dom(_browse(page, "--dump-dom", profile=runtime.folder / "chromium"))
    assert dom.verdict.get("data-passed") == "true"
    histograms = [c for r in recon["mappings"] for c in r["checks"] if c["check"] == "histogram"]
    drawn = {(s["data-mapping"], s["data-field"]): i for i, s in enumerate(dom.svgs) if "histogram" in s["class"]}
    assert len(drawn) == len(histograms) > 10
    case = next(r for r in recon["mappings"] if r["mapping"] == "work_orders->Case")
    priority = next(c for c in case["checks"] if c["check"] == "histogram" and c["field"] == "Priority")
    bars = [r for r in dom.rects if r["svg"] == str(drawn[("work_orders->Case", "Priority")])]
    for side, counts in (("source", priority["source"]), ("destination", priority["destination"])):
        got = {b["data-value"]: float(b["data-amount"]) for b in bars if b["data-side"] == side}
        assert got == {k: float(v) for k, v in counts.items()}
        assert all(float(b["width"]) > 0 for b in bars if b["data-side"] == side and float(b["data-amount"]) > 0)
    null_charts = [s for s in dom.svgs if "null-rate" in s["class"]]
    assert len(null_charts) == len(recon["mappings"])

    shot = reports / "reconciliation.png"
    _browse(page, f"--screenshot={shot}", profile=runtime.folder / "chromium")
    def painted(c: Counter[tuple[int, int, int]]) -> bool:
        return c[_rgb(SENT)] > 1000 and c[_rgb(HELD)] > 1000

    assert painted(_pixels(shot.read_bytes(), painted)), "the bars were not painted"


def test_a_destination_changed_behind_the_run_fails_the_checks_that_see_it(run: tuple[LocalRuntime, Path]) -> None:
    runtime, reports = run
    sf = salesforce_client(runtime)
    # GIVEN three records changed in the org after the run: a pick-list value, a lookup, an amount
    cases = sf.query_all("SELECT Id, Priority FROM Case WHERE Sercom_Id__c LIKE 'work_orders:%'")["records"]
    case = next(c for c in cases if c["Priority"] == "High")
    sf.Case.update(case["Id"], {"Priority": "Low"})
    linked = sf.query_all("SELECT Id FROM Work_Order__c WHERE Asset__c != null")["records"]
    sf.Work_Order__c.update(linked[0]["Id"], {"Asset__c": None})
    deals = sf.query_all("SELECT Id, Amount FROM Opportunity WHERE Amount != null")["records"]
    sf.Opportunity.update(deals[0]["Id"], {"Amount": deals[0]["Amount"] + 1000})

    # WHEN reconciliation runs again
    assert runtime.engine is not None and runtime.engine.stack is not None and runtime.destination_standin is not None
    stack, info = runtime.engine.stack, runtime.destination_standin.info
    stores = SimpleNamespace(blobs=BlobStore(stack.bucket, client=runtime.engine.client("s3")),
                             runs=RunStore(stack.tables["RunsTable"], client=runtime.engine.client("dynamodb")))
    creds = info["credentials"]
    dest = SalesforceDestination(info["url"], creds["client_id"], creds["client_secret"], creds["username"],
                                 creds["password"], ca_pem=Path(info["ca_path"]).read_text())
    out = reconcile.reconcile(runtime.run_ref(RUN), dest, stores)  # type: ignore[arg-type]
    dest.close()

    # THEN exactly those checks fail, with their numbers, and the page shows them failed
    assert out["passed"] is False
    recon = s3_json(runtime, f"runs/{RUN}/reports/reconciliation.json")
    failed = {(r["mapping"], c["check"], c["field"]) for r in recon["mappings"] for c in r["checks"] if not c["passed"]}
    assert failed == {
        ("work_orders->Case", "histogram", "Priority"),
        ("work_orders->Work_Order__c", "null_rate", "Asset__c"),  # one of ~44 records: > 0.5 points
        ("work_orders->Work_Order__c", "orphans", "Asset__c"),
        ("deals->Opportunity", "sum", "Amount"),
        # the same two changes seen against the raw source (the run's translation applied to it)
        ("work_orders->Case", "source_histogram", "Priority"),
        ("deals->Opportunity", "source_sum", "Amount"),
    }
    calls = recon["destination_calls"]
    assert calls <= len(recon["mappings"]) + 2, calls  # one query per mapping at this size

    runtime.download_reports(RUN, reports)
    page = reports / "reconciliation.html"
    dom = _dom(_browse(page, "--dump-dom", profile=runtime.folder / "chromium"))
    assert dom.verdict.get("data-passed") == "false"
    failed_sections = {s["data-mapping"] for s in dom.sections if s.get("data-passed") == "false"}
    assert failed_sections == {"work_orders->Case", "work_orders->Work_Order__c", "deals->Opportunity"}
    priority = next(s for s in dom.svgs if s["data-mapping"] == "work_orders->Case" and s["data-field"] == "Priority")
    assert priority["data-failed"] == "true"
    assert {(r["section"], r["data-check"], r["data-field"]) for r in dom.rows if "fail" in r["class"]} >= {
        ("work_orders->Case", "histogram", "Priority"), ("deals->Opportunity", "sum", "Amount")}
    shot = reports / "reconciliation-failed.png"
    _browse(page, f"--screenshot={shot}", profile=runtime.folder / "chromium")
    def red(c: Counter[tuple[int, int, int]]) -> bool:
        return c[_rgb(FAIL)] > 5000  # the verdict banner

    assert red(_pixels(shot.read_bytes(), red)), "the failure is not shown in red"
    print(json.dumps({"screenshots": [str(reports / "reconciliation.png"), str(shot)]}))

