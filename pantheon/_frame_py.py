"""Pure-Python twin of the frame reassembler in `pantheon._wire` (`_frame.pxi`); see `_wire_py`.

`FrameDecoder` takes the bytes of one peer's stream as they arrive, in any fragmentation, and
gives back complete `Frame`s. Its buffer has asyncpg ReadBuffer's shape: a deque of the chunks
as fed, a cursor into the first, a running total. Nothing is concatenated to find a frame; a
payload inside one chunk is returned as a slice of it, and only a payload spanning chunks is
joined, once. A frame's header stays in the buffer until the whole frame is in, so nothing is
taken out of the stream until it can be given back whole.

The constructor's checks and the error values live here once; the compiled twin calls them,
so both raise the same classes with the same messages.
"""

from __future__ import annotations

import operator
import struct
from collections import deque
from typing import TYPE_CHECKING, Iterator, Mapping

from pantheon import errors as _errors
from pantheon import limits as _limits
from pantheon._header_py import _HEADER, _VALID_COMMAND_FIELD, _magic_value, checksum
from pantheon.frames import BAD_CHECKSUM, BAD_COMMAND, Frame

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["Frame", "FrameDecoder"]

_MAGIC = struct.Struct("<I")
_HEADER_SIZE = _limits.HEADER_SIZE
_MAGIC_SIZE = _MAGIC.size
# Valid command fields seen by one decoder, kept for reuse up to this many.
_COMMAND_CACHE_SIZE = 64
_new_frame = tuple.__new__


def _settings(magic: int, max_payload: int, caps: Mapping[str, int] | None) -> tuple[int, int, dict[str, int]]:
    """Checked constructor arguments: the magic, max_payload, and every cap clamped to it."""
    magic = _magic_value(magic)
    max_payload = operator.index(max_payload)
    if not 0 <= max_payload <= _limits.MAX_MESSAGE_SIZE_CEILING:
        raise ValueError(
            f"max_payload {max_payload} is outside 0..{_limits.MAX_MESSAGE_SIZE_CEILING} "
            "(limits.MAX_MESSAGE_SIZE_CEILING)"
        )
    table = {}
    for command, cap in (_limits.MAX_PAYLOAD if caps is None else caps).items():
        if not isinstance(command, str):
            raise TypeError(f"caps keys must be str commands, not {type(command).__name__}")
        cap = operator.index(cap)
        if cap < 0:
            raise ValueError(f"cap for {command!r} is negative: {cap}")
        table[command] = min(cap, max_payload)
    return magic, max_payload, table


def _bad_magic(got: int, expected: int) -> _errors.BadMagic:
    return _errors.BadMagic(f"magic {got:#010x}, expected {expected:#010x}", got.to_bytes(4, "little"))


def _oversized(command: str, size: int, cap: int) -> _errors.OversizedMessage:
    return _errors.OversizedMessage(f"{command} payload", size, cap)


