"""What the status page shows that the node does not keep: the height over time and the bytes
sent and received per command over the last hour, both fed by `node.events` and both bounded.

The height curve keeps at most `CURVE_POINTS` points over the node's whole run: one point per
`CURVE_STEP` seconds at most, and when full every other point is dropped, so a long sync keeps its
shape at a coarser grain. Traffic is counted per minute in `TRAFFIC_MINUTES` buckets; a message
costs one dict update, since the event fires for every message on the hot path.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Callable

from pantheon import limits

if TYPE_CHECKING:
    from pantheon.events import NodeEvents

__all__ = ["StatusHistory", "CURVE_POINTS", "TRAFFIC_MINUTES", "OTHER_COMMAND"]

CURVE_POINTS = 512  # points of the height curve kept, at most
CURVE_STEP = 1.0  # seconds between two points, at least
TRAFFIC_MINUTES = 60  # the bandwidth table's window
RATE_WINDOW = 30.0  # seconds of the curve the blocks/s figure (and so the ETA) looks at
OTHER_COMMAND = "*other*"  # unknown commands counted together, as Core's per-message tallies do


class StatusHistory:
    """Subscribe to `events` now; `stop()` unsubscribes. `clock` is monotonic seconds."""

    def __init__(self, events: NodeEvents, height: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.curve: list[tuple[float, int]] = [(clock(), height)]
        self._minute = int(clock() // 60)
        self._traffic: deque[tuple[int, dict[tuple[str, str], int]]] = deque([(self._minute, {})],
                                                                            maxlen=TRAFFIC_MINUTES)
        self._unsubscribe = [events.block_connected.subscribe(lambda block, height: self._record(height)),
                             events.block_disconnected.subscribe(lambda block, height: self._record(height - 1)),
                             events.message.subscribe(self._message)]

    def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def _record(self, height: int) -> None:
        """The tip's new height: a new point, or the newest one moved if it is under a step old
        (the first point, the height at start, always stays)."""
        now = self._clock()
        if now - self.curve[-1][0] < CURVE_STEP and len(self.curve) > 1:
            self.curve[-1] = (self.curve[-1][0], height)
            return
        self.curve.append((now, height))
        if len(self.curve) > CURVE_POINTS:  # every other point goes; the first and the newest stay
            last = self.curve[-1]
            self.curve = self.curve[::2] if len(self.curve) % 2 else [*self.curve[::2], last]

    def _message(self, direction: str, command: str, size: int) -> None:
        minute = int(self._clock() // 60)
        if minute != self._minute:
            self._minute = minute
            self._traffic.append((minute, {}))
        tally = self._traffic[-1][1]
        key = (direction, command if command in limits.COMMANDS else OTHER_COMMAND)
        tally[key] = tally.get(key, 0) + size

    def rate(self, window: float = RATE_WINDOW) -> float:
        """Blocks per second over the last `window` seconds: from the last point before the window
        opened to the newest (0 when no block came within it)."""
        now = self._clock()
        start = self.curve[0]
        for point in reversed(self.curve):
            if point[0] <= now - window:
                start = point
                break
        seconds = now - start[0]
        return max(self.curve[-1][1] - start[1], 0) / seconds if seconds > 0 else 0.0

    def traffic(self) -> dict[str, dict[str, int]]:
        """{command: {"sent": bytes, "received": bytes}} over the last `TRAFFIC_MINUTES` minutes."""
        oldest = int(self._clock() // 60) - TRAFFIC_MINUTES + 1
        totals: dict[str, dict[str, int]] = {}
        for minute, tally in self._traffic:
            if minute < oldest:
                continue
            for (direction, command), size in tally.items():
                entry = totals.setdefault(command, {"sent": 0, "received": 0})
                entry[direction] += size
        return totals
