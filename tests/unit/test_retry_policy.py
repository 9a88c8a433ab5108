"""Unit: the one status -> error table and the one retry policy (record resends included).

GIVEN an HTTP status (and a vendor code, a Retry-After) WHEN it is translated THEN the error
class is the table's row; GIVEN a write whose records answer transiently WHEN resent THEN only
those records go again, bounded, and a whole call that failed is never retried around itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from shared import retry
from shared.errors import (
    STATUS_ERRORS,
    AuthenticationError,
    ContractError,
    FlitStackError,
    QuotaExhaustedError,
    ThrottledError,
    TransientError,
    error_for_status,
)


@pytest.fixture(autouse=True)
def _no_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy's waits are real sleeps; the tests check what is sent, not how long it waited."""
    monkeypatch.setattr(retry, "MAX_WAIT_S", 0.0)
    monkeypatch.setattr(retry, "_backoff", lambda _state: 0.0)


@pytest.mark.parametrize(("status", "expected"), [
    (429, ThrottledError), (500, TransientError), (503, TransientError), (599, TransientError),
    (401, AuthenticationError), (403, AuthenticationError), (400, ContractError), (404, ContractError),
    (409, ContractError),
])
def test_status_maps_to_the_tables_row(status: int, expected: type[FlitStackError]) -> None:
    err = error_for_status("Sys", "call", status, code="X", message="why")
    assert type(err) is expected
    assert str(err).startswith(f"Sys call: HTTP {status} X why")


def test_every_row_of_the_table_is_a_class_of_the_tree() -> None:
    assert all(issubclass(cls, FlitStackError) for _, cls in STATUS_ERRORS)


def test_throttle_carries_retry_after() -> None:
    err = error_for_status("Sys", "call", 429, retry_after_s=7.0)
    assert isinstance(err, ThrottledError) and err.retry_after_s == 7.0


def test_quota_code_is_a_pause_without_retry_after_and_a_throttle_with_one() -> None:
    assert type(error_for_status("Salesforce", "q", 403, code="REQUEST_LIMIT_EXCEEDED")) is QuotaExhaustedError
    throttle = error_for_status("Salesforce", "q", 403, code="REQUEST_LIMIT_EXCEEDED", retry_after_s=2.0)
    assert isinstance(throttle, ThrottledError) and throttle.retry_after_s == 2.0


def test_a_token_endpoint_refusal_is_authentication_but_its_5xx_and_429_stay_retriable() -> None:
    assert type(error_for_status("S", "login", 400, refused=AuthenticationError)) is AuthenticationError
    assert type(error_for_status("S", "login", 503, refused=AuthenticationError)) is TransientError
    assert type(error_for_status("S", "login", 429, refused=AuthenticationError)) is ThrottledError


def test_resend_sends_only_what_answered_transiently_and_stops_when_done() -> None:
    sent: list[list[int]] = []

    def send(pending: Sequence[int]) -> tuple[list[int], float | None]:
        sent.append(list(pending))
        return [i for i in pending if i % 2 and len(sent) < 3], None

    assert retry.resend([1, 2, 3, 4, 5], send) == []
    assert sent == [[1, 2, 3, 4, 5], [1, 3, 5], [1, 3, 5]]


def test_resend_is_bounded_and_returns_what_is_left() -> None:
    calls = 0

    def send(pending: Sequence[str]) -> tuple[list[str], float | None]:
        nonlocal calls
        calls += 1
        return list(pending), 0.0

    assert retry.resend(["a"], send, attempts=3) == ["a"]
    assert calls == 3


def test_a_failed_call_inside_a_resend_is_not_retried_again() -> None:
    calls = 0

    def send(pending: Sequence[str]) -> tuple[list[str], float | None]:
        nonlocal calls
        calls += 1
        raise TransientError("the call already had its retries")

    with pytest.raises(TransientError):
        retry.resend(["a"], send)
    assert calls == 1


@pytest.mark.parametrize(("header", "seconds"), [("3", 3.0), ("0.5", 0.5), (None, None), ("",
                         None), ("Wed, 21 Oct 2015 07:28:00 GMT", None)])
def test_retry_after_header_in_seconds(header: str | None, seconds: float | None) -> None:
    assert retry.retry_after_s(header) == seconds
