"""Peer addresses: BIP155 networks, the `addr` and `addrv2` wire forms, routability, netgroups.

`PeerAddress` is an address and port on one network (Bitcoin Core's CService); `TimedAddress`
adds the last-seen time and service bits an `addr`/`addrv2` entry carries (Core's CAddress).
Validity, routability and the network class follow Core's CNetAddr (netaddress.cpp);
`netgroup()` is Core's NetGroupManager::GetGroup without an asmap, so the address manager
buckets exactly as Core does. TorV2 (BIP155 id 3, retired by Tor) is never represented: such
addresses are dropped on decode, as Core drops them.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType
from typing import Mapping

from pantheon import limits


class Network(IntEnum):
    """Core's network classes (netaddress.h `enum Network`); the value opens every netgroup."""

    UNROUTABLE = 0
    IPV4 = 1
    IPV6 = 2
    ONION = 3  # Tor v3
    I2P = 4
    CJDNS = 5
    INTERNAL = 6  # a name (e.g. a DNS seed) standing in for an address source; never dialled


_BY_BIP155_NAME = {
    "IPv4": Network.IPV4,
    "IPv6": Network.IPV6,
    "TorV3": Network.ONION,
    "I2P": Network.I2P,
    "CJDNS": Network.CJDNS,
}
#: Network -> BIP155 network id, from the one table in limits.py (TorV2 has no Network).
BIP155_IDS: Mapping[Network, int] = MappingProxyType({
    _BY_BIP155_NAME[name]: network_id
    for network_id, (name, _) in limits.ADDRV2_NETWORKS.items()
    if name in _BY_BIP155_NAME
})
_FROM_BIP155 = {network_id: network for network, network_id in BIP155_IDS.items()}
_INTERNAL_SIZE = 10  # Core ADDR_INTERNAL_SIZE: the first 10 bytes of SHA256(name)
#: Network -> length of its address bytes.
ADDRESS_SIZES: Mapping[Network, int] = MappingProxyType(
    {network: limits.ADDRV2_NETWORKS[network_id][1] for network, network_id in BIP155_IDS.items()}
    | {Network.INTERNAL: _INTERNAL_SIZE}
)

# Prefixes of the 16-byte legacy (`addr`) form that carry something other than IPv6 (Core).
_IPV4_IN_IPV6 = bytes(10) + b"\xff\xff"  # ::ffff:0:0/96, RFC 4291 IPv4-mapped
_TORV2_IN_IPV6 = bytes.fromhex("fd87d87eeb43")  # OnionCat, TorV2: dropped
_INTERNAL_IN_IPV6 = bytes.fromhex("fd6b88c08724")  # Core's internal (name) addresses
_CJDNS_PREFIX = 0xFC  # every CJDNS address starts with this byte
_HE_NET = bytes.fromhex("20010470")  # Hurricane Electric's 2001:470::/32: grouped per /36


def _block(cidr: str) -> tuple[int, int]:
    network = ipaddress.ip_network(cidr)
    return int(network.network_address), int(network.netmask)


def _blocks(**by_network: tuple[tuple[str, str], ...]) -> Mapping[Network, tuple[tuple[str, int, int], ...]]:
    return MappingProxyType({Network[network]: tuple((name, *_block(cidr)) for name, cidr in rows)
                             for network, rows in by_network.items()})


#: Valid addresses that are not publicly routable (Core CNetAddr::IsRoutable / IsLocal).
_NOT_ROUTABLE = _blocks(IPV4=(
    ("RFC1918", "10.0.0.0/8"),  # private networks
    ("RFC1918", "172.16.0.0/12"),
    ("RFC1918", "192.168.0.0/16"),
    ("RFC2544", "198.18.0.0/15"),  # inter-network benchmarking
    ("RFC3927", "169.254.0.0/16"),  # link-local autoconfiguration
    ("RFC6598", "100.64.0.0/10"),  # carrier-grade NAT shared space
    ("RFC5737", "192.0.2.0/24"),  # documentation (TEST-NET-1..3)
    ("RFC5737", "198.51.100.0/24"),
    ("RFC5737", "203.0.113.0/24"),
    ("local", "127.0.0.0/8"),  # RFC 1122 loopback
    ("local", "0.0.0.0/8"),  # RFC 1122 "this network"
), IPV6=(
    ("RFC4862", "fe80::/64"),  # link-local autoconfiguration
    ("RFC4193", "fc00::/7"),  # unique local addresses
    ("RFC4843", "2001:10::/28"),  # ORCHID (deprecated)
    ("RFC7343", "2001:20::/28"),  # ORCHIDv2
    ("local", "::1/128"),  # RFC 4291 loopback
))

