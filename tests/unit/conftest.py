"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest


@pytest.fixture()
def in_process_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """For moto's in-process mock (``mock_aws``): no local engine's endpoint, moto's region and fake credentials."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
