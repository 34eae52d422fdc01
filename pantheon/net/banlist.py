"""Bans and discouragement, as Bitcoin Core's BanMan keeps them.

A ban covers an IPv4 or IPv6 subnet (a single address is a /32 or /128), or one Tor, I2P or CJDNS
address, until a time. Bans live in Core's `banlist.json` in the network's datadir, in Core's
format, so an operator can carry a ban list between Core and Pantheon:

    {"banned_nets": [{"version": 1, "ban_created": <unix s>, "banned_until": <unix s>,
                      "address": "203.0.113.0/24"}, ...]}

The file is rewritten at once on every change (to a temporary file, fsynced, then renamed over
the old one: a crash leaves the old list or the new one, never half of either); bans are rare and
must survive a crash. A missing file is Core's "Recreating the banlist database": an empty list,
written at once. An unreadable one is moved aside to `banlist.json.unreadable-<UTC time>` (never
deleted) and likewise recreated; an unreadable entry is dropped with a log line, the others stand.
Bans kept by older versions in the store's `b/` namespace are moved into the file on first load.
Expired bans are swept when loading and when listing; `is_banned` ignores them.

Discouragement is Core's softer reaction to misbehaviour: the address may still connect but
is first in line for eviction and is not gossiped. It is kept in memory only, as in Core.
Core uses a rolling Bloom filter of 50,000 entries; here a set of the last 50,000 discouraged
addresses, oldest forgotten first: the same bound, without false positives.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import struct
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Union

from pantheon.net.address import Network, PeerAddress
from pantheon.store import Store

log = logging.getLogger("pantheon.net.banlist")

DEFAULT_BAN_TIME = 24 * 60 * 60  # Core DEFAULT_MISBEHAVING_BANTIME
DISCOURAGED_MAX = 50_000  # Core's rolling filter of discouraged addresses holds 50,000
BANLIST_FILENAME = "banlist.json"

ENTRY_VERSION = 1  # Core's CBanEntry::CURRENT_VERSION
_STORED_VALUE = struct.Struct(">Bqq")  # an older version's `b/` record: version, created, until

Subnet = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
IP = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
Target = Union[str, IP, Subnet, PeerAddress]
#: What a ban covers: an IP subnet, or one address off the IP networks (Tor, I2P, CJDNS), as
#: Core's CSubNet holds a single address of those.
Banned = Union[Subnet, PeerAddress]
_OTHER_NETWORK = 0x80  # stored key family flag: a non-IP address follows, its Network in the low bits


class UnreadableBanList(ValueError):
    """banlist.json is not Core's format (not JSON, or no "banned_nets" list)."""


@dataclass(frozen=True, slots=True)
class BanEntry:
    """One ban: `subnet` is banned from `created` until `until` (Unix seconds)."""

    subnet: Banned
    created: int
    until: int

    @property
    def address(self) -> str:
        """As Core's listbanned and banlist.json show it: a subnet with its prefix length, or a
        bare name."""
        return self.subnet.host if isinstance(self.subnet, PeerAddress) else str(self.subnet)

    @property
    def order(self) -> tuple[int, bytes, bytes]:
        """Core's CSubNet order (its banmap is a std::map): network, address bytes, netmask."""
        subnet = self.subnet
        if isinstance(subnet, PeerAddress):
            return int(subnet.network), subnet.raw, b""
        family = Network.IPV4 if subnet.version == 4 else Network.IPV6
        return int(family), subnet.network_address.packed, subnet.netmask.packed

    def to_json(self) -> dict[str, Any]:
        """One element of banlist.json's "banned_nets", keys in Core's order."""
        return {"version": ENTRY_VERSION, "ban_created": self.created, "banned_until": self.until,
                "address": self.address}

    @classmethod
    def from_json(cls, item: Any) -> BanEntry:
        """Raises ValueError (naming what is wrong) for anything Core would drop."""
        if not isinstance(item, dict):
            raise ValueError("not an object")
        if item.get("version") != ENTRY_VERSION:
            raise ValueError(f"unknown version ({item.get('version')!r})")
        created, until, address = item.get("ban_created"), item.get("banned_until"), item.get("address")
        if not all(isinstance(value, int) and not isinstance(value, bool) for value in (created, until)):
            raise ValueError("ban_created and banned_until must be integers")
        if not isinstance(address, str):
            raise ValueError("unparseable address or subnet")
        try:
            return cls(_subnet(address), created, until)
        except ValueError:
            raise ValueError(f"unparseable address or subnet ({address})") from None


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


def _decode_stored(key: bytes, value: bytes) -> BanEntry:
    """An older version's `b/` record: key = family (4, 6, or 0x80|network) + address (+ prefix
    length for IP); value = format version 1, i64 created, i64 until (big-endian)."""
    version, created, until = _STORED_VALUE.unpack(value)
    if version != ENTRY_VERSION:
        raise ValueError(f"format version {version}")
    if key[0] & _OTHER_NETWORK:
        return BanEntry(PeerAddress(Network(key[0] & ~_OTHER_NETWORK), key[1:]), created, until)
    if key[0] not in (4, 6):
        raise ValueError(f"IP version {key[0]}")
    subnet = ipaddress.ip_network((key[1:-1], key[-1]))  # strict: stored networks are exact
    if subnet.version != key[0]:
        raise ValueError(f"an IPv{key[0]} key holding {subnet}")
    return BanEntry(subnet, created, until)


