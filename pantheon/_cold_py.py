"""Payload codecs of the cold commands: every command but the seven whose codecs are compiled
(inv, getdata, notfound, headers, tx, block, addr: `_codecs_py` and `_codecs.pxi`).

A connection carries a handful of these messages, so they are written once, here, and the
compiled twin re-exports them (`_wire.pyx`). They keep `_codecs_py`'s rules and share its
helpers: spec.py's read order, errors and messages; the payload against its command's cap
first; each count or length against its cap before anything is allocated for it; Truncated
naming the command as soon as a field runs past the end; TrailingBytes after the last field.
Fields the spec reads only while bytes remain (`version` after `addr_recv`, the nonce of a
pre-BIP31 `ping`) decode to None when absent. Values are the records of `pantheon.primitives`;
a message of one field decodes to that field (`ping`'s nonce, `feefilter`'s fee rate).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, TypeVar

from pantheon import limits
from pantheon._codecs_py import (
    _CEILING,
    _PORT,
    _U64_MAX,
    _as_bytes,
    _checked_payload,
    _count,
    _finish,
    _items,
    _payload,
    _truncated,
    _tx_at,
)
from pantheon.errors import InvalidValue, OversizedMessage
from pantheon.primitives import (
    _HASH_SIZE,
    _I32LE,
    _U32LE,
    AddrV2Entry,
    BlockHeader,
    BlockTxn,
    BlockTxnRequest,
    CFCheckpt,
    CFCheckptRequest,
    CFHeaders,
    CFilter,
    CFRequest,
    CmpctBlock,
    Endpoint,
    FilterLoad,
    Locator,
    MerkleBlock,
    PrefilledTx,
    Reject,
    SendCmpct,
    SendTxRcncl,
    Tx,
    Version,
    _bytes,
    _dsha256,
    _int,
    compact_size,
    header_from_layout,
)
from pantheon.protocol import BLOCK_HEADER_SIZE, SHORTTXIDS_LENGTH

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = [
    "decode_version", "encode_version",
    "decode_verack", "encode_verack",
    "decode_ping", "encode_ping",
    "decode_pong", "encode_pong",
    "decode_getaddr", "encode_getaddr",
    "decode_addrv2", "encode_addrv2",
    "decode_sendaddrv2", "encode_sendaddrv2",
    "decode_getheaders", "encode_getheaders",
    "decode_getblocks", "encode_getblocks",
    "decode_mempool", "encode_mempool",
    "decode_reject", "encode_reject",
    "decode_sendheaders", "encode_sendheaders",
    "decode_feefilter", "encode_feefilter",
    "decode_sendcmpct", "encode_sendcmpct",
    "decode_cmpctblock", "encode_cmpctblock",
    "decode_getblocktxn", "encode_getblocktxn",
    "decode_blocktxn", "encode_blocktxn",
    "decode_wtxidrelay", "encode_wtxidrelay",
    "decode_merkleblock", "encode_merkleblock",
    "decode_filterload", "encode_filterload",
    "decode_filteradd", "encode_filteradd",
    "decode_filterclear", "encode_filterclear",
    "decode_getcfilters", "encode_getcfilters",
    "decode_cfilter", "encode_cfilter",
    "decode_getcfheaders", "encode_getcfheaders",
    "decode_cfheaders", "encode_cfheaders",
    "decode_getcfcheckpt", "encode_getcfcheckpt",
    "decode_cfcheckpt", "encode_cfcheckpt",
    "decode_sendtxrcncl", "encode_sendtxrcncl",
    "read_tx",
]

_T = TypeVar("_T")

_BIP152_INDEXES = limits.MAX_BIP152_INDEX + 1  # how many a 16-bit index can name
_U8 = struct.Struct("<B")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_VERSION_HEAD = struct.Struct("<iQq")  # version, services, timestamp
_ENDPOINT = struct.Struct("<Q16s")  # services, ip; the port follows in network byte order
_SENDCMPCT = struct.Struct("<BQ")
_FILTERLOAD_TAIL = struct.Struct("<IIB")  # hash_funcs, tweak, flags
_SENDTXRCNCL = struct.Struct("<IQ")
_CF_REQUEST = struct.Struct(f"<BI{_HASH_SIZE}s")  # filter_type, start_height, stop_hash
_CF_HEAD = struct.Struct(f"<B{_HASH_SIZE}s")  # filter_type, then the stop (or block) hash
_BOOLEAN = (b"\x00", b"\x01")


# --- reading --------------------------------------------------------------------------------


class _Reader:
    """A cursor over one payload. A read past its end raises IndexError, which `_decode` turns
    into the spec's Truncated for the command."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def more(self) -> bool:
        return self.pos < len(self.data)

    def take(self, size: int) -> bytes:
        start = self.pos
        end = start + size
        if end > len(self.data):
            raise IndexError
        self.pos = end
        return self.data[start:end]

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.pos)

    def fixed(self, codec: struct.Struct) -> tuple[Any, ...]:
        return codec.unpack(self.take(codec.size))

    def size(self, field: str = "CompactSize", cap: int = _U64_MAX) -> int:
        """A CompactSize, canonical, held to `cap` (OversizedMessage naming `field`)."""
        value, self.pos = _count(self.data, self.pos, field, cap)
        return value

    def var_bytes(self, field: str, cap: int = _CEILING) -> bytes:
        return self.take(self.size(field, cap))

    def text(self, field: str, cap: int = _CEILING) -> str:
        """Any bytes are legal on the wire: undecodable ones are kept as surrogate escapes, so
        the text rebuilds byte for byte (spec.VarStr)."""
        return self.var_bytes(field, cap).decode("utf-8", "surrogateescape")

    def flag(self, field: str) -> bool:
        (value,) = self.take(1)
        if value > 1:
            raise InvalidValue(f"{field}: boolean byte must be 0 or 1, got {value:#04x}")
        return bool(value)

    def items(self, field: str, cap: int, size: int) -> tuple[bytes, ...]:
        """A counted run of fixed-size items; the count is capped and the run's end checked
        before any item is made."""
        run = self.take(self.size(field, cap) * size)
        return tuple(run[start : start + size] for start in range(0, len(run), size))

    def endpoint(self) -> Endpoint:
        services, ip = self.fixed(_ENDPOINT)
        (port,) = self.fixed(_PORT)
        return Endpoint(services, ip, port)

    def header(self) -> BlockHeader:
        raw = self.take(BLOCK_HEADER_SIZE)
        return header_from_layout(raw, _dsha256(raw), 0)

    def tx(self) -> Tx:
        tx, self.pos = _tx_at(self.data, self.pos)
        return tx

    def indexes(self, field: str) -> Iterator[int]:
        """BIP152 differential indexes as absolute ones: each CompactSize is the gap after the
        previous index, and an index past 16 bits is InvalidValue (Core's DifferenceFormatter).
        A caller reads each index's item before asking for the next."""
        count = self.size(field, _BIP152_INDEXES)
        next_index = 0
        for _ in range(count):
            index = next_index + self.size()
            if index > limits.MAX_BIP152_INDEX:
                raise InvalidValue(f"{field}: differential index overflows 16 bits")
            next_index = index + 1
            yield index


