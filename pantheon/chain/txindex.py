"""The transaction index (Core's TxIndex, -txindex): where each transaction of the main chain is,
so getrawtransaction finds any of them without being told its block. Kept in the store's
`txindex` namespace; following the chain is the shared `chain/blockindexes.py`.

Records, after the namespace prefix (and the shared `tip`):
- `t` + txid: the transaction's position (`TxPosition`): the hash of its block (32 bytes), then
  the offset of its bytes in the block's serialisation and their length (u32 big-endian each).
  Core keeps the blk file position instead; a block hash stays right when -reindex rewrites the
  files, names the block getrawtransaction reports, and one read of the block's position in `k/`
  leads to the bytes (`BlockFiles.read_block_part`), without reading the rest of the block.

As Core's, genesis's coinbase is not indexed (its output is unspendable). A block that leaves the
chain has its transactions' records removed when the index rewinds past it (a transaction mined
again in the new branch gets its new position in the same batch).
"""

from __future__ import annotations

import struct
from typing import Iterator, NamedTuple, Sequence

from pantheon import wire
from pantheon.chain.blockindexes import BlockIndex, IndexedChain
from pantheon.chain.coins import Coin
from pantheon.primitives import Block, Tx, compact_size
from pantheon.protocol import BLOCK_HEADER_SIZE

__all__ = ["INDEX_NAME", "TxIndex", "TxPosition", "read_tx", "tx_positions"]

#: The index's name in getindexinfo and the log (Core's).
INDEX_NAME = "txindex"
_TX_PREFIX = b"t"
_POSITION = struct.Struct(">32sII")


class TxPosition(NamedTuple):
    """Where a transaction's bytes are: its block, their offset in the block and their length."""

    block_hash: bytes
    offset: int
    length: int

    def encode(self) -> bytes:
        return _POSITION.pack(*self)

    @classmethod
    def decode(cls, record: bytes) -> TxPosition:
        return cls(*_POSITION.unpack(record))


def tx_positions(block: Block) -> Iterator[tuple[Tx, TxPosition]]:
    """Each transaction of the block with its position (from the sizes alone: nothing encoded)."""
    block_hash = block.hash
    transactions = block.transactions
    offset = BLOCK_HEADER_SIZE + len(compact_size(len(transactions)))
    for tx in transactions:
        size = tx.size
        yield tx, TxPosition(block_hash, offset, size)
        offset += size


def read_tx(chain: IndexedChain, position: TxPosition) -> Tx:
    """The transaction at `position` (KeyError if its block's data is gone)."""
    return wire.decode_tx(chain.read_block_part(*position))


class TxIndex(BlockIndex):
    """txid -> position of every main-chain transaction; see the module notes."""

    NAME = INDEX_NAME
    NAMESPACE = "txindex"

    def _append(self, block: Block, height: int, spent: Sequence[Coin]) -> None:
        if height == 0:
            return
        put = self._put
        for tx, position in tx_positions(block):
            put(_TX_PREFIX + tx.txid, position.encode())

    def _remove(self, block_hash: bytes, height: int) -> None:
        assert self._chain is not None
        for tx in self._chain.read_block(block_hash).transactions:
            self._delete(_TX_PREFIX + tx.txid)

    def find(self, txid: bytes) -> tuple[Tx, bytes] | None:
        """The transaction and the hash of its block (Core's FindTx); None if not indexed."""
        record = self._get(_TX_PREFIX + txid)
        if record is None:
            return None
        assert self._chain is not None
        position = TxPosition.decode(record)
        return read_tx(self._chain, position), position.block_hash