class FrameDecoder:
    """Reassembles one peer's byte stream into `Frame`s, checking in btcd/Core read order.

    FrameDecoder(magic, max_payload=limits.MAX_MESSAGE_SIZE, caps=None, *, resync=False)

    magic        the network magic as a uint32 (mainnet 0xD9B4BEF9, wire bytes f9 be b4 d9).
    max_payload  the cap on any payload, 0..limits.MAX_MESSAGE_SIZE_CEILING (else ValueError).
    caps         command -> payload cap; default limits.MAX_PAYLOAD. The cap for a command is
                 min(caps.get(command, max_payload), max_payload). Copied at construction.
    resync       for tools reading captures: on a wrong magic skip ahead instead of failing.

    Use: `feed(data)` appends bytes (bytes, bytearray, memoryview, any C-contiguous buffer; a
    non-bytes buffer is copied, so the caller may reuse it). `next_frame()` returns the next
    complete frame or None; iterating the decoder yields every complete frame now buffered
    and stops, and a later iteration goes on after the next feed. A gevent peer reader:

        decoder.feed(sock.recv(65536))
        for frame in decoder:
            dispatch(frame)

    Checks, in order, as each field arrives:
      magic       wrong -> raise BadMagic as soon as 4 bytes are in. With resync=True, bytes
                  are discarded instead (counted in `discarded`) up to the next magic whose
                  header has a valid command field and a length within the cap, and whose
                  payload, once in, matches the checksum; a magic failing any of these is a
                  false sync: one byte past its start is discarded and the scan goes on. The
                  scan keeps a tail of the buffer that could begin the magic. Only the first
                  frame after a skip is checked so; the frames after it are read as below.
      command     not printable ASCII then only NULs (Core's rule) -> the frame is still read,
                  capped by max_payload, and given back with error BAD_COMMAND unless its
                  checksum fails (BAD_CHECKSUM wins, as in Core's V1Transport).
      length      over the command's cap -> raise OversizedMessage(f"{command} payload", size,
                  cap) once the 24 header bytes are in, before any payload byte is awaited.
      checksum    no match -> the frame is given back with error BAD_CHECKSUM and the
                  header's checksum in `received_checksum`.
    Reactions for the network layer (Bitcoin Core's):
      BadMagic          disconnect.
      OversizedMessage  disconnect, without reading the payload.
      BAD_CHECKSUM      drop the frame, keep the peer.
      BAD_COMMAND       drop the frame, keep the peer.
      unknown command   delivered like any frame (error None); the dispatcher ignores it.

    After BadMagic or OversizedMessage the decoder is dead: it drops its buffer and every later
    feed(), next_frame() or iteration raises the same exception again. It never continues a
    desynchronised stream.

    Memory: `buffered` is the number of bytes held that are not yet taken out (a frame's
    header stays until its whole frame is in). Once the complete frames are taken out it is
    below one header plus the declared payload of the frame in progress; more is only what
    the caller fed beyond that. Chunks are kept as fed, so the part of the first chunk already
    taken out lives until the rest of it is. `discarded` counts bytes skipped by resync.

    Not thread-safe: one reader per decoder.
    """

    __slots__ = (
        "_magic", "_magic_bytes", "_max_payload", "_caps", "_resync", "_commands",
        "_chunks", "_pos", "_length", "_header", "_need", "_syncing", "_discarded", "_error",
    )

    def __init__(
        self,
        magic: int,
        max_payload: int = _limits.MAX_MESSAGE_SIZE,
        caps: Mapping[str, int] | None = None,
        *,
        resync: bool = False,
    ) -> None:
        self._magic, self._max_payload, self._caps = _settings(magic, max_payload, caps)
        self._magic_bytes = _MAGIC.pack(self._magic)
        self._resync = bool(resync)
        self._commands: dict[bytes, tuple[str, int]] = {}  # valid command field -> (name, cap)
        self._chunks: deque[bytes] = deque()  # fed chunks, none empty; the cursor is in [0]
        self._pos = 0  # cursor into self._chunks[0]
        self._length = 0  # bytes after the cursor, in all chunks
        # The frame in progress, once its header is in: (command, command ok, length, checksum).
        self._header: tuple[str, bool, int, bytes] | None = None
        self._need = 0  # with a header in: the frame's size, so waiting for it is one compare
        self._syncing = False  # resync skipped bytes: the next header is only a candidate
        self._discarded = 0
        self._error: _errors.ProtocolError | None = None

    # Read-only, as the compiled twin's attributes are.
    magic = property(operator.attrgetter("_magic"), doc="The network magic, as a uint32.")
    max_payload = property(operator.attrgetter("_max_payload"), doc="The cap on any payload.")
    resync = property(operator.attrgetter("_resync"), doc="Whether a wrong magic is skipped.")
    buffered = property(operator.attrgetter("_length"), doc="Bytes held and not yet taken out or discarded.")
    discarded = property(operator.attrgetter("_discarded"), doc="Bytes skipped by resync.")

    def feed(self, data: Buffer) -> None:
        """Append `data` (any C-contiguous buffer) to the stream; frames are taken out later."""
        if self._error is not None:
            raise self._error.with_traceback(None)
        if type(data) is bytes:
            chunk = data
        else:  # copied: the caller may reuse its buffer
            with memoryview(data) as view:
                if not view.c_contiguous:  # as PyBUF_SIMPLE refuses it in the compiled twin
                    raise BufferError("the buffer is not C-contiguous")
                chunk = view.tobytes()
        if chunk:
            self._chunks.append(chunk)
            self._length += len(chunk)

    def __iter__(self) -> Iterator[Frame]:
        return self

    def __next__(self) -> Frame:
        frame = self.next_frame()
        if frame is None:
            raise StopIteration
        return frame

    def next_frame(self) -> Frame | None:
        """The next complete frame, or None until more bytes are fed."""
        if self._error is not None:
            raise self._error.with_traceback(None)
        if self._length < self._need:
            return None
        while True:
            header = self._header
            if header is None:
                if self._length < _MAGIC_SIZE:
                    # Resync drops what cannot begin the magic even before 4 bytes are in, so
                    # where it stops does not depend on how the stream was cut.
                    if self._resync and not self._magic_bytes.startswith(self._gather(0, self._length)):
                        self._syncing = True
                        self._scan()
                    return None
                raw = self._chunks[0]
                at = self._pos
                if len(raw) - at < _HEADER_SIZE:  # the header spans chunks: copy its bytes out
                    raw = self._gather(0, min(self._length, _HEADER_SIZE))
                    at = 0
                (got,) = _MAGIC.unpack_from(raw, at)
                if got != self._magic:
                    if not self._resync:
                        raise self._fail(_bad_magic(got, self._magic))
                    self._syncing = True
                    if not self._scan():
                        return None
                    continue
                if self._length < _HEADER_SIZE:
                    return None
                header = self._read_header(_HEADER.unpack_from(raw, at))
                if header is None:
                    continue
            command, command_ok, size, check = header
            end = _HEADER_SIZE + size
            if self._length < end:
                return None
            first = self._chunks[0]
            pos = self._pos + _HEADER_SIZE
            if len(first) - self._pos >= end:
                payload = first[pos : pos + size]
            else:
                payload = self._gather(_HEADER_SIZE, size)
            checksum_ok = checksum(payload) == check
            self._header = None
            self._need = 0
            if self._syncing:
                if not checksum_ok:
                    self._discard(1)
                    continue
                self._syncing = False
            self._consume(end)
            if not checksum_ok:
                return _new_frame(Frame, (command, payload, False, BAD_CHECKSUM, end, check))
            return _new_frame(Frame, (command, payload, True, None if command_ok else BAD_COMMAND, end, None))

    # --- internals ------------------------------------------------------------------------

    def _read_header(self, fields: tuple[int, bytes, int, bytes]) -> tuple[str, bool, int, bytes] | None:
        """The frame-in-progress state from a header at the cursor whose magic matched, or
        None when resync found it to be a false sync (one byte is then discarded)."""
        _, field, size, check = fields
        known = self._commands.get(field)
        if known is not None:
            command, cap = known
            command_ok = True
        elif _VALID_COMMAND_FIELD.fullmatch(field) is not None:
            command = field.rstrip(b"\x00").decode("ascii")
            cap = self._caps.get(command, self._max_payload)
            command_ok = True
            if len(self._commands) < _COMMAND_CACHE_SIZE:
                self._commands[field] = (command, cap)
        else:
            command = field.rstrip(b"\x00").decode("latin-1")
            cap = self._max_payload
            command_ok = False
        if self._syncing and (not command_ok or size > cap):
            self._discard(1)
            return None
        if size > cap:
            raise self._fail(_oversized(command, size, cap))
        self._header = (command, command_ok, size, check)
        self._need = _HEADER_SIZE + size
        return self._header

    def _scan(self) -> bool:
        """Resync: discard up to the first position holding the magic (True) or, at the end of
        the buffer, a proper prefix of it (False: wait for more bytes)."""
        magic = self._magic_bytes
        while self._chunks:
            first = self._chunks[0]
            pos = self._pos
            at = first.find(magic[0], pos)
            if at < 0:
                self._discard(len(first) - pos)
                continue
            if at > pos:
                self._discard(at - pos)
            head = self._gather(0, min(self._length, _MAGIC_SIZE))
            if magic.startswith(head):
                return len(head) == _MAGIC_SIZE
            self._discard(1)
        return False

    def _gather(self, offset: int, size: int) -> bytes:
        """`size` bytes from `offset` past the cursor, joined once across chunks."""
        pieces = []
        skip = self._pos + offset
        for chunk in self._chunks:
            length = len(chunk)
            if skip >= length:
                skip -= length
                continue
            take = min(length - skip, size)
            pieces.append(chunk if take == length else memoryview(chunk)[skip : skip + take])
            size -= take
            skip = 0
            if not size:
                break
        return b"".join(pieces)

    def _consume(self, size: int) -> None:
        """Move the cursor `size` bytes on, dropping spent chunks."""
        self._length -= size
        pos = self._pos + size
        chunks = self._chunks
        while chunks and pos >= len(chunks[0]):
            pos -= len(chunks.popleft())
        self._pos = pos

    def _discard(self, size: int) -> None:
        self._discarded += size
        self._consume(size)

    def _fail(self, error: _errors.ProtocolError) -> _errors.ProtocolError:
        """Make the decoder dead: keep `error` to raise again, drop the buffer."""
        self._error = error
        self._chunks.clear()
        self._pos = self._length = self._need = 0
        self._header = None
        return error
