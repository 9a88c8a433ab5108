"""Unit: the local engine's moto speed patches answer exactly as moto does, without moto's per-request cost.

The patched functions are called directly: installing or removing the patches here would change them under
a local engine another test may be running in this process.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

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
