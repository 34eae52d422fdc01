"""Pure-Python twin of the header and checksum half of `pantheon._wire` (see `_wire_py`).

Errors come from `pantheon.errors` and every size from `pantheon.limits`.

Message header (24 bytes), all integers little-endian:
    magic     uint32    network magic (mainnet 0xD9B4BEF9 is f9 be b4 d9 on the wire)
    command   char[12]  printable ASCII, NUL-padded
    length    uint32    payload length in bytes
    checksum  char[4]   first 4 bytes of double-SHA256(payload)
"""

from __future__ import annotations

import hashlib
import operator
import re
import struct
from typing import TYPE_CHECKING

from pantheon import errors as _errors
from pantheon import limits as _limits

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["double_sha256", "checksum", "pack_header", "unpack_header"]

_HEADER = struct.Struct(f"<I{_limits.COMMAND_SIZE}sI{_limits.CHECKSUM_SIZE}s")
if _HEADER.size != _limits.HEADER_SIZE:  # pragma: no cover - guards limits.py against drift
    raise RuntimeError(f"header layout is {_HEADER.size} bytes, HEADER_SIZE {_limits.HEADER_SIZE}")

_UINT32_MAX = 0xFFFF_FFFF
# Bitcoin Core's CMessageHeader::IsMessageTypeValid: bytes 0x20..0x7e up to the first NUL, then
# only NULs. An all-NUL (empty) command passes this rule, as it does in Core.
_VALID_COMMAND_FIELD = re.compile(rb"[\x20-\x7e]*\x00*")


def double_sha256(data: Buffer) -> bytes:
    """SHA256(SHA256(data)): 32 bytes. `data` is any C-contiguous buffer."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def checksum(data: Buffer) -> bytes:
    """The message checksum: the first `limits.CHECKSUM_SIZE` bytes of double_sha256(data)."""
    return double_sha256(data)[: _limits.CHECKSUM_SIZE]


def _magic_value(magic: int) -> int:
    value = operator.index(magic)
    if not 0 <= value <= _UINT32_MAX:
        raise OverflowError(f"magic {value:#x} does not fit in 32 bits")
    return value


def _command_field(command: str) -> bytes:
    if not isinstance(command, str):
        raise TypeError(f"command must be str, not {type(command).__name__}")
    if len(command) > _limits.COMMAND_SIZE:
        raise _errors.BadCommand(
            f"command {command!r} is longer than the {_limits.COMMAND_SIZE}-byte command field"
        )
    if not (command.isascii() and command.isprintable()):
        raise _errors.BadCommand(f"command {command!r} is not printable ASCII")
    return command.encode("ascii")


def pack_header(magic: int, command: str, payload: Buffer) -> bytes:
    """The 24-byte header for `payload` sent as `command` on the network with `magic`.

    Raises BadCommand for a command longer than `limits.COMMAND_SIZE` or not printable ASCII
    (0x20..0x7e), OversizedMessage for a payload over `limits.MAX_MESSAGE_SIZE_CEILING`, and
    OverflowError for a magic outside uint32.
    """
    value = _magic_value(magic)
    field = _command_field(command)
    with memoryview(payload) as view:
        size = view.nbytes
    if size > _limits.MAX_MESSAGE_SIZE_CEILING:
        raise _errors.OversizedMessage(command, size, _limits.MAX_MESSAGE_SIZE_CEILING)
    return _HEADER.pack(value, field, size, checksum(payload))


def unpack_header(data: Buffer, magic: int) -> tuple[str, int, bytes]:
    """(command, payload length, checksum) from the first `limits.HEADER_SIZE` bytes of `data`.

    Bytes after the header (the payload, the next message) are left alone. Raises Truncated
    for fewer than `limits.HEADER_SIZE` bytes, BadMagic if the magic is not `magic`, BadCommand
    if the command field breaks Core's rule (printable ASCII, then only NULs). The length is
    returned as declared; capping it per command is the caller's job.
    """
    expected = _magic_value(magic)
    with memoryview(data) as view:
        size = view.nbytes
    if size < _limits.HEADER_SIZE:
        raise _errors.Truncated(f"message header needs {_limits.HEADER_SIZE} bytes, got {size}")
    got, field, length, check = _HEADER.unpack_from(data)
    if got != expected:
        raise _errors.BadMagic(f"magic {got:#010x}, expected {expected:#010x}")
    if _VALID_COMMAND_FIELD.fullmatch(field) is None:
        raise _errors.BadCommand(f"command field {field!r} is not printable ASCII padded with NULs")
    return field.rstrip(b"\x00").decode("ascii"), length, check
