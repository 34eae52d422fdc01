"""Address gossip: addr, addrv2 and getaddr between the peers of one manager (Core's
net_processing), feeding and reading the `AddrMan`.

Address relay is enabled per peer as Core's SetupAddressRelay does: for an outbound peer (not a
block-relay-only one) at the handshake, for an inbound one on its first addr, addrv2 or getaddr;
a peer without it is sent no addresses and is no relay target.

Receiving. Addresses are rate limited per peer by Core's token bucket: 1 token at the start, 1,000
more when we send the peer a getaddr (its answer may be that big), 0.1 per second of the node's
clock while below 1,000; one token per address, the rest dropped and counted (`rate_limited`), never
an error; a peer with the addr permission is not limited. Addresses without NODE_NETWORK or
NODE_NETWORK_LIMITED are skipped, banned or discouraged ones only remembered; the others count as
`processed`. Their timestamps are fixed up as Core does (before 1973 or more than 10 minutes
ahead: now - 5 days), and those on networks we reach enter AddrMan with the peer as source and a
2-hour penalty.

Relaying (Core's RelayAddress). An address from an announcement of at most 10 entries that is
routable, seen in the last 10 minutes, and not part of the answer to our own getaddr is relayed
to the 2 peers (1 or 2, by a hash bit, for a network we cannot reach) whose keyed hash of
(address, 24-hour window, peer id) is highest: the same peers for a whole day, so a peer that
repeats an address cannot give it more reach; never to the peer it came from.

Sending (Core's PushAddress and MaybeSendAddr). Whatever is sent to a peer (a relayed address,
the getaddr answer, our own address) is queued, at most 1,000, and sent as one addr (addrv2 if
the peer sent sendaddrv2) by `tick`, which the peer's reader runs after each message and when
due: at once the first time, then at Poisson intervals averaging `relay_interval` (Core: 30 s)
of the node's clock, so mock time moves it. Addresses a peer sent us or was sent are remembered
(5,000 per peer) and not sent to it again.

getaddr. Answered once per inbound connection (Core: outbound peers are never answered, so they
cannot fingerprint us; a repeat is logged as `Ignoring repeated "getaddr".`) from a cache per
(the network the peer came through, our local address and port) rebuilt every 21 to 27 hours, so
many peers asking cannot scrape the whole table (Core's GetAddresses cache); a peer with the addr
permission gets a fresh answer.

Our own address (Core's AdvertiseLocal). With `advertise` and a listener, an outbound peer gets
our address after the handshake and again at Poisson intervals averaging 24 hours (Core clears
the peer's known-address filter first so it is sent again): `external` when configured (Core
-externalip), else the address the peer's version says it sees us at, on our listening port,
if that is routable.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import random
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from types import ModuleType
from typing import Callable, Iterable, Mapping

import gevent

import pantheon.wire
from pantheon import limits
from pantheon.frames import Frame
from pantheon.net.address import BIP155_IDS, Network, PeerAddress, TimedAddress
from pantheon.net.addrman import GETADDR_MAX_PCT, AddrMan
from pantheon.net.banlist import BanList
from pantheon.net.peer import Handler, Peer, PeerState
from pantheon.net.permissions import Permission
from pantheon.protocol import NODE_NETWORK, NODE_NETWORK_LIMITED
from pantheon.primitives import AddrV2Entry, NetAddress

__all__ = ["ADDR_RATE", "ADDR_BURST", "ADDR_INITIAL_TOKENS", "TIME_PENALTY", "GossipConfig", "AddrGossip", "fix_time"]

log = logging.getLogger("pantheon.net.gossip")

ADDR_RATE = 0.1  # Core MAX_ADDR_RATE_PER_SECOND
ADDR_BURST = float(limits.MAX_ADDR)  # Core MAX_ADDR_PROCESSING_TOKEN_BUCKET
ADDR_INITIAL_TOKENS = 1.0  # Core's m_addr_token_bucket{1.0}
TIME_PENALTY = 2 * 60 * 60  # Core: addresses a peer relays are aged 2 hours
ROTATE_RELAY = 24 * 60 * 60  # Core ROTATE_ADDR_RELAY_DEST_INTERVAL: relay targets hold a day
_MIN_TIME = 100_000_000  # Core: an earlier timestamp is nonsense
_FUTURE = 10 * 60
_FALLBACK_AGE = 5 * 24 * 60 * 60
_RELAY_MAX_ENTRIES = 10  # Core relays only announcements this small
_KNOWN_MAX = 5_000  # Core's m_addr_known holds 5,000
_USEFUL_SERVICES = NODE_NETWORK | NODE_NETWORK_LIMITED  # Core's MayHaveUsefulAddressDB
_RELAYABLE = frozenset({Network.IPV4, Network.IPV6, Network.ONION, Network.I2P, Network.CJDNS})


def fix_time(timestamp: int, now: int) -> int:
    """Core's fix-up of a gossiped timestamp: absurd or future ones become 5 days old."""
    if timestamp <= _MIN_TIME or timestamp > now + _FUTURE:
        return now - _FALLBACK_AGE
    return timestamp


