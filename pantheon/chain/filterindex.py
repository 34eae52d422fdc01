"""The basic block filter index (Core's BlockFilterIndex, -blockfilterindex): every connected
block's BIP158 filter, its hash and its BIP157 filter header, kept in the store's `blockfilter`
namespace; what getblockfilter, getindexinfo and the BIP157 messages read. It never decides
what a filter holds (`chain/blockfilter.py`) and never answers a peer (`cfilters.py`).

Records, after the namespace prefix:
- `tip`: block hash (32 bytes) + height (u32 big-endian): the block up to which the index is
  complete along the chain it was built on;
- `b` + block hash: filter header (32) + filter hash (32) + the encoded filter. Records are kept by
  hash, as Core's index keeps them for blocks that leave the chain: a filter and its header depend
  only on the block, its spent coins and its ancestors, so a record never goes stale, and a block
  reorganised out is still served (BIP157 allows a stale stop hash).

How it follows the chain, catches up in the background and rewinds is the shared
`chain/blockindexes.py`; as its records never go stale, a disconnected block moves its tip back
at once (the record stays).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

from pantheon.chain.blockfilter import GENESIS_PREVIOUS_HEADER, basic_filter, filter_hash, filter_header
from pantheon.chain.blockindexes import BlockIndex
from pantheon.chain.coins import Coin
from pantheon.primitives import Block
from pantheon.protocol import BASIC_FILTER, FILTER_TYPE_NAMES
from pantheon.store import Store

__all__ = ["BlockFilterIndex", "FilterEntry", "INDEX_NAME"]

#: The index's name in getindexinfo and the log (Core's "<type> block filter index").
INDEX_NAME = f"{FILTER_TYPE_NAMES[BASIC_FILTER]} block filter index"
_ENTRY_PREFIX = b"b"
_HASH = 32


class FilterEntry(NamedTuple):
    """One block's record: its filter header, its filter's hash and the filter's bytes."""

    header: bytes
    filter_hash: bytes
    filter: bytes


def _encode(entry: FilterEntry) -> bytes:
    return entry.header + entry.filter_hash + entry.filter


def _decode(record: bytes) -> FilterEntry:
    return FilterEntry(record[:_HASH], record[_HASH:2 * _HASH], record[2 * _HASH:])


class BlockFilterIndex(BlockIndex):
    """The basic filter of every block the chain connects; see the module notes."""

    NAME = INDEX_NAME
    NAMESPACE = "blockfilter"
    NEEDS_SPENT_COINS = True

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        #: (block hash, filter header) of the last block added: the next block's previous header.
        self._last_header: tuple[bytes, bytes] = (b"", b"")

    def _append(self, block: Block, height: int, spent: Sequence[Coin]) -> None:
        block_hash = block.hash
        encoded = basic_filter(block, [coin.script_pubkey for coin in spent])
        digest = filter_hash(encoded)
        previous = GENESIS_PREVIOUS_HEADER if height == 0 else self._tip_header()
        entry = FilterEntry(filter_header(digest, previous), digest, encoded)
        self._put(_ENTRY_PREFIX + block_hash, _encode(entry))
        self._last_header = (block_hash, entry.header)

    def block_disconnected(self, block: Block, height: int) -> None:
        """The index's tip left the chain: its parent is the tip again (the record stays)."""
        if self.synced:
            self._move_tip(block.header.prev_block, height - 1)

    def _tip_header(self) -> bytes:
        """The filter header of the index's tip (kept from the last block added: no read)."""
        assert self._tip is not None
        if self._last_header[0] != self._tip[0]:
            entry = self._entry(self._tip[0])
            assert entry is not None, "the index's tip has no record"
            self._last_header = (self._tip[0], entry.header)
        return self._last_header[1]

    # --- reading ------------------------------------------------------------------------

    def _entry(self, block_hash: bytes) -> FilterEntry | None:
        record = self._get(_ENTRY_PREFIX + block_hash)
        return None if record is None else _decode(record)

    def lookup(self, block_hash: bytes) -> FilterEntry | None:
        """The block's record (Core's LookupFilter / LookupFilterHeader): None unless the block is
        indexed and at or below the index's tip height."""
        chain = self._chain
        if chain is None or block_hash not in chain.headers or chain.headers.height_of(block_hash) > self.best_height:
            return None
        return self._entry(block_hash)

    def lookup_range(self, start_height: int, stop_hash: bytes) -> list[tuple[bytes, FilterEntry]] | None:
        """(block hash, record) for the ancestors of `stop_hash` from `start_height` up to it, in
        height order (Core's LookupFilterRange); None if any of them is not indexed."""
        chain = self._chain
        assert chain is not None
        tree = chain.headers
        stop_height = tree.height_of(stop_hash)
        if stop_height > self.best_height:
            return None
        found: list[tuple[bytes, FilterEntry]] = []
        block_hash = stop_hash
        for _ in range(stop_height - start_height + 1):
            entry = self._entry(block_hash)
            if entry is None:
                return None
            found.append((block_hash, entry))
            block_hash = tree.header(block_hash).prev_block
        found.reverse()
        return found