def read_banlist_file(path: Path) -> list[BanEntry]:
    """The entries of a banlist.json; FileNotFoundError if there is none, UnreadableBanList if
    it is not Core's format. Unreadable entries are dropped with a log line, as Core does."""
    try:
        document = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UnreadableBanList(f"{path}: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("banned_nets"), list):
        raise UnreadableBanList(f'{path}: no "banned_nets" list')
    entries = []
    for item in document["banned_nets"]:
        try:
            entries.append(BanEntry.from_json(item))
        except ValueError as error:
            log.warning("Dropping entry with %s from ban list", error)
    return entries


def write_banlist_file(path: Path, entries: list[BanEntry]) -> None:
    """Replace banlist.json atomically: a temporary file, fsynced, renamed over the old one."""
    temporary = path.with_name(path.name + ".new")
    text = json.dumps({"banned_nets": [entry.to_json() for entry in entries]}, indent=4) + "\n"
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


class BanList:
    """Bans (in `banlist.json` under `path`'s directory, or in memory with `path=None`) and
    discouragement (in memory) for one node. Greenlet-safe: no call yields."""

    def __init__(self, path: Path | None, *, clock: Callable[[], float] = time.time,
                 max_discouraged: int = DISCOURAGED_MAX, default_ban_time: int = DEFAULT_BAN_TIME,
                 legacy_store: Store | None = None) -> None:
        """`path`: the banlist.json to keep; `default_ban_time`: a ban's length when none is given
        (Core's -bantime); `legacy_store`: a store whose `b/` bans (an older version's) move into
        the file."""
        self.path = path
        self.default_ban_time = default_ban_time
        self._clock = clock
        self._bans: dict[Banned, BanEntry] = {}
        # (IP version, prefix length) -> {network bits: entry}: a lookup per prefix length in use.
        self._index: dict[tuple[int, int], dict[int, BanEntry]] = {}
        self._discouraged: OrderedDict[PeerAddress, None] = OrderedDict()
        self._max_discouraged = max_discouraged
        self._load(legacy_store)

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
        self._bans[subnet] = entry
        self._changed()
        log.info("banned %s until %s", subnet, time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(end)))
        return entry

    def unban(self, target: Target) -> bool:
        """Lift the ban of exactly this address or subnet; False if there was none."""
        subnet = _subnet(target)
        if self._bans.pop(subnet, None) is None:
            return False
        self._changed()
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
        memory and the file."""
        self._sweep()
        return sorted(self._bans.values(), key=lambda entry: entry.order)

    def clear(self) -> None:
        """Lift every ban."""
        self._bans.clear()
        self._changed()
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

    def _changed(self) -> None:
        """Rebuild the lookup index and write the file."""
        index: dict[tuple[int, int], dict[int, BanEntry]] = {}
        for subnet, entry in self._bans.items():
            if isinstance(subnet, PeerAddress):
                continue  # looked up by itself, not by prefix
            bits = int(subnet.network_address) >> (subnet.max_prefixlen - subnet.prefixlen)
            index.setdefault((subnet.version, subnet.prefixlen), {})[bits] = entry
        self._index = index
        if self.path is not None:
            write_banlist_file(self.path, sorted(self._bans.values(), key=lambda entry: entry.order))

    def _sweep(self) -> None:
        now = self._now()
        expired = [subnet for subnet, entry in self._bans.items() if entry.until <= now]
        if not expired:
            return
        for subnet in expired:
            del self._bans[subnet]
        self._changed()
        log.info("swept %d expired bans", len(expired))

    def _load(self, legacy_store: Store | None) -> None:
        started = time.monotonic()
        entries = self._read_file()
        moved = self._read_stored_bans(legacy_store) if legacy_store is not None else []
        for entry in entries + moved:
            current = self._bans.get(entry.subnet)
            if current is None or current.until < entry.until:
                self._bans[entry.subnet] = entry
        self._changed()  # writes the file: recreated, or with the moved bans
        if legacy_store is not None:
            legacy_store.clear("bans")  # only once the file holds them
        self._sweep()
        log.debug("Loaded %d banned node addresses/subnets  %dms", len(self._bans),
                  (time.monotonic() - started) * 1000)

    def _read_file(self) -> list[BanEntry]:
        if self.path is None:
            return []
        try:
            return read_banlist_file(self.path)
        except FileNotFoundError:
            pass
        except (OSError, UnreadableBanList) as error:
            aside = self.path.with_name(f"{self.path.name}.unreadable-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
            log.warning("Cannot load banlist %s: %s; kept as %s", self.path, error, aside.name)
            os.replace(self.path, aside)
        log.info("Recreating the banlist database")
        return []

    @staticmethod
    def _read_stored_bans(store: Store) -> list[BanEntry]:
        """The `b/` bans an older version kept in the store."""
        view = store.namespace("bans")
        entries = []
        for key, value in view.iterator():
            try:
                entries.append(_decode_stored(key, value))
            except (ValueError, struct.error, IndexError) as error:
                log.warning("dropping unreadable stored ban record %s: %s", key.hex(), error)
        if entries:
            log.info("moving %d bans from the store into %s", len(entries), BANLIST_FILENAME)
        return entries
