"""Address gossip (`pantheon.net.gossip`) through a real `NetworkManager` over loopback sockets,
with an AddrMan on a real LevelDB store, against both wire twins; the addrv2 codec is checked
against `pantheon.spec`."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import gevent.socket
import pytest

from pantheon import spec
from pantheon.errors import ProtocolError
from pantheon.net.address import Network, PeerAddress, TimedAddress
from pantheon.net.addrman import AddrMan
from pantheon.net.gossip import TIME_PENALTY, GossipConfig, fix_time
from pantheon.net.manager import ManagerConfig, NetworkManager
from pantheon.net.peer import PeerState
from pantheon.net.permissions import parse_whitelist
from pantheon.primitives import AddrV2Entry, Endpoint, NetAddress
from pantheon.store import Store
from helpers.clock import NOW, Clock
from helpers.net import CORE_DETERMINISTIC_KEY, GOSSIP, LISTEN, PEER
from helpers.p2p import RawClient
from helpers.waiting import WAIT, wait_for



def legacy(host: str, port: int = 8333, seen: int = NOW, services: int = 9) -> NetAddress:
    return NetAddress(seen, services, PeerAddress.parse(host).to_legacy(), port)


def spread(count: int, start: int = 0) -> list[NetAddress]:
    """`count` routable IPv4 addresses in distinct /16s."""
    return [legacy(f"{20 + (i >> 8) % 200}.{i & 0xFF}.1.1") for i in range(start, start + count)]


@pytest.fixture(params=[True], ids=["addr-permission"])
def node(request, wire_impl, tmp_path: Path) -> Iterator[Any]:
    """A listening manager with an AddrMan on LevelDB and an injected clock; its peers have the
    addr permission (as Core's p2p_addr_relay.py gives them), so the token bucket does not cut
    what a test sends, unless a test asks for `rate_limited_node`."""
    store = Store.open(tmp_path / "db")
    clock = Clock()
    addrman = AddrMan(store, clock=clock, rng=random.Random(1), secret=CORE_DETERMINISTIC_KEY)
    whitelist = (parse_whitelist("addr@127.0.0.1"),) if request.param else ()
    manager = NetworkManager(replace(LISTEN, whitelist=whitelist), wire=wire_impl.module, addrman=addrman,
                             clock=clock, rng=random.Random(2)).start()
    manager.clock = clock  # type: ignore[attr-defined]
    clients: list[RawClient] = []

    def connect(addrv2: bool = False) -> RawClient:
        known = {peer.id for peer in manager.peers()}
        client = RawClient(manager.address[1], wire_impl.module)
        client.send("version", client.version(nonce=random.getrandbits(63)))
        if addrv2:
            client.send("sendaddrv2")
        client.receive("verack")
        client.send("verack")
        wait_for(lambda: any(peer.id not in known for peer in manager.peers(PeerState.CONNECTED)))
        clients.append(client)
        return client

    manager.connect = connect  # type: ignore[attr-defined]
    yield manager
    for client in clients:
        client.close()
    manager.stop(timeout=1)
    store.close()


rate_limited_node = pytest.mark.parametrize("node", [False], ids=["no-permission"], indirect=True)


def enable_relay(node: Any, *clients: RawClient) -> None:
    """Inbound peers become relay targets once they send an address message (Core): an empty one."""
    enabled = sum(node.gossip.relay_enabled(peer) for peer in node.peers())
    for client in clients:
        client.send("addr", b"\x00")
    wait_for(lambda: sum(node.gossip.relay_enabled(peer) for peer in node.peers()) == enabled + len(clients))


def send_due(node: Any) -> None:
    """Move the clock past any peer's Poisson send time (Core's tests move mock time 10 minutes)."""
    node.clock.now += 600


def test_addr_reaches_addrman_with_the_peer_as_source(node, wire_impl) -> None:
    client = node.connect()
    client.send("addr", wire_impl.module.encode_addr(spread(5)))
    wait_for(lambda: len(node.addrman) == 5)
    info = node.addrman.get(PeerAddress.parse("20.0.1.1", 8333))
    assert info is not None and info.source == PeerAddress.parse("127.0.0.1")
    assert info.time == NOW - TIME_PENALTY
    assert node.addrman.flush() > 0


def test_timestamps_are_fixed_up() -> None:
    assert fix_time(5, NOW) == NOW - 5 * 86400
    assert fix_time(NOW + 601, NOW) == NOW - 5 * 86400
    assert fix_time(NOW + 600, NOW) == NOW + 600
    assert fix_time(NOW - 3600, NOW) == NOW - 3600


def test_absurd_timestamps_are_stored_as_five_days_old(node, wire_impl) -> None:
    client = node.connect()
    client.send("addr", wire_impl.module.encode_addr([legacy("30.1.1.1", seen=50), legacy("30.2.1.1", seen=NOW + 3600)]))
    wait_for(lambda: len(node.addrman) == 2)
    for host in ("30.1.1.1", "30.2.1.1"):
        assert node.addrman.get(PeerAddress.parse(host, 8333)).time == NOW - 5 * 86400 - TIME_PENALTY


@rate_limited_node
def test_the_token_bucket_starts_at_one_and_refills_a_tenth_per_second(node, wire_impl) -> None:
    """Core's bucket for an inbound peer we never asked: 1 token, then 0.1 per second of the
    node's clock; rate limiting is counted, never misbehaviour."""
    client = node.connect()
    peer = node.peers()[0]
    assert not node.gossip.relay_enabled(peer)  # an inbound peer, until it sends addresses
    client.send("addr", wire_impl.module.encode_addr(spread(5)))
    wait_for(lambda: node.gossip.counts(peer) == (1, 4))
    assert len(node.addrman) == 1 and node.gossip.relay_enabled(peer)
    node.clock.now += 100  # 10 tokens
    client.send("addr", wire_impl.module.encode_addr(spread(50, 2000)))
    wait_for(lambda: node.gossip.counts(peer) == (11, 44))
    node.clock.now += 1000  # 100 tokens
    client.send("addr", wire_impl.module.encode_addr(spread(200, 3000)))
    wait_for(lambda: node.gossip.counts(peer) == (111, 144))
    assert peer.state is PeerState.CONNECTED


