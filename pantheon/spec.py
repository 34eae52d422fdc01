"""The construct grammar of the Bitcoin P2P protocol: every message, every structure.

This module is the readable source of truth and the oracle the fast wire twins are tested
against; nothing on the hot path imports it. Field order and types follow Bitcoin Core's
serialisation (`protocol.h`, `primitives/*.h`, `blockencodings.h`), the BIPs named on each
message, and Core's deserialisation rules where they are stricter than the layout alone:
canonical CompactSize, BIP144's witness flag rules, BIP152's 16-bit differential indexes,
BIP155's address lengths.

Use `parse_message`/`build_message` for framed messages and `parse_payload`/
`build_payload` for bare payloads. Every malformed input raises a `pantheon.errors`
class; an unknown command decodes to its raw payload bytes. Run
`python -m pantheon.spec HEX|FILE|-` to see a message decoded field by field (the printer is
`tools/describe.py`).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from construct import (
    Bytes,
    Construct,
    ConstructError,
    Container,
    ExplicitError,
    GreedyBytes,
    If,
    Int8ul,
    Int16ub,
    Int32sl,
    Int32ul,
    Int64sl,
    Int64ul,
    ListContainer,
    StreamError,
    Struct,
)
from construct.core import stream_read, stream_write

from pantheon import limits
from pantheon.errors import (
    BadChecksum,
    BadCommand,
    BadMagic,
    InvalidValue,
    OversizedMessage,
    ProtocolError,
    TrailingBytes,
    Truncated,
)
from pantheon.params import BY_MAGIC
from pantheon.protocol import SHORTTXIDS_LENGTH

# ------------------------------------------------------------------------------------
# Plumbing: pantheon errors travel through construct wrapped in an ExplicitError, which
# construct's Select/Optional never swallow, and are unwrapped at the module's edge.


class _Rejected(ExplicitError):
    def __init__(self, error: ProtocolError) -> None:
        super().__init__(str(error))
        self.error = error


def _reject(error: ProtocolError) -> None:
    raise _Rejected(error)


def _bytes_remaining(stream: io.BufferedIOBase) -> bool:
    position = stream.tell()
    more = stream.read(1) != b""
    stream.seek(position)
    return more


# ------------------------------------------------------------------------------------
# Primitive fields


class CompactSize(Construct):
    """Bitcoin's variable-length unsigned integer; non-canonical encodings are rejected (Core)."""

    _WIDTHS = {0xFD: (2, 0xFD), 0xFE: (4, 0x1_0000), 0xFF: (8, 0x1_0000_0000)}

    def _parse(self, stream, context, path):
        first = stream_read(stream, 1, path)[0]
        if first < 0xFD:
            return first
        width, smallest = self._WIDTHS[first]
        value = int.from_bytes(stream_read(stream, width, path), "little")
        if value < smallest:
            _reject(InvalidValue(f"non-canonical CompactSize {value} in {width + 1} bytes"))
        return value

    def _build(self, obj, stream, context, path):
        if not 0 <= obj < 1 << 64:
            _reject(InvalidValue(f"CompactSize out of range: {obj}"))
        if obj < 0xFD:
            encoded = bytes([obj])
        elif obj <= 0xFFFF:
            encoded = b"\xfd" + obj.to_bytes(2, "little")
        elif obj <= 0xFFFFFFFF:
            encoded = b"\xfe" + obj.to_bytes(4, "little")
        else:
            encoded = b"\xff" + obj.to_bytes(8, "little")
        stream_write(stream, encoded, len(encoded), path)
        return obj


class CappedCompactSize(CompactSize):
    """A CompactSize count or length, held to `cap` (OversizedMessage) on parse and build.

    With no protocol cap the bound is Core's MAX_SIZE, which ReadCompactSize applies to
    every vector length: a huge declared count fails here, before anything is allocated.
    """

    def __init__(self, field: str, cap: int | None = None) -> None:
        super().__init__()
        self.field = field
        self.cap = limits.MAX_MESSAGE_SIZE_CEILING if cap is None else cap

    def _parse(self, stream, context, path):
        value = super()._parse(stream, context, path)
        if value > self.cap:
            _reject(OversizedMessage(self.field, value, self.cap))
        return value

    def _build(self, obj, stream, context, path):
        if obj > self.cap:
            _reject(OversizedMessage(self.field, obj, self.cap))
        return super()._build(obj, stream, context, path)


