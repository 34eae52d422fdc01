"""Codecs for the small control messages the peer exchanges: version, ping/pong, feefilter,
sendcmpct, and the empty ones.

The wire core (`pantheon.wire`) has fast codecs only for the heavy payloads. These messages are
rare (a handful per connection), so they are written here with `struct`; `net/` must never
import `construct` or `pantheon.spec` (the hot path never calls the grammar). The tests check
every byte these functions give against `pantheon.spec`, the oracle.

Decoding follows `spec.Version` and Core's reading of `version`: the fields after `addr_recv`
are read only while bytes remain, bytes after `relay` are kept as `extra` (future fields), the
user agent is capped at `limits.MAX_USER_AGENT`, and the relay byte must be 0 or 1. Errors are
the `pantheon.errors` classes the spec raises.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from pantheon import limits
from pantheon.errors import InvalidValue, OversizedMessage, TrailingBytes, Truncated
from pantheon.wire import read_compact_size, write_compact_size

__all__ = [
    "EMPTY_COMMANDS", "Endpoint", "Version",
    "encode_version", "decode_version", "encode_ping", "decode_ping", "encode_pong", "decode_pong",
    "encode_feefilter", "decode_feefilter", "encode_sendcmpct", "decode_sendcmpct",
    "AddrV2Entry", "encode_addrv2", "decode_addrv2", "Locator", "encode_locator", "decode_locator",
]

#: Commands whose payload is empty.
EMPTY_COMMANDS = frozenset({"verack", "getaddr", "mempool", "sendheaders", "wtxidrelay", "sendaddrv2", "filterclear"})

_HEAD = struct.Struct("<iQq")  # version, services, timestamp
_ENDPOINT = struct.Struct("<Q16s")  # services, ip; the port follows in network byte order
_PORT = struct.Struct(">H")
_ENDPOINT_SIZE = _ENDPOINT.size + _PORT.size
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_I32 = struct.Struct("<i")
_IPV4_MAPPED = bytes(10) + b"\xff\xff"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An address without time, as `version` carries it: services, 16-byte IPv6 or
    IPv4-mapped ip, port."""

    services: int = 0
    ip: bytes = bytes(16)
    port: int = 0

    @classmethod
    def from_host(cls, host: str, port: int, services: int = 0) -> Endpoint:
        """From a dotted IPv4 or an IPv6 text address (anything else: the unspecified address)."""
        try:
            parsed = ipaddress.ip_address(host)
        except ValueError:
            return cls(services, bytes(16), port)
        raw = parsed.packed if parsed.version == 6 else _IPV4_MAPPED + parsed.packed
        return cls(services, raw, port)


@dataclass(frozen=True, slots=True)
class Version:
    """A `version` payload. Fields a short (old) version message lacks are None."""

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


def _endpoint(endpoint: Endpoint) -> bytes:
    return _ENDPOINT.pack(endpoint.services, endpoint.ip) + _PORT.pack(endpoint.port)


def encode_version(message: Version) -> bytes:
    """The payload of `message`; optional fields are written up to the first one that is None
    (a later field cannot follow a missing one)."""
    parts = [_HEAD.pack(message.version, message.services, message.timestamp), _endpoint(message.addr_recv)]
    tail = []
    if message.addr_from is not None and message.nonce is not None:
        tail.append(_endpoint(message.addr_from) + _U64.pack(message.nonce))
        if message.user_agent is not None:
            agent = message.user_agent.encode("utf-8")
            if len(agent) > limits.MAX_USER_AGENT:
                raise OversizedMessage("version.user_agent", len(agent), limits.MAX_USER_AGENT)
            tail.append(write_compact_size(len(agent)) + agent)
            if message.start_height is not None:
                tail.append(_I32.pack(message.start_height))
                if message.relay is not None:
                    tail.append(b"\x01" if message.relay else b"\x00")
                    if message.extra:
                        tail.append(message.extra)
    return b"".join(parts + tail)


def _read_endpoint(data: bytes, pos: int) -> tuple[Endpoint, int]:
    if pos + _ENDPOINT_SIZE > len(data):
        raise Truncated(f"version: address cut at {len(data) - pos} of {_ENDPOINT_SIZE} bytes")
    services, ip = _ENDPOINT.unpack_from(data, pos)
    (port,) = _PORT.unpack_from(data, pos + _ENDPOINT.size)
    return Endpoint(services, ip, port), pos + _ENDPOINT_SIZE


