"""Retry in one place, capped: short transient retries inside a call.

Connectors translate every failure into the error tree first (``shared.errors``); this
module then decides, from the type alone, whether to try again and how long to wait:

| error | inside the call | after the last attempt |
|---|---|---|
| ThrottledError (429, REQUEST_LIMIT_EXCEEDED) | wait Retry-After (or backoff) | raised: ASL Retry |
| TransientError (5xx, timeout, lock) | jittered exponential backoff | raised: ASL Retry |
| FatalError | no retry | raised: ASL Catch ends the run |

Never unbounded, never stacked three deep: call -> step, and that is all. A write whose
*records* come back with a transient status (a Salesforce row lock, a ``$batch`` part answered
429/5xx, DynamoDB's unprocessed items) resends only those records through :func:`resend`, which
is this same policy retrying on :class:`Resend` alone, so a whole call that failed after its own
retries is never retried again around it.

The HTTP status -> error class table every connector uses is ``shared.errors.STATUS_ERRORS``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from shared.errors import RetriableError, ThrottledError

T = TypeVar("T")
R = TypeVar("R")

MAX_ATTEMPTS = 5
#: Sends of one write whose records answered transiently (the first send included).
RECORD_ATTEMPTS = 4
MAX_WAIT_S = 20.0
_backoff = wait_random_exponential(multiplier=0.25, max=MAX_WAIT_S)


def _wait(state: RetryCallState) -> float:
    """Honour the server's Retry-After when it gave one; otherwise jittered exponential backoff."""
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, ThrottledError) and exc.retry_after_s is not None:
        return min(float(exc.retry_after_s), MAX_WAIT_S)
    return float(_backoff(state))


def retry_after_s(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds; absent or the HTTP-date form (no connector's API sends
    it) is None, so the policy's own backoff applies."""
    try:
        return float(value) if value else None
    except ValueError:
        return None


class Resend(ThrottledError):
    """Some records of a write answered transiently: send those again (never raised past :func:`resend`)."""


def retrying(attempts: int = MAX_ATTEMPTS, on: type[RetriableError] = RetriableError) -> Retrying:
    """The policy object (also usable as ``for attempt in retrying(): with attempt: ...``).

    ``on`` narrows which retriable errors are retried (:func:`resend` retries only :class:`Resend`);
    the waits and the cap are the same whatever it is.
    """
    return Retrying(
        retry=retry_if_exception_type(on),
        stop=stop_after_attempt(attempts),
        wait=_wait,
        reraise=True,
    )


def call(fn: Callable[[], T], attempts: int = MAX_ATTEMPTS) -> T:
    """Run ``fn`` under the policy; the last retriable error propagates unchanged."""
    return retrying(attempts)(fn)


def resend(pending: Sequence[R], send: Callable[[Sequence[R]], tuple[list[R], float | None]],
           attempts: int = RECORD_ATTEMPTS) -> list[R]:
    """Record-level resend under the policy: ``send`` writes ``pending`` and returns the items to
    send again (with the longest Retry-After they were answered with, if any); those are sent
    again after the policy's wait, up to ``attempts`` sends in all.

    Returns the items still unsent after the last attempt (empty when everything went through);
    the caller keeps each item's last answer and decides what an unsent item means. An error
    ``send`` raises propagates unchanged: the call inside it has already had its retries.
    """
    left: list[R] = list(pending)
    try:
        for attempt in retrying(attempts, on=Resend):
            with attempt:
                left, after = send(left)
                if left:
                    raise Resend(f"{len(left)} records answered transiently", after)
    except Resend:
        pass
    return left
