"""BIP324 between nodes over real loopback sockets: two Pantheon nodes (-v2transport is on by
default) sync and relay a transaction and a block over an encrypted connection, 10,000 messages
each way cross many rekeyings, a v2 node falls back to v1 against a v1-only one (as Core
reconnects), and a v2 node still takes plain v1 peers on the same port."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from typing import Callable

import gevent.socket
import pytest
from helpers.chain import P2WSH_TRUE, prevouts_of, spend
from helpers.p2p import free_port
from helpers.waiting import NODE_WAIT, in_thread, wait_for
from pantheon import limits, params
from pantheon.protocol import GARBAGE_TERMINATOR_SIZE, MAX_GARBAGE_SIZE
from pantheon.net.peer import PeerState
from pantheon.net.v2transport import V2Transport
from pantheon.node import Node
from pantheon.protocol import NODE_P2P_V2


def _connected(node: Node) -> list:
    return [peer for peer in node.peers() if peer.state is PeerState.CONNECTED]


def test_two_v2_nodes_sync_over_an_encrypted_connection(make_node: Callable[..., Node]) -> None:
    metrics_port = free_port()
    a = make_node("a", "--metrics-port", str(metrics_port))  # -v2transport is on by default
    b = make_node("b", "--v2transport=1")
    assert a.local_services & NODE_P2P_V2
    mined = a.generate(101, P2WSH_TRUE)
    b.add_peer(*a.manager.address)
    wait_for(lambda: b.chain.tip == a.chain.tip, NODE_WAIT, what="b synced from a over v2")
    (outbound,), (inbound,) = _connected(b), _connected(a)
    assert (outbound.transport_protocol, inbound.transport_protocol) == ("v2", "v2")
    assert len(outbound.session_id) == 64 and outbound.session_id == inbound.session_id
    tx = spend(prevouts_of(a.chain.read_block(mined[0]).transactions[0])[:1], fee=5_000)
    assert a.submit_transaction(tx) == "accepted"
    wait_for(lambda: b.mempool.get(tx.txid) is not None, NODE_WAIT, what="a transaction relayed over v2")
    block = a.generate(1, P2WSH_TRUE)[0]
    wait_for(lambda: b.chain.tip == block, NODE_WAIT, what="a new block relayed over v2")
    url = f"http://{a.config.rpcbind}:{metrics_port}/metrics"
    text = in_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
    assert 'pantheon_peers_by_transport{transport="v2"} 1.0' in text
    assert 'pantheon_peers_by_transport{transport="v1"} 0.0' in text


def test_a_v2_node_falls_back_to_v1_with_a_v1_only_peer(make_node: Callable[..., Node]) -> None:
    old = make_node("old", "--v2transport=0")  # it drops the v2 key as a bad magic
    new = make_node("new", "--v2transport=1")
    old.generate(5, P2WSH_TRUE)
    new.add_peer(*old.manager.address)
    wait_for(lambda: new.chain.tip == old.chain.tip, NODE_WAIT, what="synced after the fallback")
    (peer,) = _connected(new)
    assert peer.transport_protocol == "v1" and peer.session_id == ""


def test_a_v2_node_takes_v1_peers_on_the_same_port(make_node: Callable[..., Node]) -> None:
    server = make_node("server", "--v2transport=1")
    client = make_node("client", "--v2transport=0")
    server.generate(3, P2WSH_TRUE)
    client.add_peer(*server.manager.address)
    wait_for(lambda: client.chain.tip == server.chain.tip, NODE_WAIT, what="v1 client synced")
    (inbound,) = _connected(server)
    assert inbound.transport_protocol == "v1"


def test_ten_thousand_messages_each_way_cross_many_rekeyings(make_node: Callable[..., Node]) -> None:
    """Every 224 messages each direction changes keys: 10,000 pings and their pongs go through
    both ciphers dozens of times, and the connection stays up."""
    a, b = make_node("a"), make_node("b")
    b.add_peer(*a.manager.address)
    wait_for(lambda: _connected(a) and _connected(b), NODE_WAIT, what="v2 handshake")
    (outbound,), (inbound,) = _connected(b), _connected(a)
    assert outbound.transport_protocol == "v2"
    pings, pongs = inbound.counters["messages received"], outbound.counters["messages received"]
    for number in range(10_000):
        outbound.send("ping", number.to_bytes(8, "little"))
    wait_for(lambda: outbound.counters["messages received"] >= pongs + 10_000, NODE_WAIT, what="10,000 pongs")
    assert inbound.counters["messages received"] >= pings + 10_000
    assert outbound.state is PeerState.CONNECTED and inbound.state is PeerState.CONNECTED


# --- bad input over a real socket: each ends the connection, as Core's V2Transport does ------------

@pytest.fixture
def v2_client() -> Iterator[Callable[[Node], tuple[gevent.socket.socket, V2Transport]]]:
    """`v2_client(node)`: a raw socket to `node` and our transport as its initiator, the key
    already sent (closed after the test)."""
    socks: list[gevent.socket.socket] = []

    def dial(node: Node) -> tuple[gevent.socket.socket, V2Transport]:
        sock = gevent.socket.create_connection(node.manager.address)
        socks.append(sock)
        transport = V2Transport(params.REGTEST.magic, initiating=True, garbage=b"")
        sock.sendall(transport.take_output())
        return sock, transport

    yield dial
    for sock in socks:
        sock.close()


def _handshake(sock: gevent.socket.socket, transport: V2Transport) -> None:
    while not transport.established:
        transport.feed(sock.recv(65536))
        transport.next_frame()
        sock.sendall(transport.take_output())


def _closed_by_node(sock: gevent.socket.socket, timeout: float = 15.0) -> bool:
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return True


def test_garbage_without_a_terminator_ends_the_connection(make_node: Callable[..., Node], v2_client: Callable) -> None:
    node = make_node("n")
    sock, transport = v2_client(node)
    transport.feed(sock.recv(64))  # the node's key: it took us for v2
    sock.sendall(bytes(MAX_GARBAGE_SIZE + GARBAGE_TERMINATOR_SIZE))  # no terminator in it
    assert _closed_by_node(sock)
    wait_for(lambda: not node.peers(), NODE_WAIT, what="the peer gone")


def test_a_packet_that_fails_authentication_ends_the_connection(make_node: Callable[..., Node], v2_client: Callable) -> None:
    node = make_node("n")
    sock, transport = v2_client(node)
    _handshake(sock, transport)
    transport.send("ping", bytes(8))
    packet = bytearray(transport.take_output())
    packet[-1] ^= 0x01  # the tag's last bit
    sock.sendall(bytes(packet))
    assert _closed_by_node(sock)
    wait_for(lambda: not node.peers(), NODE_WAIT, what="the peer gone")
    assert not node.banlist.is_discouraged("127.0.0.1")  # Core does not punish, it disconnects


def test_a_packet_over_the_size_limit_ends_the_connection_unread(make_node: Callable[..., Node], v2_client: Callable) -> None:
    node = make_node("n")
    sock, transport = v2_client(node)
    _handshake(sock, transport)
    transport.send("block", bytes(limits.MAX_MESSAGE_SIZE + 1))
    sock.sendall(transport.take_output()[:3])  # the length alone: the node never waits for the rest
    assert _closed_by_node(sock)


def test_a_stalled_v2_handshake_is_timed_out(make_node: Callable[..., Node], v2_client: Callable) -> None:
    node = make_node("n", "--peertimeout", "1")
    sock, transport = v2_client(node)
    transport.feed(sock.recv(64))
    started = time.monotonic()
    assert _closed_by_node(sock)  # we never send our terminator
    assert time.monotonic() - started < 10