class Counted(Construct):
    """A capped CompactSize count, then that many items (see CappedCompactSize)."""

    def __init__(self, subcon: Construct, field: str, cap: int | None = None) -> None:
        super().__init__()
        self.subcon = subcon
        self.count = CappedCompactSize(field, cap)

    def _parse(self, stream, context, path):
        count = self.count._parse(stream, context, path)
        items = ListContainer()
        for _ in range(count):
            items.append(self.subcon._parsereport(stream, context, path))
        return items

    def _build(self, obj, stream, context, path):
        self.count._build(len(obj), stream, context, path)
        for item in obj:
            self.subcon._build(item, stream, context, path)
        return obj


class VarBytes(Construct):
    """CompactSize length-prefixed bytes, the length capped as in CappedCompactSize."""

    def __init__(self, field: str, cap: int | None = None) -> None:
        super().__init__()
        self.length = CappedCompactSize(field, cap)

    def _parse(self, stream, context, path):
        return stream_read(stream, self.length._parse(stream, context, path), path)

    def _build(self, obj, stream, context, path):
        self.length._build(len(obj), stream, context, path)
        stream_write(stream, bytes(obj), len(obj), path)
        return obj


class VarStr(VarBytes):
    """A length-prefixed string. Any bytes are legal on the wire, so undecodable bytes are
    kept as surrogate escapes: the text reads naturally and rebuilds byte for byte."""

    def _parse(self, stream, context, path):
        return super()._parse(stream, context, path).decode("utf-8", "surrogateescape")

    def _build(self, obj, stream, context, path):
        super()._build(obj.encode("utf-8", "surrogateescape"), stream, context, path)
        return obj


class StrictBool(Construct):
    """One byte, 0 or 1. Core reads any non-zero byte as true, but no implementation sends
    one, and accepting it would break byte-exact round trips; it is rejected as invalid."""

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field

    def _parse(self, stream, context, path):
        value = stream_read(stream, 1, path)[0]
        if value > 1:
            _reject(InvalidValue(f"{self.field}: boolean byte must be 0 or 1, got {value:#04x}"))
        return bool(value)

    def _build(self, obj, stream, context, path):
        stream_write(stream, b"\x01" if obj else b"\x00", 1, path)
        return obj


class IfMore(Construct):
    """An optional trailing field, present when bytes remain (how Core reads `version`).

    Absent parses to None and builds nothing; a field cut short still raises Truncated."""

    def __init__(self, subcon: Construct) -> None:
        super().__init__()
        self.subcon = subcon

    def _parse(self, stream, context, path):
        if not _bytes_remaining(stream):
            return None
        return self.subcon._parsereport(stream, context, path)

    def _build(self, obj, stream, context, path):
        if obj is None:
            return None
        return self.subcon._build(obj, stream, context, path)


class CommandName(Construct):
    """The 12-byte command: printable ASCII up to the first NUL, then only NULs (Core's
    IsMessageTypeValid)."""

    def _parse(self, stream, context, path):
        field = stream_read(stream, limits.COMMAND_SIZE, path)
        name, _, padding = field.partition(b"\x00")
        if padding.strip(b"\x00") or not _printable(name):
            _reject(BadCommand(f"malformed command field {field.hex()}"))
        return name.decode("ascii")

    def _build(self, obj, stream, context, path):
        if not obj.isascii() or len(obj) > limits.COMMAND_SIZE or not _printable(obj.encode("ascii")):
            _reject(BadCommand(f"command {obj!r} is not up to 12 printable ASCII characters"))
        raw = obj.encode("ascii")
        stream_write(stream, raw.ljust(limits.COMMAND_SIZE, b"\x00"), limits.COMMAND_SIZE, path)
        return obj


def _printable(name: bytes) -> bool:
    return all(0x20 <= c <= 0x7E for c in name)


