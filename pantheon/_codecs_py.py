"""Pure-Python twin of the payload codecs of `pantheon._wire` (compiled in `_codecs.pxi`).

Both twins return the value types of `pantheon.primitives` and raise the same `pantheon.errors`
classes with the same messages, which are also the messages `spec.py` gives. Every decoder
follows spec.py's read order, so the first fault found is the one the spec reports:

- the payload against its command's cap (`limits.max_payload`), before anything is read;
- each CompactSize canonical (InvalidValue), each count or length against its cap
  (OversizedMessage with spec.py's field name) before anything is allocated for it;
- Truncated as soon as a field runs past the end, TrailingBytes for bytes after the last field;
- transactions by Core's rules exactly as `spec.Transaction`: an empty input vector and a non-zero
  flag byte announce BIP144's extended form; a witness record of all-empty stacks and unknown flag
  bits are InvalidValue.

Transactions are checked in full and returned lazily (see `pantheon.primitives`): the decoder
records where the witness starts, and the Tx builds its records and hashes on first use.
Inside this module a short read surfaces as IndexError (from indexing, or raised where a slice
would silently come back short), which each decoder turns into Truncated naming its command.
"""

from __future__ import annotations

import operator
import struct
from typing import TYPE_CHECKING, Any, Sequence

from pantheon import limits
from pantheon.errors import InvalidValue, OversizedMessage, TrailingBytes, Truncated
from pantheon.primitives import (
    PY_TX_READER,
    Block,
    BlockHeader,
    InvVect,
    NetAddress,
    Tx,
    _dsha256,
    compact_size,
    header_from_layout,
    tx_from_layout,
)
from pantheon.protocol import BLOCK_HEADER_SIZE

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = [
    "read_compact_size",
    "write_compact_size",
    "decode_inv",
    "encode_inv",
    "decode_getdata",
    "encode_getdata",
    "decode_notfound",
    "encode_notfound",
    "decode_headers",
    "encode_headers",
    "decode_tx",
    "encode_tx",
    "decode_block",
    "encode_block",
    "decode_addr",
    "encode_addr",
]

_CEILING = limits.MAX_MESSAGE_SIZE_CEILING
_U64_MAX = 0xFFFF_FFFF_FFFF_FFFF
_INV = struct.Struct("<I32s")
_ADDR_FIELDS = struct.Struct("<IQ16s")  # time, services, ip
_PORT = struct.Struct(">H")  # network byte order
_ADDR_SIZE = _ADDR_FIELDS.size + _PORT.size
_WIDTHS = {0xFD: (2, 0xFD), 0xFE: (4, 0x1_0000), 0xFF: (8, 0x1_0000_0000)}


# --- CompactSize ----------------------------------------------------------------------------


def _wide_size(data: bytes, pos: int, first: int) -> tuple[int, int]:
    """The value after a 0xfd/0xfe/0xff prefix at pos - 1; non-canonical is InvalidValue."""
    width, smallest = _WIDTHS[first]
    end = pos + width
    if end > len(data):
        raise IndexError
    value = int.from_bytes(data[pos:end], "little")
    if value < smallest:
        raise InvalidValue(f"non-canonical CompactSize {value} in {width + 1} bytes")
    return value, end


def _count(data: bytes, pos: int, field: str, cap: int) -> tuple[int, int]:
    """A CompactSize count or length, held to `cap` (spec.Counted / spec.VarBytes)."""
    value = data[pos]
    pos += 1
    if value >= 0xFD:
        value, pos = _wide_size(data, pos, value)
    if value > cap:
        raise OversizedMessage(field, value, cap)
    return value, pos


def _as_bytes(data: Buffer) -> bytes:
    return data if type(data) is bytes else memoryview(data).tobytes()


def read_compact_size(data: Buffer, offset: int = 0) -> tuple[int, int]:
    """(value, offset after it) of the canonical CompactSize at `offset` in `data`.

    Raises Truncated if `data` ends inside it and InvalidValue if it is not the shortest
    encoding (Core's ReadCompactSize); any value up to 2**64-1 is returned, unchecked.
    """
    data = _as_bytes(data)
    offset = operator.index(offset)
    if not 0 <= offset <= len(data):
        raise ValueError(f"offset {offset} outside the {len(data)} bytes of data")
    try:
        return _count(data, offset, "CompactSize", _U64_MAX)
    except IndexError:
        raise _truncated("CompactSize", data) from None


def write_compact_size(value: int) -> bytes:
    """The canonical (shortest) CompactSize of `value`; InvalidValue outside 0..2**64-1."""
    value = operator.index(value)
    if not 0 <= value <= _U64_MAX:
        raise InvalidValue(f"CompactSize out of range: {value}")
    return compact_size(value)


# --- shared plumbing ------------------------------------------------------------------------


