"""Waiting on the local stack: polls that start quick and slow down (tenacity's exponential wait, capped).

Every poll is work for the one engine process: a DescribeExecution through moto, or a run's view through the local
API (its Lambda, a DynamoDB read, an S3 listing, a DescribeExecution). Polled every 0.2 s, a run that takes a
minute cost the engine 300 such requests while it ran; polled from 0.05 s doubling up to ``longest_s``, a short
execution is still seen ending within a tenth of a second and a long one costs a poll per ``longest_s``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_exponential

T = TypeVar("T")

#: The first wait between two polls; each next one doubles, up to the caller's ``longest_s``.
FIRST_WAIT_S = 0.05


def poll(probe: Callable[[], T], done: Callable[[T], bool], *, timeout_s: float, longest_s: float = 0.5,
         describe: Callable[[T], str] = repr) -> T:
    """``probe()`` until ``done`` holds for its answer, which is returned; an exception from ``probe`` or ``done``
    propagates at once. After ``timeout_s`` a ``TimeoutError`` names the last answer (``describe``)."""
    retrying = Retrying(retry=retry_if_result(lambda answer: not done(answer)),
                        wait=wait_exponential(multiplier=FIRST_WAIT_S, min=FIRST_WAIT_S, max=longest_s),
                        stop=stop_after_delay(timeout_s))
    try:
        return retrying(probe)
    except RetryError as err:
        raise TimeoutError(f"still {describe(err.last_attempt.result())} after {timeout_s} s") from None