def test_services_and_bans_decide_what_is_processed(node, wire_impl) -> None:
    """Core keeps only full or pruned nodes' addresses, and only remembers banned ones."""
    client = node.connect()
    peer = node.peers()[0]
    client.send("addr", wire_impl.module.encode_addr([legacy("31.1.1.1", services=8), legacy("31.2.1.1", services=1024),
                                                      legacy("31.3.1.1", services=1)]))
    wait_for(lambda: node.gossip.counts(peer) == (2, 0))
    assert {info.address.host for info, _ in node.addrman.entries(False)} == {"31.2.1.1", "31.3.1.1"}


def test_over_1000_addresses_is_misbehaving(node, wire_impl) -> None:
    client = node.connect()
    payload = wire_impl.module.encode_addr(spread(1000))
    client.send("addr", b"\xfd\xe9\x03" + payload[3:] + payload[3:33])  # 1,001: read whole, then counted
    assert client.is_closed()
    assert len(node.addrman) == 0
    assert node.peers() == [] or node.peers()[0].close_reason == "misbehaving: addr message size = 1001"


def addr_frames(client: RawClient, wire: Any, timeout: float = 0.3,
                first: float | None = None) -> list[list[NetAddress]]:
    """Every addr message the client receives until `timeout` passes without one (`first`: the
    longer wait for the first one)."""
    got = []
    while True:
        try:
            wait = first if first is not None and not got else timeout
            got.append(wire.decode_addr(client.receive("addr", timeout=wait).payload))
        except TimeoutError:
            return got


def test_a_fresh_announcement_goes_to_the_two_peers_core_would_pick(node, wire_impl) -> None:
    sender, *others = [node.connect() for _ in range(5)]
    peers = node.peers()  # in the order the clients connected
    enable_relay(node, *others[:3])  # the last never sent an address message: never a target
    sender.send("addr", wire_impl.module.encode_addr([legacy("40.1.1.1")]))
    wait_for(lambda: len(node.addrman) == 1)
    targets = node.gossip.relay_targets(peers[0], PeerAddress.parse("40.1.1.1", 8333), NOW)
    assert len(targets) == 2 and peers[0] not in targets and peers[4] not in targets
    send_due(node)
    for peer, other in zip(peers[1:], others):
        assert addr_frames(other, wire_impl.module) == ([[legacy("40.1.1.1")]] if peer in targets else [])
    assert addr_frames(sender, wire_impl.module, 0.1) == []
    # Repeated the same day: the same targets, which know it now, so it goes nowhere.
    sender.send("addr", wire_impl.module.encode_addr([legacy("40.1.1.1")]))
    wait_for(lambda: node.gossip.counts(peers[0])[0] == 2)
    send_due(node)
    assert all(addr_frames(other, wire_impl.module, 0.2) == [] for other in others)
    # Not relayed: more than 10 at once, and unroutable addresses.
    sender.send("addr", wire_impl.module.encode_addr(spread(11, 100)))
    sender.send("addr", wire_impl.module.encode_addr([legacy("10.0.0.1")]))
    wait_for(lambda: node.gossip.counts(peers[0])[0] == 14)
    send_due(node)
    assert all(addr_frames(other, wire_impl.module, 0.2) == [] for other in others)