def _decode(command: str, data: Buffer, read: Callable[[_Reader], _T]) -> _T:
    data = _payload(command, data)
    reader = _Reader(data)
    try:
        value = read(reader)
    except IndexError:
        raise _truncated(command, data) from None
    _finish(command, data, reader.pos)
    return value


# --- writing --------------------------------------------------------------------------------


def _record(command: str, value: Any, kind: type[_T]) -> _T:
    if not isinstance(value, kind):
        raise TypeError(f"{command}: expected {kind.__name__}, not {type(value).__name__}")
    return value


def _counted(field: str, count: int, cap: int) -> bytes:
    """The CompactSize of a count or length, held to `cap` as the spec builds it."""
    if count > cap:
        raise OversizedMessage(field, count, cap)
    return compact_size(count)


def _var_bytes(field: str, value: bytes, cap: int = _CEILING) -> bytes:
    return _counted(field, len(value), cap) + value


def _text(field: str, value: str, cap: int = _CEILING) -> bytes:
    return _var_bytes(field, value.encode("utf-8", "surrogateescape"), cap)


def _differences(field: str, indexes: Sequence[int]) -> tuple[bytes, list[bytes]]:
    """The count and the differential CompactSizes of absolute BIP152 indexes (increasing)."""
    count = _counted(field, len(indexes), _BIP152_INDEXES)
    gaps, next_index = [], 0
    for index in indexes:
        if not next_index <= index <= limits.MAX_BIP152_INDEX:
            raise InvalidValue(f"{field}: indexes must increase and fit 16 bits")
        gaps.append(compact_size(index - next_index))
        next_index = index + 1
    return count, gaps


