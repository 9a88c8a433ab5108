"""The local engine's DynamoDB keeps its items in SQLite (flitstack.local.disk_dynamodb, D-045).

Everything goes through boto3 against a running LocalEngine, as the handlers talk to it.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import Item

from flitstack.local import disk_dynamodb, naming
from flitstack.local.engine import LocalEngine
from flitstack.state_export import read_manifest
from infra.resources import AUDIT, CROSSWALK, RUNS


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEngine]:
    with LocalEngine(state_dir=tmp_path_factory.mktemp("aws-state")) as eng:
        eng.deploy(functions=[], state_machines=[])
        yield eng


def _ddb(engine: LocalEngine) -> Any:
    return engine.client("dynamodb")


def _table(engine: LocalEngine, logical_id: str) -> str:
    assert engine.stack is not None
    return engine.stack.tables[logical_id]


def _run() -> str:
    return f"run-{uuid.uuid4().hex[:8]}"


def _audit(run: str, seq: str, **extra: dict[str, Any]) -> dict[str, Any]:
    return {"run_id": {"S": run}, "seq": {"S": seq}, **extra}


def _query_all(ddb: Any, table: str, **kwargs: Any) -> tuple[list[dict[str, Any]], int]:
    """Every item of a query, page by page by hand; returns the items and the number of pages."""
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        page = ddb.query(TableName=table, **kwargs)
        pages += 1
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items, pages
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_items_are_rows_of_the_state_dir_sqlite_file_not_moto_memory(engine: LocalEngine) -> None:
    # GIVEN an item written through the API
    ddb, table, run = _ddb(engine), _table(engine, AUDIT.logical_id), _run()
    ddb.put_item(TableName=table, Item=_audit(run, "0001", note={"S": "on disk"}))
    # THEN it is a row of <state_dir>/dynamodb.sqlite, moto's own dict holds nothing, and no Item object is kept
    with sqlite3.connect(engine.aws_state_dir / disk_dynamodb.FILE_NAME) as db:
        rows = db.execute("SELECT h, r FROM items WHERE tbl LIKE ?", (f"%/{table}",)).fetchall()
    assert (run.encode(), b"0001") in [(bytes(h), bytes(r)) for h, r in rows]
    moto_table = dynamodb_backends[naming.LOCAL_ACCOUNT_ID][engine.region].get_table(table)
    assert isinstance(moto_table, disk_dynamodb.DiskTable) and not moto_table._mem_items
    assert len(Item.instances_tracked) == 0  # type: ignore[attr-defined]


def test_put_get_overwrite_delete(engine: LocalEngine) -> None:
    ddb, table, run = _ddb(engine), _table(engine, AUDIT.logical_id), _run()
    key = {"run_id": {"S": run}, "seq": {"S": "a"}}
    assert "Item" not in ddb.get_item(TableName=table, Key=key)
    ddb.put_item(TableName=table, Item={**key, "v": {"N": "1"}, "m": {"M": {"b": {"B": b"\x00\xff"}, "l": {
        "L": [{"S": "x"}, {"NULL": True}, {"SS": ["p", "q"]}]}}}})
    got = ddb.get_item(TableName=table, Key=key)["Item"]
    assert got["v"] == {"N": "1"} and got["m"]["M"]["b"] == {"B": b"\x00\xff"}
    assert got["m"]["M"]["l"]["L"][2]["SS"] == ["p", "q"]
    old = ddb.put_item(TableName=table, Item={**key, "v": {"N": "2"}}, ReturnValues="ALL_OLD")["Attributes"]
    assert old["v"] == {"N": "1"}
    assert ddb.get_item(TableName=table, Key=key)["Item"] == {**key, "v": {"N": "2"}}
    deleted = ddb.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD")["Attributes"]
    assert deleted["v"] == {"N": "2"}
    assert "Item" not in ddb.get_item(TableName=table, Key=key)
    # a hash-only table too
    runs = _table(engine, RUNS.logical_id)
    ddb.put_item(TableName=runs, Item={"run_id": {"S": run}, "status": {"S": "running"}})
    assert ddb.get_item(TableName=runs, Key={"run_id": {"S": run}})["Item"]["status"] == {"S": "running"}


def test_a_failed_condition_writes_nothing(engine: LocalEngine) -> None:
    ddb, table, run = _ddb(engine), _table(engine, AUDIT.logical_id), _run()
    ddb.put_item(TableName=table, Item=_audit(run, "1", v={"S": "first"}),
                 ConditionExpression="attribute_not_exists(run_id)")
    with pytest.raises(ClientError) as failed:
        ddb.put_item(TableName=table, Item=_audit(run, "1", v={"S": "second"}),
                     ConditionExpression="attribute_not_exists(run_id)", ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert failed.value.response["Item"]["v"] == {"S": "first"}
    with pytest.raises(ClientError):
        ddb.delete_item(TableName=table, Key=_audit(run, "1"), ConditionExpression="v = :x",
                        ExpressionAttributeValues={":x": {"S": "other"}})
    assert ddb.get_item(TableName=table, Key=_audit(run, "1"))["Item"]["v"] == {"S": "first"}


def test_update_item_is_written_back(engine: LocalEngine) -> None:
    # moto updates the object get_item returned, in place: on disk that object is a copy, written back
    ddb, table, run = _ddb(engine), _table(engine, RUNS.logical_id), _run()
    key = {"run_id": {"S": run}}
    new = ddb.update_item(TableName=table, Key=key, UpdateExpression="SET #s = :s ADD n :one",
                          ExpressionAttributeNames={"#s": "status"},
                          ExpressionAttributeValues={":s": {"S": "running"}, ":one": {"N": "1"}},
                          ReturnValues="ALL_NEW")["Attributes"]
    assert new == {**key, "status": {"S": "running"}, "n": {"N": "1"}}
    old = ddb.update_item(TableName=table, Key=key, UpdateExpression="ADD n :one REMOVE #s",
                          ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":one": {"N": "1"}},
                          ReturnValues="UPDATED_OLD")["Attributes"]
    assert old == {"status": {"S": "running"}, "n": {"N": "1"}}
    assert ddb.get_item(TableName=table, Key=key)["Item"] == {**key, "n": {"N": "2"}}
    with pytest.raises(ClientError):
        ddb.update_item(TableName=table, Key=key, UpdateExpression="SET n = :z", ConditionExpression="n = :one",
                        ExpressionAttributeValues={":z": {"N": "0"}, ":one": {"N": "1"}})
    # a failed update of a missing item does not leave the empty item moto creates first
    with pytest.raises(ClientError):
        ddb.update_item(TableName=table, Key={"run_id": {"S": run + "-x"}}, UpdateExpression="SET a = b + :one",
                        ExpressionAttributeValues={":one": {"N": "1"}})
    assert ddb.get_item(TableName=table, Key=key)["Item"]["n"] == {"N": "2"}
    assert "Item" not in ddb.get_item(TableName=table, Key={"run_id": {"S": run + "-x"}})


#: Sort keys whose UTF-8 byte order (DynamoDB's) differs from UTF-16's: the emoji comes after U+FFFD.
ODD_KEYS = ["A", "Z", "a", "z", "é", "\ufffd", "\U0001f600", "z0", "zz"]


def test_query_pages_in_key_order_with_limit_and_start_key(engine: LocalEngine) -> None:
    ddb, table, run = _ddb(engine), _table(engine, AUDIT.logical_id), _run()
    keys = [f"{i:04d}" for i in range(0, 1000, 3)] + ODD_KEYS  # 343 items, written out of order
    for k in reversed(keys):
        ddb.put_item(TableName=table, Item=_audit(run, k, n={"N": str(len(k))}))
    ddb.put_item(TableName=table, Item=_audit(run + "-other", "0003"))  # a neighbouring partition stays out
    expected = sorted(keys, key=lambda k: k.encode())
    condition = {"KeyConditionExpression": "run_id = :r", "ExpressionAttributeValues": {":r": {"S": run}}}
    items, pages = _query_all(ddb, table, Limit=25, **condition)
    assert [i["seq"]["S"] for i in items] == expected and pages == 14
    back, _ = _query_all(ddb, table, Limit=40, ScanIndexForward=False, **condition)
    assert [i["seq"]["S"] for i in back] == expected[::-1]
    # a page of exactly Limit items is followed by an empty one only if more were there: moto's rule, kept
    last_page = ddb.query(TableName=table, Limit=1, ExclusiveStartKey=_audit(run, expected[-2]), **condition)
    assert [i["seq"]["S"] for i in last_page["Items"]] == [expected[-1]] and "LastEvaluatedKey" not in last_page


@pytest.mark.parametrize(("condition", "values", "wanted"), [
    ("begins_with(seq, :a)", {":a": "z"}, lambda k: k.startswith("z")),
    ("seq BETWEEN :a AND :b", {":a": "0100", ":b": "0200"}, lambda k: "0100" <= k <= "0200"),
    ("seq < :a", {":a": "0030"}, lambda k: k < "0030"),
    ("seq <= :a", {":a": "0030"}, lambda k: k <= "0030"),
    ("seq > :a", {":a": "z"}, lambda k: k.encode() > b"z"),
    ("seq >= :a", {":a": "z"}, lambda k: k.encode() >= b"z"),
    ("seq = :a", {":a": "é"}, lambda k: k == "é"),
])
def test_range_conditions(engine: LocalEngine, condition: str, values: dict[str, str], wanted: Any) -> None:
    ddb, table, run = _ddb(engine), _table(engine, AUDIT.logical_id), _run()
    keys = [f"{i:04d}" for i in range(0, 300, 3)] + ODD_KEYS
    for k in keys:
        ddb.put_item(TableName=table, Item=_audit(run, k))
    attr_values = {":r": {"S": run}, **{k: {"S": v} for k, v in values.items()}}
    for forward in (True, False):
        items, _ = _query_all(ddb, table, KeyConditionExpression=f"run_id = :r AND {condition}",
                              ExpressionAttributeValues=attr_values, Limit=7, ScanIndexForward=forward)
        expected = sorted((k for k in keys if wanted(k)), key=lambda k: k.encode(), reverse=not forward)
        assert [i["seq"]["S"] for i in items] == expected


def test_filter_projection_and_the_one_megabyte_page(engine: LocalEngine) -> None:
    ddb, table, run = _ddb(engine), _table(engine, AUDIT.logical_id), _run()
    blob = "x" * 100_000
    for i in range(25):
        ddb.put_item(TableName=table, Item=_audit(run, f"{i:02d}", even={"BOOL": i % 2 == 0}, blob={"S": blob}))
    condition = {"KeyConditionExpression": "run_id = :r"}
    # pages stop before 1 MB (10 items of 100 kB), whatever the Limit
    page = ddb.query(TableName=table, ExpressionAttributeValues={":r": {"S": run}}, **condition)
    assert len(page["Items"]) == 9 and page["LastEvaluatedKey"]["seq"] == {"S": "08"}
    # the filter applies after the Limit (a page may come back short), the projection to what is left
    items, pages = _query_all(ddb, table, Limit=4, FilterExpression="even = :t", ProjectionExpression="seq, even",
                              ExpressionAttributeValues={":r": {"S": run}, ":t": {"BOOL": True}}, **condition)
    assert pages == 7 and [i["seq"]["S"] for i in items] == [f"{i:02d}" for i in range(0, 25, 2)]
    assert all(set(i) == {"seq", "even"} for i in items)
    got = ddb.get_item(TableName=table, Key=_audit(run, "03"), ProjectionExpression="seq")["Item"]
    assert got == {"seq": {"S": "03"}}


def test_batch_write_and_get(engine: LocalEngine) -> None:
    ddb, table, run = _ddb(engine), _table(engine, CROSSWALK.logical_id), _run()
    puts = [{"PutRequest": {"Item": {"scope": {"S": run}, "source_key": {"S": f"k{i}"}, "dest": {"S": f"d{i}"}}}}
            for i in range(25)]
    assert not ddb.batch_write_item(RequestItems={table: puts}).get("UnprocessedItems")
    deletes = [{"DeleteRequest": {"Key": {"scope": {"S": run}, "source_key": {"S": f"k{i}"}}}} for i in range(5)]
    ddb.batch_write_item(RequestItems={table: deletes})
    keys = [{"scope": {"S": run}, "source_key": {"S": f"k{i}"}} for i in range(0, 25, 4)]
    got = ddb.batch_get_item(RequestItems={table: {"Keys": keys}})["Responses"][table]
    assert sorted(i["dest"]["S"] for i in got) == ["d12", "d16", "d20", "d24", "d8"]


def test_a_batch_moto_refuses_part_way_writes_nothing(engine: LocalEngine) -> None:
    ddb, table, run = _ddb(engine), _table(engine, CROSSWALK.logical_id), _run()
    good = [{"PutRequest": {"Item": {"scope": {"S": run}, "source_key": {"S": f"k{i}"}}}} for i in range(3)]
    bad = {"PutRequest": {"Item": {"scope": {"S": run}, "source_key": {"N": "4"}}}}  # the key is a string
    with pytest.raises(ClientError) as refused:
        ddb.batch_write_item(RequestItems={table: [*good, bad]})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    items, _ = _query_all(ddb, table, KeyConditionExpression="#s = :s", ExpressionAttributeNames={"#s": "scope"},
                          ExpressionAttributeValues={":s": {"S": run}})
    assert items == []


def test_a_put_without_a_condition_replaces_and_a_conditional_one_still_sees_the_item(engine: LocalEngine) -> None:
    ddb, table, run = _ddb(engine), _table(engine, AUDIT.logical_id), _run()
    ddb.put_item(TableName=table, Item=_audit(run, "1", a={"S": "old"}, b={"S": "kept?"}))
    ddb.put_item(TableName=table, Item=_audit(run, "1", a={"S": "new"}))  # no condition: the item is replaced
    assert ddb.get_item(TableName=table, Key=_audit(run, "1"))["Item"] == _audit(run, "1", a={"S": "new"})
    with pytest.raises(ClientError) as failed:
        ddb.put_item(TableName=table, Item=_audit(run, "1"), ConditionExpression="attribute_not_exists(seq)")
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    old = ddb.put_item(TableName=table, Item=_audit(run, "1", a={"S": "third"}), ReturnValues="ALL_OLD")
    assert old["Attributes"] == _audit(run, "1", a={"S": "new"})


def test_transact_write_items_commits_all_or_nothing(engine: LocalEngine) -> None:
    ddb, audit, runs, run = _ddb(engine), _table(engine, AUDIT.logical_id), _table(engine, RUNS.logical_id), _run()
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": runs, "Item": {"run_id": {"S": run}, "v": {"N": "1"}},
                 "ConditionExpression": "attribute_not_exists(run_id)"}},
        {"Put": {"TableName": audit, "Item": _audit(run, "1")}},
        {"Update": {"TableName": audit, "Key": _audit(run, "2"), "UpdateExpression": "SET w = :w",
                    "ExpressionAttributeValues": {":w": {"S": "w"}}}},
    ])
    assert ddb.get_item(TableName=audit, Key=_audit(run, "2"))["Item"]["w"] == {"S": "w"}
    # WHEN a later transaction's last condition fails THEN its earlier writes (and its update) are undone
    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": audit, "Item": _audit(run, "3")}},
            {"Delete": {"TableName": audit, "Key": _audit(run, "1")}},
            {"Update": {"TableName": audit, "Key": _audit(run, "2"), "UpdateExpression": "SET w = :x",
                        "ExpressionAttributeValues": {":x": {"S": "x"}}}},
            {"ConditionCheck": {"TableName": runs, "Key": {"run_id": {"S": run}}, "ConditionExpression": "v = :two",
                                "ExpressionAttributeValues": {":two": {"N": "2"}}}},
        ])
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    items, _ = _query_all(ddb, audit, KeyConditionExpression="run_id = :r",
                          ExpressionAttributeValues={":r": {"S": run}})
    assert [(i["seq"]["S"], i.get("w")) for i in items] == [("1", None), ("2", {"S": "w"})]


def test_scan_pages_through_the_table_in_key_order(engine: LocalEngine) -> None:
    ddb, table = _ddb(engine), _table(engine, CROSSWALK.logical_id)
    scope = _run()
    for i in range(60):
        ddb.put_item(TableName=table, Item={"scope": {"S": f"{scope}-{i % 3}"}, "source_key": {"S": f"{i:03d}"}})
    seen: list[tuple[str, str]] = []
    kwargs: dict[str, Any] = {"TableName": table, "Limit": 7}
    while True:
        page = ddb.scan(**kwargs)
        seen += [(i["scope"]["S"], i["source_key"]["S"]) for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert seen == sorted(seen, key=lambda k: (k[0].encode(), k[1].encode()))
    assert len([s for s in seen if s[0].startswith(scope)]) == 60 and len(seen) == len(set(seen))
    filtered = ddb.scan(TableName=table, FilterExpression="begins_with(#s, :p)", ExpressionAttributeNames={
        "#s": "scope"}, ExpressionAttributeValues={":p": {"S": f"{scope}-1"}})["Items"]
    assert len(filtered) == 20


def test_item_count(engine: LocalEngine) -> None:
    ddb = _ddb(engine)
    name = f"count-{uuid.uuid4().hex[:6]}"
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    for i in range(12):
        ddb.put_item(TableName=name, Item={"k": {"S": str(i)}})
    ddb.put_item(TableName=name, Item={"k": {"S": "3"}, "again": {"BOOL": True}})
    ddb.delete_item(TableName=name, Key={"k": {"S": "4"}})
    assert ddb.describe_table(TableName=name)["Table"]["ItemCount"] == 11
    # deleting the table deletes its rows: a table made again under the name starts empty
    ddb.delete_table(TableName=name)
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    assert ddb.describe_table(TableName=name)["Table"]["ItemCount"] == 0


def test_a_number_keyed_table_stays_in_moto_memory(engine: LocalEngine, caplog: pytest.LogCaptureFixture) -> None:
    # the store orders strings only: a number key keeps moto's own storage (and order), with a warning
    ddb = _ddb(engine)
    name = f"numbers-{uuid.uuid4().hex[:6]}"
    with caplog.at_level(logging.WARNING, logger=disk_dynamodb.__name__):
        ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "p", "KeyType": "HASH"},
                                                    {"AttributeName": "n", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "p", "AttributeType": "S"},
                                               {"AttributeName": "n", "AttributeType": "N"}],
                         BillingMode="PAY_PER_REQUEST")
    assert "kept in memory" in caplog.text
    for n in (10, 9, 100, -1):
        ddb.put_item(TableName=name, Item={"p": {"S": "x"}, "n": {"N": str(n)}})
    items = ddb.query(TableName=name, KeyConditionExpression="p = :p", ExpressionAttributeValues={
        ":p": {"S": "x"}})["Items"]
    assert [i["n"]["N"] for i in items] == ["-1", "9", "10", "100"]


def test_table_items_reads_a_partition_in_place(engine: LocalEngine) -> None:
    ddb, table, run = _ddb(engine), _table(engine, AUDIT.logical_id), _run()
    for i in range(300):
        ddb.put_item(TableName=table, Item=_audit(run, f"{i:04d}", n={"N": str(i)}))
    in_place = list(engine.table_items(table, run))
    paged, _ = _query_all(ddb, table, KeyConditionExpression="run_id = :r", ExpressionAttributeValues={
        ":r": {"S": run}})
    assert in_place == paged and len(in_place) == 300


def test_items_survive_an_engine_restart_on_the_same_state_dir(engine: LocalEngine) -> None:
    # (last in the module: it restarts the module's engine)
    ddb, table, run = _ddb(engine), _table(engine, CROSSWALK.logical_id), _run()
    for i in range(40):
        ddb.put_item(TableName=table, Item={"scope": {"S": run}, "source_key": {"S": f"{i:02d}"}})
    state_dir = engine.aws_state_dir
    engine.stop()
    assert disk_dynamodb.STORE is None and (Path(state_dir) / disk_dynamodb.FILE_NAME).exists()
    engine.start()
    engine.deploy(functions=[], state_machines=[])
    ddb = _ddb(engine)
    items, _ = _query_all(ddb, table, KeyConditionExpression="#s = :r", ExpressionAttributeNames={"#s": "scope"},
                          ExpressionAttributeValues={":r": {"S": run}}, Limit=16)
    assert [i["source_key"]["S"] for i in items] == [f"{i:02d}" for i in range(40)]


def test_a_run_folder_with_the_old_json_lines_export_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "dynamodb").mkdir()
    (tmp_path / "dynamodb" / "AuditTable.jsonl").write_text("{}\n")
    (tmp_path / "manifest.json").write_text('{"run": {}, "tables": {"AuditTable": 1}, "objects": 0}')
    with pytest.raises(FileNotFoundError, match="JSON-lines export"):
        read_manifest(tmp_path)