def test_relay_targets_hold_for_the_window_and_vary_by_address(node) -> None:
    enable_relay(node, *[node.connect() for _ in range(6)])
    origin, *rest = node.peers()
    picks = set()
    for i in range(40):
        address = PeerAddress.parse(f"41.{i}.1.1", 8333)
        targets = node.gossip.relay_targets(origin, address, NOW)
        assert node.gossip.relay_targets(origin, address, NOW) == targets and origin not in targets
        picks.add(tuple(peer.id for peer in targets))
        # Within a day of the window's start the choice holds (the window shifts by the hash).
        later = [node.gossip.relay_targets(origin, address, NOW + hour * 3600) for hour in range(0, 49, 6)]
        assert 1 <= len({tuple(t) for t in later}) <= 3
    assert len(picks) > 5  # different addresses, different peers


def test_relayed_addresses_are_trickled_in_one_message(node, wire_impl) -> None:
    sender, *others = [node.connect() for _ in range(3)]
    enable_relay(node, *others)  # their first send is due at once, and empty: the timer starts
    hosts = ["42.1.1.1", "42.2.1.1", "42.3.1.1"]
    for host in hosts:  # three messages in a row: both other peers get them together
        sender.send("addr", wire_impl.module.encode_addr([legacy(host)]))
    wait_for(lambda: node.gossip.counts(node.peers()[0])[0] == 3)
    assert all(addr_frames(other, wire_impl.module, 0.2) == [] for other in others)  # not due yet
    send_due(node)
    for other in others:
        frames = addr_frames(other, wire_impl.module, 0.3, first=10.0)
        assert [sorted(a.ip for a in frame) for frame in frames] == [sorted(legacy(h).ip for h in hosts)]


def test_getaddr_is_answered_once_with_addr_or_addrv2(node, wire_impl) -> None:
    feeder = node.connect()
    feeder.send("addr", wire_impl.module.encode_addr(spread(100, 300)))
    wait_for(lambda: len(node.addrman) >= 50)
    v1 = node.connect()
    v1.send("getaddr")
    answer = wire_impl.module.decode_addr(v1.receive("addr").payload)
    assert 0 < len(answer) <= len(node.addrman) * 23 // 100 + 1
    assert {a.ip for a in answer} <= {a.ip for a in spread(100, 300)}
    v1.send("getaddr")
    send_due(node)
    with pytest.raises(TimeoutError):
        v1.receive("addr", timeout=0.3)
    v2 = node.connect(addrv2=True)
    v2.send("getaddr")
    entries = wire_impl.module.decode_addrv2(v2.receive("addrv2").payload)
    assert entries and all(e.network_id == 1 and len(e.address) == 4 for e in entries)
    assert not any(f.command == "addr" for f in v2.received)


def test_outbound_peers_are_asked_and_their_answer_is_stored(wire_impl, tmp_path: Path) -> None:
    stores = [Store.open(tmp_path / name) for name in ("a", "b")]
    tables = [AddrMan(store, rng=random.Random(3)) for store in stores]
    now = int(tables[0]._clock())
    tables[0].add([TimedAddress(PeerAddress.parse(f"50.{i}.1.1", 8333), now - 60, 9) for i in range(40)],
                  PeerAddress.parse("60.1.1.1"))
    server = NetworkManager(LISTEN, wire=wire_impl.module, addrman=tables[0]).start()
    client = NetworkManager(ManagerConfig(peer=PEER), wire=wire_impl.module, addrman=tables[1]).start()
    try:
        client.add_peer(*server.address)
        wait_for(lambda: len(tables[1]) > 0)
        assert all(info.address.host.startswith("50.") for info, _ in tables[1].entries(False))
    finally:
        client.stop(timeout=1)
        server.stop(timeout=1)
        for store in stores:
            store.close()


