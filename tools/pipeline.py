"""The capture pipeline: reader → TCP reassembly → one `MessageWalker` per direction, with one
`ConnectionShape` per connection in front of its two walkers (is it BIP324 v2?).

`decode_capture` runs it over a capture file object, streaming: each message goes to
`on_message` as soon as it is framed, each v2 connection to `on_encrypted` when it ends, and
what is kept afterwards is only per-direction bookkeeping (gaps, skipped ranges, counts), so
memory stays flat however large the capture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import BinaryIO, Callable, NamedTuple

from pantheon import wire
from tools.framing import MessageWalker, WireMessage
from tools.pcap import CaptureReader
from tools.reassembly import DEFAULT_WINDOW, Connection, Direction, Reassembler, StreamSink
from tools.transports import ConnectionShape, EncryptedStream

__all__ = ["Event", "StreamReport", "CaptureReport", "decode_capture"]


class Event(NamedTuple):
    """A message with where it was seen: TCP stream index and the direction's endpoints."""

    stream: int
    src: str
    dst: str
    message: WireMessage


@dataclass
class StreamReport:
    """One direction of one connection, once the capture is read."""

    stream: int
    src: str
    dst: str
    syn_seen: bool
    walker: MessageWalker
    direction: Direction
    transport: str | None = None  # "v1" (it holds v1 messages), "v2" (BIP324, encrypted) or None

    @property
    def network(self) -> str | None:
        return self.walker.network.name if self.walker.network else None


@dataclass
class CaptureReport:
    """What was read: the reader's frame counts and skips, and every direction that carried bytes."""

    reader: CaptureReader
    streams: list[StreamReport] = field(default_factory=list)
    encrypted: list[EncryptedStream] = field(default_factory=list)
    connections: int = 0


def decode_capture(
    stream: BinaryIO,
    on_message: Callable[[Event], None],
    *,
    window: int = DEFAULT_WINDOW,
    wire_module: ModuleType = wire,
    on_stream_end: Callable[[StreamReport], None] | None = None,
    on_encrypted: Callable[[EncryptedStream], None] | None = None,
) -> CaptureReport:
    """Decode every Bitcoin message in a pcap/pcapng stream (raises `pcap.CaptureError` only
    when the file header cannot be read).

    Each direction's `StreamReport` is kept in the report's `streams`, in the order they end,
    and each v2 connection's `EncryptedStream` in `encrypted`; with `on_stream_end` and
    `on_encrypted` they are handed over instead and not kept, so that memory stays flat
    however many connections the capture holds. A v2 connection's `EncryptedStream` comes
    before its directions' reports."""
    reader = CaptureReader(stream)
    report = CaptureReport(reader)
    finished = on_stream_end if on_stream_end is not None else report.streams.append
    encrypted = on_encrypted if on_encrypted is not None else report.encrypted.append
    shapes: dict[int, ConnectionShape] = {}  # connections whose directions have not all ended

    def release(stream_report: StreamReport, transport: str | None) -> None:
        stream_report.transport = transport
        finished(stream_report)

    def open_sink(connection: Connection, direction: Direction) -> StreamSink:
        index, src, dst = connection.index, direction.src, direction.dst
        shape = shapes.get(index)
        if shape is None:
            shape = shapes[index] = ConnectionShape(index, encrypted, release)

        def ended() -> None:
            shape.stream_ended(side, stream_report)
            if shape.done:
                del shapes[index]

        walker = MessageWalker(
            lambda message: on_message(Event(index, src, dst, message)),
            wire_module=wire_module,
            on_end=ended,
        )
        stream_report = StreamReport(index, src, dst, direction.syn, walker, direction)
        side = shape.sink(walker, direction)
        return side

    reassembler = Reassembler(open_sink, window)
    for segment in reader:
        reassembler.add(segment)
    reassembler.close()
    report.connections = reassembler.count
    return report
