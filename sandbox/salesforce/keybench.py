"""Time the stand-in's key lookups in-process: ``IN`` queries on an external id, and upserts by it.

``python -m sandbox.salesforce.keybench --rows 20000`` builds an org file with that many Accounts
carrying ``Ext__c`` (an external id), then times ``--queries`` queries ``SELECT Id, Ext__c FROM
Account WHERE Ext__c IN (...)`` of ``--keys`` existing keys each (what a migration tool issues per
batch to resolve keys), with the query indexes on and off (``query_api.USE_INDEX``), and an upsert
by ``Ext__c`` of ``--upserts`` records (half of them existing) through the write engine, as a Bulk
2.0 upsert job runs it. Prints one JSON line. Runs against an older checkout too (no index switch:
its queries are all scans), which is how the numbers before D-052 were taken.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from sandbox.salesforce import query_api
from sandbox.salesforce.config import SalesforceStandinConfig
from sandbox.salesforce.engine import Writer, prepare_json
from sandbox.salesforce.org import Org, create_org


def build(path: Path, rows: int) -> Org:
    create_org(path)
    org = Org(path, SalesforceStandinConfig())
    org.add_custom_field("Account.Ext__c", {"type": "Text", "label": "Ext", "length": 40, "externalId": True})
    objdef = org.schema.get("Account")
    assert objdef is not None
    for start in range(0, rows, 5000):
        with org.store.tx():
            for i in range(start, min(rows, start + 5000)):
                rid = org.store.new_id("001")
                doc = {"Id": rid, "IsDeleted": False, "Name": f"Account {i}", "Ext__c": f"EXT-{i:07d}"}
                keys = [(f.name, f.key_of(doc[f.name])) for f in objdef.keyed if doc.get(f.name) is not None]
                org.store.insert_record("Account", rid, doc, keys)
    return org


def time_queries(org: Org, rows: int, queries: int, keys: int, rng: random.Random) -> float:
    start = time.perf_counter()
    for _ in range(queries):
        wanted = ", ".join(f"'EXT-{i:07d}'" for i in rng.sample(range(rows), keys))
        text = f"SELECT Id, Ext__c FROM Account WHERE Ext__c IN ({wanted})"  # noqa: S608 (SOQL, made here)
        _, total, _ = query_api.open_query(org, text, False, "60.0", 2000)
        assert total == keys, total
    return time.perf_counter() - start


def time_upserts(org: Org, rows: int, upserts: int, rng: random.Random) -> float:
    objdef = org.schema.get("Account")
    assert objdef is not None
    ext = objdef.field("Ext__c")
    assert ext is not None
    writer = Writer(org, org.admin_user_id, api="bulk")
    existing = rng.sample(range(rows), upserts // 2)
    values = [f"EXT-{i:07d}" for i in existing] + [f"NEW-{i:07d}" for i in range(upserts - len(existing))]
    start = time.perf_counter()
    for begin in range(0, len(values), 200):  # a Bulk 2.0 job writes a batch of records per transaction
        with org.store.tx():
            for value in values[begin : begin + 200]:
                result = writer.upsert(objdef, ext, value, prepare_json(objdef, {"Name": f"Upserted {value}"}))
                assert result.success, result.errors
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--scan-queries", type=int, default=None, help="queries timed with the index off")
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--upserts", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(15)
    out: dict[str, Any] = {"rows": args.rows, "keys": args.keys}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        org = build(Path(tmp) / "org.sqlite", args.rows)
        out["build_s"] = round(time.perf_counter() - started, 2)
        indexed = hasattr(query_api, "USE_INDEX")
        for use_index in ([True, False] if indexed else [False]):
            if indexed:
                query_api.USE_INDEX = use_index  # type: ignore[attr-defined,unused-ignore]
            count = args.queries if use_index else (args.scan_queries or args.queries)
            seconds = time_queries(org, args.rows, count, args.keys, rng)
            out["index" if use_index else "scan"] = {"queries": count, "s": round(seconds, 2),
                                                     "ms_per_query": round(1000 * seconds / count, 2)}
        if args.upserts:
            out["upsert"] = {"records": args.upserts, "s": round(time_upserts(org, args.rows, args.upserts, rng), 2)}
        org.store.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
