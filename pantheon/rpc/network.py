"""Core's network RPCs (`rpc/net.cpp`): peers, connections, bans."""

from __future__ import annotations

import ipaddress
from typing import Any

from pantheon import __version__
from pantheon.chain.validation import COIN
from pantheon.net.address import Network, PeerAddress
from pantheon.net.manager import CONNECTION_TYPES
from pantheon.net.peer import Peer, PeerState
from pantheon.protocol import PROTOCOL_VERSION, service_names
from pantheon.relay import relays_txs
from pantheon.rpc.arguments import endpoint_arg, int_arg
from pantheon.rpc.errors import (
    RPC_CLIENT_INVALID_IP_OR_SUBNET,
    RPC_CLIENT_NODE_ALREADY_ADDED,
    RPC_CLIENT_NODE_CAPACITY_REACHED,
    RPC_CLIENT_NODE_NOT_ADDED,
    RPC_CLIENT_NODE_NOT_CONNECTED,
    RPC_INVALID_PARAMETER,
    RPC_INVALID_PARAMS,
    RpcError,
)
from pantheon.rpc.registry import HIDDEN, RpcGroup, rpc_method
from pantheon.rpc.results import amount, warnings

__all__ = ["NetworkRpc", "client_version"]


def client_version() -> int:
    """Core's integer version layout of our release (MAJOR*10000 + MINOR*100 + PATCH)."""
    return int("".join(f"{int(part):02d}" for part in __version__.split("."))) * 100


class NetworkRpc(RpcGroup):
    category = "network"

    @rpc_method
    def getpeerinfo(self) -> list[dict[str, Any]]:
        """One object per open connection, with Core's fields and Pantheon's `state`."""
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
        """The node's version, services, connections and relay fee."""
        node = self.node
        peers = node.peers(PeerState.CONNECTED)
        inbound = sum(1 for peer in peers if peer.inbound)
        services = node.local_services
        return {
            "version": client_version(), "subversion": node.user_agent,
            "protocolversion": PROTOCOL_VERSION, "localservices": f"{services:016x}",
            "localservicesnames": service_names(services), "localrelay": not node.config.blocksonly, "timeoffset": 0,
            "networkactive": True, "connections": len(peers), "connections_in": inbound,
            "connections_out": len(peers) - inbound,
            "networks": [{"name": name, "limited": False, "reachable": True, "proxy": "",
                          "proxy_randomize_credentials": False} for name in ("ipv4", "ipv6")],
            "relayfee": amount(node.mempool.min_relay_fee), "incrementalfee": 0.00001, "localaddresses": [],
            "warnings": warnings(node),
        }

    @rpc_method
    def addnode(self, node_address: Any, command: Any) -> None:
        """add: keep a connection to the peer; remove: stop keeping it; onetry: dial it once."""
        node = self.node
        host, port = endpoint_arg(node_address, node.network.p2p_port)
        if command == "onetry":
            node.add_peer(host, port)
        elif command == "add":
            if (host, port) in node.added_nodes:
                raise RpcError(RPC_CLIENT_NODE_ALREADY_ADDED, "Error: Node already added")
            node.add_node(host, port)
        elif command == "remove":
            if not node.remove_node(host, port):
                raise RpcError(RPC_CLIENT_NODE_NOT_ADDED,
                               "Error: Node could not be removed. It has not been added previously.")
        else:
            raise RpcError(RPC_INVALID_PARAMETER, f"addnode command must be add, remove or onetry, not {command!r}")

    @rpc_method(regtest_only=True, category=HIDDEN)
    def addconnection(self, address: Any, connection_type: Any, v2transport: Any = False) -> dict[str, str]:
        """Open an outbound connection of one of Core's types, for tests: outbound-full-relay,
        block-relay-only, addr-fetch or feeler."""
        if connection_type not in CONNECTION_TYPES or connection_type in ("manual", "inbound"):
            raise RpcError(RPC_INVALID_PARAMETER, "addconnection \"address\" \"connection_type\" ( v2transport ): "
                           "connection_type must be outbound-full-relay, block-relay-only, addr-fetch or feeler")
        if v2transport:
            raise RpcError(RPC_INVALID_PARAMETER, "Error: Adding v2transport connections requires -v2transport "
                           "init flag to be set.")
        host, port = endpoint_arg(address, self.node.network.p2p_port)
        if self.node.add_peer(host, port, connection_type) is None:
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

    @rpc_method
    def ping(self) -> None:
        """Ping every peer; the answers show in getpeerinfo's pingtime."""
        self.node.ping_peers()

    def _peer_json(self, peer: Peer) -> dict[str, Any]:
        """Core's getpeerinfo entry, its key set exactly: the ping keys only when they apply."""
        remote = peer.remote
        services = remote.services if remote else 0
        synced_headers, synced_blocks, inflight = self.node.peer_sync_state(peer)
        inv_to_send, addr_relay = self.node.peer_relay_state(peer)
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
            "inbound": peer.inbound, "bip152_hb_to": False, "bip152_hb_from": False,
            "presynced_headers": self.node.peer_presync_height(peer),
            "synced_headers": synced_headers, "synced_blocks": synced_blocks, "inflight": inflight,
            "addr_relay_enabled": addr_relay, "addr_processed": peer.counters["addr received"],
            "addr_rate_limited": peer.counters["addr rate limited"],
            "permissions": sorted(permission.value for permission in peer.permissions),
            "minfeefilter": round(peer.fee_filter / COIN, 8),
            "bytessent_per_msg": _nonzero(peer.bytes_sent_per_msg), "bytesrecv_per_msg": _nonzero(peer.bytes_recv_per_msg),
            "connection_type": peer.connection_type, "transport_protocol_type": "v1", "session_id": "",
        })
        return entry


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


def _time_offset(peer: Peer) -> int:
    """The peer's clock against ours when its version arrived (Core's m_time_offset)."""
    remote = peer.remote
    return 0 if remote is None else int(remote.timestamp - peer.connected_at)


def _nonzero(counts: Any) -> dict[str, int]:
    return {command: size for command, size in sorted(counts.items()) if size}