@dataclass(frozen=True)
class GossipConfig:
    """Core's address-relay timing and self-advertisement; intervals are here so tests shrink them."""

    relay_interval: float = 30.0  # Core AVG_ADDRESS_BROADCAST_INTERVAL: mean of the send trickle
    advertise: bool = True  # push our listening address to outbound peers (Core -discover)
    external: PeerAddress | None = None  # the address to advertise (Core -externalip); port 0: ours
    advertise_interval: float = 24 * 60 * 60.0  # Core AVG_LOCAL_ADDRESS_BROADCAST_INTERVAL
    cache_lifetime: tuple[float, float] = (21 * 60 * 60.0, 27 * 60 * 60.0)  # getaddr cache, Core's range
    reachable: frozenset[Network] = frozenset({Network.IPV4, Network.IPV6})  # networks we can dial


@dataclass
class _PeerGossip:
    """Per-peer gossip state (Core's Peer::m_addr_*)."""

    tokens: float
    refilled_at: float
    relay_enabled: bool = False  # Core's m_addr_relay_enabled (see the module notes)
    getaddr_answered: bool = False
    getaddr_sent: bool = False  # our getaddr is unanswered: what comes is not relayed
    processed: int = 0  # addresses taken from the peer (getpeerinfo addr_processed)
    rate_limited: int = 0  # addresses dropped for want of a token (addr_rate_limited)
    next_send: float = 0.0  # the node's clock: when the queue may next be sent (0: at once)
    known: set[PeerAddress] = field(default_factory=set)
    known_order: deque[PeerAddress] = field(default_factory=deque)
    to_send: list[TimedAddress] = field(default_factory=list)
    advertiser: gevent.Greenlet | None = None  # outbound peers: the next self-advertisement

    def remember(self, address: PeerAddress) -> None:
        """Addresses the peer has or was sent are not sent to it again (bounded, oldest out)."""
        if address in self.known:
            return
        self.known.add(address)
        self.known_order.append(address)
        if len(self.known_order) > _KNOWN_MAX:
            self.known.discard(self.known_order.popleft())

    def forget_known(self) -> None:
        self.known.clear()
        self.known_order.clear()


