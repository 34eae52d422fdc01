"""Core's address-manager and connection RPCs on a running node (pantheon/rpc/network.py), over
JSON-RPC as Core's rpc_net.py calls them."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from bitcoin.rpc import JSONRPCError

from helpers.node import FAST, proxy, settings
from helpers.waiting import NODE_WAIT, in_thread, wait_for
from pantheon.net.address import PeerAddress, TimedAddress
from pantheon.net.peer import PeerState
from pantheon.node import Node
from pantheon.service import NodeService

RPC = ("--rpcuser", "u", "--rpcpassword", "p")


def error_of(call: Callable[..., Any], *args: Any, **named: Any) -> tuple[int, str]:
    with pytest.raises(JSONRPCError) as caught:
        in_thread(lambda: call(*args, **named))
    return caught.value.error["code"], caught.value.error["message"]


def test_addrman_rpcs_place_addresses_as_cores_test_addrman(make_node: Callable[..., Node]) -> None:
    node = make_node("a", *RPC, "-test=addrman", "-cjdnsreachable", rpc=True)
    client = proxy(node)
    node.clock.set_mock(1_700_000_000)
    for address, port, tried in (("1.2.3.4", 8333, True), ("2.0.0.0", 8333, False),
                                 ("fc00:1:2:3:4:5:6:7", 8333, False), ("2803:0:1234:abcd::1", 45324, False),
                                 ("pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion", 8333, True)):
        assert in_thread(client.addpeeraddress, address, port, tried) == {"success": True}
    assert in_thread(client.addpeeraddress, "2.0.0.0", 8333) == {"success": False, "error": "failed-adding-to-new"}
    assert in_thread(client.addpeeraddress, "1.2.5.45", 8333, True) == \
        {"success": False, "error": "failed-adding-to-tried"}  # Core's grinded collision with 1.2.3.4
    raw = in_thread(client.getrawaddrman)
    assert raw["tried"]["6/33"] == {"address": "1.2.3.4", "port": 8333, "services": 9, "time": 1_700_000_000,
                                    "network": "ipv4", "source": "1.2.3.4", "source_network": "ipv4"}
    assert raw["new"]["336/24"]["network"] == "cjdns" and raw["new"]["613/6"]["port"] == 45324
    assert raw["tried"]["72/61"]["network"] == "onion"
    info = in_thread(client.getaddrmaninfo)
    assert info["all_networks"] == {"new": 4, "tried": 2, "total": 6}
    assert info["cjdns"] == {"new": 1, "tried": 0, "total": 1} and info["i2p"] == {"new": 0, "tried": 0, "total": 0}
    assert len(in_thread(client.getnodeaddresses, 0)) == 6 and len(in_thread(client.getnodeaddresses)) == 1
    [ipv6] = in_thread(client.getnodeaddresses, 0, "ipv6")
    assert ipv6 == {"time": 1_700_000_000, "services": 9, "address": "2803:0:1234:abcd::1", "port": 45324,
                    "network": "ipv6"}
    assert error_of(client.getnodeaddresses, -1) == (-8, "Address count out of range")
    assert error_of(client.getnodeaddresses, 1, "Foo") == (-8, "Network not recognized: Foo")
    assert error_of(client.addpeeraddress, "not_an_ip", 8333) == (-30, "Invalid IP address")
    assert error_of(client.addpeeraddress, "1.2.3.4", 65536) == (-1, "JSON integer out of range")
    assert "not of expected type bool" in error_of(client.addpeeraddress, "1.2.3.4", 1, "True")[1]
    assert "addpeeraddress" not in in_thread(client.help) and "getrawaddrman" not in in_thread(client.help)


def test_a_deleted_peers_dat_is_recreated_with_an_empty_table(tmp_path: Path, caplog) -> None:
    """Core's framework clears the address manager by deleting peers.dat between starts."""
    service = NodeService(settings(tmp_path / "a"), tuning=FAST, script_workers=0).start()
    peers_dat = service.node.addrman.path
    assert peers_dat == service.node.datadir / "peers.dat" and peers_dat.is_file()
    address = PeerAddress.parse("8.8.8.8", 8333)
    assert service.node.addrman.add([TimedAddress(address, int(time.time()), 9)], address.without_port()) == 1
    service.stop()
    peers_dat.unlink()
    with caplog.at_level(logging.INFO, "pantheon.net.addrman"):
        service = NodeService(settings(tmp_path / "a"), tuning=FAST, script_workers=0).start()
    try:
        assert f'Creating peers.dat because the file was not found ("{peers_dat}")' in caplog.text
        assert len(service.node.addrman) == 0 and peers_dat.is_file()
    finally:
        service.stop()


