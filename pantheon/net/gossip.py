"""Address gossip: addr, addrv2 and getaddr between the peers of one manager (Core's
net_processing), feeding and reading the `AddrMan`.

Received addresses are rate limited per peer by Core's token bucket (0.1 address per second,
at most 1,000 tokens; the excess is dropped and counted, never an error), their timestamps are
fixed up as Core does (before 1973 or more than 10 minutes ahead: now - 5 days), they enter
AddrMan with the peer as source and a 2-hour penalty, and a small fresh announcement (≤ 10
addresses) has its routable recent addresses relayed to 1 or 2 other peers at random (Core
picks them deterministically per day and trickles them; sending at once is simpler and not
observable to a single peer). getaddr is answered once per inbound connection; a peer that
sent sendaddrv2 gets addrv2, others addr with only the addresses addr can carry.
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field
from types import ModuleType
from typing import Callable, Iterable, Mapping

import pantheon.wire
from pantheon import limits
from pantheon.frames import Frame
from pantheon.net import messages
from pantheon.net.address import BIP155_IDS, PeerAddress, TimedAddress
from pantheon.net.addrman import AddrMan
from pantheon.net.peer import Handler, Peer, PeerState
from pantheon.primitives import NetAddress

__all__ = ["ADDR_RATE", "ADDR_BURST", "TIME_PENALTY", "AddrGossip", "fix_time"]

log = logging.getLogger("pantheon.net.gossip")

ADDR_RATE = 0.1  # Core MAX_ADDR_RATE_PER_SECOND
ADDR_BURST = float(limits.MAX_ADDR)  # Core MAX_ADDR_PROCESSING_TOKEN_BUCKET
TIME_PENALTY = 2 * 60 * 60  # Core: addresses a peer relays are aged 2 hours
_MIN_TIME = 100_000_000  # Core: an earlier timestamp is nonsense
_FUTURE = 10 * 60
_FALLBACK_AGE = 5 * 24 * 60 * 60
_RELAY_MAX_ENTRIES = 10  # Core relays only announcements this small
_KNOWN_MAX = 5_000  # Core's m_addr_known holds 5,000


def fix_time(timestamp: int, now: int) -> int:
    """Core's fix-up of a gossiped timestamp: absurd or future ones become 5 days old."""
    if timestamp <= _MIN_TIME or timestamp > now + _FUTURE:
        return now - _FALLBACK_AGE
    return timestamp


@dataclass
class _PeerGossip:
    """Per-peer gossip state (Core's Peer::m_addr_*)."""

    tokens: float
    refilled_at: float
    getaddr_answered: bool = False
    known: set[PeerAddress] = field(default_factory=set)
    known_order: deque[PeerAddress] = field(default_factory=deque)

    def remember(self, address: PeerAddress) -> None:
        """Addresses the peer has or was sent are not sent to it again (bounded, oldest out)."""
        if address in self.known:
            return
        self.known.add(address)
        self.known_order.append(address)
        if len(self.known_order) > _KNOWN_MAX:
            self.known.discard(self.known_order.popleft())


