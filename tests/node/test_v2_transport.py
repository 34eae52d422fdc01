"""BIP324 between nodes over real loopback sockets: two Pantheon nodes with -v2transport sync and
relay over an encrypted connection, a v2 node falls back to v1 against a v1-only one (as Core
reconnects), and a v2 node still takes plain v1 peers on the same port."""

from __future__ import annotations

from typing import Callable

from helpers.chain import P2WSH_TRUE
from helpers.waiting import NODE_WAIT, wait_for
from pantheon.net.peer import PeerState
from pantheon.node import Node
from pantheon.protocol import NODE_P2P_V2


def _connected(node: Node) -> list:
    return [peer for peer in node.peers() if peer.state is PeerState.CONNECTED]


def test_two_v2_nodes_sync_over_an_encrypted_connection(make_node: Callable[..., Node]) -> None:
    a = make_node("a", "--v2transport=1")
    b = make_node("b", "--v2transport=1")
    assert a.local_services & NODE_P2P_V2
    a.generate(20, P2WSH_TRUE)
    b.add_peer(*a.manager.address)
    wait_for(lambda: b.chain.tip == a.chain.tip, NODE_WAIT, what="b synced from a over v2")
    (outbound,), (inbound,) = _connected(b), _connected(a)
    assert (outbound.transport_protocol, inbound.transport_protocol) == ("v2", "v2")
    assert len(outbound.session_id) == 64 and outbound.session_id == inbound.session_id
    block = a.generate(1, P2WSH_TRUE)[0]
    wait_for(lambda: b.chain.tip == block, NODE_WAIT, what="a new block relayed over v2")


def test_a_v2_node_falls_back_to_v1_with_a_v1_only_peer(make_node: Callable[..., Node]) -> None:
    old = make_node("old")  # -v2transport off: it drops the v2 key as a bad magic
    new = make_node("new", "--v2transport=1")
    old.generate(5, P2WSH_TRUE)
    new.add_peer(*old.manager.address)
    wait_for(lambda: new.chain.tip == old.chain.tip, NODE_WAIT, what="synced after the fallback")
    (peer,) = _connected(new)
    assert peer.transport_protocol == "v1" and peer.session_id == ""


def test_a_v2_node_takes_v1_peers_on_the_same_port(make_node: Callable[..., Node]) -> None:
    server = make_node("server", "--v2transport=1")
    client = make_node("client")
    server.generate(3, P2WSH_TRUE)
    client.add_peer(*server.manager.address)
    wait_for(lambda: client.chain.tip == server.chain.tip, NODE_WAIT, what="v1 client synced")
    (inbound,) = _connected(server)
    assert inbound.transport_protocol == "v1"
