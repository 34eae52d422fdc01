"""Core's network RPCs (`rpc/net.cpp`): peers, connections, bans."""

from __future__ import annotations

import ipaddress
from typing import Any

from pantheon.chain.validation import COIN
from pantheon.net.address import Network, PeerAddress, TimedAddress
from pantheon.net.addrman import AddressInfo
from pantheon.net.manager import CONNECTION_TYPES
from pantheon.net.peer import Peer, PeerState
from pantheon.protocol import FULL_RELAY_SERVICES, PROTOCOL_VERSION, service_names
from pantheon.relay import relays_txs
from pantheon.rpc.arguments import check_types, endpoint_arg, hex_arg, int_arg
from pantheon.rpc.errors import (
    RPC_CLIENT_INVALID_IP_OR_SUBNET,
    RPC_CLIENT_NODE_ALREADY_ADDED,
    RPC_CLIENT_NODE_CAPACITY_REACHED,
    RPC_CLIENT_NODE_NOT_ADDED,
    RPC_CLIENT_NODE_NOT_CONNECTED,
    RPC_INVALID_PARAMETER,
    RPC_INVALID_PARAMS,
    RPC_MISC_ERROR,
    RpcError,
)
from pantheon.rpc.registry import HIDDEN, RpcGroup, rpc_method
from pantheon.rpc.results import amount, warnings

__all__ = ["NetworkRpc", "RPC_INTERFACE_VERSION"]

#: getnetworkinfo's `version`: the Core release whose RPC interface Pantheon follows (Core 31.0),
#: in Core's layout 10000*major + 100*minor + patch. Clients gate features on it (ElectrumX 2.0
#: refuses a node below 310000); Pantheon's own release is in `subversion` (its user agent).
RPC_INTERFACE_VERSION = 31 * 10000