def _endpoint(endpoint: Endpoint) -> bytes:
    return _ENDPOINT.pack(endpoint.services, endpoint.ip) + _PORT.pack(endpoint.port)


def _scalar(command: str, field: str, value: Any, codec: struct.Struct, low: int, high: int) -> bytes:
    return _checked_payload(command, codec.pack(_int(f"{command}.{field}", value, low, high)))


# --- commands that share a layout -----------------------------------------------------------


def _named(function: Callable[..., Any], name: str, doc: str) -> Any:
    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


def _pair(command: str, decode: Callable[[str, Buffer], _T], encode: Callable[[str, _T], bytes],
          what: str) -> tuple[Callable[[Buffer], _T], Callable[[_T], bytes]]:
    """`decode_<command>` and `encode_<command>` from the codecs of a layout several commands
    share, so that each names its own command in its errors."""
    return (_named(lambda data: decode(command, data), f"decode_{command}", f"A `{command}` payload: {what}."),
            _named(lambda value: encode(command, value), f"encode_{command}", f"The payload of a `{command}`."))


def _empty(command: str) -> tuple[Callable[[Buffer], None], Callable[[None], bytes]]:
    """The codecs of a command whose payload is empty (its cap is 0, so any byte is over it)."""

    def decode(data: Buffer) -> None:
        _payload(command, data)

    def encode(value: None = None) -> bytes:
        if value is not None:
            raise TypeError(f"{command}: expected None, not {type(value).__name__}")
        return b""

    return (_named(decode, f"decode_{command}", f"A `{command}` payload: empty; OversizedMessage for any byte."),
            _named(encode, f"encode_{command}", f"The empty payload of a `{command}`."))


decode_verack, encode_verack = _empty("verack")
decode_getaddr, encode_getaddr = _empty("getaddr")
decode_sendaddrv2, encode_sendaddrv2 = _empty("sendaddrv2")  # BIP155
decode_mempool, encode_mempool = _empty("mempool")  # BIP35
decode_sendheaders, encode_sendheaders = _empty("sendheaders")  # BIP130
decode_wtxidrelay, encode_wtxidrelay = _empty("wtxidrelay")  # BIP339
decode_filterclear, encode_filterclear = _empty("filterclear")  # BIP37


# --- version --------------------------------------------------------------------------------


def _read_version(reader: _Reader) -> Version:
    version, services, timestamp = reader.fixed(_VERSION_HEAD)
    addr_recv = reader.endpoint()
    addr_from = nonce = user_agent = start_height = relay = extra = None
    if reader.more():
        addr_from = reader.endpoint()
        (nonce,) = reader.fixed(_U64)
    if reader.more():
        user_agent = reader.text("version.user_agent", limits.MAX_USER_AGENT)
    if reader.more():
        (start_height,) = reader.fixed(_I32LE)
    if reader.more():
        relay = reader.flag("version.relay")
    if reader.more():
        extra = reader.rest()
    return Version(version, services, timestamp, addr_recv, addr_from, nonce, user_agent, start_height, relay, extra)


def decode_version(data: Buffer) -> Version:
    """A `version` payload, read as Core reads it: the fields after `addr_recv` only while bytes
    remain, the user agent held to `limits.MAX_USER_AGENT`, bytes after `relay` kept as `extra`."""
    return _decode("version", data, _read_version)