class DifferentialIndexes(Construct):
    """BIP152 differential indexes: each CompactSize is the gap after the previous index.

    Parses to absolute indexes; with `subcon`, each index is followed by that item and the
    list holds Containers (index, <item_name>). Indexes above 0xFFFF are rejected, as Core's
    DifferenceFormatter does for its uint16 indexes.
    """

    def __init__(self, field: str, subcon: Construct | None = None, item_name: str = "tx") -> None:
        super().__init__()
        self.field = field
        self.count = CappedCompactSize(field, limits.MAX_BIP152_INDEX + 1)
        self.subcon = subcon
        self.item_name = item_name

    def _parse(self, stream, context, path):
        count = self.count._parse(stream, context, path)
        items = ListContainer()
        next_index = 0
        for _ in range(count):
            index = next_index + CompactSize()._parse(stream, context, path)
            if index > limits.MAX_BIP152_INDEX:
                _reject(InvalidValue(f"{self.field}: differential index overflows 16 bits"))
            next_index = index + 1
            if self.subcon is None:
                items.append(index)
            else:
                item = self.subcon._parsereport(stream, context, path)
                items.append(Container(index=index, **{self.item_name: item}))
        return items

    def _build(self, obj, stream, context, path):
        self.count._build(len(obj), stream, context, path)
        next_index = 0
        for entry in obj:
            index = entry if self.subcon is None else entry["index"]
            if not next_index <= index <= limits.MAX_BIP152_INDEX:
                _reject(InvalidValue(f"{self.field}: indexes must increase and fit 16 bits"))
            CompactSize()._build(index - next_index, stream, context, path)
            next_index = index + 1
            if self.subcon is not None:
                self.subcon._build(entry[self.item_name], stream, context, path)
        return obj


Hash256 = Bytes(32)  # internal byte order; displayed reversed, as Core's RPC does

# ------------------------------------------------------------------------------------
# Shared structures

#: Address without time, as in `version` (Core CAddress without nTime).
NetAddress = Struct(
    "services" / Int64ul,
    "ip" / Bytes(16),  # IPv6, or IPv4-mapped ::ffff:a.b.c.d
    "port" / Int16ub,  # network byte order
)

#: Address with time, as in `addr`.
TimedNetAddress = Struct(
    "time" / Int32ul,
    "services" / Int64ul,
    "ip" / Bytes(16),
    "port" / Int16ub,
)

#: BIP155 network ids and their address lengths (the table lives in limits.py).
ADDRV2_NETWORKS: Mapping[int, tuple[str, int]] = limits.ADDRV2_NETWORKS


class AddrV2Address(VarBytes):
    """BIP155 address bytes: a known network id must carry exactly its address length."""

    def _check(self, address: bytes, context) -> None:
        known = ADDRV2_NETWORKS.get(context.network_id)
        if known is not None and len(address) != known[1]:
            _reject(InvalidValue(f"BIP155 {known[0]} address with length {len(address)}, should be {known[1]}"))

    def _parse(self, stream, context, path):
        address = super()._parse(stream, context, path)
        self._check(address, context)
        return address

    def _build(self, obj, stream, context, path):
        self._check(obj, context)
        return super()._build(obj, stream, context, path)


AddrV2Entry = Struct(
    "time" / Int32ul,
    "services" / CompactSize(),
    "network_id" / Int8ul,
    "address" / AddrV2Address("addrv2.address", limits.MAX_ADDRV2_ADDRESS),
    "port" / Int16ub,
)

#: An inventory vector; unknown types parse (Core ignores them).
InvVect = Struct(
    "type" / Int32ul,
    "hash" / Hash256,
)

BlockHeader = Struct(
    "version" / Int32sl,
    "prev_block" / Hash256,
    "merkle_root" / Hash256,
    "timestamp" / Int32ul,
    "bits" / Int32ul,
    "nonce" / Int32ul,
)

TxIn = Struct(
    "prev_txid" / Hash256,
    "prev_index" / Int32ul,
    "script_sig" / VarBytes("tx.script_sig"),
    "sequence" / Int32ul,
)

TxOut = Struct(
    "value" / Int64sl,  # satoshis
    "script_pubkey" / VarBytes("tx.script_pubkey"),
)

#: One input's witness stack (BIP141): a count of items, each length-prefixed. No cap
#: below consensus: a 100 kB+ item (taproot inscriptions) parses.
WitnessStack = Counted(VarBytes("tx.witness_item"), "tx.witness")