def test_addrv2_codec_matches_the_spec(wire_impl) -> None:
    encode, decode = wire_impl.module.encode_addrv2, wire_impl.module.decode_addrv2
    entries = [
        AddrV2Entry(NOW, 9, 1, bytes([1, 2, 3, 4]), 8333),
        AddrV2Entry(NOW - 1, 0xFD00, 2, bytes(range(16)), 18444),
        AddrV2Entry(7, 1 << 40, 4, bytes(32), 0),
        AddrV2Entry(0, 0, 99, b"\x01\x02\x03", 1),  # unknown network: kept, any length
    ]
    payload = encode(entries)
    parsed = spec.parse_payload("addrv2", payload)
    assert [(e.time, e.services, e.network_id, e.address, e.port) for e in parsed.addresses] == \
        [(e.time, e.services, e.network_id, e.address, e.port) for e in entries]
    assert spec.build_payload("addrv2", parsed) == payload
    assert decode(payload) == entries
    for bad in (payload[:-1], payload + b"\x00", encode(entries[:1]).replace(b"\x01\x04", b"\x01\x05", 1) + b"\x00"):
        with pytest.raises(ProtocolError):
            decode(bad)
        with pytest.raises(ProtocolError):
            spec.parse_payload("addrv2", bad)
    assert PeerAddress.from_addrv2(4, bytes(32)).network == Network.ONION


@rate_limited_node
def test_getaddr_answers_come_from_a_cache_rebuilt_after_a_day(node, wire_impl) -> None:
    decode = wire_impl.module.decode_addr
    source = PeerAddress.parse("60.1.1.1")

    def learn(start: int) -> None:
        node.addrman.add([TimedAddress(PeerAddress(Network.IPV4, a.ip[12:], a.port), NOW, 9) for a in spread(100, start)],
                         source)

    learn(300)
    first = node.connect()
    first.send("getaddr")
    answer = {a.ip for a in decode(first.receive("addr").payload)}
    learn(1000)  # a new /8: 23.x
    second = node.connect()
    second.send("getaddr")
    assert {a.ip for a in decode(second.receive("addr").payload)} == answer  # the table grew; not the answer
    node.clock.now += 28 * 3600  # past Core's 21-27 h lifetime
    third = node.connect()
    third.send("getaddr")
    fresh = {a.ip for a in decode(third.receive("addr").payload)}
    assert fresh != answer and fresh & {a.ip for a in spread(100, 1000)}


def test_a_peer_with_the_addr_permission_gets_a_fresh_getaddr_answer(node, wire_impl) -> None:
    node.addrman.add([TimedAddress(PeerAddress.parse(f"61.{i}.1.1", 8333), NOW, 9) for i in range(200)],
                     PeerAddress.parse("60.1.1.1"))
    answers = []
    for _ in range(2):
        client = node.connect()
        client.send("getaddr")
        answers.append([a.ip for a in wire_impl.module.decode_addr(client.receive("addr").payload)])
    assert answers[0] != answers[1]  # 23% of 200, drawn anew for each


def test_a_repeated_getaddr_is_ignored_with_cores_log(node, wire_impl, caplog) -> None:
    caplog.set_level(logging.DEBUG, "pantheon.net.gossip")
    client = node.connect()
    client.send("getaddr")
    client.send("getaddr")
    wait_for(lambda: 'Ignoring repeated "getaddr". peer=' in caplog.text)


def far_end(listener: gevent.socket.socket, wire: Any, seen_as: str) -> RawClient:
    """Accept our outbound peer's connection and complete the handshake, saying we see it at
    `seen_as` (the version's addr_recv)."""
    listener.settimeout(WAIT)
    sock, _ = listener.accept()
    far = RawClient(0, wire, sock)
    far.receive("version")
    far.send("version", far.version(nonce=7, services=9, addr_recv=Endpoint.from_host(seen_as, 1)))
    far.send("verack")
    return far


@pytest.fixture
def listener() -> Iterator[gevent.socket.socket]:
    sock = gevent.socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    yield sock
    sock.close()


def test_outbound_peers_are_told_our_address_as_they_see_it_and_again_later(
        wire_impl, tmp_path: Path, listener: gevent.socket.socket) -> None:
    store = Store.open(tmp_path / "db")
    gossip = GossipConfig(relay_interval=0.05, advertise_interval=0.5)
    manager = NetworkManager(replace(LISTEN, gossip=gossip), wire=wire_impl.module, addrman=AddrMan(store)).start()
    try:
        manager.add_peer(*listener.getsockname())
        far = far_end(listener, wire_impl.module, "44.5.6.7")
        ours = (PeerAddress.parse("44.5.6.7").to_legacy(), manager.address[1])
        for _ in range(2):  # after the handshake, then on the (shrunk) 24 h timer
            sent = wire_impl.module.decode_addr(far.receive("addr", timeout=10.0).payload)
            assert [(a.ip, a.port, a.services) for a in sent] == [(*ours, PEER.services)]
        assert any(frame.command == "getaddr" for frame in far.received)
        far.close()
    finally:
        manager.stop(timeout=1)
        store.close()