def encode_version(message: Version) -> bytes:
    message = _record("version", message, Version)
    parts = [_VERSION_HEAD.pack(message.version, message.services, message.timestamp), _endpoint(message.addr_recv)]
    if message.addr_from is not None:
        parts += (_endpoint(message.addr_from), _U64.pack(message.nonce))
    if message.user_agent is not None:
        parts.append(_text("version.user_agent", message.user_agent, limits.MAX_USER_AGENT))
    if message.start_height is not None:
        parts.append(_I32LE.pack(message.start_height))
    if message.relay is not None:
        parts.append(_BOOLEAN[message.relay])
    if message.extra is not None:
        parts.append(message.extra)
    return _checked_payload("version", b"".join(parts))


# --- ping, pong (BIP31), feefilter (BIP133), sendcmpct (BIP152) -----------------------------


def decode_ping(data: Buffer) -> int | None:
    """The nonce, or None for a pre-BIP31 empty ping (answered with no pong)."""
    return _decode("ping", data, lambda reader: reader.fixed(_U64)[0] if reader.more() else None)


def encode_ping(nonce: int | None) -> bytes:
    return b"" if nonce is None else _scalar("ping", "nonce", nonce, _U64, 0, _U64_MAX)


def decode_pong(data: Buffer) -> int:
    """The nonce of the ping it answers."""
    return _decode("pong", data, lambda reader: reader.fixed(_U64)[0])


def encode_pong(nonce: int) -> bytes:
    return _scalar("pong", "nonce", nonce, _U64, 0, _U64_MAX)


def decode_feefilter(data: Buffer) -> int:
    """The peer's minimum fee rate, satoshis per 1,000 virtual bytes (signed, as Core's CAmount)."""
    return _decode("feefilter", data, lambda reader: reader.fixed(_I64)[0])


def encode_feefilter(fee_rate: int) -> bytes:
    return _scalar("feefilter", "feerate", fee_rate, _I64, -(1 << 63), (1 << 63) - 1)


def decode_sendcmpct(data: Buffer) -> SendCmpct:
    return _decode("sendcmpct", data, lambda reader: SendCmpct(reader.flag("sendcmpct.announce"), reader.fixed(_U64)[0]))


def encode_sendcmpct(message: SendCmpct) -> bytes:
    message = _record("sendcmpct", message, SendCmpct)
    return _checked_payload("sendcmpct", _SENDCMPCT.pack(message.announce, message.version))


# --- cmpctblock, getblocktxn, blocktxn (BIP152) ----------------------------------------------


def decode_cmpctblock(data: Buffer) -> CmpctBlock:
    """A `cmpctblock` payload: the prefilled transactions' differential indexes are returned as
    absolute ones, each transaction checked in full as `decode_tx` checks it."""

    def read(reader: _Reader) -> CmpctBlock:
        header = reader.header()
        (nonce,) = reader.fixed(_U64)
        short_ids = reader.items("cmpctblock.short_ids", _CEILING, SHORTTXIDS_LENGTH)
        prefilled = [PrefilledTx(index, reader.tx()) for index in reader.indexes("cmpctblock.prefilled")]
        return CmpctBlock(header, nonce, short_ids, prefilled)

    return _decode("cmpctblock", data, read)


def encode_cmpctblock(block: CmpctBlock) -> bytes:
    block = _record("cmpctblock", block, CmpctBlock)
    parts = [block.header.serialize(), _U64.pack(block.nonce),
             _counted("cmpctblock.short_ids", len(block.short_ids), _CEILING), *block.short_ids]
    count, gaps = _differences("cmpctblock.prefilled", [entry.index for entry in block.prefilled])
    parts.append(count)
    for gap, entry in zip(gaps, block.prefilled):
        parts += (gap, entry.tx.serialize())
    return _checked_payload("cmpctblock", b"".join(parts))


