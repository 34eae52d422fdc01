"""What a peer may do beyond the default, as Bitcoin Core's `-whitelist` grants it
(`net_permissions.h`): a permission set per subnet, for inbound and/or outbound peers.

It only parses and matches; the reactions live where they happen (a noban peer is never punished
for misbehaving nor refused for a ban, in `peer.py` and `manager.py`; relay and forcerelay in the
node's transaction handling; addr in `gossip.py`; mempool for BIP35).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import Enum

__all__ = ["Permission", "WhitelistEntry", "parse_whitelist", "permissions_for", "IMPLICIT_PERMISSIONS"]


class Permission(str, Enum):
    """Core's NetPermissionFlags names."""

    BLOOMFILTER = "bloomfilter"
    NOBAN = "noban"
    FORCERELAY = "forcerelay"
    RELAY = "relay"
    MEMPOOL = "mempool"
    DOWNLOAD = "download"
    ADDR = "addr"


#: What Core grants a whitelisted subnet given without permissions (its "implicit" set).
IMPLICIT_PERMISSIONS = frozenset({Permission.NOBAN, Permission.MEMPOOL, Permission.RELAY, Permission.DOWNLOAD})


@dataclass(frozen=True)
class WhitelistEntry:
    """`-whitelist=[PERMISSIONS@]SUBNET`: `permissions` for peers from `subnet`, inbound (the
    default) and/or outbound (Core 28's `in`/`out` flags)."""

    permissions: frozenset[Permission]
    subnet: ipaddress.IPv4Network | ipaddress.IPv6Network
    inbound: bool = True
    outbound: bool = False

    def covers(self, host: str, inbound: bool) -> bool:
        if (self.inbound if inbound else self.outbound) is False:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return address.version == self.subnet.version and address in self.subnet


def parse_whitelist(text: str) -> WhitelistEntry:
    """Core's -whitelist value; ValueError with Core's wording for a bad one."""
    flags_text, sep, subnet_text = text.strip().rpartition("@")
    try:
        subnet = ipaddress.ip_network(subnet_text, strict=False)
    except ValueError:
        raise ValueError(f"Invalid netmask specified in -whitelist: '{subnet_text}'") from None
    permissions: set[Permission] = set()
    inbound = outbound = False
    for flag in filter(None, flags_text.split(",")) if sep else ():
        if flag == "in":
            inbound = True
        elif flag == "out":
            outbound = True
        elif flag == "all":
            permissions.update(Permission)
        elif flag == "implicit":
            permissions.update(IMPLICIT_PERMISSIONS)
        else:
            try:
                permissions.add(Permission(flag))
            except ValueError:
                raise ValueError(f"Invalid P2P permission: '{flag}'") from None
    if not sep:
        permissions.update(IMPLICIT_PERMISSIONS)
    if Permission.FORCERELAY in permissions:
        permissions.add(Permission.RELAY)  # Core: forcerelay implies relay
    return WhitelistEntry(frozenset(permissions), subnet, inbound or not outbound, outbound)


def permissions_for(whitelist: tuple[WhitelistEntry, ...], host: str, inbound: bool) -> frozenset[Permission]:
    """The union of what every entry covering this peer grants."""
    granted: set[Permission] = set()
    for entry in whitelist:
        if entry.covers(host, inbound):
            granted |= entry.permissions
    return frozenset(granted)