#: Addresses that cannot name a host at all (Core CNetAddr::IsValid).
_INVALID = _blocks(IPV4=(
    ("INADDR_ANY", "0.0.0.0/32"),
    ("INADDR_NONE", "255.255.255.255/32"),
), IPV6=(
    ("unspecified", "::/128"),  # RFC 4291
    ("RFC3849", "2001:db8::/32"),  # documentation
))

#: IPv6 forms that embed an IPv4 address (Core GetLinkedIPv4): block, where the IPv4 sits,
#: and whether it is bit-inverted. They are grouped, and bucketed, by that IPv4 /16.
_EMBEDDED_IPV4 = tuple((*_block(cidr), start, inverted) for cidr, start, inverted in (
    ("::ffff:0:0:0/96", 12, False),  # RFC 6145 SIIT IPv4-translated
    ("64:ff9b::/96", 12, False),  # RFC 6052 NAT64 well-known prefix
    ("2002::/16", 2, False),  # RFC 3964 6to4
    ("2001::/32", 12, True),  # RFC 4380 Teredo: the client's address, inverted
))


def _in_blocks(network: Network, raw: bytes, blocks: Mapping[Network, tuple[tuple[str, int, int], ...]]) -> str | None:
    """The name of the first block of `network` holding `raw`, if any."""
    value = int.from_bytes(raw, "big")
    for name, base, mask in blocks.get(network, ()):
        if value & mask == base:
            return name
    return None


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _unb32(text: str) -> bytes:
    return base64.b32decode(text.upper() + "=" * (-len(text) % 8))


def _onion_checksum(pubkey: bytes) -> bytes:
    """Tor rend-spec-v3: SHA3-256(".onion checksum" | PUBKEY | VERSION)[:2], VERSION = 3."""
    return hashlib.sha3_256(b".onion checksum" + pubkey + b"\x03").digest()[:2]