def decode_version(data: bytes) -> Version:
    """A `version` payload, read as Core reads it (see the module notes)."""
    if len(data) < _HEAD.size:
        raise Truncated(f"version: {len(data)} bytes, the fixed fields need {_HEAD.size}")
    version, services, timestamp = _HEAD.unpack_from(data)
    addr_recv, pos = _read_endpoint(data, _HEAD.size)
    fields: dict[str, object] = {}
    if pos < len(data):
        fields["addr_from"], pos = _read_endpoint(data, pos)
        if pos + _U64.size > len(data):
            raise Truncated("version: nonce cut short")
        (fields["nonce"],) = _U64.unpack_from(data, pos)
        pos += _U64.size
    if pos < len(data):
        length, pos = read_compact_size(data, pos)
        if length > limits.MAX_USER_AGENT:
            raise OversizedMessage("version.user_agent", length, limits.MAX_USER_AGENT)
        if pos + length > len(data):
            raise Truncated("version: user agent cut short")
        fields["user_agent"] = data[pos : pos + length].decode("utf-8", "replace")
        pos += length
    if pos < len(data):
        if pos + _I32.size > len(data):
            raise Truncated("version: start height cut short")
        (fields["start_height"],) = _I32.unpack_from(data, pos)
        pos += _I32.size
    if pos < len(data):
        relay = data[pos]
        if relay > 1:
            raise InvalidValue(f"version.relay: boolean byte must be 0 or 1, got {relay:#04x}")
        fields["relay"] = bool(relay)
        pos += 1
    if pos < len(data):
        fields["extra"] = data[pos:]
    return Version(version, services, timestamp, addr_recv, **fields)  # type: ignore[arg-type]


def _fixed(command: str, data: bytes, codec: struct.Struct) -> tuple[int, ...]:
    if len(data) < codec.size:
        raise Truncated(f"{command}: {len(data)} of {codec.size} bytes")
    if len(data) > codec.size:  # each of these commands' cap is its size
        raise OversizedMessage(f"{command} payload", len(data), limits.max_payload(command))
    return codec.unpack(data)


def encode_ping(nonce: int) -> bytes:
    return _U64.pack(nonce)


def decode_ping(data: bytes) -> int | None:
    """The nonce, or None for a pre-BIP31 empty ping (answered with no pong)."""
    if not data:
        return None
    return _fixed("ping", data, _U64)[0]


encode_pong = encode_ping


def decode_pong(data: bytes) -> int:
    return _fixed("pong", data, _U64)[0]


def encode_feefilter(fee_rate: int) -> bytes:
    """BIP133: the minimum fee rate, satoshis per 1,000 virtual bytes (signed, as Core's CAmount)."""
    return _I64.pack(fee_rate)


def decode_feefilter(data: bytes) -> int:
    return _fixed("feefilter", data, _I64)[0]


_SENDCMPCT = struct.Struct("<BQ")


def encode_sendcmpct(announce: bool, version: int) -> bytes:
    return _SENDCMPCT.pack(1 if announce else 0, version)


def decode_sendcmpct(data: bytes) -> tuple[bool, int]:
    """(announce, version) of a BIP152 sendcmpct."""
    announce, version = _fixed("sendcmpct", data, _SENDCMPCT)
    if announce > 1:
        raise InvalidValue(f"sendcmpct.announce: boolean byte must be 0 or 1, got {announce:#04x}")
    return bool(announce), version


# --- getheaders / getblocks ----------------------------------------------------------------

_U32 = struct.Struct("<I")
_HASH = 32


@dataclass(frozen=True, slots=True)
class Locator:
    """A getheaders or getblocks request: Core's block locator (newest first) and a stop hash
    (all zeros: as many as the answer allows)."""

    version: int
    hashes: tuple[bytes, ...]
    stop: bytes = bytes(_HASH)


