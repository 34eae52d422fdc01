"""The network manager: a listener, an outbound dialer and the connection limits around `Peer`s.

It has: the listener (a gevent StreamServer whose
spawn is a `Pool(max_inbound + 1)`: it stops accepting while the pool is full, as gevent and
gunicorn do, and the one slot over the limit lets a full node accept in order to evict or
refuse), `add_peer` for outbound connections, the limits (8 outbound, 117 inbound, 125 in
all, configurable), refusal of banned addresses, one nonce registry so that dialling ourselves is
detected, a dispatch table every peer gets, `peers()`, `broadcast()`, and a graceful, timed
`stop()`. When inbound is full a new peer is let in only if Core's eviction (`net/eviction.py`)
picks an inbound peer to drop; otherwise it is refused. With an `AddrMan`, addresses are
gossiped (`net/gossip.py`).

Finding peers by itself is one switch, `ManagerConfig.auto_outbound` (Core's defaults: a node
sets it and nothing else). On `start()` a greenlet seeds an empty AddrMan from the DNS seeds
(`seed_dns`: the network's, asked for NODE_NETWORK|NODE_WITNESS peers as Core does), adds the
fixed seeds if the table is still empty `fixed_seeds_after` seconds later (at once when there
are no DNS seeds), and keeps `max_outbound` outbound slots filled from it, one per netgroup
(`refill`, every `refill_interval`). `seed`/`seed_from` do the seeding step by hand. Once those
slots are full it opens a feeler now and then (`feel`, Core's: on average every
`feeler_interval`): a short connection that only learns whether an address answers, to an address
a tried-table collision waits on, else to a new one, so the table learns which addresses live and
collisions are settled (`AddrMan.resolve_collisions`, every round). An outbound peer that
completed its handshake refreshes its address's time when it goes (`AddrMan.connected`).

The library never monkey-patches; everything here uses gevent's own sockets and pools.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any, Callable, Iterable, Mapping

import gevent
import gevent.event
import gevent.pool
import gevent.server
import gevent.socket

import pantheon.wire
from pantheon.net.address import PeerAddress, TimedAddress
from pantheon.net.addrman import AddrMan
from pantheon.net.banlist import BanList
from pantheon.net.gossip import AddrGossip, GossipConfig
from pantheon.net.eviction import EvictionCandidate, keyed_netgroup, select_to_evict
from pantheon.protocol import FULL_RELAY_SERVICES, NODE_P2P_V2
from pantheon.net.peer import Handler, NetTotals, Peer, PeerConfig, PeerState, Preparer, Traffic, Transition
from pantheon.net.permissions import Permission, WhitelistEntry, permissions_for

from pantheon.net.discovery import Discovery, Endpoint, Resolver, discover, fixed_seeds

__all__ = ["ManagerConfig", "NetworkManager", "CONNECTION_TYPES"]

#: Core's outbound connection types (net.h ConnectionType), as getpeerinfo and addconnection name them.
CONNECTION_TYPES = ("outbound-full-relay", "block-relay-only", "manual", "addr-fetch", "feeler")


log = logging.getLogger("pantheon.net.manager")


@dataclass(frozen=True)
class ManagerConfig:
    """Where to listen (None: no listener; port 0: any free port) and the connection limits."""

    peer: PeerConfig = field(default_factory=PeerConfig)
    listen: tuple[str, int] | None = None
    #: Further listeners (Core's repeated -bind): (host, port, onion); peers accepted on an onion
    #: one are inbound Tor peers, as Core's `-bind=...=onion` (a local Tor daemon forwards to it).
    more_listen: tuple[tuple[str, int, bool], ...] = ()
    max_outbound: int = 8  # automatic full-relay outbound connections
    max_manual: int = 8  # Core's MAX_ADDNODE_CONNECTIONS: manual ones (add_peer) have their own slots
    max_block_relay: int = 2  # Core's MAX_BLOCK_RELAY_ONLY_CONNECTIONS
    # The switch (see the module notes): seed the AddrMan (DNS seeds, then fixed seeds) and keep
    # max_outbound full-relay outbound connections filled from it. Off by default so a manager
    # only dials what it is told to.
    auto_outbound: bool = False
    refill_interval: float = 0.5  # Core's ThreadOpenConnections wakes every 500 ms
    feeler_interval: float = 120.0  # Core's FEELER_INTERVAL: the mean wait between feelers
    dns_seeds: tuple[str, ...] | None = None  # None: the network's (params); (): none
    dns_seed_services: int | None = FULL_RELAY_SERVICES  # Core asks "x9.<seed>"; None: the bare names
    resolver: Resolver | None = None  # None: the system's (resolv.conf)
    fixed_seeds_after: float = 60.0  # Core: fixed seeds after a minute with an empty AddrMan
    fixed_seeds: bool = True  # Core -fixedseeds
    max_inbound: int = 117
    max_connections: int = 125
    # The listen socket's backlog; None: gevent's default. Many peers arriving at once (the
    # 5,000-peer benchmark) need a big one, or SYNs dropped from a full queue wait 1 s to retry.
    backlog: int | None = None
    gossip: GossipConfig = field(default_factory=GossipConfig)  # address relay timing, self-advertisement
    whitelist: tuple[WhitelistEntry, ...] = ()  # Core -whitelist: permissions by subnet and direction
    #: Core's -proxy, through which Core dials routable addresses. Pantheon speaks no SOCKS5, so with
    #: one set it never dials a routable address directly (what a proxy's user asks); local ones it does.
    proxy: tuple[str, int] | None = None


def _is_routable(host: str) -> bool:
    """Whether a dialled host is a publicly routable address; a name counts as routable."""
    try:
        return PeerAddress.from_ip(host).is_routable
    except ValueError:
        return True


class NetworkManager:
    """Owns the peers of one node. `start()`, then `add_peer(host, port)`; `stop(timeout)`.

    handlers  command -> handler(peer, frame), given to every peer over the built-ins; the
              node extends `manager.handlers` before peers connect.
    preparers command -> a pure function of a payload, run on such frames as a peer reads
              ahead while one of them is handled (`net/peer.py`, Reading ahead); the node
              sets `manager.preparers` before peers connect.
    addrman   with one, addresses are gossiped (`net/gossip.py`): addr/addrv2 stored and
              relayed, getaddr answered, outbound peers asked once.
    clock     Unix seconds for the peers' timers and the gossip's timestamps and token buckets
              (the node's clock.NodeClock; tests inject their own).
    route     where to dial an AddrMan address, (host, port); tests map routable addresses
              (the only kind AddrMan keeps) onto loopback listeners.
    """

    def __init__(
        self,
        config: ManagerConfig | None = None,
        *,
        banlist: BanList | None = None,
        handlers: Mapping[str, Handler] | None = None,
        start_height: int | Callable[[], int] = 0,
        wire: ModuleType = pantheon.wire,
        addrman: AddrMan | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        route: Callable[[PeerAddress], tuple[str, int]] = lambda address: (address.host, address.port),
        traffic: Traffic | None = None,
    ) -> None:
        self.config = config or ManagerConfig()
        self.banlist = banlist
        self.handlers: dict[str, Handler] = dict(handlers or {})
        self.preparers: dict[str, Preparer] = {}
        self._start_height = start_height
        self._wire = wire
        self._nonces: set[int] = set()
        self._peers: dict[int, Peer] = {}
        self._counts = {True: 0, False: 0}  # inbound -> open peers, kept so no accept is O(n)
        self._group = gevent.pool.Group()  # every peer's reader and writer
        self._server: gevent.server.StreamServer | None = None
        self._more_servers: list[gevent.server.StreamServer] = []
        self.totals = NetTotals()  # bytes every peer received and sent, closed ones included
        #: What an automatic outbound peer must offer given what it offers (Core's
        #: GetDesirableServiceFlags); the node replaces it with one that knows its tip's age.
        self.desirable_services: Callable[[int], int] = lambda services: FULL_RELAY_SERVICES
        self._stopped = gevent.event.Event()
        self._netgroup_key = secrets.token_bytes(16)  # eviction's secret
        self.addrman = addrman
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self.gossip: AddrGossip | None = None
        self._route = route
        self._traffic = traffic
        #: Called with (peer, transition) on every peer state change, after the manager's own
        #: bookkeeping: how the node learns a peer is ready (CONNECTED) or gone.
        self.listeners: list[Callable[[Peer, Transition], None]] = []
        self._outbound: dict[int, PeerAddress] = {}  # automatic outbound peer id -> its AddrMan address
        self._feelers: dict[int, PeerAddress] = {}  # feeler peer id -> the AddrMan address it tests
        self._next_feeler = 0.0
        self._active = True
        self._refiller: gevent.Greenlet | None = None
        if addrman is not None:
            self.gossip = AddrGossip(addrman, lambda: self.peers(PeerState.CONNECTED), config=self.config.gossip,
                                     clock=clock, rng=self._rng, wire=wire, banlist=banlist,
                                     listen_port=lambda: self._server.server_port if self._server else None)
            self.handlers = {**self.gossip.handlers, **self.handlers}

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> NetworkManager:
        """Start listening (when configured). Returns the manager."""
        if self.config.listen is not None and self._server is None:
            # One pool for every listener, one slot over max_inbound: a full node still accepts, to
            # evict or refuse.
            pool = gevent.pool.Pool(self.config.max_inbound + 1)
            self._server = gevent.server.StreamServer(self.config.listen, self._accept,
                                                      backlog=self.config.backlog, spawn=pool)
            self._server.start()
            log.info("listening on %s:%d", *self.address)
            for host, port, onion in self.config.more_listen:
                server = gevent.server.StreamServer(
                    (host, port), lambda sock, address, onion=onion: self._accept(sock, address, onion),
                    backlog=self.config.backlog, spawn=pool)
                server.start()
                self._more_servers.append(server)
                log.info("listening on %s:%d%s", server.server_host, server.server_port, " (onion)" if onion else "")
        if self.config.auto_outbound and self.addrman is not None and self._refiller is None:
            self._refiller = gevent.spawn(self._find_peers)
        return self

    @property
    def address(self) -> tuple[str, int]:
        """The listener's (host, port); ValueError without a listener."""
        if self._server is None:
            raise ValueError("the manager is not listening")
        return self._server.server_host, self._server.server_port

    def serve_forever(self) -> None:
        """Start and block until `stop()`."""
        self.start()
        self._stopped.wait()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every peer (nothing is said to them), wait up to `timeout` for
        their greenlets, then kill what is left."""
        if self._refiller is not None:
            self._refiller.kill()
            self._refiller = None
        servers = [server for server in (self._server, *self._more_servers) if server is not None]
        for server in servers:
            server.close()
        for peer in list(self._peers.values()):
            peer.close("shutting down")
        self._group.join(timeout)
        self._group.kill(timeout=1)
        for server in servers:
            server.stop(timeout=timeout)
        self._server = None
        self._more_servers = []
        self._stopped.set()
        log.info("stopped")

    def __enter__(self) -> NetworkManager:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # --- peers --------------------------------------------------------------------------

    def peers(self, state: PeerState | None = None) -> list[Peer]:
        """The open peers (in `state` when given), oldest first."""
        return [peer for peer in self._peers.values() if state is None or peer.state is state]

    @property
    def network_active(self) -> bool:
        """Core's fNetworkActive: while False no connection is made or accepted."""
        return self._active

    def set_network_active(self, active: bool) -> None:
        """Core's SetNetworkActive: switching off closes every connection."""
        log.info("SetNetworkActive: %s", "true" if active else "false")
        self._active = active
        if not active:
            for peer in list(self._peers.values()):
                peer.close("network activity switched off")

    def count(self, inbound: bool) -> int:
        """Open inbound (or outbound) peers, counted as they come and go."""
        return self._counts[inbound]

    def add_peer(self, host: str, port: int, connection_type: str = "manual", v2: bool | None = None) -> Peer | None:
        """Dial a peer: by hand (Core's manual connections: -addnode, -connect, the addnode RPC),
        in slots of their own apart from the automatic ones, or as one of Core's other outbound
        types (`CONNECTION_TYPES`, the addconnection RPC). None (logged) when that type's slots
        or the total are full, the address is already connected or network activity is off.
        `v2`: try BIP324 first (default: when `-v2transport` is on, as Core does for manual peers)."""
        if not self._active:
            log.info("not dialling %s:%d: network activity is off", host, port)
            return None
        if any(peer.address == (host, port) for peer in self._peers.values()):
            log.info("not dialling %s:%d: already connected", host, port)
            return None
        if self.config.proxy is not None and _is_routable(host):
            log.info("not dialling %s:%d: it is routable and -proxy is set (no SOCKS5 here)", host, port)
            return None
        limit = {"manual": self.config.max_manual, "outbound-full-relay": self.config.max_outbound,
                 "block-relay-only": self.config.max_block_relay}.get(connection_type)
        open_now = sum(1 for peer in self._peers.values() if peer.connection_type == connection_type)
        if (limit is not None and open_now >= limit) or len(self._peers) >= self.config.max_connections:
            log.info("not dialling %s:%d: %s connections are full", host, port, connection_type)
            return None
        config = self.config.peer
        if connection_type == "block-relay-only":
            config = replace(config, relay=False, fee_filter=None)  # Core: no transactions on it
        use_v2 = self.config.peer.v2transport if v2 is None else v2 and self.config.peer.v2transport
        peer = self._make_peer(None, (host, port), inbound=False, config=config, v2=use_v2)
        peer.connection_type = connection_type
        if connection_type != "manual":
            peer.desirable_services = self.desirable_services
        return peer.start()

    def broadcast(self, command: str, payload: bytes = b"", filter: Callable[[Peer], bool] | None = None) -> int:
        """Send a message to every connected peer that `filter` accepts; returns how many."""
        sent = 0
        for peer in self.peers(PeerState.CONNECTED):
            if (filter is None or filter(peer)) and peer.send(command, payload):
                sent += 1
        return sent

    def evict(self) -> bool:
        """Disconnect the inbound peer Core's eviction picks; False when all are protected."""
        relevant = FULL_RELAY_SERVICES
        candidates = []
        for peer in self.peers():
            if not peer.inbound:
                continue
            address = PeerAddress.from_ip(peer.address[0])
            remote = peer.remote
            candidates.append(EvictionCandidate(
                id=peer.id,
                connected=peer.connected_at,
                min_ping=peer.min_ping,
                last_block=peer.last_block_time,
                last_tx=peer.last_tx_time,
                keyed_netgroup=keyed_netgroup(self._netgroup_key, address.netgroup()),
                relay_txs=bool(remote and remote.relay),
                relevant_services=bool(remote and remote.services & relevant == relevant),
                prefer_evict=self.banlist is not None and self.banlist.is_discouraged(address),
                is_local=address.is_local,
                network=address.network,
            ))
        chosen = select_to_evict(candidates)
        if chosen is None:
            return False
        self._peers[chosen].close("evicted: inbound connections are full")
        return True

    # --- outbound slots from the address manager ------------------------------------------

    def seed(self, endpoints: Iterable[Endpoint], source: str = "dnsseed") -> int:
        """Fill an empty AddrMan from discovery endpoints (Core: seed addresses are 3 to 7 days
        old, carry the services asked of the seeds, and come from the seed's name as an
        internal address). Returns how many were added; 0 when the AddrMan holds any."""
        if self.addrman is None or len(self.addrman):
            return 0
        return self._seed(endpoints, source)

    def seed_from(self, discovery: Discovery) -> int:
        """`seed` with each DNS seed's endpoints under that seed's name, when AddrMan is empty."""
        if self.addrman is None or len(self.addrman):
            return 0
        return sum(self._seed(lookup.endpoints, lookup.name) for lookup in discovery.lookups)

    def _seed(self, endpoints: Iterable[Endpoint], source: str) -> int:
        assert self.addrman is not None
        now = int(self._clock())
        offers = [TimedAddress(PeerAddress.from_ip(endpoint.ip, endpoint.port),
                               now - 3 * 86400 - self._rng.randrange(4 * 86400), FULL_RELAY_SERVICES)
                  for endpoint in endpoints]
        added = self.addrman.add(offers, PeerAddress.internal(source))
        log.info("seeded the address manager with %d of %d addresses from %s", added, len(offers), source)
        return added

    def refill(self, tries: int = 100) -> int:
        """Dial AddrMan addresses until `max_outbound` automatic outbound peers exist, at most
        one per netgroup (Core: an operator of one /16 cannot take all our outbound slots).
        Returns how many dials started. Core's rules for a candidate: not connected, not
        banned or discouraged, and for the first 30 tries not tried in the last 10 minutes."""
        if self.addrman is None:
            return 0
        groups = {address.netgroup() for address in self._outbound.values()}
        connected = {peer.address for peer in self._peers.values()}
        now = int(self._clock())
        started = 0
        for attempt in range(tries if self._active else 0):
            if (len(self._outbound) >= self.config.max_outbound
                    or len(self._peers) >= self.config.max_connections):
                break
            info = self.addrman.select()
            if info is None or self.config.proxy is not None:
                break  # AddrMan holds routable addresses only: none is dialled past a proxy
            address = info.address
            target = self._route(address)
            if (address.netgroup() in groups or target in connected
                    or (self.banlist is not None and (self.banlist.is_banned(address) or self.banlist.is_discouraged(address)))
                    or (attempt < 30 and now - info.last_try < 600)):
                continue
            self.addrman.attempt(address, now=now)
            config = replace(self.config.peer, required_services=self.config.peer.required_services | FULL_RELAY_SERVICES)
            peer = self._make_peer(None, target, inbound=False, config=config, v2=self._offers_v2(info.services))
            peer.desirable_services = self.desirable_services
            self._outbound[peer.id] = address
            groups.add(address.netgroup())
            connected.add(target)
            peer.start()
            started += 1
        return started

    def feel(self) -> Peer | None:
        """Open a feeler when it is time (Core's ThreadOpenConnections): only with the outbound
        slots full, on average every `feeler_interval`; to the address a tried collision waits
        on, else to one from the new table. The peer, or None."""
        now = self._clock()
        if (self.addrman is None or len(self._outbound) < self.config.max_outbound or now < self._next_feeler
                or len(self._peers) >= self.config.max_connections):
            return None
        self._next_feeler = now + self._rng.expovariate(1 / self.config.feeler_interval)
        info = self.addrman.select_tried_collision()
        target = None if info is None else self._route(info.address)
        connected = {peer.address for peer in self._peers.values()}
        if info is not None and target in connected:
            self.addrman.good(info.address)  # Core: it answers already, that settles the collision
            return None
        if info is None:
            info = self.addrman.select(new_only=True)
            target = None if info is None else self._route(info.address)
        if info is None or target is None or target in connected or now - info.last_try < 600 or (
                self.banlist is not None and (self.banlist.is_banned(info.address)
                                              or self.banlist.is_discouraged(info.address))):
            return None
        self.addrman.attempt(info.address, now=int(now))
        peer = self._make_peer(None, target, inbound=False, v2=self._offers_v2(info.services))
        peer.connection_type = "feeler"
        self._feelers[peer.id] = info.address
        return peer.start()

    def seed_dns(self) -> int:
        """Ask the DNS seeds (`ManagerConfig.dns_seeds`, through its `resolver`) when the AddrMan
        is empty; returns how many addresses were added."""
        if self.addrman is None or len(self.addrman):
            return 0
        config = self.config
        return self.seed_from(discover(config.peer.network, resolver=config.resolver,
                                       services=config.dns_seed_services, seeds=config.dns_seeds))

    def _find_peers(self) -> None:
        """The `auto_outbound` greenlet: seed, then keep the outbound slots filled."""
        config = self.config
        seeds = config.peer.network.dns_seeds if config.dns_seeds is None else config.dns_seeds
        self.seed_dns()
        fixed_at: float | None = (time.monotonic() + (config.fixed_seeds_after if seeds else 0.0)
                                  if config.fixed_seeds else None)
        while True:
            try:
                if fixed_at is not None and time.monotonic() >= fixed_at:
                    fixed_at = None
                    self.seed(fixed_seeds(config.peer.network), "fixedseeds")  # Core's source name
                self.addrman.resolve_collisions()
                self.refill()
                self.feel()
            except Exception:  # a bug here must not end outbound connections for good
                log.exception("finding outbound peers failed")
            gevent.sleep(config.refill_interval)

    def _offers_v2(self, services: int) -> bool:
        """Core tries BIP324 first with an automatic peer only when it advertises NODE_P2P_V2."""
        return self.config.peer.v2transport and bool(services & NODE_P2P_V2)

    def _make_peer(self, sock: gevent.socket.socket | None, address: tuple[str, int], inbound: bool,
                   config: PeerConfig | None = None, v2: bool = False) -> Peer:
        permissions = permissions_for(self.config.whitelist, address[0], inbound)
        config = config or self.config.peer
        if Permission.RELAY in permissions and not config.relay:
            config = replace(config, relay=True)  # Core: transactions from it are welcome even so
        peer = Peer(
            sock, address, inbound=inbound, config=config, banlist=self.banlist,
            handlers=self.handlers, nonces=self._nonces, start_height=self._start_height, group=self._group,
            wire=self._wire, on_transition=self._on_transition, traffic=self._traffic,
            permissions=permissions, clock=self._clock, totals=self.totals,
            tickers=(self.gossip.tick,) if self.gossip is not None else (), preparers=self.preparers,
            v2=v2 or (inbound and config.v2transport),
        )
        self._peers[peer.id] = peer
        self._counts[inbound] += 1
        return peer

    def _on_transition(self, peer: Peer, transition: Transition) -> None:
        address = self._outbound.get(peer.id)
        if address is not None and self.addrman is not None:
            if transition.new is PeerState.CONNECTED:
                self.addrman.good(address)  # Core: a completed outbound handshake
                if peer.remote is not None:
                    self.addrman.set_services(address, peer.remote.services)
            elif transition.new in (PeerState.DISCONNECTED, PeerState.BANNED):
                del self._outbound[peer.id]
                if transition.old is PeerState.CONNECTED and peer.connection_type != "block-relay-only":
                    self.addrman.connected(address)  # Core's FinalizeNode: it was alive until now
        feeler = self._feelers.get(peer.id)
        if feeler is not None and transition.new in (PeerState.DISCONNECTED, PeerState.BANNED):
            del self._feelers[peer.id]
            if peer.remote is not None and self.addrman is not None:  # its version came: it answers
                self.addrman.good(feeler)
                self.addrman.set_services(feeler, peer.remote.services)
        if transition.new is PeerState.CONNECTED and self.gossip is not None:
            self.gossip.connected(peer)  # outbound: getaddr once, and our own address
        if transition.new in (PeerState.DISCONNECTED, PeerState.BANNED):
            if self._peers.pop(peer.id, None) is not None:
                self._counts[peer.inbound] -= 1
            if peer.should_reconnect_v1 and peer.connection_type != "feeler":
                log.debug("retrying with v1 transport protocol for peer=%d", peer.id)
                self._group.spawn(self.add_peer, *peer.address, peer.connection_type, False)
            if self.gossip is not None:
                self.gossip.forget(peer)
        for listener in self.listeners:
            listener(peer, transition)

    def _accept(self, sock: gevent.socket.socket, address: tuple[str, int], onion: bool = False) -> None:
        """StreamServer handler: one inbound peer, whose reader this greenlet is for as long as
        the peer lives (returning closes the socket); `onion`: accepted on an onion bind."""
        host = address[0]
        if not self._active:
            log.debug("connection from %s:%d dropped (network activity is off)", host, address[1])
            return
        noban = Permission.NOBAN in permissions_for(self.config.whitelist, host, inbound=True)
        if self.banlist is not None and not noban and self.banlist.is_banned(host):
            log.debug("connection from %s:%d dropped (banned)", host, address[1])
            return
        if self.count(inbound=True) >= self.config.max_inbound or len(self._peers) >= self.config.max_connections:
            if not self.evict():
                log.info("refused inbound %s:%d: connections are full, no peer to evict", host, address[1])
                return
        if (self.banlist is not None and not noban and self.count(inbound=True) + 1 >= self.config.max_inbound
                and self.banlist.is_discouraged(PeerAddress.from_ip(host))):
            log.info("refused inbound %s:%d: discouraged, and inbound is nearly full", host, address[1])
            return  # Core takes a discouraged peer only while more than one inbound slot is free
        peer = self._make_peer(sock, address, inbound=True)
        peer.inbound_onion = onion
        peer.run()