class Transaction(Construct):
    """A transaction, legacy or BIP144 segwit, read exactly as Core's UnserializeTransaction.

    After the version, an empty input vector followed by a non-zero flag byte announces the
    extended form; flag bit 0 means every input carries a witness stack. A witness record
    whose stacks are all empty, or unknown flag bits, are rejected. Parsed transactions keep
    each input's stack as `inputs[i].witness` (empty when absent); building emits the
    segwit form whenever a stack is non-empty, unless built with `include_witness=False`
    (the serialisation a txid hashes).
    """

    _inputs = Counted(TxIn, "tx.inputs")
    _outputs = Counted(TxOut, "tx.outputs")

    def _parse(self, stream, context, path):
        version = Int32sl._parse(stream, context, path)
        inputs = self._inputs._parse(stream, context, path)
        outputs = ListContainer()
        flags = 0
        if not inputs:
            flags = Int8ul._parse(stream, context, path)
            if flags:
                inputs = self._inputs._parse(stream, context, path)
                outputs = self._outputs._parse(stream, context, path)
        else:
            outputs = self._outputs._parse(stream, context, path)
        for tx_input in inputs:
            tx_input.witness = ListContainer()
        if flags & 1:
            flags ^= 1
            for tx_input in inputs:
                tx_input.witness = WitnessStack._parse(stream, context, path)
            if not any(tx_input.witness for tx_input in inputs):
                _reject(InvalidValue("superfluous witness record"))
        if flags:
            _reject(InvalidValue(f"unknown transaction optional data (flags {flags:#04x})"))
        locktime = Int32ul._parse(stream, context, path)
        return Container(version=version, inputs=inputs, outputs=outputs, locktime=locktime)

    def _build(self, obj, stream, context, path):
        inputs = obj["inputs"]
        with_witness = context._params.get("include_witness", True) and any(
            tx_input.get("witness") for tx_input in inputs
        )
        Int32sl._build(obj["version"], stream, context, path)
        if with_witness:
            stream_write(stream, b"\x00\x01", 2, path)  # empty-vector marker, witness flag
        self._inputs._build(inputs, stream, context, path)
        self._outputs._build(obj["outputs"], stream, context, path)
        if with_witness:
            for tx_input in inputs:
                WitnessStack._build(tx_input.get("witness") or [], stream, context, path)
        Int32ul._build(obj["locktime"], stream, context, path)
        return obj


Tx = Transaction()

# ------------------------------------------------------------------------------------
# Messages, in the order of Core's protocol.h. Each docstring-comment names its BIP and
# the protocol version that introduced it.

Empty = Struct()

#: version: the handshake's first message. Fields after `addr_recv` are read only while
#: bytes remain (pre-106 peers stop there; pre-209 before `start_height`; pre-70001 before
#: `relay`, BIP37). Bytes after `relay` belong to future versions: kept, never rejected.
Version = Struct(
    "version" / Int32sl,
    "services" / Int64ul,
    "timestamp" / Int64sl,
    "addr_recv" / NetAddress,
    "addr_from" / IfMore(NetAddress),
    "nonce" / If(lambda context: context.addr_from is not None, Int64ul),  # read with addr_from
    "user_agent" / IfMore(VarStr("version.user_agent", limits.MAX_USER_AGENT)),
    "start_height" / IfMore(Int32sl),
    "relay" / IfMore(StrictBool("version.relay")),
    "extra" / IfMore(GreedyBytes),
)

#: ping/pong: BIP31 (protocol 60001) added the nonce; older pings are empty.
Ping = Struct("nonce" / IfMore(Int64ul))
Pong = Struct("nonce" / Int64ul)

Addr = Struct("addresses" / Counted(TimedNetAddress, "addr.addresses", limits.MAX_ADDR))
#: BIP155 addrv2 (after sendaddrv2, protocol 70016).
AddrV2 = Struct("addresses" / Counted(AddrV2Entry, "addrv2.addresses", limits.MAX_ADDR))

Inv = Struct("inventory" / Counted(InvVect, "inv.inventory", limits.MAX_INV_ENTRIES))
GetData = Struct("inventory" / Counted(InvVect, "getdata.inventory", limits.MAX_INV_ENTRIES))
NotFound = Struct("inventory" / Counted(InvVect, "notfound.inventory", limits.MAX_INV_ENTRIES))

