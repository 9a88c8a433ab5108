"""Unit: the local engine's moto speed patches answer exactly as moto does, without moto's per-request cost.

The patched functions are called directly: installing or removing the patches here would change them under
a local engine another test may be running in this process.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.stepfunctions.parser.asl.parse.asl_parser import ASLParserException

from flitstack.local import patches

HOSTS = ["s3.us-east-1.amazonaws.com", "dynamodb.us-east-1.amazonaws.com", "states.us-east-1.amazonaws.com",
         "lambda.us-east-1.amazonaws.com", "bucket.s3.amazonaws.com", "s3", "moto_api", None, "example.org"]


@pytest.fixture
def app() -> Any:
    return DomainDispatcherApplication(create_app=lambda backend: None)


def test_routing_by_host_is_moto_s_own_answer(app: Any) -> None:
    expected = {h: patches._backend_for_host(app, h) for h in HOSTS}
    assert expected["s3.us-east-1.amazonaws.com"] == "s3" and expected["example.org"] is None
    for _ in range(2):  # computed, then remembered
        assert {h: patches._cached_backend_for_host(app, h) for h in HOSTS} == expected


def test_a_known_host_is_routed_without_listing_moto_s_folder(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert patches._cached_backend_for_host(app, "dynamodb.us-east-1.amazonaws.com") == "dynamodb"
    calls: list[str] = []
    real = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path=".": calls.append(str(path)) or real(path))
    assert patches._backend_for_host(app, "dynamodb.us-east-1.amazonaws.com") == "dynamodb"
    assert calls, "moto lists its folder to route a request"
    calls.clear()
    for _ in range(100):
        assert patches._cached_backend_for_host(app, "dynamodb.us-east-1.amazonaws.com") == "dynamodb"
    assert calls == []


# -- DynamoDB responses as plain JSON (patch 4) ---------------------------------------------------------------
ITEMS = [
    {"pk": {"S": "a"}, "sk": {"S": "1"}, "s": {"S": "text é ✓"}, "n": {"N": "12.50"}, "t": {"BOOL": True},
     "z": {"NULL": True}, "l": {"L": [{"S": "x"}, {"N": "1"}, {"M": {"k": {"S": "v"}}}]},
     "m": {"M": {"inner": {"L": []}, "e": {"S": ""}}}, "ss": {"SS": ["b", "a"]}, "ns": {"NS": ["1", "2.5"]}},
    {"pk": {"S": "a"}, "sk": {"S": "2"}, "s": {"S": "second"}},
    {"pk": {"S": "a"}, "sk": {"S": "3"}, "blob": {"B": b"\x00\x01bytes"}},
    {"pk": {"S": "b"}, "sk": {"S": "1"}},
]
REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("query", {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "a"}}}),
    ("query", {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "a"}}, "Limit": 1}),
    ("query", {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "a"}},
               "ProjectionExpression": "sk, s", "ReturnConsumedCapacity": "TOTAL", "Select": "SPECIFIC_ATTRIBUTES"}),
    ("query", {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "a"}},
               "Select": "COUNT"}),
    ("scan", {}),
    ("scan", {"Limit": 2}),
    ("get_item", {"Key": {"pk": {"S": "a"}, "sk": {"S": "1"}}}),
    ("get_item", {"Key": {"pk": {"S": "a"}, "sk": {"S": "9"}}}),
    ("put_item", {"Item": {"pk": {"S": "c"}, "sk": {"S": "1"}, "n": {"N": "3"}}, "ReturnValues": "ALL_OLD"}),
    ("put_item", {"Item": {"pk": {"S": "a"}, "sk": {"S": "2"}, "n": {"N": "4"}}, "ReturnValues": "ALL_OLD"}),
]


def _bodies(client: Any, table: str, plain: bool) -> list[Any]:
    import json

    from moto.dynamodb.responses import DynamoHandler

    captured: list[Any] = []

    def capture(http_response: Any, **_: Any) -> None:
        captured.append(json.loads(http_response.content))

    client.meta.events.register("after-call.dynamodb.*", capture, unique_id="capture")
    saved = {name: DynamoHandler.__dict__[name] for name in patches.PLAIN_JSON_OPERATIONS}
    try:
        for name in patches.PLAIN_JSON_OPERATIONS:
            original = patches.ORIGINAL_DYNAMODB_ACTIONS[name]
            setattr(DynamoHandler, name, patches._plain_json(original) if plain else original)
        for op, kwargs in REQUESTS:
            getattr(client, op)(TableName=table, **kwargs)
        client.batch_get_item(RequestItems={table: {"Keys": [{"pk": {"S": "a"}, "sk": {"S": "1"}},
                                                             {"pk": {"S": "b"}, "sk": {"S": "1"}}]}})
        key = {"pk": {"S": "d"}, "sk": {"S": "1"}}
        client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": key}}, {"DeleteRequest": {"Key": key}}]})
    finally:
        client.meta.events.unregister("after-call.dynamodb.*", unique_id="capture")
        for name, method in saved.items():
            setattr(DynamoHandler, name, method)
    return captured


def test_dynamodb_responses_as_plain_json_are_moto_s_own_responses() -> None:
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="k",
                              aws_secret_access_key="s")
        client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "sk", "AttributeType": "S"}])
        for item in ITEMS:
            client.put_item(TableName="t", Item=item)
        plain = _bodies(client, "t", plain=True)
        for item in ITEMS:  # the put_items above changed two items: start the second pass from the same state
            client.put_item(TableName="t", Item=item)
        client.delete_item(TableName="t", Key={"pk": {"S": "c"}, "sk": {"S": "1"}})
        moto_s = _bodies(client, "t", plain=False)
    assert len(plain) == len(REQUESTS) + 2
    assert plain == moto_s
    assert any("blob" in str(body) for body in plain)  # the binary attribute went through moto's serializer


# -- The ASL parsed once per definition (patch 5) -------------------------------------------------------------
def _definition(tag: str) -> str:
    return json.dumps({
        "Comment": f"parse-cache {tag}", "StartAt": "First", "QueryLanguage": "JSONPath",
        "States": {
            "First": {"Type": "Pass", "Parameters": {"n.$": "$.n", "s.$": "States.Format('x{}', $.n)"},
                      "Next": "Each"},
            "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
                     "ItemProcessor": {"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "End": True}}},
                     "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}], "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    })


def test_a_definition_is_parsed_once_and_every_call_gets_components_of_its_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    parses: list[str] = []
    real = patches._moto_parse
    monkeypatch.setattr(patches, "_moto_parse", lambda d: parses.append(d) or real(d))
    definition = _definition(uuid.uuid4().hex)
    first, tree = patches._parse_asl(definition)
    second, same_tree = patches._parse_asl(definition)
    assert parses == [definition] and same_tree is tree
    assert first is not second and type(first) is type(second)
    # the same components moto builds from its own parse: the states, in order, of the same types
    own, _ = real(definition)
    assert [type(c).__name__ for c in vars(first).values()] == [type(c).__name__ for c in vars(own).values()]
    assert first.states.states.keys() == own.states.states.keys() == {"First", "Each", "Done"}
    assert first.states.states["Each"] is not second.states.states["Each"]


def test_a_definition_that_does_not_parse_is_refused_every_time() -> None:
    for _ in range(2):
        with pytest.raises(ASLParserException):
            patches._parse_asl('{"StartAt": "A", "States": {"A": {"Type": "Nope"}}}')
