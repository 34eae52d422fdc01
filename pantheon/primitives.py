"""The value types the payload codecs return: one set of plain Python classes for both twins.

As msgpack's `ExtType` serves both its unpackers, these classes are what `pantheon._wire` and
`pantheon._wire_py` both return, so a value decoded by either twin compares equal to the other's
and to one built here by hand. Hashes stay in internal (wire) byte order, as in `spec.py`;
`pantheon.hashing.hash_to_hex` gives the reversed hex that Core's RPC shows.

Small records (`InvVect`, `OutPoint`, `TxIn`, `TxOut`, `NetAddress`, and the records of the
other messages at the end: `Version`, `Locator`, ...) are frozen slotted dataclasses: equality,
hashing and pickling come from their fields, and the constructor checks each field's type and
range (InvalidValue outside it), so anything built can be encoded.

Design: lazy transactions, eager header hashes. A transaction decoder is dominated by object
creation, not by parsing: checking all of a small spend's bytes and making one object costs a
fraction of building its records as well (Tx, TxIn, TxOut, their bytes, ints and tuples, about
ten objects), and hashing its txid costs about as much again (`python -m benchmarks codecs`
measures both). So a decoded `Tx` is one object holding its
serialisation (`bytes`: a bytes payload is kept as is, a tx taken from a block gets its own
copy, so no value pins the block's buffer; those copies are part of the block figure below)
and the one offset that locates everything else, `_wit`, where the BIP144 witness starts (0
for a legacy tx). From those the cheap properties are arithmetic (`size`, `stripped_size`,
`weight`, `vsize`, `has_witness`, `version`, `locktime`); `inputs` and `outputs` are built on
first access and kept; `txid` and `wtxid` are hashed on first access, straight from the raw
pieces (a segwit txid hashes version, inputs and outputs, locktime without copying them
together), and kept. The decoder has already validated the whole structure (counts, caps,
lengths, witness rules), so the lazy steps cannot fail, and a block decodes in about the time
of copying its transactions' bytes; hashing every txid is several times that.

Who does the lazy work is the `_reader` a decoder stores in the Tx: the compiled twin stores its
C reader (OpenSSL hashing, C materialisation), the pure twin and this module's constructors store
`PY_TX_READER` (hashlib, the Python reader below). The classes are shared; each twin's values do
their lazy work with that twin's code, so both are exercised by their own tests.

A `BlockHeader` holds its 80 bytes and its hash, computed when it is made (a header is wanted
for its hash: linking, proof of work) and read as a plain slot; the six fields are unpacked
on first access. `tx_count` is the count a `headers` message carries after each header, which
Core reads and ignores; it is kept so that a headers payload re-encodes byte for byte, and is
not part of equality (a header is its 80 bytes).
"""

from __future__ import annotations

import hashlib
import ipaddress
import operator
import struct
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, ClassVar, Iterable, Mapping

from pantheon import limits
from pantheon.errors import InvalidValue, OversizedMessage
from pantheon.protocol import BLOCK_HEADER_SIZE, SHORTTXIDS_LENGTH

__all__ = [
    "InvVect",
    "OutPoint",
    "TxIn",
    "TxOut",
    "Tx",
    "BlockHeader",
    "Block",
    "NetAddress",
    "PY_TX_READER",
    "Endpoint",
    "Version",
    "SendCmpct",
    "AddrV2Entry",
    "Locator",
    "Reject",
    "FilterLoad",
    "MerkleBlock",
    "SendTxRcncl",
    "PrefilledTx",
    "CmpctBlock",
    "BlockTxnRequest",
    "BlockTxn",
    "CFRequest",
    "CFilter",
    "CFHeaders",
    "CFCheckptRequest",
    "CFCheckpt",
]

_U16_MAX = 0xFFFF
_U32_MAX = 0xFFFF_FFFF
_U64_MAX = 0xFFFF_FFFF_FFFF_FFFF
_I32 = (-(1 << 31), (1 << 31) - 1)
_I64 = (-(1 << 63), (1 << 63) - 1)
_CEILING = limits.MAX_MESSAGE_SIZE_CEILING
_HASH_SIZE = 32
_WITNESS_SCALE = 4  # BIP141: weight = 3 * stripped size + total size