#: getheaders (protocol 31800) and getblocks: a block locator and a stop hash.
GetHeaders = Struct(
    "version" / Int32ul,
    "locator" / Counted(Hash256, "getheaders.locator", limits.MAX_LOCATOR_HASHES),
    "hash_stop" / Hash256,
)
GetBlocks = Struct(
    "version" / Int32ul,
    "locator" / Counted(Hash256, "getblocks.locator", limits.MAX_LOCATOR_HASHES),
    "hash_stop" / Hash256,
)

#: headers: each header is followed by a transaction count that Core reads and ignores.
Headers = Struct(
    "headers" / Counted(
        Struct("header" / BlockHeader, "tx_count" / CappedCompactSize("headers.tx_count")),
        "headers.headers",
        limits.MAX_HEADERS,
    ),
)

Block = Struct(
    "header" / BlockHeader,
    "transactions" / Counted(Tx, "block.transactions"),
)

#: reject: BIP61 (protocol 70002), removed from Core 0.20; `data` is the rejected object's
#: hash for block and tx rejections, else empty.
REJECT_CODES: Mapping[int, str] = MappingProxyType({
    0x01: "REJECT_MALFORMED",
    0x10: "REJECT_INVALID",
    0x11: "REJECT_OBSOLETE",
    0x12: "REJECT_DUPLICATE",
    0x40: "REJECT_NONSTANDARD",
    0x41: "REJECT_DUST",
    0x42: "REJECT_INSUFFICIENTFEE",
    0x43: "REJECT_CHECKPOINT",
})
Reject = Struct(
    "message" / VarStr("reject.message"),
    "ccode" / Int8ul,
    "reason" / VarStr("reject.reason"),
    "data" / GreedyBytes,
)

#: feefilter: BIP133 (protocol 70013), minimum fee rate in satoshis per 1000 vbytes.
FeeFilter = Struct("feerate" / Int64sl)

#: sendcmpct: BIP152 (protocol 70014); version 2 means witness-carrying compact blocks.
SendCmpct = Struct("announce" / StrictBool("sendcmpct.announce"), "version" / Int64ul)

PrefilledTransactions = DifferentialIndexes("cmpctblock.prefilled", Tx, "tx")

#: cmpctblock: BIP152 HeaderAndShortIDs.
CmpctBlock = Struct(
    "header" / BlockHeader,
    "nonce" / Int64ul,
    "short_ids" / Counted(Bytes(SHORTTXIDS_LENGTH), "cmpctblock.short_ids"),
    "prefilled" / PrefilledTransactions,
)

#: getblocktxn: BIP152 BlockTransactionsRequest.
GetBlockTxn = Struct(
    "block_hash" / Hash256,
    "indexes" / DifferentialIndexes("getblocktxn.indexes"),
)

#: blocktxn: BIP152 BlockTransactions.
BlockTxn = Struct(
    "block_hash" / Hash256,
    "transactions" / Counted(Tx, "blocktxn.transactions"),
)

#: merkleblock: BIP37 partial merkle tree of a block's matching transactions.
MerkleBlock = Struct(
    "header" / BlockHeader,
    "total_transactions" / Int32ul,
    "hashes" / Counted(Hash256, "merkleblock.hashes"),
    "flags" / VarBytes("merkleblock.flags"),
)

#: filterload/filteradd/filterclear: BIP37 (protocol 70001).
FilterLoad = Struct(
    "filter" / VarBytes("filterload.filter", limits.MAX_BLOOM_FILTER_SIZE),
    "hash_funcs" / Int32ul,
    "tweak" / Int32ul,
    "flags" / Int8ul,
)
FilterAdd = Struct("data" / VarBytes("filteradd.data", limits.MAX_FILTERADD_SIZE))

