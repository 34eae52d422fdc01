"""Outbound slot refill and seeding from discovery (`NetworkManager.refill`, `seed`,
`seed_from`) over loopback sockets, with an AddrMan on LevelDB, against both wire twins.

AddrMan keeps only routable addresses, so the table holds public addresses in chosen /16s
whose port is a real Pantheon listener's, and the manager's `route` dials them on 127.0.0.1:
the one-outbound-per-netgroup rule then runs on the real netgroups. The `auto_outbound` switch
is driven end to end: DNS seeds from the real dnsmasq of tests/net/conftest.py, then fixed seeds."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import gevent.socket
import pytest

from pantheon import params
from pantheon.net.address import PeerAddress, TimedAddress
from pantheon.net.addrman import AddrMan
from pantheon.net.discovery import Discovery, Endpoint, Lookup, fixed_seeds
from pantheon.net.manager import ManagerConfig, NetworkManager
from pantheon.net.peer import PeerState
from pantheon.store import Store
from helpers.dns import RECORDS
from helpers.net import CORE_DETERMINISTIC_KEY, LISTEN
from helpers.waiting import wait_for


def loopback(address: PeerAddress) -> tuple[str, int]:
    return "127.0.0.1", address.port


@pytest.fixture
def setup(wire_impl, tmp_path: Path) -> Iterator[Any]:
    """(make a listener, an AddrMan on LevelDB, make the dialling manager)."""
    store = Store.open(tmp_path / "db")
    addrman = AddrMan(store, rng=random.Random(4), secret=CORE_DETERMINISTIC_KEY)
    made: list[NetworkManager] = []

    def listener() -> NetworkManager:
        manager = NetworkManager(LISTEN, wire=wire_impl.module).start()
        made.append(manager)
        return manager

    def dialer(**config: Any) -> NetworkManager:
        manager = NetworkManager(replace(ManagerConfig(peer=LISTEN.peer), **config), wire=wire_impl.module,
                                 addrman=addrman, route=loopback, rng=random.Random(5)).start()
        made.append(manager)
        return manager

    yield listener, addrman, dialer
    for manager in made:
        manager.stop(timeout=1)
    store.close()



def test_refill_dials_one_per_netgroup_and_marks_good(setup) -> None:
    listener, addrman, dialer = setup
    listeners = [listener() for _ in range(4)]
    with gevent.socket.socket() as dead:  # a port nobody listens on
        dead.bind(("127.0.0.1", 0))
        dead_port = dead.getsockname()[1]
    hosts = ["20.1.1.1", "20.1.200.2", "21.1.1.1", "22.1.1.1"]  # the first two share a /16
    addresses = [PeerAddress.parse(host, node.address[1]) for host, node in zip(hosts, listeners)]
    dead_address = PeerAddress.parse("23.1.1.1", dead_port)
    # Each from its own source /16: two addresses of one /16 from one source share a new-table
    # bucket, where their ports (the OS's choice) may collide (1 in 64) and one would be dropped.
    for index, address in enumerate([*addresses, dead_address]):
        addrman.add([TimedAddress(address, 1_700_000_000, 9)], PeerAddress.parse(f"30.{index}.1.1"))
    assert len(addrman) == 5
    node = dialer(auto_outbound=True, refill_interval=0.05)
    wait_for(lambda: len(node.peers(PeerState.CONNECTED)) == 3 and addrman.get(dead_address).last_try)
    gevent.sleep(0.3)  # further refills must not add a second peer in 20.1/16
    connected = node.peers(PeerState.CONNECTED)
    assert len(connected) == 3
    groups = [node._outbound[peer.id].netgroup() for peer in connected]
    assert len(set(groups)) == 3
    tried = {info.address for info, _ in addrman.entries(True)}
    assert tried == {node._outbound[peer.id] for peer in connected}
    # The dead address failed and was never promoted. It may be dialled again within one refill
    # after 30 tries (Core's rule), and Core's Attempt counts a new attempt only if a good()
    # came after the last counted one: with 3 good() calls, 1 to 4 counted attempts.
    dead = addrman.get(dead_address)
    assert 1 <= dead.attempts <= 1 + len(connected) and dead.last_try and not dead.tried
    assert all(info.services & 9 == 9 for info, _ in addrman.entries(True))


def test_refill_stops_at_max_outbound_and_refills_after_a_loss(setup) -> None:
    listener, addrman, dialer = setup
    listeners = [listener() for _ in range(3)]
    addrman.add([TimedAddress(PeerAddress.parse(f"{40 + i}.1.1.1", node.address[1]), 1_700_000_000, 9)
                 for i, node in enumerate(listeners)], PeerAddress.parse("30.1.1.1"))
    node = dialer(max_outbound=2)
    assert node.refill() == 2
    assert node.refill() == 0
    wait_for(lambda: len(node.peers(PeerState.CONNECTED)) == 2)
    first = node.peers()[0]
    first.close("test: lost")
    wait_for(lambda: node.refill() == 1, timeout=2)  # after 30 tries the recently tried are allowed
    wait_for(lambda: len(node.peers(PeerState.CONNECTED)) == 2)


def test_refill_without_addresses_does_nothing(setup) -> None:
    _, addrman, dialer = setup
    node = dialer()
    assert node.refill() == 0 and not node.peers()


def test_discovery_results_seed_an_empty_addrman(setup) -> None:
    _, addrman, dialer = setup
    node = dialer()
    endpoints = (Endpoint(IPv4Address("20.1.1.1"), 8333), Endpoint(IPv4Address("21.2.2.2"), 8333))
    result = Discovery("main", 9, endpoints + (Endpoint(IPv4Address("127.0.0.1"), 8333),),
                       (Lookup("seed.example", "x9.seed.example", endpoints),
                        Lookup("other.example", "x9.other.example", (Endpoint(IPv4Address("127.0.0.1"), 8333),))))
    assert node.seed_from(result) == 2  # the loopback one is not routable
    info = addrman.get(PeerAddress.parse("20.1.1.1", 8333))
    assert info is not None and info.source == PeerAddress.internal("seed.example") and info.services == 9
    now = int(addrman._clock())
    assert now - 7 * 86400 <= info.time <= now - 3 * 86400
    assert node.seed_from(result) == 0  # only an empty table is seeded
    assert node.seed([Endpoint(IPv4Address("22.1.1.1"), 8333)]) == 0


def test_auto_outbound_seeds_from_the_dns_seeds_and_fills_the_slots(wire_impl, setup, dns_server) -> None:
    """The one switch: dnsmasq -> discover -> AddrMan -> outbound connections, started by start()."""
    listener, addrman, _ = setup
    target = listener()
    config = replace(ManagerConfig(peer=LISTEN.peer), auto_outbound=True, refill_interval=0.05,
                     dns_seeds=("public.example",), dns_seed_services=None, resolver=dns_server.resolver())
    node = NetworkManager(config, wire=wire_impl.module, addrman=addrman,
                          route=lambda address: ("127.0.0.1", target.address[1])).start()
    try:
        wait_for(lambda: len(node.peers(PeerState.CONNECTED)) == 1)
        assert {info.address.host for info, _ in addrman.entries(False)} | {
            info.address.host for info, _ in addrman.entries(True)} == set(RECORDS["public.example"])
        assert addrman.get(PeerAddress.parse("20.1.2.3", 18444)).source == PeerAddress.internal("public.example")
        assert target.count(inbound=True) == 1
    finally:
        node.stop(timeout=1)


def test_auto_outbound_falls_back_to_the_fixed_seeds(wire_impl, setup, dns_server) -> None:
    """No answer from the DNS seeds: the fixed seeds (mainnet's) fill the AddrMan and are dialled."""
    _, addrman, _ = setup
    peer = replace(LISTEN.peer, network=params.MAIN)
    target = NetworkManager(replace(LISTEN, peer=peer), wire=wire_impl.module).start()
    config = replace(ManagerConfig(peer=peer), auto_outbound=True, refill_interval=0.05, dns_seeds=("nx.example",),
                     resolver=dns_server.resolver(), fixed_seeds_after=0.2)
    node = NetworkManager(config, wire=wire_impl.module, addrman=addrman,
                          route=lambda address: ("127.0.0.1", target.address[1])).start()
    try:
        wait_for(lambda: len(node.peers(PeerState.CONNECTED)) == 1)
        seeds = {PeerAddress.from_ip(seed.ip, seed.port) for seed in fixed_seeds(params.MAIN)}
        # Every seed is offered; two may hash to the same bucket slot under this run's random
        # secret, and then only one is kept (Core's AddrMan does the same).
        kept = {info.address: info for tried in (False, True) for info, _ in addrman.entries(tried)}
        assert len(seeds) - 2 <= len(kept) <= len(seeds) and set(kept) <= seeds
        assert all(info.source == PeerAddress.internal("fixedseeds") for info in kept.values())
    finally:
        node.stop(timeout=1)
        target.stop(timeout=1)


def test_a_feeler_opens_only_with_the_slots_full_and_moves_a_new_address_to_tried(setup, caplog) -> None:
    """Core's feeler: a short connection, closed at the version, that proves an address answers."""
    listener, addrman, dialer = setup
    full, other = listener(), listener()
    addrman.add([TimedAddress(PeerAddress.parse("40.1.1.1", full.address[1]), 1_700_000_000, 9)],
                PeerAddress.parse("30.1.1.1"))
    node = dialer(max_outbound=1)
    assert node.feel() is None  # the outbound slots are not full: no feeler
    assert node.refill() == 1
    wait_for(lambda: len(node.peers(PeerState.CONNECTED)) == 1)
    fresh = PeerAddress.parse("41.1.1.1", other.address[1])
    addrman.add([TimedAddress(fresh, 1_700_000_000, 9)], PeerAddress.parse("30.1.1.1"))
    feeler = node.feel()
    assert feeler is not None and feeler.connection_type == "feeler"
    assert feeler.join(3) and feeler.close_reason == "feeler connection completed"
    wait_for(lambda: addrman.get(fresh).tried)
    assert node.feel() is None  # the next one waits for the (random, two-minute mean) interval
    assert len(node.peers(PeerState.CONNECTED)) == 1  # a feeler takes no outbound slot


def test_a_feeler_settles_a_tried_collision_in_favour_of_an_occupant_that_answers(setup) -> None:
    """Test-before-evict: the occupant of a contested tried slot is tried first; it answers, so
    it stays and the newcomer stays in new."""
    listener, addrman, dialer = setup
    occupant_node = listener()
    # Core's deterministic key puts 250.1.1.19 and 250.1.1.36 (port 0) in one tried slot; here the
    # pair keeps the collision with the occupant's real port (found by search under the same key).
    first, second = _tried_colliders(addrman, occupant_node.address[1])
    addrman.add([TimedAddress(first, 1_700_000_000, 9), TimedAddress(second, 1_700_000_000, 9)],
                PeerAddress.parse("30.1.1.1"))
    now = int(addrman._clock())
    assert addrman.good(first, now=now - 5 * 3600)  # last heard of five hours ago
    assert not addrman.good(second)  # the second collides with the first
    assert addrman.select_tried_collision().address == first
    # Tried an hour ago without an answer: without a new answer Core's rules evict it.
    addrman.attempt(first, count_failure=False, now=now - 3600)
    node = dialer(max_outbound=0)
    feeler = node.feel()
    assert feeler is not None and feeler.address == ("127.0.0.1", first.port)
    assert feeler.join(3)
    wait_for(lambda: addrman.get(first).last_success >= int(addrman._clock()) - 5)
    addrman.resolve_collisions()
    assert addrman.select_tried_collision() is None
    assert addrman.get(first).tried and not addrman.get(second).tried


def _tried_colliders(addrman: AddrMan, port: int) -> tuple[PeerAddress, PeerAddress]:
    """Two routable addresses on `port` that share a tried slot under this table's key."""
    slots: dict[int, PeerAddress] = {}
    for n in range(1, 65536):
        address = PeerAddress.parse(f"50.{n >> 8}.{n & 255}.1", port)
        slot = addrman._tried_slot(address)
        if slot in slots:
            return slots[slot], address
        slots[slot] = address
    raise AssertionError("no two addresses share a tried slot")


def test_an_outbound_peer_that_goes_refreshes_its_address_time(setup) -> None:
    """Core's FinalizeNode calls AddrMan's Connected for a successful outbound connection."""
    listener, addrman, dialer = setup
    target = listener()
    address = PeerAddress.parse("40.1.1.1", target.address[1])
    addrman.add([TimedAddress(address, 1_700_000_000, 9)], PeerAddress.parse("30.1.1.1"))
    node = dialer(max_outbound=1)
    assert node.refill() == 1
    wait_for(lambda: len(node.peers(PeerState.CONNECTED)) == 1)
    node.peers()[0].close("test: done")
    wait_for(lambda: addrman.get(address).time > 1_700_000_000)
