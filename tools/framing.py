"""Bitcoin messages out of one direction's reassembled byte stream.

`MessageWalker` is a `reassembly.StreamSink`. It recognises the network by the first magic of
`params.BY_MAGIC` followed by a valid command field, then frames with `pantheon.wire`'s
`FrameDecoder` in resync mode: from the first byte when the stream begins with a header, and
in its scanning state (the next magic must carry a valid header and a matching checksum) when
it begins with anything else (a capture started mid-message) or after a gap. Two things the decoder does not do are done here:

* The pre-209 20-byte header (version and verack of 2010-2011 peers) has no checksum field.
  The decoder reads it as a 24-byte header with a bad checksum; when that reading fails and
  the 20-byte reading is consistent (length 0 for verack, the next magic, or the end of the
  stream, right after it) the message is taken as legacy and the decoder restarts after it.
* A message cut by a gap or by the end of the capture is reported with its header's command
  and length (status `incomplete_gap` / `incomplete_capture_ended`).

Offsets and frame numbers: `mirror` keeps references to the chunks fed to the decoder that it
may still hold (no copies), so a message's stream offset and the frame that delivered its
last byte (the reference's `frame`) can be looked up.
"""

from __future__ import annotations

import re
from collections import deque
from types import ModuleType
from typing import Callable, NamedTuple

from pantheon import errors, frames, limits, params, spec, wire
from pantheon.protocol import MIN_PEER_VERSION

__all__ = [
    "WireMessage", "MessageWalker", "OK", "LEGACY", "BAD_CHECKSUM", "BAD_COMMAND", "OVERSIZED",
    "INCOMPLETE_GAP", "INCOMPLETE_END",
]

# Statuses, spelled as the reference's expected.json spells them.
OK = "ok"
LEGACY = "ok_no_checksum_20byte_header"
BAD_CHECKSUM = "bad_checksum"
BAD_COMMAND = "bad_command"
OVERSIZED = "oversized"
INCOMPLETE_GAP = "incomplete_gap"
INCOMPLETE_END = "incomplete_capture_ended"

_HEADER = limits.HEADER_SIZE
_LEGACY_HEADER = limits.LEGACY_HEADER_SIZE
_LEGACY_COMMANDS = frozenset({"version", "verack"})
_COMMAND = re.compile(rb"[\x20-\x7e]+\x00*")  # Core's rule, and not empty
_MAGICS = {net.magic_bytes: net for net in params.BY_MAGIC.values()}
# Bytes kept from a scan without a magic, so a magic cut by a chunk boundary is still found.
_SCAN_TAIL = _HEADER - 1


def _header_fields(head: bytes) -> tuple[str, int]:
    """Command (Latin-1, trailing NULs removed) and declared length of a header's first 20 bytes."""
    return head[4:16].rstrip(b"\x00").decode("latin-1"), int.from_bytes(head[16:20], "little")


class WireMessage(NamedTuple):
    """One message as found in a direction's stream. `payload` is None when incomplete."""

    frame: int
    time: float
    offset: int
    network: str
    command: str
    length: int
    status: str
    payload: bytes | None