def _truncated(what: str, data: bytes) -> Truncated:
    return Truncated(f"{what}: data ends early ({len(data)} bytes)")


def _payload(command: str, data: Buffer) -> bytes:
    data = _as_bytes(data)
    cap = limits.max_payload(command)
    if len(data) > cap:
        raise OversizedMessage(f"{command} payload", len(data), cap)
    return data


def _finish(command: str, data: bytes, pos: int) -> None:
    if pos != len(data):
        raise TrailingBytes(f"{command}: {len(data) - pos} bytes after the last field")


def _checked_payload(command: str, payload: bytes) -> bytes:
    cap = limits.max_payload(command)
    if len(payload) > cap:
        raise OversizedMessage(f"{command} payload", len(payload), cap)
    return payload


def _items(command: str, field: str, cap: int, items: Sequence[Any], kind: type) -> Sequence[Any]:
    if not isinstance(items, (list, tuple)):
        items = list(items)
    if len(items) > cap:
        raise OversizedMessage(field, len(items), cap)
    for item in items:
        if not isinstance(item, kind):
            raise TypeError(f"{command}: expected {kind.__name__}, not {type(item).__name__}")
    return items


# --- inv, getdata, notfound -----------------------------------------------------------------


def _inventory_span(command: str, data: Buffer) -> tuple[bytes, int, int]:
    """(payload, entry count, offset of the first entry) of an inv/getdata/notfound payload,
    checked in the spec's order and words: payload cap, canonical count held to
    MAX_INV_ENTRIES, exact length. Shared by the decoders and InventorySet.filter_new."""
    data = _payload(command, data)
    try:
        count, pos = _count(data, 0, f"{command}.inventory", limits.MAX_INV_ENTRIES)
    except IndexError:
        raise _truncated(command, data) from None
    end = pos + count * _INV.size
    if end > len(data):
        raise _truncated(command, data)
    _finish(command, data, end)
    return data, count, pos


def _decode_inventory(command: str, data: Buffer) -> list[InvVect]:
    data, _, pos = _inventory_span(command, data)
    return [InvVect(kind, digest) for kind, digest in _INV.iter_unpack(data[pos:])]


def _encode_inventory(command: str, items: Sequence[InvVect]) -> bytes:
    items = _items(command, f"{command}.inventory", limits.MAX_INV_ENTRIES, items, InvVect)
    parts = [compact_size(len(items))]
    parts += [_INV.pack(item.type, item.hash) for item in items]
    return _checked_payload(command, b"".join(parts))


def decode_inv(data: Buffer) -> list[InvVect]:
    """An `inv` payload: up to `limits.MAX_INV_ENTRIES` InvVect."""
    return _decode_inventory("inv", data)


def encode_inv(items: Sequence[InvVect]) -> bytes:
    return _encode_inventory("inv", items)


def decode_getdata(data: Buffer) -> list[InvVect]:
    """A `getdata` payload: up to `limits.MAX_INV_ENTRIES` InvVect."""
    return _decode_inventory("getdata", data)


def encode_getdata(items: Sequence[InvVect]) -> bytes:
    return _encode_inventory("getdata", items)


def decode_notfound(data: Buffer) -> list[InvVect]:
    """A `notfound` payload: up to `limits.MAX_INV_ENTRIES` InvVect."""
    return _decode_inventory("notfound", data)


def encode_notfound(items: Sequence[InvVect]) -> bytes:
    return _encode_inventory("notfound", items)


# --- headers --------------------------------------------------------------------------------


def decode_headers(data: Buffer) -> list[BlockHeader]:
    """A `headers` payload: up to `limits.MAX_HEADERS` BlockHeader, each hashed, each with the
    transaction count that followed it (Core ignores it) as `tx_count`."""
    data = _payload("headers", data)
    headers = []
    try:
        count, pos = _count(data, 0, "headers.headers", limits.MAX_HEADERS)
        for _ in range(count):
            end = pos + BLOCK_HEADER_SIZE
            if end > len(data):
                raise IndexError
            raw = data[pos:end]
            tx_count, pos = _count(data, end, "headers.tx_count", _CEILING)
            headers.append(header_from_layout(raw, _dsha256(raw), tx_count))
    except IndexError:
        raise _truncated("headers", data) from None
    _finish("headers", data, pos)
    return headers


def encode_headers(headers: Sequence[BlockHeader]) -> bytes:
    headers = _items("headers", "headers.headers", limits.MAX_HEADERS, headers, BlockHeader)
    parts = [compact_size(len(headers))]
    for header in headers:
        parts += (header.serialize(), compact_size(header.tx_count))
    return _checked_payload("headers", b"".join(parts))


# --- tx, block ------------------------------------------------------------------------------


