"""Which inbound peer to drop when inbound slots are full: Bitcoin Core's `SelectNodeToEvict`
(node/eviction.cpp), step for step, so that an attacker who fills our slots cannot push out the
peers that are hard to fake: diverse network groups, low latency, recent useful relay, long uptime.

Protected in order (each step sorts the remaining candidates and removes its best from the list):
  4 by keyed network group (the key is secret per node, so which groups win cannot be predicted),
  8 with the lowest minimum ping, 4 that most recently relayed a new transaction, up to 8
  block-relay-only peers that most recently relayed a block, 4 that most recently relayed a block,
  then half of the rest: up to a quarter by disadvantaged network (CJDNS, localhost, I2P, Tor),
  the remainder by longest uptime.
Of what is left, discouraged peers (prefer_evict) go first; then the network group with the most
connections (ties: the group with the youngest member) loses its youngest member.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from pantheon.net.address import Network

__all__ = ["EvictionCandidate", "keyed_netgroup", "select_to_evict"]

_INF = float("inf")


@dataclass(frozen=True)
class EvictionCandidate:
    """What eviction knows of one inbound peer. Times are seconds on one clock; 0 is never."""

    id: int
    connected: float
    min_ping: float | None
    last_block: float
    last_tx: float
    keyed_netgroup: int
    relay_txs: bool
    relevant_services: bool
    prefer_evict: bool = False
    is_local: bool = False
    network: Network = Network.IPV4


def keyed_netgroup(key: bytes, netgroup: bytes) -> int:
    """A network group hashed under the node's secret key (Core uses SipHash; any keyed hash
    serves: only the order it gives matters, and it must not be predictable)."""
    return int.from_bytes(hashlib.blake2b(netgroup, key=key, digest_size=8).digest(), "little")


def _erase_last(candidates: list[EvictionCandidate], key: Callable[[EvictionCandidate], Any], k: int,
                predicate: Callable[[EvictionCandidate], bool] = lambda candidate: True) -> None:
    """Core's EraseLastKElements: sort by `key`, drop those of the last `k` that match `predicate`."""
    candidates.sort(key=key)
    size = min(k, len(candidates))
    tail = candidates[len(candidates) - size:]
    del candidates[len(candidates) - size:]
    candidates.extend(candidate for candidate in tail if not predicate(candidate))


def _by_network_time(is_local: bool, network: Network | None) -> Callable[[EvictionCandidate], Any]:
    def key(candidate: EvictionCandidate) -> tuple[bool, bool, float]:
        return (is_local and candidate.is_local, candidate.network == network, -candidate.connected)
    return key


def _protect_by_ratio(candidates: list[EvictionCandidate]) -> None:
    """Core's ProtectEvictionCandidatesByRatio: protect half, a quarter of all at most by network."""
    total_protect = len(candidates) // 2
    # (is_local, network): earlier entries win ties when unused slots are handed on.
    # The localhost entry matches no network (Core: NET_MAX).
    networks: list[tuple[bool, Network | None]] = [
        (False, Network.CJDNS), (True, None), (False, Network.I2P), (False, Network.ONION)]

    def matches(is_local: bool, network: Network | None) -> Callable[[EvictionCandidate], bool]:
        return (lambda c: c.is_local) if is_local else (lambda c: c.network == network)

    counts = {net: sum(1 for c in candidates if matches(*net)(c)) for net in networks}
    networks.sort(key=lambda net: counts[net])  # stable: fewer candidates first
    max_by_network = total_protect // 2
    protected = 0
    while protected < max_by_network:
        with_peers = [net for net in networks if counts[net]]
        if not with_peers:
            break
        per_network = max((max_by_network - protected) // len(with_peers), 1)
        progress = False
        for net in networks:
            if not counts[net]:
                continue
            before = len(candidates)
            _erase_last(candidates, _by_network_time(*net), per_network, matches(*net))
            delta = before - len(candidates)
            if delta:
                progress = True
                protected += delta
                if protected >= max_by_network:
                    break
                counts[net] -= delta
        if not progress:
            break
    _erase_last(candidates, lambda c: -c.connected, total_protect - protected)


def select_to_evict(candidates: Sequence[EvictionCandidate]) -> int | None:
    """The id of the inbound peer to evict, or None when every candidate is protected."""
    left = list(candidates)
    _erase_last(left, lambda c: c.keyed_netgroup, 4)
    _erase_last(left, lambda c: -(_INF if c.min_ping is None else c.min_ping), 8)
    _erase_last(left, lambda c: (c.last_tx, c.relay_txs, -c.connected), 4)
    _erase_last(left, lambda c: (not c.relay_txs, c.last_block, c.relevant_services, -c.connected), 8,
                lambda c: not c.relay_txs and c.relevant_services)
    _erase_last(left, lambda c: (c.last_block, c.relevant_services, -c.connected), 4)
    _protect_by_ratio(left)  # leaves the youngest first
    if not left:
        return None
    if any(c.prefer_evict for c in left):
        left = [c for c in left if c.prefer_evict]
    groups: dict[int, list[EvictionCandidate]] = {}
    most, most_time, chosen = 0, 0.0, 0
    for candidate in left:
        group = groups.setdefault(candidate.keyed_netgroup, [])
        group.append(candidate)
        if len(group) > most or (len(group) == most and group[0].connected > most_time):
            most, most_time, chosen = len(group), group[0].connected, candidate.keyed_netgroup
    return groups[chosen][0].id
