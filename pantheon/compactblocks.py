"""BIP152 compact blocks, version 2 (wtxid short ids): what Core's blockencodings.cpp does, and
the per-peer state net_processing keeps for them. It builds a `cmpctblock` for a block
(`compact_block`), rebuilds a block from one (`PartialBlock`: the prefilled transactions, the
mempool, the orphans and `ExtraTxns`, then the `blocktxn` answer), remembers which peers asked
for compact announcements and which peers we asked (`HighBandwidth`), and keeps the partial
blocks in flight per peer (`PartialBlocks`, bounded like the download's in-flight blocks).

It never sends a message or touches the chain: `node.py` handles the messages and decides, with
Core's rules, when to ask for missing transactions, fall back to a full block or punish a peer.
The short-id hashing and matching are the wire core's (`wire.short_ids`, `wire.match_short_ids`).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections import OrderedDict
from typing import Sequence

from pantheon import wire
from pantheon.chain.validation import MAX_BLOCK_WEIGHT, WITNESS_SCALE_FACTOR, is_block_mutated
from pantheon.primitives import Block, BlockHeader, CmpctBlock, PrefilledTx, Tx

__all__ = [
    "CompactBlockError", "EXTRA_TXN_FOR_COMPACT", "ExtraTxns", "HighBandwidth", "InvalidCompactBlock",
    "MAX_BLOCKTXN_DEPTH", "MAX_CMPCTBLOCK_DEPTH", "MAX_CMPCTBLOCKS_INFLIGHT_PER_BLOCK", "PartialBlock",
    "PartialBlocks", "ReconstructionFailed", "compact_block", "short_id_key",
]

MAX_CMPCTBLOCK_DEPTH = 5  # Core: getdata(MSG_CMPCT_BLOCK) deeper than this gets the full block
MAX_BLOCKTXN_DEPTH = 10  # Core: getblocktxn deeper than this gets the full block
HIGH_BANDWIDTH_PEERS = 3  # BIP152: at most 3 peers are asked to announce with cmpctblock
MAX_CMPCTBLOCKS_INFLIGHT_PER_BLOCK = 3  # Core: peers completing one compact block at once
EXTRA_TXN_FOR_COMPACT = 100  # Core's DEFAULT_BLOCK_RECONSTRUCTION_EXTRA_TXN
EXTRA_TXN_MAX_SIZE = 100_000  # Core keeps a refused transaction for reconstruction below this usage
MIN_SERIALIZABLE_TRANSACTION_WEIGHT = 10 * WITNESS_SCALE_FACTOR  # Core's consensus.h: 10 bytes at least
#: Core's InitData: no compact block names more transactions than a block can hold.
MAX_COMPACT_BLOCK_TXS = MAX_BLOCK_WEIGHT // MIN_SERIALIZABLE_TRANSACTION_WEIGHT

_KEY = struct.Struct("<QQ")


class CompactBlockError(Exception):
    """A compact block (or the transactions sent for it) that gives no block."""


class InvalidCompactBlock(CompactBlockError):
    """The peer sent data no honest peer sends (Core's READ_STATUS_INVALID): it misbehaved."""


class ReconstructionFailed(CompactBlockError):
    """The block cannot be rebuilt, through no proven fault of the peer (Core's
    READ_STATUS_FAILED: equal short ids, or a rebuilt block whose merkle root does not match):
    ask for the full block."""


def short_id_key(header: BlockHeader, nonce: int) -> tuple[int, int]:
    """BIP152's SipHash key: the first two little-endian 64-bit words of SHA256(header || nonce)."""
    return _KEY.unpack_from(hashlib.sha256(header.serialize() + nonce.to_bytes(8, "little")).digest())


def compact_block(block: Block, nonce: int | None = None) -> CmpctBlock:
    """Core's CBlockHeaderAndShortTxIDs: the coinbase prefilled, every other transaction as the
    short id of its wtxid under a random (or the given) nonce."""
    if nonce is None:
        nonce = int.from_bytes(os.urandom(8), "little")
    k0, k1 = short_id_key(block.header, nonce)
    transactions = block.transactions
    return CmpctBlock(block.header, nonce, tuple(wire.short_ids(k0, k1, [tx.wtxid for tx in transactions[1:]])),
                      (PrefilledTx(0, transactions[0]),) if transactions else ())


class PartialBlock:
    """Core's PartiallyDownloadedBlock: a compact block with the transactions found for it.

    Built from the message and the candidates (wtxid, transaction) in the order they are tried
    (mempool, then orphans and extra transactions); raises InvalidCompactBlock or
    ReconstructionFailed as Core's InitData reports them. `missing` lists the block positions
    still wanted; `fill` completes the block with the peer's answer, once: `used` says it was
    tried (Core empties the object on its first FillBlock, whatever the outcome)."""

    __slots__ = ("header", "_slots", "prefilled", "from_pool", "used")

    def __init__(self, cmpct: CmpctBlock, candidates: Sequence[tuple[bytes, Tx]]) -> None:
        count = len(cmpct.short_ids) + len(cmpct.prefilled)
        if not count:
            raise InvalidCompactBlock("compact block with no transactions")
        if count > MAX_COMPACT_BLOCK_TXS:
            raise InvalidCompactBlock(f"compact block of {count} transactions")
        slots: list[Tx | None] = [None] * count
        last = -1
        for entry in cmpct.prefilled:
            if entry.index <= last:
                raise InvalidCompactBlock(f"prefilled index {entry.index} repeated or out of order")
            if entry.index >= count:
                raise InvalidCompactBlock(f"prefilled index {entry.index} in a block of {count} transactions")
            if not entry.tx.inputs and not entry.tx.outputs:
                raise InvalidCompactBlock("null prefilled transaction")
            slots[entry.index] = entry.tx
            last = entry.index
        k0, k1 = short_id_key(cmpct.header, cmpct.nonce)
        found = wire.match_short_ids(k0, k1, cmpct.short_ids, [wtxid for wtxid, _ in candidates])
        if found is None:
            raise ReconstructionFailed("short id collision")
        open_slots = (index for index, tx in enumerate(slots) if tx is None)
        from_pool = 0
        for position, index in zip(open_slots, found):
            if index >= 0:
                slots[position] = candidates[index][1]
                from_pool += 1
        self.header = cmpct.header
        self._slots = slots
        self.prefilled = len(cmpct.prefilled)
        self.from_pool = from_pool
        self.used = False

    @property
    def tx_count(self) -> int:
        return len(self._slots)

    def missing(self) -> tuple[int, ...]:
        """Block positions of the transactions neither prefilled nor found (getblocktxn's)."""
        return tuple(index for index, tx in enumerate(self._slots) if tx is None)

    def fill(self, missing: Sequence[Tx], *, check_witness_root: bool) -> Block:
        """Core's FillBlock: the block with `missing` in the open positions, in order. The wrong
        number of transactions is InvalidCompactBlock; a block whose merkle roots do not match
        (a short-id collision, or a mutated answer) is ReconstructionFailed."""
        self.used = True
        supplied = iter(missing)
        transactions = []
        for tx in self._slots:
            if tx is None:
                tx = next(supplied, None)
                if tx is None:
                    raise InvalidCompactBlock(f"{len(missing)} transactions for {len(self.missing())} missing")
            transactions.append(tx)
        if next(supplied, None) is not None:
            raise InvalidCompactBlock(f"{len(missing)} transactions for {len(self.missing())} missing")
        block = Block(self.header, tuple(transactions))
        if is_block_mutated(block, check_witness_root=check_witness_root):
            raise ReconstructionFailed("reconstructed block is mutated (a short id collision?)")
        return block


class ExtraTxns:
    """Core's vExtraTxnForCompact: the last transactions refused or kept as orphans, which a
    compact block may still hold; a ring of `capacity` entries, the oldest overwritten."""

    def __init__(self, capacity: int = EXTRA_TXN_FOR_COMPACT) -> None:
        self.capacity = capacity
        self._ring: list[tuple[bytes, Tx]] = []
        self._next = 0

    def __len__(self) -> int:
        return len(self._ring)

    def add(self, tx: Tx) -> None:
        if self.capacity <= 0 or tx.size >= EXTRA_TXN_MAX_SIZE:
            return
        entry = (tx.wtxid, tx)
        if len(self._ring) < self.capacity:
            self._ring.append(entry)
        else:
            self._ring[self._next] = entry
        self._next = (self._next + 1) % self.capacity

    def entries(self) -> list[tuple[bytes, Tx]]:
        return list(self._ring)


class HighBandwidth:
    """Core's lNodesAnnouncingHeaderAndIDs: the (at most 3) peers we asked to announce blocks
    with cmpctblock, oldest choice first. `choose` says whom to tell sendcmpct(1) and whom
    sendcmpct(0) when a peer gave us a new block first (MaybeSetPeerAsAnnouncingHeaderAndIDs)."""

    def __init__(self, limit: int = HIGH_BANDWIDTH_PEERS) -> None:
        self.limit = limit
        self._peers: list[int] = []

    def __contains__(self, peer: object) -> bool:
        return peer in self._peers

    def peers(self) -> list[int]:
        return list(self._peers)

    def choose(self, peer: int, inbound: dict[int, bool]) -> tuple[bool, int | None]:
        """Make `peer` the newest high-bandwidth choice: (whether it must be told, the peer
        displaced to low bandwidth or None). `inbound` maps the chosen peers (and `peer`) to
        whether they are inbound: an inbound choice never displaces the last outbound one."""
        if peer in self._peers:
            self._peers.remove(peer)
            self._peers.append(peer)
            return False, None
        outbound = sum(1 for chosen in self._peers if not inbound.get(chosen, True))
        if inbound.get(peer, True) and len(self._peers) >= self.limit and outbound == 1 \
                and not inbound.get(self._peers[0], True):
            self._peers[0], self._peers[1] = self._peers[1], self._peers[0]
        dropped = self._peers.pop(0) if len(self._peers) >= self.limit else None
        self._peers.append(peer)
        return True, dropped

    def remove(self, peer: int) -> None:
        if peer in self._peers:
            self._peers.remove(peer)


class PartialBlocks:
    """The compact blocks being completed, per peer and block hash (Core keeps one per block in
    flight from a peer), each with the bytes its messages took so far, at most `per_peer` for
    each peer (the oldest dropped): a peer cannot make us hold more."""

    def __init__(self, per_peer: int) -> None:
        self.per_peer = per_peer
        self._by_peer: dict[int, OrderedDict[bytes, tuple[PartialBlock, int]]] = {}

    def get(self, peer: int, block_hash: bytes) -> tuple[PartialBlock, int] | None:
        blocks = self._by_peer.get(peer)
        return None if blocks is None else blocks.get(block_hash)

    def has_room(self, peer: int) -> bool:
        return len(self._by_peer.get(peer, ())) < self.per_peer

    def add(self, peer: int, block_hash: bytes, partial: PartialBlock, wire_bytes: int) -> None:
        blocks = self._by_peer.setdefault(peer, OrderedDict())
        blocks[block_hash] = (partial, wire_bytes)
        while len(blocks) > self.per_peer:
            blocks.popitem(last=False)

    def pop(self, peer: int, block_hash: bytes) -> tuple[PartialBlock, int] | None:
        blocks = self._by_peer.get(peer)
        return None if blocks is None else blocks.pop(block_hash, None)

    def holders(self, block_hash: bytes) -> list[int]:
        """The peers completing this block, in the order they started."""
        return [peer for peer, blocks in self._by_peer.items() if block_hash in blocks]

    def discard_block(self, block_hash: bytes) -> None:
        for blocks in self._by_peer.values():
            blocks.pop(block_hash, None)

    def remove_peer(self, peer: int) -> None:
        self._by_peer.pop(peer, None)

    def count(self, peer: int | None = None) -> int:
        if peer is not None:
            return len(self._by_peer.get(peer, ()))
        return sum(len(blocks) for blocks in self._by_peer.values())