@dataclass(frozen=True, slots=True)
class PeerAddress:
    """An address on one network and a TCP port (Core's CService). Hashable, immutable.

    `raw` is the network's own address bytes: 4 for IPv4, 16 for IPv6 and CJDNS, 32 for Tor
    v3 (the ed25519 key) and I2P (the destination hash), 10 for an internal name hash.
    """

    network: Network
    raw: bytes
    port: int = 0

    def __post_init__(self) -> None:
        size = ADDRESS_SIZES.get(self.network)
        if size is None:
            raise ValueError(f"no address can be on network {self.network!r}")
        if not isinstance(self.raw, bytes) or len(self.raw) != size:
            raise ValueError(f"a {self.network.name} address has {size} bytes, not {self.raw!r}")
        if not 0 <= self.port <= 0xFFFF:
            raise ValueError(f"port {self.port} is outside 0..65535")

    # --- construction -------------------------------------------------------------------

    @classmethod
    def from_legacy(cls, ip: bytes, port: int = 0) -> PeerAddress | None:
        """From the 16-byte `addr`/`version` form; None for a TorV2 address (dropped, as in Core)."""
        if len(ip) != 16:
            raise ValueError(f"a legacy address has 16 bytes, not {len(ip)}")
        if ip.startswith(_IPV4_IN_IPV6):
            return cls(Network.IPV4, ip[12:], port)
        if ip.startswith(_TORV2_IN_IPV6):
            return None
        if ip.startswith(_INTERNAL_IN_IPV6):
            return cls(Network.INTERNAL, ip[6:], port)
        return cls(Network.IPV6, bytes(ip), port)

    @classmethod
    def from_addrv2(cls, network_id: int, raw: bytes, port: int = 0) -> PeerAddress | None:
        """From a BIP155 `addrv2` entry; None for what Core ignores there.

        Ignored: unknown network ids, TorV2, and IPv6 bytes carrying an IPv4-mapped, TorV2 or
        internal prefix (BIP155 gives those their own ids or none). A known id with the wrong
        length is malformed (ValueError).
        """
        network = _FROM_BIP155.get(network_id)
        if network is None:
            return None
        if len(raw) != ADDRESS_SIZES[network]:
            raise ValueError(f"BIP155 {network.name} address with {len(raw)} bytes")
        if network == Network.IPV6 and raw.startswith((_IPV4_IN_IPV6, _TORV2_IN_IPV6, _INTERNAL_IN_IPV6)):
            return None
        return cls(network, bytes(raw), port)

    @classmethod
    def from_ip(cls, ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address, port: int = 0) -> PeerAddress:
        """From an IP address (text or `ipaddress`); IPv4-mapped IPv6 becomes IPv4."""
        parsed = ipaddress.ip_address(ip)
        if parsed.version == 4:
            return cls(Network.IPV4, parsed.packed, port)
        address = cls.from_legacy(parsed.packed, port)
        if address is None:
            raise ValueError(f"{ip} is a TorV2 (OnionCat) address, which is no longer supported")
        return address

    @classmethod
    def parse(cls, host: str, port: int = 0) -> PeerAddress:
        """From a host as Core prints it: an IP literal, a v3 `.onion` or a `.b32.i2p` name."""
        lowered = host.lower()
        if lowered.endswith(".onion"):
            try:
                decoded = _unb32(lowered[: -len(".onion")])
            except ValueError:
                decoded = b""
            pubkey, checksum, version = decoded[:32], decoded[32:34], decoded[34:]
            if len(decoded) != 35 or version != b"\x03" or checksum != _onion_checksum(pubkey):
                raise ValueError(f"{host} is not a valid Tor v3 address")
            return cls(Network.ONION, pubkey, port)
        if lowered.endswith(".b32.i2p"):
            name = lowered[: -len(".b32.i2p")]
            try:
                decoded = _unb32(name) if len(name) == 52 else b""
            except ValueError:
                decoded = b""
            if len(decoded) != 32:
                raise ValueError(f"{host} is not a valid I2P b32 address")
            return cls(Network.I2P, decoded, port)
        return cls.from_ip(host, port)

    @classmethod
    def internal(cls, name: str) -> PeerAddress:
        """Core's stand-in address for a name, e.g. the DNS seed a batch of addresses came from."""
        if not name:
            raise ValueError("an internal address needs a name")
        return cls(Network.INTERNAL, hashlib.sha256(name.encode("utf-8")).digest()[:_INTERNAL_SIZE])

    # --- wire forms -----------------------------------------------------------------------

    @property
    def addrv1_compatible(self) -> bool:
        """Whether the legacy 16-byte form can carry this address (`addr`, `version`)."""
        return self.network in (Network.IPV4, Network.IPV6, Network.INTERNAL)

    def to_legacy(self) -> bytes:
        """The 16-byte `addr` form; ValueError for Tor, I2P and CJDNS (addrv2 only)."""
        if self.network == Network.IPV4:
            return _IPV4_IN_IPV6 + self.raw
        if self.network == Network.IPV6:
            return self.raw
        if self.network == Network.INTERNAL:
            return _INTERNAL_IN_IPV6 + self.raw
        raise ValueError(f"a {self.network.name} address cannot be sent in addr; use addrv2")

    def to_addrv2(self) -> tuple[int, bytes]:
        """The BIP155 (network id, address bytes) pair; ValueError for internal addresses."""
        if self.network not in BIP155_IDS:
            raise ValueError("internal addresses are never sent on the wire")
        return BIP155_IDS[self.network], self.raw

    def service_key(self) -> bytes:
        """Core's CService::GetKey: the address bytes (legacy form where one exists) and the
        big-endian port; what the address manager hashes to place an address."""
        address = self.to_legacy() if self.addrv1_compatible else self.raw
        return address + self.port.to_bytes(2, "big")

    def as_cjdns(self) -> PeerAddress:
        """An fc00::/8 IPv6 address as the CJDNS address it is on a host that reaches CJDNS (Core's
        MaybeFlipIPv6toCJDNS); any other address unchanged."""
        if self.network == Network.IPV6 and self.raw[0] == _CJDNS_PREFIX:
            return PeerAddress(Network.CJDNS, self.raw, self.port)
        return self

    def without_port(self) -> PeerAddress:
        """The bare address (Core's CNetAddr), as sources and bans use it."""
        return PeerAddress(self.network, self.raw) if self.port else self

    # --- classification -------------------------------------------------------------------

    @property
    def is_valid(self) -> bool:
        """Whether the address could name a real host (Core CNetAddr::IsValid)."""
        if self.network == Network.INTERNAL:
            return False
        if self.network == Network.CJDNS:
            return self.raw[0] == _CJDNS_PREFIX
        return _in_blocks(self.network, self.raw, _INVALID) is None

    @property
    def is_local(self) -> bool:
        """Loopback or "this network": 127.0.0.0/8, 0.0.0.0/8, ::1 (Core CNetAddr::IsLocal)."""
        return _in_blocks(self.network, self.raw, _NOT_ROUTABLE) == "local"

    @property
    def is_routable(self) -> bool:
        """Valid and publicly routable (Core CNetAddr::IsRoutable): outside every block above."""
        return self.is_valid and _in_blocks(self.network, self.raw, _NOT_ROUTABLE) is None

    def linked_ipv4(self) -> bytes | None:
        """The IPv4 address a routable IPv4, SIIT, NAT64, 6to4 or Teredo address stands for."""
        return self._embedded_ipv4() if self.is_routable else None

    def _embedded_ipv4(self) -> bytes | None:
        if self.network == Network.IPV4:
            return self.raw
        if self.network == Network.IPV6:
            value = int.from_bytes(self.raw, "big")
            for base, mask, start, inverted in _EMBEDDED_IPV4:
                if value & mask == base:
                    ipv4 = self.raw[start:start + 4]
                    return bytes(byte ^ 0xFF for byte in ipv4) if inverted else ipv4
        return None

    @property
    def net_class(self) -> Network:
        """Core's GetNetClass: INTERNAL, UNROUTABLE, IPV4 for any linked IPv4, else the network."""
        if self.network == Network.INTERNAL:
            return Network.INTERNAL
        if not self.is_routable:
            return Network.UNROUTABLE
        if self._embedded_ipv4() is not None:
            return Network.IPV4
        return self.network

    def netgroup(self) -> bytes:
        """Core's NetGroupManager::GetGroup without asmap: the class byte, then the prefix that
        one operator plausibly controls.

        IPv4 and every embedded IPv4 form: the IPv4 /16. IPv6: /32 (/36 inside he.net). Tor and
        I2P: the first 4 bits; CJDNS: the 4 bits after its constant first byte. Internal: the
        whole name hash. Local and all other unroutable addresses share the one group [0].
        """
        network = self.network
        if network == Network.INTERNAL:
            return bytes([network]) + self.raw
        if not self.is_routable:
            return bytes([Network.UNROUTABLE])
        ipv4 = self._embedded_ipv4()
        if ipv4 is not None:
            return bytes([Network.IPV4]) + ipv4[:2]
        if network in (Network.ONION, Network.I2P):
            return bytes([network, self.raw[0] | 0x0F])
        if network == Network.CJDNS:
            return bytes([network, self.raw[0], self.raw[1] | 0x0F])
        if self.raw.startswith(_HE_NET):
            return bytes([network]) + self.raw[:4] + bytes([self.raw[4] | 0x0F])
        return bytes([network]) + self.raw[:4]

    # --- text -----------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The address as Core prints it, without the port."""
        if self.network == Network.IPV4:
            return str(ipaddress.IPv4Address(self.raw))
        if self.network in (Network.IPV6, Network.CJDNS):
            return str(ipaddress.IPv6Address(self.raw))
        if self.network == Network.ONION:
            return _b32(self.raw + _onion_checksum(self.raw) + b"\x03") + ".onion"
        if self.network == Network.I2P:
            return _b32(self.raw) + ".b32.i2p"
        return _b32(self.raw) + ".internal"

    def __str__(self) -> str:
        if self.network in (Network.IPV6, Network.CJDNS):
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class TimedAddress:
    """An `addr`/`addrv2` entry: an address, when it was last seen (Unix seconds), its services."""

    address: PeerAddress
    time: int
    services: int = 0