def encode_locator(locator: Locator) -> bytes:
    if len(locator.hashes) > limits.MAX_LOCATOR_HASHES:
        raise OversizedMessage("getheaders.locator", len(locator.hashes), limits.MAX_LOCATOR_HASHES)
    return (_U32.pack(locator.version) + write_compact_size(len(locator.hashes))
            + b"".join(locator.hashes) + locator.stop)


def decode_locator(data: bytes, command: str = "getheaders") -> Locator:
    """A getheaders/getblocks payload; the count is held to MAX_LOCATOR_HASHES before reading."""
    if len(data) < _U32.size + 1:
        raise Truncated(f"{command}: {len(data)} bytes")
    version = _U32.unpack_from(data)[0]
    count, pos = read_compact_size(data, _U32.size)
    if count > limits.MAX_LOCATOR_HASHES:
        raise OversizedMessage(f"{command}.locator", count, limits.MAX_LOCATOR_HASHES)
    end = pos + count * _HASH + _HASH
    if len(data) < end:
        raise Truncated(f"{command}: {len(data)} of {end} bytes")
    if len(data) > end:
        raise TrailingBytes(f"{command}: {len(data) - end} bytes after the stop hash")
    hashes = tuple(data[i:i + _HASH] for i in range(pos, pos + count * _HASH, _HASH))
    return Locator(version, hashes, data[end - _HASH:end])


# --- addrv2 (BIP155) --------------------------------------------------------------------------

_ADDRV2_TIME = struct.Struct("<I")
_ADDRV2_NET = struct.Struct("<B")


@dataclass(frozen=True, slots=True)
class AddrV2Entry:
    """One BIP155 entry as sent: the network id and its raw address bytes (unknown ids kept,
    so the caller decides what to ignore, as Core does)."""

    time: int
    services: int
    network_id: int
    address: bytes
    port: int


def encode_addrv2(entries: list[AddrV2Entry]) -> bytes:
    """An `addrv2` payload; at most `limits.MAX_ADDR` entries."""
    if len(entries) > limits.MAX_ADDR:
        raise OversizedMessage("addrv2.addresses", len(entries), limits.MAX_ADDR)
    parts = [write_compact_size(len(entries))]
    for entry in entries:
        if len(entry.address) > limits.MAX_ADDRV2_ADDRESS:
            raise OversizedMessage("addrv2.address", len(entry.address), limits.MAX_ADDRV2_ADDRESS)
        parts += (_ADDRV2_TIME.pack(entry.time), write_compact_size(entry.services),
                  _ADDRV2_NET.pack(entry.network_id), write_compact_size(len(entry.address)),
                  entry.address, _PORT.pack(entry.port))
    return b"".join(parts)


def decode_addrv2(data: bytes) -> list[AddrV2Entry]:
    """An `addrv2` payload, read as `spec.AddrV2`: a known network id must carry its length."""
    count, pos = read_compact_size(data, 0)
    if count > limits.MAX_ADDR:
        raise OversizedMessage("addrv2.addresses", count, limits.MAX_ADDR)
    entries = []
    for _ in range(count):
        if pos + _ADDRV2_TIME.size > len(data):
            raise Truncated("addrv2: entry time cut short")
        (time_,) = _ADDRV2_TIME.unpack_from(data, pos)
        services, pos = read_compact_size(data, pos + _ADDRV2_TIME.size)
        if pos >= len(data):
            raise Truncated("addrv2: network id cut short")
        network_id = data[pos]
        length, pos = read_compact_size(data, pos + 1)
        if length > limits.MAX_ADDRV2_ADDRESS:
            raise OversizedMessage("addrv2.address", length, limits.MAX_ADDRV2_ADDRESS)
        known = limits.ADDRV2_NETWORKS.get(network_id)
        if known is not None and length != known[1]:
            raise InvalidValue(f"BIP155 {known[0]} address with length {length}, should be {known[1]}")
        if pos + length + _PORT.size > len(data):
            raise Truncated("addrv2: address or port cut short")
        address = bytes(data[pos : pos + length])
        (port,) = _PORT.unpack_from(data, pos + length)
        pos += length + _PORT.size
        entries.append(AddrV2Entry(time_, services, network_id, address, port))
    if pos != len(data):
        raise TrailingBytes(f"addrv2: {len(data) - pos} bytes after the last field")
    return entries
