"""Which transport a connection speaks: v1 (its messages are framed by `tools.framing`) or
BIP324 v2, whose bytes are encrypted and can only be counted.

A passive observer cannot decrypt v2, nor even read a packet's length (it is encrypted too),
so a connection is judged by the shape BIP324 gives its first bytes, the only thing that can
be checked honestly. `ConnectionShape` watches both directions (as a `reassembly.StreamSink`
in front of each direction's `MessageWalker`, which still frames everything as before) and
calls a connection BIP324 v2 only when all of this holds:

* the capture holds the connection from its SYN, each way, with no gap in either direction's
  first 64 bytes (the ElligatorSwift key; otherwise the start is not the key exchange);
* neither direction holds a single v1 message, so none begins with a network's magic;
* each side sent at most 64 + 4,095 bytes (key and garbage) before the other side's key was
  complete: a side cannot send its garbage terminator before it has the other's key;
* each side sent at least 64 + 16 + 20 bytes: key, terminator and an empty version packet
  (3 length + 1 header + 16 tag bytes), what a completed handshake takes at the least.

Anything else (random bytes, a v2 attempt the other side never answered, a capture started
mid-connection) keeps the reporting it had: bytes with no Bitcoin message. The judgement needs
the whole connection, so it is made when both directions have ended; memory per connection is
a few counters.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from pantheon.protocol import ELLSWIFT_SIZE, EXPANSION, GARBAGE_TERMINATOR_SIZE, MAX_GARBAGE_SIZE
from tools.framing import MessageWalker
from tools.reassembly import Direction

__all__ = ["EncryptedStream", "ConnectionShape", "V2_MIN_BYTES", "V2_MAX_BEFORE_KEY"]

#: The least a side sends in a completed BIP324 handshake: key, terminator, empty version packet.
V2_MIN_BYTES = ELLSWIFT_SIZE + GARBAGE_TERMINATOR_SIZE + EXPANSION
#: The most a side can send before it has the other side's key: its own key and garbage.
V2_MAX_BEFORE_KEY = ELLSWIFT_SIZE + MAX_GARBAGE_SIZE


class EncryptedStream(NamedTuple):
    """A connection judged BIP324 v2: `src` is the initiator (the side that spoke first)."""

    stream: int
    src: str
    dst: str
    time: float  # of the connection's first byte
    sent: int  # bytes captured src → dst
    received: int  # bytes captured dst → src
    gaps: int  # bytes lost to gaps, both ways


class _Side:
    """One direction's sink: counts what the shape needs, then hands the bytes to its walker."""

    __slots__ = ("shape", "index", "walker", "direction", "delivered", "before_key", "ended")

    def __init__(self, shape: "ConnectionShape", index: int, walker: MessageWalker, direction: Direction) -> None:
        self.shape = shape
        self.index = index
        self.walker = walker
        self.direction = direction
        self.delivered = 0
        self.before_key = 0  # bytes delivered while the other side's key was incomplete
        self.ended = False

    def data(self, offset: int, chunk: bytes, frame: int, time: float) -> None:
        if self.shape.possible:
            self.shape.observe(self, len(chunk), time)
        self.walker.data(offset, chunk, frame, time)

    def gap(self, start: int, end: int) -> None:
        if start < ELLSWIFT_SIZE:
            self.shape.possible = False  # the key exchange was not captured whole
        self.walker.gap(start, end)

    def end(self) -> None:
        self.walker.end()  # its on_end reports the stream (to `ConnectionShape.stream_ended`)


class ConnectionShape:
    """Both directions of one connection, judged v2 or not when both have ended.

    `sink(walker, direction)` wraps a direction's walker. `on_encrypted` gets the connection's
    `EncryptedStream` if it is judged v2; `release(report, transport)` gets each direction's
    report (the pipeline's, opaque here; held until the judgement while the connection may
    still be v2) and its transport: "v1" when it holds v1 messages, "v2", or None."""

    def __init__(self, stream: int, on_encrypted: Callable[[EncryptedStream], None],
                 release: Callable[[Any, str | None], None]) -> None:
        self.stream = stream
        self.possible = True  # nothing seen so far rules v2 out
        self._on_encrypted = on_encrypted
        self._release = release
        self._sides: list[_Side] = []
        self._first_time = 0.0
        self._held: list[tuple[_Side, Any]] = []  # directions ended, reports not yet released

    def sink(self, walker: MessageWalker, direction: Direction) -> _Side:
        side = _Side(self, len(self._sides), walker, direction)
        self._sides.append(side)
        if not direction.syn:
            self.possible = False  # the capture began mid-connection: its first bytes are not the key
        return side

    def observe(self, side: _Side, size: int, time: float) -> None:
        """A direction delivered `size` bytes, in order from its first (a hole before them was a
        gap, which ruled v2 out): check the handshake's order."""
        if side.delivered == 0 and side.index == 0:  # directions open in the order they first carry bytes
            self._first_time = time
        side.delivered += size
        other = self._sides[1 - side.index] if len(self._sides) == 2 else None
        if other is None or other.delivered < ELLSWIFT_SIZE:
            side.before_key += size
            if side.before_key > V2_MAX_BEFORE_KEY:
                self.possible = False

    @property
    def done(self) -> bool:
        """Every direction that carried bytes has ended (they end together, with the connection)."""
        return all(side.ended for side in self._sides)

    def stream_ended(self, side: _Side, report: Any) -> None:
        """A direction's walker has ended: release its report now, or hold it for the judgement."""
        side.ended = True
        if side.walker.network is not None or len(self._sides) < 2:  # v1, or one side never spoke
            self.possible = False
        self._held.append((side, report))
        if self.possible and len(self._held) < 2:
            return
        encrypted = self._judge() if self.possible else None
        if encrypted is not None:
            self._on_encrypted(encrypted)
        held, self._held = self._held, []
        for ended, ended_report in held:
            self._release(ended_report, "v2" if encrypted is not None else
                          "v1" if ended.walker.network is not None else None)

    def _judge(self) -> EncryptedStream | None:
        if any(side.delivered < V2_MIN_BYTES for side in self._sides):
            return None
        initiator, responder = self._sides
        gaps = sum(end - start for side in self._sides for start, end in side.walker.gaps)
        return EncryptedStream(self.stream, initiator.direction.src, initiator.direction.dst, self._first_time,
                               initiator.direction.captured, responder.direction.captured, gaps)