def decode_getblocktxn(data: Buffer) -> BlockTxnRequest:
    """A `getblocktxn` payload, its differential indexes returned as absolute ones."""

    def read(reader: _Reader) -> BlockTxnRequest:
        block_hash = reader.take(_HASH_SIZE)
        return BlockTxnRequest(block_hash, tuple(reader.indexes("getblocktxn.indexes")))

    return _decode("getblocktxn", data, read)


def encode_getblocktxn(request: BlockTxnRequest) -> bytes:
    request = _record("getblocktxn", request, BlockTxnRequest)
    count, gaps = _differences("getblocktxn.indexes", request.indexes)
    return _checked_payload("getblocktxn", b"".join((request.block_hash, count, *gaps)))


def decode_blocktxn(data: Buffer) -> BlockTxn:
    def read(reader: _Reader) -> BlockTxn:
        block_hash = reader.take(_HASH_SIZE)
        count = reader.size("blocktxn.transactions", _CEILING)
        return BlockTxn(block_hash, tuple(reader.tx() for _ in range(count)))

    return _decode("blocktxn", data, read)


def encode_blocktxn(message: BlockTxn) -> bytes:
    message = _record("blocktxn", message, BlockTxn)
    parts = (message.block_hash, _counted("blocktxn.transactions", len(message.transactions), _CEILING))
    return _checked_payload("blocktxn", b"".join((*parts, *(tx.serialize() for tx in message.transactions))))


def read_tx(data: Buffer, offset: int = 0) -> tuple[Tx, int]:
    """(transaction, offset after it) of the transaction at `offset` in a longer record, where no
    length says where it ends (Core's mempool.dat follows each with its time and fee delta).
    Checked as `decode_tx` checks a payload, without a payload cap: Truncated if `data` ends
    inside it."""
    data = _as_bytes(data)
    try:
        return _tx_at(data, offset)
    except IndexError:
        raise _truncated("tx", data) from None


# --- addrv2 (BIP155) ------------------------------------------------------------------------


def _read_addrv2_entry(reader: _Reader) -> AddrV2Entry:
    (time,) = reader.fixed(_U32LE)
    services = reader.size()
    (network_id,) = reader.fixed(_U8)
    address = reader.var_bytes("addrv2.address", limits.MAX_ADDRV2_ADDRESS)
    _check_addrv2_length(network_id, address)
    (port,) = reader.fixed(_PORT)
    return AddrV2Entry(time, services, network_id, address, port)


def _check_addrv2_length(network_id: int, address: bytes) -> None:
    known = limits.ADDRV2_NETWORKS.get(network_id)
    if known is not None and len(address) != known[1]:
        raise InvalidValue(f"BIP155 {known[0]} address with length {len(address)}, should be {known[1]}")


def decode_addrv2(data: Buffer) -> list[AddrV2Entry]:
    """An `addrv2` payload: up to `limits.MAX_ADDR` entries; a known network id must carry its
    address length, an unknown one is kept with any length up to `limits.MAX_ADDRV2_ADDRESS`."""

    def read(reader: _Reader) -> list[AddrV2Entry]:
        count = reader.size("addrv2.addresses", limits.MAX_ADDR)
        return [_read_addrv2_entry(reader) for _ in range(count)]

    return _decode("addrv2", data, read)


def encode_addrv2(entries: Sequence[AddrV2Entry]) -> bytes:
    entries = _items("addrv2", "addrv2.addresses", limits.MAX_ADDR, entries, AddrV2Entry)
    parts = [compact_size(len(entries))]
    for entry in entries:
        _check_addrv2_length(entry.network_id, entry.address)
        parts += (
            _U32LE.pack(entry.time), compact_size(entry.services), _U8.pack(entry.network_id),
            _var_bytes("addrv2.address", entry.address, limits.MAX_ADDRV2_ADDRESS), _PORT.pack(entry.port),
        )
    return _checked_payload("addrv2", b"".join(parts))


# --- getheaders, getblocks ------------------------------------------------------------------


def _decode_locator(command: str, data: Buffer) -> Locator:
    def read(reader: _Reader) -> Locator:
        (version,) = reader.fixed(_U32LE)
        hashes = reader.items(f"{command}.locator", limits.MAX_LOCATOR_HASHES, _HASH_SIZE)
        return Locator(version, hashes, reader.take(_HASH_SIZE))

    return _decode(command, data, read)


