"""The node's clock (pantheon/clock.py): mock time, and how often timers are looked at."""

from __future__ import annotations

import time

import pytest

from pantheon.clock import NodeClock


def test_a_mockable_clock_is_polled_before_and_after_it_is_mocked() -> None:
    """Peers must see the first setmocktime within a poll, so the poll does not wait for it."""
    clock = NodeClock()
    assert clock.poll_interval == 0.25 and abs(clock() - time.time()) < 5
    clock.set_mock(1_700_000_000)
    assert clock() == 1_700_000_000.0 and clock.poll_interval == 0.25
    clock.set_mock(0)
    assert clock.mock == 0 and clock.poll_interval == 0.25


def test_a_clock_that_cannot_be_mocked_is_never_polled() -> None:
    clock = NodeClock(mockable=False)
    assert clock.poll_interval is None
    with pytest.raises(ValueError, match="cannot be mocked"):
        clock.set_mock(1_700_000_000)
    with pytest.raises(ValueError):
        NodeClock(1_700_000_000, mockable=False)
