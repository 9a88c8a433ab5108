"""Unit: waiting on the local stack (``flitstack.local.polling``): quick first polls, then slower ones, capped."""

from __future__ import annotations

import itertools
import time

import pytest

from flitstack.local import polling


def test_returns_the_first_answer_that_is_done_and_slows_down_to_the_cap() -> None:
    probes: list[float] = []

    def probe() -> int:
        probes.append(time.monotonic())
        return len(probes)

    assert polling.poll(probe, lambda n: n == 7, timeout_s=30, longest_s=0.2) == 7
    gaps = [b - a for a, b in itertools.pairwise(probes)]
    assert gaps[0] < 0.15  # the first poll again soon: a short execution is seen ending quickly
    assert gaps == sorted(gaps, key=lambda g: round(g, 1))  # never quicker than before
    assert 0.19 < gaps[-1] < 0.5 and max(gaps) < 0.5  # then one poll per longest_s


def test_times_out_naming_the_last_answer() -> None:
    with pytest.raises(TimeoutError, match=r"still state \d+ after 0.3 s"):
        polling.poll(iter(range(1000)).__next__, lambda n: False, timeout_s=0.3, longest_s=0.1,
                     describe=lambda n: f"state {n}")


def test_an_error_of_the_probe_or_the_check_is_raised_at_once() -> None:
    def broken() -> int:
        raise ConnectionError("engine gone")

    started = time.monotonic()
    with pytest.raises(ConnectionError, match="engine gone"):
        polling.poll(broken, lambda n: True, timeout_s=30)

    def failed(n: int) -> bool:
        assert n < 2, "the execution stopped"
        return False

    counter = iter(range(10))
    with pytest.raises(AssertionError, match="the execution stopped"):
        polling.poll(counter.__next__, failed, timeout_s=30)
    assert time.monotonic() - started < 5
