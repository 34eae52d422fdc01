"""The transaction index (Core's TxIndex, -txindex): where each transaction of the main chain is,
so getrawtransaction finds any of them without being told its block. Kept in the store's
`txindex` namespace; following the chain is the shared `chain/blockindexes.py`.

Records, after the namespace prefix (and the shared `tip`): the key is the first `ID_BYTES` of
the txid, then the transaction's position (`TxPosition`: the height of its block, the offset of
its bytes in the block's serialisation and their length, u32 big-endian each); the value is
empty. A lookup reads every key starting with the txid's bytes (almost always one), reads the
transaction at each position and keeps the one whose txid is the one asked for, as Core 31's
spender index does with its shortened keys. The block is the one at that height on the index's
own chain (`BlockIndex.block_at`: every record is along it, stale blocks' too until the index
rewinds past them); one read of its position in `k/` leads to the bytes
(`BlockFiles.read_block_part`), without reading the rest of the block.

Why not Core's layout (the whole txid -> the blk file position): these records are written in
the block's connect batch and never deleted while the block stays, so LevelDB carries them
through every compaction, and their bytes are what the index costs the connect rate (bench_chain).
This layout is 22 bytes a transaction where Core's would be 47; it stays right when -reindex
rewrites the files; and a shared prefix costs only an extra read (two of an attacker's own
transactions can be ground to share one; a victim's txid cannot be matched).

As Core's, genesis's coinbase is not indexed (its output is unspendable). A block that leaves the
chain has its transactions' records removed when the index rewinds past it (a transaction mined
again in the new branch gets its new record in the same batch).
"""

from __future__ import annotations

import struct
from typing import Iterator, NamedTuple, Sequence

from pantheon import wire
from pantheon.chain.blockindexes import BlockIndex
from pantheon.chain.coins import Coin
from pantheon.primitives import Block, Tx, compact_size
from pantheon.protocol import BLOCK_HEADER_SIZE

__all__ = ["ID_BYTES", "INDEX_NAME", "TxIndex", "TxPosition", "tx_records"]

#: The index's name in getindexinfo and the log (Core's).
INDEX_NAME = "txindex"
#: How much of a txid a key keeps.
ID_BYTES = 8
_POSITION = struct.Struct(">III")


class TxPosition(NamedTuple):
    """Where a transaction's bytes are: its block's height, their offset in the block and their
    length."""

    height: int
    offset: int
    length: int

    @classmethod
    def decode(cls, record: bytes) -> TxPosition:
        return cls(*_POSITION.unpack(record))

    def read(self, index: BlockIndex) -> tuple[Tx, bytes]:
        """The transaction and its block's hash, along `index`'s chain (KeyError if the block's
        data is gone)."""
        block_hash = index.block_at(self.height)
        return wire.decode_tx(index.chain.read_block_part(block_hash, self.offset, self.length)), block_hash


def tx_records(block: Block, height: int) -> list[tuple[Tx, bytes]]:
    """Each transaction of the block with its encoded position (from the sizes alone: nothing
    is serialised)."""
    transactions = block.transactions
    offset = BLOCK_HEADER_SIZE + len(compact_size(len(transactions)))
    pack = _POSITION.pack
    records = []
    for tx in transactions:
        size = tx.size
        records.append((tx, pack(height, offset, size)))
        offset += size
    return records


def read_candidates(index: BlockIndex, keys: list[bytes], prefix_size: int) -> Iterator[tuple[Tx, bytes]]:
    """The transactions (and their blocks' hashes) at the positions ending each of `keys`, after
    their first `prefix_size` bytes."""
    for key in keys:
        yield TxPosition.decode(key[prefix_size:]).read(index)


class TxIndex(BlockIndex):
    """txid -> position of every main-chain transaction; see the module notes."""

    NAME = INDEX_NAME
    NAMESPACE = "txindex"

    def _append(self, block: Block, height: int, spent: Sequence[Coin]) -> None:
        if height == 0:
            return
        put = self._put
        for tx, record in tx_records(block, height):
            put(tx.txid[:ID_BYTES] + record, b"")

    def _remove(self, block_hash: bytes, height: int) -> None:
        for tx, record in tx_records(self.chain.read_block(block_hash), height):
            self._delete(tx.txid[:ID_BYTES] + record)

    def find(self, txid: bytes) -> tuple[Tx, bytes] | None:
        """The transaction and the hash of its block (Core's FindTx); None if not indexed."""
        keys = self._keys_with(txid[:ID_BYTES])
        return next((found for found in read_candidates(self, keys, ID_BYTES) if found[0].txid == txid), None)
