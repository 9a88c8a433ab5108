"""Retry in one place, capped: short transient retries inside a call.

Connectors translate every failure into the error tree first (``shared.errors``); this
module then decides, from the type alone, whether to try again and how long to wait:

| error | inside the call | after the last attempt |
|---|---|---|
| ThrottledError (429, REQUEST_LIMIT_EXCEEDED) | wait Retry-After (or backoff) | raised: ASL Retry |
| TransientError (5xx, timeout, lock) | jittered exponential backoff | raised: ASL Retry |
| FatalError | no retry | raised: ASL Catch ends the run |

Never unbounded, never stacked three deep: call -> step, and that is all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from shared.errors import RetriableError, ThrottledError

T = TypeVar("T")

MAX_ATTEMPTS = 5
MAX_WAIT_S = 20.0
_backoff = wait_random_exponential(multiplier=0.25, max=MAX_WAIT_S)


def _wait(state: RetryCallState) -> float:
    """Honour the server's Retry-After when it gave one; otherwise jittered exponential backoff."""
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, ThrottledError) and exc.retry_after_s is not None:
        return min(float(exc.retry_after_s), MAX_WAIT_S)
    return float(_backoff(state))


def retrying(attempts: int = MAX_ATTEMPTS) -> Retrying:
    """The policy object (also usable as ``for attempt in retrying(): with attempt: ...``)."""
    return Retrying(
        retry=retry_if_exception_type(RetriableError),
        stop=stop_after_attempt(attempts),
        wait=_wait,
        reraise=True,
    )


def call(fn: Callable[[], T], attempts: int = MAX_ATTEMPTS) -> T:
    """Run ``fn`` under the policy; the last retriable error propagates unchanged."""
    return retrying(attempts)(fn)
