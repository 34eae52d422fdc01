"""Bans and discouragement, as Bitcoin Core's BanMan keeps them.

A ban covers an IPv4 or IPv6 subnet (a single address is a /32 or /128) until a time. Bans are
kept in the store's `bans` namespace (`b/` in the key schema) and written at once: they are
rare (an operator's command, a misbehaving peer where bans are configured) and must survive a
crash. Expired bans are swept when loading and when listing; `is_banned` ignores them.

Discouragement is Core's softer reaction to misbehaviour: the address may still connect but
is first in line for eviction and is not gossiped. It is kept in memory only, as in Core.
Core uses a rolling Bloom filter of 50,000 entries; here a set of the last 50,000 discouraged
addresses, oldest forgotten first: the same bound, without false positives.

Record: key = u8 IP version (4 or 6) + network address (4 or 16 bytes) + u8 prefix length;
value = u8 format version (1), i64 created, i64 banned until (Unix seconds, big-endian).
A record that does not decode is deleted with a log line; the other bans stand.
"""

from __future__ import annotations

import ipaddress
import logging
import struct
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Union

from pantheon.net.address import Network, PeerAddress
from pantheon.store import Store

log = logging.getLogger("pantheon.net.banlist")

DEFAULT_BAN_TIME = 24 * 60 * 60  # Core DEFAULT_MISBEHAVING_BANTIME
DISCOURAGED_MAX = 50_000  # Core's rolling filter of discouraged addresses holds 50,000

FORMAT_VERSION = 1
_VALUE = struct.Struct(">Bqq")

Subnet = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
IP = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
Target = Union[str, IP, Subnet, PeerAddress]
#: What a ban covers: an IP subnet, or one address off the IP networks (Tor, I2P, CJDNS), as
#: Core's CSubNet holds a single address of those.
Banned = Union[Subnet, PeerAddress]
_OTHER_NETWORK = 0x80  # key family flag: a non-IP address follows, its Network in the low bits


@dataclass(frozen=True, slots=True)
class BanEntry:
    """One ban: `subnet` is banned from `created` until `until` (Unix seconds)."""

    subnet: Banned
    created: int
    until: int

    @property
    def address(self) -> str:
        """As Core's listbanned shows it: a subnet with its prefix length, or a bare name."""
        return self.subnet.host if isinstance(self.subnet, PeerAddress) else str(self.subnet)

    @property
    def order(self) -> tuple[int, bytes, bytes]:
        """Core's CSubNet order (its banmap is a std::map): network, address bytes, netmask."""
        subnet = self.subnet
        if isinstance(subnet, PeerAddress):
            return int(subnet.network), subnet.raw, b""
        family = Network.IPV4 if subnet.version == 4 else Network.IPV6
        return int(family), subnet.network_address.packed, subnet.netmask.packed


def _ip(address: PeerAddress | str | IP) -> IP | None:
    """The IP address of a peer (IPv4-mapped IPv6 as IPv4); None off the IP networks."""
    if not isinstance(address, PeerAddress):
        address = PeerAddress.parse(address) if isinstance(address, str) else PeerAddress.from_ip(address)
    if address.network not in (Network.IPV4, Network.IPV6):
        return None
    return ipaddress.ip_address(address.raw)


