"""The spender index (Core 31's TxoSpenderIndex, -txospenderindex): which main-chain transaction
spent each output, so gettxspendingprevout answers for confirmed spends too (what ElectrumX's
`blockchain.outpoint.subscribe` asks). Kept in the store's `txospenderindex` namespace; following
the chain is the shared `chain/blockindexes.py`.

Records, after the namespace prefix (and the shared `tip`):
- `s` + txid + u32 big-endian output index (the spent outpoint): the spending transaction's
  position (`chain.txindex.TxPosition`: its block's hash, offset and length in the block), as
  Core keeps the spender's disk position and reads the transaction back; the spender's txid is
  that transaction's.

A block that leaves the chain has its inputs' records removed when the index rewinds past it, as
Core's CustomRemove does, so an output whose spender was reorganised out reads as unspent again.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

from pantheon.chain.blockindexes import BlockIndex
from pantheon.chain.coins import Coin
from pantheon.chain.txindex import TxPosition, read_tx, tx_positions
from pantheon.chain.utxo import coin_key
from pantheon.primitives import Block, Tx

__all__ = ["INDEX_NAME", "Spender", "TxoSpenderIndex"]

#: The index's name in getindexinfo and the log (Core's).
INDEX_NAME = "txospenderindex"
_SPENT_PREFIX = b"s"


class Spender(NamedTuple):
    """The confirmed transaction spending an output, and its block."""

    tx: Tx
    block_hash: bytes


class TxoSpenderIndex(BlockIndex):
    """outpoint -> position of its spender in the main chain; see the module notes."""

    NAME = INDEX_NAME
    NAMESPACE = "txospenderindex"

    def _append(self, block: Block, height: int, spent: Sequence[Coin]) -> None:
        put = self._put
        for tx, position in tx_positions(block):
            if tx is block.transactions[0]:
                continue
            record = position.encode()
            for txin in tx.inputs:
                put(_SPENT_PREFIX + coin_key(txin.prev_txid, txin.prev_index), record)

    def _remove(self, block_hash: bytes, height: int) -> None:
        assert self._chain is not None
        for tx in self._chain.read_block(block_hash).transactions[1:]:
            for txin in tx.inputs:
                self._delete(_SPENT_PREFIX + coin_key(txin.prev_txid, txin.prev_index))

    def find_spender(self, txid: bytes, index: int) -> Spender | None:
        """The transaction that spent output `index` of `txid` in the chain the index follows,
        and its block (Core's FindSpender); None if none did."""
        record = self._get(_SPENT_PREFIX + coin_key(txid, index))
        if record is None:
            return None
        assert self._chain is not None
        position = TxPosition.decode(record)
        return Spender(read_tx(self._chain, position), position.block_hash)