_HEADER = struct.Struct("<i32s32sIII")
_I32LE = struct.Struct("<i")
_U32LE = struct.Struct("<I")
_TXOUT = struct.Struct("<q")
_OUTPOINT = struct.Struct("<32sI")
if _HEADER.size != BLOCK_HEADER_SIZE:  # pragma: no cover - a layout typo would be caught here
    raise RuntimeError("block header layout is not 80 bytes")

_set = object.__setattr__
_sha256 = hashlib.sha256


# --- field checks: the constructors refuse what could not be encoded ----------------------


def _int(name: str, value: Any, low: int, high: int) -> int:
    value = operator.index(value)
    if not low <= value <= high:
        raise InvalidValue(f"{name} out of range: {value}")
    return value


def _bytes(name: str, value: Any, size: int | None = None) -> bytes:
    if type(value) is not bytes:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"{name} must be bytes, not {type(value).__name__}")
        value = bytes(value)
    if size is not None and len(value) != size:
        raise InvalidValue(f"{name} must be {size} bytes, got {len(value)}")
    return value


def _show(value: Any) -> str:
    """repr() that stays evaluable but shows bytes as hex."""
    if isinstance(value, bytes):
        return f"bytes.fromhex('{value.hex()}')" if value else "b''"
    if isinstance(value, tuple):
        inner = ", ".join(_show(item) for item in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


def _record_repr(self: Any) -> str:
    fields = ", ".join(f"{name}={_show(getattr(self, name))}" for name in self.__match_args__)
    return f"{type(self).__name__}({fields})"


def compact_size(value: int) -> bytes:
    """Canonical CompactSize of a count already known to be in range (0 .. 2**64-1)."""
    if value < 0xFD:
        return _SMALL_SIZES[value]
    if value <= _U16_MAX:
        return b"\xfd" + value.to_bytes(2, "little")
    if value <= _U32_MAX:
        return b"\xfe" + value.to_bytes(4, "little")
    return b"\xff" + value.to_bytes(8, "little")


_SMALL_SIZES = tuple(bytes((value,)) for value in range(0xFD))


def _dsha256(data: Any) -> bytes:
    return _sha256(_sha256(data).digest()).digest()


# --- small records ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class InvVect:
    """An inventory vector: an object type (`protocol.INV_TYPE_NAMES`; unknown types are kept) and hash."""

    type: int
    hash: bytes

    def __post_init__(self) -> None:
        _set(self, "type", _int("InvVect.type", self.type, 0, _U32_MAX))
        _set(self, "hash", _bytes("InvVect.hash", self.hash, _HASH_SIZE))

    __repr__ = _record_repr


@dataclass(frozen=True, slots=True, repr=False)
class OutPoint:
    """A transaction output reference: the spending input's `prev_txid` and `prev_index`."""

    txid: bytes
    index: int

    def __post_init__(self) -> None:
        _set(self, "txid", _bytes("OutPoint.txid", self.txid, _HASH_SIZE))
        _set(self, "index", _int("OutPoint.index", self.index, 0, _U32_MAX))

    __repr__ = _record_repr


@dataclass(frozen=True, slots=True, repr=False)
class TxIn:
    """A transaction input, with its BIP141 witness stack (empty when it has none)."""

    prev_txid: bytes
    prev_index: int
    script_sig: bytes = b""
    sequence: int = _U32_MAX
    witness: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        _set(self, "prev_txid", _bytes("TxIn.prev_txid", self.prev_txid, _HASH_SIZE))
        _set(self, "prev_index", _int("TxIn.prev_index", self.prev_index, 0, _U32_MAX))
        _set(self, "script_sig", _bytes("TxIn.script_sig", self.script_sig))
        _set(self, "sequence", _int("TxIn.sequence", self.sequence, 0, _U32_MAX))
        if isinstance(self.witness, (bytes, bytearray, str)):
            raise TypeError("TxIn.witness must be a sequence of bytes items")
        _set(self, "witness", tuple(_bytes("TxIn.witness item", item) for item in self.witness))

    @property
    def outpoint(self) -> OutPoint:
        """The outpoint this input spends, built without OutPoint's checks, which these very
        fields passed when the input was made (a block's connect asks for thousands)."""
        point = object.__new__(OutPoint)
        _set(point, "txid", self.prev_txid)
        _set(point, "index", self.prev_index)
        return point

    __repr__ = _record_repr


@dataclass(frozen=True, slots=True, repr=False)
class TxOut:
    """A transaction output: `value` in satoshis (int64 on the wire) and its locking script."""

    value: int
    script_pubkey: bytes

    def __post_init__(self) -> None:
        _set(self, "value", _int("TxOut.value", self.value, *_I64))
        _set(self, "script_pubkey", _bytes("TxOut.script_pubkey", self.script_pubkey))

    __repr__ = _record_repr


@dataclass(frozen=True, slots=True, repr=False)
class NetAddress:
    """An `addr` entry: last-seen `time`, `services` bits, 16-byte IPv6 / IPv4-mapped `ip`, `port`."""

    time: int
    services: int
    ip: bytes
    port: int

    def __post_init__(self) -> None:
        _set(self, "time", _int("NetAddress.time", self.time, 0, _U32_MAX))
        _set(self, "services", _int("NetAddress.services", self.services, 0, _U64_MAX))
        _set(self, "ip", _bytes("NetAddress.ip", self.ip, 16))
        _set(self, "port", _int("NetAddress.port", self.port, 0, _U16_MAX))

    __repr__ = _record_repr


# --- block header -------------------------------------------------------------------------


def _header_field(index: int, doc: str) -> Any:
    """A read-only field of BlockHeader, unpacked from its 80 bytes on first access."""
    return property(lambda header: header._unpacked()[index], doc=doc)

class BlockHeader:
    """An 80-byte block header; `hash` is its double-SHA256, computed once when it is made.

    Equality and hashing are those of the 80 bytes; `tx_count` (what a `headers` message
    carried after it, 0 elsewhere) is kept only to re-encode that message exactly.
    """

    __slots__ = ("_raw", "hash", "_fields", "tx_count")
    _raw: bytes
    hash: bytes
    _fields: tuple[int, bytes, bytes, int, int, int] | None
    tx_count: int

    def __init__(
        self,
        version: int,
        prev_block: bytes,
        merkle_root: bytes,
        timestamp: int,
        bits: int,
        nonce: int,
        tx_count: int = 0,
    ) -> None:
        fields = (
            _int("BlockHeader.version", version, *_I32),
            _bytes("BlockHeader.prev_block", prev_block, _HASH_SIZE),
            _bytes("BlockHeader.merkle_root", merkle_root, _HASH_SIZE),
            _int("BlockHeader.timestamp", timestamp, 0, _U32_MAX),
            _int("BlockHeader.bits", bits, 0, _U32_MAX),
            _int("BlockHeader.nonce", nonce, 0, _U32_MAX),
        )
        raw = _HEADER.pack(*fields)
        _set(self, "_raw", raw)
        _set(self, "hash", _dsha256(raw))
        _set(self, "_fields", fields)
        _set(self, "tx_count", _int("BlockHeader.tx_count", tx_count, 0, _CEILING))

    @classmethod
    def from_bytes(cls, raw: bytes, tx_count: int = 0) -> BlockHeader:
        """The header serialised in `raw` (exactly 80 bytes)."""
        return cls(*_HEADER.unpack(_bytes("BlockHeader", raw, BLOCK_HEADER_SIZE)), tx_count)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"BlockHeader is immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"BlockHeader is immutable (cannot delete {name!r})")

    def _unpacked(self) -> tuple[int, bytes, bytes, int, int, int]:
        fields = self._fields
        if fields is None:
            fields = _HEADER.unpack(self._raw)
            _set(self, "_fields", fields)
        return fields  # type: ignore[return-value]

    version = _header_field(0, "int32: the block version and its BIP9 signalling bits")
    prev_block = _header_field(1, "the previous block's hash, internal byte order")
    merkle_root = _header_field(2, "the merkle root of the block's txids, internal byte order")
    timestamp = _header_field(3, "uint32: seconds since the epoch, as the miner set it")
    bits = _header_field(4, "uint32: the compact proof-of-work target")
    nonce = _header_field(5, "uint32")

    def serialize(self) -> bytes:
        """The 80 bytes (without `tx_count`)."""
        return self._raw

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BlockHeader):
            return self._raw == other._raw
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        names = ("version", "prev_block", "merkle_root", "timestamp", "bits", "nonce")
        shown = [f"{name}={_show(value)}" for name, value in zip(names, self._unpacked())]
        if self.tx_count:
            shown.append(f"tx_count={self.tx_count}")
        return f"BlockHeader({', '.join(shown)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return BlockHeader, (*self._unpacked(), self.tx_count)

    def __copy__(self) -> BlockHeader:
        return self

    def __deepcopy__(self, memo: Any) -> BlockHeader:
        return self

