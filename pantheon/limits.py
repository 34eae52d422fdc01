"""The one table of wire limits: framing sizes, per-command payload caps, count caps.

`spec.py`, both wire twins and `net/` import these names; nothing retypes a number.
Each cap cites where it comes from (Bitcoin Core unless said otherwise) and none is
stricter than consensus: any valid block or transaction fits.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final, Mapping

from pantheon.chain.script import MAX_SCRIPT_ELEMENT_SIZE
from pantheon.protocol import BLOCK_HEADER_SIZE

# --- framing -------------------------------------------------------------------------
HEADER_SIZE: Final = 24  # magic 4, command 12, length 4, checksum 4
LEGACY_HEADER_SIZE: Final = 20  # before protocol 209: no checksum field
COMMAND_SIZE: Final = 12
CHECKSUM_SIZE: Final = 4

# Core MAX_PROTOCOL_MESSAGE_LENGTH: the default cap on any payload.
MAX_MESSAGE_SIZE: Final = 4_000_000
# Core MAX_SIZE (0x02000000): no configuration may raise a payload cap above it, and
# ReadCompactSize rejects any vector length above it.
MAX_MESSAGE_SIZE_CEILING: Final = 32 * 1024 * 1024
MAX_COMPACT_SIZE_BYTES: Final = 9

# --- per-field count and length caps --------------------------------------------------
MAX_INV_ENTRIES: Final = 50_000  # Core MAX_INV_SZ: inv, getdata, notfound
MAX_HEADERS: Final = 2_000  # Core MAX_HEADERS_RESULTS
MAX_LOCATOR_HASHES: Final = 101  # Core MAX_LOCATOR_SZ; more is a disconnect
MAX_ADDR: Final = 1_000  # Core MAX_ADDR_TO_SEND: addr and addrv2
MAX_USER_AGENT: Final = 256  # Core MAX_SUBVERSION_LENGTH
MAX_ADDRV2_ADDRESS: Final = 512  # BIP155 / Core MAX_ADDRV2_SIZE
MAX_BLOOM_FILTER_SIZE: Final = 36_000  # BIP37 / Core MAX_BLOOM_FILTER_SIZE
MAX_BLOOM_HASH_FUNCS: Final = 50  # BIP37 / Core MAX_HASH_FUNCS (a value check for net/)
MAX_FILTERADD_SIZE: Final = MAX_SCRIPT_ELEMENT_SIZE  # Core checks filteradd data against the push cap
MAX_CFHEADERS: Final = 2_000  # BIP157 MAX_CFHEADERS_RESULTS
MAX_GETCFILTERS: Final = 1_000  # BIP157 / Core MAX_GETCFILTERS_SIZE: filters answered per getcfilters
MAX_BIP152_INDEX: Final = 0xFFFF  # BIP152: differential indexes must fit 16 bits

# BIP155 network ids -> (name, address length). spec.py checks addrv2 lengths against it and
# net/address.py maps the ids to its networks; an id outside the table is carried as opaque
# bytes (up to MAX_ADDRV2_ADDRESS), as the BIP requires.
ADDRV2_NETWORKS: Final[Mapping[int, tuple[str, int]]] = MappingProxyType({
    1: ("IPv4", 4),
    2: ("IPv6", 16),
    3: ("TorV2", 10),  # deprecated; Core still checks the length, then ignores the address
    4: ("TorV3", 32),
    5: ("I2P", 32),
    6: ("CJDNS", 16),
})

# Byte sizes of fixed records, used to derive payload caps below.
_NET_ADDR = 8 + 16 + 2  # services, IPv6 / IPv4-mapped address, port
_INV_VECT = 4 + 32
_HASH = 32


def compact_size_len(value: int) -> int:
    """Bytes a canonical CompactSize takes for `value`."""
    if value < 0xFD:
        return 1
    if value <= 0xFFFF:
        return 3
    if value <= 0xFFFFFFFF:
        return 5
    return 9


_VERSION_FIELDS = (
    4 + 8 + 8 + _NET_ADDR + _NET_ADDR + 8  # version .. nonce
    + compact_size_len(MAX_USER_AGENT) + MAX_USER_AGENT
    + 4 + 1  # start_height, relay
)
# Core reads version fields only while bytes remain and ignores anything after `relay`,
# so room is left for fields a future protocol version appends.
_VERSION_EXTENSION_ROOM = 256

_INV = compact_size_len(MAX_INV_ENTRIES) + MAX_INV_ENTRIES * _INV_VECT

# --- the command table --------------------------------------------------------------
# command -> largest payload accepted, checked against the header's length field before
# any payload byte is read. Messages with no structural bound use MAX_MESSAGE_SIZE.
MAX_PAYLOAD: Final[Mapping[str, int]] = MappingProxyType({
    "version": _VERSION_FIELDS + _VERSION_EXTENSION_ROOM,
    "verack": 0,
    "ping": 8,  # BIP31 nonce (empty before protocol 60000)
    "pong": 8,
    "getaddr": 0,
    "addr": compact_size_len(MAX_ADDR) + MAX_ADDR * (4 + _NET_ADDR),
    "addrv2": compact_size_len(MAX_ADDR) + MAX_ADDR * (
        4 + MAX_COMPACT_SIZE_BYTES + 1 + compact_size_len(MAX_ADDRV2_ADDRESS) + MAX_ADDRV2_ADDRESS + 2
    ),
    "sendaddrv2": 0,
    "inv": _INV,
    "getdata": _INV,
    "notfound": _INV,
    "getheaders": 4 + compact_size_len(MAX_LOCATOR_HASHES) + MAX_LOCATOR_HASHES * _HASH + _HASH,
    "getblocks": 4 + compact_size_len(MAX_LOCATOR_HASHES) + MAX_LOCATOR_HASHES * _HASH + _HASH,
    # Core reads and ignores each entry's tx count, any CompactSize up to MAX_SIZE (5 bytes).
    "headers": compact_size_len(MAX_HEADERS) + MAX_HEADERS * (BLOCK_HEADER_SIZE + 5),
    "block": MAX_MESSAGE_SIZE,
    "tx": MAX_MESSAGE_SIZE,
    "mempool": 0,
    "reject": MAX_MESSAGE_SIZE,  # BIP61, removed from Core 0.20; reasons were never capped on the wire
    "sendheaders": 0,  # BIP130
    "feefilter": 8,  # BIP133
    "sendcmpct": 1 + 8,  # BIP152
    "cmpctblock": MAX_MESSAGE_SIZE,
    "getblocktxn": _HASH + compact_size_len(MAX_BIP152_INDEX + 1) + (MAX_BIP152_INDEX + 1) * 3,
    "blocktxn": MAX_MESSAGE_SIZE,
    "wtxidrelay": 0,  # BIP339
    "merkleblock": MAX_MESSAGE_SIZE,  # BIP37
    "filterload": compact_size_len(MAX_BLOOM_FILTER_SIZE) + MAX_BLOOM_FILTER_SIZE + 4 + 4 + 1,
    "filteradd": compact_size_len(MAX_FILTERADD_SIZE) + MAX_FILTERADD_SIZE,
    "filterclear": 0,
    "getcfilters": 1 + 4 + _HASH,  # BIP157
    "cfilter": MAX_MESSAGE_SIZE,
    "getcfheaders": 1 + 4 + _HASH,
    "cfheaders": 1 + _HASH + _HASH + compact_size_len(MAX_CFHEADERS) + MAX_CFHEADERS * _HASH,
    "getcfcheckpt": 1 + _HASH,
    "cfcheckpt": MAX_MESSAGE_SIZE,
    "sendtxrcncl": 4 + 8,  # BIP330
})

COMMANDS: Final = frozenset(MAX_PAYLOAD)


def max_payload(command: str, default: int = MAX_MESSAGE_SIZE) -> int:
    """The payload cap for `command`; unknown commands get the overall default."""
    return min(MAX_PAYLOAD.get(command, default), default)
