"""A clock moved by hand: `Clock`, starting at `NOW` unless told otherwise."""

from __future__ import annotations

NOW = 1_700_000_000


class Clock:
    """Seconds that only move when a test sets `now`: Unix time for the address manager and ban
    list, a monotonic clock for the mempool and the block download."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
