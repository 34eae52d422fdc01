"""TCP reassembly per connection and direction, for captures read once, in file order.

Each direction's bytes are put in order by unwrapped 32-bit sequence numbers and handed on as
they become contiguous: `StreamSink.data(offset, chunk, frame, time)` with `offset` counted
from the first byte after the SYN (or from the first captured byte when the capture starts
mid-connection). Retransmissions and overlaps keep the bytes that arrived first, as the
reference reassembler does. A hole is waited for while the bytes queued behind it stay under
`window`; past that, or when the connection or the capture ends, it becomes a gap
(`StreamSink.gap(start, end)`) and delivery goes on after it. Memory per direction is bounded
by `window` plus the segment being added.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections import OrderedDict
from typing import Callable, Protocol

from tools.pcap import Segment

__all__ = ["Connection", "Direction", "Reassembler", "StreamSink", "DEFAULT_WINDOW"]

_MASK = 0xFFFFFFFF
_HALF = 1 << 31
_SYN, _FIN, _RST = 0x02, 0x01, 0x04
#: Bytes queued behind a hole before the hole is declared a gap (per direction).
DEFAULT_WINDOW = 8 * 1024 * 1024
# Closed connections remembered so that late retransmissions do not open new ones.
_CLOSED_REMEMBERED = 4096


class StreamSink(Protocol):
    """Receives one direction's bytes in order, its gaps, and its end."""

    def data(self, offset: int, chunk: bytes, frame: int, time: float) -> None: ...

    def gap(self, start: int, end: int) -> None: ...

    def end(self) -> None: ...


class Direction:
    """One direction of a connection: the reorder queue and the next stream offset expected."""

    __slots__ = ("src", "dst", "sink", "opened", "syn", "mid_stream", "base", "next", "queue", "queued", "fin", "captured")

    def __init__(self, src: str, dst: str) -> None:
        self.src = src
        self.dst = dst
        self.sink: StreamSink | None = None
        self.opened = False  # a sink was given (it is dropped again at the end)
        self.syn = False
        self.mid_stream = False
        self.base = -1  # absolute sequence number of stream offset 0; -1 until known
        self.next = 0  # the next stream offset to deliver
        # Queued segments past a hole, non-overlapping, sorted: (start, end, data, frame, time).
        self.queue: list[tuple[int, int, bytes, int, float]] = []
        self.queued = 0
        self.fin: int | None = None  # stream offset of the FIN, once seen
        self.captured = 0  # payload bytes delivered (each byte once)

    def offset_of(self, seq: int) -> int:
        """The stream offset of a 32-bit sequence number: the unwrapped value nearest `next`."""
        here = (self.base + self.next) & _MASK
        delta = (seq - here) & _MASK
        if delta >= _HALF:
            delta -= 1 << 32
        return self.next + delta

    def add(self, start: int, data: bytes, frame: int, time: float, window: int) -> None:
        end = start + len(data)
        if end <= self.next:
            return  # a retransmission of delivered bytes
        if start < self.next:
            data = data[self.next - start :]
            start = self.next
        if start == self.next and not self.queue:
            self._deliver(start, data, frame, time)
            return
        self._enqueue(start, end, data, frame, time)
        self._drain()
        while self.queued > window:
            self._skip_hole()

    @property
    def complete(self) -> bool:
        """Every byte up to the FIN is in: nothing is left to wait for."""
        return self.fin is not None and self.next >= self.fin and not self.queue

    def flush(self) -> None:
        """The end: every remaining hole becomes a gap; the FIN's offset bounds a last one."""
        while self.queue:
            self._skip_hole()
        if self.fin is not None and self.fin > self.next and self.sink is not None:
            self.sink.gap(self.next, self.fin)
            self.next = self.fin
        if self.sink is not None:
            self.sink.end()
            self.sink = None

    def _deliver(self, start: int, data: bytes, frame: int, time: float) -> None:
        self.next = start + len(data)
        self.captured += len(data)
        if self.sink is not None:
            self.sink.data(start, data, frame, time)

    def _enqueue(self, start: int, end: int, data: bytes, frame: int, time: float) -> None:
        """Queue the parts of [start, end) not already queued: the first arrival wins."""
        queue = self.queue
        at = max(bisect_right(queue, (start,)) - 1, 0)
        cursor = start
        pieces = []
        for held_start, held_end, *_ in queue[at:]:
            if held_start >= end:
                break
            if held_end <= cursor:
                continue
            if held_start > cursor:
                pieces.append((cursor, held_start))
            cursor = max(cursor, held_end)
            if cursor >= end:
                break
        if cursor < end:
            pieces.append((cursor, end))
        for piece_start, piece_end in pieces:
            insort(queue, (piece_start, piece_end, data[piece_start - start : piece_end - start], frame, time))
            self.queued += piece_end - piece_start

    def _drain(self) -> None:
        queue = self.queue
        while queue and queue[0][0] <= self.next:
            start, end, data, frame, time = queue.pop(0)
            self.queued -= end - start
            if end > self.next:
                self._deliver(self.next, data[self.next - start :], frame, time)

    def _skip_hole(self) -> None:
        hole_end = self.queue[0][0]
        if self.sink is not None:
            self.sink.gap(self.next, hole_end)
        self.next = hole_end
        self._drain()