class AddrGossip:
    """The addr/addrv2/getaddr handlers of one manager.

    peers   returns the manager's connected peers (relay targets).
    clock   Unix seconds, for timestamps and the token bucket (tests inject it).
    """

    def __init__(self, addrman: AddrMan, peers: Callable[[], Iterable[Peer]], *,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None,
                 wire: ModuleType = pantheon.wire) -> None:
        self.addrman = addrman
        self._peers = peers
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._wire = wire
        self._state: dict[int, _PeerGossip] = {}

    @property
    def handlers(self) -> Mapping[str, Handler]:
        return {"addr": self._on_addr, "addrv2": self._on_addrv2, "getaddr": self._on_getaddr}

    def state(self, peer: Peer) -> _PeerGossip:
        state = self._state.get(peer.id)
        if state is None:
            state = self._state[peer.id] = _PeerGossip(ADDR_BURST, self._clock())
        return state

    def forget(self, peer: Peer) -> None:
        self._state.pop(peer.id, None)

    # --- receiving --------------------------------------------------------------------------

    def _on_addr(self, peer: Peer, frame: Frame) -> None:
        entries = []
        for entry in self._wire.decode_addr(frame.payload):
            address = PeerAddress.from_legacy(entry.ip, entry.port)
            if address is not None:
                entries.append(TimedAddress(address, entry.time, entry.services))
        self.receive(peer, entries, len(entries))

    def _on_addrv2(self, peer: Peer, frame: Frame) -> None:
        decoded = messages.decode_addrv2(frame.payload)
        entries = []
        for entry in decoded:
            try:
                address = PeerAddress.from_addrv2(entry.network_id, entry.address, entry.port)
            except ValueError:
                continue
            if address is not None:
                entries.append(TimedAddress(address, entry.time, entry.services))
        self.receive(peer, entries, len(decoded))

    def receive(self, peer: Peer, entries: list[TimedAddress], announced: int) -> int:
        """Rate-limit, fix up, store and relay what `peer` announced; returns how many were kept."""
        state = self.state(peer)
        now_f = self._clock()
        state.tokens = min(state.tokens + (now_f - state.refilled_at) * ADDR_RATE, ADDR_BURST)
        state.refilled_at = now_f
        now = int(now_f)
        kept: list[TimedAddress] = []
        relay: list[TimedAddress] = []
        for entry in entries:
            if state.tokens < 1.0:
                peer.counters["addr rate limited"] += 1
                continue
            state.tokens -= 1.0
            entry = TimedAddress(entry.address, fix_time(entry.time, now), entry.services)
            state.remember(entry.address)
            kept.append(entry)
            if announced <= _RELAY_MAX_ENTRIES and entry.time > now - _FUTURE and entry.address.is_routable:
                relay.append(entry)
        peer.counters["addr received"] += len(kept)
        if kept:
            self.addrman.add(kept, PeerAddress.from_ip(peer.address[0]), TIME_PENALTY)
        for entry in relay:
            self._relay(peer, entry)
        return len(kept)

    def _relay(self, origin: Peer, entry: TimedAddress) -> None:
        """Send one address to 1 or 2 random other connected peers that do not know it."""
        targets = [p for p in self._peers() if p is not origin and p.state is PeerState.CONNECTED
                   and entry.address not in self.state(p).known]
        for target in self._rng.sample(targets, min(len(targets), self._rng.choice((1, 2)))):
            self.send(target, [entry])

    # --- sending ----------------------------------------------------------------------------

    def send(self, peer: Peer, entries: list[TimedAddress]) -> int:
        """Send addresses as addrv2 (if the peer asked) or addr; returns how many were sent."""
        state = self.state(peer)
        if peer.wants_addrv2:
            sent = [e for e in entries if e.address.network in BIP155_IDS][: limits.MAX_ADDR]
            if sent:
                peer.send("addrv2", messages.encode_addrv2(
                    [messages.AddrV2Entry(e.time & 0xFFFFFFFF, e.services, *e.address.to_addrv2(), e.address.port)
                     for e in sent]))
        else:
            sent = [e for e in entries if e.address.network in BIP155_IDS and e.address.addrv1_compatible]
            sent = sent[: limits.MAX_ADDR]
            if sent:
                peer.send("addr", self._wire.encode_addr(
                    [NetAddress(e.time & 0xFFFFFFFF, e.services, e.address.to_legacy(), e.address.port)
                     for e in sent]))
        for entry in sent:
            state.remember(entry.address)
        return len(sent)

    def _on_getaddr(self, peer: Peer, frame: Frame) -> None:
        """Core answers only inbound peers (no fingerprinting of our outbound ones), once."""
        if not peer.inbound:
            peer.counters["getaddr ignored"] += 1
            return
        state = self.state(peer)
        if state.getaddr_answered:
            peer.counters["getaddr ignored"] += 1
            return
        state.getaddr_answered = True
        self.send(peer, self.addrman.get_addresses())
