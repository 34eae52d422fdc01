"""The capture pipeline: reader → TCP reassembly → one `MessageWalker` per direction.

`decode_capture` runs it over a capture file object, streaming: each message goes to
`on_message` as soon as it is framed, and what is kept afterwards is only per-direction
bookkeeping (gaps, skipped ranges, counts), so memory stays flat however large the capture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import BinaryIO, Callable, NamedTuple

from pantheon import wire
from tools.framing import MessageWalker, WireMessage
from tools.pcap import CaptureReader
from tools.reassembly import DEFAULT_WINDOW, Connection, Direction, Reassembler

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

    @property
    def network(self) -> str | None:
        return self.walker.network.name if self.walker.network else None


@dataclass
class CaptureReport:
    """What was read: the reader's frame counts and skips, and every direction that carried bytes."""

    reader: CaptureReader
    streams: list[StreamReport] = field(default_factory=list)
    connections: int = 0


def decode_capture(
    stream: BinaryIO,
    on_message: Callable[[Event], None],
    *,
    window: int = DEFAULT_WINDOW,
    wire_module: ModuleType = wire,
    on_stream_end: Callable[[StreamReport], None] | None = None,
) -> CaptureReport:
    """Decode every Bitcoin message in a pcap/pcapng stream (raises `pcap.CaptureError` only
    when the file header cannot be read).

    Each direction's `StreamReport` is kept in the report's `streams`, in the order they end;
    with `on_stream_end` it is handed over instead and not kept, so that memory stays flat
    however many connections the capture holds."""
    reader = CaptureReader(stream)
    report = CaptureReport(reader)
    finished = on_stream_end if on_stream_end is not None else report.streams.append

    def open_sink(connection: Connection, direction: Direction) -> MessageWalker:
        index, src, dst = connection.index, direction.src, direction.dst
        walker = MessageWalker(
            lambda message: on_message(Event(index, src, dst, message)),
            wire_module=wire_module,
            on_end=lambda: finished(stream_report),
        )
        stream_report = StreamReport(index, src, dst, direction.syn, walker, direction)
        return walker

    reassembler = Reassembler(open_sink, window)
    for segment in reader:
        reassembler.add(segment)
    reassembler.close()
    report.connections = reassembler.count
    return report