def test_addnode_and_getaddednodeinfo_as_core(make_node: Callable[..., Node]) -> None:
    node = make_node("a", *RPC, rpc=True)
    client = proxy(node)
    assert in_thread(client.getaddednodeinfo) == []
    in_thread(client.addnode, "127.0.0.1:1", "add")
    assert error_of(client.addnode, "127.1:1", "add") == (-23, "Error: Node already added")  # numerically equal
    in_thread(client.addnode, "11.22.33.44", "add")
    assert [entry["addednode"] for entry in in_thread(client.getaddednodeinfo)] == ["127.0.0.1:1", "11.22.33.44"]
    assert in_thread(client.getaddednodeinfo, "11.22.33.44") == [
        {"addednode": "11.22.33.44", "connected": False, "addresses": []}]
    code, message = error_of(client.addnode, "127.0.0.1:1", "abc")
    assert code == -1 and 'addnode "node" "command"' in message
    for command in ("add", "remove", "onetry"):
        assert error_of(client.addnode, " ", command) == (-8, "Error: Node address cannot be empty")
    in_thread(client.addnode, "127.0.0.1:1", "remove")
    assert error_of(client.addnode, "127.0.0.1:1", "remove")[0] == -24
    assert error_of(client.getaddednodeinfo, "1.1.1.1") == (-24, "Error: Node has not been added.")


def test_setnetworkactive_closes_and_refuses_connections(make_node: Callable[..., Node], caplog) -> None:
    node = make_node("a", *RPC, rpc=True)
    other = make_node("b")
    client = proxy(node)
    other.add_peer(*node.manager.address)
    wait_for(lambda: in_thread(client.getconnectioncount) == 1, NODE_WAIT, what="connected")
    with caplog.at_level(logging.INFO, "pantheon.net.manager"):
        assert in_thread(client.setnetworkactive, False) is False
    assert "SetNetworkActive: false" in caplog.text
    wait_for(lambda: in_thread(client.getconnectioncount) == 0, NODE_WAIT, what="closed")
    assert in_thread(client.getnetworkinfo)["networkactive"] is False
    other.add_peer(*node.manager.address)
    assert node.add_peer(*other.manager.address) is None  # nothing dialled while off
    assert not node.peers()
    in_thread(client.setnetworkactive, True)
    other.add_peer(*node.manager.address)
    wait_for(lambda: in_thread(client.getconnectioncount) == 1, NODE_WAIT, what="reconnected")


def test_sendmsgtopeer_sends_raw_messages(make_node: Callable[..., Node]) -> None:
    node = make_node("a", *RPC, rpc=True)
    other = make_node("b")
    client = proxy(node)
    node.add_peer(*other.manager.address)
    wait_for(lambda: other.peers() and other.peers()[0].state.value == "connected", NODE_WAIT, what="connected")
    peer_id = node.peers()[0].id
    assert in_thread(client.sendmsgtopeer, peer_id, "unknown", "ff") == {}
    # Over BIP324 (on by default): a 3-byte length, the header byte, 0 and the 12-byte type, the payload, the tag.
    wait_for(lambda: other.peers()[0].bytes_recv_per_msg["*other*"] == 3 + 1 + 1 + 12 + 1 + 16, NODE_WAIT, what="received")
    assert error_of(client.sendmsgtopeer, 100, "addr", "ff") == (-1, "Error: Could not send message to peer")
    assert error_of(client.sendmsgtopeer, peer_id, "long_msg_type", "ff") == \
        (-8, "Error: msg_type too long, max length is 12")


def test_getnetworkinfo_has_core_31s_fields_and_version(make_node: Callable[..., Node]) -> None:
    node = make_node("a", *RPC, rpc=True)
    other = make_node("b")
    host, port = node.manager.address
    other.add_peer(host, port)
    wait_for(lambda: len(node.peers(PeerState.CONNECTED)) == 1, NODE_WAIT, what="inbound peer")
    info = in_thread(proxy(node).getnetworkinfo)
    assert list(info) == ["version", "subversion", "protocolversion", "localservices", "localservicesnames",
                          "localrelay", "timeoffset", "networkactive", "connections", "connections_in",
                          "connections_out", "networks", "relayfee", "incrementalfee", "localaddresses", "warnings"]
    # Core 31.0's RPC interface, in Core's layout (ElectrumX 2.0 requires at least 310000); the
    # release of Pantheon itself is in the user agent.
    assert info["version"] == 310000 and info["subversion"].startswith("/Pantheon:")
    assert (info["connections"], info["connections_in"], info["connections_out"]) == (1, 1, 0)
    assert [network["name"] for network in info["networks"]] == ["ipv4", "ipv6", "onion", "i2p", "cjdns"]
    assert set(info["networks"][0]) == {"name", "limited", "reachable", "proxy", "proxy_randomize_credentials"}
    # Core 30's defaults: 100 sat/kvB for both.
    assert (str(info["relayfee"]), str(info["incrementalfee"])) == ("0.000001", "0.000001")
    assert info["warnings"] == [] and info["localaddresses"] == []
