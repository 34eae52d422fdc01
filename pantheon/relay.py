"""Transaction relay between the mempool and the peers, as Bitcoin Core's net_processing does it.

What it owns, per connected peer: the transactions waiting to be announced to it, when its next
trickle is due, and the transactions asked of it; across peers: who else announced a transaction
that is being fetched (Core's TxRequestTracker). What was recently refused it asks the pool.

- Announcing: a transaction accepted to the mempool is queued for every peer but its source that
  relays transactions (`relay` in its version). Each peer's queue is flushed on its own Poisson
  timer (2 s outbound, 5 s inbound on average: Core's trickle, which hides where a transaction
  came from), at most 1,000 an `inv`, by wtxid to BIP339 peers, never below the peer's feefilter,
  never what the peer is known to have.
- Fetching: an announced transaction we lack is asked of one peer at a time, the first announcer;
  when that request ends without the transaction (`notfound`, a timeout, the peer leaving) the
  next announcer is asked. At most 100 requests are in flight per peer; a busy peer's further
  announcements wait 2 s and are asked as its requests are answered (Core's overloaded-peer delay),
  up to 5,000 tracked per peer, beyond which they are dropped as Core drops them.
- Orphans: the missing parents of a peer's orphan are asked of that peer.

It never validates or stores a transaction (the mempool does) and never reads the chain; the
node hands it what peers send and calls `tick()` periodically.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Protocol

from pantheon import wire
from pantheon.primitives import InvVect, Tx
from pantheon.protocol import MSG_TX, MSG_WITNESS_FLAG, MSG_WITNESS_TX, MSG_WTX

if TYPE_CHECKING:
    from pantheon.chain.mempool import MempoolEntry
    from pantheon.net.peer import Peer

__all__ = ["TxRelay", "TxPool", "relays_txs", "INVENTORY_BROADCAST_MAX", "MAX_PEER_TX_REQUEST_IN_FLIGHT",
           "MAX_PEER_TX_ANNOUNCEMENTS", "OVERLOADED_PEER_TX_DELAY"]

INVENTORY_BROADCAST_MAX = 1_000  # Core's per-trickle cap on transactions announced in one inv
MAX_PEER_TX_REQUEST_IN_FLIGHT = 100  # Core's txrequest limit per peer
MAX_PEER_TX_ANNOUNCEMENTS = 5_000  # Core's cap on announcements tracked per peer (asked and waiting)
OVERLOADED_PEER_TX_DELAY = 2.0  # seconds Core delays a request to a peer with a full request window
MAX_TX_FALLBACK_ANNOUNCERS = 16  # other announcers remembered per requested tx, asked in turn


class TxPool(Protocol):
    """What relay reads of the mempool."""

    def get(self, txid: bytes) -> MempoolEntry | None: ...
    def get_by_wtxid(self, wtxid: bytes) -> MempoolEntry | None: ...
    def has_orphan(self, wtxid: bytes) -> bool: ...
    def recently_rejected(self, tx_hash: bytes) -> bool: ...
    def ordered(self) -> list[MempoolEntry]: ...


@dataclass
class _PeerState:
    peer: Peer
    next_trickle: float
    in_flight: dict[bytes, float] = field(default_factory=dict)  # hash asked -> when
    waiting: dict[bytes, float] = field(default_factory=dict)  # hash announced, not yet asked -> when it may be
    pending: dict[bytes, bytes] = field(default_factory=dict)  # txid -> wtxid, to announce


class TxRelay:
    """Announce and fetch transactions for the connected peers (see the module notes)."""

    def __init__(self, pool: TxPool, *, trickle_outbound: float = 2.0, trickle_inbound: float = 5.0,
                 request_timeout: float = 60.0, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pool = pool
        self.trickle_outbound = trickle_outbound  # Core's OUTBOUND_INVENTORY_BROADCAST_INTERVAL (mean)
        self.trickle_inbound = trickle_inbound  # Core's INBOUND_INVENTORY_BROADCAST_INTERVAL (mean)
        self.request_timeout = request_timeout  # Core's GETDATA_TX_INTERVAL
        self._rng = rng or random.Random()
        self._clock = clock
        self._peers: dict[int, _PeerState] = {}
        #: For each tx hash in flight from one peer: the other peers that announced it, in order.
        self._fallback: dict[bytes, list[int]] = {}

    # --- peers ---------------------------------------------------------------------------

    def add_peer(self, peer: Peer) -> None:
        """A peer finished its handshake."""
        self._peers[peer.id] = _PeerState(peer, self._next_trickle(peer))

    def remove_peer(self, peer: Peer) -> None:
        """A peer left: what was asked of it goes to the next announcers."""
        state = self._peers.pop(peer.id, None)
        for tx_hash in state.in_flight if state is not None else ():
            self._request_failed(tx_hash)

    def pending(self, peer_id: int) -> int:
        """Transactions queued for this peer's next trickle."""
        state = self._peers.get(peer_id)
        return len(state.pending) if state is not None else 0

    def in_flight(self, peer_id: int) -> int:
        """Transactions asked of this peer and not yet answered."""
        state = self._peers.get(peer_id)
        return len(state.in_flight) if state is not None else 0

    def waiting(self, peer_id: int) -> int:
        """Transactions this peer announced while its request window was full, not yet asked."""
        state = self._peers.get(peer_id)
        return len(state.waiting) if state is not None else 0

    # --- what peers send -------------------------------------------------------------------

    def announced(self, peer: Peer, items: Iterable[InvVect]) -> None:
        """The transaction entries of a peer's `inv`: ask for those we lack, one announcer at a time."""
        state = self._peers.get(peer.id)
        if state is None:
            return
        now = self._clock()
        wanted: list[InvVect] = []
        for item in items:
            kind = item.type & ~MSG_WITNESS_FLAG
            if kind not in (MSG_TX, MSG_WTX) or (kind == MSG_WTX) != peer.wtxid_relay:
                continue  # Core ignores the other kind of tx inv from a peer
            if self.is_known(item.hash) or item.hash in state.in_flight or item.hash in state.waiting:
                continue
            if self._asked_elsewhere(peer, item.hash):
                continue
            if len(state.in_flight) < MAX_PEER_TX_REQUEST_IN_FLIGHT:
                state.in_flight[item.hash] = now
                wanted.append(_request_item(peer, item.hash))
            elif len(state.in_flight) + len(state.waiting) < MAX_PEER_TX_ANNOUNCEMENTS:
                state.waiting[item.hash] = now + OVERLOADED_PEER_TX_DELAY
        if wanted:
            peer.send("getdata", wire.encode_getdata(wanted))

    def _asked_elsewhere(self, peer: Peer, tx_hash: bytes) -> bool:
        """Whether another peer is being asked for `tx_hash`; if so `peer` becomes one of its next
        announcers."""
        if not any(tx_hash in other.in_flight for other in self._peers.values()):
            return False
        fallback = self._fallback.setdefault(tx_hash, [])
        if peer.id not in fallback and len(fallback) < MAX_TX_FALLBACK_ANNOUNCERS:
            fallback.append(peer.id)
        return True

    def received(self, peer: Peer, tx: Tx) -> None:
        """A peer sent `tx`: whatever was asked for it is over, and the peer has it."""
        state = self._peers.get(peer.id)
        for tx_hash in (tx.wtxid, tx.txid):
            if state is not None:
                state.in_flight.pop(tx_hash, None)
            self._fallback.pop(tx_hash, None)
        peer.known_inventory.add(tx.wtxid if peer.wtxid_relay else tx.txid)

    def not_found(self, peer: Peer, hashes: Iterable[bytes]) -> None:
        """A peer's `notfound`: each transaction asked of it goes to its next announcer."""
        state = self._peers.get(peer.id)
        if state is None:
            return
        for tx_hash in hashes:
            if state.in_flight.pop(tx_hash, None) is not None:
                self._request_failed(tx_hash)

    def request_parents(self, peer: Peer, tx: Tx) -> None:
        """`tx` from `peer` is an orphan: ask that peer for its parents we neither have nor refused."""
        parents = {txin.prev_txid for txin in tx.inputs if self.pool.get(txin.prev_txid) is None}
        wanted = [InvVect(MSG_WITNESS_TX, parent) for parent in parents if not self.pool.recently_rejected(parent)]
        if wanted:
            peer.send("getdata", wire.encode_getdata(wanted))

    def is_known(self, tx_hash: bytes) -> bool:
        """In the mempool or the orphanage (by txid or wtxid), or recently refused."""
        pool = self.pool
        return (pool.recently_rejected(tx_hash) or pool.get(tx_hash) is not None
                or pool.get_by_wtxid(tx_hash) is not None or pool.has_orphan(tx_hash))

    # --- announcing ---------------------------------------------------------------------------

    def queue(self, tx: Tx, source: Peer | None = None) -> None:
        """Announce `tx` to every peer that relays transactions, but its source, at its next trickle."""
        for state in self._peers.values():
            if state.peer is not source and relays_txs(state.peer):
                state.pending[tx.txid] = tx.wtxid

    def announce_mempool(self, peer: Peer) -> None:
        """BIP35 `mempool`: announce the whole pool (above the peer's feefilter) now."""
        state = self._peers.get(peer.id)
        if state is None or not relays_txs(peer):
            return
        for entry in self.pool.ordered():
            state.pending[entry.tx.txid] = entry.tx.wtxid
        self._flush(state, limit=None)

    def tick(self) -> None:
        """Expire requests that took too long (asking the next announcer), ask for waiting
        announcements whose delay is over, and flush due trickles."""
        now = self._clock()
        expired_before = now - self.request_timeout
        for state in list(self._peers.values()):
            if state.peer.closed:
                continue
            for tx_hash in [h for h, asked in state.in_flight.items() if asked < expired_before]:
                del state.in_flight[tx_hash]
                self._request_failed(tx_hash)
            self._ask_waiting(state, now)
            if state.pending and now >= state.next_trickle:
                self._flush(state)
                state.next_trickle = self._next_trickle(state.peer)

    # --- internals ----------------------------------------------------------------------------

    def _next_trickle(self, peer: Peer) -> float:
        mean = self.trickle_inbound if peer.inbound else self.trickle_outbound
        return self._clock() + self._rng.expovariate(1.0 / mean)

    def _flush(self, state: _PeerState, limit: int | None = INVENTORY_BROADCAST_MAX) -> None:
        """Announce pending transactions still in the mempool and above the peer's feefilter."""
        peer = state.peer
        items: list[InvVect] = []
        while state.pending and (limit is None or len(items) < limit):
            txid, wtxid = state.pending.popitem()
            entry = self.pool.get(txid)
            if entry is None or entry.fee * 1000 < peer.fee_filter * entry.vsize:
                continue
            item = InvVect(MSG_WTX, wtxid) if peer.wtxid_relay else InvVect(MSG_TX, txid)
            if peer.known_inventory.add(item.hash):
                items.append(item)
        for start in range(0, len(items), INVENTORY_BROADCAST_MAX):
            peer.send("inv", wire.encode_inv(items[start:start + INVENTORY_BROADCAST_MAX]))

    def _ask_waiting(self, state: _PeerState, now: float) -> None:
        """Ask for the peer's waiting announcements that are due, oldest first, while its request
        window has room (each waited the same delay, so the due ones come first)."""
        peer = state.peer
        wanted: list[InvVect] = []
        while state.waiting and len(state.in_flight) < MAX_PEER_TX_REQUEST_IN_FLIGHT:
            tx_hash, due = next(iter(state.waiting.items()))
            if due > now:
                break
            del state.waiting[tx_hash]
            if tx_hash in state.in_flight or self.is_known(tx_hash) or self._asked_elsewhere(peer, tx_hash):
                continue
            state.in_flight[tx_hash] = now
            wanted.append(_request_item(peer, tx_hash))
        if wanted:
            peer.send("getdata", wire.encode_getdata(wanted))

    def _request_failed(self, tx_hash: bytes) -> None:
        """A request for `tx_hash` ended without the tx: ask the next announcer that can take one."""
        fallback = self._fallback.pop(tx_hash, None)
        if not fallback or self.is_known(tx_hash):
            return
        while fallback:
            state = self._peers.get(fallback.pop(0))
            if state is None or state.peer.closed or len(state.in_flight) >= MAX_PEER_TX_REQUEST_IN_FLIGHT:
                continue
            state.in_flight[tx_hash] = self._clock()
            state.peer.send("getdata", wire.encode_getdata([_request_item(state.peer, tx_hash)]))
            if fallback:
                self._fallback[tx_hash] = fallback
            return


def _request_item(peer: Peer, tx_hash: bytes) -> InvVect:
    return InvVect(MSG_WTX if peer.wtxid_relay else MSG_WITNESS_TX, tx_hash)


def relays_txs(peer: Peer) -> bool:
    """The peer asked for transactions (relay in its version) and this is not a connection Core
    keeps free of them."""
    return peer.remote is not None and bool(peer.remote.relay) and peer.connection_type != "block-relay-only"

