"""The cloud projection (bench/projection.py) and the AWS metering it rests on (bench/metering.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from bench import metering, projection
from flitstack.local import naming
from infra import resources


def test_a_quota_imposes_a_wait_only_beyond_one_window() -> None:
    day = projection.Quota("x", "credits", 100_000, 24.0, "src")
    assert projection.quota_hours(100_000, day) == 0.0
    assert projection.quota_hours(100_001, day) == 24.0
    assert projection.quota_hours(250_000, day) == 48.0
    five_min = projection.Quota("x", "requests", 6_000, 5 / 60, "src")
    assert projection.quota_hours(60_000, five_min) == pytest.approx(9 * 5 / 60)


def test_projection_scales_measured_usage_and_prices_it() -> None:
    load = naming.function_name(resources.FUNCTIONS_BY_FOLDER["load"])  # 2,048 MB
    row = {"records": 1_000, "destination": "salesforce", "commit": "abc", "state_transitions": 500,
           "aws": {"lambda_seconds": {load: 10.0}, "lambda_invocations": {load: 4},
                   "dynamodb_wru": 2_000, "dynamodb_rru": 800, "s3_tier1": 100, "s3_tier2": 300}}
    out = projection.project(row, target=2_000_000)
    aws = out["aws"]
    assert out["scale"] == 2_000
    assert aws["lambda_gb_seconds"] == 10.0 * 2 * 2_000  # seconds x GB x scale
    assert aws["lambda_invocations"] == 8_000
    assert aws["state_transitions"] == 1_000_000
    assert aws["dynamodb_wru"] == 4_000_000
    assert aws["cost_usd"]["step_functions"] == pytest.approx(1_000_000 * 0.025 / 1_000, abs=0.01)
    assert aws["cost_usd"]["dynamodb"] == pytest.approx(4_000_000 * 0.625e-6 + 1_600_000 * 0.125e-6, abs=0.01)
    assert aws["cost_usd_total"] == pytest.approx(sum(aws["cost_usd"].values()), abs=0.02)


def test_an_unknown_function_is_refused_by_name() -> None:
    with pytest.raises(KeyError, match="no-such-fn"):
        projection.memory_mb("no-such-fn")


def test_quota_table_uses_each_destinations_largest_row() -> None:
    rows: list[dict[str, Any]] = [
        {"records": 20_000, "destination": "zoho", "api_calls_by_category": {"credits_all": 4_500}},
        {"records": 5_000, "destination": "zoho", "api_calls_by_category": {"credits_all": 9_999_999}},
        {"records": 10_000, "destination": "odoo"},
    ]
    table = projection.quota_table(rows, target=2_000_000)
    zoho = next(q for q in table if q["destination"] == "zoho")
    assert zoho["measured_records"] == 20_000
    assert zoho["use"] == 450_000
    # 450,000 credits over a 100,000-a-day allowance (50 users): four more days
    assert zoho["hours"] == 4 * 24
    odoo = next(q for q in table if q["destination"] == "odoo")
    assert odoo["use"] is None and odoo["hours"] == 0.0
    text = projection.markdown({"target_records": 2_000_000, "measured_records": 20_000, "scale": 100}, table)
    assert "| zoho | API credits (Enterprise) | 20,000 | 450,000 | 100,000 | 24 h | 96 | 50 users |" in text


def test_dynamodb_units_follow_on_demand_billing() -> None:
    small = {"pk": {"S": "a"}}
    big = {"pk": {"S": "a"}, "blob": {"S": "x" * 3_000}}
    units = metering._dynamodb_units("BatchWriteItem", {"RequestItems": {"t": [
        {"PutRequest": {"Item": small}}, {"PutRequest": {"Item": big}}, {"DeleteRequest": {"Key": small}}]}})
    assert units == (1 + 3 + 1, 0)
    assert metering._dynamodb_units("BatchGetItem", {"RequestItems": {"t": {"Keys": [small] * 7}}}) == (0, 7)
    assert metering._dynamodb_units("TransactWriteItems", {"TransactItems": [{}, {}]}) == (4, 0)
    assert metering._function_name("/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Afs-load"
                                   "%3A%24LATEST/invocations") == "fs-load"


@pytest.fixture
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_the_meter_counts_what_the_server_serves(moto_server: str) -> None:
    kw: dict[str, Any] = {"endpoint_url": moto_server, "region_name": "us-east-1",
                          "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    ddb, s3 = boto3.client("dynamodb", **kw), boto3.client("s3", **kw)
    table, bucket = f"meter-{uuid.uuid4().hex[:8]}", f"meter-{uuid.uuid4().hex[:8]}"
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    s3.create_bucket(Bucket=bucket)
    try:
        with metering.Meter() as usage:
            ddb.batch_write_item(RequestItems={table: [
                {"PutRequest": {"Item": {"pk": {"S": "r"}, "sk": {"S": f"{i:03d}"}}}} for i in range(25)]})
            items = ddb.query(TableName=table, KeyConditionExpression="pk = :p",
                              ExpressionAttributeValues={":p": {"S": "r"}})["Items"]
            s3.put_object(Bucket=bucket, Key="a", Body=b"x")
            s3.get_object(Bucket=bucket, Key="a")["Body"].read()
            s3.list_objects_v2(Bucket=bucket)
        ddb.get_item(TableName=table, Key={"pk": {"S": "r"}, "sk": {"S": "000"}})  # after the block: not counted
    finally:
        ddb.delete_table(TableName=table)
    assert len(items) == 25  # the metered server still answers in full
    assert usage.requests["dynamodb BatchWriteItem"] == 1 and usage.requests["dynamodb Query"] == 1
    assert "dynamodb GetItem" not in usage.requests
    assert usage.dynamodb_wru == 25 and usage.dynamodb_rru == 1
    assert (usage.s3_tier1, usage.s3_tier2) == (2, 1)  # PUT and LIST; GET