def _encode_locator(command: str, locator: Locator) -> bytes:
    locator = _record(command, locator, Locator)
    count = _counted(f"{command}.locator", len(locator.hashes), limits.MAX_LOCATOR_HASHES)
    return _checked_payload(command, b"".join((_U32LE.pack(locator.version), count, *locator.hashes, locator.stop)))


_LOCATOR = "a locator of up to `limits.MAX_LOCATOR_HASHES` hashes and a stop hash"
decode_getheaders, encode_getheaders = _pair("getheaders", _decode_locator, _encode_locator, _LOCATOR)
decode_getblocks, encode_getblocks = _pair("getblocks", _decode_locator, _encode_locator, _LOCATOR)


# --- reject (BIP61) -------------------------------------------------------------------------


def decode_reject(data: Buffer) -> Reject:
    """A `reject` payload; `data` is whatever follows the reason (a hash for block and tx)."""

    def read(reader: _Reader) -> Reject:
        message = reader.text("reject.message")
        (ccode,) = reader.fixed(_U8)
        return Reject(message, ccode, reader.text("reject.reason"), reader.rest())

    return _decode("reject", data, read)


def encode_reject(message: Reject) -> bytes:
    message = _record("reject", message, Reject)
    parts = (_text("reject.message", message.message), _U8.pack(message.ccode), _text("reject.reason", message.reason))
    return _checked_payload("reject", b"".join((*parts, message.data)))


# --- bloom filters and merkleblock (BIP37) --------------------------------------------------


def decode_filterload(data: Buffer) -> FilterLoad:
    """A `filterload` payload: the filter held to `limits.MAX_BLOOM_FILTER_SIZE` bytes (the
    number of hash functions is a value for net/ to judge, as in Core)."""

    def read(reader: _Reader) -> FilterLoad:
        bloom = reader.var_bytes("filterload.filter", limits.MAX_BLOOM_FILTER_SIZE)
        return FilterLoad(bloom, *reader.fixed(_FILTERLOAD_TAIL))

    return _decode("filterload", data, read)


def encode_filterload(message: FilterLoad) -> bytes:
    message = _record("filterload", message, FilterLoad)
    bloom = _var_bytes("filterload.filter", message.filter, limits.MAX_BLOOM_FILTER_SIZE)
    return _checked_payload("filterload", bloom + _FILTERLOAD_TAIL.pack(message.hash_funcs, message.tweak, message.flags))


def decode_filteradd(data: Buffer) -> bytes:
    """The element to add, up to `limits.MAX_FILTERADD_SIZE` bytes."""
    return _decode("filteradd", data, lambda reader: reader.var_bytes("filteradd.data", limits.MAX_FILTERADD_SIZE))


def encode_filteradd(element: Buffer) -> bytes:
    element = _bytes("filteradd.data", element)
    return _checked_payload("filteradd", _var_bytes("filteradd.data", element, limits.MAX_FILTERADD_SIZE))


def decode_merkleblock(data: Buffer) -> MerkleBlock:
    def read(reader: _Reader) -> MerkleBlock:
        header = reader.header()
        (total,) = reader.fixed(_U32LE)
        hashes = reader.items("merkleblock.hashes", _CEILING, _HASH_SIZE)
        return MerkleBlock(header, total, hashes, reader.var_bytes("merkleblock.flags"))

    return _decode("merkleblock", data, read)


def encode_merkleblock(message: MerkleBlock) -> bytes:
    message = _record("merkleblock", message, MerkleBlock)
    parts = (message.header.serialize(), _U32LE.pack(message.total_transactions),
             _counted("merkleblock.hashes", len(message.hashes), _CEILING), *message.hashes,
             _var_bytes("merkleblock.flags", message.flags))
    return _checked_payload("merkleblock", b"".join(parts))


# --- compact block filters (BIP157) ---------------------------------------------------------