class NetworkRpc(RpcGroup):
    category = "network"

    @rpc_method
    def getpeerinfo(self) -> list[dict[str, Any]]:
        """One object per open connection, with Core's fields: among them `network`, the network
        the peer came through (ipv4, ipv6, onion, i2p, cjdns, not_publicly_routable)."""
        return [self._peer_json(peer) for peer in self.node.peers()]

    @rpc_method
    def getnettotals(self) -> dict[str, Any]:
        """Bytes received and sent over every connection since the node started. Pantheon sets
        no upload target (Core's -maxuploadtarget), so that part reports none."""
        totals = self.node.net_totals()
        return {"totalbytesrecv": totals.received, "totalbytessent": totals.sent,
                "timemillis": int(self.node.clock() * 1000),
                "uploadtarget": {"timeframe": 86400, "target": 0, "target_reached": False,
                                 "serve_historical_blocks": True, "bytes_left_in_cycle": 0,
                                 "time_left_in_cycle": 0}}

    @rpc_method
    def getconnectioncount(self) -> int:
        """The number of connected peers."""
        return len(self.node.peers(PeerState.CONNECTED))

    @rpc_method
    def getnetworkinfo(self) -> dict[str, Any]:
        """The node's version, services, connections and relay fee, and whether each network
        (ipv4, ipv6, onion, i2p, cjdns) is reachable."""
        node = self.node
        peers = node.peers(PeerState.CONNECTED)
        inbound = sum(1 for peer in peers if peer.inbound)
        services = node.local_services
        reachable = node.manager.gossip.config.reachable if node.manager.gossip is not None else frozenset()
        return {
            "version": RPC_INTERFACE_VERSION, "subversion": node.user_agent,
            "protocolversion": PROTOCOL_VERSION, "localservices": f"{services:016x}",
            "localservicesnames": service_names(services), "localrelay": not node.config.blocksonly, "timeoffset": 0,
            "networkactive": node.manager.network_active, "connections": len(peers), "connections_in": inbound,
            "connections_out": len(peers) - inbound,
            "networks": [{"name": name, "limited": network not in reachable, "reachable": network in reachable,
                          "proxy": "", "proxy_randomize_credentials": False} for network, name in _NETWORK_NAMES.items()],
            "relayfee": amount(node.mempool.min_relay_fee), "incrementalfee": amount(node.mempool.incremental_relay_fee),
            "localaddresses": [], "warnings": warnings(node),
        }

    @rpc_method
    def addnode(self, node: Any, command: Any, v2transport: Any = None) -> None:
        """add: keep a connection to the peer; remove: stop keeping it; onetry: dial it once.
        `v2transport`: try BIP324 first (default: as -v2transport says)."""
        if command not in ("add", "remove", "onetry"):
            raise RpcError(RPC_MISC_ERROR, _ADDNODE_HELP)
        text = str(node).strip()
        if not text:
            raise RpcError(RPC_INVALID_PARAMETER, "Error: Node address cannot be empty")
        if v2transport and not self.node.config.v2transport:
            raise RpcError(RPC_INVALID_PARAMETER, "Error: v2transport requested but not enabled (see -v2transport)")
        v2 = None if v2transport is None else bool(v2transport)
        if command == "onetry":
            self.node.add_peer(*endpoint_arg(text, self.node.network.p2p_port), v2=v2)
        elif command == "add":
            endpoint_arg(text, self.node.network.p2p_port)
            if not self.node.add_node(text, v2):
                raise RpcError(RPC_CLIENT_NODE_ALREADY_ADDED, "Error: Node already added")
        elif not self.node.remove_node(text):
            raise RpcError(RPC_CLIENT_NODE_NOT_ADDED,
                           "Error: Node could not be removed. It has not been added previously.")

    @rpc_method
    def getaddednodeinfo(self, node: Any = None) -> list[dict[str, Any]]:
        """The peers added with addnode (or only `node`), whether each is connected, and how."""
        added = self.node.added_nodes
        if node is not None:
            added = [entry for entry in added if entry.text == node]
            if not added:
                raise RpcError(RPC_CLIENT_NODE_NOT_ADDED, "Error: Node has not been added.")
        connected = {peer.address: peer for peer in self.node.peers(PeerState.CONNECTED) if not peer.inbound}
        result = []
        for entry in added:
            peer = connected.get(entry.endpoint)
            result.append({"addednode": entry.text, "connected": peer is not None,
                           "addresses": [] if peer is None else [{"address": _endpoint_text(peer.address),
                                                                  "connected": "outbound"}]})
        return result

    @rpc_method
    def setnetworkactive(self, state: Any) -> bool:
        """Switch all network activity on or off (off closes every connection); returns `state`."""
        check_types(("state", state, "bool"))
        self.node.manager.set_network_active(state)
        return state

    @rpc_method(category=HIDDEN)
    def sendmsgtopeer(self, peer_id: Any, msg_type: Any, msg: Any) -> dict[str, Any]:
        """Send a raw message of any type (at most 12 characters) and payload (hex) to a peer,
        unchecked, for tests."""
        check_types(("peer_id", peer_id, "number"), ("msg_type", msg_type, "string"), ("msg", msg, "string"))
        if len(msg_type) > 12:
            raise RpcError(RPC_INVALID_PARAMETER, "Error: msg_type too long, max length is 12")
        payload = hex_arg(msg)
        if payload is None:
            raise RpcError(RPC_INVALID_PARAMETER, "Error parsing input for msg")
        peer = next((peer for peer in self.node.peers(PeerState.CONNECTED) if peer.id == peer_id), None)
        if peer is None or not peer.send(msg_type, payload):
            raise RpcError(RPC_MISC_ERROR, "Error: Could not send message to peer")
        return {}

    @rpc_method(regtest_only=True, category=HIDDEN)
    def addconnection(self, address: Any, connection_type: Any, v2transport: Any = False) -> dict[str, str]:
        """Open an outbound connection of one of Core's types, for tests: outbound-full-relay,
        block-relay-only, addr-fetch or feeler."""
        if connection_type not in CONNECTION_TYPES or connection_type in ("manual", "inbound"):
            raise RpcError(RPC_INVALID_PARAMETER, "addconnection \"address\" \"connection_type\" ( v2transport ): "
                           "connection_type must be outbound-full-relay, block-relay-only, addr-fetch or feeler")
        if v2transport and not self.node.config.v2transport:
            raise RpcError(RPC_INVALID_PARAMETER, "Error: Adding v2transport connections requires -v2transport "
                           "init flag to be set.")
        host, port = endpoint_arg(address, self.node.network.p2p_port)
        if self.node.add_peer(host, port, connection_type, bool(v2transport)) is None:
            raise RpcError(RPC_CLIENT_NODE_CAPACITY_REACHED, "Error: Already at capacity for specified connection type.")
        return {"address": str(address), "connection_type": connection_type}

    @rpc_method
    def disconnectnode(self, address: Any = None, nodeid: Any = None) -> None:
        """Disconnect the peer at `address` or with id `nodeid` (one of them)."""
        by_address = address is not None and nodeid is None
        by_id = nodeid is not None and address in (None, "")
        if not (by_address or by_id):
            raise RpcError(RPC_INVALID_PARAMS, "Only one of address and nodeid should be provided.")
        p2p_port = self.node.network.p2p_port
        for peer in self.node.peers():
            if (nodeid is not None and peer.id == nodeid) or (
                    address and f"{peer.address[0]}:{peer.address[1]}" in (address, f"{address}:{p2p_port}")):
                peer.close("disconnectnode RPC")
                return
        raise RpcError(RPC_CLIENT_NODE_NOT_CONNECTED, "Node not found in connected nodes")

    @rpc_method
    def setban(self, subnet: Any, command: Any, bantime: Any = 0, absolute: Any = False) -> None:
        """add: ban an address or subnet (for `bantime` seconds, or until that time if `absolute`)
        and disconnect its peers; remove: lift a ban."""
        node = self.node
        target = _ban_target(subnet)
        if command == "add":
            # Core: a subnet is banned only by itself, one address by any ban covering it.
            already = (any(entry.subnet == target for entry in node.bans()) if "/" in str(subnet)
                       else node.is_banned(str(subnet)))
            if already:
                raise RpcError(RPC_CLIENT_NODE_ALREADY_ADDED, "Error: IP/Subnet already banned")
            bantime = int_arg(bantime, "bantime")
            if absolute:
                if bantime <= node.clock():
                    raise RpcError(RPC_INVALID_PARAMETER, "Error: Absolute timestamp is in the past")
                node.ban(target, until=bantime)
            else:
                node.ban(target, duration=bantime or None)
        elif command == "remove":
            if not node.unban(target):
                raise RpcError(RPC_CLIENT_INVALID_IP_OR_SUBNET, "Error: Unban failed. Requested address/subnet was not previously manually banned.")
        else:
            raise RpcError(RPC_INVALID_PARAMETER, f"setban command must be add or remove, not {command!r}")

    @rpc_method
    def listbanned(self) -> list[dict[str, Any]]:
        """Every ban, with when it was made and when it ends."""
        now = int(self.node.clock())
        return [{"address": entry.address, "ban_created": entry.created, "banned_until": entry.until,
                 "ban_duration": entry.until - entry.created, "time_remaining": max(entry.until - now, 0)}
                for entry in self.node.bans()]

    @rpc_method
    def clearbanned(self) -> None:
        """Lift every ban."""
        self.node.clear_bans()

    @rpc_method(category=HIDDEN)
    def addpeeraddress(self, address: Any, port: Any, tried: Any = None) -> dict[str, Any]:
        """Add an address to the address manager, heard from itself, now, with services
        NETWORK|WITNESS; with `tried`, then mark it connected (moved to tried), for tests.
        Returns {"success": bool} and, on failure, "error": failed-adding-to-new or -tried."""
        check_types(("address", address, "string"), ("port", port, "number"), ("tried", tried, "bool"))
        port = int_arg(port, "port")
        if not 0 <= port <= 0xFFFF:
            raise RpcError(RPC_MISC_ERROR, "JSON integer out of range")
        try:
            parsed = self._lookup_host(address)
        except ValueError:
            raise RpcError(RPC_CLIENT_INVALID_IP_OR_SUBNET, "Invalid IP address") from None
        peer_address = PeerAddress(parsed.network, parsed.raw, port)
        addrman = self.node.addrman
        offer = TimedAddress(peer_address, int(self.node.clock()), FULL_RELAY_SERVICES)
        if not addrman.add([offer], parsed):
            return {"success": False, "error": "failed-adding-to-new"}
        if tried and not addrman.good(peer_address):
            return {"success": False, "error": "failed-adding-to-tried"}
        return {"success": True}

    @rpc_method
    def getnodeaddresses(self, count: Any = None, network: Any = None) -> list[dict[str, Any]]:
        """Up to `count` (default 1; 0: all) known addresses, shuffled, optionally of one network
        (ipv4, ipv6, onion, i2p, cjdns), with when each was last seen and its services."""
        count = 1 if count is None else int_arg(count, "count")
        if count < 0:
            raise RpcError(RPC_INVALID_PARAMETER, "Address count out of range")
        wanted = None
        if network is not None:
            wanted = _NETWORKS_BY_NAME.get(str(network).lower())
            if wanted is None:
                raise RpcError(RPC_INVALID_PARAMETER, f"Network not recognized: {network}")
        return [{"time": entry.time, "services": entry.services, "address": entry.address.host,
                 "port": entry.address.port, "network": _NETWORK_NAMES[entry.address.net_class]}
                for entry in self.node.node_addresses(count, wanted)]

    @rpc_method
    def getaddrmaninfo(self) -> dict[str, dict[str, int]]:
        """How many addresses the address manager holds in its new and tried tables, per network
        (ipv4, ipv6, onion, i2p, cjdns) and in all."""
        addrman = self.node.addrman
        counts = {name: {"new": addrman.size(network, True), "tried": addrman.size(network, False),
                         "total": addrman.size(network)} for network, name in _NETWORK_NAMES.items()}
        counts["all_networks"] = {"new": addrman.size(in_new=True), "tried": addrman.size(in_new=False),
                                  "total": len(addrman)}
        return counts

    @rpc_method(category=HIDDEN)
    def getrawaddrman(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every entry of the address manager's new and tried tables keyed "bucket/position", for
        tests and debugging."""
        addrman = self.node.addrman
        return {table: {f"{where.bucket}/{where.position}": _addrman_entry(info) for info, where in addrman.entries(tried)}
                for table, tried in (("new", False), ("tried", True))}

    def _lookup_host(self, text: Any) -> PeerAddress:
        """Core's LookupHost without name resolution (an IP literal, a v3 .onion or a .b32.i2p
        name), an fc00::/8 address being CJDNS under -cjdnsreachable (Core's MaybeFlipIPv6toCJDNS)."""
        address = PeerAddress.parse(str(text))
        if self.node.config.cjdnsreachable:
            address = address.as_cjdns()
        return address

    @rpc_method
    def ping(self) -> None:
        """Ping every peer; the answers show in getpeerinfo's pingtime."""
        self.node.ping_peers()

    def _peer_json(self, peer: Peer) -> dict[str, Any]:
        """Core's getpeerinfo entry, its key set exactly: the ping keys only when they apply."""
        remote = peer.remote
        services = remote.services if remote else 0
        synced_headers, synced_blocks, inflight = self.node.peer_sync_state(peer)
        inv_to_send, addr_relay, addr_processed, addr_rate_limited = self.node.peer_relay_state(peer)
        local = peer.local_address
        entry: dict[str, Any] = {
            "id": peer.id, "addr": _endpoint_text(peer.address), "addrbind": _endpoint_text(local) if local else "",
            "network": "onion" if peer.inbound_onion else _network_name(peer.address[0]),
            "services": f"{services:016x}", "servicesnames": service_names(services),
            "relaytxes": relays_txs(peer), "last_inv_sequence": 0, "inv_to_send": inv_to_send,
            "lastsend": int(peer.last_send), "lastrecv": int(peer.last_recv),
            "last_transaction": int(peer.last_tx_time), "last_block": int(peer.last_block_time),
            "bytessent": peer.counters["bytes sent"], "bytesrecv": peer.counters["bytes received"],
            "conntime": int(peer.connected_at), "timeoffset": _time_offset(peer),
        }
        info = peer.info()
        for key in ("pingtime", "minping", "pingwait"):
            if info[key] is not None:
                entry[key] = info[key]
        entry.update({
            "version": remote.version if remote else 0, "subver": (remote.user_agent or "") if remote else "",
            "inbound": peer.inbound, "bip152_hb_to": peer.bip152_hb_to,
            "bip152_hb_from": bool(peer.compact_blocks and peer.compact_blocks.announce),
            "presynced_headers": self.node.peer_presync_height(peer),
            "synced_headers": synced_headers, "synced_blocks": synced_blocks, "inflight": inflight,
            "addr_relay_enabled": addr_relay, "addr_processed": addr_processed,
            "addr_rate_limited": addr_rate_limited,
            "permissions": sorted(permission.value for permission in peer.permissions),
            "minfeefilter": round(peer.fee_filter / COIN, 8),
            "bytessent_per_msg": _nonzero(peer.bytes_sent_per_msg), "bytesrecv_per_msg": _nonzero(peer.bytes_recv_per_msg),
            "connection_type": peer.connection_type, "transport_protocol_type": peer.transport_protocol, "session_id": peer.session_id,
        })
        return entry


#: The usage addnode answers a bad command with, in Core's form.
_ADDNODE_HELP = ('addnode "node" "command"\n\n'
                 "node: host[:port] of the peer; command: add (keep a connection to it), remove (stop keeping "
                 "it) or onetry (dial it once)")


def _ban_target(text: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | PeerAddress:
    """setban's subnet argument: an IP subnet, or one IP, Tor or I2P address; Core's -30 if not."""
    try:
        if "/" in str(text):
            return ipaddress.ip_network(text, strict=False)
        address = PeerAddress.parse(str(text))
    except ValueError:
        raise RpcError(RPC_CLIENT_INVALID_IP_OR_SUBNET, "Error: Invalid IP/Subnet") from None
    if address.network in (Network.IPV4, Network.IPV6):
        return ipaddress.ip_network(address.host)
    return address


def _endpoint_text(endpoint: tuple[str, int]) -> str:
    """Core's CService::ToStringAddrPort: host:port, an IPv6 host in brackets."""
    host, port = endpoint
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _network_name(host: str) -> str:
    """Core's GetNetworkName of the address's class: loopback and private addresses are
    not_publicly_routable."""
    try:
        address = PeerAddress.from_ip(host)
    except ValueError:
        return "onion" if host.endswith(".onion") else "not_publicly_routable"
    return _NETWORK_NAMES.get(address.network, "not_publicly_routable") if address.is_routable else "not_publicly_routable"


_NETWORK_NAMES = {Network.IPV4: "ipv4", Network.IPV6: "ipv6", Network.ONION: "onion", Network.I2P: "i2p",
                  Network.CJDNS: "cjdns"}


_NETWORKS_BY_NAME = {name: network for network, name in _NETWORK_NAMES.items()}


def _addrman_entry(info: AddressInfo) -> dict[str, Any]:
    """Core's getrawaddrman entry."""
    return {"address": info.address.host, "port": info.address.port, "services": info.services, "time": info.time,
            "network": _NETWORK_NAMES.get(info.address.net_class, "not_publicly_routable"),
            "source": info.source.host,
            "source_network": _NETWORK_NAMES.get(info.source.net_class, "not_publicly_routable")}


def _time_offset(peer: Peer) -> int:
    """The peer's clock against ours when its version arrived (Core's m_time_offset)."""
    remote = peer.remote
    return 0 if remote is None else int(remote.timestamp - peer.connected_at)


def _nonzero(counts: Any) -> dict[str, int]:
    return {command: size for command, size in sorted(counts.items()) if size}
