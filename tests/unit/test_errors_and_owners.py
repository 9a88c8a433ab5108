"""Unit: the ASL names only errors of the tree; owners resolve by email with reasons for misses."""

from __future__ import annotations

import json

from infra.resources import STATEMACHINE_DIR
from shared import errors
from shared.domain.discover import resolve_owners
from shared.models import DestUser

AWS_NAMES = {"States.ALL", "States.TaskFailed", "States.Timeout",
             "States.ExceedToleratedFailureThreshold", "Lambda.TooManyRequestsException",
             "Lambda.ServiceException", "Lambda.SdkClientException"}


def _error_names(node: object) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "ErrorEquals":
                found.update(value)
            else:
                found |= _error_names(value)
    elif isinstance(node, list):
        for value in node:
            found |= _error_names(value)
    return found


def test_every_error_name_in_the_asl_exists_in_the_tree() -> None:
    tree = {name for name in dir(errors) if isinstance(getattr(errors, name), type)}
    for path in STATEMACHINE_DIR.glob("*.asl.json"):
        names = _error_names(json.loads(path.read_text())) - AWS_NAMES
        assert names, path
        assert names <= tree, (path.name, names - tree)


def test_retry_lists_only_retriable_errors() -> None:
    for path in STATEMACHINE_DIR.glob("*.asl.json"):
        text = json.loads(path.read_text())
        stack = [text]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for retrier in node.get("Retry", []):
                    ours = set(retrier["ErrorEquals"]) - AWS_NAMES
                    assert ours <= errors.RETRIABLE_NAMES, ours
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)


def test_owner_resolution_reports_every_miss() -> None:
    users = [DestUser(id="005A", email="ann@x.io", active=True), DestUser(id="005B", email="bob@x.io", active=False)]
    techs = [
        {"id": "t1", "email": "ANN@x.io"}, {"id": "t2", "email": ""}, {"id": "t3", "email": "bob@x.io"},
        {"id": "t4", "email": "zed@x.io"}, {"id": "t5", "email": "dup@x.io"}, {"id": "t6", "email": "Dup@x.io"},
    ]
    res = resolve_owners(techs, users, "Salesforce")
    assert res.owners == {"t1": "005A"}
    reasons = {u["technician_id"]: u["reason"] for u in res.unmatched}
    assert reasons["t2"] == "technician has no email address"
    assert "inactive" in reasons["t3"]
    assert reasons["t4"] == "no Salesforce user has this email"
    assert "shared by 2" in reasons["t5"] and "shared by 2" in reasons["t6"]
