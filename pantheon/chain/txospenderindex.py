"""The spender index (Core 31's TxoSpenderIndex, -txospenderindex): which main-chain transaction
spent each output, so gettxspendingprevout answers for confirmed spends too (what ElectrumX's
`blockchain.outpoint.subscribe` asks). Kept in the store's `txospenderindex` namespace; following
the chain is the shared `chain/blockindexes.py`.

Records, after the namespace prefix (and the shared `tip`): the key is the spent outpoint,
shortened as Core 31 shortens it (the first `txindex.ID_BYTES` of its txid, then its output
index, u32 big-endian), then the spending transaction's position (`txindex.TxPosition`: its
block's height, its offset and length in the block); the value is empty. A lookup reads the
transaction at each position under the outpoint's key prefix and keeps the one that spends it,
as Core's FindSpender does; the spender's txid is that transaction's. The layout's reasons are
`chain/txindex.py`'s: 26 bytes an input, where the whole outpoint and position would be 51.

A block that leaves the chain has its inputs' records removed when the index rewinds past it, as
Core's CustomRemove does, so an output whose spender was reorganised out reads as unspent again.
"""

from __future__ import annotations

import struct
from typing import NamedTuple, Sequence

from pantheon.chain.blockindexes import BlockIndex
from pantheon.chain.coins import Coin
from pantheon.chain.txindex import ID_BYTES, read_candidates, tx_records
from pantheon.primitives import Block, Tx

__all__ = ["INDEX_NAME", "Spender", "TxoSpenderIndex"]

#: The index's name in getindexinfo and the log (Core's).
INDEX_NAME = "txospenderindex"
_OUTPUT = struct.Struct(">I")
_KEY_PREFIX_SIZE = ID_BYTES + _OUTPUT.size


class Spender(NamedTuple):
    """The confirmed transaction spending an output, and its block."""

    tx: Tx
    block_hash: bytes


def _outpoint_prefix(txid: bytes, index: int) -> bytes:
    return txid[:ID_BYTES] + _OUTPUT.pack(index)


def _spent_keys(block: Block, height: int) -> list[bytes]:
    """The keys of the block's inputs (its coinbase's aside)."""
    return [_outpoint_prefix(txin.prev_txid, txin.prev_index) + record
            for tx, record in tx_records(block, height)[1:] for txin in tx.inputs]


class TxoSpenderIndex(BlockIndex):
    """outpoint -> position of its spender in the main chain; see the module notes."""

    NAME = INDEX_NAME
    NAMESPACE = "txospenderindex"

    def _append(self, block: Block, height: int, spent: Sequence[Coin]) -> None:
        put = self._put
        for key in _spent_keys(block, height):
            put(key, b"")

    def _remove(self, block_hash: bytes, height: int) -> None:
        for key in _spent_keys(self.chain.read_block(block_hash), height):
            self._delete(key)

    def find_spender(self, txid: bytes, index: int) -> Spender | None:
        """The transaction that spent output `index` of `txid` in the chain the index follows,
        and its block (Core's FindSpender); None if none did."""
        keys = self._keys_with(_outpoint_prefix(txid, index))
        for tx, block_hash in read_candidates(self, keys, _KEY_PREFIX_SIZE):
            if any(txin.prev_txid == txid and txin.prev_index == index for txin in tx.inputs):
                return Spender(tx, block_hash)
        return None