def _decode_cf_request(command: str, data: Buffer) -> CFRequest:
    return _decode(command, data, lambda reader: CFRequest(*reader.fixed(_CF_REQUEST)))


def _encode_cf_request(command: str, request: CFRequest) -> bytes:
    request = _record(command, request, CFRequest)
    return _checked_payload(command, _CF_REQUEST.pack(request.filter_type, request.start_height, request.stop_hash))


_RANGE = "a filter type and the blocks from a height up to a stop hash"
decode_getcfilters, encode_getcfilters = _pair("getcfilters", _decode_cf_request, _encode_cf_request, _RANGE)


def decode_cfilter(data: Buffer) -> CFilter:
    return _decode("cfilter", data, lambda reader: CFilter(*reader.fixed(_CF_HEAD), reader.var_bytes("cfilter.filter")))


def encode_cfilter(message: CFilter) -> bytes:
    message = _record("cfilter", message, CFilter)
    head = _CF_HEAD.pack(message.filter_type, message.block_hash)
    return _checked_payload("cfilter", head + _var_bytes("cfilter.filter", message.filter))


decode_getcfheaders, encode_getcfheaders = _pair("getcfheaders", _decode_cf_request, _encode_cf_request, _RANGE)


def decode_cfheaders(data: Buffer) -> CFHeaders:
    """A `cfheaders` payload: up to `limits.MAX_CFHEADERS` filter hashes."""

    def read(reader: _Reader) -> CFHeaders:
        filter_type, stop_hash = reader.fixed(_CF_HEAD)
        previous = reader.take(_HASH_SIZE)
        hashes = reader.items("cfheaders.filter_hashes", limits.MAX_CFHEADERS, _HASH_SIZE)
        return CFHeaders(filter_type, stop_hash, previous, hashes)

    return _decode("cfheaders", data, read)


def encode_cfheaders(message: CFHeaders) -> bytes:
    message = _record("cfheaders", message, CFHeaders)
    count = _counted("cfheaders.filter_hashes", len(message.filter_hashes), limits.MAX_CFHEADERS)
    parts = (_CF_HEAD.pack(message.filter_type, message.stop_hash), message.previous_filter_header, count)
    return _checked_payload("cfheaders", b"".join((*parts, *message.filter_hashes)))


def decode_getcfcheckpt(data: Buffer) -> CFCheckptRequest:
    return _decode("getcfcheckpt", data, lambda reader: CFCheckptRequest(*reader.fixed(_CF_HEAD)))


def encode_getcfcheckpt(request: CFCheckptRequest) -> bytes:
    request = _record("getcfcheckpt", request, CFCheckptRequest)
    return _checked_payload("getcfcheckpt", _CF_HEAD.pack(request.filter_type, request.stop_hash))


def decode_cfcheckpt(data: Buffer) -> CFCheckpt:
    def read(reader: _Reader) -> CFCheckpt:
        filter_type, stop_hash = reader.fixed(_CF_HEAD)
        return CFCheckpt(filter_type, stop_hash, reader.items("cfcheckpt.filter_headers", _CEILING, _HASH_SIZE))

    return _decode("cfcheckpt", data, read)


def encode_cfcheckpt(message: CFCheckpt) -> bytes:
    message = _record("cfcheckpt", message, CFCheckpt)
    count = _counted("cfcheckpt.filter_headers", len(message.filter_headers), _CEILING)
    head = _CF_HEAD.pack(message.filter_type, message.stop_hash)
    return _checked_payload("cfcheckpt", b"".join((head, count, *message.filter_headers)))


# --- sendtxrcncl (BIP330) -------------------------------------------------------------------


def decode_sendtxrcncl(data: Buffer) -> SendTxRcncl:
    return _decode("sendtxrcncl", data, lambda reader: SendTxRcncl(*reader.fixed(_SENDTXRCNCL)))


def encode_sendtxrcncl(message: SendTxRcncl) -> bytes:
    message = _record("sendtxrcncl", message, SendTxRcncl)
    return _checked_payload("sendtxrcncl", _SENDTXRCNCL.pack(message.version, message.salt))