class Connection:
    """A TCP connection: `index` numbers connections in order of their first frame, as tshark's
    tcp.stream does; `a` is the endpoint that sent that frame."""

    __slots__ = ("index", "first_frame", "a", "b", "directions", "syn", "closing")

    def __init__(self, index: int, first_frame: int, a: tuple[str, int], b: tuple[str, int]) -> None:
        self.index = index
        self.first_frame = first_frame
        self.a = a
        self.b = b
        self.syn = False
        self.closing = 0  # FINs seen (both: closed)
        self.directions = {
            (a, b): Direction(_endpoint(a), _endpoint(b)),
            (b, a): Direction(_endpoint(b), _endpoint(a)),
        }


def _endpoint(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Reassembler:
    """Routes segments to connections; `open_sink(connection, direction)` gives each direction
    its sink when it first carries a byte. Call `close()` after the last segment."""

    def __init__(
        self,
        open_sink: Callable[[Connection, Direction], StreamSink],
        window: int = DEFAULT_WINDOW,
    ) -> None:
        self._open_sink = open_sink
        self._window = window
        self._connections: dict[tuple[tuple[str, int], tuple[str, int]], Connection] = {}
        self._closed: OrderedDict[tuple[tuple[str, int], tuple[str, int]], None] = OrderedDict()
        self.count = 0

    def add(self, segment: Segment) -> None:
        source = (segment.src, segment.sport)
        target = (segment.dst, segment.dport)
        key = (source, target)
        connection = self._connections.get(key)
        flags = segment.flags
        if connection is None:
            if key in self._closed and not flags & _SYN:
                return  # a late retransmission on a connection already reported
            connection = Connection(self.count, segment.frame, source, target)
            self.count += 1
            self._connections[key] = self._connections[(target, source)] = connection
        direction = connection.directions[key]
        payload = segment.payload
        if flags & _SYN:
            connection.syn = True
            if direction.base < 0:
                direction.base = (segment.seq + 1) & _MASK
                direction.syn = True
            return
        if direction.base < 0:
            if not payload and not flags & _FIN:
                return
            direction.base = segment.seq
            direction.mid_stream = True
        start = direction.offset_of(segment.seq)
        if payload:
            if not direction.opened:
                direction.opened = True
                direction.sink = self._open_sink(connection, direction)
            direction.add(start, payload, segment.frame, segment.time, self._window)
        if flags & _FIN and direction.fin is None:
            direction.fin = start + len(payload)
            connection.closing += 1
        if flags & _RST or (connection.closing == 2 and all(d.complete for d in connection.directions.values())):
            self._finish(connection)

    def close(self) -> None:
        """The capture ended: flush every open connection, in the order they began."""
        for connection in sorted({id(c): c for c in self._connections.values()}.values(), key=lambda c: c.index):
            self._finish(connection)

    def _finish(self, connection: Connection) -> None:
        for key, direction in connection.directions.items():
            direction.flush()
            if self._connections.pop(key, None) is not None:
                self._closed[key] = None
        while len(self._closed) > _CLOSED_REMEMBERED:
            self._closed.popitem(last=False)