class AddrGossip:
    """The addr/addrv2/getaddr handlers of one manager, its relay and its send trickle.

    peers        returns the manager's connected peers (relay targets).
    clock        Unix seconds, for timestamps, the token bucket, relay windows and the getaddr
                 cache (tests inject it); the send trickle runs on real time.
    listen_port  our listening port, or None when not listening (nothing to advertise).
    banlist      banned and discouraged addresses are left out of getaddr answers.
    """

    def __init__(self, addrman: AddrMan, peers: Callable[[], Iterable[Peer]], *,
                 config: GossipConfig | None = None, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None, wire: ModuleType = pantheon.wire,
                 listen_port: Callable[[], int | None] = lambda: None, banlist: BanList | None = None) -> None:
        self.addrman = addrman
        self.config = config or GossipConfig()
        self._peers = peers
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._wire = wire
        self._listen_port = listen_port
        self._banlist = banlist
        self._key = secrets.token_bytes(16)  # Core's deterministic randomizer for relay targets
        self._state: dict[int, _PeerGossip] = {}
        # (requesting network, our local address) -> (expiry, the getaddr answer)
        self._cache: dict[tuple[Network | None, tuple[str, int] | None], tuple[float, list[TimedAddress]]] = {}

    @property
    def handlers(self) -> Mapping[str, Handler]:
        return {"addr": self._on_addr, "addrv2": self._on_addrv2, "getaddr": self._on_getaddr}

    def state(self, peer: Peer) -> _PeerGossip:
        """The peer's gossip state, made on first use with Core's initial token and the
        connection's start as the bucket's last refill."""
        state = self._state.get(peer.id)
        if state is None:
            state = self._state[peer.id] = _PeerGossip(ADDR_INITIAL_TOKENS, peer.connected_at)
        return state

    def relay_enabled(self, peer: Peer) -> bool:
        """Whether addresses are relayed to and sent to the peer (getpeerinfo addr_relay_enabled)."""
        state = self._state.get(peer.id)
        return state is not None and state.relay_enabled

    def counts(self, peer: Peer) -> tuple[int, int]:
        """(addresses processed, addresses rate-limited) from the peer, as getpeerinfo shows them."""
        state = self._state.get(peer.id)
        return (0, 0) if state is None else (state.processed, state.rate_limited)

    def connected(self, peer: Peer) -> None:
        """After a handshake: an outbound peer (not block-relay-only, not a feeler) has address
        relay, is asked for addresses once, with room in its bucket for the answer (Core), and is
        told our own address, now and then every `advertise_interval` on average."""
        if peer.inbound or peer.connection_type in ("block-relay-only", "feeler"):
            return  # Core: no address relay on those
        state = self.state(peer)
        state.relay_enabled = True
        state.getaddr_sent = True
        state.tokens += limits.MAX_ADDR
        peer.send("getaddr")
        if self.config.advertise:
            self._advertise(peer, first=True)

    def forget(self, peer: Peer) -> None:
        """A peer is gone: drop its state and its timer."""
        state = self._state.pop(peer.id, None)
        if state is not None and state.advertiser is not None:
            state.advertiser.kill(block=False)

    def _enable_relay(self, peer: Peer) -> bool:
        """Core's SetupAddressRelay on an address message: never for block-relay-only peers."""
        if peer.connection_type == "block-relay-only":
            return False
        self.state(peer).relay_enabled = True
        return True

    # --- receiving --------------------------------------------------------------------------

    def _on_addr(self, peer: Peer, frame: Frame) -> None:
        entries = []
        for entry in self._wire.decode_addr(frame.payload):
            address = PeerAddress.from_legacy(entry.ip, entry.port)
            if address is not None:
                entries.append(TimedAddress(address, entry.time, entry.services))
        self.receive(peer, entries, len(entries))

    def _on_addrv2(self, peer: Peer, frame: Frame) -> None:
        decoded = self._wire.decode_addrv2(frame.payload)
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
        """Rate-limit, fix up, store and relay what `peer` announced (Core's ProcessMessage for
        addr/addrv2); returns how many were processed. A block-relay-only peer's addresses are
        ignored; an addr-fetch connection ends once it has given some (Core)."""
        if not self._enable_relay(peer):
            log.debug("ignoring addr message from %s peer=%d", peer.connection_type, peer.id)
            return 0
        state = self.state(peer)
        now_f = self._clock()
        if state.tokens < ADDR_BURST:
            state.tokens = min(state.tokens + max(now_f - state.refilled_at, 0.0) * ADDR_RATE, ADDR_BURST)
        state.refilled_at = now_f
        limited = Permission.ADDR not in peer.permissions
        now = int(now_f)
        banlist = self._banlist
        kept: list[TimedAddress] = []
        relay: list[TimedAddress] = []
        processed = rate_limited = 0
        self._rng.shuffle(entries)
        for entry in entries:
            if state.tokens < 1.0:
                if limited:
                    rate_limited += 1
                    continue
            else:
                state.tokens -= 1.0
            if not entry.services & _USEFUL_SERVICES:
                continue  # Core stores full nodes and pruned ones only
            entry = TimedAddress(entry.address, fix_time(entry.time, now), entry.services)
            state.remember(entry.address)
            if banlist is not None and (banlist.is_discouraged(entry.address) or banlist.is_banned(entry.address)):
                continue
            processed += 1
            if (announced <= _RELAY_MAX_ENTRIES and not state.getaddr_sent and entry.time > now - _FUTURE
                    and entry.address.is_routable):
                relay.append(entry)
            if entry.address.network in self.config.reachable:
                kept.append(entry)
        state.processed += processed
        state.rate_limited += rate_limited
        log.debug("Received addr: %d addresses (%d processed, %d rate-limited) from peer=%d",
                  announced, processed, rate_limited, peer.id)
        if kept:
            self.addrman.add(kept, PeerAddress.from_ip(peer.address[0]), TIME_PENALTY)
        if announced < limits.MAX_ADDR:
            state.getaddr_sent = False  # Core: a short message ends the answer to our getaddr
        for entry in relay:
            for target in self.relay_targets(peer, entry.address, now):
                self.push(target, entry)
        if peer.connection_type == "addr-fetch" and announced > 1:
            peer.disconnect("addrfetch connection completed")
        return processed

    # --- relaying ---------------------------------------------------------------------------

    def relay_targets(self, origin: Peer, address: PeerAddress, now: int) -> list[Peer]:
        """Core's RelayAddress choice: the 2 connected peers with address relay other than
        `origin` (1 or 2 for an unreachable network) that can carry `address` and rank highest under a keyed hash of
        the address, the 24-hour window and the peer id: the same ones all day."""
        reachable = address.network in self.config.reachable
        if not reachable and address.network not in _RELAYABLE:
            return []
        hash_addr = int.from_bytes(hashlib.blake2b(bytes([address.network]) + address.service_key(),
                                                   digest_size=8).digest(), "little")
        window = (now + hash_addr) // ROTATE_RELAY  # the address's hash shifts its day boundary
        seed = hash_addr.to_bytes(8, "little") + window.to_bytes(8, "little")
        count = 2 if reachable or self._keyed(seed) & 1 else 1
        candidates = (peer for peer in self._peers()
                      if peer is not origin and peer.state is PeerState.CONNECTED and self.relay_enabled(peer)
                      and (peer.wants_addrv2 or address.addrv1_compatible))
        return heapq.nlargest(count, candidates, key=lambda peer: self._keyed(seed + peer.id.to_bytes(8, "little")))

    def _keyed(self, data: bytes) -> int:
        return int.from_bytes(hashlib.blake2b(data, digest_size=8, key=self._key).digest(), "little")

    # --- sending ----------------------------------------------------------------------------

    def push(self, peer: Peer, entry: TimedAddress) -> bool:
        """Queue an address for the peer's next send (Core's PushAddress); False when the peer
        knows it or cannot carry it. A full queue (1,000) has a random entry replaced."""
        state = self.state(peer)
        address = entry.address
        if (not address.is_valid or address in state.known or address.network not in BIP155_IDS
                or not (peer.wants_addrv2 or address.addrv1_compatible)):
            return False
        if len(state.to_send) >= limits.MAX_ADDR:
            state.to_send[self._rng.randrange(len(state.to_send))] = entry
        else:
            state.to_send.append(entry)
        return True

    def tick(self, peer: Peer, now: float) -> float | None:
        """The peer's send timer (Core's MaybeSendAddr, a `Ticker`): when due, send the queue less
        what the peer has come to know meanwhile and draw the next time; returns the seconds
        until it is next due, None for a peer without address relay."""
        state = self._state.get(peer.id)
        if state is None or not state.relay_enabled:
            return None
        if now <= state.next_send:
            return state.next_send - now
        state.next_send = now + self._rng.expovariate(1.0 / self.config.relay_interval)
        entries = []
        for entry in state.to_send:  # one pass drops both known and repeated addresses (Core)
            if entry.address not in state.known:
                state.remember(entry.address)
                entries.append(entry)
        state.to_send.clear()
        if entries and not peer.closed:
            self.send(peer, entries)
        return state.next_send - now

    def send(self, peer: Peer, entries: list[TimedAddress]) -> int:
        """Send addresses now as addrv2 (if the peer asked) or addr; returns how many were sent."""
        state = self.state(peer)
        if peer.wants_addrv2:
            sent = [e for e in entries if e.address.network in BIP155_IDS][: limits.MAX_ADDR]
            if sent:
                peer.send("addrv2", self._wire.encode_addrv2(
                    [AddrV2Entry(e.time & 0xFFFFFFFF, e.services, *e.address.to_addrv2(), e.address.port)
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

    # --- getaddr ----------------------------------------------------------------------------

    def _on_getaddr(self, peer: Peer, frame: Frame) -> None:
        """Core answers only inbound peers (no fingerprinting of our outbound ones), once, from
        the cache (fresh for a peer with the addr permission), through the send queue."""
        if not peer.inbound:
            log.debug('Ignoring "getaddr" from %s connection. peer=%d', peer.connection_type, peer.id)
            return
        self._enable_relay(peer)
        state = self.state(peer)
        if state.getaddr_answered:
            log.debug('Ignoring repeated "getaddr". peer=%d', peer.id)
            return
        state.getaddr_answered = True
        state.to_send.clear()
        answer = (self.addresses(limits.MAX_ADDR, GETADDR_MAX_PCT) if Permission.ADDR in peer.permissions
                  else self.cached_addresses(peer))
        for entry in answer:
            self.push(peer, entry)

    def cached_addresses(self, peer: Peer) -> list[TimedAddress]:
        """The getaddr answer for the network the peer came through (Tor for an onion bind) and
        the local address and port it reached: built from AddrMan (less banned and discouraged
        addresses) and kept 21 to 27 hours (Core)."""
        if peer.inbound_onion:
            network: Network | None = Network.ONION
        else:
            try:
                network = PeerAddress.from_ip(peer.address[0]).net_class
            except ValueError:
                network = None
        key = (network, peer.local_address)
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and now < cached[0]:
            return cached[1]
        answer = self.addresses(limits.MAX_ADDR, GETADDR_MAX_PCT)
        self._cache[key] = (now + self._rng.uniform(*self.config.cache_lifetime), answer)
        return answer

    def addresses(self, max_count: int, max_pct: int, network: Network | None = None) -> list[TimedAddress]:
        """AddrMan's random addresses less the banned and discouraged ones (Core's filtered
        CConnman::GetAddresses): at most `max_count` and `max_pct`% of the table (0: no limit)."""
        banlist = self._banlist
        return [entry for entry in self.addrman.get_addresses(max_count, max_pct, network)
                if banlist is None or not (banlist.is_banned(entry.address) or banlist.is_discouraged(entry.address))]

    # --- our own address ---------------------------------------------------------------------

    def local_address(self, peer: Peer) -> PeerAddress | None:
        """What to tell `peer` we are (see the module notes); None when there is nothing to say."""
        port = self._listen_port()
        if port is None:
            return None
        external = self.config.external
        if external is not None:
            return external if external.port else PeerAddress(external.network, external.raw, port)
        remote = peer.remote
        seen = PeerAddress.from_legacy(remote.addr_recv.ip, port) if remote is not None else None
        return seen if seen is not None and seen.is_routable else None

    def _advertise(self, peer: Peer, first: bool = False) -> None:
        if peer.closed:
            return
        state = self.state(peer)
        state.advertiser = None
        if not first:
            state.forget_known()  # Core resets m_addr_known so our address goes out again
        address = self.local_address(peer)
        if address is not None:
            self.push(peer, TimedAddress(address, int(self._clock()), peer.config.services))
        delay = self._rng.expovariate(1.0 / self.config.advertise_interval)
        state.advertiser = gevent.spawn_later(delay, self._advertise, peer)