def _subnet(target: Target) -> Banned:
    """What a ban covers: host bits of a subnet are cleared, as Core's CSubNet does; an address
    off the IP networks is banned as itself."""
    if isinstance(target, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return target
    if isinstance(target, str) and "/" in target:
        return ipaddress.ip_network(target, strict=False)
    address = target.without_port() if isinstance(target, PeerAddress) else None
    if address is None and isinstance(target, str):
        address = PeerAddress.parse(target)
    ip = _ip(address if address is not None else target)
    if ip is not None:
        return ipaddress.ip_network(ip)
    assert address is not None
    return address


def _key(subnet: Banned) -> bytes:
    if isinstance(subnet, PeerAddress):
        return bytes([_OTHER_NETWORK | subnet.network]) + subnet.raw
    return bytes([subnet.version]) + subnet.network_address.packed + bytes([subnet.prefixlen])


def _decode(key: bytes, value: bytes) -> BanEntry:
    version, created, until = _VALUE.unpack(value)
    if version != FORMAT_VERSION:
        raise ValueError(f"format version {version}")
    if key[0] & _OTHER_NETWORK:
        return BanEntry(PeerAddress(Network(key[0] & ~_OTHER_NETWORK), key[1:]), created, until)
    if key[0] not in (4, 6):
        raise ValueError(f"IP version {key[0]}")
    subnet = ipaddress.ip_network((key[1:-1], key[-1]))  # strict: stored networks are exact
    if subnet.version != key[0]:
        raise ValueError(f"an IPv{key[0]} key holding {subnet}")
    return BanEntry(subnet, created, until)


class BanList:
    """Bans (persisted) and discouragement (in memory) for one node. Greenlet-safe: no call
    yields, and each ban is one small store write."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time,
                 max_discouraged: int = DISCOURAGED_MAX, default_ban_time: int = DEFAULT_BAN_TIME) -> None:
        """`default_ban_time`: a ban's length when none is given (Core's -bantime)."""
        self._store = store
        self.default_ban_time = default_ban_time
        self._view = store.namespace("bans")
        self._clock = clock
        self._bans: dict[Banned, BanEntry] = {}
        # (IP version, prefix length) -> {network bits: entry}: a lookup per prefix length in use.
        self._index: dict[tuple[int, int], dict[int, BanEntry]] = {}
        self._discouraged: OrderedDict[PeerAddress, None] = OrderedDict()
        self._max_discouraged = max_discouraged
        self._load()

    # --- bans -------------------------------------------------------------------------------

    def ban(self, target: Target, until: int | None = None, *, duration: int | None = None) -> BanEntry:
        """Ban an address or subnet until `until`, or for `duration` seconds (the default ban time
        if neither).
        An existing ban of the same subnet is only ever extended. Returns the ban in force."""
        if until is not None and duration is not None:
            raise ValueError("give the ban an end time or a duration, not both")
        subnet = _subnet(target)
        now = self._now()
        end = until if until is not None else now + (self.default_ban_time if duration is None else duration)
        current = self._bans.get(subnet)
        if current is not None and current.until >= end:
            return current
        entry = BanEntry(subnet, now, end)
        self._view.put(_key(subnet), _VALUE.pack(FORMAT_VERSION, entry.created, entry.until))
        self._bans[subnet] = entry
        self._reindex()
        log.info("banned %s until %s", subnet, time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(end)))
        return entry

    def unban(self, target: Target) -> bool:
        """Lift the ban of exactly this address or subnet; False if there was none."""
        subnet = _subnet(target)
        if self._bans.pop(subnet, None) is None:
            return False
        self._view.delete(_key(subnet))
        self._reindex()
        log.info("unbanned %s", subnet)
        return True

    def is_banned(self, address: PeerAddress | str | IP) -> bool:
        """Whether a ban in force covers `address`."""
        now = self._now()
        ip = _ip(address)
        if ip is None:
            entry = self._bans.get(self._peer(address))
            return entry is not None and now < entry.until
        if not self._index:
            return False
        value = int(ip)
        for (version, prefixlen), table in self._index.items():
            if version == ip.version:
                entry = table.get(value >> (ip.max_prefixlen - prefixlen))
                if entry is not None and now < entry.until:
                    return True
        return False

    def list(self) -> list[BanEntry]:
        """The bans in force, in Core's order (`BanEntry.order`); expired ones are swept from
        memory and the store."""
        self._sweep()
        return sorted(self._bans.values(), key=lambda entry: entry.order)

    def clear(self) -> None:
        """Lift every ban."""
        self._store.clear("bans")
        self._bans.clear()
        self._reindex()
        log.info("cleared all bans")

    # --- discouragement ----------------------------------------------------------------------

    def discourage(self, address: PeerAddress | str | IP) -> None:
        """Remember a misbehaving peer's address (any network) among the last `max_discouraged`."""
        key = self._peer(address)
        self._discouraged[key] = None
        self._discouraged.move_to_end(key)
        while len(self._discouraged) > self._max_discouraged:
            self._discouraged.popitem(last=False)

    def is_discouraged(self, address: PeerAddress | str | IP) -> bool:
        return self._peer(address) in self._discouraged

    @property
    def discouraged_count(self) -> int:
        return len(self._discouraged)

    # --- internals ---------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self._clock())

    @staticmethod
    def _peer(address: PeerAddress | str | IP) -> PeerAddress:
        if isinstance(address, PeerAddress):
            return address.without_port()
        return PeerAddress.parse(address) if isinstance(address, str) else PeerAddress.from_ip(address)

    def _reindex(self) -> None:
        index: dict[tuple[int, int], dict[int, BanEntry]] = {}
        for subnet, entry in self._bans.items():
            if isinstance(subnet, PeerAddress):
                continue  # looked up by itself, not by prefix
            bits = int(subnet.network_address) >> (subnet.max_prefixlen - subnet.prefixlen)
            index.setdefault((subnet.version, subnet.prefixlen), {})[bits] = entry
        self._index = index

    def _sweep(self) -> None:
        now = self._now()
        expired = [subnet for subnet, entry in self._bans.items() if entry.until <= now]
        if not expired:
            return
        with self._view.write_batch(transaction=True) as batch:
            for subnet in expired:
                batch.delete(_key(subnet))
                del self._bans[subnet]
        self._reindex()
        log.info("swept %d expired bans", len(expired))

    def _load(self) -> None:
        bad = []
        for key, value in self._view.iterator():
            try:
                entry = _decode(key, value)
            except (ValueError, struct.error, IndexError) as error:
                log.warning("dropping unreadable ban record %s: %s", key.hex(), error)
                bad.append(key)
                continue
            self._bans[entry.subnet] = entry
        for key in bad:
            self._view.delete(key)
        self._reindex()
        self._sweep()
        log.info("loaded %d bans", len(self._bans))