def _scan_tx(data: bytes, pos: int) -> tuple[int, int]:
    """Check the transaction at `pos` as spec.Transaction reads it; (end, witness offset or 0)."""
    size = len(data)
    pos += 4  # version
    inputs, pos = _count(data, pos, "tx.inputs", _CEILING)
    flags = 0
    has_outputs = True
    if not inputs:
        # An empty input vector: the next byte is BIP144's flag, or 0 for Core's empty tx,
        # which then has no output vector either.
        flags = data[pos]
        pos += 1
        if flags:
            inputs, pos = _count(data, pos, "tx.inputs", _CEILING)
        else:
            has_outputs = False
    for _ in range(inputs):
        length, pos = _count(data, pos + 36, "tx.script_sig", _CEILING)  # after the outpoint
        pos += length + 4  # script, sequence
        if pos > size:
            raise IndexError
    if has_outputs:
        outputs, pos = _count(data, pos, "tx.outputs", _CEILING)
        for _ in range(outputs):
            length, pos = _count(data, pos + 8, "tx.script_pubkey", _CEILING)  # after the value
            pos += length
            if pos > size:
                raise IndexError
    witness = 0
    if flags & 1:
        witness = pos
        flags ^= 1
        carried = False
        for _ in range(inputs):
            items, pos = _count(data, pos, "tx.witness", _CEILING)
            if items:
                carried = True
            for _ in range(items):
                length, pos = _count(data, pos, "tx.witness_item", _CEILING)
                pos += length
                if pos > size:
                    raise IndexError
        if not carried:
            raise InvalidValue("superfluous witness record")
    if flags:
        raise InvalidValue(f"unknown transaction optional data (flags {flags:#04x})")
    pos += 4  # locktime
    if pos > size:
        raise IndexError
    return pos, witness


def _tx_at(data: bytes, pos: int) -> tuple[Tx, int]:
    """The transaction at `pos` in a message (checked in full, with its own bytes) and its end."""
    end, witness = _scan_tx(data, pos)
    return tx_from_layout(data[pos:end], witness - pos if witness else 0, PY_TX_READER), end


def decode_tx(data: Buffer) -> Tx:
    """A `tx` payload, checked in full; the Tx builds its records and hashes on first use."""
    data = _payload("tx", data)
    try:
        end, witness = _scan_tx(data, 0)
    except IndexError:
        raise _truncated("tx", data) from None
    _finish("tx", data, end)
    return tx_from_layout(data, witness, PY_TX_READER)


def encode_tx(tx: Tx) -> bytes:
    if not isinstance(tx, Tx):
        raise TypeError(f"tx: expected Tx, not {type(tx).__name__}")
    return _checked_payload("tx", tx.serialize())


def decode_block(data: Buffer) -> Block:
    """A `block` payload: the header (hashed) and every transaction, checked in full."""
    data = _payload("block", data)
    transactions = []
    try:
        if len(data) < BLOCK_HEADER_SIZE:
            raise IndexError
        raw = data[:BLOCK_HEADER_SIZE]
        header = header_from_layout(raw, _dsha256(raw), 0)
        count, pos = _count(data, BLOCK_HEADER_SIZE, "block.transactions", _CEILING)
        for _ in range(count):
            tx, pos = _tx_at(data, pos)
            transactions.append(tx)
    except IndexError:
        raise _truncated("block", data) from None
    _finish("block", data, pos)
    return Block(header, tuple(transactions))


def encode_block(block: Block) -> bytes:
    if not isinstance(block, Block):
        raise TypeError(f"block: expected Block, not {type(block).__name__}")
    transactions = block.transactions
    parts = [block.header.serialize(), compact_size(len(transactions))]
    parts += [tx.serialize() for tx in transactions]
    return _checked_payload("block", b"".join(parts))


# --- addr -----------------------------------------------------------------------------------


def decode_addr(data: Buffer) -> list[NetAddress]:
    """An `addr` payload: up to `limits.MAX_ADDR` NetAddress (with time)."""
    data = _payload("addr", data)
    try:
        count, pos = _count(data, 0, "addr.addresses", limits.MAX_ADDR)
    except IndexError:
        raise _truncated("addr", data) from None
    end = pos + count * _ADDR_SIZE
    if end > len(data):
        raise _truncated("addr", data)
    _finish("addr", data, end)
    addresses = []
    for start in range(pos, end, _ADDR_SIZE):
        time, services, ip = _ADDR_FIELDS.unpack_from(data, start)
        (port,) = _PORT.unpack_from(data, start + _ADDR_FIELDS.size)
        addresses.append(NetAddress(time, services, ip, port))
    return addresses


def encode_addr(addresses: Sequence[NetAddress]) -> bytes:
    addresses = _items("addr", "addr.addresses", limits.MAX_ADDR, addresses, NetAddress)
    parts = [compact_size(len(addresses))]
    for address in addresses:
        parts += (_ADDR_FIELDS.pack(address.time, address.services, address.ip), _PORT.pack(address.port))
    return _checked_payload("addr", b"".join(parts))
