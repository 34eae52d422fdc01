"""The transaction orphanage: transactions peers sent whose inputs are not yet known, kept until
their parents arrive, as Bitcoin Core 30's `TxOrphanage` (`node/txorphanage.cpp`) keeps them.

An orphan is kept once (by wtxid) with every peer that announced it; what a peer may hold is
measured per announcement, as Core does: its weight (memory), and its latency score (1, plus 1
per 10 inputs: the work its removal costs). There is no count limit and no expiry. The limits
are global and shared: a latency score of 3,000 split evenly between the peers holding orphans,
and 404,000 weight units reserved per such peer. While the orphanage is over either, the peer
using most of its share (the larger of its two ratios; the later peer on a tie) loses its
oldest announcements. An orphan leaves when its last announcer does, when it is accepted or
refused, when a block spends one of its inputs, or when its peer disconnects.

It holds transactions and answers questions about them; it never validates one (the mempool
does, `chain/mempool.py`) and never talks to a peer (peers are their ids).
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass, field
from fractions import Fraction

from pantheon.chain.policy import MAX_STANDARD_TX_WEIGHT
from pantheon.hashing import hash_to_hex
from pantheon.primitives import Block, OutPoint, Tx

__all__ = ["TxOrphanage", "DEFAULT_MAX_ORPHANAGE_LATENCY_SCORE", "DEFAULT_RESERVED_ORPHAN_WEIGHT_PER_PEER"]

log = logging.getLogger(__name__)
_TXPACKAGES = {"category": "txpackages"}

#: Core's DEFAULT_MAX_ORPHANAGE_LATENCY_SCORE: the latency score all peers' orphans share.
DEFAULT_MAX_ORPHANAGE_LATENCY_SCORE = 3000
#: Core's DEFAULT_RESERVED_ORPHAN_WEIGHT_PER_PEER: one maximal standard transaction and then some.
DEFAULT_RESERVED_ORPHAN_WEIGHT_PER_PEER = 404_000
#: An orphan's latency score grows by one per this many inputs.
_INPUTS_PER_LATENCY = 10


def _latency(tx: Tx) -> int:
    return 1 + len(tx.inputs) // _INPUTS_PER_LATENCY


@dataclass(slots=True)
class _Orphan:
    tx: Tx
    announcers: dict[int, int] = field(default_factory=dict)  # peer -> sequence of its announcement


@dataclass(slots=True)
class _PeerUse:
    """What one peer's announcements hold: weight, latency score, count."""

    weight: int = 0
    latency: int = 0
    count: int = 0

    def dos_score(self, max_latency: int, max_weight: int) -> tuple[Fraction, int]:
        """Core's GetDosScore: the larger ratio of use to share, ties going to the smaller share
        (Core's FeeFrac order), so latency hogs go before memory hogs."""
        return max((Fraction(self.latency, max_latency), -max_latency), (Fraction(self.weight, max_weight), -max_weight))