class MessageWalker:
    """Frames one direction's stream; `emit` gets each `WireMessage` as soon as it is known.

    `gaps` and `skipped` (stream ranges that could not be framed, with the reason) are kept
    for the report; `network` is the recognised `params.Network`, or None. `on_end` is called
    once the stream has ended and everything in it was emitted.
    """

    def __init__(
        self,
        emit: Callable[[WireMessage], None],
        *,
        wire_module: ModuleType = wire,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self._emit = emit
        self._on_end = on_end
        self._wire = wire_module
        self.network: params.Network | None = None
        self._magic = b""
        self._decoder = None
        self._origin = 0  # stream offset of the decoder's first byte
        self._fed = 0  # bytes fed to the current decoder
        self._mirror: deque[tuple[int, bytes, int, float]] = deque()  # (offset, chunk, frame, time)
        self._end = 0  # stream offset after the last byte received
        self._framed = 0  # stream offset up to which bytes were framed or reported skipped
        self._tail = b""  # network search: the unsearched end of the last chunk
        self._checked = -1  # where a waiting pre-209 version was last looked for
        self.gaps: list[tuple[int, int]] = []
        self.skipped: list[tuple[int, int, str]] = []
        self.messages = 0

    # --- StreamSink ------------------------------------------------------------------------

    def data(self, offset: int, chunk: bytes, frame: int, time: float) -> None:
        self._mirror.append((offset, chunk, frame, time))
        self._end = offset + len(chunk)
        if self._decoder is None:
            self._find_network(offset, chunk)
        else:
            self._decoder.feed(chunk)
            self._fed += len(chunk)
            self._drain()

    def gap(self, start: int, end: int) -> None:
        self._settle(INCOMPLETE_GAP)
        self.gaps.append((start, end))
        self._mirror.clear()
        self._tail = b""
        self._end = self._framed = end
        if self.network is not None:
            self._restart(end, scanning=True)

    def end(self) -> None:
        self._settle(INCOMPLETE_END)
        self._mirror.clear()
        self._decoder = None
        if self._on_end is not None:
            self._on_end()

    # --- network recognition ---------------------------------------------------------------

    def _find_network(self, offset: int, chunk: bytes) -> None:
        """Look for the first magic of a known network followed by a valid command field."""
        data = self._tail + chunk
        base = offset - len(self._tail)
        found = None
        for magic, net in _MAGICS.items():
            at = data.find(magic)
            while at >= 0 and (found is None or at < found[0]):
                field = data[at + 4 : at + 16]
                if len(field) < limits.COMMAND_SIZE or _COMMAND.fullmatch(field):
                    found = (at, net)
                    break
                at = data.find(magic, at + 1)
        if found is None or len(data) - found[0] < 16:
            keep = found[0] if found is not None else max(len(data) - _SCAN_TAIL, 0)
            self._tail = data[keep:]
            self._trim(self._end - len(self._tail))
            return
        at, self.network = found
        self._magic = self.network.magic_bytes
        self._tail = b""
        start = base + at
        # A stream that begins with a header (after the SYN, or a capture cut at a message
        # boundary) is read from there as the reference does; anything else is resynced.
        self._restart(start, scanning=start > 0)
        self._drain()

    # --- framing ---------------------------------------------------------------------------

    def _restart(self, at: int, *, scanning: bool) -> None:
        """A new decoder whose first byte is stream offset `at`, fed what was received after it.

        With `scanning`, one byte that cannot begin a magic goes first: the decoder then starts
        in its resync state and accepts only a header whose checksum verifies."""
        assert self.network is not None
        decoder = self._wire.FrameDecoder(self.network.magic, resync=True)
        self._decoder = decoder
        self._origin = at
        self._fed = 0
        if scanning:
            decoder.feed(b"\x00")
            self._origin -= 1
            self._fed = 1
        self._trim(at)
        for offset, chunk, _, _ in self._mirror:
            piece = chunk[at - offset :] if offset < at else chunk
            decoder.feed(piece)
            self._fed += len(piece)

    def _position(self) -> int:
        """The stream offset of the first byte the decoder holds (or the end, when empty)."""
        return self._origin + self._fed - self._decoder.buffered

    def _drain(self) -> None:
        while True:
            try:
                frame = self._decoder.next_frame()
            except errors.OversizedMessage:
                # Only raised at a message boundary (never while resyncing): where the last
                # message ended. The dead decoder itself no longer knows.
                self._oversized(self._framed)
                continue
            if frame is None:
                position = self._position()
                if position != self._checked and self._end - position >= _HEADER and self._legacy_version_waiting(position):
                    continue
                self._trim(position)
                return
            end = self._position()
            start = end - frame.wire_size
            if frame.command in _LEGACY_COMMANDS and not frame.checksum_ok and self._legacy(start):
                continue
            self._skip_to(start, "no valid message header")
            status = OK if frame.error is None else BAD_CHECKSUM if frame.error == frames.BAD_CHECKSUM else BAD_COMMAND
            self._report(start, end, frame.command, len(frame.payload), status, frame.payload)

    def _report(self, start: int, end: int, command: str, length: int, status: str, payload: bytes | None) -> None:
        self._trim(start)
        frame, time = self._locate(end - 1)
        self._framed = max(self._framed, end)
        self.messages += 1
        self._emit(WireMessage(frame, time, start, self.network.name, command, length, status, payload))

    def _skip_to(self, start: int, why: str) -> None:
        if start > self._framed:
            self.skipped.append((self._framed, start, why))
            self._framed = start

    def _legacy(self, start: int) -> bool:
        """Take the message at `start` as a pre-209 20-byte-header one if that reading holds."""
        command, length = _header_fields(self._gather(start, _LEGACY_HEADER))
        size = _LEGACY_HEADER + length
        if command not in _LEGACY_COMMANDS or length > limits.max_payload(command):
            return False
        data = self._gather(start, size + 4)
        if len(data) < size:
            return False
        after = data[size:]
        if not self._magic.startswith(after) if len(after) < 4 else after != self._magic:
            return False
        payload = data[_LEGACY_HEADER:size]
        try:
            spec.parse_payload(command, payload)
        except errors.ProtocolError:
            return False
        self._skip_to(start, "no valid message header")
        self._report(start, start + size, command, length, LEGACY, payload)
        self._restart(start + size, scanning=False)
        return True

    def _legacy_version_waiting(self, start: int) -> bool:
        """A pre-209 version that ends exactly where the received bytes end is taken now, not
        when the next message's first bytes complete its 24-byte misreading: a 2011 client
        sends its version and waits. Its first payload field, where a 24-byte header has the
        checksum, must read as a protocol version of that era (below BIP37's 70001). Each
        message is looked at once its header and 20-byte-reading payload are in."""
        head = self._gather(start, _HEADER)
        command, length = _header_fields(head)
        if head[:4] != self._magic or command != "version":
            self._checked = start
            return False
        if self._end - start < _LEGACY_HEADER + length:
            return False  # look again when more has arrived
        self._checked = start
        return (
            self._end - start == _LEGACY_HEADER + length
            and 0 < int.from_bytes(head[_LEGACY_HEADER:], "little") < MIN_PEER_VERSION
            and self._legacy(start)
        )

    def _oversized(self, start: int) -> None:
        """The decoder refused a declared length over the command's cap: report, resync past it."""
        command, length = _header_fields(self._gather(start, _LEGACY_HEADER))
        self._skip_to(start, "no valid message header")
        self._report(start, start + _LEGACY_HEADER, command, length, OVERSIZED, None)
        self._restart(start + 1, scanning=True)

    def _settle(self, status: str) -> None:
        """The stream stops here (a gap or the end): report what the decoder still holds."""
        if self._decoder is None:
            if self._end > self._framed:
                self._skip_to(self._end, "no Bitcoin magic")
            return
        while True:
            start = self._position()
            if start >= self._end:
                return
            head = self._gather(start, _LEGACY_HEADER)
            if len(head) < _LEGACY_HEADER or head[:4] != self._magic or not _COMMAND.fullmatch(head[4:16]):
                self._skip_to(self._end, "no complete message header")
                return
            command, length = _header_fields(head)
            if command in _LEGACY_COMMANDS and self._legacy(start):
                self._drain()
                continue
            self._skip_to(start, "no valid message header")
            self._trim(start)
            frame, time = self._locate(start)
            self._framed = self._end
            self.messages += 1
            self._emit(WireMessage(frame, time, start, self.network.name, command, length, status, None))
            return

    # --- the mirror ------------------------------------------------------------------------

    def _trim(self, offset: int) -> None:
        """Forget chunks that end at or before `offset`."""
        mirror = self._mirror
        while mirror and mirror[0][0] + len(mirror[0][1]) <= offset:
            mirror.popleft()

    def _locate(self, offset: int) -> tuple[int, float]:
        """The frame (and its time) that delivered stream byte `offset`."""
        for start, chunk, frame, time in self._mirror:
            if offset < start + len(chunk):
                return frame, time
        raise AssertionError(f"offset {offset} is not in the mirror")  # pragma: no cover

    def _gather(self, offset: int, size: int) -> bytes:
        """Up to `size` received bytes from stream `offset` (fewer at the end)."""
        pieces = []
        for start, chunk, _, _ in self._mirror:
            stop = start + len(chunk)
            if stop <= offset:
                continue
            piece = chunk[max(offset - start, 0) : offset - start + size]
            pieces.append(piece)
            size -= len(piece)
            offset += len(piece)
            if size <= 0:
                break
        return b"".join(pieces)