def header_from_layout(raw: bytes, block_hash: bytes, tx_count: int) -> BlockHeader:
    """A BlockHeader from a decoder that has checked `raw` and hashed it (pure twin's path)."""
    header = object.__new__(BlockHeader)
    _set(header, "_raw", raw)
    _set(header, "hash", block_hash)
    _set(header, "_fields", None)
    _set(header, "tx_count", tx_count)
    return header

# --- transaction --------------------------------------------------------------------------

class Tx:
    """A transaction, legacy or BIP144 segwit (see the module docstring for its lazy layout).

    Built by hand with `Tx(version, inputs, outputs, locktime)`: it is serialised at once, as
    `spec.Transaction` builds it (the segwit form whenever an input has a witness). Equality and
    hashing are those of the serialisation, which covers every field.
    """

    __slots__ = ("_raw", "_wit", "_reader", "_inputs", "_outputs", "_txid", "_wtxid", "legacy_sigops")
    _raw: bytes
    _wit: int
    _reader: Any
    _inputs: tuple[TxIn, ...] | None
    _outputs: tuple[TxOut, ...] | None
    _txid: bytes | None
    _wtxid: bytes | None
    #: Core's GetLegacySigOpCount of this transaction, kept by `chain.validation`'s
    #: `tx_legacy_sigop_count` when it first counts (None until then): a block's checks and its
    #: connect both count, and a block rebuilt from the mempool holds the very transactions the
    #: pool counted when they entered. Not part of equality (it follows from the bytes).
    legacy_sigops: int | None

    def __init__(self, version: int, inputs: Iterable[TxIn], outputs: Iterable[TxOut], locktime: int) -> None:
        inputs = tuple(inputs)
        outputs = tuple(outputs)
        for item in inputs:
            if not isinstance(item, TxIn):
                raise TypeError(f"Tx inputs must be TxIn, not {type(item).__name__}")
        for item in outputs:
            if not isinstance(item, TxOut):
                raise TypeError(f"Tx outputs must be TxOut, not {type(item).__name__}")
        version = _int("Tx.version", version, *_I32)
        locktime = _int("Tx.locktime", locktime, 0, _U32_MAX)
        self._raw, self._wit = _serialize_tx(version, inputs, outputs, locktime)
        self._reader = PY_TX_READER
        self._inputs = inputs
        self._outputs = outputs
        self._txid = None
        self._wtxid = None
        self.legacy_sigops = None

    @property
    def version(self) -> int:
        return _I32LE.unpack_from(self._raw)[0]

    @property
    def locktime(self) -> int:
        raw = self._raw
        return _U32LE.unpack_from(raw, len(raw) - 4)[0]

    @property
    def inputs(self) -> tuple[TxIn, ...]:
        inputs = self._inputs
        if inputs is None:
            inputs, self._outputs = self._reader.parts(self._raw, self._wit)
            self._inputs = inputs
        return inputs

    @property
    def outputs(self) -> tuple[TxOut, ...]:
        outputs = self._outputs
        if outputs is None:
            self._inputs, outputs = self._reader.parts(self._raw, self._wit)
            self._outputs = outputs
        return outputs

    @property
    def txid(self) -> bytes:
        """double-SHA256 of the serialisation without witness (BIP141), internal byte order."""
        txid = self._txid
        if txid is None:
            txid = self._txid = self._reader.txid(self._raw, self._wit)
        return txid

    @property
    def wtxid(self) -> bytes:
        """double-SHA256 of the full serialisation; equal to `txid` without witness."""
        wtxid = self._wtxid
        if wtxid is None:
            wtxid = self._wtxid = self._reader.wtxid(self._raw, self._wit) if self._wit else self.txid
        return wtxid

    @property
    def has_witness(self) -> bool:
        return self._wit != 0

    @property
    def size(self) -> int:
        """Bytes of the full serialisation (with witness)."""
        return len(self._raw)

    @property
    def stripped_size(self) -> int:
        """Bytes without marker, flag and witness: what the txid hashes."""
        # segwit: version 4 + (inputs, outputs: 6.._wit) + locktime 4
        return self._wit + 2 if self._wit else len(self._raw)

    @property
    def weight(self) -> int:
        """BIP141 weight: 3 * stripped size + size. O(1) from the layout, so not cached."""
        return (_WITNESS_SCALE - 1) * self.stripped_size + len(self._raw)

    @property
    def vsize(self) -> int:
        """Virtual size: weight / 4, rounded up."""
        return (self.weight + _WITNESS_SCALE - 1) // _WITNESS_SCALE

    def serialize(self, include_witness: bool = True) -> bytes:
        """The wire bytes; without witness, what the txid hashes (`spec.serialize_tx`)."""
        raw = self._raw
        wit = self._wit
        if include_witness or not wit:
            return raw
        return b"".join((raw[:4], raw[6:wit], raw[-4:]))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Tx):
            return self._raw == other._raw
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return (
            f"Tx(version={self.version}, inputs={_show(self.inputs)}, "
            f"outputs={_show(self.outputs)}, locktime={self.locktime})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return Tx, (self.version, self.inputs, self.outputs, self.locktime)

    def __copy__(self) -> Tx:
        return self

    def __deepcopy__(self, memo: Any) -> Tx:
        return self

def tx_from_layout(raw: bytes, wit: int, reader: Any) -> Tx:
    """A Tx from a decoder that has validated `raw` (the pure twin's path; the compiled twin
    fills the same slots in C)."""
    tx = object.__new__(Tx)
    tx._raw = raw
    tx._wit = wit
    tx._reader = reader
    tx._inputs = None
    tx._outputs = None
    tx._txid = None
    tx._wtxid = None
    tx.legacy_sigops = None
    return tx

def _check_count(field: str, count: int) -> None:
    # spec.Counted / VarBytes with no cap of their own: Core's MAX_SIZE.
    if count > _CEILING:
        raise OversizedMessage(field, count, _CEILING)

def _serialize_tx(version: int, inputs: tuple[TxIn, ...], outputs: tuple[TxOut, ...], locktime: int) -> tuple[bytes, int]:
    """(bytes, witness offset) exactly as spec.Transaction builds them."""
    with_witness = any(item.witness for item in inputs)
    parts = [_I32LE.pack(version), b"\x00\x01" if with_witness else b""]
    _check_count("tx.inputs", len(inputs))
    parts.append(compact_size(len(inputs)))
    for item in inputs:
        _check_count("tx.script_sig", len(item.script_sig))
        parts += (_OUTPOINT.pack(item.prev_txid, item.prev_index), compact_size(len(item.script_sig)),
                  item.script_sig, _U32LE.pack(item.sequence))
    _check_count("tx.outputs", len(outputs))
    parts.append(compact_size(len(outputs)))
    for item in outputs:
        _check_count("tx.script_pubkey", len(item.script_pubkey))
        parts += (_TXOUT.pack(item.value), compact_size(len(item.script_pubkey)), item.script_pubkey)
    wit = 0
    if with_witness:
        wit = sum(map(len, parts))
        for item in inputs:
            _check_count("tx.witness", len(item.witness))
            parts.append(compact_size(len(item.witness)))
            for element in item.witness:
                _check_count("tx.witness_item", len(element))
                parts += (compact_size(len(element)), element)
    parts.append(_U32LE.pack(locktime))
    return b"".join(parts), wit

class _PyTxReader:
    """The pure half of a lazy Tx: hashing with hashlib and building the records in Python.

    `raw` has been validated by a decoder (or built by `Tx`), so nothing here checks it again.
    """

    __slots__ = ()

    @staticmethod
    def txid(raw: bytes, wit: int) -> bytes:
        if not wit:
            return _dsha256(raw)
        first = _sha256(raw[:4])
        with memoryview(raw) as view:
            first.update(view[6:wit])
        first.update(raw[-4:])
        return _sha256(first.digest()).digest()

    @staticmethod
    def wtxid(raw: bytes, wit: int) -> bytes:
        return _dsha256(raw)

    @staticmethod
    def parts(raw: bytes, wit: int) -> tuple[tuple[TxIn, ...], tuple[TxOut, ...]]:
        pos = 6 if wit else 4
        count, pos = _read_trusted_size(raw, pos)
        if not count and not wit:
            return (), ()  # version, empty input vector, flags 0 (Core's empty tx), locktime
        fields = []
        for _ in range(count):
            prev_txid, prev_index = _OUTPOINT.unpack_from(raw, pos)
            size, pos = _read_trusted_size(raw, pos + 36)
            script_end = pos + size
            fields.append([prev_txid, prev_index, raw[pos:script_end], _U32LE.unpack_from(raw, script_end)[0], ()])
            pos = script_end + 4
        count, pos = _read_trusted_size(raw, pos)
        outputs = []
        for _ in range(count):
            (value,) = _TXOUT.unpack_from(raw, pos)
            size, pos = _read_trusted_size(raw, pos + 8)
            outputs.append(TxOut(value, raw[pos : pos + size]))
            pos += size
        if wit:
            for entry in fields:
                items, pos = _read_trusted_size(raw, pos)
                stack = []
                for _ in range(items):
                    size, pos = _read_trusted_size(raw, pos)
                    stack.append(raw[pos : pos + size])
                    pos += size
                entry[4] = tuple(stack)
        return tuple(TxIn(*entry) for entry in fields), tuple(outputs)

def _read_trusted_size(raw: bytes, pos: int) -> tuple[int, int]:
    first = raw[pos]
    if first < 0xFD:
        return first, pos + 1
    width = 1 << (first - 0xFC)  # fd: 2, fe: 4, ff: 8
    return int.from_bytes(raw[pos + 1 : pos + 1 + width], "little"), pos + 1 + width

PY_TX_READER = _PyTxReader()

# --- block --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, repr=False)
class Block:
    """A block: its header and transactions; `hash` is the header's."""

    header: BlockHeader
    transactions: tuple[Tx, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.header, BlockHeader):
            raise TypeError(f"Block.header must be a BlockHeader, not {type(self.header).__name__}")
        transactions = tuple(self.transactions)
        for tx in transactions:
            if not isinstance(tx, Tx):
                raise TypeError(f"Block.transactions must be Tx, not {type(tx).__name__}")
        _set(self, "transactions", transactions)

    @property
    def hash(self) -> bytes:
        return self.header.hash

    __repr__ = _record_repr


# --- the other messages' records ------------------------------------------------------------
# What the codecs of the cold commands (`pantheon._cold_py`) take and give. Each record names the
# kind of each field once, in `_KINDS`; `_Record.__post_init__` checks and stores them, so that,
# as for the records above, a record that can be built can be encoded (a count over its cap is
# the encoder's to refuse, as in the spec).

_Kind = Callable[[str, Any], Any]


def _ranged(low: int, high: int) -> _Kind:
    return lambda name, value: _int(name, value, low, high)


def _sized(size: int) -> _Kind:
    return lambda name, value: _bytes(name, value, size)


def _instance(cls: type) -> _Kind:
    def check(name: str, value: Any) -> Any:
        if not isinstance(value, cls):
            raise TypeError(f"{name} must be {cls.__name__}, not {type(value).__name__}")
        return value

    return check


def _many(kind: _Kind) -> _Kind:
    """A sequence of items of `kind`, stored as a tuple."""

    def check(name: str, values: Any) -> tuple[Any, ...]:
        if isinstance(values, (bytes, bytearray, memoryview, str)):
            raise TypeError(f"{name} must be a sequence of items, not {type(values).__name__}")
        return tuple(kind(f"{name} item", value) for value in values)

    return check


def _optional(kind: _Kind) -> _Kind:
    return lambda name, value: None if value is None else kind(name, value)


_u8, _u16, _u32, _u64 = (_ranged(0, (1 << bits) - 1) for bits in (8, 16, 32, 64))
_i32, _i64 = _ranged(*_I32), _ranged(*_I64)
_raw = _bytes  # any length
_hash = _sized(_HASH_SIZE)
_text, _flag = _instance(str), _instance(bool)


class _Record:
    """Base of the message records: each field checked by its kind in `_KINDS`, the `repr` of
    the records above."""

    __slots__ = ()
    _KINDS: ClassVar[Mapping[str, _Kind]]

    def __post_init__(self) -> None:
        prefix = type(self).__name__
        for name, kind in self._KINDS.items():
            _set(self, name, kind(f"{prefix}.{name}", getattr(self, name)))

    __repr__ = _record_repr


_record = dataclass(frozen=True, slots=True, repr=False)


@_record
class Endpoint(_Record):
    """An address without time, as `version` carries it: services, 16-byte IPv6 or
    IPv4-mapped ip, port."""

    services: int = 0
    ip: bytes = bytes(16)
    port: int = 0
    _KINDS = MappingProxyType({"services": _u64, "ip": _sized(16), "port": _u16})

    @classmethod
    def from_host(cls, host: str, port: int, services: int = 0) -> Endpoint:
        """From a dotted IPv4 or an IPv6 text address (anything else: the unspecified address)."""
        try:
            parsed = ipaddress.ip_address(host)
        except ValueError:
            return cls(services, bytes(16), port)
        if parsed.version == 4:
            parsed = ipaddress.IPv6Address(f"::ffff:{parsed}")
        return cls(services, parsed.packed, port)


_endpoint = _instance(Endpoint)
_VERSION_OPTIONAL = ("nonce", "user_agent", "start_height", "relay", "extra")


@_record
class Version(_Record):
    """A `version` payload. A peer may stop after any field from `addr_from` on (older
    protocols sent fewer), so those are None when absent; `addr_from` and `nonce` come
    together, a field cannot follow an absent one, and `extra` holds the bytes after `relay`
    (fields of a later protocol; empty is absent)."""

    version: int
    services: int
    timestamp: int
    addr_recv: Endpoint
    addr_from: Endpoint | None = None
    nonce: int | None = None
    user_agent: str | None = None
    start_height: int | None = None
    relay: bool | None = None
    extra: bytes | None = None
    _KINDS = MappingProxyType({
        "version": _i32, "services": _u64, "timestamp": _i64, "addr_recv": _endpoint,
        "addr_from": _optional(_endpoint), "nonce": _optional(_u64), "user_agent": _optional(_text),
        "start_height": _optional(_i32), "relay": _optional(_flag), "extra": _optional(_raw),
    })

    def __post_init__(self) -> None:
        _Record.__post_init__(self)
        if self.extra == b"":
            _set(self, "extra", None)
        if (self.addr_from is None) != (self.nonce is None):
            raise InvalidValue("Version.addr_from and Version.nonce come together")
        present = [getattr(self, name) is not None for name in _VERSION_OPTIONAL]
        if present != sorted(present, reverse=True):
            late = _VERSION_OPTIONAL[present.index(True, present.index(False))]
            raise InvalidValue(f"Version.{late} follows an absent field")


@_record
class SendCmpct(_Record):
    """BIP152 `sendcmpct`: whether to announce new blocks as cmpctblock, and the compact block
    version (2: with witnesses)."""

    announce: bool
    version: int
    _KINDS = MappingProxyType({"announce": _flag, "version": _u64})


@_record
class AddrV2Entry(_Record):
    """One BIP155 `addrv2` entry as sent: the network id and its raw address bytes (unknown ids
    kept, so the caller decides what to ignore, as Core does)."""

    time: int
    services: int
    network_id: int
    address: bytes
    port: int
    _KINDS = MappingProxyType({"time": _u32, "services": _u64, "network_id": _u8, "address": _raw, "port": _u16})


@_record
class Locator(_Record):
    """A `getheaders` or `getblocks` request: Core's block locator (newest first) and a stop
    hash (all zeros: as many as the answer allows)."""

    version: int
    hashes: tuple[bytes, ...]
    stop: bytes = bytes(_HASH_SIZE)
    _KINDS = MappingProxyType({"version": _u32, "hashes": _many(_hash), "stop": _hash})


@_record
class Reject(_Record):
    """BIP61 `reject` (removed from Core 0.20): the rejected message's command, a code, a reason,
    and `data`, the rejected block's or transaction's hash (else empty)."""

    message: str
    ccode: int
    reason: str
    data: bytes = b""
    _KINDS = MappingProxyType({"message": _text, "ccode": _u8, "reason": _text, "data": _raw})


@_record
class FilterLoad(_Record):
    """BIP37 `filterload`: a bloom filter, its number of hash functions, tweak and update flags."""

    filter: bytes
    hash_funcs: int
    tweak: int
    flags: int
    _KINDS = MappingProxyType({"filter": _raw, "hash_funcs": _u32, "tweak": _u32, "flags": _u8})


@_record
class MerkleBlock(_Record):
    """BIP37 `merkleblock`: a header and the partial merkle tree of the transactions that matched
    a filter (the block's transaction count, the tree's hashes, its flag bits)."""

    header: BlockHeader
    total_transactions: int
    hashes: tuple[bytes, ...]
    flags: bytes
    _KINDS = MappingProxyType({
        "header": _instance(BlockHeader), "total_transactions": _u32, "hashes": _many(_hash), "flags": _raw,
    })


@_record
class SendTxRcncl(_Record):
    """BIP330 `sendtxrcncl`: the Erlay version a peer offers and its salt."""

    version: int
    salt: int
    _KINDS = MappingProxyType({"version": _u32, "salt": _u64})


_bip152_index = _ranged(0, limits.MAX_BIP152_INDEX)
_tx = _instance(Tx)


@_record
class PrefilledTx(_Record):
    """A transaction a `cmpctblock` carries whole, with its absolute index in the block (the
    wire's differential encoding is the codec's business)."""

    index: int
    tx: Tx
    _KINDS = MappingProxyType({"index": _bip152_index, "tx": _tx})


@_record
class CmpctBlock(_Record):
    """BIP152 `cmpctblock` (Core's HeaderAndShortIDs): the header, the nonce keying the short
    ids, the short ids of the transactions left out, and the transactions sent whole."""

    header: BlockHeader
    nonce: int
    short_ids: tuple[bytes, ...]
    prefilled: tuple[PrefilledTx, ...]
    _KINDS = MappingProxyType({
        "header": _instance(BlockHeader), "nonce": _u64, "short_ids": _many(_sized(SHORTTXIDS_LENGTH)),
        "prefilled": _many(_instance(PrefilledTx)),
    })


@_record
class BlockTxnRequest(_Record):
    """BIP152 `getblocktxn` (Core's BlockTransactionsRequest): a block and the absolute indexes,
    in increasing order, of the transactions wanted from it."""

    block_hash: bytes
    indexes: tuple[int, ...]
    _KINDS = MappingProxyType({"block_hash": _hash, "indexes": _many(_bip152_index)})


@_record
class BlockTxn(_Record):
    """BIP152 `blocktxn` (Core's BlockTransactions): the transactions a getblocktxn asked for."""

    block_hash: bytes
    transactions: tuple[Tx, ...]
    _KINDS = MappingProxyType({"block_hash": _hash, "transactions": _many(_tx)})


@_record
class CFRequest(_Record):
    """BIP157 `getcfilters` or `getcfheaders`: a filter type and the blocks from `start_height`
    up to `stop_hash` whose filters, or filter headers, are wanted."""

    filter_type: int
    start_height: int
    stop_hash: bytes
    _KINDS = MappingProxyType({"filter_type": _u8, "start_height": _u32, "stop_hash": _hash})


@_record
class CFilter(_Record):
    """BIP157 `cfilter`: one block's compact filter (BIP158's encoding, opaque here)."""

    filter_type: int
    block_hash: bytes
    filter: bytes
    _KINDS = MappingProxyType({"filter_type": _u8, "block_hash": _hash, "filter": _raw})


@_record
class CFHeaders(_Record):
    """BIP157 `cfheaders`: the filter header before the range and the hash of each filter in it,
    from which the range's filter headers follow."""

    filter_type: int
    stop_hash: bytes
    previous_filter_header: bytes
    filter_hashes: tuple[bytes, ...]
    _KINDS = MappingProxyType({
        "filter_type": _u8, "stop_hash": _hash, "previous_filter_header": _hash, "filter_hashes": _many(_hash),
    })


@_record
class CFCheckptRequest(_Record):
    """BIP157 `getcfcheckpt`: a filter type and the block up to which checkpoints are wanted."""

    filter_type: int
    stop_hash: bytes
    _KINDS = MappingProxyType({"filter_type": _u8, "stop_hash": _hash})


@_record
class CFCheckpt(_Record):
    """BIP157 `cfcheckpt`: the filter header of every 1,000th block up to `stop_hash`."""

    filter_type: int
    stop_hash: bytes
    filter_headers: tuple[bytes, ...]
    _KINDS = MappingProxyType({"filter_type": _u8, "stop_hash": _hash, "filter_headers": _many(_hash)})
