"""pantheon/status/history.py: the height curve (bounded, thinned, its rate) and the traffic
per command over the last hour, fed through real `NodeEvents` on a clock the test moves."""

from __future__ import annotations

from helpers.clock import Clock
from pantheon.events import NodeEvents
from pantheon.status.history import CURVE_POINTS, OTHER_COMMAND, TRAFFIC_MINUTES, StatusHistory


def _history(height: int = 0) -> tuple[NodeEvents, Clock, StatusHistory]:
    events, clock = NodeEvents(), Clock(1000.0)
    return events, clock, StatusHistory(events, height, clock)


def test_blocks_within_a_second_make_one_point() -> None:
    events, clock, history = _history(10)
    for height in range(11, 15):
        clock.now += 0.1
        events.block_connected.emit(None, height)  # type: ignore[arg-type]
    clock.now += 0.1
    events.block_connected.emit(None, 15)  # type: ignore[arg-type]
    assert history.curve == [(1000.0, 10), (1000.1, 15)]
    clock.now += 2
    events.block_disconnected.emit(None, 15)  # type: ignore[arg-type]
    assert history.curve[-1] == (clock.now, 14)  # the tip below the block that left


def test_the_curve_stays_bounded_and_keeps_both_ends() -> None:
    events, clock, history = _history()
    for height in range(1, 5 * CURVE_POINTS):
        clock.now += 1.5
        events.block_connected.emit(None, height)  # type: ignore[arg-type]
        assert len(history.curve) <= CURVE_POINTS
    assert history.curve[0] == (1000.0, 0)
    assert history.curve[-1] == (clock.now, 5 * CURVE_POINTS - 1)
    times = [at for at, _ in history.curve]
    assert times == sorted(set(times)) and len(history.curve) > CURVE_POINTS // 2  # no point twice


def test_rate_is_blocks_per_second_over_the_window_and_falls_to_zero() -> None:
    events, clock, history = _history()
    assert history.rate() == 0.0
    for height in range(10, 110, 10):  # 10 blocks every 2 s: 5 blocks/s
        clock.now += 2
        events.block_connected.emit(None, height)  # type: ignore[arg-type]
    assert history.rate(window=10) == 5.0
    clock.now += 31
    assert history.rate() == 0.0


def test_traffic_is_counted_per_command_over_the_last_hour() -> None:
    events, clock, history = _history()
    events.message.emit("sent", "ping", 32)
    events.message.emit("received", "pong", 32)
    events.message.emit("received", "pong", 32)
    events.message.emit("received", "made-up", 99)  # any 12 bytes: one label for all unknown commands
    assert history.traffic() == {"ping": {"sent": 32, "received": 0}, "pong": {"sent": 0, "received": 64},
                                 OTHER_COMMAND: {"sent": 0, "received": 99}}
    clock.now += 60 * (TRAFFIC_MINUTES - 1)
    events.message.emit("sent", "ping", 32)
    assert history.traffic()["ping"] == {"sent": 64, "received": 0}  # still within the hour
    clock.now += 60
    assert history.traffic() == {"ping": {"sent": 32, "received": 0}}
    clock.now += 60 * TRAFFIC_MINUTES
    assert history.traffic() == {}


def test_stop_unsubscribes() -> None:
    events, _, history = _history()
    history.stop()
    assert len(events.message) == len(events.block_connected) == len(events.block_disconnected) == 0
