"""`pantheon.net.manager`: two managers on loopback dial each other, limits, bans, broadcast, a
graceful stop, and no monkey-patching."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gevent
import gevent.socket
import pytest

from helpers.process import run_python
from helpers.waiting import wait_for
from pantheon import params
from pantheon.net.banlist import BanList
from pantheon.net.manager import ManagerConfig, NetworkManager
from pantheon.net.peer import PeerConfig, PeerState

PEER = PeerConfig(network=params.REGTEST, handshake_timeout=2.0)
LISTEN = ManagerConfig(peer=PEER, listen=("127.0.0.1", 0))


def closed_by_server(port: int) -> bool:
    """Connect, send nothing: True if the server closes the connection at once."""
    with gevent.socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        try:
            return sock.recv(1) == b""
        except ConnectionResetError:
            return True


@pytest.fixture
def managers(wire_impl) -> Iterator[list[NetworkManager]]:
    made: list[NetworkManager] = []

    def make(config: ManagerConfig = LISTEN, **options: Any) -> NetworkManager:
        manager = NetworkManager(config, wire=wire_impl.module, **options).start()
        made.append(manager)
        return manager

    yield make  # type: ignore[misc]
    for manager in made:
        manager.stop(timeout=1)


def test_two_managers_connect_broadcast_and_stop(managers) -> None:
    received = []
    server = managers(handlers={"tx": lambda peer, frame: received.append(frame.payload)})
    client = managers(ManagerConfig(peer=PEER))
    peer = client.add_peer(*server.address)
    assert peer is not None
    wait_for(lambda: len(server.peers(PeerState.CONNECTED)) == 1 and peer.state is PeerState.CONNECTED)
    assert client.add_peer(*server.address) is None  # already connected
    assert server.peers()[0].inbound and not peer.inbound
    assert client.broadcast("tx", b"\x01", filter=lambda p: p is peer) == 1
    assert client.broadcast("tx", b"\x02", filter=lambda p: False) == 0
    wait_for(lambda: received == [b"\x01"])
    port = server.address[1]
    server.stop(timeout=1)
    assert server.peers() == []
    wait_for(lambda: peer.state is PeerState.DISCONNECTED and client.peers() == [])
    with pytest.raises(ConnectionRefusedError):  # the listener is gone
        gevent.socket.create_connection(("127.0.0.1", port), timeout=1)
    with pytest.raises(ValueError):
        server.address


def test_outbound_and_total_limits(managers) -> None:
    server = managers()
    client = managers(ManagerConfig(peer=PEER, listen=("127.0.0.1", 0), max_outbound=1, max_connections=1))
    assert client.add_peer(*server.address) is not None
    assert client.add_peer("127.0.0.1", 1) is None  # connections full
    wait_for(lambda: client.peers(PeerState.CONNECTED))
    assert closed_by_server(client.address[1])  # total full: the inbound is refused
    assert client.count(inbound=False) == 1 and client.count(inbound=True) == 0


def test_inbound_limit_with_a_discouraged_address(managers) -> None:
    bans = BanList(None)
    bans.discourage("127.0.0.1")
    server = managers(ManagerConfig(peer=PEER, listen=("127.0.0.1", 0), max_inbound=1), banlist=bans)
    assert closed_by_server(server.address[1])  # one slot free: a discouraged peer is refused
    roomy = managers(ManagerConfig(peer=PEER, listen=("127.0.0.1", 0), max_inbound=2), banlist=bans)
    client = managers(ManagerConfig(peer=PEER))
    peer = client.add_peer(*roomy.address)
    wait_for(lambda: peer.state is PeerState.CONNECTED)
    bans.ban("127.0.0.1")
    assert closed_by_server(roomy.address[1])  # banned: refused whatever the room


def test_dialling_ourselves_is_detected(managers) -> None:
    manager = managers()
    peer = manager.add_peer(*manager.address)
    assert peer.join(3)
    wait_for(lambda: manager.peers() == [])
    assert peer.close_reason == "connection closed by peer"


def test_serve_forever_until_stopped() -> None:
    manager = NetworkManager(LISTEN)
    runner = gevent.spawn(manager.serve_forever)
    wait_for(lambda: manager._server is not None)
    with manager:
        pass  # __exit__ stops it
    assert runner.join(2) is None and runner.dead


def test_importing_the_network_layer_does_not_monkey_patch() -> None:
    patched = run_python(
        "import gevent.monkey, pantheon.net.manager, pantheon.net.peer; "
        "print(gevent.monkey.is_anything_patched())"
    )
    assert patched == "False"


def test_a_full_inbound_evicts_as_core(managers) -> None:
    """30 inbound slots, all full: protections keep 25 of them (DESIGN: evict rather than refuse
    forever), and the 31st peer gets in in place of the one Core's rules pick."""
    server = managers(ManagerConfig(peer=PEER, listen=("127.0.0.1", 0), max_inbound=30))
    clients = [managers(ManagerConfig(peer=PEER)) for _ in range(31)]
    dialled = []
    for client in clients[:30]:
        dialled.append(client.add_peer(*server.address))
        wait_for(lambda: dialled[-1].state is PeerState.CONNECTED)
    assert server.count(inbound=True) == 30
    newcomer = clients[30].add_peer(*server.address)
    wait_for(lambda: newcomer.state is PeerState.CONNECTED)
    wait_for(lambda: any(peer.closed for peer in dialled))
    evicted = [peer for peer in dialled if peer.closed]
    assert len(evicted) == 1 and server.count(inbound=True) == 30
    assert evicted[0].close_reason == "connection closed by peer"
    assert evicted[0] not in dialled[:4]  # among others, the longest connected are protected


def test_nothing_to_evict_refuses(managers) -> None:
    server = managers(ManagerConfig(peer=PEER, listen=("127.0.0.1", 0), max_inbound=2))
    client = managers(ManagerConfig(peer=PEER))
    first = client.add_peer(*server.address)
    wait_for(lambda: first.state is PeerState.CONNECTED)
    second = managers(ManagerConfig(peer=PEER)).add_peer(*server.address)
    wait_for(lambda: second.state is PeerState.CONNECTED)
    assert closed_by_server(server.address[1])  # two peers, both protected: the third is refused
    assert not first.closed and not second.closed


def test_an_idle_inbound_peer_costs_one_greenlet_and_no_table(managers, wire_impl) -> None:
    """The StreamServer's handler greenlet is the reader, the writer exists only while bytes are
    queued, the known-inventory table is made on the first inv, and the counts are kept."""
    server = managers()
    client = managers(ManagerConfig(peer=PEER))
    outbound = client.add_peer(*server.address)
    wait_for(lambda: len(server.peers(PeerState.CONNECTED)) == 1 and outbound.ping_time is not None)
    (peer,) = server.peers()
    wait_for(lambda: peer.ping_time is not None and peer.queued_bytes == 0)
    gevent.sleep(0.05)
    assert peer._reader in server._server.pool and len(server._group) == 0  # no second greenlet
    assert peer._writer is None and outbound._writer is None
    assert peer._known_inventory is None
    assert (server.count(inbound=True), server.count(inbound=False)) == (1, 0)
    outbound.send("inv", wire_impl.module.encode_inv([]))
    wait_for(lambda: peer._known_inventory is not None)
    outbound.close("test over")
    wait_for(lambda: server.count(inbound=True) == 0 and not server._server.pool)


def test_the_listen_backlog_is_configurable(managers) -> None:
    server = managers(ManagerConfig(peer=PEER, listen=("127.0.0.1", 0), backlog=2048))
    assert server._server.backlog == 2048
