"""`Frame`: one message taken off the wire by `FrameDecoder`, shared by both wire twins.

A plain module (as msgpack shares `ExtType` between its twins): `pantheon._wire` and
`pantheon._wire_py` both return instances of this one class, so frames from either twin
compare equal field for field.

`Frame` is a named tuple: the compiled twin builds one per message on its hot path, and a
tuple subclass without a `__dict__` is the cheapest Python object with named fields to make
(the compiled twin checks that layout at import).
"""

from __future__ import annotations

from typing import Final, NamedTuple

__all__ = ["BAD_CHECKSUM", "BAD_COMMAND", "Frame"]

#: `Frame.error` when the header's checksum does not match the payload.
BAD_CHECKSUM: Final = "bad checksum"
#: `Frame.error` when the command field breaks Core's rule (printable ASCII, then only NULs).
BAD_COMMAND: Final = "bad command"


class Frame(NamedTuple):
    """One framed message: header fields as read, the payload, and whether it may be used.

    command      the command name. For a BAD_COMMAND frame it is the raw 12-byte field with
                 its trailing NULs removed, decoded as Latin-1 (one character per byte, so
                 `command.encode("latin-1")` gives the bytes back).
    payload      the payload bytes, exactly the declared length.
    checksum_ok  whether the header's checksum matches double-SHA256 of the payload.
    error        None for a frame to dispatch; else why it must be dropped: BAD_CHECKSUM
                 (checked first, as Core's V1Transport does) or BAD_COMMAND.
    wire_size    bytes the frame took on the wire: the 24-byte header plus the payload.
    received_checksum  the header's checksum when it does not match the payload (Core logs it
                 beside the expected one), else None.
    """

    command: str
    payload: bytes
    checksum_ok: bool
    error: str | None
    wire_size: int
    received_checksum: bytes | None = None

    @property
    def ok(self) -> bool:
        """True when the frame may be dispatched (`error` is None)."""
        return self.error is None