class TxOrphanage:
    """Orphans by wtxid, their announcers, and the outpoints they spend (see the module notes)."""

    def __init__(self, *, max_latency_score: int = DEFAULT_MAX_ORPHANAGE_LATENCY_SCORE,
                 reserved_weight_per_peer: int = DEFAULT_RESERVED_ORPHAN_WEIGHT_PER_PEER) -> None:
        self.max_latency_score = max_latency_score
        self.reserved_weight_per_peer = reserved_weight_per_peer
        self._orphans: dict[bytes, _Orphan] = {}
        self._by_outpoint: dict[OutPoint, set[bytes]] = {}
        self._peers: dict[int, _PeerUse] = {}
        self._sequence = 0
        self._weight = 0  # of the unique orphans
        self._input_latency = 0  # the unique orphans' latency scores beyond 1 each
        self._announcements = 0

    # --- reading --------------------------------------------------------------------------

    def get(self, wtxid: bytes) -> Tx | None:
        orphan = self._orphans.get(wtxid)
        return None if orphan is None else orphan.tx

    def __contains__(self, wtxid: object) -> bool:
        return wtxid in self._orphans

    def __len__(self) -> int:
        return len(self._orphans)

    def announcers(self, wtxid: bytes) -> list[int]:
        """The peers that announced `wtxid`, first announcer first."""
        orphan = self._orphans.get(wtxid)
        return [] if orphan is None else sorted(orphan.announcers, key=orphan.announcers.__getitem__)

    def orphans(self) -> list[tuple[Tx, list[int]]]:
        """Every orphan with its announcers (ascending), in Core's order: by wtxid as a number."""
        return [(orphan.tx, sorted(orphan.announcers))
                for _, orphan in sorted(self._orphans.items(), key=lambda item: item[0][::-1])]

    def spenders(self, txid: bytes, outputs: int) -> list[bytes]:
        """The wtxids of orphans spending any of `txid`'s first `outputs` outputs (its children),
        in wtxid order."""
        found: set[bytes] = set()
        for index in range(outputs):
            found |= self._by_outpoint.get(OutPoint(txid, index), set())
        return sorted(found)

    @property
    def latency_score(self) -> int:
        return self._input_latency + self._announcements

    @property
    def weight(self) -> int:
        return self._weight

    # --- changing -------------------------------------------------------------------------

    def add(self, tx: Tx, peer: int) -> bool:
        """Core's AddTx: keep `tx` as announced by `peer`, then trim. False when it was already
        kept (`peer` is added as an announcer) or is too heavy to keep."""
        wtxid = tx.wtxid
        weight = tx.weight
        if weight > MAX_STANDARD_TX_WEIGHT:
            log.debug("ignoring large orphan tx (size: %d, txid: %s, wtxid: %s)", weight, hash_to_hex(tx.txid),
                      hash_to_hex(wtxid), extra=_TXPACKAGES)
            return False
        orphan = self._orphans.get(wtxid)
        brand_new = orphan is None
        if orphan is None:
            orphan = self._orphans[wtxid] = _Orphan(tx)
            for txin in tx.inputs:
                self._by_outpoint.setdefault(txin.outpoint, set()).add(wtxid)
            self._weight += weight
            self._input_latency += _latency(tx) - 1
            log.debug("stored orphan tx %s (wtxid=%s), weight: %d (mapsz %d outsz %d)", hash_to_hex(tx.txid),
                      hash_to_hex(wtxid), weight, len(self._orphans), len(self._by_outpoint), extra=_TXPACKAGES)
        elif peer in orphan.announcers:
            return False
        else:
            log.debug("added peer=%s as announcer of orphan tx %s (wtxid=%s)", peer, hash_to_hex(tx.txid),
                      hash_to_hex(wtxid), extra=_TXPACKAGES)
        orphan.announcers[peer] = self._sequence
        self._sequence += 1
        self._announcements += 1
        use = self._peers.setdefault(peer, _PeerUse())
        use.weight += weight
        use.latency += _latency(tx)
        use.count += 1
        self._limit()
        return brand_new

    def erase_for_peer(self, peer: int) -> int:
        """Core's EraseForPeer (it disconnected): drop its announcements, and the orphans only it
        announced. Returns how many announcements went."""
        mine = [wtxid for wtxid, orphan in self._orphans.items() if peer in orphan.announcers]
        for wtxid in mine:
            self._drop_announcement(wtxid, peer)
        if mine:
            log.debug("Erased %d orphan transaction(s) from peer=%s", len(mine), peer, extra=_TXPACKAGES)
        self._limit()
        return len(mine)

    def erase_for_block(self, block: Block) -> int:
        """Core's EraseForBlock: drop every orphan spending an outpoint the block's transactions
        spend (it is in the block, or conflicts with it). Returns how many."""
        doomed: set[bytes] = set()
        for tx in block.transactions if self._by_outpoint else ():
            for txin in tx.inputs:
                doomed |= self._by_outpoint.get(txin.outpoint, set())
        erased = sum(self._erase(wtxid) for wtxid in sorted(doomed))
        if erased:
            log.debug("Erased %d orphan transaction(s) included or conflicted by block", erased, extra=_TXPACKAGES)
        self._limit()
        return erased

    def erase(self, wtxid: bytes) -> bool:
        """Core's EraseTx: forget the orphan and all its announcements."""
        erased = self._erase(wtxid)
        self._limit()  # the global weight limit shrinks with the peers holding orphans
        return erased

    # --- helpers --------------------------------------------------------------------------

    def _erase(self, wtxid: bytes) -> bool:
        orphan = self._orphans.get(wtxid)
        if orphan is None:
            return False
        announcements = len(orphan.announcers)
        for peer in list(orphan.announcers):
            self._drop_announcement(wtxid, peer)
        log.debug("removed orphan tx %s (wtxid=%s) (%d announcements)", hash_to_hex(orphan.tx.txid),
                  hash_to_hex(wtxid), announcements, extra=_TXPACKAGES)
        return True

    def _drop_announcement(self, wtxid: bytes, peer: int) -> None:
        orphan = self._orphans[wtxid]
        tx = orphan.tx
        del orphan.announcers[peer]
        self._announcements -= 1
        use = self._peers[peer]
        use.weight -= tx.weight
        use.latency -= _latency(tx)
        use.count -= 1
        if not use.count:
            del self._peers[peer]
        if orphan.announcers:
            return
        del self._orphans[wtxid]
        self._weight -= tx.weight
        self._input_latency -= _latency(tx) - 1
        for txin in tx.inputs:
            waiting = self._by_outpoint.get(txin.outpoint)
            if waiting is not None:
                waiting.discard(wtxid)
                if not waiting:
                    del self._by_outpoint[txin.outpoint]

    def _over_limits(self) -> bool:
        peers = max(len(self._peers), 1)
        return self.latency_score > self.max_latency_score or self._weight > self.reserved_weight_per_peer * peers

    def _limit(self) -> None:
        """Core's LimitOrphans: while over the global limits, the peer with the highest DoS score
        loses its oldest announcements, until it is no worse than the next peer."""
        if not self._over_limits():
            return
        unique_before, erased = len(self._orphans), 0
        max_latency = self.max_latency_score // max(len(self._peers), 1)
        max_weight = self.reserved_weight_per_peer
        one = (Fraction(1), 0)
        heap = [(_negated(use.dos_score(max_latency, max_weight)), -peer, peer)
                for peer, use in self._peers.items() if use.dos_score(max_latency, max_weight) > one]
        heapq.heapify(heap)
        while heap:
            _, _, worst = heapq.heappop(heap)
            threshold = _negated(heap[0][0]) if heap else one
            oldest = sorted(((orphan.announcers[worst], wtxid) for wtxid, orphan in self._orphans.items()
                             if worst in orphan.announcers))
            before = len(oldest)
            removed = 0
            for _, wtxid in oldest:
                if not self._over_limits():
                    break
                self._drop_announcement(wtxid, worst)
                removed += 1
                use = self._peers.get(worst)
                if use is None or use.dos_score(max_latency, max_weight) <= threshold:
                    break
            erased += removed
            log.debug("peer=%s orphanage overflow, removed %d of %d announcements", worst, removed, before,
                      extra=_TXPACKAGES)
            if not self._over_limits():
                break
            use = self._peers.get(worst)
            if use is not None:
                heapq.heappush(heap, (_negated(use.dos_score(max_latency, max_weight)), -worst, worst))
        log.debug("orphanage overflow, removed %d tx (%d announcements)", unique_before - len(self._orphans), erased,
                  extra=_TXPACKAGES)


def _negated(score: tuple[Fraction, int]) -> tuple[Fraction, int]:
    """A DoS score as a min-heap key (the heap pops the highest score first)."""
    return (-score[0], -score[1])
