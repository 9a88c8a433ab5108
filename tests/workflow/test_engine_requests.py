"""The local engine frees each request moto answers when it is answered (D-058): no request, and so no request
body, waits for the cyclic garbage collector, which a process holding a large run's objects runs rarely. And what
moto no longer holds is freed: its register of model instances holds them weakly (D-059)."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator

import httpx
import pytest
from moto.moto_server.werkzeug_app import BackendRequest
from moto.s3.models import FakeAcl, FakeKey

from flitstack.local.engine import LocalEngine


@pytest.fixture(scope="module")
def engine() -> Iterator[LocalEngine]:
    with LocalEngine() as e:
        yield e


def _requests_alive() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, BackendRequest))


def test_an_answered_request_and_its_body_are_freed_without_the_garbage_collector(engine: LocalEngine) -> None:
    s3, ddb = engine.client("s3"), engine.client("dynamodb")
    s3.create_bucket(Bucket="engine-requests")
    ddb.create_table(TableName="engine-requests", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    gc.collect()
    gc.disable()
    try:
        s3.put_object(Bucket="engine-requests", Key="body", Body=b"x" * (4 << 20))
        ddb.batch_write_item(RequestItems={"engine-requests": [
            {"PutRequest": {"Item": {"k": {"S": f"k{i}"}, "v": {"S": "y" * 1000}}}} for i in range(25)]})
        assert s3.get_object(Bucket="engine-requests", Key="body")["Body"].read() == b"x" * (4 << 20)
        deadline = time.monotonic() + 5  # the server thread lets go of a request just after answering it
        while _requests_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _requests_alive() == 0
    finally:
        gc.enable()


def _alive(kind: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, kind))


def test_an_overwritten_or_deleted_s3_object_is_freed_and_the_live_ones_are_still_listed(engine: LocalEngine) -> None:
    s3 = engine.client("s3")
    s3.create_bucket(Bucket="engine-instances")
    s3.put_object(Bucket="engine-instances", Key="kept", Body=b"kept")
    keys, acls = _alive(FakeKey), _alive(FakeAcl)
    for i in range(40):  # every PUT makes a FakeKey and a private ACL its PUT replaces with the bucket's
        s3.put_object(Bucket="engine-instances", Key="overwritten", Body=str(i).encode() * 1000)
        s3.put_object(Bucket="engine-instances", Key=f"deleted-{i}", Body=b"d")
        s3.delete_object(Bucket="engine-instances", Key=f"deleted-{i}")
    # moto's register kept all 80 keys and their 80 throwaway ACLs for the life of the process
    assert _alive(FakeKey) - keys <= 1 and _alive(FakeAcl) - acls <= 1
    listed = httpx.get(engine.endpoint_url + "/moto-api/data.json").json()["s3"]["FakeKey"]  # moto's dashboard
    assert {"kept", "overwritten"} <= {k["name"] for k in listed}
    assert not any(k["name"].startswith("deleted-") for k in listed)