#: BIP157 compact block filter messages (protocol 70016 peers with NODE_COMPACT_FILTERS).
GetCFilters = Struct("filter_type" / Int8ul, "start_height" / Int32ul, "stop_hash" / Hash256)
CFilter = Struct(
    "filter_type" / Int8ul,
    "block_hash" / Hash256,
    "filter" / VarBytes("cfilter.filter"),
)
GetCFHeaders = Struct("filter_type" / Int8ul, "start_height" / Int32ul, "stop_hash" / Hash256)
CFHeaders = Struct(
    "filter_type" / Int8ul,
    "stop_hash" / Hash256,
    "previous_filter_header" / Hash256,
    "filter_hashes" / Counted(Hash256, "cfheaders.filter_hashes", limits.MAX_CFHEADERS),
)
GetCFCheckpt = Struct("filter_type" / Int8ul, "stop_hash" / Hash256)
CFCheckpt = Struct(
    "filter_type" / Int8ul,
    "stop_hash" / Hash256,
    "filter_headers" / Counted(Hash256, "cfcheckpt.filter_headers"),
)

#: sendtxrcncl: BIP330 Erlay negotiation, sent before verack.
SendTxRcncl = Struct("version" / Int32ul, "salt" / Int64ul)

#: command -> payload grammar. Its keys are exactly `limits.COMMANDS`.
PAYLOADS: Mapping[str, Construct] = MappingProxyType({
    "version": Version,
    "verack": Empty,
    "ping": Ping,
    "pong": Pong,
    "getaddr": Empty,
    "addr": Addr,
    "addrv2": AddrV2,
    "sendaddrv2": Empty,  # BIP155, before verack
    "inv": Inv,
    "getdata": GetData,
    "notfound": NotFound,
    "getheaders": GetHeaders,
    "getblocks": GetBlocks,
    "headers": Headers,
    "block": Block,
    "tx": Tx,
    "mempool": Empty,  # BIP35
    "reject": Reject,
    "sendheaders": Empty,  # BIP130, protocol 70012
    "feefilter": FeeFilter,
    "sendcmpct": SendCmpct,
    "cmpctblock": CmpctBlock,
    "getblocktxn": GetBlockTxn,
    "blocktxn": BlockTxn,
    "wtxidrelay": Empty,  # BIP339, protocol 70016, before verack
    "merkleblock": MerkleBlock,
    "filterload": FilterLoad,
    "filteradd": FilterAdd,
    "filterclear": Empty,
    "getcfilters": GetCFilters,
    "cfilter": CFilter,
    "getcfheaders": GetCFHeaders,
    "cfheaders": CFHeaders,
    "getcfcheckpt": GetCFCheckpt,
    "cfcheckpt": CFCheckpt,
    "sendtxrcncl": SendTxRcncl,
})

#: The 24-byte header, and the 20-byte one used before protocol 209 (no checksum).
MessageHeader = Struct(
    "magic" / Int32ul,
    "command" / CommandName(),
    "length" / Int32ul,
    "checksum" / Bytes(limits.CHECKSUM_SIZE),
)
LegacyMessageHeader = Struct(
    "magic" / Int32ul,
    "command" / CommandName(),
    "length" / Int32ul,
)

# ------------------------------------------------------------------------------------
# Entry points


def _parse(grammar: Construct, data: bytes, what: str, **params: Any) -> Any:
    stream = io.BytesIO(data)
    try:
        value = grammar.parse_stream(stream, **params)
    except _Rejected as rejected:
        raise rejected.error from None
    except StreamError:
        raise Truncated(f"{what}: data ends early ({len(data)} bytes)") from None
    except ConstructError as error:
        raise InvalidValue(f"{what}: {error}") from None
    rest = len(data) - stream.tell()
    if rest:
        raise TrailingBytes(f"{what}: {rest} bytes after the last field")
    return value


def _build(grammar: Construct, obj: Any, what: str, **params: Any) -> bytes:
    try:
        return grammar.build(obj, **params)
    except _Rejected as rejected:
        raise rejected.error from None
    except (ConstructError, AttributeError, KeyError, TypeError) as error:
        raise InvalidValue(f"cannot build {what}: {error}") from None


def _check_payload_size(command: str, size: int, max_payload: int) -> None:
    cap = limits.max_payload(command, max_payload)
    if size > cap:
        raise OversizedMessage(f"{command} payload", size, cap)


