"""Address gossip against a real, independent node: bcoin 1.0.2 on regtest (tests/helpers/bcoin.py;
skipped without bcoin, a failure under CI=true).

A feeding manager tells bcoin five routable addresses (addr); then one manager per wire twin
dials bcoin, sends its getaddr after the handshake as Core does, and bcoin's addr answer
reaches that manager's AddrMan (LevelDB). The connections then stay up 10 s without a ban.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType

import gevent

from helpers.bcoin import BCOIN_PEER, BcoinNode
from pantheon.net.address import PeerAddress, TimedAddress
from pantheon.net.addrman import AddrMan
from pantheon.net.manager import ManagerConfig, NetworkManager
from pantheon.net.peer import PeerState
from pantheon.store import Store
from helpers.net import CORE_DETERMINISTIC_KEY
from helpers.waiting import BCOIN_WAIT, wait_for

HOSTS = [PeerAddress.parse(f"{60 + i}.1.2.3", 8333) for i in range(5)]
SOAK_SECONDS = 10.0


def test_getaddr_to_bcoin_fills_our_addrman_and_no_ban(bcoin: BcoinNode, tmp_path: Path,
                                                        wire_twins: list[ModuleType]) -> None:
    stores: list[Store] = []
    managers: list[NetworkManager] = []

    def manager(wire: ModuleType) -> NetworkManager:
        store = Store.open(tmp_path / f"db{len(stores)}")
        stores.append(store)
        addrman = AddrMan(store, secret=CORE_DETERMINISTIC_KEY)  # the five must not share a slot
        made = NetworkManager(ManagerConfig(peer=BCOIN_PEER), wire=wire, addrman=addrman).start()
        managers.append(made)
        return made

    try:
        feeder = manager(wire_twins[0])
        peer = feeder.add_peer("127.0.0.1", bcoin.p2p_port)
        assert peer is not None and feeder.gossip is not None
        wait_for(lambda: peer.state is PeerState.CONNECTED, BCOIN_WAIT)
        now = int(time.time())
        assert feeder.gossip.send(peer, [TimedAddress(host, now - 60, 9) for host in HOSTS]) == 5
        wait_for(lambda: "Received 5 addrs" in bcoin.log_path.read_text(errors="replace"), BCOIN_WAIT)
        receivers = [manager(wire) for wire in wire_twins]
        peers = [receiver.add_peer("127.0.0.1", bcoin.p2p_port) for receiver in receivers]
        for receiver in receivers:
            assert receiver.addrman is not None
            wait_for(lambda: len(receiver.addrman) == len(HOSTS), BCOIN_WAIT)
            assert {info.address for info, _ in receiver.addrman.entries(False)} == set(HOSTS)
            assert receiver.addrman.get(HOSTS[0]).source == PeerAddress.parse("127.0.0.1")
        until = time.monotonic() + SOAK_SECONDS
        while time.monotonic() < until:
            for ours in peers:
                assert ours is not None and ours.state is PeerState.CONNECTED, ours and ours.close_reason
            gevent.sleep(0.2)
        for ours in peers:
            assert ours is not None and bcoin.peer_at(ours._sock.getsockname()[1]) is not None
            assert ours.counters["misbehaving"] == 0
        assert bcoin.rpc("listbanned") == []
        log = bcoin.log_path.read_text(errors="replace")
        assert "Ban threshold exceeded" not in log and "Banning peer" not in log
    finally:
        for made in managers:
            made.stop(timeout=1)
        for store in stores:
            store.close()
