"""The node's one clock: wall-clock seconds, or Bitcoin Core's mock time on regtest (`-mocktime`,
the `setmocktime` RPC), so that tests move every timer the node's behaviour reads at once.

A `NodeClock` is a `() -> float`, the shape every component here takes as its `clock` (peers'
handshake, ping and inactivity timers, address timestamps and token buckets, bans, the mempool,
transaction relay, block download, the future-block check, the miner's block time, initial block
download). What stays on real time is what Core keeps on it: `uptime`, durations measured for logs
and metrics.

A peer sleeps until its next timer is due; a mock clock can jump past that at any moment, so on a
clock that can be mocked (regtest's) the peers' timers are looked at every `poll_interval` (a
quarter of a second) as well, from before the first `setmocktime` on: Core's message handler looks
at every peer's timers at least every 100 ms, so a test that moves mock time sees the timers move.
"""

from __future__ import annotations

import time

__all__ = ["NodeClock", "MAX_MOCKTIME"]

MAX_MOCKTIME = 2**32 - 1  # Core's setmocktime range is [0, 4294967295]
_MOCK_POLL = 0.25


class NodeClock:
    """`mockable`: mock time may be set (regtest); `mock`: the mock time to start at (0: real)."""

    def __init__(self, mock: int = 0, *, mockable: bool = True) -> None:
        if mock and not mockable:
            raise ValueError("mock time on a clock that cannot be mocked")
        self._mock = mock
        self._mockable = mockable

    def __call__(self) -> float:
        return float(self._mock) if self._mock else time.time()

    @property
    def mock(self) -> int:
        """The mock time, or 0 when the clock is real."""
        return self._mock

    def set_mock(self, seconds: int) -> None:
        """Freeze the clock at `seconds` (0: back to real time)."""
        if not self._mockable:
            raise ValueError("this clock cannot be mocked")
        if not 0 <= seconds <= MAX_MOCKTIME:
            raise ValueError(f"Mocktime must be in the range [0, {MAX_MOCKTIME}], not {seconds}.")
        self._mock = seconds

    @property
    def poll_interval(self) -> float | None:
        """How often timers must be looked at besides their deadlines (None: only then)."""
        return _MOCK_POLL if self._mockable else None
