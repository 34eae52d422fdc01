"""Core's inbound eviction (`pantheon.net.eviction`): what each protection keeps and who goes."""

from __future__ import annotations

from dataclasses import replace

from pantheon.net.address import Network
from pantheon.net.eviction import EvictionCandidate, keyed_netgroup, select_to_evict


def crowd(size: int, group: int = 1, **fields) -> list[EvictionCandidate]:
    """`size` peers in one network group, connected at 1, 2, ...; no ping, no relay, tx relay on."""
    base = dict(min_ping=None, last_block=0.0, last_tx=0.0, keyed_netgroup=group, relay_txs=True,
                relevant_services=True)
    base.update(fields)
    return [EvictionCandidate(id=index, connected=float(index), **base) for index in range(1, size + 1)]


def test_too_few_candidates_are_all_protected() -> None:
    assert select_to_evict([]) is None
    assert select_to_evict(crowd(4)) is None


def test_the_youngest_of_the_largest_group_goes() -> None:
    peers = crowd(30)
    assert select_to_evict(peers) == 30 - 4 - 8  # netgroup and ping protect the 12 youngest (stable sorts)
    others = [replace(peer, id=100 + peer.id, keyed_netgroup=2 + peer.id) for peer in crowd(3)]
    assert select_to_evict(peers + others) in {peer.id for peer in peers}


def test_low_ping_and_recent_relay_are_protected() -> None:
    peers = crowd(40)
    fast = {35, 36, 37, 38, 39, 40, 33, 34}
    relayed_tx, relayed_block = {31, 32, 30, 29}, {25, 26, 27, 28}
    peers = [replace(p, min_ping=0.001 * p.id) if p.id in fast else p for p in peers]
    peers = [replace(p, last_tx=100.0 + p.id) if p.id in relayed_tx else p for p in peers]
    peers = [replace(p, last_block=100.0 + p.id) if p.id in relayed_block else p for p in peers]
    evicted = select_to_evict(peers)
    assert evicted is not None and evicted not in fast | relayed_tx | relayed_block


def test_block_relay_only_peers_that_relayed_blocks_are_protected() -> None:
    peers = [replace(p, relay_txs=False, last_block=50.0 + p.id) for p in crowd(40)]
    assert select_to_evict(peers) not in range(25, 41)


def test_discouraged_peers_go_first_and_uptime_protects() -> None:
    peers = crowd(40)
    unflagged = select_to_evict(peers)
    peers[0] = replace(peers[0], prefer_evict=True, keyed_netgroup=0)  # the oldest, in its own group
    assert select_to_evict(peers) == unflagged == 28  # its uptime protects it, as in Core
    peers[5] = replace(peers[5], prefer_evict=True, connected=1000.0, keyed_netgroup=0)
    assert select_to_evict(peers) == 6


def test_disadvantaged_networks_are_protected_by_ratio() -> None:
    peers = crowd(40)
    onion = {p.id for p in peers if p.id % 10 == 0}
    peers = [replace(p, network=Network.ONION) if p.id in onion else p for p in peers]
    local = [replace(p, is_local=True) for p in peers]
    for candidates in (peers, local):
        seen = set()
        left = list(candidates)
        while (evicted := select_to_evict(left)) is not None:
            seen.add(evicted)
            left = [p for p in left if p.id != evicted]
        assert seen and len(left) >= 4 + 8 + 4 + 4
    assert onion & {p.id for p in left}  # some onion peers outlast the evictions


def test_keyed_netgroup_depends_on_the_key() -> None:
    group = bytes([1, 203, 0])
    assert keyed_netgroup(b"a" * 16, group) == keyed_netgroup(b"a" * 16, group)
    assert keyed_netgroup(b"a" * 16, group) != keyed_netgroup(b"b" * 16, group)
