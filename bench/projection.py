"""A cloud projection for a large tenant (issue 15), from what a local run measured.

``project(row, target)`` scales one bench row (``bench/__main__.py``; its ``aws`` usage comes from
``bench/metering.py``) to ``target`` source records: the Lambda GB-seconds and invocations, the Step Functions
state transitions, the DynamoDB request units and the S3 requests, what they cost at the public on-demand prices
below, and the wall time each destination's quota imposes on the load. Everything the engine does per record or
per batch grows linearly with the tenant (batches are a fixed size; the fixed part of a run, discovery and the
sign-offs, is a few hundred requests), so a figure measured at N is scaled by ``target / N``.

The prices and quotas are data with their sources; a figure that rests on an assumption says which.
``python -m bench.projection`` prints the projection of the largest measured Salesforce row in RESULTS.md.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flitstack.local import naming
from infra import resources

#: Public on-demand prices, us-east-1, USD (checked 2026-12).
#: https://aws.amazon.com/lambda/pricing/ (x86), https://aws.amazon.com/step-functions/pricing/ (Standard),
#: https://aws.amazon.com/dynamodb/pricing/on-demand/ (after the November 2024 on-demand price cut),
#: https://aws.amazon.com/s3/pricing/ (S3 Standard requests).
PRICES = {
    "lambda_gb_second": 0.0000166667,
    "lambda_request": 0.20 / 1_000_000,
    "state_transition": 0.025 / 1_000,
    "dynamodb_wru": 0.625 / 1_000_000,
    "dynamodb_rru": 0.125 / 1_000_000,
    "s3_tier1_request": 0.005 / 1_000,
    "s3_tier2_request": 0.0004 / 1_000,
}

DAY_H = 24.0


@dataclass(frozen=True)
class Quota:
    """A destination limit the load draws on: how much per window, and the window."""

    destination: str
    name: str
    per_window: float
    window_h: float
    source: str
    assumption: str = ""


#: The quotas a load of Sercom records meets (reference facts; docs/guarantees-*.md).
SALESFORCE_LICENCES = 50  # an org of 50 Enterprise licences: the daily request allowance grows with them
ZOHO_USERS = 50  # a Zoho CRM Enterprise org of 50 users
DATAVERSE_USERS = 1  # application users the connection spreads its requests over
#: Dataverse's execution-time budget is 20 minutes of server time per 5 minutes; what one written record
#: costs on the server is not published: 10 ms is an assumption, to be replaced by a measured figure.
DATAVERSE_MS_PER_RECORD = 10.0
QUOTAS: tuple[Quota, ...] = (
    Quota("salesforce", "API requests (Enterprise)", 100_000 + 1_000 * SALESFORCE_LICENCES, DAY_H,
          "https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/"
          "salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm",
          f"{SALESFORCE_LICENCES} licences"),
    Quota("salesforce", "Bulk API batches (10,000 records each)", 15_000, DAY_H,
          "https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/"
          "salesforce-app-limits-platform-bulkapi.html"),
    Quota("salesforce", "Bulk API 2.0 ingest records", 150_000_000, DAY_H,
          "https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/bulk_api_2_limits.htm"),
    Quota("salesforce", "ContentVersion publishes", 200_000, DAY_H,
          "https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/"
          "sforce_api_objects_contentversion.htm"),
    Quota("dynamics", "service protection requests per user", 6_000 * DATAVERSE_USERS, 5 / 60,
          "https://learn.microsoft.com/power-apps/developer/data-platform/api-limits",
          f"{DATAVERSE_USERS} application user(s); a $batch counts as one request"),
    Quota("dynamics", "service protection execution time per user (s)", 1_200 * DATAVERSE_USERS, 5 / 60,
          "https://learn.microsoft.com/power-apps/developer/data-platform/api-limits",
          f"{DATAVERSE_MS_PER_RECORD:g} ms of server time per record written (not published: assumed)"),
    Quota("zoho", "API credits (Enterprise)", min(50_000 + 1_000 * ZOHO_USERS, 5_000_000), DAY_H,
          "https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html", f"{ZOHO_USERS} users"),
)


def memory_mb(function_name: str) -> int:
    """The configured memory of a deployed function, from its local name (``infra/resources.py``)."""
    for fn in resources.FUNCTIONS:
        if naming.function_name(fn) == function_name or fn.folder == function_name:
            return fn.memory_mb
    raise KeyError(f"no function {function_name!r} in infra/resources.py")


def _demand(row: dict[str, Any], destination: str) -> dict[str, float]:
    """Per quota name, what the measured run drew on it (source records: ``row['records']``)."""
    calls = row.get("api_calls_by_category", {})
    created = float(row.get("engine_records_created") or row.get("transform_records") or 0)
    if destination == "salesforce":
        files = float(row.get("files_written", 0))
        return {"API requests (Enterprise)": float(row.get("api_calls_total", 0)),
                "Bulk API batches (10,000 records each)": float(row.get("bulk_batches")
                                                                 or math.ceil(created / 10_000)),
                "Bulk API 2.0 ingest records": created - files,
                "ContentVersion publishes": files}
    if destination == "dynamics":
        return {"service protection requests per user": float(row.get("api_calls_total", 0)),
                "service protection execution time per user (s)": created * DATAVERSE_MS_PER_RECORD / 1000}
    if destination == "zoho":
        return {"API credits (Enterprise)": float(calls.get("credits_all") or row.get("credits_load") or 0)}
    return {}


def quota_hours(used: float, quota: Quota) -> float:
    """Least wall time a use of ``used`` units needs under a sliding-window quota: each full window's worth
    beyond the first waits one window (what is used within one window's allowance costs no wait)."""
    if used <= quota.per_window:
        return 0.0
    return math.ceil(used / quota.per_window - 1) * quota.window_h


def project(row: dict[str, Any], target: int = 2_000_000) -> dict[str, Any]:
    """Scale a measured run (``row``) to ``target`` source records."""
    scale = target / float(row["records"])
    out: dict[str, Any] = {"target_records": target, "measured_records": row["records"],
                           "measured_commit": row.get("commit"), "destination": row["destination"],
                           "scale": round(scale, 3)}
    aws = row.get("aws")
    if aws:
        gb_s = sum(float(s) * memory_mb(name) / 1024 for name, s in aws["lambda_seconds"].items()) * scale
        invocations = sum(int(n) for n in aws["lambda_invocations"].values()) * scale
        transitions = float(row.get("state_transitions", 0)) * scale
        wru, rru = aws["dynamodb_wru"] * scale, aws["dynamodb_rru"] * scale
        t1, t2 = aws["s3_tier1"] * scale, aws["s3_tier2"] * scale
        cost = {"lambda": gb_s * PRICES["lambda_gb_second"] + invocations * PRICES["lambda_request"],
                "step_functions": transitions * PRICES["state_transition"],
                "dynamodb": wru * PRICES["dynamodb_wru"] + rru * PRICES["dynamodb_rru"],
                "s3": t1 * PRICES["s3_tier1_request"] + t2 * PRICES["s3_tier2_request"]}
        out["aws"] = {"lambda_gb_seconds": round(gb_s), "lambda_invocations": round(invocations),
                      "state_transitions": round(transitions), "dynamodb_wru": round(wru),
                      "dynamodb_rru": round(rru), "s3_tier1_requests": round(t1), "s3_tier2_requests": round(t2),
                      "cost_usd": {k: round(v, 2) for k, v in cost.items()},
                      "cost_usd_total": round(sum(cost.values()), 2)}
    return out


def quota_table(rows: list[dict[str, Any]], target: int = 2_000_000) -> list[dict[str, Any]]:
    """Per destination (its largest measured row), each quota's use at ``target`` and the wall time it imposes."""
    largest: dict[str, dict[str, Any]] = {}
    for r in rows:
        d = r["destination"]
        if r.get("source", "sercom") == "sercom" and (d not in largest or r["records"] > largest[d]["records"]):
            largest[d] = r
    table = []
    for d, row in sorted(largest.items()):
        scale = target / float(row["records"])
        demand = _demand(row, d)
        quotas = [q for q in QUOTAS if q.destination == d]
        if not quotas:
            table.append({"destination": d, "quota": "none documented (self-hosted or Odoo.sh: worker time "
                          "limits per request, 120 s by default; Odoo Online: UNCONFIRMED)", "measured_records":
                          row["records"], "use": None, "per_window": None, "window_h": None, "hours": 0.0,
                          "assumption": "", "source": "https://github.com/odoo/odoo/blob/17.0/odoo/tools/config.py"})
            continue
        for q in quotas:
            used = demand.get(q.name, 0.0) * scale
            table.append({"destination": d, "quota": q.name, "measured_records": row["records"],
                          "use": round(used), "per_window": q.per_window, "window_h": q.window_h,
                          "hours": round(quota_hours(used, q), 2), "assumption": q.assumption, "source": q.source})
    return table


def markdown(projection: dict[str, Any], quotas: list[dict[str, Any]]) -> str:
    target = projection["target_records"]
    lines = [f"Projection to {target:,} source records from the measured run of "
             f"{projection['measured_records']:,} (commit `{projection.get('measured_commit')}`, scale "
             f"x {projection['scale']}), at the on-demand prices in `bench/projection.py`:", ""]
    aws = projection.get("aws")
    if aws:
        c = aws["cost_usd"]
        lines += ["| item | amount | cost USD |", "|---|---|---|",
                  f"| Lambda | {aws['lambda_gb_seconds']:,} GB-s, {aws['lambda_invocations']:,} invocations | "
                  f"{c['lambda']} |",
                  f"| Step Functions (Standard) | {aws['state_transitions']:,} state transitions | "
                  f"{c['step_functions']} |",
                  f"| DynamoDB (on demand) | {aws['dynamodb_wru']:,} WRU, {aws['dynamodb_rru']:,} RRU | "
                  f"{c['dynamodb']} |",
                  f"| S3 requests | {aws['s3_tier1_requests']:,} tier 1, {aws['s3_tier2_requests']:,} tier 2 | "
                  f"{c['s3']} |",
                  f"| **total** | | **{aws['cost_usd_total']}** |", ""]
    lines += [f"Wall time the destinations' quotas impose on loading {target:,} source records (use scaled "
              "from each destination's largest measured row; 0 h: the whole load fits one window):", "",
              "| destination | quota | measured at | use | allowance | window | least wall time h | assumption |",
              "|---|---|---|---|---|---|---|---|"]
    for q in quotas:
        window = "-" if q["window_h"] is None else (f"{q['window_h']:g} h" if q["window_h"] >= 1
                                                    else f"{q['window_h'] * 60:g} min")
        use = "-" if q["use"] is None else f"{q['use']:,}"
        allowance = "-" if q["per_window"] is None else f"{q['per_window']:,.0f}"
        lines.append(f"| {q['destination']} | {q['quota']} | {q['measured_records']:,} | {use} | {allowance} | "
                     f"{window} | {q['hours']:g} | {q['assumption']} |")
    return "\n".join(lines) + "\n"


SCALE_DOC = Path(__file__).resolve().parent.parent / "docs" / "scale.md"
BEGIN, END = "<!-- projection -->", "<!-- /projection -->"


def write_scale_doc(text: str) -> None:
    """Put the measured projection between the markers of docs/scale.md (the prose around it is kept)."""
    doc = SCALE_DOC.read_text()
    if BEGIN not in doc or END not in doc:
        raise ValueError(f"{SCALE_DOC} has no {BEGIN} ... {END} section for the projection")
    head, _, rest = doc.partition(BEGIN)
    _, _, tail = rest.partition(END)
    SCALE_DOC.write_text(f"{head}{BEGIN}\n{text}{END}{tail}")


def main(argv: list[str]) -> int:
    results = Path(__file__).with_name("RESULTS.md")
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.startswith('{"')]
    rows = [r for r in rows if "records" in r and "destination" in r]
    measured = [r for r in rows if r.get("aws")]
    if not measured:
        print("no bench row with AWS usage in bench/RESULTS.md: run `make bench` first", file=sys.stderr)
        return 1
    target = int(argv[0]) if argv else 2_000_000
    base = max(measured, key=lambda r: r["records"])
    print(markdown(project(base, target), quota_table(rows, target)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
