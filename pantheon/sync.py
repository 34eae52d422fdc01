"""Which blocks to ask which peer for during headers-first sync: Bitcoin Core's parallel block
download (`FindNextBlocksToDownload`, the stalling timeout, notfound handling), without sockets.

The header tree knows the best header chain; every peer has a best header we know it has (from
its `headers` or block announcements). A peer is asked, lowest height first, for blocks of its
branch that we do not have, are not in flight from anyone, and lie within `window` blocks past
our connected tip; at most `per_peer` at a time. Blocks may arrive in any order: the chainstate
stores them and connects in order.

Two ways a download can stall, both handled here so the node only acts on the answers:
- One slow peer holds the block just above the fork while everyone else has finished the rest
  of the window: that peer is *stalling* (Core's `m_stalling_since`). If it still has not
  delivered `stall_timeout` seconds later (2 s, doubled after each stall-disconnect up to 64 s,
  and relaxed by 15% per delivered block back to 2 s), `stalling_peers()` names it, the node
  disconnects it and `remove_peer` makes its blocks available to others.
- A peer answers `notfound` (bcoin and btcd long stalled here): the block leaves its queue and is
  never asked of that peer again, so others get it at once. A peer that never answers at all is
  named by `timed_out_peers()` after `request_timeout` seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Hashable, Iterable

from pantheon.chain.headers import HeaderTree

__all__ = ["BlockDownload", "BLOCK_DOWNLOAD_WINDOW", "MAX_BLOCKS_IN_TRANSIT_PER_PEER"]

BLOCK_DOWNLOAD_WINDOW = 1024  # Core's BLOCK_DOWNLOAD_WINDOW
MAX_BLOCKS_IN_TRANSIT_PER_PEER = 16  # Core's MAX_BLOCKS_IN_TRANSIT_PER_PEER
STALL_TIMEOUT = 2.0  # Core's BLOCK_STALLING_TIMEOUT_DEFAULT
STALL_TIMEOUT_MAX = 64.0  # Core's BLOCK_STALLING_TIMEOUT_MAX
STALL_RELAX = 0.85  # Core shrinks the timeout by this factor per block received
REQUEST_TIMEOUT = 10 * 60.0  # a block asked for and never delivered (Core: 10 min base)

PeerId = Hashable


@dataclass
class _Peer:
    best: bytes | None = None
    last_unknown: bytes | None = None  # announced before its header was here (Core's hashLastUnknownBlock)
    in_flight: dict[bytes, float] = field(default_factory=dict)  # block hash -> when requested
    stalling_since: float | None = None
    lacks: set[bytes] = field(default_factory=set)  # answered notfound: never asked again


class BlockDownload:
    """The download schedule. `have(hash)`: the block is stored or connected; `tip()`: the hash
    of the connected chain's tip. Peer ids are whatever the node uses to name peers."""

    def __init__(self, tree: HeaderTree, have: Callable[[bytes], bool], tip: Callable[[], bytes], *,
                 window: int = BLOCK_DOWNLOAD_WINDOW, per_peer: int = MAX_BLOCKS_IN_TRANSIT_PER_PEER,
                 stall_timeout: float = STALL_TIMEOUT, stall_timeout_max: float = STALL_TIMEOUT_MAX,
                 request_timeout: float = REQUEST_TIMEOUT, clock: Callable[[], float] = time.monotonic) -> None:
        self.tree = tree
        self._have = have
        self._tip = tip
        self.window = window
        self.per_peer = per_peer
        self._stall_initial = stall_timeout
        self._stall_max = stall_timeout_max
        self.stall_timeout = stall_timeout
        self.request_timeout = request_timeout
        self._clock = clock
        self._peers: dict[PeerId, _Peer] = {}
        self._flight: dict[bytes, PeerId] = {}  # block hash -> the one peer it is asked of

    # --- peers -----------------------------------------------------------------------------

    def add_peer(self, peer: PeerId) -> None:
        self._peers.setdefault(peer, _Peer())

    def remove_peer(self, peer: PeerId) -> None:
        """Forget a peer (disconnected): its in-flight blocks can be asked of others at once."""
        state = self._peers.pop(peer, None)
        if state is not None:
            for block_hash in state.in_flight:
                del self._flight[block_hash]

    def peer_has(self, peer: PeerId, block_hash: bytes) -> None:
        """The peer has this header's block (it sent the header or announced the block): its best
        known block becomes this one if that has at least as much work (Core's
        UpdateBlockAvailability: the latest of equals wins, so a peer that announces a competing
        block of equal work is asked for that one, not the one it announced before). A block
        whose header is not here yet is remembered (the last such) until its header comes."""
        state = self._peers.get(peer)
        if state is None:
            return
        self._resolve_unknown(state)
        if block_hash not in self.tree:
            state.last_unknown = block_hash
        else:
            self._raise_best(state, block_hash)

    def _raise_best(self, state: _Peer, block_hash: bytes) -> None:
        tree = self.tree
        if not tree.is_valid(block_hash):
            return
        if state.best is None or state.best not in tree or tree.chain_work(block_hash) >= tree.chain_work(state.best):
            state.best = block_hash

    def _resolve_unknown(self, state: _Peer) -> None:
        """Core's ProcessBlockAvailability: the block announced before its header now counts."""
        if state.last_unknown is not None and state.last_unknown in self.tree:
            self._raise_best(state, state.last_unknown)
            state.last_unknown = None

    def best_of(self, peer: PeerId) -> bytes | None:
        """The best block the peer is known to have (Core's pindexBestKnownBlock)."""
        state = self._peers.get(peer)
        if state is None:
            return None
        self._resolve_unknown(state)
        return state.best

    def peer_progress(self, peer: PeerId) -> tuple[int, int, list[int]]:
        """What Core's getpeerinfo says of a peer's sync: the height of its best known header
        (-1: none), of the last block it shares with our chain (-1: none), and the heights of
        the blocks in flight from it, lowest first."""
        state = self._peers.get(peer)
        if state is None:
            return -1, -1, []
        best = state.best if state.best is not None and state.best in self.tree else None
        heights = sorted(self.tree.height_of(block_hash) for block_hash in state.in_flight)
        if best is None:
            return -1, -1, heights
        return self.tree.height_of(best), self._last_common_height(best), heights

    def in_flight(self, peer: PeerId | None = None) -> int:
        """Blocks asked for and not yet delivered, from one peer or all."""
        if peer is None:
            return len(self._flight)
        state = self._peers.get(peer)
        return 0 if state is None else len(state.in_flight)

    # --- requests --------------------------------------------------------------------------

    def next_requests(self, peer: PeerId) -> list[bytes]:
        """The blocks to ask `peer` for now (lowest height first), marked in flight from it.
        When the window's end keeps it idle behind another peer's block, that peer is marked as
        stalling (Core's nodeStaller)."""
        state = self._peers.get(peer)
        if state is not None:
            self._resolve_unknown(state)
        if state is None or state.best is None:
            return []
        free = self.per_peer - len(state.in_flight)
        if free <= 0 or state.best not in self.tree or not self.tree.is_valid(state.best):
            return []
        tree = self.tree
        fork_height = self._last_common_height(state.best)
        best_height = tree.height_of(state.best)
        best_work = tree.chain_work(state.best)
        if best_height <= fork_height or best_work < tree.chain_work(self._tip()) \
                or best_work < tree.network.minimum_chain_work:
            return []  # nothing past our tip, less work than ours, or less than the network's minimum
        # The window starts after the blocks we already have from the fork on, stored but not yet
        # connected too (Core moves pindexLastCommonBlock over them): a reorganisation longer
        # than the window needs all of its blocks before it can connect any.
        start = fork_height
        while start < best_height and self._have(tree.ancestor(state.best, start + 1)):
            start += 1
        window_end = start + self.window
        blocking: PeerId | None = None
        chosen: list[bytes] = []
        for height in range(start + 1, min(best_height, window_end) + 1):
            block_hash = tree.ancestor(state.best, height)
            if block_hash in state.lacks or self._have(block_hash):
                continue
            holder = self._flight.get(block_hash)
            if holder is not None:
                if blocking is None and holder != peer:
                    blocking = holder
                continue
            chosen.append(block_hash)
            if len(chosen) == free:
                break
        if not chosen and blocking is not None and best_height > window_end:
            staller = self._peers[blocking]
            if staller.stalling_since is None:
                staller.stalling_since = self._clock()
        return self._ask(peer, state, chosen)

    def direct_fetch(self, peer: PeerId, last: bytes) -> list[bytes] | None:
        """Core's HeadersDirectFetchBlocks for headers just received from `peer` ending at
        `last`: the blocks between our connected chain and `last` that we lack and nobody is
        asked for, oldest first, marked in flight from `peer` up to its limit. None when `last`
        is more than `per_peer` blocks off our chain (a large reorg: left to the normal download)."""
        state = self._peers.get(peer)
        if state is None:
            return []
        tree = self.tree
        tip = self._tip()
        tip_height = tree.height_of(tip)
        wanted: list[bytes] = []
        walk: bytes | None = last
        while walk is not None and not self._on_chain(walk, tip, tip_height) and len(wanted) <= self.per_peer:
            if not self._have(walk) and walk not in self._flight:
                wanted.append(walk)
            walk = None if walk == tree.anchor else tree.header(walk).prev_block
        if walk is None or not self._on_chain(walk, tip, tip_height):
            return None
        return self._ask(peer, state, list(reversed(wanted))[:max(self.per_peer - len(state.in_flight), 0)])

    def _ask(self, peer: PeerId, state: _Peer, chosen: list[bytes]) -> list[bytes]:
        """Mark `chosen` in flight from `peer`, now; returns it."""
        now = self._clock()
        for block_hash in chosen:
            state.in_flight[block_hash] = now
            self._flight[block_hash] = peer
        return chosen

    def _on_chain(self, block_hash: bytes, tip: bytes, tip_height: int) -> bool:
        height = self.tree.height_of(block_hash)
        return height <= tip_height and self.tree.ancestor(tip, height) == block_hash

    def _last_common_height(self, best: bytes) -> int:
        """Height of the last block both our connected chain and the peer's branch hold (Core's
        pindexLastCommonBlock): downloading starts above it, so a peer on a heavier fork is asked
        for its branch from the fork, not from our tip's height."""
        return self.tree.height_of(self.tree.last_common_ancestor(self._tip(), best))

    def is_requested(self, block_hash: bytes) -> bool:
        """Whether the block is in flight from any peer (Core's IsBlockRequested)."""
        return block_hash in self._flight

    def requested_from(self, block_hash: bytes) -> PeerId | None:
        """The peer the block is in flight from, None if none."""
        return self._flight.get(block_hash)

    def request(self, peer: PeerId, block_hash: bytes) -> None:
        """Mark the block in flight from `peer` (Core's BlockRequested, for a compact block the
        peer announced): from now on its answer is awaited, and timed, as any requested block."""
        state = self._peers.get(peer)
        if state is None or self._flight.get(block_hash) == peer:
            return
        self.cancel(self._flight.get(block_hash), block_hash)
        self._ask(peer, state, [block_hash])

    def cancel(self, peer: PeerId | None, block_hash: bytes) -> None:
        """The block is no longer awaited from `peer` (Core's RemoveBlockRequest for one peer):
        another may be asked; a request from another peer stays."""
        if peer is None or self._flight.get(block_hash) != peer:
            return
        del self._flight[block_hash]
        self._peers[peer].in_flight.pop(block_hash, None)

    def block_received(self, peer: PeerId, block_hash: bytes) -> bool:
        """A block arrived from `peer`; True if it was asked of that peer. Whoever it was asked
        of, it is no longer in flight; the sender is not stalling any more."""
        holder = self._flight.pop(block_hash, None)
        if holder is not None:
            self._peers[holder].in_flight.pop(block_hash, None)
        state = self._peers.get(peer)
        if state is not None:
            state.stalling_since = None
        if holder == peer:
            self.stall_timeout = max(self.stall_timeout * STALL_RELAX, self._stall_initial)
            return True
        return False

    def not_found(self, peer: PeerId, hashes: Iterable[bytes]) -> None:
        """The peer answered `notfound` for these: they leave its queue for good, so another peer
        gets them on its next request."""
        state = self._peers.get(peer)
        if state is None:
            return
        for block_hash in hashes:
            if state.in_flight.pop(block_hash, None) is not None:
                del self._flight[block_hash]
                state.lacks.add(block_hash)

    # --- timeouts --------------------------------------------------------------------------

    def stalling_peers(self) -> list[PeerId]:
        """Peers that held up the window longer than the stall timeout: disconnect them, then
        call `stalled()` once per disconnection."""
        deadline = self._clock() - self.stall_timeout
        return [peer for peer, state in self._peers.items()
                if state.stalling_since is not None and state.stalling_since < deadline]

    def stalled(self, peer: PeerId) -> None:
        """A staller was disconnected: forget it and give the next one longer (Core doubles it)."""
        self.remove_peer(peer)
        self.stall_timeout = min(self.stall_timeout * 2, self._stall_max)

    def timed_out_peers(self) -> list[PeerId]:
        """Peers with a request older than `request_timeout` (alive but not delivering)."""
        deadline = self._clock() - self.request_timeout
        return [peer for peer, state in self._peers.items()
                if any(asked < deadline for asked in state.in_flight.values())]