def parse_payload(command: str, payload: bytes, max_payload: int = limits.MAX_MESSAGE_SIZE) -> Any:
    """Decode a bare payload; an unknown command returns the payload bytes unchanged."""
    _check_payload_size(command, len(payload), max_payload)
    grammar = PAYLOADS.get(command)
    if grammar is None:
        return bytes(payload)
    return _parse(grammar, payload, command)


def build_payload(command: str, obj: Any, max_payload: int = limits.MAX_MESSAGE_SIZE) -> bytes:
    """Encode a payload; for an unknown command `obj` must already be the raw bytes."""
    grammar = PAYLOADS.get(command)
    payload = bytes(obj) if grammar is None else _build(grammar, obj, command)
    _check_payload_size(command, len(payload), max_payload)
    return payload


def _double_sha256(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def checksum(payload: bytes) -> bytes:
    """First four bytes of double-SHA256, computed here independently of the wire twins."""
    return _double_sha256(payload)[: limits.CHECKSUM_SIZE]


@dataclass(frozen=True)
class Message:
    """A decoded message. `checksum_ok` is None for the checksum-less legacy header."""

    magic: int
    command: str
    payload: Any
    raw_payload: bytes
    checksum_ok: bool | None

    @property
    def network(self) -> str | None:
        known = BY_MAGIC.get(self.magic)
        return known.name if known else None


def parse_message(
    data: bytes,
    *,
    magic: int | None = None,
    legacy_header: bool = False,
    verify_checksum: bool = True,
    max_payload: int = limits.MAX_MESSAGE_SIZE,
) -> Message:
    """Decode exactly one framed message, checking in Core's order: magic, command, declared
    length against the command's cap (before touching the payload), checksum, payload.

    With `verify_checksum=False` a mismatch is reported in `checksum_ok` instead of raised
    (for tools that show what a peer sent).
    """
    header_grammar = LegacyMessageHeader if legacy_header else MessageHeader
    header_size = limits.LEGACY_HEADER_SIZE if legacy_header else limits.HEADER_SIZE
    header = _parse(header_grammar, bytes(data[:header_size]), "message header")
    if magic is not None and header.magic != magic:
        raise BadMagic(f"magic {header.magic:#010x}, expected {magic:#010x}")
    _check_payload_size(header.command, header.length, max_payload)
    raw_payload = bytes(data[header_size:])
    if len(raw_payload) < header.length:
        raise Truncated(f"{header.command}: {len(raw_payload)} of {header.length} payload bytes")
    if len(raw_payload) > header.length:
        raise TrailingBytes(f"{header.command}: {len(raw_payload) - header.length} bytes after the payload")
    checksum_ok = None
    if not legacy_header:
        checksum_ok = checksum(raw_payload) == header.checksum
        if verify_checksum and not checksum_ok:
            raise BadChecksum(f"{header.command}: checksum {header.checksum.hex()} does not match the payload")
    payload = parse_payload(header.command, raw_payload, max_payload)
    return Message(header.magic, header.command, payload, raw_payload, checksum_ok)


def build_message(
    magic: int,
    command: str,
    payload: Any,
    *,
    legacy_header: bool = False,
    max_payload: int = limits.MAX_MESSAGE_SIZE,
) -> bytes:
    """Frame a payload (a parsed object, or raw bytes for an unknown command)."""
    raw = build_payload(command, payload, max_payload)
    fields = Container(magic=magic, command=command, length=len(raw))
    if legacy_header:
        return _build(LegacyMessageHeader, fields, "message header") + raw
    fields.checksum = checksum(raw)
    return _build(MessageHeader, fields, "message header") + raw


def parse_block(data: bytes) -> Any:
    return parse_payload("block", data)


def parse_tx(data: bytes) -> Any:
    return parse_payload("tx", data)


def serialize_tx(tx: Any, *, include_witness: bool = True) -> bytes:
    """A transaction's bytes; without witness they are what its txid hashes (BIP141)."""
    return _build(Tx, tx, "tx", include_witness=include_witness)


def serialize_header(header: Any) -> bytes:
    """The 80 bytes a block hash is computed over."""
    return _build(BlockHeader, header, "block header")


if __name__ == "__main__":
    # `python -m pantheon.spec HEX|FILE|-`: the field-by-field printer lives with the other tools.
    import sys

    from tools.describe import main

    sys.exit(main())
