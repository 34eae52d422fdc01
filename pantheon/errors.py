"""Typed protocol errors shared by the construct spec and both wire twins.

Every malformed input surfaces as a `ProtocolError` subclass, so callers (the
network layer, the packet decoder, tests) can react per class without ever
catching `IndexError`, `struct.error` or a construct exception.
"""

from __future__ import annotations


class ProtocolError(ValueError):
    """Base of every error raised while decoding or encoding wire data."""


class Truncated(ProtocolError):
    """The data ended before the structure it declares was complete."""


class TrailingBytes(ProtocolError):
    """A payload held bytes after its last field."""


class OversizedMessage(ProtocolError):
    """A declared length or count exceeds its cap (checked before allocating).

    `field` names what was too large (a command's payload, `inv.entries`, ...).
    """

    def __init__(self, field: str, size: int, cap: int) -> None:
        super().__init__(f"{field}: {size} exceeds the cap of {cap}")
        self.field = field
        self.size = size
        self.cap = cap


class BadMagic(ProtocolError):
    """A message header does not start with the expected network magic; `found` holds the four
    bytes seen instead, as they were on the wire (Core's log shows them)."""

    def __init__(self, message: str, found: bytes = b"") -> None:
        super().__init__(message)
        self.found = found


class BadChecksum(ProtocolError):
    """The header checksum does not match double-SHA256 of the payload."""


class BadCommand(ProtocolError):
    """The 12-byte command field is not printable ASCII padded with NULs."""


class InvalidValue(ProtocolError):
    """A field holds a value the protocol forbids (non-canonical size, bad flag, ...)."""
