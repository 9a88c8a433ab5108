"""Unit: the crosswalk table's store (moto): a run's own scopes expire with its artefacts, an org's do not,
and a scope reads back in key order."""

from __future__ import annotations

import time

import boto3
from moto import mock_aws

from shared.aws import RUN_SCOPE, CrosswalkStore


def test_run_scopes_expire_org_scopes_stay_and_a_scope_reads_back_in_key_order() -> None:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="eu-west-1")
        ddb.create_table(TableName="xw", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "scope", "KeyType": "HASH"},
                                    {"AttributeName": "source_key", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "scope", "AttributeType": "S"},
                                               {"AttributeName": "source_key", "AttributeType": "S"}])
        store = CrosswalkStore("xw", ddb, retention_days=30)
        run_scope = f"{RUN_SCOPE}run-1:target#Account"
        # GIVEN 2,500 entries of a run's merged crosswalk and one of the org's
        store.put_many(run_scope, {f"customers:c{n:05d}": f"A{n}" for n in range(2500)}, "run-1")
        store.put_many("https://org.example#Account", {"customers:c00001": "A1"}, "run-1")

        def item(scope: str) -> dict[str, dict[str, str]]:
            return ddb.get_item(TableName="xw", Key={"scope": {"S": scope}, "source_key": {"S": "customers:c00001"}}
                                )["Item"]

        # THEN the run's entries carry the table's TTL attribute, 30 days on; the org's none
        expires = int(item(run_scope)["expires"]["N"])
        assert abs(expires - (time.time() + 30 * 86400)) < 120
        assert "expires" not in item("https://org.example#Account")
        # AND the run's scope reads back whole, in key order, only its own entries
        got = list(store.entries(run_scope))
        assert got == sorted((f"customers:c{n:05d}", f"A{n}") for n in range(2500))
        assert store.get_many(run_scope, ["customers:c00007", "customers:zz"]) == {"customers:c00007": "A7"}