def test_the_external_address_is_advertised_and_inbound_peers_are_not_told(
        wire_impl, tmp_path: Path, listener: gevent.socket.socket) -> None:
    store = Store.open(tmp_path / "db")
    gossip = GossipConfig(relay_interval=0.05, external=PeerAddress.parse("45.1.2.3", 18555))
    manager = NetworkManager(replace(LISTEN, gossip=gossip), wire=wire_impl.module, addrman=AddrMan(store)).start()
    inbound = RawClient(manager.address[1], wire_impl.module)
    try:
        inbound.handshake()
        manager.add_peer(*listener.getsockname())
        far = far_end(listener, wire_impl.module, "44.5.6.7")
        sent = wire_impl.module.decode_addr(far.receive("addr").payload)
        assert [(a.ip, a.port) for a in sent] == [(PeerAddress.parse("45.1.2.3").to_legacy(), 18555)]
        with pytest.raises(TimeoutError):
            inbound.receive("addr", timeout=0.3)
        far.close()
    finally:
        inbound.close()
        manager.stop(timeout=1)
        store.close()


def test_nothing_is_advertised_without_a_listener_or_when_switched_off(
        wire_impl, tmp_path: Path, listener: gevent.socket.socket) -> None:
    store = Store.open(tmp_path / "db")
    configs = [ManagerConfig(peer=PEER, gossip=GOSSIP),
               replace(LISTEN, gossip=GossipConfig(relay_interval=0.05, advertise=False))]
    try:
        for config in configs:
            manager = NetworkManager(config, wire=wire_impl.module, addrman=AddrMan(store)).start()
            try:
                manager.add_peer(*listener.getsockname())
                far = far_end(listener, wire_impl.module, "44.5.6.7")
                far.receive("getaddr")
                with pytest.raises(TimeoutError):
                    far.receive("addr", timeout=0.3)
                far.close()
            finally:
                manager.stop(timeout=1)
    finally:
        store.close()


@rate_limited_node
def test_one_token_is_enough_to_relay_a_fresh_address(node, wire_impl) -> None:
    """Core's rotation test: peers without the addr permission, one address per message."""
    sender, *others = [node.connect() for _ in range(3)]
    for client in (sender, *others):
        client.send("getaddr")  # relay on, and the (empty) answer starts each send timer
    wait_for(lambda: all(node.gossip.relay_enabled(peer) for peer in node.peers()))
    sender.send("addr", wire_impl.module.encode_addr([legacy("43.1.1.1", seen=NOW + 600)]))
    wait_for(lambda: node.gossip.counts(node.peers()[0]) == (1, 0))
    send_due(node)
    assert sorted(len(addr_frames(other, wire_impl.module, 0.3)) for other in others) == [1, 1]


def test_getaddr_caches_are_kept_per_network_and_local_socket(wire_impl, tmp_path: Path) -> None:
    """Core keys its getaddr cache by the network the peer came through (Tor for an onion bind)
    and the local address and port it reached: answers differ between binds, not within one."""
    store = Store.open(tmp_path / "db")
    clock = Clock()
    addrman = AddrMan(store, clock=clock, rng=random.Random(1))
    addrman.add([TimedAddress(PeerAddress.parse(f"62.{i}.1.1", 8333), NOW, 9) for i in range(200)],
                PeerAddress.parse("60.1.1.1"))
    config = replace(LISTEN, more_listen=(("127.0.0.1", 0, True),))
    manager = NetworkManager(config, wire=wire_impl.module, addrman=addrman, clock=clock, rng=random.Random(2)).start()
    ports = {"plain": manager.address[1], "onion": manager._more_servers[0].server_port}
    answers: dict[str, list[list[bytes]]] = {"plain": [], "onion": []}
    clients = []
    try:
        for _ in range(2):
            for name, port in ports.items():
                client = RawClient(port, wire_impl.module)
                client.handshake()
                client.send("getaddr")
                answers[name].append([a.ip for a in wire_impl.module.decode_addr(client.receive("addr").payload)])
                clients.append(client)
        assert answers["plain"][0] == answers["plain"][1] and answers["onion"][0] == answers["onion"][1]
        assert answers["plain"][0] != answers["onion"][0]
        onion_peers = [peer for peer in manager.peers() if peer.inbound_onion]
        assert len(onion_peers) == 2
    finally:
        for client in clients:
            client.close()
        manager.stop(timeout=1)
        store.close()
