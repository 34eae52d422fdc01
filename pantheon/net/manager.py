"""The network manager: a listener, an outbound dialer and the connection limits around `Peer`s.

This is the start of issue 5's NetworkManager. It has: the listener (a gevent StreamServer whose
spawn is a `Pool(max_inbound + 1)`: it stops accepting while the pool is full, as gevent and
gunicorn do, and the one slot over the limit lets a full node accept in order to evict or refuse), `add_peer` for outbound connections, the limits (8 outbound, 117 inbound, 125 in
all, configurable), refusal of banned addresses, one nonce registry so that dialling ourselves is
detected, a dispatch table every peer gets, `peers()`, `broadcast()`, and a graceful, timed
`stop()`. When inbound is full a new peer is let in only if Core's eviction (`net/eviction.py`)
picks an inbound peer to drop; otherwise it is refused. Not yet: refilling outbound slots from
the address manager, one outbound per /16.

The library never monkey-patches; everything here uses gevent's own sockets and pools.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, Mapping

import gevent
import gevent.event
import gevent.pool
import gevent.server
import gevent.socket

import pantheon.wire
from pantheon.net.address import PeerAddress
from pantheon.net.addrman import AddrMan
from pantheon.net.banlist import BanList
from pantheon.net.gossip import AddrGossip
from pantheon.net.eviction import EvictionCandidate, keyed_netgroup, select_to_evict
from pantheon.net.messages import NODE_NETWORK, NODE_WITNESS
from pantheon.net.peer import Handler, Peer, PeerConfig, PeerState, Transition

__all__ = ["ManagerConfig", "NetworkManager"]

log = logging.getLogger("pantheon.net.manager")


@dataclass(frozen=True)
class ManagerConfig:
    """Where to listen (None: no listener; port 0: any free port) and the connection limits."""

    peer: PeerConfig = field(default_factory=PeerConfig)
    listen: tuple[str, int] | None = None
    max_outbound: int = 8
    max_inbound: int = 117
    max_connections: int = 125


class NetworkManager:
    """Owns the peers of one node. `start()`, then `add_peer(host, port)`; `stop(timeout)`.

    handlers  command -> handler(peer, frame), given to every peer over the built-ins; the
              node extends `manager.handlers` before peers connect.
    addrman   with one, addresses are gossiped (`net/gossip.py`): addr/addrv2 stored and
              relayed, getaddr answered, outbound peers asked once.
    clock     Unix seconds for the gossip's timestamps and token buckets (tests inject it).
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
    ) -> None:
        self.config = config or ManagerConfig()
        self.banlist = banlist
        self.handlers: dict[str, Handler] = dict(handlers or {})
        self._start_height = start_height
        self._wire = wire
        self._nonces: set[int] = set()
        self._peers: dict[int, Peer] = {}
        self._group = gevent.pool.Group()  # every peer's reader and writer
        self._server: gevent.server.StreamServer | None = None
        self._stopped = gevent.event.Event()
        self._netgroup_key = secrets.token_bytes(16)  # eviction's secret
        self.addrman = addrman
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self.gossip: AddrGossip | None = None
        if addrman is not None:
            self.gossip = AddrGossip(addrman, lambda: self.peers(PeerState.CONNECTED), clock=clock,
                                     rng=self._rng, wire=wire)
            self.handlers = {**self.gossip.handlers, **self.handlers}

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> NetworkManager:
        """Start listening (when configured). Returns the manager."""
        if self.config.listen is not None and self._server is None:
            # One slot over max_inbound: a full node still accepts, to evict or refuse.
            self._server = gevent.server.StreamServer(
                self.config.listen, self._accept, spawn=gevent.pool.Pool(self.config.max_inbound + 1)
            )
            self._server.start()
            log.info("listening on %s:%d", *self.address)
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
        if self._server is not None:
            self._server.close()
        for peer in list(self._peers.values()):
            peer.close("shutting down")
        self._group.join(timeout)
        self._group.kill(timeout=1)
        if self._server is not None:
            self._server.stop(timeout=timeout)
            self._server = None
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

    def count(self, inbound: bool) -> int:
        return sum(1 for peer in self._peers.values() if peer.inbound is inbound)

    def add_peer(self, host: str, port: int) -> Peer | None:
        """Dial a peer; None (logged) when the outbound or total limit is reached or the
        address is already connected."""
        if any(peer.address == (host, port) for peer in self._peers.values()):
            log.info("not dialling %s:%d: already connected", host, port)
            return None
        if self.count(inbound=False) >= self.config.max_outbound or len(self._peers) >= self.config.max_connections:
            log.info("not dialling %s:%d: outbound connections are full", host, port)
            return None
        peer = self._make_peer(None, (host, port), inbound=False)
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
        relevant = NODE_NETWORK | NODE_WITNESS
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

    def _make_peer(self, sock: gevent.socket.socket | None, address: tuple[str, int], inbound: bool) -> Peer:
        peer = Peer(
            sock, address, inbound=inbound, config=self.config.peer, banlist=self.banlist,
            handlers=self.handlers, nonces=self._nonces, start_height=self._start_height, group=self._group,
            wire=self._wire, on_transition=self._on_transition,
        )
        self._peers[peer.id] = peer
        return peer

    def _on_transition(self, peer: Peer, transition: Transition) -> None:
        if transition.new is PeerState.CONNECTED and self.gossip is not None and not peer.inbound:
            # Core asks every outbound full-relay peer for addresses once, after the handshake.
            peer.send("getaddr")
        if transition.new in (PeerState.DISCONNECTED, PeerState.BANNED):
            self._peers.pop(peer.id, None)
            if self.gossip is not None:
                self.gossip.forget(peer)

    def _accept(self, sock: gevent.socket.socket, address: tuple[str, int]) -> None:
        """StreamServer handler: one inbound peer, for as long as it lives (returning closes it)."""
        host = address[0]
        if self.banlist is not None and self.banlist.is_banned(host):
            log.info("refused inbound %s:%d: banned", host, address[1])
            return
        if self.count(inbound=True) >= self.config.max_inbound or len(self._peers) >= self.config.max_connections:
            if not self.evict():
                log.info("refused inbound %s:%d: connections are full, no peer to evict", host, address[1])
                return
        if (self.banlist is not None and self.count(inbound=True) + 1 >= self.config.max_inbound
                and self.banlist.is_discouraged(PeerAddress.from_ip(host))):
            log.info("refused inbound %s:%d: discouraged, and inbound is nearly full", host, address[1])
            return  # Core takes a discouraged peer only while more than one inbound slot is free
        self._make_peer(sock, address, inbound=True).start().join()
